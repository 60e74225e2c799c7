package onnxexport_test

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/ir/ref"
)

// TestTorchvisionExports loads torchvision models that torch.onnx exported
// (random weights; testdata/export_torchvision.py writes them) and compares
// the reference executor's outputs with ONNX Runtime's on the same file. The
// models are 10-350 MB, so the test runs only when SQC_TORCHVISION_DIR names
// a folder of them:
//
//	/usr/bin/python3 testdata/export_torchvision.py /tmp/tv 17
//	SQC_TORCHVISION_DIR=/tmp/tv SQC_ORT_NODE_MODULES=... go test -run TestTorchvisionExports -v
func TestTorchvisionExports(t *testing.T) {
	dir := os.Getenv("SQC_TORCHVISION_DIR")
	if dir == "" {
		t.Skip("SQC_TORCHVISION_DIR is not set: export models with testdata/export_torchvision.py and point it at them")
	}
	modules := ortModules(t)
	models, err := filepath.Glob(filepath.Join(dir, "*.onnx"))
	if err != nil || len(models) == 0 {
		t.Fatalf("no .onnx files in %s (%v)", dir, err)
	}
	sort.Strings(models)
	var cases []*ortCase
	for _, m := range models {
		start := time.Now()
		g, err := onnx.Import(m)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		loaded := time.Since(start)
		in := randomInputs(t, g, 11)
		start = time.Now()
		want, err := ref.Run(g, in...)
		if err != nil {
			t.Errorf("%s: reference run: %v", m, err)
			continue
		}
		t.Logf("%s: %d nodes, loaded in %v, reference run on %v in %v", filepath.Base(m), len(g.Nodes), loaded.Round(time.Millisecond), in[0].Shape, time.Since(start).Round(time.Millisecond))
		cases = append(cases, &ortCase{name: filepath.Base(m), model: m, g: g, inputs: in, want: want})
	}
	if len(cases) > 0 {
		compareWithORT(t, modules, t.TempDir(), cases, 1e-4)
	}
}

package onnxexport_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/frontend/onnx/onnxexport"
	"github.com/sqc-project/sqc/ir/ref"
)

// TestTorchvisionExports loads torchvision models that torch.onnx exported
// (random weights; bench/models/export_torchvision.py writes them) and compares
// the reference executor's outputs with ONNX Runtime's on the same file, and
// on the file rewritten at opsets 18 and 21 by this package. The
// models are 10-350 MB, so the test runs only when SQC_TORCHVISION_DIR names
// a folder of them:
//
//	/usr/bin/python3 bench/models/export_torchvision.py /tmp/tv 17 convnext_tiny vit_b_16 swin_t \
//		fcn_resnet50 deeplabv3_resnet50 lraspp_mobilenet_v3_large
//	SQC_TORCHVISION_DIR=/tmp/tv SQC_ORT_NODE_MODULES=... go test ./frontend/onnx/onnxexport -run TestTorchvisionExports -v
func TestTorchvisionExports(t *testing.T) {
	dir := os.Getenv("SQC_TORCHVISION_DIR")
	if dir == "" {
		t.Skip("SQC_TORCHVISION_DIR is not set: export models with bench/models/export_torchvision.py and point it at them")
	}
	modules := ortModules(t)
	models, err := filepath.Glob(filepath.Join(dir, "*.onnx"))
	if err != nil || len(models) == 0 {
		t.Fatalf("no .onnx files in %s (%v)", dir, err)
	}
	sort.Strings(models)
	var cases []*ortCase
	written := t.TempDir()
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
		// The same model in opset 18's and 21's forms (Reduce axes and
		// Split sizes as inputs, Resize's new attributes), as torch 2's
		// exporters write them: the frontend must read them back to the
		// same graph, and ONNX Runtime must agree.
		for _, opset := range []int64{18, 21} {
			name := fmt.Sprintf("%s-opset%d", strings.TrimSuffix(filepath.Base(m), ".onnx"), opset)
			path := filepath.Join(written, name+".onnx")
			if err := onnxexport.WriteFile(path, g, onnxexport.Options{Opset: opset}); err != nil {
				t.Errorf("%s: export: %v", name, err)
				continue
			}
			g2, err := onnx.Import(path)
			if err != nil {
				t.Errorf("%s: re-import: %v", name, err)
				continue
			}
			got, err := ref.Run(g2, in...)
			if err != nil {
				t.Errorf("%s: reference run of the re-imported graph: %v", name, err)
				continue
			}
			for i := range want {
				if rel, at := maxRelDiff(want[i], got[i]); rel > 1e-6 {
					t.Errorf("%s: output %d differs after the round trip by %.3g at element %d", name, i, rel, at)
				}
			}
			cases = append(cases, &ortCase{name: name, model: path, g: g, inputs: in, want: want})
		}
	}
	if len(cases) > 0 {
		compareWithORT(t, modules, t.TempDir(), cases, 1e-4)
	}
}

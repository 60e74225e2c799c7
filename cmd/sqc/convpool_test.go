package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/internal/dataset"
	"github.com/sqc-project/sqc/internal/zoo"
	"github.com/sqc-project/sqc/ir"
)

// TestStemConvPool compiles a genmodel ResNet-18 (64x64 images) with the
// dense INT8 recipe, whose space-to-depth and pad-channels passes leave
// the stem as a 16-channel 4x4 QConv read only by the 3x3/2 max pool: the
// engine runs the pair as one conv-pool launch, which sqc inspect names
// with both nodes, and sqc run --cpu of the engine (its graph, which the
// fusion leaves alone) equals the lowered graph's output bit for bit.
func TestStemConvPool(t *testing.T) {
	if testing.Short() {
		t.Skip("calibrates a ResNet-18")
	}
	dir := t.TempDir()
	b, err := zoo.ResNet(zoo.ResNetConfig{Depth: 18, Width: 64, Size: 64, Classes: 10, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "resnet18.onnx")
	if err := b.WriteFile(model); err != nil {
		t.Fatal(err)
	}
	x := ir.NewTensor(ir.Float32, 2, 3, 64, 64)
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(i%251)/125 - 1
	}
	data := filepath.Join(dir, "x.npy")
	f, err := os.Create(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := dataset.WriteNpy(f, x); err != nil {
		t.Fatal(err)
	}
	f.Close()
	sqc := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if status := run(args, &stdout, &stderr); status != 0 {
			t.Fatalf("sqc %v: exit %d\n%s", args, status, stderr.String())
		}
		return stdout.String()
	}
	eng, lowered := filepath.Join(dir, "m.sqe"), filepath.Join(dir, "m.sqir")
	sqc("compile", "-q", "-r", "dense-int8.sqr", "--calib-data", data, model, "-o", lowered)
	sqc("compile", "-q", "-r", "dense-int8.sqr", "--calib-data", data, model, "-o", eng)
	e, err := engine.ReadFile(eng)
	if err != nil {
		t.Fatal(err)
	}
	var fused []*engine.Step
	for _, s := range e.Steps {
		if strings.HasPrefix(s.Kernel, "sqc_gemm_convpool") {
			fused = append(fused, s)
		}
		if s.Op == "MaxPool" {
			t.Errorf("the max pool %s has a launch of its own (%s)", s.Node, s.Kernel)
		}
	}
	if len(fused) != 1 || fused[0].Op != "QConv+MaxPool" {
		t.Fatalf("%d conv-pool launches, want the stem's one", len(fused))
	}
	if out := sqc("inspect", eng); !strings.Contains(out, fused[0].Node+" + ") || !strings.Contains(out, "QConv+MaxPool") {
		t.Errorf("sqc inspect does not name the fused pair:\n%s", out)
	}
	a, c := filepath.Join(dir, "a.npy"), filepath.Join(dir, "b.npy")
	sqc("run", "--cpu", eng, "--input", data, "-o", a)
	sqc("run", "--cpu", lowered, "--input", data, "-o", c)
	ab, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := os.ReadFile(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ab, cb) {
		t.Errorf("sqc run --cpu of the engine differs from the lowered graph's")
	}
}

package onnxbuild

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// python is Debian's interpreter, which has python3-onnx and numpy.
const python = "/usr/bin/python3"

// checkWithONNX runs the ONNX project's own checker (with shape inference)
// on a model file and prints every initializer as numpy reads it: an
// independent reading of what the builder wrote.
const checkWithONNX = `
import sys, onnx
from onnx import numpy_helper
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
for t in m.graph.initializer:
    a = numpy_helper.to_array(t)
    print(t.name, a.dtype, list(a.shape), a.flatten().tolist())
`

func runChecker(t *testing.T, path string) string {
	t.Helper()
	if err := exec.Command(python, "-c", "import onnx.checker, numpy").Run(); err != nil {
		t.Skipf("%s with onnx and numpy is not available: %v", python, err)
	}
	out, err := exec.Command(python, "-c", checkWithONNX, path).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx.checker rejects %s: %v\n%s", path, err, out)
	}
	return string(out)
}

func TestCheckerAcceptsModels(t *testing.T) {
	for _, s := range []struct {
		name    string
		storage Storage
	}{{"raw", Raw}, {"typed", Typed}, {"external", External}} {
		t.Run(s.name, func(t *testing.T) {
			b := New("conv", 13).SetStorage(s.storage)
			x := b.InputSym("x", ir.Float32, []string{"N", "2", "4", "4"})
			w := b.Initializer("w", Seq(-1, 0.5, 1, 2, 1, 1))
			b.Initializer("i8", &ir.Tensor{DType: ir.Int8, Shape: []int{3}, Data: []int8{-128, 0, 127}})
			b.Initializer("u16", &ir.Tensor{DType: ir.Uint16, Shape: []int{2}, Data: []uint16{0, 65535}})
			b.Initializer("f16", &ir.Tensor{DType: ir.Float16, Shape: []int{2}, Data: []uint16{0x3c00, 0xc000}}) // 1, -2
			b.Initializer("b", &ir.Tensor{DType: ir.Bool, Shape: []int{2}, Data: []bool{true, false}})
			b.Initializer("u32", &ir.Tensor{DType: ir.Uint32, Shape: []int{1}, Data: []uint32{4000000000}})
			c := b.Node("Conv", []string{x, w}, map[string]any{"kernel_shape": []int64{1, 1}, "pads": []int{0, 0, 0, 0}})
			r := b.Node("LeakyRelu", []string{c}, map[string]any{"alpha": 0.25})
			b.OutputSym(r, ir.Float32, []string{"N", "1", "4", "4"})
			path := filepath.Join(t.TempDir(), "m.onnx")
			if err := b.WriteFile(path); err != nil {
				t.Fatal(err)
			}
			if s.storage == External {
				if _, err := os.Stat(filepath.Join(filepath.Dir(path), "weights.bin")); err != nil {
					t.Fatal(err)
				}
			}
			got := runChecker(t, path)
			for _, want := range []string{
				"w float32 [1, 2, 1, 1] [-1.0, -0.5]",
				"i8 int8 [3] [-128, 0, 127]",
				"u16 uint16 [2] [0, 65535]",
				"f16 float16 [2] [1.0, -2.0]",
				"b bool [2] [True, False]",
				"u32 uint32 [1] [4000000000]",
			} {
				if !strings.Contains(got, want+"\n") {
					t.Errorf("onnx reads\n%s\nwant a line %q", got, want)
				}
			}
		})
	}
}

func TestBuilderErrors(t *testing.T) {
	b := New("g", 13)
	b.Node("Relu", []string{"x"}, map[string]any{"bad": struct{}{}})
	b.Output("Relu_0_out", ir.Float32)
	if _, err := b.Bytes(); err == nil || !strings.Contains(err.Error(), `attribute "bad": Go type struct {} has no ONNX attribute type`) {
		t.Errorf("got %v", err)
	}
	b = New("g", 13)
	b.Initializer("w", &ir.Tensor{DType: ir.Float32, Shape: []int{3}, Data: []float32{1}})
	b.Output("w", ir.Float32, 3)
	if err := b.WriteFile(filepath.Join(t.TempDir(), "m.onnx")); err == nil || !strings.Contains(err.Error(), `tensor "w"`) {
		t.Errorf("got %v", err)
	}
}

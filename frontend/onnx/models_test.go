package onnx

import (
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// The shared models, with the op counts ../shared/README.md records for
// each (counted there from the ONNX files by an independent tool) and the
// IR op counts they must lower to. Constant nodes become constants, so they
// have no IR node.
var sharedModels = []struct {
	file     string
	in, out  string // IR types of the single input and output
	onnxOps  string
	irOps    string // "" when the same as onnxOps
	irInputs int
}{
	{"mnist-7.onnx", "f32[1,1,28,28]", "f32[1,10]",
		"Add×3 Conv×2 MatMul×1 MaxPool×2 Relu×2 Reshape×2", "", 1},
	{"mnist-8.onnx", "f32[1,1,28,28]", "f32[1,10]",
		"Add×3 Conv×2 MatMul×1 MaxPool×2 Relu×2 Reshape×2", "", 1},
	{"mnist-8-convinteger-quantized_connxr.onnx", "f32[1,1,28,28]", "f32[1,10]",
		"Add×3 Cast×3 ConvInteger×2 MatMulInteger×1 MaxPool×2 Mul×6 QuantizeLinear×4 Relu×2 Reshape×2", "", 1},
	{"mnist_burn_pytorch_bn.onnx", "f32[1,1,28,28]", "f32[1,10]",
		"BatchNormalization×2 Conv×3 Flatten×1 Gemm×2 LogSoftmax×1 Relu×4", "", 1},
	{"shufflenet-v2-12-qdq.onnx", "f32[1,3,224,224]", "f32[1,1000]",
		"Add×1 Concat×16 Conv×56 DequantizeLinear×263 MatMul×1 MaxPool×1 QuantizeLinear×150 ReduceMean×1 Reshape×32 Split×13 Transpose×16", "", 1},
	{"super-resolution-10.onnx", "f32[batch_size,1,224,224]", "f32[batch_size,1,672,672]",
		"Constant×2 Conv×4 Relu×3 Reshape×2 Transpose×1", "Conv×4 Relu×3 Reshape×2 Transpose×1", 1},
}

func opCounts(ops []string) string {
	count := map[string]int{}
	for _, op := range ops {
		count[op]++
	}
	var parts []string
	for op, n := range count {
		parts = append(parts, fmt.Sprintf("%s×%d", op, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func TestSharedModels(t *testing.T) {
	for _, c := range sharedModels {
		t.Run(c.file, func(t *testing.T) {
			path := sharedPath(t, filepath.Join("models", c.file))
			m, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			var onnxOps []string
			for _, n := range m.Nodes() {
				onnxOps = append(onnxOps, n.OpType)
			}
			if got := opCounts(onnxOps); got != c.onnxOps {
				t.Errorf("ONNX ops %s, want %s", got, c.onnxOps)
			}
			g, err := m.Lower()
			if err != nil {
				t.Fatal(err)
			}
			var irOps []string
			for _, n := range g.Nodes {
				irOps = append(irOps, n.Op)
			}
			want := c.irOps
			if want == "" {
				want = c.onnxOps
			}
			if got := opCounts(irOps); got != want {
				t.Errorf("IR ops %s, want %s", got, want)
			}
			if len(g.Inputs) != c.irInputs || g.Inputs[0].Type.String() != c.in {
				t.Errorf("inputs %d, first %v, want %d inputs, first %s", len(g.Inputs), g.Inputs[0].Type, c.irInputs, c.in)
			}
			if len(g.Outputs) != 1 || g.Outputs[0].Type.String() != c.out {
				t.Errorf("output %v, want %s", g.Outputs[0].Type, c.out)
			}
			if err := ir.Verify(g); err != nil {
				t.Errorf("verify: %v", err)
			}
		})
	}
}

// TestSharedModelsRun runs the zoo models with reference pairs on the
// reference executor: a check that lowering kept their meaning, against
// outputs computed by other runtimes.
func TestSharedModelsRun(t *testing.T) {
	cases := []struct {
		model, data string
		sets        int
		atol, rtol  float64
	}{
		// Tolerances: ../shared/README.md reports mnist-7 matching to 2.5e-5,
		// mnist-8 to 1e-3 on logits near 1e3, super-resolution to 1.4e-6.
		{"mnist-7.onnx", "mnist-7", 1, 1e-4, 0},
		{"mnist-8.onnx", "mnist-8", 3, 2e-3, 1e-5},
		{"super-resolution-10.onnx", "super-resolution-10", 1, 1e-5, 0},
	}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			if testing.Short() && c.data == "super-resolution-10" {
				t.Skip("a 1.8 GFLOP model in -short mode")
			}
			g, err := Import(sharedPath(t, filepath.Join("models", c.model)))
			if err != nil {
				t.Fatal(err)
			}
			for s := 0; s < c.sets; s++ {
				dir := sharedPath(t, filepath.Join("testdata", c.data, fmt.Sprintf("test_data_set_%d", s)))
				in, err := ReadTensorFile(filepath.Join(dir, "input_0.pb"))
				if err != nil {
					t.Fatal(err)
				}
				want, err := ReadTensorFile(filepath.Join(dir, "output_0.pb"))
				if err != nil {
					t.Fatal(err)
				}
				got := run(t, g, in)[0]
				if !reflect.DeepEqual(got.Shape, want.Shape) {
					t.Fatalf("set %d: shape %v, want %v", s, got.Shape, want.Shape)
				}
				worst := 0.0
				for i, w := range want.Float32s() {
					d := math.Abs(float64(got.Float32s()[i]) - float64(w))
					if d > c.atol+c.rtol*math.Abs(float64(w)) {
						t.Fatalf("set %d: element %d is %v, want %v", s, i, got.Float32s()[i], w)
					}
					worst = max(worst, d)
				}
				t.Logf("set %d: max abs difference %.3g", s, worst)
			}
		})
	}
}

package onnx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx/onnxbuild"
	"github.com/sqc-project/sqc/ir"
)

// seedModels builds small models that reach the frontend's normalisations,
// as fuzzing seeds.
func seedModels(t testing.TB) [][]byte {
	var seeds [][]byte
	add := func(b *onnxbuild.Builder) {
		data, err := b.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	add(reluModel(13))
	x4 := onnxbuild.Seq(0, 1, 1, 2, 2, 2)
	for _, s := range []struct {
		opset int64
		op    string
		attrs map[string]any
		nOut  int
	}{
		{11, "Softmax", map[string]any{"axis": 1}, 1},
		{12, "LogSoftmax", nil, 1},
		{9, "Slice", map[string]any{"starts": []int64{0, 1}, "ends": []int64{2, 2}}, 1},
		{10, "Clip", map[string]any{"min": float32(-1), "max": float32(1)}, 1},
		{10, "Pad", map[string]any{"pads": []int64{0, 0, 1, 1, 0, 0, 1, 1}, "value": float32(2)}, 1},
		{7, "Reshape", map[string]any{"shape": []int64{4, -1}}, 1},
		{11, "Squeeze", map[string]any{"axes": []int64{0}}, 1},
		{11, "Unsqueeze", map[string]any{"axes": []int64{0}}, 1},
		{13, "ReduceMean", map[string]any{"axes": []int64{2, 3}, "keepdims": 1}, 1},
		{11, "Split", map[string]any{"axis": 1, "split": []int64{1, 1}}, 2},
		{13, "Split", map[string]any{"axis": 2}, 2},
		{10, "Dropout", map[string]any{"ratio": float32(0.5)}, 1},
		{12, "MaxPool", map[string]any{"kernel_shape": []int64{2, 2}}, 2},
		{13, "Flatten", map[string]any{"axis": 2}, 1},
		{13, "Transpose", map[string]any{"perm": []int64{0, 2, 3, 1}}, 1},
		{13, "Cast", map[string]any{"to": 10}, 1},
		{13, "GlobalAveragePool", nil, 1},
		{14, "HardSwish", nil, 1},
		{1, "Pad", map[string]any{"paddings": []int64{0, 0, 1, 1, 0, 0, 1, 1}, "value": float32(2)}, 1},
		{1, "Cast", map[string]any{"to": "INT32"}, 1},
		{1, "Concat", nil, 1},
		{6, "Clip", map[string]any{"max": float32(1)}, 1},
		{6, "Dropout", map[string]any{"is_test": 1}, 1},
		{8, "Dropout", nil, 2},
	} {
		b := one(s.opset, s.op, x4, nil, s.nOut, s.attrs)
		for i := 0; i < s.nOut; i++ {
			b.OutputUntyped("y" + string(rune('0'+i)))
		}
		add(b)
	}
	// Conv with a constant weight, a legacy broadcast Add and a Constant.
	b := onnxbuild.New("conv", 7)
	x := b.InputSym("x", ir.Float32, []string{"N", "2", "4", "4"})
	w := b.Initializer("w", onnxbuild.Seq(0, 0.1, 3, 2, 3, 3))
	c := b.Node("Conv", []string{x, w}, map[string]any{"pads": []int64{1, 1, 1, 1}})
	b.Initializer("bias", ir.FromFloat32([]float32{1, 2, 3}, 3))
	b.Add(onnxbuild.NodeSpec{Name: "add", Op: "Add", Inputs: []string{c, "bias"}, Outputs: []string{"a"}, Attrs: map[string]any{"broadcast": 1, "axis": 1}})
	b.Add(onnxbuild.NodeSpec{Name: "k", Op: "Constant", Outputs: []string{"k"}, Attrs: map[string]any{"value": ir.FromInt64([]int64{0, -1}, 2)}})
	b.Add(onnxbuild.NodeSpec{Name: "r", Op: "Reshape", Inputs: []string{"a", "k"}, Outputs: []string{"y"}})
	b.OutputSym("y", ir.Float32, []string{"N", "?"})
	add(b)
	// PRelu-6 with a per-channel slope, Split-1 with a float sizes input.
	b = onnxbuild.New("legacy", 6)
	x = b.Input("x", ir.Float32, 1, 2, 2, 2)
	b.Initializer("slope", ir.FromFloat32([]float32{0.5, 0.25}, 2))
	p := b.Node("PRelu", []string{x, "slope"}, map[string]any{"consumed_inputs": []int64{0, 0}})
	b.Output(p, ir.Float32, 1, 2, 2, 2)
	add(b)
	b = onnxbuild.New("split1", 1)
	x = b.Input("x", ir.Float32, 1, 6)
	b.Initializer("sizes", ir.FromFloat32([]float32{2, 4}, 2))
	parts := b.NodeN("Split", []string{x, "sizes"}, 2, map[string]any{"axis": 1})
	b.OutputUntyped(parts[0])
	b.OutputUntyped(parts[1])
	add(b)
	// A QDQ pair and an integer matmul.
	b = onnxbuild.New("q", 13)
	x = b.Input("x", ir.Float32, 2, 4)
	s := b.Initializer("s", ir.FromFloat32([]float32{0.5}))
	z := b.Initializer("z", &ir.Tensor{DType: ir.Int8, Data: []int8{1}})
	q := b.Node("QuantizeLinear", []string{x, s, z}, nil)
	wq := b.SetStorage(onnxbuild.Typed).Initializer("wq", &ir.Tensor{DType: ir.Int8, Shape: []int{4, 3}, Data: make([]int8, 12)})
	mm := b.Node("MatMulInteger", []string{q, wq, z}, nil)
	b.Output(mm, ir.Int32, 2, 3)
	add(b)
	return seeds
}

// FuzzDecode feeds arbitrary bytes to Decode and Lower: they must return an
// error or a graph that verifies, and never panic (a panic inside an op
// schema is caught by Lower and reported as an internal error, which this
// target treats as a failure so that the fuzzer finds those bugs too).
//
//	go test -run='^$' -fuzz='^FuzzDecode$' -fuzzminimizetime=5s ./frontend/onnx/
//
// The seeds are whole models (20 KB to 2.4 MB); with the default minimizing
// time of a minute per new input the workers spend most of their time
// minimizing, so a short -fuzzminimizetime keeps them fuzzing.
func FuzzDecode(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(sharedDir, "models", "*.onnx"))
	for _, p := range paths {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	for _, s := range seedModels(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data, "")
		if err != nil {
			return
		}
		m.Nodes()
		g, err := m.Lower()
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatal(err)
			}
			return
		}
		if err := ir.Verify(g); err != nil {
			t.Fatalf("Lower returned a graph that does not verify: %v", err)
		}
	})
}

// FuzzDecodeTensor does the same for single TensorProto files.
func FuzzDecodeTensor(f *testing.F) {
	for _, tt := range sampleTensors() {
		data, err := EncodeTensor("t", tt)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tensor, _, err := DecodeTensor(data)
		if err != nil {
			return
		}
		if err := tensor.Check(); err != nil {
			t.Fatalf("decoded an inconsistent tensor: %v", err)
		}
		if _, err := EncodeTensor("t", tensor); err != nil {
			t.Fatalf("cannot re-encode a decoded tensor: %v", err)
		}
	})
}

// TestSeedModelsLower makes sure the fuzzing seeds are valid models, so the
// fuzzer starts from inputs that reach deep into lowering.
func TestSeedModelsLower(t *testing.T) {
	for i, s := range seedModels(t) {
		m, err := Decode(s, "")
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		if _, err := m.Lower(); err != nil {
			t.Errorf("seed %d: %v", i, err)
		}
	}
}

package ir

import (
	"strings"
	"testing"
)

// TestQGemmInferBatchOfRows: a QGemm's A may be a batch of rows [...,K]
// (symbolic batch dim included); Y is A's shape with K replaced by N, the
// residual must have that shape, and A must have rank 2 or more and K
// matching W's.
func TestQGemmInferBatchOfRows(t *testing.T) {
	pt := func(s float32, z int32) *QuantParams {
		return &QuantParams{Scale: []float32{s}, ZeroPoint: []int32{z}, Axis: -1}
	}
	n := SymDim("N")
	node := func(withR bool) *Node {
		ins := []*Value{{Name: "a", Quant: pt(0.1, 0)}, {Name: "w", Quant: pt(0.02, 0)}, {Name: "m"}}
		if withR {
			ins = append(ins, nil, &Value{Name: "r", Quant: pt(0.5, 1)}, &Value{Name: "mr"})
		}
		return &Node{Name: "fc1", Op: "QGemm", Inputs: ins, Outputs: []*Value{{Name: "y", Quant: pt(0.3, -2)}}}
	}
	a := Type{DType: Int8, Shape: Shape{n, D(7), D(7), D(96)}}
	w, m := TensorType(Int8, 384, 96), TensorType(Float32, 384)
	want := Type{DType: Int8, Shape: Shape{n, D(7), D(7), D(384)}}
	out, err := InferTypes(node(false), []Type{a, w, m}, make([]*Tensor, 3))
	if err != nil {
		t.Fatal(err)
	}
	if !out[0].Equal(want) {
		t.Errorf("QGemm of %v output %v, want %v", a.Shape, out[0], want)
	}
	if !a.Shape.Equal(Shape{n, D(7), D(7), D(96)}) {
		t.Errorf("inference changed A's shape to %v", a.Shape)
	}
	out, err = InferTypes(node(true), []Type{a, w, m, {}, want, TensorType(Float32)}, make([]*Tensor, 6))
	if err != nil || !out[0].Equal(want) {
		t.Errorf("with a residual of the output's shape: %v, %v; want %v", out, err, want)
	}
	bad := Type{DType: Int8, Shape: Shape{n, D(49), D(384)}}
	if _, err := InferTypes(node(true), []Type{a, w, m, {}, bad, TensorType(Float32)}, make([]*Tensor, 6)); err == nil {
		t.Errorf("accepted a residual of shape %v for output %v", bad.Shape, want.Shape)
	}
	for _, c := range []struct {
		a    Type
		want string
	}{
		{TensorType(Int8, 96), "rank 2 or more"},
		{TensorType(Int8, 2, 7, 95), "inner dims differ"},
	} {
		if _, err := InferTypes(node(false), []Type{c.a, w, m}, make([]*Tensor, 3)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("A %v: error %v, want one containing %q", c.a.Shape, err, c.want)
		}
	}
}

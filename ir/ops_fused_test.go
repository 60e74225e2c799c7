package ir

import (
	"math"
	"testing"
)

// TestFusedInfer checks the fused ops' output types: the conv's or the
// Gemm's, with a symbolic batch dim flowing through and a residual of the
// same symbolic shape accepted.
func TestFusedInfer(t *testing.T) {
	n := SymDim("N")
	x := Type{DType: Float32, Shape: Shape{n, D(4), D(8), D(8)}}
	r := Type{DType: Float32, Shape: Shape{n, D(6), D(4), D(4)}}
	node := &Node{Name: "fc", Op: "FusedConv", Attrs: Attrs{"strides": IntsAttr(2, 2), "activation": StringAttr(ActRelu)},
		Inputs: fusedVals(4), Outputs: []*Value{{Name: "y"}}}
	out, err := InferTypes(node, []Type{x, TensorType(Float32, 6, 4, 1, 1), TensorType(Float32, 6), r}, make([]*Tensor, 4))
	if err != nil {
		t.Fatal(err)
	}
	if !out[0].Equal(r) {
		t.Errorf("FusedConv output %v, want %v", out[0], r)
	}
	// A residual with another symbol is another shape.
	r2 := Type{DType: Float32, Shape: Shape{SymDim("M"), D(6), D(4), D(4)}}
	if _, err := InferTypes(node, []Type{x, TensorType(Float32, 6, 4, 1, 1), {}, r2}, make([]*Tensor, 4)); err == nil {
		t.Errorf("FusedConv accepted a residual of shape %v for output %v", r2.Shape, r.Shape)
	}
	g := &Node{Name: "fg", Op: "FusedGemm", Attrs: Attrs{"transB": IntAttr(1), "activation": StringAttr(ActClip), "clip_max": FloatAttr(6)},
		Inputs: fusedVals(3), Outputs: []*Value{{Name: "y"}}}
	out, err = InferTypes(g, []Type{{DType: Float16, Shape: Shape{n, D(3)}}, TensorType(Float16, 5, 3), TensorType(Float16, 1, 5)}, make([]*Tensor, 3))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Type{DType: Float16, Shape: Shape{n, D(5)}}); !out[0].Equal(want) {
		t.Errorf("FusedGemm output %v, want %v", out[0], want)
	}
}

// fusedVals returns n placeholder input values (InferTypes reads the types it
// is given, but checks that required inputs exist).
func fusedVals(n int) []*Value {
	v := make([]*Value, n)
	for i := range v {
		v[i] = &Value{Name: "in"}
	}
	return v
}

// TestFusedActivation checks the attribute rules the kernels and the
// backend share: defaults, and the absent clip bounds as infinities.
func TestFusedActivation(t *testing.T) {
	act, lo, hi, err := FusedActivation(nil)
	if err != nil || act != ActNone || !math.IsInf(float64(lo), -1) || !math.IsInf(float64(hi), 1) {
		t.Errorf("no attributes: %q [%v, %v] %v, want none [-inf, +inf]", act, lo, hi, err)
	}
	act, lo, hi, err = FusedActivation(Attrs{"activation": StringAttr(ActClip), "clip_min": FloatAttr(0)})
	if err != nil || act != ActClip || lo != 0 || !math.IsInf(float64(hi), 1) {
		t.Errorf("clip_min 0: %q [%v, %v] %v, want clip [0, +inf]", act, lo, hi, err)
	}
	if _, _, _, err := FusedActivation(Attrs{"activation": StringAttr("Relu")}); err == nil {
		t.Errorf("activation Relu (capitalised) accepted, want an error")
	}
}

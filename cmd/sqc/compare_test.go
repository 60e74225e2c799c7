package main

import (
	"math"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// A quantized value compares by the reals it stands for, per channel when
// its scale is per channel; integers without a scale are not compared.
func TestRealValuesDequantizes(t *testing.T) {
	q := &ir.Tensor{DType: ir.Int8, Shape: []int{1, 2, 2}, Data: []int8{10, -4, 3, 7}}
	v := &ir.Value{Name: "x.q", Quant: &ir.QuantParams{Scale: []float32{0.5, 2}, ZeroPoint: []int32{0, 1}, Axis: 1}}
	r := realValues(v, q)
	want := []float64{5, -2, 4, 12}
	for i := range want {
		if r.data[i] != want[i] {
			t.Fatalf("realValues = %v, want %v", r.data, want)
		}
	}
	if realValues(&ir.Value{Name: "shape"}, ir.FromInt64([]int64{1, 2}, 2)) != nil {
		t.Error("an int64 tensor without a scale was compared")
	}
}

func TestCompareReal(t *testing.T) {
	a := &realTensor{shape: []int{2, 3}, data: []float64{1, 4, 2, -8, 0, 1}}
	b := &realTensor{shape: []int{2, 3}, data: []float64{1, 3.5, 4.5, -8, 0, 1}}
	maxAbs, rel, top1 := compareReal(a, b)
	if maxAbs != 2.5 || rel != 2.5/8 || top1 != 0.5 {
		t.Errorf("compareReal = %v, %v, %v; want 2.5, 0.3125, 0.5", maxAbs, rel, top1)
	}
	b.data[0] = math.NaN()
	if maxAbs, _, _ := compareReal(a, b); !math.IsInf(maxAbs, 1) {
		t.Errorf("a NaN in B only gives max abs %v, want +Inf", maxAbs)
	}
}

package onnxsuite

import (
	"math"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// TestCompareTensors checks the comparator itself on hand-made cases, since
// every conformance verdict rests on it.
func TestCompareTensors(t *testing.T) {
	f := func(v ...float32) *ir.Tensor { return ir.FromFloat32(v, len(v)) }
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	cases := []struct {
		name      string
		got, want *ir.Tensor
		tol       Tolerance
		errSub    string // "" when they must match
	}{
		{"equal", f(1, 2, 3), f(1, 2, 3), SuiteTol, ""},
		// 1000 * 1e-3 + 1e-7 allows a difference of 1.0000001.
		{"within rtol", f(1001), f(1000), SuiteTol, ""},
		{"outside rtol", f(1001.01), f(1000), SuiteTol, "element [0] = 1001.01"},
		{"atol near zero", f(5e-8), f(0), SuiteTol, ""},
		{"beyond atol near zero", f(1e-6), f(0), SuiteTol, "1 of 1 elements differ"},
		{"nan equals nan", f(nan, 1), f(nan, 1), SuiteTol, ""},
		{"nan where number", f(nan), f(1), SuiteTol, "differ"},
		{"number where nan", f(1), f(nan), SuiteTol, "differ"},
		{"inf", f(inf), f(inf), SuiteTol, ""},
		{"inf sign", f(-inf), f(inf), SuiteTol, "differ"},
		{"shape", ir.FromFloat32([]float32{1, 2}, 1, 2), f(1, 2), SuiteTol, "shape [1 2], want [2]"},
		{"dtype", ir.FromInt64([]int64{1}, 1), f(1), SuiteTol, "dtype i64, want f32"},
		{"int exact", ir.FromInt64([]int64{5, 7}, 2), ir.FromInt64([]int64{5, 7}, 2), SuiteTol, ""},
		{"int off by one", ir.FromInt64([]int64{5, 8}, 2), ir.FromInt64([]int64{5, 7}, 2), SuiteTol, "element [1] = 8, want 7"},
		{"second row", ir.FromFloat32([]float32{0, 0, 0, 9}, 2, 2), ir.FromFloat32([]float32{0, 0, 0, 1}, 2, 2), SuiteTol, "element [1 1]"},
		{"bool", &ir.Tensor{DType: ir.Bool, Shape: []int{2}, Data: []bool{true, false}}, &ir.Tensor{DType: ir.Bool, Shape: []int{2}, Data: []bool{true, true}}, SuiteTol, "false, want true"},
		// 1 + 2^-10, the next half after 1, differs by 9.77e-4 < 1e-3+1e-7: inside;
		// 1 + 2^-9 differs by 1.95e-3: outside.
		{"half", &ir.Tensor{DType: ir.Float16, Shape: []int{1}, Data: []uint16{0x3c01}}, &ir.Tensor{DType: ir.Float16, Shape: []int{1}, Data: []uint16{0x3c00}}, SuiteTol, ""},
		{"half far", &ir.Tensor{DType: ir.Float16, Shape: []int{1}, Data: []uint16{0x3c02}}, &ir.Tensor{DType: ir.Float16, Shape: []int{1}, Data: []uint16{0x3c00}}, SuiteTol, "differ"},
		{"loose tol", f(1.0005), f(1), Tolerance{ATol: 1e-3}, ""},
	}
	for _, c := range cases {
		_, err := CompareTensors(c.got, c.want, c.tol)
		switch {
		case c.errSub == "" && err != nil:
			t.Errorf("%s: unexpected mismatch: %v", c.name, err)
		case c.errSub != "" && err == nil:
			t.Errorf("%s: no mismatch reported, want one saying %q", c.name, c.errSub)
		case c.errSub != "" && !strings.Contains(err.Error(), c.errSub):
			t.Errorf("%s: error %q, want it to contain %q", c.name, err, c.errSub)
		}
	}
	st, _ := CompareTensors(f(1, 2.5, 3), f(1, 2, 3.25), SuiteTol)
	if st.MaxAbs != 0.5 || st.Bad != 2 {
		t.Errorf("stats %+v, want max abs 0.5 and 2 bad", st)
	}
}

package layer

import (
	"testing"

	"github.com/sqc-project/sqc/ir"
)

func seq(n int) []float32 {
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(i + 1)
	}
	return d
}

// TestViews: the view puts a layer's reduction along the columns, in the
// order the N:M groups need, for every op and weight layout; the expected
// elements are written out by hand from each op's definition.
func TestViews(t *testing.T) {
	x4 := &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, 1, 2, 3, 3)}
	a := &ir.Value{Name: "a", Type: ir.TensorType(ir.Float32, 5, 3)}
	for _, tc := range []struct {
		name string
		node *ir.Node
		rows int
		// want[r][c] is the view element (r, c).
		want [][]float32
		axis int
	}{
		{
			// W[k, c, 0, s] (K=2, C=2, 1×2): column s·C + c.
			name: "conv",
			node: &ir.Node{Name: "n", Op: "Conv", Inputs: []*ir.Value{x4, ir.NewConst("w", ir.FromFloat32(seq(8), 2, 2, 1, 2))}, Outputs: []*ir.Value{{Name: "y"}}},
			// flat (k·2 + c)·2 + s + 1
			want: [][]float32{{1, 3, 2, 4}, {5, 7, 6, 8}},
			axis: 1,
		},
		{
			// transB: B is N×K (2×3), rows of B are the rows of the view.
			name: "gemm-transB",
			node: &ir.Node{Name: "n", Op: "Gemm", Attrs: ir.Attrs{"transB": ir.IntAttr(1)}, Inputs: []*ir.Value{a, ir.NewConst("w", ir.FromFloat32(seq(6), 2, 3))}, Outputs: []*ir.Value{{Name: "y"}}},
			want: [][]float32{{1, 2, 3}, {4, 5, 6}},
			axis: 1,
		},
		{
			// B is K×N (3×2): the view is Bᵀ.
			name: "gemm",
			node: &ir.Node{Name: "n", Op: "Gemm", Inputs: []*ir.Value{a, ir.NewConst("w", ir.FromFloat32(seq(6), 3, 2))}, Outputs: []*ir.Value{{Name: "y"}}},
			want: [][]float32{{1, 3, 5}, {2, 4, 6}},
			axis: 0,
		},
		{
			name: "matmul",
			node: &ir.Node{Name: "n", Op: "MatMul", Inputs: []*ir.Value{a, ir.NewConst("w", ir.FromFloat32(seq(6), 3, 2))}, Outputs: []*ir.Value{{Name: "y"}}},
			want: [][]float32{{1, 3, 5}, {2, 4, 6}},
			axis: 0,
		},
	} {
		l, why := Of(tc.node, nil)
		if l == nil {
			t.Fatalf("%s: %s", tc.name, why)
		}
		if l.Axis != tc.axis || l.Rows != len(tc.want) || l.Cols() != len(tc.want[0]) {
			t.Fatalf("%s: axis %d, %d×%d; want axis %d, %d×%d", tc.name, l.Axis, l.Rows, l.Cols(), tc.axis, len(tc.want), len(tc.want[0]))
		}
		m := l.Matrix()
		abs := l.Abs32()
		for r, row := range tc.want {
			for c, v := range row {
				if m[r*l.Cols()+c] != float64(v) || abs[r*l.Cols()+c] != v {
					t.Fatalf("%s: view (%d,%d) = %v (abs %v), want %v", tc.name, r, c, m[r*l.Cols()+c], abs[r*l.Cols()+c], v)
				}
			}
		}
		// NewData with the view negated writes every element back in place.
		for i := range m {
			m[i] = -m[i]
		}
		nt, err := l.NewData(m, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range nt.Float32s() {
			if v != -l.Const.Const.Float32s()[i] {
				t.Fatalf("%s: NewData element %d = %v, want %v", tc.name, i, v, -l.Const.Const.Float32s()[i])
			}
		}
	}
}

// TestQuantizedView: a DequantizeLinear weight is viewed dequantized (per
// output channel scales) and NewData requantizes, rounding half to even
// and saturating; pruned elements become exactly 0.
func TestQuantizedView(t *testing.T) {
	x := &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, 1, 4, 1, 1)}
	q := ir.NewConst("q", &ir.Tensor{DType: ir.Int8, Shape: []int{2, 4, 1, 1}, Data: []int8{1, -2, 3, -4, 10, 20, 30, 40}})
	w := &ir.Value{Name: "w", Type: ir.TensorType(ir.Float32, 2, 4, 1, 1)}
	dq := &ir.Node{Name: "dq", Op: "DequantizeLinear", Attrs: ir.Attrs{"axis": ir.IntAttr(0)},
		Inputs:  []*ir.Value{q, ir.NewConst("s", ir.FromFloat32([]float32{0.5, 0.25}, 2)), ir.NewConst("z", &ir.Tensor{DType: ir.Int8, Shape: []int{2}, Data: []int8{0, 0}})},
		Outputs: []*ir.Value{w}}
	conv := &ir.Node{Name: "c", Op: "Conv", Inputs: []*ir.Value{x, w}, Outputs: []*ir.Value{{Name: "y"}}}
	l, why := Of(conv, map[*ir.Value]*ir.Node{w: dq})
	if l == nil {
		t.Fatal(why)
	}
	want := []float64{0.5, -1, 1.5, -2, 2.5, 5, 7.5, 10}
	for i, v := range l.Matrix() {
		if v != want[i] {
			t.Fatalf("dequantized view %v, want %v", l.Matrix(), want)
		}
	}
	m := []float64{0.75, -1, 1.25, 100, 2.5, 5, 7.5, 10}
	keep := []bool{true, false, true, true, true, true, true, true}
	nt, err := l.NewData(m, keep)
	if err != nil {
		t.Fatal(err)
	}
	// 0.75/0.5 = 1.5 → 2 (half to even), pruned → 0, 1.25/0.5 = 2.5 → 2,
	// 100/0.5 = 200 → 127 (saturated).
	got := nt.Int8s()
	wantQ := []int8{2, 0, 2, 127, 10, 20, 30, 40}
	for i := range got {
		if got[i] != wantQ[i] {
			t.Fatalf("requantized %v, want %v", got, wantQ)
		}
	}
}

// TestCheckNM: exact detection, and the position of the first bad group.
func TestCheckNM(t *testing.T) {
	x := &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, 1, 4, 1, 2)}
	// W[0, c, 0, s] = d[2c + s]: s = 0 holds 1 0 0 2 (2:4), s = 1 holds 0 3 4 5 (3 non-zeros).
	d := []float32{1, 0, 0, 3, 0, 4, 2, 5}
	n := &ir.Node{Name: "c", Op: "Conv", Inputs: []*ir.Value{x, ir.NewConst("w", ir.FromFloat32(d, 1, 4, 1, 2))}, Outputs: []*ir.Value{{Name: "y"}}}
	l, _ := Of(n, nil)
	v := l.CheckNM(2, 4)
	if v == nil || v.Row != 0 || v.Col != 4 || v.NonZeros != 3 {
		t.Fatalf("violation %+v, want row 0, column 4 (kernel position 1, channels 0..3), 3 non-zeros", v)
	}
	if got := l.Where(v.Row, v.Col, 4); got != "output channel 0, input channels 0..3 at kernel position [0 1]" {
		t.Errorf("Where = %q", got)
	}
	if v := l.CheckNM(3, 4); v != nil {
		t.Errorf("3:4 violated at %+v", v)
	}
}

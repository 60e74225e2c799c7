package conformance

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// tolerance is the closeness test of numpy's assert_allclose, which the ONNX
// backend tests use: |got - want| <= atol + rtol*|want|.
type tolerance struct{ rtol, atol float64 }

// suiteTol is the ONNX backend test default.
var suiteTol = tolerance{rtol: 1e-3, atol: 1e-7}

// diffStats summarises a float comparison, for logs.
type diffStats struct {
	maxAbs float64 // largest |got - want| over finite pairs
	bad    int     // elements outside the tolerance
}

// compareTensors checks that got matches want: same dtype, same shape,
// integer and bool elements exactly equal, float elements within tol, NaN
// only where want has NaN, infinities with the same sign. The error names the
// first differing element and how many differ.
func compareTensors(got, want *ir.Tensor, tol tolerance) (diffStats, error) {
	var st diffStats
	if got == nil {
		return st, fmt.Errorf("no tensor computed")
	}
	if got.DType != want.DType {
		return st, fmt.Errorf("dtype %v, want %v", got.DType, want.DType)
	}
	if !equalShape(got.Shape, want.Shape) {
		return st, fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	}
	if err := got.Check(); err != nil {
		return st, fmt.Errorf("malformed result: %v", err)
	}
	n := want.Len()
	first := -1
	var firstMsg string
	for i := 0; i < n; i++ {
		var ok bool
		var msg string
		if want.DType.IsFloat() {
			g, w := floatAt(got, i), floatAt(want, i)
			ok = closeEnough(g, w, tol)
			if d := math.Abs(g - w); !math.IsNaN(d) && !math.IsInf(d, 0) && d > st.maxAbs {
				st.maxAbs = d
			}
			msg = fmt.Sprintf("%v, want %v (diff %.3g, allowed %.3g)", g, w, math.Abs(g-w), tol.atol+tol.rtol*math.Abs(w))
		} else {
			g, w := exactAt(got, i), exactAt(want, i)
			ok = g == w
			msg = fmt.Sprintf("%v, want %v", g, w)
		}
		if !ok {
			st.bad++
			if first < 0 {
				first, firstMsg = i, msg
			}
		}
	}
	if st.bad > 0 {
		return st, fmt.Errorf("element %v = %s; %d of %d elements differ, max abs diff %.3g",
			unravel(first, want.Shape), firstMsg, st.bad, n, st.maxAbs)
	}
	return st, nil
}

func closeEnough(g, w float64, tol tolerance) bool {
	switch {
	case math.IsNaN(w) || math.IsNaN(g):
		return math.IsNaN(w) && math.IsNaN(g)
	case math.IsInf(w, 0) || math.IsInf(g, 0):
		return g == w
	}
	return math.Abs(g-w) <= tol.atol+tol.rtol*math.Abs(w)
}

// floatAt reads a float element of any float dtype (half types decoded).
func floatAt(t *ir.Tensor, i int) float64 {
	switch s := t.Data.(type) {
	case []float32:
		return float64(s[i])
	case []float64:
		return s[i]
	case []uint16:
		if t.DType == ir.BFloat16 {
			return float64(ir.BFloat16ToFloat32(s[i]))
		}
		return float64(ir.HalfToFloat32(s[i]))
	}
	return math.NaN()
}

// exactAt reads an integer or bool element without loss (uint64 too).
func exactAt(t *ir.Tensor, i int) any {
	switch s := t.Data.(type) {
	case []uint64:
		return s[i]
	case []bool:
		return s[i]
	}
	return t.AsInt64(i)
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// unravel turns a flat row-major index into a multi-index.
func unravel(i int, shape []int) []int {
	idx := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		if shape[d] > 0 {
			idx[d] = i % shape[d]
			i /= shape[d]
		}
	}
	return idx
}

// needDir returns whether dir exists; when it does not, the test is skipped,
// or fails under CI=true, where the data is part of the set-up.
func needDir(t *testing.T, dir, what string) {
	t.Helper()
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing in CI (%v)", what, err)
		}
		t.Skipf("%s not found (%v): skipping", what, err)
	}
}

// dataSets lists a test directory's test_data_set_* folders, sorted.
func dataSets(dir string) ([]string, error) {
	sets, err := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range sets {
		if fi, err := os.Stat(s); err == nil && fi.IsDir() {
			out = append(out, s)
		}
	}
	return out, nil
}

// numberedFiles lists prefix_0.pb, prefix_1.pb ... in a data set folder, in
// numeric order, stopping at the first gap.
func numberedFiles(dir, prefix string) []string {
	var out []string
	for i := 0; ; i++ {
		p := filepath.Join(dir, fmt.Sprintf("%s_%d.pb", prefix, i))
		if _, err := os.Stat(p); err != nil {
			return out
		}
		out = append(out, p)
	}
}

// TestCompareTensors checks the comparator itself on hand-made cases, since
// every conformance verdict rests on it.
func TestCompareTensors(t *testing.T) {
	f := func(v ...float32) *ir.Tensor { return ir.FromFloat32(v, len(v)) }
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	cases := []struct {
		name      string
		got, want *ir.Tensor
		tol       tolerance
		errSub    string // "" when they must match
	}{
		{"equal", f(1, 2, 3), f(1, 2, 3), suiteTol, ""},
		// 1000 * 1e-3 + 1e-7 allows a difference of 1.0000001.
		{"within rtol", f(1001), f(1000), suiteTol, ""},
		{"outside rtol", f(1001.01), f(1000), suiteTol, "element [0] = 1001.01"},
		{"atol near zero", f(5e-8), f(0), suiteTol, ""},
		{"beyond atol near zero", f(1e-6), f(0), suiteTol, "1 of 1 elements differ"},
		{"nan equals nan", f(nan, 1), f(nan, 1), suiteTol, ""},
		{"nan where number", f(nan), f(1), suiteTol, "differ"},
		{"number where nan", f(1), f(nan), suiteTol, "differ"},
		{"inf", f(inf), f(inf), suiteTol, ""},
		{"inf sign", f(-inf), f(inf), suiteTol, "differ"},
		{"shape", ir.FromFloat32([]float32{1, 2}, 1, 2), f(1, 2), suiteTol, "shape [1 2], want [2]"},
		{"dtype", ir.FromInt64([]int64{1}, 1), f(1), suiteTol, "dtype i64, want f32"},
		{"int exact", ir.FromInt64([]int64{5, 7}, 2), ir.FromInt64([]int64{5, 7}, 2), suiteTol, ""},
		{"int off by one", ir.FromInt64([]int64{5, 8}, 2), ir.FromInt64([]int64{5, 7}, 2), suiteTol, "element [1] = 8, want 7"},
		{"second row", ir.FromFloat32([]float32{0, 0, 0, 9}, 2, 2), ir.FromFloat32([]float32{0, 0, 0, 1}, 2, 2), suiteTol, "element [1 1]"},
		{"bool", &ir.Tensor{DType: ir.Bool, Shape: []int{2}, Data: []bool{true, false}}, &ir.Tensor{DType: ir.Bool, Shape: []int{2}, Data: []bool{true, true}}, suiteTol, "false, want true"},
		// 1 + 2^-10, the next half after 1, differs by 9.77e-4 < 1e-3+1e-7: inside;
		// 1 + 2^-9 differs by 1.95e-3: outside.
		{"half", &ir.Tensor{DType: ir.Float16, Shape: []int{1}, Data: []uint16{0x3c01}}, &ir.Tensor{DType: ir.Float16, Shape: []int{1}, Data: []uint16{0x3c00}}, suiteTol, ""},
		{"half far", &ir.Tensor{DType: ir.Float16, Shape: []int{1}, Data: []uint16{0x3c02}}, &ir.Tensor{DType: ir.Float16, Shape: []int{1}, Data: []uint16{0x3c00}}, suiteTol, "differ"},
		{"loose tol", f(1.0005), f(1), tolerance{atol: 1e-3}, ""},
	}
	for _, c := range cases {
		_, err := compareTensors(c.got, c.want, c.tol)
		switch {
		case c.errSub == "" && err != nil:
			t.Errorf("%s: unexpected mismatch: %v", c.name, err)
		case c.errSub != "" && err == nil:
			t.Errorf("%s: no mismatch reported, want one saying %q", c.name, c.errSub)
		case c.errSub != "" && !strings.Contains(err.Error(), c.errSub):
			t.Errorf("%s: error %q, want it to contain %q", c.name, err, c.errSub)
		}
	}
	st, _ := compareTensors(f(1, 2.5, 3), f(1, 2, 3.25), suiteTol)
	if st.maxAbs != 0.5 || st.bad != 2 {
		t.Errorf("stats %+v, want max abs 0.5 and 2 bad", st)
	}
}

// Package onnxsuite reads the ONNX conformance suite (Debian's
// libonnx-testdata): where it is, its test directories' data sets and
// .pb tensors, and the suite's comparison rules. The conformance tests and
// backend/ampere's plan test share it.
package onnxsuite

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/ir"
)

// DefaultRoot is where Debian's libonnx-testdata installs the ONNX
// suite; SQC_ONNX_TESTDATA names another copy of the same layout.
const DefaultRoot = "/usr/share/libonnx-testdata/data"

// RootDir is the suite's root: $SQC_ONNX_TESTDATA, or DefaultRoot.
func RootDir() string {
	if d := os.Getenv("SQC_ONNX_TESTDATA"); d != "" {
		return d
	}
	return DefaultRoot
}

// Tolerance is the closeness test of numpy's assert_allclose, which the ONNX
// backend tests use: |got - want| <= atol + rtol*|want|.
type Tolerance struct{ RTol, ATol float64 }

// SuiteTol is the ONNX backend test default.
var SuiteTol = Tolerance{RTol: 1e-3, ATol: 1e-7}

// DiffStats summarises a float comparison, for logs.
type DiffStats struct {
	MaxAbs float64 // largest |got - want| over finite pairs
	Bad    int     // elements outside the tolerance
}

// CompareTensors checks that got matches want: same dtype, same shape,
// integer and bool elements exactly equal, float elements within tol, NaN
// only where want has NaN, infinities with the same sign. The error names the
// first differing element and how many differ.
func CompareTensors(got, want *ir.Tensor, tol Tolerance) (DiffStats, error) {
	var st DiffStats
	if got == nil {
		return st, fmt.Errorf("no tensor computed")
	}
	if got.DType != want.DType {
		return st, fmt.Errorf("dtype %v, want %v", got.DType, want.DType)
	}
	if !slices.Equal(got.Shape, want.Shape) {
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
			g, w := got.AsFloat64(i), want.AsFloat64(i)
			ok = closeEnough(g, w, tol)
			if d := math.Abs(g - w); !math.IsNaN(d) && !math.IsInf(d, 0) && d > st.MaxAbs {
				st.MaxAbs = d
			}
			msg = fmt.Sprintf("%v, want %v (diff %.3g, allowed %.3g)", g, w, math.Abs(g-w), tol.allowed(w))
		} else {
			g, w := exactAt(got, i), exactAt(want, i)
			ok = g == w
			msg = fmt.Sprintf("%v, want %v", g, w)
		}
		if !ok {
			st.Bad++
			if first < 0 {
				first, firstMsg = i, msg
			}
		}
	}
	if st.Bad > 0 {
		return st, fmt.Errorf("element %v = %s; %d of %d elements differ, max abs diff %.3g",
			unravel(first, want.Shape), firstMsg, st.Bad, n, st.MaxAbs)
	}
	return st, nil
}

func closeEnough(g, w float64, tol Tolerance) bool {
	switch {
	case math.IsNaN(w) || math.IsNaN(g):
		return math.IsNaN(w) && math.IsNaN(g)
	case math.IsInf(w, 0) || math.IsInf(g, 0):
		return g == w
	}
	return math.Abs(g-w) <= tol.allowed(w)
}

// allowed is the difference tol allows from want: atol + rtol·|want|, the
// product rounded as numpy rounds it (no fused multiply-add on any
// architecture).
func (tol Tolerance) allowed(want float64) float64 {
	return tol.ATol + float64(tol.RTol*math.Abs(want))
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

// DataSets lists a test directory's test_data_set_* folders, sorted.
func DataSets(dir string) ([]string, error) {
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

// NumberedFiles lists prefix_0.pb, prefix_1.pb ... in a data set folder, in
// numeric order, stopping at the first gap.
func NumberedFiles(dir, prefix string) []string {
	var out []string
	for i := 0; ; i++ {
		p := filepath.Join(dir, fmt.Sprintf("%s_%d.pb", prefix, i))
		if _, err := os.Stat(p); err != nil {
			return out
		}
		out = append(out, p)
	}
}

// ReadMatched reads the numbered .pb files of a data set and puts each at the
// position of the graph value it belongs to: by the TensorProto's name when
// every file is named after a distinct value, otherwise by position (the
// suite's files are in graph order; initializers are not graph inputs).
func ReadMatched(files []string, values []*ir.Value, what string) ([]*ir.Tensor, error) {
	if len(files) != len(values) {
		names := make([]string, len(values))
		for i, v := range values {
			names[i] = v.Name
		}
		return nil, fmt.Errorf("%d %s files, but the graph has %d %ss %q", len(files), what, len(values), what, names)
	}
	tensors := make([]*ir.Tensor, len(files))
	names := make([]string, len(files))
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		tensors[i], names[i], err = onnx.DecodeTensor(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", f, err)
		}
	}
	index := map[string]int{}
	for i, v := range values {
		index[v.Name] = i
	}
	placed := make([]*ir.Tensor, len(values))
	for i, name := range names {
		j, ok := index[name]
		if !ok || placed[j] != nil {
			placed = tensors // not all named after distinct values: by position
			break
		}
		placed[j] = tensors[i]
	}
	for i, t := range placed {
		// numpy has no bfloat16, so the suite stores bfloat16 data as
		// UINT16 tensors holding the same bit patterns (test_cast_*BFLOAT16*):
		// read them as what the graph declares.
		if t.DType == ir.Uint16 && values[i].Type.DType == ir.BFloat16 {
			placed[i] = &ir.Tensor{DType: ir.BFloat16, Shape: t.Shape, Data: t.Data}
		}
	}
	return placed, nil
}

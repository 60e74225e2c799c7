package ref

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// tmRun runs a one-node graph of op through the executor. Every non-nil
// input becomes a graph input (so shape inference sees it as a run-time
// value, not a constant); a nil input is an absent optional input.
func tmRun(op string, attrs ir.Attrs, nOut int, inputs ...*ir.Tensor) ([]*ir.Tensor, error) {
	g := &ir.Graph{Name: "g"}
	n := &ir.Node{Name: "n1", Op: op, Attrs: attrs}
	var feed []*ir.Tensor
	for i, t := range inputs {
		if t == nil {
			n.Inputs = append(n.Inputs, nil)
			continue
		}
		v := &ir.Value{Name: "in" + string(rune('a'+i)), Type: t.Type()}
		g.Inputs = append(g.Inputs, v)
		n.Inputs = append(n.Inputs, v)
		feed = append(feed, t)
	}
	for i := 0; i < nOut; i++ {
		v := &ir.Value{Name: "out" + string(rune('a'+i))}
		n.Outputs = append(n.Outputs, v)
		g.Outputs = append(g.Outputs, v)
	}
	g.Nodes = []*ir.Node{n}
	return Run(g, feed...)
}

// tmRun1 is tmRun for one output, failing the test on error.
func tmRun1(t *testing.T, op string, attrs ir.Attrs, inputs ...*ir.Tensor) *ir.Tensor {
	t.Helper()
	out, err := tmRun(op, attrs, 1, inputs...)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	return out[0]
}

func tmF32(shape []int, v ...float32) *ir.Tensor { return ir.FromFloat32(v, shape...) }

func tmI64(v ...int64) *ir.Tensor { return ir.FromInt64(v, len(v)) }

// tmArange is a float32 tensor holding 0, 1, 2 ... in the given shape.
func tmArange(shape ...int) *ir.Tensor {
	t := ir.NewTensor(ir.Float32, shape...)
	for i := range t.Float32s() {
		t.Float32s()[i] = float32(i)
	}
	return t
}

// tmExpect compares a tensor with an expected shape and values (as
// float64), to within tol relative to the larger magnitude (0 for exact);
// NaN must meet NaN.
func tmExpect(t *testing.T, what string, got *ir.Tensor, shape []int, want []float64, tol float64) {
	t.Helper()
	if !sameInts(got.Shape, shape) {
		t.Errorf("%s: shape %v, want %v", what, got.Shape, shape)
		return
	}
	if got.Len() != len(want) {
		t.Errorf("%s: %d elements, want %d", what, got.Len(), len(want))
		return
	}
	for i, w := range want {
		g := got.AsFloat64(i)
		if math.IsNaN(w) || math.IsNaN(g) {
			if !(math.IsNaN(w) && math.IsNaN(g)) {
				t.Errorf("%s: element %d = %v, want %v", what, i, g, w)
				return
			}
			continue
		}
		if g != w && math.Abs(g-w) > tol*math.Max(math.Abs(w), math.Abs(g)) {
			t.Errorf("%s: element %d = %v, want %v", what, i, g, w)
			return
		}
	}
}

// tmWantErr checks that err holds every part.
func tmWantErr(t *testing.T, what string, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one mentioning %q", what, parts)
		return
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not mention %q", what, err, p)
		}
	}
}

func tmSeq(lo, hi float64) []float64 {
	var v []float64
	for x := lo; x < hi; x++ {
		v = append(v, x)
	}
	return v
}

func TestReshapeFamily(t *testing.T) {
	x := tmArange(2, 3, 4)
	all := tmSeq(0, 24)
	tmExpect(t, "Reshape [4,-1]", tmRun1(t, "Reshape", nil, x, tmI64(4, -1)), []int{4, 6}, all, 0)
	tmExpect(t, "Reshape [0,-1]", tmRun1(t, "Reshape", nil, x, tmI64(0, -1)), []int{2, 12}, all, 0)
	tmExpect(t, "Flatten axis 2", tmRun1(t, "Flatten", ir.Attrs{"axis": ir.IntAttr(2)}, x), []int{6, 4}, all, 0)
	tmExpect(t, "Flatten default", tmRun1(t, "Flatten", nil, x), []int{2, 12}, all, 0)
	u := tmRun1(t, "Unsqueeze", nil, x, tmI64(0, -1))
	tmExpect(t, "Unsqueeze", u, []int{1, 2, 3, 4, 1}, all, 0)
	tmExpect(t, "Squeeze all", tmRun1(t, "Squeeze", nil, u), []int{2, 3, 4}, all, 0)
	tmExpect(t, "Squeeze axis", tmRun1(t, "Squeeze", nil, u, tmI64(4)), []int{1, 2, 3, 4}, all, 0)
	tmExpect(t, "Identity", tmRun1(t, "Identity", nil, x), []int{2, 3, 4}, all, 0)

	// allowzero: a 0 in the shape is a real empty dim.
	empty := ir.NewTensor(ir.Int8, 0, 3)
	tmExpect(t, "Reshape allowzero", tmRun1(t, "Reshape", ir.Attrs{"allowzero": ir.IntAttr(1)}, empty, tmI64(3, 0)), []int{3, 0}, nil, 0)
	tmExpect(t, "Reshape copy zero", tmRun1(t, "Reshape", nil, empty, tmI64(0, 3)), []int{0, 3}, nil, 0)

	_, err := tmRun("Reshape", nil, 1, x, tmI64(5, -1))
	tmWantErr(t, "Reshape 24 to [5,-1]", err, "n1 (Reshape)", "not a multiple of 5")
	_, err = tmRun("Squeeze", nil, 1, x, tmI64(1))
	tmWantErr(t, "Squeeze size 3", err, "cannot squeeze axis 1")

	// Bool and f16 data move as bytes.
	b := &ir.Tensor{DType: ir.Bool, Shape: []int{2, 2}, Data: []bool{true, false, false, true}}
	tmExpect(t, "Reshape bool", tmRun1(t, "Reshape", nil, b, tmI64(4)), []int{4}, []float64{1, 0, 0, 1}, 0)
}

func TestShapeDropout(t *testing.T) {
	x := tmArange(2, 3, 4)
	tmExpect(t, "Shape", tmRun1(t, "Shape", nil, x), []int{3}, []float64{2, 3, 4}, 0)
	tmExpect(t, "Shape start 1", tmRun1(t, "Shape", ir.Attrs{"start": ir.IntAttr(1)}, x), []int{2}, []float64{3, 4}, 0)
	tmExpect(t, "Shape -2..-1", tmRun1(t, "Shape", ir.Attrs{"start": ir.IntAttr(-2), "end": ir.IntAttr(-1)}, x), []int{1}, []float64{3}, 0)
	tmExpect(t, "Shape clamped", tmRun1(t, "Shape", ir.Attrs{"start": ir.IntAttr(-9), "end": ir.IntAttr(9)}, x), []int{3}, []float64{2, 3, 4}, 0)

	out, err := tmRun("Dropout", nil, 2, x, tmF32(nil, 0.3))
	if err != nil {
		t.Fatal(err)
	}
	tmExpect(t, "Dropout output", out[0], []int{2, 3, 4}, tmSeq(0, 24), 0)
	ones := make([]float64, 24)
	for i := range ones {
		ones[i] = 1
	}
	tmExpect(t, "Dropout mask", out[1], []int{2, 3, 4}, ones, 0)
	if out[1].DType != ir.Bool {
		t.Errorf("Dropout mask is %v, want bool", out[1].DType)
	}
	train := &ir.Tensor{DType: ir.Bool, Data: []bool{true}}
	_, err = tmRun("Dropout", nil, 1, x, nil, train)
	tmWantErr(t, "Dropout training", err, "training_mode is true with ratio 0.5", "not supported")
	out, err = tmRun("Dropout", nil, 1, x, tmF32(nil, 0), train)
	if err != nil {
		t.Errorf("Dropout training with ratio 0: %v", err)
	} else {
		tmExpect(t, "Dropout ratio 0", out[0], []int{2, 3, 4}, tmSeq(0, 24), 0)
	}
}

// tmNaiveTranspose permutes by index arithmetic, one element at a time.
func tmNaiveTranspose(x *ir.Tensor, perm []int) []float64 {
	outShape := make([]int, len(perm))
	for i, p := range perm {
		outShape[i] = x.Shape[p]
	}
	inStrides := ir.Strides(x.Shape)
	want := make([]float64, x.Len())
	idx := make([]int, len(perm))
	for o := range want {
		r := o
		for d := len(outShape) - 1; d >= 0; d-- {
			idx[d] = r % outShape[d]
			r /= outShape[d]
		}
		off := 0
		for d, p := range perm {
			off += idx[d] * inStrides[p]
		}
		want[o] = x.AsFloat64(off)
	}
	return want
}

// tmPerms lists every permutation of 0..n-1.
func tmPerms(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range tmPerms(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

// tmRandom fills a tensor of any numeric dtype with small integers, which
// every dtype holds exactly.
func tmRandom(r *rand.Rand, dt ir.DType, shape ...int) *ir.Tensor {
	f := ir.NewTensor(ir.Float32, shape...)
	for i := range f.Float32s() {
		f.Float32s()[i] = float32(r.Intn(100))
	}
	if dt == ir.Float32 {
		return f
	}
	out := ir.NewTensor(dt, shape...)
	if err := castKernel(nil, []*ir.Tensor{f}, []*ir.Tensor{out}); err != nil {
		panic(err)
	}
	return out
}

func TestTranspose(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, dt := range []ir.DType{ir.Float32, ir.Int8, ir.Float16, ir.Float64} {
		x := tmRandom(r, dt, 2, 3, 4, 5)
		for _, perm := range tmPerms(4) {
			p64 := make([]int64, 4)
			shape := make([]int, 4)
			for i, p := range perm {
				p64[i] = int64(p)
				shape[i] = x.Shape[p]
			}
			got := tmRun1(t, "Transpose", ir.Attrs{"perm": ir.IntsAttr(p64...)}, x)
			tmExpect(t, "Transpose "+dt.String(), got, shape, tmNaiveTranspose(x, perm), 0)
		}
	}
	// Size-1 dims and merged runs: [1,3,1,4,5] to [3,1,4,5,1] is a copy;
	// [2,3,1,64,64] with perm 0 3 4 1 2 is NCHW to NHWC, large enough to
	// run on several goroutines.
	x := tmRandom(r, ir.Float32, 1, 3, 1, 4, 5)
	got := tmRun1(t, "Transpose", ir.Attrs{"perm": ir.IntsAttr(1, 2, 3, 4, 0)}, x)
	tmExpect(t, "Transpose size-1 dims", got, []int{3, 1, 4, 5, 1}, tmNaiveTranspose(x, []int{1, 2, 3, 4, 0}), 0)
	x = tmRandom(r, ir.Uint8, 2, 3, 1, 64, 64)
	got = tmRun1(t, "Transpose", ir.Attrs{"perm": ir.IntsAttr(0, 3, 4, 1, 2)}, x)
	tmExpect(t, "Transpose NCHW->NHWC", got, []int{2, 64, 64, 3, 1}, tmNaiveTranspose(x, []int{0, 3, 4, 1, 2}), 0)
	x = tmArange(2, 3)
	tmExpect(t, "Transpose default", tmRun1(t, "Transpose", nil, x), []int{3, 2}, []float64{0, 3, 1, 4, 2, 5}, 0)
}

func TestConcatSplit(t *testing.T) {
	a := tmF32([]int{2, 1, 2}, 1, 2, 3, 4)
	b := tmF32([]int{2, 2, 2}, 5, 6, 7, 8, 9, 10, 11, 12)
	got := tmRun1(t, "Concat", ir.Attrs{"axis": ir.IntAttr(-2)}, a, b)
	tmExpect(t, "Concat axis 1", got, []int{2, 3, 2}, []float64{1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12}, 0)
	got = tmRun1(t, "Concat", ir.Attrs{"axis": ir.IntAttr(0)}, a, tmF32([]int{1, 1, 2}, 0, -1), ir.NewTensor(ir.Float32, 0, 1, 2))
	tmExpect(t, "Concat axis 0", got, []int{3, 1, 2}, []float64{1, 2, 3, 4, 0, -1}, 0)
	_, err := tmRun("Concat", ir.Attrs{"axis": ir.IntAttr(0)}, 1, a, b)
	tmWantErr(t, "Concat mismatch", err, "n1 (Concat)", "input 1 has shape [2,2,2] and input 0 has [2,1,2]")

	// Split undoes Concat.
	out, err := tmRun("Split", ir.Attrs{"axis": ir.IntAttr(1)}, 2, got.Reshaped(1, 3, 2), tmI64(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	tmExpect(t, "Split 0", out[0], []int{1, 1, 2}, []float64{1, 2}, 0)
	tmExpect(t, "Split 1", out[1], []int{1, 2, 2}, []float64{3, 4, 0, -1}, 0)

	x := tmArange(2, 10)
	out, err = tmRun("Split", ir.Attrs{"axis": ir.IntAttr(-1), "num_outputs": ir.IntAttr(3)}, 3, x)
	if err != nil {
		t.Fatal(err)
	}
	tmExpect(t, "Split uneven 0", out[0], []int{2, 4}, []float64{0, 1, 2, 3, 10, 11, 12, 13}, 0)
	tmExpect(t, "Split uneven 1", out[1], []int{2, 4}, []float64{4, 5, 6, 7, 14, 15, 16, 17}, 0)
	tmExpect(t, "Split uneven 2", out[2], []int{2, 2}, []float64{8, 9, 18, 19}, 0)

	out, err = tmRun("Split", ir.Attrs{"axis": ir.IntAttr(1)}, 3, x, tmI64(0, 10, 0))
	if err != nil {
		t.Fatal(err)
	}
	tmExpect(t, "Split zero-size", out[0], []int{2, 0}, nil, 0)
	tmExpect(t, "Split whole", out[1], []int{2, 10}, tmSeq(0, 20), 0)
	out, err = tmRun("Split", nil, 2, x)
	if err != nil {
		t.Fatal(err)
	}
	tmExpect(t, "Split evenly", out[1], []int{1, 10}, tmSeq(10, 20), 0)
}

func TestSlice(t *testing.T) {
	x := tmArange(10)
	const big = math.MaxInt64
	slice := func(x *ir.Tensor, starts, ends, axes, steps []int64) *ir.Tensor {
		t.Helper()
		in := []*ir.Tensor{x, tmI64(starts...), tmI64(ends...), nil, nil}
		if axes != nil {
			in[3] = tmI64(axes...)
		}
		if steps != nil {
			in[4] = tmI64(steps...)
		}
		return tmRun1(t, "Slice", nil, in...)
	}
	tmExpect(t, "Slice 2:7", slice(x, []int64{2}, []int64{7}, nil, nil), []int{5}, []float64{2, 3, 4, 5, 6}, 0)
	tmExpect(t, "Slice -1:-100:-3", slice(x, []int64{-1}, []int64{-100}, nil, []int64{-3}), []int{4}, []float64{9, 6, 3, 0}, 0)
	tmExpect(t, "Slice 20:30", slice(x, []int64{20}, []int64{30}, nil, nil), []int{0}, nil, 0)
	tmExpect(t, "Slice 100:3:-2", slice(x, []int64{100}, []int64{3}, nil, []int64{-2}), []int{3}, []float64{9, 7, 5}, 0)
	tmExpect(t, "Slice 0:big:4", slice(x, []int64{0}, []int64{big}, nil, []int64{4}), []int{3}, []float64{0, 4, 8}, 0)
	tmExpect(t, "Slice -big:-8", slice(x, []int64{math.MinInt64}, []int64{-8}, nil, nil), []int{2}, []float64{0, 1}, 0)

	m := tmArange(4, 5)
	tmExpect(t, "Slice 2-D", slice(m, []int64{1, 4}, []int64{1000, 0}, []int64{0, -1}, []int64{2, -2}),
		[]int{2, 2}, []float64{9, 7, 19, 17}, 0)
	tmExpect(t, "Slice 3-D", slice(tmArange(2, 3, 4), []int64{1, 3}, []int64{3, -5}, []int64{1, 2}, []int64{1, -2}),
		[]int{2, 2, 2}, []float64{7, 5, 11, 9, 19, 17, 23, 21}, 0)
	tmExpect(t, "Slice one axis", slice(m, []int64{3}, []int64{5}, []int64{1}, nil),
		[]int{4, 2}, []float64{3, 4, 8, 9, 13, 14, 18, 19}, 0)

	// i32 indices and an f16 payload.
	h := tmRandom(rand.New(rand.NewSource(2)), ir.Float16, 3, 4)
	i32 := func(v ...int32) *ir.Tensor { return &ir.Tensor{DType: ir.Int32, Shape: []int{len(v)}, Data: v} }
	got := tmRun1(t, "Slice", nil, h, i32(-1), i32(-4), i32(1), i32(-1))
	want := []float64{h.AsFloat64(3), h.AsFloat64(2), h.AsFloat64(1), h.AsFloat64(7), h.AsFloat64(6), h.AsFloat64(5), h.AsFloat64(11), h.AsFloat64(10), h.AsFloat64(9)}
	tmExpect(t, "Slice i32 f16", got, []int{3, 3}, want, 0)

	_, err := tmRun("Slice", nil, 1, x, tmI64(0), tmI64(5), nil, tmI64(0))
	tmWantErr(t, "Slice step 0", err, "n1 (Slice)", "want a non-zero step")
}

func TestGather(t *testing.T) {
	x := tmF32([]int{3, 2}, 1, 2, 3, 4, 5, 6)
	idx := &ir.Tensor{DType: ir.Int64, Shape: []int{2, 2}, Data: []int64{0, -1, 1, 0}}
	tmExpect(t, "Gather axis 0", tmRun1(t, "Gather", nil, x, idx), []int{2, 2, 2}, []float64{1, 2, 5, 6, 3, 4, 1, 2}, 0)
	i32 := &ir.Tensor{DType: ir.Int32, Shape: []int{1}, Data: []int32{-1}}
	tmExpect(t, "Gather axis 1", tmRun1(t, "Gather", ir.Attrs{"axis": ir.IntAttr(1)}, x, i32), []int{3, 1}, []float64{2, 4, 6}, 0)
	scalar := &ir.Tensor{DType: ir.Int64, Data: []int64{-2}}
	tmExpect(t, "Gather scalar index", tmRun1(t, "Gather", nil, x, scalar), []int{2}, []float64{3, 4}, 0)
	_, err := tmRun("Gather", nil, 1, x, tmI64(3))
	tmWantErr(t, "Gather out of range", err, "n1 (Gather)", "indices[0] is 3, want a value in [-3, 3)")
	// The kernel checks too, for callers that skip inference.
	err = gatherKernel(&ir.Node{Attrs: ir.Attrs{}}, []*ir.Tensor{x, tmI64(-4)}, []*ir.Tensor{ir.NewTensor(ir.Float32, 1, 2)})
	tmWantErr(t, "Gather kernel range", err, "indices[0] is -4")
}

func TestPad(t *testing.T) {
	x := tmArange(3, 4)
	for i := range x.Float32s() {
		x.Float32s()[i]++ // 1..12
	}
	pads := tmI64(0, 1, 2, 3)
	for _, c := range []struct {
		mode string
		want []float64
	}{
		{"constant", []float64{0, 1, 2, 3, 4, 0, 0, 0, 0, 5, 6, 7, 8, 0, 0, 0, 0, 9, 10, 11, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"edge", []float64{1, 1, 2, 3, 4, 4, 4, 4, 5, 5, 6, 7, 8, 8, 8, 8, 9, 9, 10, 11, 12, 12, 12, 12, 9, 9, 10, 11, 12, 12, 12, 12, 9, 9, 10, 11, 12, 12, 12, 12}},
		{"reflect", []float64{2, 1, 2, 3, 4, 3, 2, 1, 6, 5, 6, 7, 8, 7, 6, 5, 10, 9, 10, 11, 12, 11, 10, 9, 6, 5, 6, 7, 8, 7, 6, 5, 2, 1, 2, 3, 4, 3, 2, 1}},
		{"wrap", []float64{4, 1, 2, 3, 4, 1, 2, 3, 8, 5, 6, 7, 8, 5, 6, 7, 12, 9, 10, 11, 12, 9, 10, 11, 4, 1, 2, 3, 4, 1, 2, 3, 8, 5, 6, 7, 8, 5, 6, 7}},
	} {
		got := tmRun1(t, "Pad", ir.Attrs{"mode": ir.StringAttr(c.mode)}, x, pads)
		tmExpect(t, "Pad "+c.mode, got, []int{5, 8}, c.want, 0)
	}
	tmExpect(t, "Pad crop", tmRun1(t, "Pad", nil, x, tmI64(0, -1, 0, -1)), []int{3, 2}, []float64{2, 3, 6, 7, 10, 11}, 0)
	tmExpect(t, "Pad axes and value", tmRun1(t, "Pad", nil, tmF32([]int{2, 2}, 1, 2, 3, 4), tmI64(2, 0), tmF32(nil, 9.5), tmI64(-1)),
		[]int{2, 4}, []float64{9.5, 9.5, 1, 2, 9.5, 9.5, 3, 4}, 0)
	v := tmF32([]int{3}, 1, 2, 3)
	tmExpect(t, "Pad reflect twice over", tmRun1(t, "Pad", ir.Attrs{"mode": ir.StringAttr("reflect")}, v, tmI64(5, 0)),
		[]int{8}, []float64{2, 1, 2, 3, 2, 1, 2, 3}, 0)
	tmExpect(t, "Pad wrap twice over", tmRun1(t, "Pad", ir.Attrs{"mode": ir.StringAttr("wrap")}, v, tmI64(0, 5)),
		[]int{8}, []float64{1, 2, 3, 1, 2, 3, 1, 2}, 0)
	tmExpect(t, "Pad reflect size 1", tmRun1(t, "Pad", ir.Attrs{"mode": ir.StringAttr("reflect")}, tmF32([]int{1}, 7), tmI64(2, 2)),
		[]int{5}, []float64{7, 7, 7, 7, 7}, 0)

	// Integer data with a constant: i16 -3 everywhere outside.
	i16 := &ir.Tensor{DType: ir.Int16, Shape: []int{1, 2}, Data: []int16{5, 6}}
	cv := &ir.Tensor{DType: ir.Int16, Data: []int16{-3}}
	tmExpect(t, "Pad i16", tmRun1(t, "Pad", nil, i16, tmI64(1, 0, 0, 1), cv), []int{2, 3}, []float64{-3, -3, -3, 5, 6, -3}, 0)

	_, err := tmRun("Pad", ir.Attrs{"mode": ir.StringAttr("edge")}, 1, ir.NewTensor(ir.Float32, 0, 2), tmI64(1, 0, 0, 0))
	tmWantErr(t, "Pad edge of empty", err, "n1 (Pad)", "cannot edge-pad axis 0")
}

func TestReduceMean(t *testing.T) {
	x := tmArange(2, 3, 2) // x[i][j][k] = 6i + 2j + k
	tmExpect(t, "ReduceMean axis 1", tmRun1(t, "ReduceMean", nil, x, tmI64(1)), []int{2, 1, 2}, []float64{2, 3, 8, 9}, 0)
	tmExpect(t, "ReduceMean axes -1 0", tmRun1(t, "ReduceMean", ir.Attrs{"keepdims": ir.IntAttr(0)}, x, tmI64(-1, 0)),
		[]int{3}, []float64{3.5, 5.5, 7.5}, 0)
	tmExpect(t, "ReduceMean all", tmRun1(t, "ReduceMean", nil, x), []int{1, 1, 1}, []float64{5.5}, 0)
	tmExpect(t, "ReduceMean noop", tmRun1(t, "ReduceMean", ir.Attrs{"noop_with_empty_axes": ir.IntAttr(1)}, x),
		[]int{2, 3, 2}, tmSeq(0, 12), 0)
	tmExpect(t, "ReduceMean empty axes", tmRun1(t, "ReduceMean", ir.Attrs{"keepdims": ir.IntAttr(0)}, x, tmI64()),
		[]int{}, []float64{5.5}, 0)

	// Integer means truncate toward zero.
	i32 := &ir.Tensor{DType: ir.Int32, Shape: []int{3, 2}, Data: []int32{1, 2, 3, 5, -3, 0}}
	tmExpect(t, "ReduceMean i32", tmRun1(t, "ReduceMean", ir.Attrs{"keepdims": ir.IntAttr(0)}, i32, tmI64(1)),
		[]int{3}, []float64{1, 4, -1}, 0)

	// Global average pooling of a larger f16 tensor: the mean of each
	// channel of [2,3,16,16] where channel c of image n holds n*3+c+0.25.
	h := ir.NewTensor(ir.Float16, 2, 3, 16, 16)
	for i := range h.Data.([]uint16) {
		h.Data.([]uint16)[i] = ir.Float32ToHalf(float32(i/256) + 0.25)
	}
	tmExpect(t, "ReduceMean f16", tmRun1(t, "ReduceMean", nil, h, tmI64(2, 3)), []int{2, 3, 1, 1},
		[]float64{0.25, 1.25, 2.25, 3.25, 4.25, 5.25}, 0)

	// The mean of nothing is NaN.
	tmExpect(t, "ReduceMean empty", tmRun1(t, "ReduceMean", nil, ir.NewTensor(ir.Float32, 2, 0), tmI64(1)),
		[]int{2, 1}, []float64{math.NaN(), math.NaN()}, 0)
}

// TestGraphSymbolic runs a chain of these ops with a symbolic batch dim:
// static inference keeps N through every op, the verifier accepts the
// graph, and the executor computes the values for N = 2.
func TestGraphSymbolic(t *testing.T) {
	f32 := func(name string, shape ...ir.Dim) *ir.Value {
		return &ir.Value{Name: name, Type: ir.Type{DType: ir.Float32, Shape: shape}}
	}
	N := ir.SymDim("N")
	x := f32("x", N, ir.D(3), ir.D(2), ir.D(2))
	c := func(name string, v ...int64) *ir.Value { return ir.NewConst(name, tmI64(v...)) }
	vals := map[string]*ir.Value{}
	val := func(name string) *ir.Value {
		if vals[name] == nil {
			vals[name] = &ir.Value{Name: name}
		}
		return vals[name]
	}
	node := func(op string, attrs ir.Attrs, out string, in ...*ir.Value) *ir.Node {
		return &ir.Node{Name: out + "_node", Op: op, Attrs: attrs, Inputs: in, Outputs: []*ir.Value{val(out)}}
	}
	g := &ir.Graph{Name: "chain", Inputs: []*ir.Value{x}, Nodes: []*ir.Node{
		node("Transpose", ir.Attrs{"perm": ir.IntsAttr(0, 2, 3, 1)}, "t", x),
		node("Reshape", nil, "r", val("t"), c("shape", 0, -1)),
		node("Slice", nil, "s", val("r"), c("starts", 0), c("ends", math.MaxInt64), c("axes", 1), c("steps", 2)),
		node("Unsqueeze", nil, "u", val("s"), c("uaxes", 1)),
		node("Concat", ir.Attrs{"axis": ir.IntAttr(1)}, "cat", val("u"), val("u")),
		node("ReduceMean", ir.Attrs{"keepdims": ir.IntAttr(0)}, "m", val("cat"), c("raxes", -1)),
		node("Softmax", nil, "sm", val("m")),
		node("Shape", nil, "sh", val("sm")),
	}}
	g.Outputs = []*ir.Value{val("m"), val("sm"), val("sh")}
	if err := ir.InferShapes(g); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"t": "f32[N,2,2,3]", "r": "f32[N,12]", "s": "f32[N,6]", "u": "f32[N,1,6]",
		"cat": "f32[N,2,6]", "m": "f32[N,2]", "sm": "f32[N,2]", "sh": "i64[2]"} {
		if got := val(name).Type.String(); got != want {
			t.Errorf("%s: inferred %s, want %s", name, got, want)
		}
	}
	if err := ir.Verify(g); err != nil {
		t.Fatalf("verify: %v", err)
	}
	out, err := Run(g, tmArange(2, 3, 2, 2))
	if err != nil {
		t.Fatal(err)
	}
	// x[n,c,h,w] = 12n + 4c + 2h + w; the even positions of the NHWC rows
	// hold 0, 8, 5, 2, 10, 7 (plus 12n), whose mean is 16/3.
	m0, m1 := 16.0/3, 16.0/3+12
	tmExpect(t, "ReduceMean", out[0], []int{2, 2}, []float64{m0, m0, m1, m1}, 1e-6)
	tmExpect(t, "Softmax", out[1], []int{2, 2}, []float64{0.5, 0.5, 0.5, 0.5}, 1e-7)
	tmExpect(t, "Shape", out[2], []int{2}, []float64{2, 2}, 0)
}

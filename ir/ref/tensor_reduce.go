package ref

// ReduceMean (opset 18: axes as an optional input).
//
// Float means accumulate in float64 and round once; integer means sum
// exactly in 64 bits and divide truncating toward zero (what ONNX Runtime
// does). The input's dims are merged into alternating runs of kept and
// reduced dims, so the innermost loop is either a contiguous sum (reducing
// trailing dims, as global average pooling does) or a contiguous vector
// add into the accumulators.

import (
	"fmt"
	"math"
	"sort"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref/fmath"
)

func init() {
	register("ReduceMean", reduceMeanKernel)
}

func reduceMeanKernel(n *ir.Node, in, out []*ir.Tensor) error {
	x, y := in[0], out[0]
	var axes []int64
	if len(in) > 1 && in[1] != nil {
		axes = intsOf(in[1])
	}
	red, err := ir.ResolveReduceAxes(len(x.Shape), axes, n.Attrs.Int("noop_with_empty_axes", 0) != 0)
	if err != nil {
		return err
	}
	if red == nil {
		return copyKernel(n, in, out)
	}
	count := 1
	var dims []int
	var reduced []bool
	for i, d := range x.Shape {
		if red[i] {
			count *= d
		}
		if k := len(dims) - 1; k >= 0 && reduced[k] == red[i] {
			dims[k] *= d
			continue
		}
		dims = append(dims, d)
		reduced = append(reduced, red[i])
	}
	if y.Len() == 0 {
		return nil
	}
	if len(dims) == 0 { // a scalar input: nothing to merge
		dims, reduced = []int{1}, []bool{true}
	}
	switch x.DType {
	case ir.Float32, ir.Float64, ir.Float16, ir.BFloat16:
		acc := make([]float64, y.Len())
		switch s := x.Data.(type) {
		case []float32:
			reduceSum(s, acc, dims, reduced)
		case []float64:
			reduceSum(s, acc, dims, reduced)
		default:
			reduceSum(toFloat32(x), acc, dims, reduced)
		}
		means := make([]float64, len(acc))
		for i, v := range acc {
			means[i] = v / float64(count) // 0/0 is NaN: the mean of nothing
		}
		if count == 0 {
			for i := range means {
				means[i] = math.NaN()
			}
		}
		encodeFloats(y, 0, means)
		return nil
	}
	if count == 0 {
		return fmt.Errorf("integer mean over an empty set of elements (input %v)", x.Shape)
	}
	switch s := x.Data.(type) {
	case []int32:
		return intMean(s, y.Int32s(), dims, reduced, int64(count))
	case []int64:
		return intMean(s, y.Int64s(), dims, reduced, int64(count))
	case []uint32:
		return uintMean(s, y.Data.([]uint32), dims, reduced, uint64(count))
	case []uint64:
		return uintMean(s, y.Data.([]uint64), dims, reduced, uint64(count))
	}
	return fmt.Errorf("no kernel for %v elements", x.DType)
}

func intMean[T int32 | int64](src, dst []T, dims []int, reduced []bool, count int64) error {
	acc := make([]int64, len(dst))
	reduceSum(src, acc, dims, reduced)
	for i, v := range acc {
		dst[i] = T(v / count)
	}
	return nil
}

func uintMean[T uint32 | uint64](src, dst []T, dims []int, reduced []bool, count uint64) error {
	acc := make([]uint64, len(dst))
	reduceSum(src, acc, dims, reduced)
	for i, v := range acc {
		dst[i] = T(v / count)
	}
	return nil
}

// reduceSum adds every element of src (of the merged dims) into the
// accumulator of its output position; dims flagged reduced are summed over.
func reduceSum[T number, A float64 | int64 | uint64](src []T, acc []A, dims []int, reduced []bool) {
	k := len(dims)
	// Output strides: kept dims are laid out contiguously, reduced ones are 0.
	ostr := make([]int, k)
	s := 1
	for i := k - 1; i >= 0; i-- {
		if !reduced[i] {
			ostr[i] = s
			s *= dims[i]
		}
	}
	inner := dims[k-1]
	idx := make([]int, k-1)
	off := 0
	for r := 0; r*inner < len(src); r++ {
		row := src[r*inner : (r+1)*inner]
		if reduced[k-1] {
			var sum A
			for _, v := range row {
				sum += A(v)
			}
			acc[off] += sum
		} else {
			a := acc[off : off+inner]
			for j, v := range row {
				a[j] += A(v)
			}
		}
		for d := k - 2; d >= 0; d-- {
			idx[d]++
			off += ostr[d]
			if idx[d] < dims[d] {
				break
			}
			off -= ostr[d] * dims[d]
			idx[d] = 0
		}
	}
}

// reducer is one of the Reduce ops other than ReduceMean: the value of an
// empty reduction, the step that folds an element in, and what becomes of
// the result. Integer inputs fold in int64 (exact) for the ops whose result
// is an integer expression of the elements, and in float64 otherwise.
type reducer struct {
	init   float64
	step   func(acc, v float64) float64
	finish func(acc float64) float64 // nil: the result is acc
	// stepInt folds integers exactly; nil for the ops computed in float64.
	stepInt func(acc, v int64) int64
}

var reducers = map[string]reducer{
	"ReduceSum":  {init: 0, step: func(a, v float64) float64 { return a + v }, stepInt: func(a, v int64) int64 { return a + v }},
	"ReduceProd": {init: 1, step: func(a, v float64) float64 { return a * v }, stepInt: func(a, v int64) int64 { return a * v }},
	"ReduceMax":  {init: math.Inf(-1), step: func(a, v float64) float64 { return max(a, v) }, stepInt: func(a, v int64) int64 { return max(a, v) }},
	"ReduceMin":  {init: math.Inf(1), step: func(a, v float64) float64 { return min(a, v) }, stepInt: func(a, v int64) int64 { return min(a, v) }},
	"ReduceL1": {init: 0, step: func(a, v float64) float64 { return a + math.Abs(v) },
		stepInt: func(a, v int64) int64 { return a + max(v, -v) }},
	"ReduceSumSquare": {init: 0, step: func(a, v float64) float64 { return a + float64(v*v) }, stepInt: func(a, v int64) int64 { return a + v*v }},
	"ReduceL2":        {init: 0, step: func(a, v float64) float64 { return a + float64(v*v) }, finish: math.Sqrt},
	"ReduceLogSum":    {init: 0, step: func(a, v float64) float64 { return a + v }, finish: fmath.Log},
	"ReduceLogSumExp": {init: 0, step: func(a, v float64) float64 { return a + fmath.Exp(v) }, finish: fmath.Log},
}

func init() {
	for name, r := range reducers {
		register(name, reduceKernel(r))
	}
}

func reduceKernel(r reducer) Kernel {
	return func(n *ir.Node, in, out []*ir.Tensor) error {
		x, y := in[0], out[0]
		var axes []int64
		if len(in) > 1 && in[1] != nil {
			axes = intsOf(in[1])
		}
		red, err := ir.ResolveReduceAxes(len(x.Shape), axes, n.Attrs.Int("noop_with_empty_axes", 0) != 0)
		if err != nil {
			return err
		}
		if red == nil {
			// No axes and noop_with_empty_axes: the input passes through
			// (ONNX's reference does not apply the op to the elements).
			return copyKernel(n, in, out)
		}
		if x.DType.IsInteger() && r.stepInt != nil {
			vals := make([]int64, x.Len())
			decodeInts(x, 0, vals)
			init := int64(0)
			switch n.Op {
			case "ReduceProd":
				init = 1
			case "ReduceMax":
				init = math.MinInt64
			case "ReduceMin":
				init = math.MaxInt64
			}
			acc := make([]int64, y.Len())
			for i := range acc {
				acc[i] = init
			}
			reduceFold(vals, acc, x.Shape, red, r.stepInt)
			encodeInts(y, 0, acc, false)
			return nil
		}
		vals := float64s(x)
		acc := make([]float64, y.Len())
		for i := range acc {
			acc[i] = r.init
		}
		reduceFold(vals, acc, x.Shape, red, r.step)
		if r.finish != nil {
			for i, v := range acc {
				acc[i] = r.finish(v)
			}
		}
		encodeFloats(y, 0, acc)
		return nil
	}
}

// reduceFold folds every element of src (of the given shape) into the
// accumulator of its output position; dims flagged red are folded over.
func reduceFold[A float64 | int64](src, acc []A, shape []int, red []bool, step func(a, v A) A) {
	k := len(shape)
	ostr := make([]int, k)
	s := 1
	for i := k - 1; i >= 0; i-- {
		if !red[i] {
			ostr[i] = s
			s *= shape[i]
		}
	}
	idx := make([]int, k)
	off := 0
	for _, v := range src {
		acc[off] = step(acc[off], v)
		for d := k - 1; d >= 0; d-- {
			idx[d]++
			off += ostr[d]
			if idx[d] < shape[d] {
				break
			}
			off -= ostr[d] * shape[d]
			idx[d] = 0
		}
	}
}

func init() {
	register("ArgMax", argKernel(func(v, best float64) bool { return v > best }))
	register("ArgMin", argKernel(func(v, best float64) bool { return v < best }))
	register("TopK", topKKernel)
}

// topKKernel sorts each slice along axis by value (descending for
// largest, ascending otherwise), equal values in index order, and keeps the
// first K; values compare as float64 (exact up to 2^53 for integers).
func topKKernel(n *ir.Node, in, out []*ir.Tensor) error {
	x := in[0]
	axis, err := ir.NormAxis(n.Attrs.Int("axis", -1), len(x.Shape))
	if err != nil {
		return err
	}
	largest := n.Attrs.Int("largest", 1) != 0
	size, k := x.Shape[axis], out[0].Shape[axis]
	inner := ir.NumElements(x.Shape[axis+1:])
	outer := ir.NumElements(x.Shape[:axis])
	vals := float64s(x)
	idx := make([]int, size)
	src := make([]int, out[0].Len())
	dstIdx := out[1].Int64s()
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			base := o*size*inner + i
			for j := range idx {
				idx[j] = j
			}
			sort.SliceStable(idx, func(a, b int) bool {
				va, vb := vals[base+idx[a]*inner], vals[base+idx[b]*inner]
				if largest {
					return va > vb
				}
				return va < vb
			})
			for j := 0; j < k; j++ {
				at := o*k*inner + j*inner + i
				src[at] = base + idx[j]*inner
				dstIdx[at] = int64(idx[j])
			}
		}
	}
	gatherElements(out[0], x, func(o int) int { return src[o] })
	return nil
}

// argKernel finds, along axis, the index of the element better than every
// other: the first such one, or the last when select_last_index.
func argKernel(better func(v, best float64) bool) Kernel {
	return func(n *ir.Node, in, out []*ir.Tensor) error {
		x, y := in[0], out[0]
		axis, err := ir.NormAxis(n.Attrs.Int("axis", 0), len(x.Shape))
		if err != nil {
			return err
		}
		last := n.Attrs.Int("select_last_index", 0) != 0
		size := x.Shape[axis]
		if size == 0 {
			return fmt.Errorf("arg of an empty axis %d (input %v)", axis, x.Shape)
		}
		inner := ir.NumElements(x.Shape[axis+1:])
		outer := ir.NumElements(x.Shape[:axis])
		vals := float64s(x)
		dst := y.Int64s()
		for o := 0; o < outer; o++ {
			for i := 0; i < inner; i++ {
				base := o*size*inner + i
				best, at := vals[base], 0
				for k := 1; k < size; k++ {
					v := vals[base+k*inner]
					if better(v, best) || (last && v == best) {
						best, at = v, k
					}
				}
				dst[o*inner+i] = int64(at)
			}
		}
		return nil
	}
}

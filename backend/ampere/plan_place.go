package ampere

import (
	"fmt"

	"github.com/sqc-project/sqc/ir"
)

// Where the batch sits in a value. An engine's buffers hold batch samples
// one after another (the batch outermost), which is what a value whose
// first dim is the batch means. A transformer's attention moves the batch:
// torch's multi-head attention transposes [N, L, C] to [L, N, C], views it
// as [L, N·heads, C/heads], and later flattens [L, N, C] rows to [L·N, C].
// Such a value keeps its samples apart in memory all the same (a transpose
// that moves only the batch, or a reshape that splits or merges dims around
// it, moves no element of a sample relative to the others); only the
// logical index of an element changes. batchPlace describes that index, so
// that these values live in ordinary per-sample buffers: the copy-table
// probe (gatherChain) and the host steps convert between the logical order
// and the buffer's, and views stay views.

// batchPlace says where the batch is in a value's logical shape: dim Axis
// is Outer·N·Inner long, and its index (o·N + n)·Inner + i is element
// o·Inner + i of that dim in sample n. In the buffer a sample is the value
// with dim Axis Outer·Inner long (left out when that is 1): its
// SampleShape. The zero value is not valid; firstDim is the usual place.
type batchPlace struct {
	Axis, Outer, Inner int
}

// firstDim is the batch as dim 0, the place of every value whose type
// starts with the batch.
var firstDim = batchPlace{Axis: 0, Outer: 1, Inner: 1}

// String writes a place for messages: "dim 1 (N·12)".
func (b batchPlace) String() string {
	return fmt.Sprintf("dim %d (%d·N·%d)", b.Axis, b.Outer, b.Inner)
}

// sampleShape is the per-sample shape of a value of logical dims (the
// batch's own dim given as anything) with the batch at b.
func (b batchPlace) sampleShape(dims []int64) []int64 {
	var out []int64
	for i, d := range dims {
		if i != b.Axis {
			out = append(out, d)
		} else if k := int64(b.Outer * b.Inner); k != 1 {
			out = append(out, k)
		}
	}
	return out
}

// logicalShape is the shape at batch n of a value with per-sample shape
// sample and the batch at b.
func (b batchPlace) logicalShape(sample []int64, n int) []int {
	out := intsOf(sample)
	if k := b.Outer * b.Inner; k != 1 {
		out[b.Axis] *= n
		return out
	}
	return append(out[:b.Axis], append([]int{n}, out[b.Axis:]...)...)
}

// storageIndex maps each element of the logical tensor at batch n (row
// major) to its offset in the buffer: sample·per + offset in the sample.
func (b batchPlace) storageIndex(sample []int64, n int) []int64 {
	shape := b.logicalShape(sample, n)
	total := 1
	for _, d := range shape {
		total *= d
	}
	if total == 0 {
		return nil
	}
	per := int64(1)
	for _, d := range sample {
		per *= d
	}
	// Strides of the sample's dims, as logical dims see them: dim Axis
	// strides by its sample dim's stride (or 0 when the sample has none).
	stride := make([]int64, len(shape))
	s := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		if i == b.Axis {
			if b.Outer*b.Inner != 1 {
				stride[i] = s
				s *= int64(b.Outer * b.Inner)
			}
			continue
		}
		stride[i] = s
		s *= int64(shape[i])
	}
	// Row-major over the logical dims, one dim at a time: every offset
	// so far followed by each index's contribution in this dim.
	out := make([]int64, 1, total)
	next := make([]int64, 0, total)
	for i, d := range shape {
		contrib := make([]int64, d)
		for x := range contrib {
			if i == b.Axis {
				o, rest := x/(n*b.Inner), x%(n*b.Inner)
				smp, in := rest/b.Inner, rest%b.Inner
				contrib[x] = int64(smp)*per + int64(o*b.Inner+in)*stride[i]
			} else {
				contrib[x] = int64(x) * stride[i]
			}
		}
		next = next[:0]
		for _, base := range out {
			for _, c := range contrib {
				next = append(next, base+c)
			}
		}
		out, next = next, out
	}
	return out
}

// toLogical reorders a buffer's contents (n samples) into the logical
// tensor.
func (b batchPlace) toLogical(t *ir.Tensor, sample []int64, n int) *ir.Tensor {
	if b == firstDim {
		return &ir.Tensor{DType: t.DType, Shape: b.logicalShape(sample, n), Data: t.Data}
	}
	idx := b.storageIndex(sample, n)
	out := ir.NewTensor(t.DType, b.logicalShape(sample, n)...)
	switch d := out.Data.(type) {
	case []float32:
		src := t.Float32s()
		for li, si := range idx {
			d[li] = src[si]
		}
	case []int8:
		src := t.Int8s()
		for li, si := range idx {
			d[li] = src[si]
		}
	case []int64:
		src := t.Int64s()
		for li, si := range idx {
			d[li] = src[si]
		}
	}
	return out
}

// toStorage reorders a logical tensor (n samples) into the buffer's order,
// shaped [n, sample...].
func (b batchPlace) toStorage(t *ir.Tensor, sample []int64, n int) *ir.Tensor {
	shape := append([]int{n}, intsOf(sample)...)
	if b == firstDim {
		return &ir.Tensor{DType: t.DType, Shape: shape, Data: t.Data}
	}
	idx := b.storageIndex(sample, n)
	out := ir.NewTensor(t.DType, shape...)
	switch d := out.Data.(type) {
	case []float32:
		src := t.Float32s()
		for li, si := range idx {
			d[si] = src[li]
		}
	case []int8:
		src := t.Int8s()
		for li, si := range idx {
			d[si] = src[li]
		}
	case []int64:
		src := t.Int64s()
		for li, si := range idx {
			d[si] = src[li]
		}
	}
	return out
}

// placeOf is where the batch is in v (firstDim unless the planner placed
// it elsewhere).
func (p *planner) placeOf(v *ir.Value) batchPlace {
	if b, ok := p.places[v]; ok {
		return b
	}
	return firstDim
}

// movedBatch reports whether n reads a value whose batch is not its first
// dim: the op planners take dim 0 as the batch, so such a node is planned
// as a view, by an element-order-free planner, through a per-sample view
// (plan_moved.go) or on the copy table and the host. (An op planner given
// the node itself fails on its type: newBuffer takes dims after the first
// as known.)
func (p *planner) movedBatch(n *ir.Node) bool {
	for _, v := range n.Inputs {
		if v != nil && !v.IsConst() && !p.shapes.is(v) && p.placeOf(v) != firstDim {
			return true
		}
	}
	return false
}

// movedView plans an Identity, or an inference Dropout whose mask nobody
// reads, of a value with a moved batch as a view that keeps the place. It
// returns false for any other node.
func (p *planner) movedView(n *ir.Node) (bool, error) {
	if n.Op != "Identity" && n.Op != "Dropout" || len(n.Inputs) == 0 || n.Outputs[0] == nil {
		return false, nil
	}
	for _, v := range n.Outputs[1:] {
		if v != nil && (len(p.users[v]) > 0 || p.g.IsOutput(v)) {
			return false, nil
		}
	}
	for _, v := range n.Inputs[1:] {
		if v != nil && !v.IsConst() {
			// Dropout's ratio and training mode must be constants.
			return false, nil
		}
	}
	x, err := p.input(n, 0)
	if err != nil {
		return true, err
	}
	y := n.Outputs[0]
	if pl := p.placeOf(n.Inputs[0]); pl != firstDim {
		p.places[y] = pl
	}
	p.sampleShapes[y] = x.SampleShape
	return true, p.alias(y, x, x.Layout)
}

// elementOrderFree lists the ops whose planners map each element of a flat
// buffer on its own, so that they run on a moved batch as on any other:
// per-tensor (de)quantization and the unary elementwise kernels.
var elementOrderFree = map[string]bool{
	"QuantizeLinear": true, "DequantizeLinear": true,
	"Relu": true, "LeakyRelu": true, "Clip": true, "Sigmoid": true, "Tanh": true,
}

// keepPlace gives n's one output its one computed input's place and
// per-sample shape, when the input is held flat (an element-wise kernel
// then writes the output in the input's order). It reports whether it did.
func (p *planner) keepPlace(n *ir.Node) bool {
	var in *ir.Value
	for _, v := range n.Inputs {
		if v == nil || v.IsConst() {
			continue
		}
		if in != nil {
			return false
		}
		in = v
	}
	b := p.bufs[in]
	if in == nil || b == nil || b.Layout != LayoutFlat || len(n.Outputs) != 1 || n.Outputs[0] == nil {
		return false
	}
	y := n.Outputs[0]
	p.places[y] = p.placeOf(in)
	p.sampleShapes[y] = b.SampleShape
	return true
}

// batchFirstType reports whether v's type gives every dim but the first.
func batchFirstType(v *ir.Value) bool {
	sh := v.Type.Shape
	return len(sh) > 0 && sh[1:].Static()
}

// batchAxisCandidates lists the places an output of logical shape dims at
// probe batch n may have, by its type: the one dim the type leaves
// unknown (or the batch's symbol) is the batch's, dims·1/n long; its
// Outer·Inner split is tried inner-first (a view [L, N, C] → [L, N·h, C/h]
// puts the batch outermost in its dim), then outer-first ([L, N] rows
// flattened to L·N), then the rest.
func batchAxisCandidates(v *ir.Value, dims []int, n int) ([]batchPlace, error) {
	axis := -1
	for i, d := range v.Type.Shape {
		if !d.Known() {
			if axis >= 0 {
				return nil, fmt.Errorf("value %s has shape %v: more than one dim depends on the batch", v.Name, v.Type.Shape)
			}
			axis = i
		}
	}
	if axis < 0 {
		return []batchPlace{firstDim}, nil
	}
	if axis >= len(dims) || dims[axis]%n != 0 {
		return nil, fmt.Errorf("value %s: dim %d is %d at batch %d, not a multiple of the batch", v.Name, axis, dims[axis], n)
	}
	k := dims[axis] / n
	out := []batchPlace{{axis, 1, k}}
	if k != 1 {
		out = append(out, batchPlace{axis, k, 1})
	}
	for o := 2; o < k; o++ {
		if k%o == 0 {
			out = append(out, batchPlace{axis, o, k / o})
		}
	}
	return out, nil
}

package ampere

import (
	"fmt"
	"maps"
	"slices"

	"github.com/sqc-project/sqc/ir"
)

// Ops on a moved batch (plan_place.go) through a per-sample view. A value
// whose batch is at place b lives in a buffer whose samples each hold a
// row-major tensor of b's sample shape; an op that computes each sample's
// output from that sample's elements alone runs correctly on those
// tensors. sampleView rewrites such a node into one whose values have the
// batch first and the sample shape after it (the batch's dim left out, or
// kept Outer·Inner long), the form every op planner takes, and plans that
// with the op's own planner: the kernels and their arguments are those of
// any batch-first node. Which nodes read their samples apart is op by op:
// movedOps says it, and a node it refuses stays on the host with the
// reason.

// movedOps lists the ops planned on a moved batch through a per-sample
// view, each with the check that the op reads no element of one sample
// into another's output.
var movedOps = map[string]func(n *ir.Node, b batchPlace) error{
	"Add": movedBroadcast, "Sub": movedBroadcast, "Mul": movedBroadcast, "Div": movedBroadcast,
	"Softmax": movedSoftmax, "LogSoftmax": movedSoftmax,
	"MatMul": movedMatMul,
	"Gemm":   movedGemm,
	"QGemm":  movedGemm,
}

func init() {
	for op := range eltMathOps {
		if _, ok := movedOps[op]; !ok {
			movedOps[op] = movedBroadcast
		}
	}
}

// movedBroadcast accepts an elementwise op whose operands have the
// output's rank: a constant broadcast along the batch's dim (always so:
// no constant's dim can grow with the batch) is the same constant for
// every sample.
func movedBroadcast(n *ir.Node, b batchPlace) error {
	rank := len(n.Outputs[0].Type.Shape)
	for _, v := range n.Inputs {
		if v != nil && !v.IsConst() && len(v.Type.Shape) != rank {
			return fmt.Errorf("input %s has rank %d, the output %d: a moved batch broadcasts only constants to a higher rank", v.Name, len(v.Type.Shape), rank)
		}
	}
	return nil
}

// movedSoftmax accepts a Softmax over any axis but the batch's: its rows
// then lie within one sample.
func movedSoftmax(n *ir.Node, b batchPlace) error {
	axis, err := ir.NormAxis(n.Attrs.Int("axis", -1), len(n.Inputs[0].Type.Shape))
	if err != nil {
		return err
	}
	if axis == b.Axis {
		return fmt.Errorf("axis %d holds the batch (%s): a softmax over it would mix samples", axis, b)
	}
	return nil
}

// movedMatMul accepts a MatMul whose left operand's rows or stack hold the
// batch, never its K dim: by a constant 2-D matrix every row is a row of
// one sample; with a computed or stacked right operand the batch must be
// in the stack, where both operands (with the same place) pair sample by
// sample.
func movedMatMul(n *ir.Node, b batchPlace) error {
	a, w := n.Inputs[0], n.Inputs[1]
	rank := len(a.Type.Shape)
	if a.IsConst() || rank < 2 || len(n.Outputs[0].Type.Shape) != rank {
		return fmt.Errorf("the moved batch's MatMul takes a computed left operand of the output's rank 2 or more")
	}
	if b.Axis == rank-1 {
		return fmt.Errorf("the batch is in the left operand's K dim (%s): the products would mix samples", b)
	}
	if w.IsConst() && len(w.Const.Shape) == 2 {
		return nil
	}
	if b.Axis == rank-2 {
		return fmt.Errorf("the batch is in the left operand's rows (%s) and the right operand %s is not one constant matrix: its stack would not pair with the samples", b, w.Name)
	}
	if !w.IsConst() && len(w.Type.Shape) != rank {
		return fmt.Errorf("input %s has rank %d, the output %d", w.Name, len(w.Type.Shape), rank)
	}
	return nil
}

// movedGemm accepts a Gemm or QGemm whose rows (A not transposed) hold the
// batch: each row is one sample's, the weights and bias constants (a
// QGemm's residual, computed, is refused). A QGemm's rows are all of A's
// dims but K (a batch of rows [L, N, C]).
func movedGemm(n *ir.Node, b batchPlace) error {
	rowDims := 1
	if n.Op == "QGemm" {
		rowDims = len(n.Inputs[0].Type.Shape) - 1
	}
	if n.Attrs.Int("transA", 0) != 0 || b.Axis >= rowDims {
		return fmt.Errorf("the batch (%s) is not in A's rows: a Gemm on it would mix samples", b)
	}
	for _, v := range n.Inputs[1:] {
		if v != nil && !v.IsConst() {
			return fmt.Errorf("input %s is computed: the moved batch's Gemm takes constant B and C", v.Name)
		}
	}
	return nil
}

// sampleView plans n, which reads values with a moved batch, through its
// op's planner on a per-sample view (see above); n's output keeps the
// input's place. It returns an error, and plans nothing, when the op is
// not one movedOps accepts.
func (p *planner) sampleView(n *ir.Node) error {
	check, ok := movedOps[n.Op]
	plan, has := opPlanners[n.Op]
	if !ok || !has {
		return fmt.Errorf("no GPU kernel of op %s takes a moved batch", n.Op)
	}
	if len(n.Outputs) != 1 || n.Outputs[0] == nil {
		return fmt.Errorf("the moved batch's %s takes one output", n.Op)
	}
	// Every computed operand must have the batch at one place.
	var place batchPlace
	for _, v := range n.Inputs {
		if v == nil || v.IsConst() {
			continue
		}
		if p.shapes.is(v) {
			return fmt.Errorf("input %s is a shape computed from the batch", v.Name)
		}
		pl := p.placeOf(v)
		if place != (batchPlace{}) && pl != place {
			return fmt.Errorf("inputs hold the batch at %s and %s: their samples do not pair", place, pl)
		}
		place = pl
	}
	if err := check(n, place); err != nil {
		return err
	}
	out := n.Outputs[0]
	rank := len(out.Type.Shape)
	if place.Axis >= rank {
		return fmt.Errorf("output %s has rank %d, the batch is at %s", out.Name, rank, place)
	}
	for i, d := range out.Type.Shape {
		if i != place.Axis && !d.Known() {
			return fmt.Errorf("output %s has shape %v: only the batch's dim may be unknown", out.Name, out.Type.Shape)
		}
	}
	k := place.Outer * place.Inner
	view := &ir.Node{Name: n.Name, Op: n.Op, Attrs: n.Attrs, Inputs: make([]*ir.Value, len(n.Inputs))}
	for i, v := range n.Inputs {
		switch {
		case v == nil:
		case !v.IsConst():
			b, err := p.input(n, i)
			if err != nil {
				return err
			}
			if b.Layout == LayoutNHWC {
				return fmt.Errorf("input %s is held NHWC, a moved batch's values are row-major", v.Name)
			}
			if want := place.sampleShape(knownDims(v.Type.Shape)); !slices.Equal(b.SampleShape, want) {
				return fmt.Errorf("input %s holds %v a sample, want %v for its shape %v with the batch at %s", v.Name, b.SampleShape, want, v.Type.Shape, place)
			}
			view.Inputs[i] = &ir.Value{Name: v.Name, Type: batchFirst(v.Type.DType, b.SampleShape), Quant: v.Quant}
			p.bufs[view.Inputs[i]] = b
		case n.Op == "MatMul" && i == 1 && len(v.Const.Shape) == 2, n.Op == "Gemm", n.Op == "QGemm":
			// A matrix that every row (or stack) multiplies, and a
			// Gemm's weights, bias and multipliers: no dim of theirs
			// lines up with the batch's.
			view.Inputs[i] = v
		default:
			c, err := constView(v, rank, place)
			if err != nil {
				return err
			}
			view.Inputs[i] = c
		}
	}
	if n.Op == "Softmax" || n.Op == "LogSoftmax" {
		// The view puts the batch first, one dim more, and leaves the
		// batch's dim out when it is the batch alone (k = 1): dims after
		// it then keep their index.
		axis, _ := ir.NormAxis(n.Attrs.Int("axis", -1), rank)
		if axis < place.Axis || k != 1 {
			axis++
		}
		view.Attrs = maps.Clone(n.Attrs)
		if view.Attrs == nil {
			view.Attrs = ir.Attrs{}
		}
		view.Attrs["axis"] = ir.IntAttr(int64(axis))
	}
	sample := place.sampleShape(knownDims(out.Type.Shape))
	y := &ir.Value{Name: out.Name, Type: batchFirst(out.Type.DType, sample), Quant: out.Quant}
	view.Outputs = []*ir.Value{y}
	defer func() {
		for _, v := range append(view.Inputs, y) {
			if v != nil && !v.IsConst() {
				delete(p.bufs, v)
			}
		}
	}()
	if err := plan(p, view); err != nil {
		return err
	}
	yb := p.bufs[y]
	if yb == nil {
		return fmt.Errorf("the %s planner gave output %s no buffer", n.Op, out.Name)
	}
	if yb.Layout == LayoutNHWC {
		return fmt.Errorf("the %s planner wrote output %s in NHWC order, a moved batch's values are row-major", n.Op, out.Name)
	}
	// A rank-4 view is NCHW, the row-major order of a flat value.
	yb.Layout = LayoutFlat
	p.bufs[out] = yb
	p.places[out] = place
	p.sampleShapes[out] = sample
	return nil
}

// batchFirst is the type of a per-sample view: the batch, then the sample.
func batchFirst(dt ir.DType, sample []int64) ir.Type {
	sh := ir.Shape{ir.SymDim("N")}
	for _, d := range sample {
		sh = append(sh, ir.D(d))
	}
	return ir.Type{DType: dt, Shape: sh}
}

// knownDims lists a shape's sizes (-1 for a dim not known).
func knownDims(sh ir.Shape) []int64 {
	out := make([]int64, len(sh))
	for i, d := range sh {
		out[i] = d.Size
	}
	return out
}

// constView reshapes a constant operand of a broadcasting op to the
// per-sample view: its dims aligned with the output's rank from the right,
// the batch's dim (which it broadcasts along) left out or, where the view
// keeps it Outer·Inner long, 1; a leading 1 for the batch.
func constView(v *ir.Value, rank int, place batchPlace) (*ir.Value, error) {
	t := v.Const
	if len(t.Shape) > rank {
		return nil, fmt.Errorf("constant %s has more dims than the output", v.Name)
	}
	if len(t.Shape) <= rank-1-place.Axis {
		// It does not reach the batch's dim: the view's dims right of it
		// are the logical ones.
		return v, nil
	}
	full := make([]int64, rank)
	for i := range full {
		full[i] = 1
	}
	for i, d := range t.Shape {
		full[rank-len(t.Shape)+i] = int64(d)
	}
	if full[place.Axis] != 1 {
		return nil, fmt.Errorf("constant %s has shape %v: its dim %d, the batch's, is not 1", v.Name, t.Shape, place.Axis)
	}
	dims := []int64{1}
	for i, d := range full {
		if i != place.Axis || place.Outer*place.Inner != 1 {
			dims = append(dims, d)
		}
	}
	c := &ir.Tensor{DType: t.DType, Shape: intsOf(dims), Data: t.Data}
	return &ir.Value{Name: v.Name, Type: ir.Type{DType: t.DType, Shape: ir.ShapeOf(intsOf(dims)...)}, Const: c}, nil
}

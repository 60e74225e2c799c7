package ampere

import (
	"fmt"

	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
)

// Ops whose operands come in different orders: a transformer's residual
// Add of a row-major value and an NHWC one (Swin adds a LayerNorm's output,
// held in logical order, to the gather kernel's NHWC output), or a
// Softmax over the last axis of a value held as an NHWC image. The NHWC
// operand is copied to row-major order once (asRowMajor, shared by its
// readers) and the op runs there; the output is in logical order.

// eltMixedLayouts plans a binary Add, Sub, Mul or Div of two computed f32
// operands of the same shape held in different orders on the elementwise
// kernel, after copying the NHWC one to row-major order: exact, as the op
// is.
func (p *planner) eltMixedLayouts(n *ir.Node) error {
	op, ok := eltBinaryOps[n.Op]
	if !ok || len(n.Inputs) != 2 || n.Inputs[0] == nil || n.Inputs[1] == nil || n.Inputs[0].IsConst() || n.Inputs[1].IsConst() {
		return fmt.Errorf("node %s (op %s): want a binary Add, Sub, Mul or Div of two computed operands", n.Name, n.Op)
	}
	a, err := p.input(n, 0)
	if err != nil {
		return err
	}
	b, err := p.input(n, 1)
	if err != nil {
		return err
	}
	out := n.Outputs[0].Type.Shape
	for _, v := range n.Inputs {
		if !v.Type.Shape.Equal(out) {
			return fmt.Errorf("input %s has shape %v, the output %v: mixed orders are taken without broadcasting", v.Name, v.Type.Shape, out)
		}
	}
	if a.Dtype != "f32" || b.Dtype != "f32" || a.Layout == b.Layout || a.ElemsPerSample != b.ElemsPerSample {
		return fmt.Errorf("inputs %s (%s %s) and %s (%s %s): want f32 operands of one size held in different orders", a.Name, a.Dtype, a.Layout, b.Name, b.Dtype, b.Layout)
	}
	if a, err = p.asRowMajor(n, a); err != nil {
		return err
	}
	if b, err = p.asRowMajor(n, b); err != nil {
		return err
	}
	if a.Layout == LayoutNHWC || b.Layout == LayoutNHWC {
		return fmt.Errorf("inputs %s and %s: an NHWC operand was left in NHWC order", a.Name, b.Name)
	}
	y, err := p.newBuffer(n.Outputs[0], LayoutNCHW)
	if err != nil {
		return err
	}
	p.eltLaunch(n, kernels.EltwiseKernel, a, bufArg(b), y, op, kernels.EltSameB, 1, 1, 0, 0, 0, 0)
	return nil
}

// softmaxRowMajor plans a Softmax or LogSoftmax over the last axis of a
// value held as an NHWC image (not innermost in memory there) on the
// softmax kernel, after copying it to row-major order.
func (p *planner) softmaxRowMajor(n *ir.Node) error {
	x, err := p.input(n, 0)
	if err != nil {
		return err
	}
	if x.Layout != LayoutNHWC {
		return fmt.Errorf("input %s is in %s order: no copy would help the softmax kernel", x.Name, x.Layout)
	}
	r, err := p.asRowMajor(n, x)
	if err != nil {
		return err
	}
	in := n.Inputs[0]
	p.bufs[in] = r
	defer func() { p.bufs[in] = x }()
	return p.softmax(n)
}

package ampere

import (
	"errors"
	"fmt"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
)

// errNoGeluChain is geluChain's answer for a Div that does not start
// torch's GELU export; the Div is then planned on its own.
var errNoGeluChain = errors.New("not the start of torch's GELU export (Div, Erf, Add 1, Mul by the input, Mul)")

// geluChain plans torch's GELU export, Div(x, c1) → Erf → Add(·, 1) →
// Mul(x, ·) → Mul(·, c3), as one launch of the unary kernel's
// kernels.UGeluChain, which rounds to f32 after each of the five ops as
// they do, so the result is their bits; four launches and their float
// tensors' round trips to memory are saved. Every intermediate must have
// that one reader and be no graph output; the constants are f32 scalars,
// the added one exactly 1 (the operands of the commutative Add and Muls
// may come in either order).
func (p *planner) geluChain(n *ir.Node) error {
	if len(n.Inputs) != 2 || n.Inputs[0] == nil || n.Inputs[0].IsConst() {
		return errNoGeluChain
	}
	x := n.Inputs[0]
	c1, ok := f32Scalar(n.Inputs[1])
	if !ok {
		return errNoGeluChain
	}
	next := func(v *ir.Value, op string) *ir.Node {
		users := p.users[v]
		if len(users) != 1 || p.g.IsOutput(v) || users[0].Op != op || v.Type.DType != ir.Float32 {
			return nil
		}
		return users[0]
	}
	// other returns the input of a two-input node that is not v, or nil.
	other := func(m *ir.Node, v *ir.Value) *ir.Value {
		switch {
		case len(m.Inputs) != 2:
			return nil
		case m.Inputs[0] == v && m.Inputs[1] != v:
			return m.Inputs[1]
		case m.Inputs[1] == v && m.Inputs[0] != v:
			return m.Inputs[0]
		}
		return nil
	}
	erf := next(n.Outputs[0], "Erf")
	if erf == nil {
		return errNoGeluChain
	}
	add := next(erf.Outputs[0], "Add")
	if add == nil {
		return errNoGeluChain
	}
	if one, ok := f32Scalar(other(add, erf.Outputs[0])); !ok || one != 1 {
		return errNoGeluChain
	}
	mul := next(add.Outputs[0], "Mul")
	if mul == nil || other(mul, add.Outputs[0]) != x {
		return errNoGeluChain
	}
	last := next(mul.Outputs[0], "Mul")
	if last == nil {
		return errNoGeluChain
	}
	c3, ok := f32Scalar(other(last, mul.Outputs[0]))
	if !ok || !x.Type.Shape.Equal(last.Outputs[0].Type.Shape) {
		return errNoGeluChain
	}
	xb, err := p.eltInput(n)
	if err != nil {
		return err
	}
	y, err := p.newBuffer(last.Outputs[0], xb.Layout)
	if err != nil {
		return err
	}
	p.useKernel(kernels.UnaryKernel, kernels.UnaryPTX())
	p.e.Steps = append(p.e.Steps, &engine.Step{Node: n.Name, Op: n.Op, Kernel: kernels.UnaryKernel, Precision: "f32",
		WorkPerSample: uint64(y.ElemsPerSample), WorkPerBlockX: kernels.OpThreads, GridY: 1, GridZ: 1, BlockX: kernels.OpThreads,
		Args: []*engine.Arg{bufArg(xb), bufArg(y), perSample(y.ElemsPerSample), u32(kernels.UGeluChain), f32(c1), f32(c3)},
		Note: fmt.Sprintf("GELU as exported (fused: %s, %s, %s, %s, %s)", n.Name, erf.Name, add.Name, mul.Name, last.Name)})
	if p.absorbed == nil {
		p.absorbed = map[*ir.Node]bool{}
	}
	for _, m := range []*ir.Node{erf, add, mul, last} {
		p.absorbed[m] = true
	}
	return nil
}

// f32Scalar returns the value of a one-element f32 constant.
func f32Scalar(v *ir.Value) (float32, bool) {
	if v == nil || !v.IsConst() || v.Const.DType != ir.Float32 || v.Const.Len() != 1 {
		return 0, false
	}
	return v.Const.Float32s()[0], true
}

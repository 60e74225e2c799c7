package ampere

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
)

// firstOf tries planners in order and takes the first that covers the
// node, undoing what a failing one added; the error gives every reason on
// one line (it ends up in a step's note).
func firstOf(planners ...opPlanner) opPlanner {
	return func(p *planner, n *ir.Node) error {
		var why []string
		for _, plan := range planners {
			m := p.mark()
			err := plan(p, n)
			if err == nil {
				return nil
			}
			p.rollback(m, n)
			why = append(why, err.Error())
		}
		return errors.New(strings.Join(why, "; "))
	}
}

// hardAct plans HardSigmoid and HardSwish on f32 data in any layout.
func (p *planner) hardAct(n *ir.Node) error {
	x, err := p.input(n, 0)
	if err != nil {
		return err
	}
	if x.Dtype != "f32" {
		return fmt.Errorf("input %s is %s, the GPU kernel takes f32", x.Name, x.Dtype)
	}
	op, alpha, beta := int64(kernels.HardActSwish), float32(0), float32(0)
	if n.Op == "HardSigmoid" {
		op, alpha, beta = kernels.HardActSigmoid, n.Attrs.Float("alpha", 0.2), n.Attrs.Float("beta", 0.5)
	}
	y, err := p.newBuffer(n.Outputs[0], x.Layout)
	if err != nil {
		return err
	}
	p.useKernel(kernels.HardActKernel, kernels.HardActPTX())
	p.e.Steps = append(p.e.Steps, &engine.Step{Node: n.Name, Op: n.Op, Kernel: kernels.HardActKernel, Precision: "f32",
		WorkPerSample: uint64(y.ElemsPerSample), WorkPerBlockX: kernels.OpThreads, GridY: 1, GridZ: 1, BlockX: kernels.OpThreads,
		Args: []*engine.Arg{bufArg(x), bufArg(y), perSample(y.ElemsPerSample), u32(op), f32(alpha), f32(beta)}})
	return nil
}

// channelScale plans a Mul of an f32 image by a computed value of one
// element a channel and sample ([N,C,1,1]), in either order: the gating of
// a squeeze-and-excitation block, which the elementwise kernel (constants
// only) does not broadcast.
func (p *planner) channelScale(n *ir.Node) error {
	if n.Op != "Mul" || len(n.Inputs) != 2 || n.Inputs[0] == nil || n.Inputs[1] == nil {
		return fmt.Errorf("want a binary Mul")
	}
	xi, si := 0, 1
	if sh := n.Inputs[0].Type.Shape; sh.Rank() == 4 && sh[2].Known() && sh[2].Size == 1 && sh[3].Known() && sh[3].Size == 1 {
		xi, si = 1, 0
	}
	x, err := p.input(n, xi)
	if err != nil {
		return err
	}
	s, err := p.input(n, si)
	if err != nil {
		return err
	}
	if x.Dtype != "f32" || s.Dtype != "f32" || len(x.SampleShape) != 3 || len(s.SampleShape) != 3 ||
		s.SampleShape[0] != x.SampleShape[0] || s.SampleShape[1] != 1 || s.SampleShape[2] != 1 {
		return fmt.Errorf("inputs %s %v and %s %v: the channel-scale kernel multiplies an f32 image by [N,C,1,1]", x.Name, x.SampleShape, s.Name, s.SampleShape)
	}
	c, hw := x.SampleShape[0], x.SampleShape[1]*x.SampleShape[2]
	inner := hw
	if x.Layout == LayoutNHWC {
		inner = 1
	}
	y, err := p.newBuffer(n.Outputs[0], x.Layout)
	if err != nil {
		return err
	}
	if y.ElemsPerSample != x.ElemsPerSample {
		return fmt.Errorf("output %s has %d elements a sample, want %d", y.Name, y.ElemsPerSample, x.ElemsPerSample)
	}
	p.useKernel(kernels.ChanScaleKernel, kernels.ChanScalePTX())
	p.e.Steps = append(p.e.Steps, &engine.Step{Node: n.Name, Op: n.Op, Kernel: kernels.ChanScaleKernel, Precision: "f32",
		WorkPerSample: uint64(y.ElemsPerSample), WorkPerBlockX: kernels.OpThreads, GridY: 1, GridZ: 1, BlockX: kernels.OpThreads,
		Args: []*engine.Arg{bufArg(x), bufArg(s), bufArg(y), perSample(y.ElemsPerSample), u32(c), u32(hw), u32(inner)},
		Note: "channel scale (squeeze-and-excitation)"})
	return nil
}

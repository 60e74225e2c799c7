package ampere

import (
	"fmt"

	"github.com/sqc-project/sqc/ir"
)

// dropout plans an inference Dropout as a view of its input (no launch),
// as ir/ref runs it: the data passes through. The mask output (bool, which
// GPU buffers do not hold) must be unread, and the node must not be in
// training mode, which ir/ref refuses too.
func (p *planner) dropout(n *ir.Node) error {
	x, err := p.input(n, 0)
	if err != nil {
		return err
	}
	if len(n.Inputs) > 2 && n.Inputs[2] != nil {
		tm := n.Inputs[2]
		if !tm.IsConst() || tm.Const.DType != ir.Bool || tm.Const.Len() != 1 {
			return fmt.Errorf("training_mode %s is not one constant bool", tm.Name)
		}
		// Training mode drops nothing at ratio 0 (default 0.5).
		ratio := 0.5
		if len(n.Inputs) > 1 && n.Inputs[1] != nil {
			r := n.Inputs[1]
			if !r.IsConst() || r.Const.Len() != 1 {
				return fmt.Errorf("ratio %s is not one constant", r.Name)
			}
			ratio = r.Const.AsFloat64(0)
		}
		if tm.Const.Data.([]bool)[0] && ratio != 0 {
			return fmt.Errorf("training_mode is true with ratio %v: the GPU runs Dropout at inference only", ratio)
		}
	}
	for _, v := range n.Outputs[1:] {
		if v != nil && (len(p.users[v]) > 0 || p.g.IsOutput(v)) {
			return fmt.Errorf("mask %s is read, the GPU's Dropout is a view of its input with no mask", v.Name)
		}
	}
	return p.alias(n.Outputs[0], x, x.Layout)
}

package ampere

import (
	"fmt"
	"math"

	"github.com/sqc-project/sqc/ir"
)

// prelu plans an f32 PRelu with a constant slope on the broadcasting
// kernel (kernels.BPRelu: ir/ref's max(x, 0) + min(x, 0)·slope). ir/ref
// switches to a branch when a slope is infinite or NaN (0·inf is NaN); such
// a slope stays on the host, as does a computed one, whose values are not
// known at compile time.
func (p *planner) prelu(n *ir.Node) error {
	if len(n.Inputs) != 2 || n.Inputs[1] == nil || !n.Inputs[1].IsConst() || n.Inputs[1].Const.DType != ir.Float32 {
		return fmt.Errorf("the slope is not an f32 constant, the GPU PRelu takes constant slopes")
	}
	for _, v := range n.Inputs[1].Const.Float32s() {
		if math.IsInf(float64(v), 0) || v != v {
			return fmt.Errorf("slope %s holds %v, the GPU PRelu takes finite slopes", n.Inputs[1].Name, v)
		}
	}
	return p.eltBroadcast(n)
}

package ampere

import (
	"fmt"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
)

// reluInt8 plans a Relu of an int8 value on kernels.Clamp8Kernel: ir/ref's
// Relu of an i8 tensor is the integer max(x, 0), whatever its quantization
// (lower-int8 commutes a Relu into int8 only where that is the real Relu).
// DenseNet's pre-activation blocks quantize the BatchNormalization's output
// and run the Relu on it. The output keeps the input's layout.
func (p *planner) reluInt8(n *ir.Node) error {
	x, err := p.input(n, 0)
	if err != nil {
		return err
	}
	if x.Dtype != "i8" {
		return fmt.Errorf("input %s is %s, the GPU int8 Relu takes i8", x.Name, x.Dtype)
	}
	y, err := p.newBuffer(n.Outputs[0], x.Layout)
	if err != nil {
		return err
	}
	if y.Dtype != "i8" || y.ElemsPerSample != x.ElemsPerSample {
		return fmt.Errorf("output %s is %s with %d elements a sample, want i8 with %d like the input", y.Name, y.Dtype, y.ElemsPerSample, x.ElemsPerSample)
	}
	p.useKernel(kernels.Clamp8Kernel, kernels.Clamp8PTX())
	p.e.Steps = append(p.e.Steps, &engine.Step{Node: n.Name, Op: n.Op, Kernel: kernels.Clamp8Kernel, Precision: "int8",
		WorkPerSample: uint64(x.ElemsPerSample), WorkPerBlockX: kernels.OpThreads, GridY: 1, GridZ: 1, BlockX: kernels.OpThreads,
		Args: []*engine.Arg{bufArg(x), bufArg(y), perSample(x.ElemsPerSample), s32(0), s32(127)},
		Note: "int8 Relu: max(x, 0)"})
	return nil
}

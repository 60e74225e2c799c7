package ampere

import (
	"fmt"
	"math"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
)

// Standalone f32 elementwise ops (those not fused into a convolution, or in
// a layer left float) run on kernels.EltwiseKernel. The output keeps the
// layout of the computed operand, so no relayout launch is added; a
// broadcast constant is either one value or one value a channel, and the
// channel's stride in memory follows that layout.

// eltBinaryOps maps the binary ops to their kernel op codes.
var eltBinaryOps = map[string]int64{"Add": kernels.EltAdd, "Sub": kernels.EltSub, "Mul": kernels.EltMul, "Div": kernels.EltDiv}

// eltLaunch adds one launch of the elementwise kernel.
// b is the second operand: a buffer, or the weight holding a constant.
func (p *planner) eltLaunch(n *ir.Node, kernel string, x *engine.Buffer, b *engine.Arg, y *engine.Buffer, op, bmode, c, inner, swap int64, alpha, lo, hi float32) {
	p.useKernel(kernel, kernels.EltwisePTX(kernel))
	p.e.Steps = append(p.e.Steps, &engine.Step{Node: n.Name, Op: n.Op, Kernel: kernel, Precision: "f32",
		WorkPerSample: uint64(y.ElemsPerSample), WorkPerBlockX: kernels.OpThreads, GridY: 1, GridZ: 1, BlockX: kernels.OpThreads,
		Args: []*engine.Arg{bufArg(x), b, bufArg(y), perSample(y.ElemsPerSample), u32(op), u32(bmode), u32(c), u32(inner), u32(swap),
			f32(alpha), f32(lo), f32(hi)},
		Note: "float elementwise " + n.Op})
}

// eltInput returns input 0 of a unary op as an f32 buffer.
func (p *planner) eltInput(n *ir.Node) (*engine.Buffer, error) {
	x, err := p.input(n, 0)
	if err != nil {
		return nil, err
	}
	if x.Dtype != "f32" {
		return nil, fmt.Errorf("input %s is %s, the GPU elementwise kernel takes f32", x.Name, x.Dtype)
	}
	return x, nil
}

// eltUnary plans Relu, LeakyRelu, Clip, Sigmoid and Tanh.
func (p *planner) eltUnary(n *ir.Node) error {
	x, err := p.eltInput(n)
	if err != nil {
		return err
	}
	kernel, op := kernels.EltwiseKernel, int64(kernels.EltClamp)
	alpha, lo, hi := float32(0), float32(math.Inf(-1)), float32(math.Inf(1))
	switch n.Op {
	case "Relu":
		lo = 0
	case "LeakyRelu":
		op, alpha = kernels.EltLeaky, n.Attrs.Float("alpha", 0.01)
	case "Clip":
		for i, bound := range []*float32{&lo, &hi} {
			if i+1 >= len(n.Inputs) || n.Inputs[i+1] == nil {
				continue
			}
			v := n.Inputs[i+1]
			if !v.IsConst() || v.Const.DType != ir.Float32 || v.Const.Len() != 1 {
				return fmt.Errorf("clip bound %s is not one f32 constant, the GPU kernel takes constant bounds", v.Name)
			}
			*bound = v.Const.Float32s()[0]
		}
		if lo > hi {
			// ONNX Clip: min > max gives max everywhere.
			lo = hi
		}
	case "Sigmoid":
		kernel, op = kernels.EltwiseApproxKernel, kernels.EltSigmoid
	case "Tanh":
		kernel, op = kernels.EltwiseApproxKernel, kernels.EltTanh
	default:
		return fmt.Errorf("op %s is not a GPU elementwise op", n.Op)
	}
	y, err := p.newBuffer(n.Outputs[0], x.Layout)
	if err != nil {
		return err
	}
	if y.ElemsPerSample != x.ElemsPerSample {
		return fmt.Errorf("output %s has %d elements a sample, want %d like input %s", y.Name, y.ElemsPerSample, x.ElemsPerSample, x.Name)
	}
	p.eltLaunch(n, kernel, x, bufArg(x), y, op, kernels.EltNoB, 1, 1, 0, alpha, lo, hi)
	return nil
}

// eltBinary plans Add, Sub, Mul and Div: both operands computed with the
// same shape and layout, or one computed and the other a constant that is a
// scalar or holds one value a channel (axis 1 of a rank-4 or rank-2 value).
func (p *planner) eltBinary(n *ir.Node) error {
	op, ok := eltBinaryOps[n.Op]
	if !ok || len(n.Inputs) != 2 || n.Inputs[0] == nil || n.Inputs[1] == nil {
		return fmt.Errorf("node %s (op %s): want a binary Add, Sub, Mul or Div", n.Name, n.Op)
	}
	outShape := n.Outputs[0].Type.Shape
	a0, a1 := n.Inputs[0], n.Inputs[1]
	if !a0.IsConst() && !a1.IsConst() {
		x, err := p.eltInput(n)
		if err != nil {
			return err
		}
		b, err := p.input(n, 1)
		if err != nil {
			return err
		}
		if b.Dtype != "f32" || b.ElemsPerSample != x.ElemsPerSample || len(b.SampleShape) != len(x.SampleShape) || b.Layout != x.Layout ||
			len(a0.Type.Shape) != len(outShape) || len(a1.Type.Shape) != len(outShape) {
			return fmt.Errorf("inputs %s (%s %s %v) and %s (%s %s %v): the GPU kernel broadcasts only constants, computed operands must match in shape and layout",
				x.Name, x.Dtype, x.Layout, x.SampleShape, b.Name, b.Dtype, b.Layout, b.SampleShape)
		}
		for i := range x.SampleShape {
			if x.SampleShape[i] != b.SampleShape[i] {
				return fmt.Errorf("inputs %s %v and %s %v differ in shape, the GPU kernel broadcasts only constants", x.Name, x.SampleShape, b.Name, b.SampleShape)
			}
		}
		y, err := p.newBuffer(n.Outputs[0], x.Layout)
		if err != nil {
			return err
		}
		if y.ElemsPerSample != x.ElemsPerSample {
			return fmt.Errorf("output %s has %d elements a sample, want %d", y.Name, y.ElemsPerSample, x.ElemsPerSample)
		}
		p.eltLaunch(n, kernels.EltwiseKernel, x, bufArg(b), y, op, kernels.EltSameB, 1, 1, 0, 0, 0, 0)
		return nil
	}
	xi, ci, swap := 0, 1, int64(0)
	if a0.IsConst() {
		xi, ci, swap = 1, 0, 1
	}
	if n.Inputs[xi].IsConst() {
		return fmt.Errorf("both inputs of %s are constants: fold them before planning", n.Name)
	}
	x, err := p.input(n, xi)
	if err != nil {
		return err
	}
	if x.Dtype != "f32" {
		return fmt.Errorf("input %s is %s, the GPU elementwise kernel takes f32", x.Name, x.Dtype)
	}
	if len(n.Inputs[xi].Type.Shape) != len(outShape) {
		return fmt.Errorf("input %s has rank %d, the output %d: the GPU kernel broadcasts only the constant", x.Name, len(n.Inputs[xi].Type.Shape), len(outShape))
	}
	ct := n.Inputs[ci].Const
	if ct.DType != ir.Float32 {
		return fmt.Errorf("constant %s is %v, want f32", n.Inputs[ci].Name, ct.DType)
	}
	bmode, c, inner, err := constBroadcast(ct.Shape, x)
	if err != nil {
		return fmt.Errorf("constant %s: %w", n.Inputs[ci].Name, err)
	}
	y, err := p.newBuffer(n.Outputs[0], x.Layout)
	if err != nil {
		return err
	}
	if y.ElemsPerSample != x.ElemsPerSample {
		return fmt.Errorf("output %s has %d elements a sample, want %d", y.Name, y.ElemsPerSample, x.ElemsPerSample)
	}
	// The constant travels as an engine weight, read in place of a buffer.
	wn := n.Name + "/b_f32"
	p.e.Weights = append(p.e.Weights, &engine.Weight{Name: wn, Kind: "f32", Data: leBytes(ct.Float32s())})
	p.eltLaunch(n, kernels.EltwiseKernel, x, weightArg(wn), y, op, bmode, c, inner, swap, 0, 0, 0)
	return nil
}

// constBroadcast classifies a constant's shape against the computed
// operand x: one value (scalar mode), or one value a channel, the channel
// being axis 1 of a rank-4 value (stride H·W in NCHW, 1 in NHWC) or the
// last axis of a rank-2 value. It returns the kernel's bmode, C and inner.
func constBroadcast(shape []int, x *engine.Buffer) (bmode, c, inner int64, err error) {
	rank := len(x.SampleShape) + 1
	if len(shape) > rank {
		return 0, 0, 0, fmt.Errorf("shape %v has more dims than the operand's %d", shape, rank)
	}
	full := make([]int, rank)
	for i := range full {
		full[i] = 1
	}
	copy(full[rank-len(shape):], shape)
	count, axis := 1, -1
	for i, d := range full {
		count *= d
		if d != 1 {
			if axis >= 0 {
				return 0, 0, 0, fmt.Errorf("shape %v broadcasts over more than one axis, the GPU kernel takes a scalar or one value a channel", shape)
			}
			axis = i
		}
	}
	if count == 1 {
		return kernels.EltScalarB, 1, 1, nil
	}
	if axis != 1 || (rank != 2 && rank != 4) || int64(full[1]) != x.SampleShape[0] {
		return 0, 0, 0, fmt.Errorf("shape %v against the operand's %v: the GPU kernel broadcasts along axis 1 of a rank-2 or rank-4 value only", shape, x.SampleShape)
	}
	c, inner = x.SampleShape[0], 1
	if rank == 4 && x.Layout != LayoutNHWC {
		inner = x.SampleShape[1] * x.SampleShape[2]
	}
	return kernels.EltChannelB, c, inner, nil
}

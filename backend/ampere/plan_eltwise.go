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
	work := y.ElemsPerSample
	if kernel == kernels.EltwiseKernel && kernels.Eltwise4Fits(op, bmode, work) {
		// Four elements a thread, 16-byte loads and stores.
		p.useKernel(kernels.Eltwise4Kernel, kernels.Eltwise4PTX())
		kernel, work = kernels.Eltwise4Kernel, work/4
	} else {
		p.useKernel(kernel, kernels.EltwisePTX())
	}
	p.e.Steps = append(p.e.Steps, &engine.Step{Node: n.Name, Op: n.Op, Kernel: kernel, Precision: "f32",
		WorkPerSample: uint64(work), WorkPerBlockX: kernels.OpThreads, GridY: 1, GridZ: 1, BlockX: kernels.OpThreads,
		Args: []*engine.Arg{bufArg(x), b, bufArg(y), perSample(work), u32(op), u32(bmode), u32(c), u32(inner), u32(swap),
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
		op = kernels.EltSigmoid
	case "Tanh":
		op = kernels.EltTanh
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
// scalar or holds one value a channel (axis 1 of a rank-4 or rank-2 value),
// on the elementwise kernel; any other broadcast on the broadcasting kernel
// (eltBroadcast).
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
		if b.Dtype == "f32" && (b.ElemsPerSample != x.ElemsPerSample || len(b.SampleShape) != len(x.SampleShape)) {
			// Computed operands that broadcast: the broadcasting kernel.
			return p.eltBroadcast(n)
		}
		if b.Dtype != "f32" || b.ElemsPerSample != x.ElemsPerSample || len(b.SampleShape) != len(x.SampleShape) || b.Layout != x.Layout ||
			len(a0.Type.Shape) != len(outShape) || len(a1.Type.Shape) != len(outShape) {
			return fmt.Errorf("inputs %s (%s %s %v) and %s (%s %s %v): the GPU kernel broadcasts only constants, computed operands must match in shape and layout",
				x.Name, x.Dtype, x.Layout, x.SampleShape, b.Name, b.Dtype, b.Layout, b.SampleShape)
		}
		for i := range x.SampleShape {
			if x.SampleShape[i] != b.SampleShape[i] {
				return p.eltBroadcast(n)
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
	ct := n.Inputs[ci].Const
	if ct.DType != ir.Float32 {
		return fmt.Errorf("constant %s is %v, want f32", n.Inputs[ci].Name, ct.DType)
	}
	bmode, c, inner, err := constBroadcast(ct.Shape, x)
	if err != nil || len(n.Inputs[xi].Type.Shape) != len(outShape) {
		// Other broadcasts (a constant over several axes, a row of a
		// rank-3 value): the broadcasting kernel.
		return p.eltBroadcast(n)
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

// eltPlanners plans the ops of the math kernels (kernels/eltmath.go): the
// unary math ops, Min and Max, Pow by a constant, and the Reduce ops over
// per-sample axes. An entry of the planner's op table each.
var eltPlanners = map[string]func(p *planner, n *ir.Node) error{
	"Min": (*planner).eltBroadcast, "Max": (*planner).eltBroadcast,
	"Pow": (*planner).eltPow,
}

// eltMathOps maps the unary math ops to their kernel op codes.
var eltMathOps = map[string]int64{
	"Neg": kernels.UNeg, "Abs": kernels.UAbs, "Floor": kernels.UFloor, "Ceil": kernels.UCeil, "Round": kernels.URound,
	"Sqrt": kernels.USqrt, "Reciprocal": kernels.URecip, "Exp": kernels.UExp, "Log": kernels.ULog, "Erf": kernels.UErf,
	"Elu": kernels.UElu, "Selu": kernels.USelu, "Softplus": kernels.USoftplus, "Mish": kernels.UMish, "Gelu": kernels.UGelu,
	"HardSigmoid": kernels.UHardSigmoid, "HardSwish": kernels.UHardSwish,
}

// reduceOps maps the Reduce ops to the reduction kernel's op codes.
var reduceOps = map[string]int64{
	"ReduceSum": kernels.RSum, "ReduceMax": kernels.RMax, "ReduceMin": kernels.RMin,
	"ReduceSumSquare": kernels.RSumSquare, "ReduceL1": kernels.RL1, "ReduceL2": kernels.RL2,
}

func init() {
	for op := range eltMathOps {
		eltPlanners[op] = (*planner).eltMath
	}
	for op := range reduceOps {
		eltPlanners[op] = (*planner).reduce
	}
	// Rows of the planner's op table, where no other planner has the op.
	for op, plan := range eltPlanners {
		if _, ok := opPlanners[op]; !ok {
			opPlanners[op] = plan
		}
	}
}

// unaryLaunch adds one launch of the unary math kernel.
func (p *planner) unaryLaunch(n *ir.Node, x, y *engine.Buffer, op int64, alpha, beta float32) {
	kernel := kernels.UnaryKernel
	p.useKernel(kernel, kernels.UnaryPTX())
	p.e.Steps = append(p.e.Steps, &engine.Step{Node: n.Name, Op: n.Op, Kernel: kernel, Precision: "f32",
		WorkPerSample: uint64(y.ElemsPerSample), WorkPerBlockX: kernels.OpThreads, GridY: 1, GridZ: 1, BlockX: kernels.OpThreads,
		Args: []*engine.Arg{bufArg(x), bufArg(y), perSample(y.ElemsPerSample), u32(op), f32(alpha), f32(beta)},
		Note: "float elementwise " + n.Op})
}

// eltMath plans a unary math op; the output keeps the input's layout.
func (p *planner) eltMath(n *ir.Node) error {
	x, err := p.eltInput(n)
	if err != nil {
		return err
	}
	op := eltMathOps[n.Op]
	var alpha, beta float32
	switch n.Op {
	case "Elu":
		alpha = n.Attrs.Float("alpha", 1)
	case "Selu":
		alpha, beta = n.Attrs.Float("alpha", 1.67326319217681884765625), n.Attrs.Float("gamma", 1.05070102214813232421875)
	case "HardSigmoid":
		alpha, beta = n.Attrs.Float("alpha", 0.2), n.Attrs.Float("beta", 0.5)
	case "Gelu":
		if n.Attrs.String("approximate", "none") == "tanh" {
			op = kernels.UGeluTanh
		}
	}
	y, err := p.newBuffer(n.Outputs[0], x.Layout)
	if err != nil {
		return err
	}
	p.unaryLaunch(n, x, y, op, alpha, beta)
	return nil
}

// eltPow plans Pow by a constant scalar exponent: 2 (x·x), -1 (1/x), 3
// ((x·x)·x in f64) and 0.5 (sqrt, +0 at -0 and +Inf at -Inf), each
// rounding as the reference's float64 power does.
func (p *planner) eltPow(n *ir.Node) error {
	e := n.Inputs[1]
	if e == nil || !e.IsConst() || e.Const.Len() != 1 {
		return fmt.Errorf("exponent %s is not one constant: the GPU runs Pow by a constant 2, 3, 0.5 or -1", n.Inputs[1].Name)
	}
	if len(n.Inputs[0].Type.Shape) != len(n.Outputs[0].Type.Shape) {
		return fmt.Errorf("exponent %s broadcasts the base to a higher rank", e.Name)
	}
	var op int64
	switch v := e.Const.AsFloat64(0); v {
	case 2:
		op = kernels.USquare
	case -1:
		op = kernels.URecip
	case 3:
		op = kernels.UCube
	case 0.5:
		op = kernels.UPowHalf
	default:
		return fmt.Errorf("exponent %v: the GPU runs Pow by a constant 2, 3, 0.5 or -1", v)
	}
	x, err := p.eltInput(n)
	if err != nil {
		return err
	}
	y, err := p.newBuffer(n.Outputs[0], x.Layout)
	if err != nil {
		return err
	}
	p.unaryLaunch(n, x, y, op, 0, 0)
	return nil
}

// physicalPerm returns, for a value of the given rank in a buffer of the
// given layout, the order in memory of its per-sample dims (indices into
// the dims after the batch dim): C, H, W is stored H, W, C in NHWC.
func physicalPerm(rank int, layout string) []int {
	perm := make([]int, rank-1)
	for i := range perm {
		perm[i] = i
	}
	if rank == 4 && layout == LayoutNHWC {
		perm = []int{1, 2, 0}
	}
	return perm
}

// bcastOperand is one input of the broadcasting kernel: what it reads and
// its strides along the output's physical per-sample dims.
type bcastOperand struct {
	arg     *engine.Arg
	sample  int64
	strides []int64
}

// eltBroadcast plans a binary op on the broadcasting kernel: operands of
// the output's rank (a constant may have fewer dims, and no batch), each
// read through its own strides, so any broadcast works. The output takes
// the layout of the first computed operand; a constant is stored in that
// layout's order.
func (p *planner) eltBroadcast(n *ir.Node) error {
	op, ok := map[string]int64{"Add": kernels.BAdd, "Sub": kernels.BSub, "Mul": kernels.BMul, "Div": kernels.BDiv, "Min": kernels.BMin, "Max": kernels.BMax, "PRelu": kernels.BPRelu}[n.Op]
	if !ok || len(n.Inputs) != 2 || n.Inputs[0] == nil || n.Inputs[1] == nil {
		return fmt.Errorf("node %s (op %s): the broadcasting kernel takes a binary Add, Sub, Mul, Div, Min or Max", n.Name, n.Op)
	}
	out := n.Outputs[0]
	rank := len(out.Type.Shape)
	if rank < 2 || rank-1 > kernels.BcastRank {
		return fmt.Errorf("output %s has rank %d, the broadcasting kernel takes 2 to %d", out.Name, rank, kernels.BcastRank+1)
	}
	layout := ""
	for _, v := range n.Inputs {
		if !v.IsConst() {
			b, err := p.input(n, slicesIndex(n.Inputs, v))
			if err != nil {
				return err
			}
			if layout == "" {
				layout = b.Layout
			}
		}
	}
	if layout == "" {
		return fmt.Errorf("both inputs of %s are constants: fold them before planning", n.Name)
	}
	perm := physicalPerm(rank, layout)
	outDims := make([]int64, rank-1)
	for i, a := range perm {
		outDims[i] = out.Type.Shape[a+1].Size
	}
	var ops [2]bcastOperand
	for i, v := range n.Inputs {
		full := make([]int64, rank)
		for k := range full {
			full[k] = 1
		}
		if len(v.Type.Shape) > rank {
			return fmt.Errorf("input %s has more dims than the output", v.Name)
		}
		for k, d := range v.Type.Shape {
			full[rank-len(v.Type.Shape)+k] = d.Size
		}
		phys := make([]int64, rank-1)
		for k, a := range perm {
			phys[k] = full[a+1]
		}
		if v.IsConst() {
			if v.Const.DType != ir.Float32 {
				return fmt.Errorf("constant %s is %v, want f32", v.Name, v.Const.DType)
			}
			if full[0] != 1 {
				return fmt.Errorf("constant %s has a batch dim of %d: the GPU broadcasts constants over the batch", v.Name, full[0])
			}
			wn := fmt.Sprintf("%s/in%d_f32", n.Name, i)
			p.e.Weights = append(p.e.Weights, &engine.Weight{Name: wn, Kind: "f32", Data: leBytes(permuteConst(v.Const.Float32s(), full[1:], perm))})
			ops[i] = bcastOperand{arg: weightArg(wn)}
		} else {
			b, err := p.input(n, i)
			if err != nil {
				return err
			}
			if b.Dtype != "f32" {
				return fmt.Errorf("input %s is %s, the GPU elementwise kernel takes f32", b.Name, b.Dtype)
			}
			if len(v.Type.Shape) != rank || b.Layout != layout {
				return fmt.Errorf("inputs of %s: %s is %s of rank %d, want the output's rank %d in %s order like the other input", n.Name, b.Name, b.Layout, len(v.Type.Shape), rank, layout)
			}
			ops[i] = bcastOperand{arg: bufArg(b), sample: b.ElemsPerSample}
		}
		ops[i].strides = make([]int64, rank-1)
		acc := int64(1)
		for k := rank - 2; k >= 0; k-- {
			if phys[k] != 1 && phys[k] != outDims[k] {
				return fmt.Errorf("input %s does not broadcast to %v", v.Name, out.Type.Shape)
			}
			if phys[k] != 1 {
				ops[i].strides[k] = acc
			}
			acc *= phys[k]
		}
	}
	y, err := p.newBuffer(out, layout)
	if err != nil {
		return err
	}
	kernel, work := kernels.BcastKernel, y.ElemsPerSample
	if kernels.Bcast4Fits(outDims, [2][]int64{ops[0].strides, ops[1].strides}, [2]int64{ops[0].sample, ops[1].sample}) {
		kernel, work = kernels.Bcast4Kernel, work/4 // four elements a thread
	}
	p.useKernel(kernel, kernels.BcastPTX(kernel))
	pad := kernels.BcastRank - (rank - 1)
	args := []*engine.Arg{ops[0].arg, ops[1].arg, bufArg(y), perSample(work), u32(op), u32(y.ElemsPerSample), u32(ops[0].sample), u32(ops[1].sample)}
	for k := 0; k < kernels.BcastRank; k++ {
		d := int64(1)
		if k >= pad {
			d = outDims[k-pad]
		}
		args = append(args, u32(d))
	}
	for _, o := range ops {
		for k := 0; k < kernels.BcastRank; k++ {
			s := int64(0)
			if k >= pad {
				s = o.strides[k-pad]
			}
			args = append(args, u32(s))
		}
	}
	p.e.Steps = append(p.e.Steps, &engine.Step{Node: n.Name, Op: n.Op, Kernel: kernel, Precision: "f32",
		WorkPerSample: uint64(work), WorkPerBlockX: kernels.OpThreads, GridY: 1, GridZ: 1, BlockX: kernels.OpThreads,
		Args: args, Note: "float elementwise " + n.Op + " (broadcast)"})
	return nil
}

// slicesIndex is the position of v in vs.
func slicesIndex(vs []*ir.Value, v *ir.Value) int {
	for i, w := range vs {
		if w == v {
			return i
		}
	}
	return -1
}

// permuteConst reorders a constant's per-sample data of logical dims into
// the physical order perm gives.
func permuteConst(data []float32, dims []int64, perm []int) []float32 {
	identity := true
	for i, a := range perm {
		identity = identity && i == a
	}
	if identity {
		return data
	}
	phys := make([]int64, len(perm))
	for i, a := range perm {
		phys[i] = dims[a]
	}
	logStrides := make([]int64, len(dims))
	acc := int64(1)
	for k := len(dims) - 1; k >= 0; k-- {
		logStrides[k] = acc
		acc *= dims[k]
	}
	out := make([]float32, len(data))
	idx := make([]int64, len(perm))
	for o := range out {
		src := int64(0)
		for k, a := range perm {
			src += idx[k] * logStrides[a]
		}
		out[o] = data[src]
		for k := len(idx) - 1; k >= 0; k-- {
			if idx[k]++; idx[k] < phys[k] {
				break
			}
			idx[k] = 0
		}
	}
	return out
}

// reduce plans a Reduce op over per-sample axes that are adjacent in
// memory, as a per-sample [outer, K, inner] fold. With keepdims a rank-4
// output keeps the input's layout; otherwise the kept dims must stay in
// their logical order in memory.
func (p *planner) reduce(n *ir.Node) error {
	x, err := p.eltInput(n)
	if err != nil {
		return err
	}
	in := n.Inputs[0].Type.Shape
	rank := len(in)
	var axes []int64
	if len(n.Inputs) > 1 && n.Inputs[1] != nil {
		a, ok := n.Inputs[1], n.Inputs[1].IsConst()
		if !ok {
			return fmt.Errorf("axes %s are computed: the GPU reduces over constant axes", a.Name)
		}
		for i := 0; i < a.Const.Len(); i++ {
			axes = append(axes, a.Const.AsInt64(i))
		}
	}
	red, err := ir.ResolveReduceAxes(rank, axes, n.Attrs.Int("noop_with_empty_axes", 0) != 0)
	if err != nil {
		return err
	}
	if red == nil {
		return p.alias(n.Outputs[0], x, x.Layout)
	}
	if red[0] {
		return fmt.Errorf("reduces over the batch dim: the GPU reduces each sample on its own")
	}
	perm := physicalPerm(rank, x.Layout)
	outer, k, inner := int64(1), int64(1), int64(1)
	first, last := -1, -1
	for pos, a := range perm {
		if red[a+1] {
			if first < 0 {
				first = pos
			}
			last = pos
		}
	}
	for pos, a := range perm {
		d := in[a+1].Size
		switch {
		case pos < first:
			outer *= d
		case pos > last:
			inner *= d
		case red[a+1]:
			k *= d
		case d != 1:
			return fmt.Errorf("the reduced axes are not adjacent in %s order: the GPU reduces one run of dims", x.Layout)
		}
	}
	layout := LayoutFlat
	keep := n.Attrs.Int("keepdims", 1) != 0
	if keep && rank == 4 {
		layout = x.Layout
	} else {
		prev := -1
		for _, a := range perm {
			if !red[a+1] && in[a+1].Size != 1 {
				if a < prev {
					return fmt.Errorf("the kept dims are not in logical order in %s memory: the GPU output would need a transpose", x.Layout)
				}
				prev = a
			}
		}
	}
	y, err := p.newBuffer(n.Outputs[0], layout)
	if err != nil {
		return err
	}
	if y.ElemsPerSample != outer*inner {
		return fmt.Errorf("output %s has %d elements a sample, want %d", y.Name, y.ElemsPerSample, outer*inner)
	}
	op := reduceOps[n.Op]
	kernel := kernels.ReduceKernel
	p.useKernel(kernel, kernels.ReducePTX())
	p.e.Steps = append(p.e.Steps, &engine.Step{Node: n.Name, Op: n.Op, Kernel: kernel, Precision: "f32",
		WorkPerSample: uint64(y.ElemsPerSample), WorkPerBlockX: kernels.OpThreads, GridY: 1, GridZ: 1, BlockX: kernels.OpThreads,
		Args: []*engine.Arg{bufArg(x), bufArg(y), perSample(y.ElemsPerSample), u32(op), u32(k), u32(inner), u32(y.ElemsPerSample), u32(x.ElemsPerSample)},
		Note: fmt.Sprintf("float reduction %s over %d", n.Op, k)})
	return nil
}

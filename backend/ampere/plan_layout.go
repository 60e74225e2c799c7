package ampere

import (
	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
)

// asNHWC returns x in NHWC order: x itself when it is already, or not an
// image; else an NHWC copy made by one transpose launch before n, shared by
// every later reader of x. An image reaches the GPU in NCHW order as a
// graph input, or as the view of a reshape (ShuffleNet's channel shuffle
// ends in one), while the convolutions and pools read NHWC.
func (p *planner) asNHWC(n *ir.Node, x *engine.Buffer) (*engine.Buffer, error) {
	if x.Layout == LayoutNHWC || len(x.SampleShape) != 3 {
		return x, nil
	}
	if y := p.nhwcOf[x.Name]; y != nil {
		return y, nil
	}
	y := &engine.Buffer{Name: x.Name + "/nhwc", Dtype: x.Dtype, ElemsPerSample: x.ElemsPerSample,
		SampleShape: append([]int64(nil), x.SampleShape...), Layout: LayoutNHWC}
	p.e.Buffers = append(p.e.Buffers, y)
	k := kernels.ToNHWC8Kernel
	if x.Dtype == "f32" {
		k = kernels.ToNHWC32Kernel
	}
	if err := p.elementwise(n, k, x.Dtype, "NCHW to NHWC", x.ElemsPerSample, bufArg(x), bufArg(y), perSample(x.ElemsPerSample),
		u32(x.SampleShape[0]), u32(x.SampleShape[1]*x.SampleShape[2])); err != nil {
		return nil, err
	}
	p.nhwcOf[x.Name] = y
	return y, nil
}

// transpose plans the Transposes that only rename a layout as views: an
// image held in row-major order whose dims are (H, W, C) (a TensorFlow
// model's NHWC input) transposed by (0, 3, 1, 2) is the NCHW image
// (C, H, W) in NHWC order, exactly what the convolutions read; and an NHWC
// image transposed by (0, 2, 3, 1) is the row-major (H, W, C) array. So the
// transposes around a TensorFlow export's NHWC boundary cost nothing. Any
// other permutation runs on the gather kernel.
func (p *planner) transpose(n *ir.Node) error {
	x, err := p.input(n, 0)
	if err != nil {
		return err
	}
	perm, err := ir.ResolvePerm(n.Attrs, len(x.SampleShape)+1)
	if err != nil {
		return err
	}
	is := func(want ...int) bool {
		if len(perm) != len(want) {
			return false
		}
		for i := range want {
			if perm[i] != want[i] {
				return false
			}
		}
		return true
	}
	switch {
	case len(x.SampleShape) == 3 && x.Layout != LayoutNHWC && is(0, 3, 1, 2):
		return p.alias(n.Outputs[0], x, LayoutNHWC)
	case len(x.SampleShape) == 3 && x.Layout == LayoutNHWC && is(0, 2, 3, 1):
		return p.alias(n.Outputs[0], x, LayoutNCHW)
	}
	return p.planGather(n)
}

// asRowMajor returns x with its elements in logical (row-major) order: x
// itself unless it is an NHWC image larger than 1×1, else an NCHW copy made
// by one transpose launch before n, shared by later readers. Kernels that
// read rows of the logical tensor (layer normalization, the MatMuls) take
// it.
func (p *planner) asRowMajor(n *ir.Node, x *engine.Buffer) (*engine.Buffer, error) {
	if x.Layout != LayoutNHWC || len(x.SampleShape) != 3 || x.SampleShape[1]*x.SampleShape[2] == 1 {
		return x, nil
	}
	name := x.Name + "/rowmajor"
	for _, b := range p.e.Buffers {
		if b.Name == name {
			return b, nil
		}
	}
	t := &engine.Buffer{Name: name, Dtype: x.Dtype, ElemsPerSample: x.ElemsPerSample,
		SampleShape: append([]int64(nil), x.SampleShape...), Layout: LayoutNCHW}
	p.e.Buffers = append(p.e.Buffers, t)
	if err := p.toNCHW(n, x, t); err != nil {
		return nil, err
	}
	return t, nil
}

// toNCHW plans the launch before n that copies the NHWC image x to t in
// NCHW order: 32×32 tiles through shared memory for 32-bit elements (one
// block a tile: the launch's work is tiles, not elements), one thread an
// element for bytes.
func (p *planner) toNCHW(n *ir.Node, x, t *engine.Buffer) error {
	c, hw := x.SampleShape[0], x.SampleShape[1]*x.SampleShape[2]
	if x.Dtype != "f32" {
		return p.elementwise(n, kernels.ToNCHW8Kernel, x.Dtype, "NHWC to NCHW", x.ElemsPerSample, bufArg(x), bufArg(t), perSample(x.ElemsPerSample), u32(c), u32(hw))
	}
	if err := p.opKernel(kernels.ToNCHW32Kernel); err != nil {
		return err
	}
	tiles := kernels.TransposeTiles(c, hw)
	p.e.Steps = append(p.e.Steps, &engine.Step{Node: n.Name, Op: n.Op, Kernel: kernels.ToNCHW32Kernel, Precision: x.Dtype,
		WorkPerSample: uint64(tiles), WorkPerBlockX: 1, GridY: 1, GridZ: 1, BlockX: kernels.TransposeThreads,
		Args: []*engine.Arg{bufArg(x), bufArg(t), perSample(tiles), u32(c), u32(hw)}, Note: "NHWC to NCHW, 32x32 tiles"})
	return nil
}

// copyLayout is the layout a copy that may write either order (the gather
// kernel, a constant copied to every sample) gives its output v:
// fallbackLayout's, NHWC for an image, unless every use of v takes rows of
// the logical tensor, directly or through ops that keep their one computed
// input's layout. Those readers would copy an NHWC image back to row-major
// order first (asRowMajor); torch 2's attention reads its batch-first
// [N, heads, L, d] queries, keys and values that way.
func (p *planner) copyLayout(v *ir.Value) string {
	if l := fallbackLayout(v); l != LayoutNHWC || !p.readsRowsOnly(v, maxLayoutHops) {
		return l
	}
	return LayoutNCHW
}

// maxLayoutHops bounds how far copyLayout follows layout-keeping ops.
const maxLayoutHops = 4

// rowReaders lists the ops whose planners read their computed inputs as
// rows of the logical tensor (asRowMajor).
var rowReaders = map[string]bool{"MatMul": true, "Softmax": true, "LogSoftmax": true, "LayerNormalization": true}

// layoutKeepers lists the elementwise ops (besides eltMathOps) whose
// planners write the output in their computed input's layout.
var layoutKeepers = map[string]bool{
	"Add": true, "Sub": true, "Mul": true, "Div": true,
	"Relu": true, "LeakyRelu": true, "Clip": true, "Sigmoid": true, "Tanh": true,
}

// readsRowsOnly reports whether v has uses and each is a rowReaders op or,
// within hops, an elementwise op whose only computed input is v (its
// output keeps v's layout), or a QuantizeLinear or DequantizeLinear (which
// keep it where their readers read rows: readAsRows), whose output reads
// rows only. The last two are the INT8 recipes' Q/DQ between a
// transformer's scaled queries and keys and its batched MatMul.
func (p *planner) readsRowsOnly(v *ir.Value, hops int) bool {
	uses := p.users[v]
	if len(uses) == 0 || p.g.IsOutput(v) {
		return false
	}
	for _, n := range uses {
		if rowReaders[n.Op] {
			continue
		}
		_, math := eltMathOps[n.Op]
		qdq := n.Op == "QuantizeLinear" || n.Op == "DequantizeLinear"
		if !(math || layoutKeepers[n.Op] || qdq) || hops == 0 || len(n.Outputs) != 1 || computedInputs(n) != 1 || !p.readsRowsOnly(n.Outputs[0], hops-1) {
			return false
		}
	}
	return true
}

// computedInputs counts n's inputs that are neither absent nor constant.
func computedInputs(n *ir.Node) int {
	k := 0
	for _, v := range n.Inputs {
		if v != nil && !v.IsConst() {
			k++
		}
	}
	return k
}

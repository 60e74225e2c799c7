package ampere

import (
	"fmt"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
)

// layerNorm plans an f32 LayerNormalization on kernels.LayerNormKernel,
// bit-exact against ir/ref. Each normalized row (the dims from axis on)
// must be consecutive in memory in logical order, which holds for any
// value not held as an NHWC image (ConvNeXt's and ViT's LayerNorms act on
// the channels-last view of an image, a Transpose of an NHWC buffer with no
// launch, or on token rows); an NHWC image is first copied to NCHW order.
// The output is in logical (NCHW) order. The scale and bias are constants that
// broadcast within a row; they are stored expanded to a row. The optional
// Mean and InvStdDev outputs are not computed.
func (p *planner) layerNorm(n *ir.Node) error {
	x, err := p.input(n, 0)
	if err != nil {
		return err
	}
	shape := n.Inputs[0].Type.Shape
	if x.Dtype != "f32" {
		return fmt.Errorf("input %s is %s, the GPU layer normalization takes f32", x.Name, x.Dtype)
	}
	for i, v := range n.Outputs {
		if i > 0 && v != nil && (len(p.users[v]) > 0 || p.g.IsOutput(v)) {
			return fmt.Errorf("output %s (the mean or inverse deviation) is read, the GPU layer normalization computes only Y", v.Name)
		}
	}
	axis, err := ir.NormAxis(n.Attrs.Int("axis", -1), len(shape))
	if err != nil {
		return err
	}
	if axis == 0 {
		return fmt.Errorf("axis 0 normalizes across the batch, the GPU normalizes each sample on its own")
	}
	row := x.SampleShape[axis-1:]
	size := int64(1)
	for _, d := range row {
		size *= d
	}
	if size == 0 || x.ElemsPerSample%size != 0 {
		return fmt.Errorf("input %s: rows of %d elements do not divide a sample of %d", x.Name, size, x.ElemsPerSample)
	}
	if x, err = p.asRowMajor(n, x); err != nil {
		return err
	}
	affine := func(i int, what string) (string, int64, error) {
		if i >= len(n.Inputs) || n.Inputs[i] == nil {
			return "", 0, nil
		}
		v := n.Inputs[i]
		if !v.IsConst() || v.Const.DType != ir.Float32 {
			return "", 0, fmt.Errorf("%s %s is not an f32 constant, the GPU layer normalization takes constant parameters", what, v.Name)
		}
		vals, err := expandToRow(v.Const, row)
		if err != nil {
			return "", 0, fmt.Errorf("%s %s: %w", what, v.Name, err)
		}
		wn := fmt.Sprintf("%s/%s_f32", n.Name, what)
		p.e.Weights = append(p.e.Weights, &engine.Weight{Name: wn, Kind: "f32", Data: leBytes(vals)})
		return wn, 1, nil
	}
	scale, hasScale, err := affine(1, "scale")
	if err != nil {
		return err
	}
	bias, hasBias, err := affine(2, "bias")
	if err != nil {
		return err
	}
	y, err := p.newBuffer(n.Outputs[0], LayoutNCHW)
	if err != nil {
		return err
	}
	// An absent scale or bias is never read: any valid pointer stands in.
	scaleArg, biasArg := bufArg(x), bufArg(x)
	if hasScale == 1 {
		scaleArg = weightArg(scale)
	}
	if hasBias == 1 {
		biasArg = weightArg(bias)
	}
	rows := x.ElemsPerSample / size
	p.useKernel(kernels.LayerNormKernel, kernels.LayerNormPTX())
	p.e.Steps = append(p.e.Steps, &engine.Step{Node: n.Name, Op: n.Op, Kernel: kernels.LayerNormKernel, Precision: "f32",
		WorkPerSample: uint64(rows), WorkPerBlockX: kernels.NormRowsPerBlock, GridY: 1, GridZ: 1, BlockX: kernels.RowThreads,
		Args: []*engine.Arg{bufArg(x), bufArg(y), scaleArg, biasArg, perSample(rows), u32(size), u32(hasScale), u32(hasBias),
			u32(1), u32(size), f32(n.Attrs.Float("epsilon", 1e-5))},
		Note: fmt.Sprintf("layer normalization, 8 lanes a row of %d", size)})
	return nil
}

// expandToRow broadcasts a constant to the normalized dims row (numpy
// rules, aligned at the right); a constant with a non-1 dim left of the row
// varies across rows, which the kernel's one row of parameters cannot hold.
func expandToRow(t *ir.Tensor, row []int64) ([]float32, error) {
	if len(t.Shape) > len(row) {
		for _, d := range t.Shape[:len(t.Shape)-len(row)] {
			if d != 1 {
				return nil, fmt.Errorf("shape %v varies outside the normalized dims %v", t.Shape, row)
			}
		}
	}
	dims := make([]int64, len(row))
	for i := range dims {
		dims[i] = 1
	}
	for i := 0; i < len(t.Shape) && i < len(row); i++ {
		dims[len(row)-1-i] = int64(t.Shape[len(t.Shape)-1-i])
	}
	strides := make([]int64, len(row))
	acc := int64(1)
	for k := len(row) - 1; k >= 0; k-- {
		switch {
		case dims[k] == row[k]:
			strides[k] = acc
		case dims[k] != 1:
			return nil, fmt.Errorf("shape %v does not broadcast to the normalized dims %v", t.Shape, row)
		}
		acc *= dims[k]
	}
	src := t.Float32s()
	total := int64(1)
	for _, d := range row {
		total *= d
	}
	out := make([]float32, total)
	idx := make([]int64, len(row))
	for o := range out {
		off := int64(0)
		for k := range idx {
			off += idx[k] * strides[k]
		}
		out[o] = src[off]
		for k := len(idx) - 1; k >= 0; k-- {
			if idx[k]++; idx[k] < row[k] {
				break
			}
			idx[k] = 0
		}
	}
	return out, nil
}

// channelNorm plans an f32 InstanceNormalization (a row a channel plane) or
// GroupNormalization (a row a group of channel planes) of an image on
// kernels.LayerNormKernel with one scale and bias a channel, as ir/ref's
// channelAffine applies them: bit-exact. An NHWC image is first copied to
// NCHW order; the output is NCHW.
func (p *planner) channelNorm(n *ir.Node) error {
	x, err := p.input(n, 0)
	if err != nil {
		return err
	}
	if x.Dtype != "f32" || len(x.SampleShape) < 2 {
		return fmt.Errorf("input %s is %s of rank %d, the GPU %s takes f32 of rank 3 or more", x.Name, x.Dtype, len(x.SampleShape)+1, n.Op)
	}
	c := x.SampleShape[0]
	spatial := x.ElemsPerSample / c
	size := spatial
	if n.Op == "GroupNormalization" {
		g := n.Attrs.Int("num_groups", 1)
		if g < 1 || c%g != 0 {
			return fmt.Errorf("num_groups %d does not divide %d channels", g, c)
		}
		size = c / g * spatial
	}
	params := make([]string, 2)
	for i, what := range []string{"scale", "bias"} {
		v := n.Inputs[1+i]
		if v == nil || !v.IsConst() || v.Const.DType != ir.Float32 || int64(v.Const.Len()) != c {
			return fmt.Errorf("%s of %s is not %d f32 constants (one a channel), which the GPU kernel takes", what, n.Name, c)
		}
		params[i] = fmt.Sprintf("%s/%s_f32", n.Name, what)
		p.e.Weights = append(p.e.Weights, &engine.Weight{Name: params[i], Kind: "f32", Data: leBytes(v.Const.Float32s())})
	}
	if x, err = p.asRowMajor(n, x); err != nil {
		return err
	}
	y, err := p.newBuffer(n.Outputs[0], LayoutNCHW)
	if err != nil {
		return err
	}
	if y.ElemsPerSample != x.ElemsPerSample {
		return fmt.Errorf("output %s has %d elements a sample, want %d", y.Name, y.ElemsPerSample, x.ElemsPerSample)
	}
	rows := x.ElemsPerSample / size
	p.useKernel(kernels.LayerNormKernel, kernels.LayerNormPTX())
	p.e.Steps = append(p.e.Steps, &engine.Step{Node: n.Name, Op: n.Op, Kernel: kernels.LayerNormKernel, Precision: "f32",
		WorkPerSample: uint64(rows), WorkPerBlockX: kernels.NormRowsPerBlock, GridY: 1, GridZ: 1, BlockX: kernels.RowThreads,
		Args: []*engine.Arg{bufArg(x), bufArg(y), weightArg(params[0]), weightArg(params[1]), perSample(rows), u32(size), u32(1), u32(1),
			u32(spatial), u32(c), f32(n.Attrs.Float("epsilon", 1e-5))},
		Note: fmt.Sprintf("%s, 8 lanes a row of %d", n.Op, size)})
	return nil
}

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
	k := kernels.ToNCHW8Kernel
	if x.Dtype == "f32" {
		k = kernels.ToNCHW32Kernel
	}
	if err := p.elementwise(n, k, x.Dtype, "NHWC to NCHW", x.ElemsPerSample, bufArg(x), bufArg(t), perSample(x.ElemsPerSample),
		u32(x.SampleShape[0]), u32(x.SampleShape[1]*x.SampleShape[2])); err != nil {
		return nil, err
	}
	return t, nil
}

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

package ampere

import (
	"fmt"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
)

// averagePool plans a 2-D f32 AveragePool on kernels.AvgPoolF32Kernel,
// bit-exact against ir/ref, reading the image in the order it is held
// (NCHW or NHWC) and writing the output in the same order, so no relayout
// launch is added.
func (p *planner) averagePool(n *ir.Node) error {
	x, err := p.input(n, 0)
	if err != nil {
		return err
	}
	if x.Dtype != "f32" || len(x.SampleShape) != 3 {
		return fmt.Errorf("input %s is %s of rank %d, the GPU average pool takes f32 2-D images", x.Name, x.Dtype, len(x.SampleShape)+1)
	}
	ks := n.Attrs.Ints("kernel_shape")
	if len(ks) != 2 {
		return fmt.Errorf("kernel_shape %v, the GPU average pool takes 2 dims", ks)
	}
	geo, err := ir.ResolveConvGeom(n.Attrs, n.Inputs[0].Type.Shape[2:], []int{int(ks[0]), int(ks[1])}, n.Attrs.Int("ceil_mode", 0) != 0)
	if err != nil {
		return err
	}
	layout, nhwc := LayoutNCHW, int64(0)
	if x.Layout == LayoutNHWC {
		layout, nhwc = LayoutNHWC, 1
	}
	y, err := p.newBuffer(n.Outputs[0], layout)
	if err != nil {
		return err
	}
	c := x.SampleShape[0]
	if len(y.SampleShape) != 3 || y.SampleShape[0] != c || y.SampleShape[1] != int64(geo.Out[0]) || y.SampleShape[2] != int64(geo.Out[1]) {
		return fmt.Errorf("output %s has shape %v, the pool's geometry gives %d×%d×%d", y.Name, y.SampleShape, c, geo.Out[0], geo.Out[1])
	}
	includePad := int64(0)
	if n.Attrs.Int("count_include_pad", 0) == 1 {
		includePad = 1
	}
	p.useKernel(kernels.AvgPoolF32Kernel, kernels.AvgPoolPTX())
	p.e.Steps = append(p.e.Steps, &engine.Step{Node: n.Name, Op: n.Op, Kernel: kernels.AvgPoolF32Kernel, Precision: "f32",
		WorkPerSample: uint64(y.ElemsPerSample), WorkPerBlockX: kernels.OpThreads, GridY: 1, GridZ: 1, BlockX: kernels.OpThreads,
		Args: []*engine.Arg{bufArg(x), bufArg(y), perSample(y.ElemsPerSample), u32(c), u32(int64(geo.In[0])), u32(int64(geo.In[1])),
			u32(int64(geo.Out[0])), u32(int64(geo.Out[1])), u32(ks[0]), u32(ks[1]),
			u32(int64(geo.Strides[0])), u32(int64(geo.Strides[1])), u32(int64(geo.PadBegin[0])), u32(int64(geo.PadBegin[1])),
			u32(int64(geo.Dilations[0])), u32(int64(geo.Dilations[1])), u32(int64(geo.PadEnd[0])), u32(int64(geo.PadEnd[1])),
			u32(nhwc), u32(includePad)},
		Note: "float average pool in " + layout + " order"})
	return nil
}

// globalMaxPool plans an f32 GlobalMaxPool as one max pool over the whole
// image on kernels.MaxPoolF32Kernel, whose rule is ir/ref's (the first tap,
// then a greater one or a NaN, a NaN never replaced): bit-exact. The output
// is a 1×1 image, the same bytes in any order.
func (p *planner) globalMaxPool(n *ir.Node) error {
	x, err := p.input(n, 0)
	if err != nil {
		return err
	}
	if x.Dtype != "f32" || len(x.SampleShape) != 3 {
		return fmt.Errorf("input %s is %s of rank %d, the GPU global max pool takes f32 2-D images", x.Name, x.Dtype, len(x.SampleShape)+1)
	}
	if x, err = p.asNHWC(n, x); err != nil {
		return err
	}
	c, h, w := x.SampleShape[0], x.SampleShape[1], x.SampleShape[2]
	y, err := p.newBuffer(n.Outputs[0], LayoutNCHW)
	if err != nil {
		return err
	}
	if y.ElemsPerSample != c {
		return fmt.Errorf("output %s has %d elements a sample, want %d", y.Name, y.ElemsPerSample, c)
	}
	return p.elementwise(n, kernels.MaxPoolF32Kernel, "f32", "global max pool: one window over the image", c, bufArg(x), bufArg(y), perSample(c),
		u32(c), u32(h), u32(w), u32(1), u32(1), u32(h), u32(w), u32(1), u32(1), u32(0), u32(0), u32(1), u32(1))
}

package ampere

import (
	"fmt"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
)

// floatConvTranspose plans a 2-D f32 ConvTranspose with constant weights on
// kernels.ConvTransposeKernel (ir/ref's summation order: bit-exact). The
// geometry is ir.ResolveConvTransposeGeom's (pads, auto_pad, output_padding,
// output_shape); the input is read in the order it is held and the output
// written NHWC, as the float convolution does.
func (p *planner) floatConvTranspose(n *ir.Node) error {
	x, err := p.input(n, 0)
	if err != nil {
		return err
	}
	if x.Dtype != "f32" || len(x.SampleShape) != 3 {
		return fmt.Errorf("input %s is %s of rank %d, the GPU transposed convolution takes f32 2-D images", x.Name, x.Dtype, len(x.SampleShape)+1)
	}
	w, err := p.weight(n, 1, "weight")
	if err != nil {
		return err
	}
	if len(w.Shape) != 4 {
		return fmt.Errorf("weight %s has shape %v, want C×M/group×KH×KW", n.Inputs[1].Name, w.Shape)
	}
	c := x.SampleShape[0]
	group := n.Attrs.Int("group", 1)
	mg := int64(w.Shape[1])
	m := mg * group
	if group < 1 || int64(w.Shape[0]) != c || c%group != 0 {
		return fmt.Errorf("weight %v with group %d does not fit %d input channels", w.Shape, group, c)
	}
	geo, err := ir.ResolveConvTransposeGeom(n.Attrs, n.Inputs[0].Type.Shape[2:], w.Shape[2:])
	if err != nil {
		return err
	}
	bias := make([]float32, m)
	if len(n.Inputs) > 2 && n.Inputs[2] != nil {
		bt, err := p.weight(n, 2, "bias")
		if err != nil {
			return err
		}
		if bt.Len() != int(m) {
			return fmt.Errorf("bias has %d values, want %d", bt.Len(), m)
		}
		copy(bias, bt.Float32s())
	}
	y, err := p.newBuffer(n.Outputs[0], LayoutNHWC)
	if err != nil {
		return err
	}
	// The forward convolution's input is this node's output.
	if len(y.SampleShape) != 3 || y.SampleShape[0] != m || y.SampleShape[1] != int64(geo.In[0]) || y.SampleShape[2] != int64(geo.In[1]) {
		return fmt.Errorf("output %s has shape %v, the geometry gives %d×%d×%d", y.Name, y.SampleShape, m, geo.In[0], geo.In[1])
	}
	xnhwc := int64(0)
	if x.Layout == LayoutNHWC {
		xnhwc = 1
	}
	wn, bn := n.Name+"/w_f32", n.Name+"/b_f32"
	p.e.Weights = append(p.e.Weights, &engine.Weight{Name: wn, Kind: "f32", Data: leBytes(w.Float32s())},
		&engine.Weight{Name: bn, Kind: "f32", Data: leBytes(bias)})
	p.useKernel(kernels.ConvTransposeKernel, kernels.ConvTransposePTX())
	p.e.Steps = append(p.e.Steps, &engine.Step{Node: n.Name, Op: n.Op, Kernel: kernels.ConvTransposeKernel, Precision: "f32",
		WorkPerSample: uint64(y.ElemsPerSample), WorkPerBlockX: kernels.OpThreads, GridY: 1, GridZ: 1, BlockX: kernels.OpThreads,
		Args: []*engine.Arg{bufArg(x), bufArg(y), weightArg(wn), weightArg(bn), perSample(y.ElemsPerSample),
			u32(c), u32(x.SampleShape[1]), u32(x.SampleShape[2]), u32(m), u32(int64(geo.In[0])), u32(int64(geo.In[1])),
			u32(int64(geo.Kernel[0])), u32(int64(geo.Kernel[1])), u32(int64(geo.Strides[0])), u32(int64(geo.Strides[1])),
			u32(int64(geo.PadBegin[0])), u32(int64(geo.PadBegin[1])), u32(int64(geo.Dilations[0])), u32(int64(geo.Dilations[1])),
			u32(c / group), u32(mg), u32(xnhwc)},
		Note: "float transposed convolution"})
	return nil
}

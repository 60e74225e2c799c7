package ampere

import (
	"fmt"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
)

// qOutRange returns the clamp range of an int8 output minus its zero
// point, and the zero point: the epilogue clamps before adding zy, so the
// GEMM and the grouped kernel both take [qlo − zy, qhi − zy].
func qOutRange(out *ir.Value, act string, clo, chi float32) (qlo, qhi, zy int32, err error) {
	if out.Quant == nil || !out.Quant.PerTensor() {
		return 0, 0, 0, fmt.Errorf("output %s must be per-tensor quantized", out.Name)
	}
	zy = out.Quant.ZeroPoint[0]
	lo, hi, err := ir.QActivationRange(act, clo, chi, out.Quant.Scale[0], zy)
	if err != nil {
		return 0, 0, 0, err
	}
	return lo - zy, hi - zy, zy, nil
}

// qResidual reads the fused residual of a QConv/QGemm (input 4, its
// multiplier input 5): an i8 buffer in the order the op writes its
// output (a QConv's image NHWC, a QGemm's rows row-major), its zero point
// and the scalar multiplier.
func (p *planner) qResidual(n *ir.Node) (*engine.Buffer, int32, float32, error) {
	r, err := p.input(n, 4)
	if err != nil {
		return nil, 0, 0, err
	}
	rv := n.Inputs[4]
	if n.Op == "QGemm" {
		// A QGemm writes its rows in row-major order: its residual is
		// read in the same order.
		if r, err = p.asRowMajor(n, r); err != nil {
			return nil, 0, 0, err
		}
	} else if len(r.SampleShape) == 3 && r.Layout != LayoutNHWC {
		return nil, 0, 0, fmt.Errorf("residual %s must be in NHWC order", rv.Name)
	}
	if r.Dtype != "i8" || rv.Quant == nil || !rv.Quant.PerTensor() {
		return nil, 0, 0, fmt.Errorf("residual %s must be per-tensor quantized i8", rv.Name)
	}
	if len(n.Inputs) < 6 || n.Inputs[5] == nil || !n.Inputs[5].IsConst() || n.Inputs[5].Const.DType != ir.Float32 || n.Inputs[5].Const.Len() != 1 {
		return nil, 0, 0, fmt.Errorf("residual multiplier missing or not one f32 constant")
	}
	return r, rv.Quant.ZeroPoint[0], n.Inputs[5].Const.Float32s()[0], nil
}

// groupVec runs the grouped and depthwise QConvs it can take on the
// vectorized kernels (kernels.QGroupVec: V output channels a thread, dp4a
// on raw codes, the input zero point folded into the bias) instead of the
// direct one-element kernel: bit-exact like it. A variable so that tests
// cover both kernels, and so that one line turns it off.
var groupVec = true

// qgroupConv plans a grouped or depthwise QConv (group g > 1) as one
// launch of a direct kernel, int8 or (an unquantized output) f32 out: the
// vectorized kernel where it takes the shape (depthwise, or Cg and Mg
// multiples of 4; weights packed by kernels.QGroupVecWeights, the input
// zero point folded into the bias), else the one-element kernel, whose
// weights stay in ONNX order [M][Cg][KH][KW] and bias raw (it subtracts
// zx from every tap it reads and skips padding taps). The caller has
// checked the input is per-tensor i8 and the weight a symmetric i8
// constant.
func (p *planner) qgroupConv(n *ir.Node, x *engine.Buffer, g64 int64) error {
	g := int(g64)
	xv, wv, out := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	if x.Layout != LayoutNHWC || len(x.SampleShape) != 3 {
		return fmt.Errorf("input %s is in %s order of rank %d, the grouped convolution reads NHWC images", x.Name, x.Layout, len(x.SampleShape)+1)
	}
	outF32 := out.Quant == nil
	ws := wv.Const.Shape
	if len(ws) != 4 {
		return fmt.Errorf("weight %s has shape %v, the GPU runs 2-D convolutions", wv.Name, ws)
	}
	m, cg, kh, kw := ws[0], ws[1], ws[2], ws[3]
	c := int(x.SampleShape[0])
	if g < 1 || c != cg*g || m%g != 0 {
		return fmt.Errorf("group %d: input %s has %d channels and weight %s shape %v, want C = group·Cg and M a multiple of group", g, xv.Name, c, wv.Name, ws)
	}
	geo, err := ir.ResolveConvGeom(n.Attrs, xv.Type.Shape[2:], []int{kh, kw}, false)
	if err != nil {
		return err
	}
	why := "dense direct grouped convolution"
	if wv.Sparsity != nil {
		// The 2:4 tensor-core path is a GEMM over all C channels; the
		// direct kernel has no sparse form, so the claim buys nothing.
		why = "dense: grouped convolution has no 2:4 kernel, the weight's 2:4 claim is not used"
	}
	var bias []int32
	if len(n.Inputs) > 3 && n.Inputs[3] != nil {
		bv := n.Inputs[3]
		if !bv.IsConst() || bv.Const.DType != ir.Int32 || bv.Const.Len() != m {
			return fmt.Errorf("bias %s must be %d i32 constants", bv.Name, m)
		}
		bias = bv.Const.Int32s()
	} else {
		bias = make([]int32, m)
	}
	mv := n.Inputs[2]
	if mv == nil || !mv.IsConst() || mv.Const.DType != ir.Float32 || mv.Const.Len() != m {
		return fmt.Errorf("multiplier of %s must be %d f32 constants", n.Name, m)
	}
	act, clo, chi, err := ir.FusedActivation(n.Attrs)
	if err != nil {
		return err
	}
	var qlo, qhi, zy int32
	if !outF32 {
		if qlo, qhi, zy, err = qOutRange(out, act, clo, chi); err != nil {
			return err
		}
	}
	hasres, zr, mr := int64(0), int32(0), float32(0)
	var r *engine.Buffer
	rArg := bufArg(x) // never read when hasres is 0, but must be a valid pointer
	if len(n.Inputs) > 4 && n.Inputs[4] != nil {
		if r, zr, mr, err = p.qResidual(n); err != nil {
			return err
		}
		hasres, rArg = 1, bufArg(r)
	}
	y, err := p.newBuffer(out, LayoutNHWC)
	if err != nil {
		return err
	}
	perOut := int64(geo.Out[0] * geo.Out[1] * m)
	if y.ElemsPerSample != perOut || (r != nil && r.ElemsPerSample != perOut) {
		return fmt.Errorf("output %s has %d elements a sample, want %d (and the residual's count)", out.Name, y.ElemsPerSample, perOut)
	}
	zx := xv.Quant.ZeroPoint[0]
	vec, useVec := kernels.QGroupVecFor(cg, m/g, m, outF32)
	useVec = useVec && groupVec
	wData, bData, work := wv.Const.Int8s(), bias, int64(perOut)
	kernel, params, zxArg := kernels.QGroupConvKernel, kernels.QGroupConvParams, zx
	if outF32 {
		kernel, params = kernels.QGroupConvF32Kernel, kernels.QGroupConvF32Params
	}
	if useVec {
		wData, bData = kernels.QGroupVecWeights(vec, wData, m, cg, kh, kw), kernels.QGroupVecBias(bias, wData, zx, m)
		work = int64(vec.Threads(geo.Out[0], geo.Out[1], m))
		kernel, params, zxArg = vec.Name(), vec.Params(), kernels.ZeroPointWord(zx)
		why = fmt.Sprintf("%s; %s: %d output channels a thread, dp4a", why, kernel, vec.V)
	} else {
		why = fmt.Sprintf("%s; %s: one thread an element (Cg %d, Mg %d: the vectorized kernels take depthwise on an even channel count, or Cg and Mg multiples of 4)", why, kernel, cg, m/g)
	}
	wName, bName, mName := n.Name+"/w", n.Name+"/bias", n.Name+"/mult"
	p.e.Weights = append(p.e.Weights, &engine.Weight{Name: wName, Kind: "dense", Data: leBytes(wData)},
		&engine.Weight{Name: bName, Kind: "bias", Data: leBytes(bData)},
		&engine.Weight{Name: mName, Kind: "mult", Data: leBytes(mv.Const.Float32s())})
	args := []*engine.Arg{bufArg(x), weightArg(wName), weightArg(bName), weightArg(mName), rArg, bufArg(y),
		perSample(work), u32(int64(c)), u32(int64(geo.In[0])), u32(int64(geo.In[1])), u32(int64(m)),
		u32(int64(geo.Out[0])), u32(int64(geo.Out[1])), u32(int64(kh)), u32(int64(kw)),
		u32(int64(geo.Strides[0])), u32(int64(geo.Strides[1])), u32(int64(geo.PadBegin[0])), u32(int64(geo.PadBegin[1])),
		u32(int64(geo.Dilations[0])), u32(int64(geo.Dilations[1])), u32(int64(cg)), u32(int64(m / g)), u32(hasres)}
	precision := "int8"
	if outF32 {
		// The f32 epilogue of ir/ref's QConv: the activation on the
		// float value, no rounding.
		code := map[string]int64{ir.ActNone: kernels.QGroupActNone, ir.ActRelu: kernels.QGroupActRelu, ir.ActClip: kernels.QGroupActClip}
		c, ok := code[act]
		if !ok {
			return fmt.Errorf("activation %q with an f32 output, the grouped convolution applies relu or clip", act)
		}
		precision = "int8->f32"
		args = append(args, u32(c), s32(zxArg), s32(zr), f32(mr), f32(clo), f32(chi))
	} else {
		args = append(args, s32(zxArg), s32(zr), s32(qlo), s32(qhi), s32(zy), f32(mr))
	}
	switch {
	case useVec:
		p.useKernel(kernel, vec.PTX())
	case outF32:
		p.useKernel(kernel, kernels.QGroupConvF32PTX())
	default:
		p.useKernel(kernel, kernels.QGroupConvPTX())
	}
	if len(args) != len(params) {
		return fmt.Errorf("internal: %d launch arguments for %d kernel parameters", len(args), len(params))
	}
	p.e.Steps = append(p.e.Steps, &engine.Step{Node: n.Name, Op: n.Op, Kernel: kernel, Precision: precision,
		WorkPerSample: uint64(work), WorkPerBlockX: kernels.OpThreads, GridY: 1, GridZ: 1, BlockX: kernels.OpThreads,
		Args: args, Note: why})
	return nil
}

package ampere

import (
	"fmt"
	"math"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
)

// The float fallback: Conv, FusedConv, Gemm, FusedGemm and MatMul left in
// f32 (a layer the recipe keeps float, or a float graph compiled with
// graph.sqr) run on kernels.FloatConvKernel, one thread an output element.
// The convolution reads its input in the layout the planner keeps for it
// (NCHW or NHWC) and writes NHWC, so no relayout launch is added; Gemm and MatMul are 1×1
// convolutions of 1×1 images over flat rows.

// floatLaunch adds one launch of the float convolution.
func (p *planner) floatLaunch(n *ir.Node, note string, total int64, args ...*engine.Arg) {
	p.useKernel(kernels.FloatConvKernel, kernels.FloatConvPTX())
	p.e.Steps = append(p.e.Steps, &engine.Step{Node: n.Name, Op: n.Op, Kernel: kernels.FloatConvKernel, Precision: "f32",
		WorkPerSample: uint64(total), WorkPerBlockX: kernels.OpThreads, GridY: 1, GridZ: 1, BlockX: kernels.OpThreads,
		Args: args, Note: note})
}

// floatAct reads a fused node's activation as the kernel's clamp bounds;
// a plain Conv/Gemm/MatMul clamps to [−inf, +inf].
func floatAct(n *ir.Node) (lo, hi float32, err error) {
	lo, hi = float32(math.Inf(-1)), float32(math.Inf(1))
	if n.Op != "FusedConv" && n.Op != "FusedGemm" {
		return lo, hi, nil
	}
	act, l, h, err := ir.FusedActivation(n.Attrs)
	if err != nil {
		return 0, 0, err
	}
	switch act {
	case ir.ActRelu:
		return 0, hi, nil
	case ir.ActClip:
		if l > h {
			// ONNX Clip: min > max gives max everywhere.
			l = h
		}
		return l, h, nil
	}
	return lo, hi, nil
}

// constWeight returns input i as an f32 constant.
func constWeight(n *ir.Node, i int, what string) (*ir.Tensor, error) {
	if i >= len(n.Inputs) || n.Inputs[i] == nil {
		return nil, fmt.Errorf("%s (input %d) is missing", what, i)
	}
	v := n.Inputs[i]
	if !v.IsConst() || v.Const.DType != ir.Float32 {
		return nil, fmt.Errorf("%s %s is not an f32 constant, the GPU float kernel takes constant weights", what, v.Name)
	}
	return v.Const, nil
}

// residual returns the optional residual input 3 of a fused node, checked
// against the output buffer y; without one, y stands in (never read).
func (p *planner) residual(n *ir.Node, y *engine.Buffer) (*engine.Buffer, int64, error) {
	if (n.Op != "FusedConv" && n.Op != "FusedGemm") || len(n.Inputs) < 4 || n.Inputs[3] == nil {
		return y, 0, nil
	}
	r, err := p.input(n, 3)
	if err != nil {
		return nil, 0, err
	}
	if r.Dtype != "f32" || r.ElemsPerSample != y.ElemsPerSample || (len(r.SampleShape) == 3 && r.Layout != y.Layout) {
		return nil, 0, fmt.Errorf("residual %s is %s %s with %d elements a sample, want f32 %s with %d like the output",
			r.Name, r.Dtype, r.Layout, r.ElemsPerSample, y.Layout, y.ElemsPerSample)
	}
	return r, 1, nil
}

// floatConv plans a 2-D f32 Conv or FusedConv.
func (p *planner) floatConv(n *ir.Node) error {
	x, err := p.input(n, 0)
	if err != nil {
		return err
	}
	if x.Dtype != "f32" || len(x.SampleShape) != 3 || (x.Layout != LayoutNCHW && x.Layout != LayoutNHWC) {
		return fmt.Errorf("input %s is %s %s of rank %d, the GPU float convolution takes f32 NCHW/NHWC 2-D images", x.Name, x.Dtype, x.Layout, len(x.SampleShape)+1)
	}
	w, err := constWeight(n, 1, "weight")
	if err != nil {
		return err
	}
	if len(w.Shape) != 4 {
		return fmt.Errorf("weight %s has shape %v, want M×C/group×KH×KW", n.Inputs[1].Name, w.Shape)
	}
	c, h, wd := x.SampleShape[0], x.SampleShape[1], x.SampleShape[2]
	m, cg := int64(w.Shape[0]), int64(w.Shape[1])
	group := n.Attrs.Int("group", 1)
	if group < 1 || c != cg*group || m%group != 0 {
		return fmt.Errorf("weight %v with group %d does not fit %d input channels", w.Shape, group, c)
	}
	geom, err := ir.ResolveConvGeom(n.Attrs, []ir.Dim{ir.D(h), ir.D(wd)}, []int{w.Shape[2], w.Shape[3]}, false)
	if err != nil {
		return err
	}
	bias := make([]float32, m)
	if len(n.Inputs) > 2 && n.Inputs[2] != nil {
		bt, err := constWeight(n, 2, "bias")
		if err != nil {
			return err
		}
		if bt.Len() != int(m) {
			return fmt.Errorf("bias has %d values, want %d", bt.Len(), m)
		}
		copy(bias, bt.Float32s())
	}
	lo, hi, err := floatAct(n)
	if err != nil {
		return err
	}
	// The output is NHWC whatever the input's order, the layout the
	// rest of the planner (pools, the int8 convolutions) expects.
	y, err := p.newBuffer(n.Outputs[0], LayoutNHWC)
	if err != nil {
		return err
	}
	if len(y.SampleShape) != 3 || y.SampleShape[0] != m {
		return fmt.Errorf("output %s has shape %v, want %d channels", y.Name, y.SampleShape, m)
	}
	oh, ow := y.SampleShape[1], y.SampleShape[2]
	if int64(geom.Out[0]) != oh || int64(geom.Out[1]) != ow {
		return fmt.Errorf("output %s is %d×%d, the geometry gives %d×%d", y.Name, oh, ow, geom.Out[0], geom.Out[1])
	}
	r, hasRes, err := p.residual(n, y)
	if err != nil {
		return err
	}
	wn, bn := n.Name+"/w_f32", n.Name+"/b_f32"
	p.e.Weights = append(p.e.Weights, &engine.Weight{Name: wn, Kind: "f32", Data: leBytes(w.Float32s())},
		&engine.Weight{Name: bn, Kind: "f32", Data: leBytes(bias)})
	xnhwc := int64(0)
	if x.Layout == LayoutNHWC {
		xnhwc = 1
	}
	p.floatLaunch(n, "float fallback convolution", y.ElemsPerSample, bufArg(x), bufArg(y), weightArg(wn), weightArg(bn), bufArg(r),
		perSample(y.ElemsPerSample), u32(c), u32(h), u32(wd), u32(m), u32(oh), u32(ow),
		u32(int64(geom.Kernel[0])), u32(int64(geom.Kernel[1])), u32(int64(geom.Strides[0])), u32(int64(geom.Strides[1])),
		u32(int64(geom.PadBegin[0])), u32(int64(geom.PadBegin[1])), u32(int64(geom.Dilations[0])), u32(int64(geom.Dilations[1])),
		u32(cg), u32(m/group), u32(xnhwc), u32(1), u32(hasRes), f32(lo), f32(hi))
	return nil
}

// floatGemm plans an f32 Gemm, FusedGemm or 2-D MatMul whose right
// operand is constant: the weight is laid out M×K with alpha folded in and
// the bias is beta·C (C of M values, one value, or absent), each product
// rounded to f32 as ir/ref rounds them (its summation order scales B by
// alpha and C by beta before summing, ir/ref/sumorder.go), so that the
// kernel equals the reference bit for bit.
func (p *planner) floatGemm(n *ir.Node) error {
	a, err := p.input(n, 0)
	if err != nil {
		return err
	}
	// A Gemm's A has one row a sample, or rows of [rows, K] a sample in
	// the per-sample view of a moved batch (plan_moved.go).
	rowsOK := len(a.SampleShape) == 1 || len(a.SampleShape) == 2 && n.Op != "MatMul" && a.Layout == LayoutFlat
	if a.Dtype != "f32" || !rowsOK {
		return fmt.Errorf("input %s is %s of rank %d, the GPU float Gemm takes f32 rows (rank 2)", a.Name, a.Dtype, len(a.SampleShape)+1)
	}
	if n.Attrs.Int("transA", 0) != 0 {
		return fmt.Errorf("transA = 1: the GPU float Gemm takes A with the batch as rows")
	}
	bt, err := constWeight(n, 1, "B")
	if err != nil {
		return err
	}
	if len(bt.Shape) != 2 {
		return fmt.Errorf("input B %s has shape %v, want 2-D", n.Inputs[1].Name, bt.Shape)
	}
	k := a.SampleShape[len(a.SampleShape)-1]
	rows := a.ElemsPerSample / k
	transB := n.Op != "MatMul" && n.Attrs.Int("transB", 0) != 0
	alpha, beta := float32(1), float32(1)
	if n.Op != "MatMul" {
		alpha, beta = n.Attrs.Float("alpha", 1), n.Attrs.Float("beta", 1)
	}
	var m int64
	if transB {
		m = int64(bt.Shape[0])
		if int64(bt.Shape[1]) != k {
			return fmt.Errorf("input B %v (transposed) does not fit K = %d", bt.Shape, k)
		}
	} else {
		m = int64(bt.Shape[1])
		if int64(bt.Shape[0]) != k {
			return fmt.Errorf("input B %v does not fit K = %d", bt.Shape, k)
		}
	}
	bs := bt.Float32s()
	wt := make([]float32, m*k)
	for j := int64(0); j < m; j++ {
		for i := int64(0); i < k; i++ {
			v := bs[i*m+j]
			if transB {
				v = bs[j*k+i]
			}
			wt[j*k+i] = alpha * v
		}
	}
	bias := make([]float32, m)
	if n.Op != "MatMul" && len(n.Inputs) > 2 && n.Inputs[2] != nil {
		ct, err := constWeight(n, 2, "C")
		if err != nil {
			return err
		}
		cs := ct.Float32s()
		switch {
		case beta == 0:
			// ir/ref ignores C (BLAS's rule): no 0·inf = NaN.
		case len(cs) == int(m) && (len(ct.Shape) == 1 || len(ct.Shape) == 2 && ct.Shape[0] == 1):
			for j := range bias {
				bias[j] = beta * cs[j]
			}
		case len(cs) == 1:
			for j := range bias {
				bias[j] = beta * cs[0]
			}
		default:
			return fmt.Errorf("input C has shape %v, the GPU float Gemm broadcasts M = %d values or one", ct.Shape, m)
		}
	}
	lo, hi, err := floatAct(n)
	if err != nil {
		return err
	}
	y, err := p.newBuffer(n.Outputs[0], LayoutFlat)
	if err != nil {
		return err
	}
	if len(y.SampleShape) != len(a.SampleShape) || y.SampleShape[len(y.SampleShape)-1] != m || y.ElemsPerSample != rows*m {
		return fmt.Errorf("output %s has shape %v, want %d rows of %d columns", y.Name, y.SampleShape, rows, m)
	}
	r, hasRes, err := p.residual(n, y)
	if err != nil {
		return err
	}
	wn, bn := n.Name+"/w_f32", n.Name+"/b_f32"
	p.e.Weights = append(p.e.Weights, &engine.Weight{Name: wn, Kind: "f32", Data: leBytes(wt)},
		&engine.Weight{Name: bn, Kind: "f32", Data: leBytes(bias)})
	// Rows as a column of pixels (H = rows, W = 1, C = K) in NHWC order,
	// which is row-major: the kernel then reads and writes rows as stored.
	// One row a sample is a 1×1 image, the same in either order.
	nhwc := int64(0)
	if rows > 1 {
		nhwc = 1
	}
	p.floatLaunch(n, "float fallback gemm", rows*m, bufArg(a), bufArg(y), weightArg(wn), weightArg(bn), bufArg(r),
		perSample(rows*m), u32(k), u32(rows), u32(1), u32(m), u32(rows), u32(1), u32(1), u32(1), u32(1), u32(1),
		u32(0), u32(0), u32(1), u32(1), u32(k), u32(m), u32(nhwc), u32(nhwc), u32(hasRes), f32(lo), f32(hi))
	return nil
}

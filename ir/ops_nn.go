package ir

import "fmt"

// The heavy neural-network ops: convolution, transposed convolution, Gemm,
// MatMul, pooling and inference-form batch normalization. Shapes follow the
// ONNX operator documentation at its newest opset; dtype sets are ONNX's.

// The attribute sets of the window ops, shared by their schemas.
var (
	nnConvAttrs = map[string]AttrKind{
		"auto_pad": AttrString, "dilations": AttrInts, "group": AttrInt,
		"kernel_shape": AttrInts, "pads": AttrInts, "strides": AttrInts,
	}
	nnConvTransposeAttrs = map[string]AttrKind{
		"auto_pad": AttrString, "dilations": AttrInts, "group": AttrInt,
		"kernel_shape": AttrInts, "output_padding": AttrInts, "output_shape": AttrInts,
		"pads": AttrInts, "strides": AttrInts,
	}
	nnMaxPoolAttrs = map[string]AttrKind{
		"auto_pad": AttrString, "ceil_mode": AttrInt, "dilations": AttrInts,
		"kernel_shape": AttrInts, "pads": AttrInts, "storage_order": AttrInt, "strides": AttrInts,
	}
	nnAveragePoolAttrs = map[string]AttrKind{
		"auto_pad": AttrString, "ceil_mode": AttrInt, "count_include_pad": AttrInt,
		"dilations": AttrInts, "kernel_shape": AttrInts, "pads": AttrInts, "strides": AttrInts,
	}
)

func init() {
	Register(&OpSchema{Name: "Conv",
		Doc:       "n-d convolution of X (N×C×D1…) with W (M×C/group×K1…) plus optional bias B (M)",
		MinInputs: 2, MaxInputs: 3, MinOutputs: 1, MaxOutputs: 1,
		Attrs: nnConvAttrs, Infer: inferConv})
	Register(&OpSchema{Name: "ConvTranspose",
		Doc:       "n-d transposed convolution of X (N×C×D1…) with W (C×M/group×K1…) plus optional bias B (M)",
		MinInputs: 2, MaxInputs: 3, MinOutputs: 1, MaxOutputs: 1,
		Attrs: nnConvTransposeAttrs, Infer: inferConvTranspose})
	Register(&OpSchema{Name: "Gemm",
		Doc:       "alpha·op(A)·op(B) + beta·C for 2-d A and B (op transposes when transA/transB), C broadcast to the result",
		MinInputs: 2, MaxInputs: 3, MinOutputs: 1, MaxOutputs: 1,
		Attrs: map[string]AttrKind{"alpha": AttrFloat, "beta": AttrFloat, "transA": AttrInt, "transB": AttrInt},
		Infer: inferGemm})
	Register(&OpSchema{Name: "MatMul",
		Doc:       "matrix product with numpy semantics: batch dims broadcast, 1-d operands promoted and the added dim removed",
		MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1, Infer: inferMatMul})
	Register(&OpSchema{Name: "MaxPool",
		Doc:       "maximum over sliding windows of X (N×C×D1…); optional Indices output holds each maximum's flat index",
		MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 2,
		Attrs: nnMaxPoolAttrs, Infer: inferMaxPool})
	Register(&OpSchema{Name: "AveragePool",
		Doc:       "mean over sliding windows of X (N×C×D1…); padding counted only when count_include_pad is 1",
		MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
		Attrs: nnAveragePoolAttrs, Infer: inferAveragePool})
	Register(&OpSchema{Name: "GlobalAveragePool",
		Doc:       "mean of each channel of X (N×C×D1…) over all its spatial dims, giving N×C×1…",
		MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1, Infer: inferGlobalPool})
	Register(&OpSchema{Name: "GlobalMaxPool",
		Doc:       "maximum of each channel of X (N×C×D1…) over all its spatial dims, giving N×C×1…",
		MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1, Infer: inferGlobalPool})
	Register(&OpSchema{Name: "BatchNormalization",
		Doc:       "inference batch normalization: scale·(x − mean)/sqrt(var + epsilon) + B per channel (axis 1)",
		MinInputs: 5, MaxInputs: 5, MinOutputs: 1, MaxOutputs: 1,
		Attrs: map[string]AttrKind{"epsilon": AttrFloat, "momentum": AttrFloat, "training_mode": AttrInt},
		Infer: inferBatchNorm})
}

// nnMatMulType reports whether ONNX allows dtype d for Gemm and MatMul.
func nnMatMulType(d DType) bool {
	switch d {
	case Float32, Float64, Float16, BFloat16, Int32, Int64, Uint32, Uint64:
		return true
	}
	return false
}

// nnWindowInput checks the data input of a convolution or pool: N×C×D1…Dk
// with k ≥ 1.
func nnWindowInput(c *InferContext, what string, x Type) error {
	if x.Shape.Rank() < 3 {
		return c.Errorf("%s has shape %v, want rank 3 or more (N×C×D1…)", what, x.Shape)
	}
	return nil
}

// nnKernel returns the window size: the weight's spatial dims, checked
// against the kernel_shape attribute when both are given. ok is false when
// neither says what the window is (unknown weight dims, no attribute).
func nnKernel(c *InferContext, wSpatial []Dim) (kernel []int, ok bool, err error) {
	k := len(wSpatial)
	ks := c.Attrs().Ints("kernel_shape")
	if ks != nil && len(ks) != k {
		return nil, false, c.Errorf("kernel_shape %v has %d values, want %d (one per spatial dim)", ks, len(ks), k)
	}
	kernel = make([]int, k)
	ok = true
	for i, d := range wSpatial {
		switch {
		case d.Known():
			kernel[i] = int(d.Size)
			if ks != nil && ks[i] != d.Size {
				return nil, false, c.Errorf("kernel_shape %v disagrees with the weight's spatial dims %v", ks, Shape(wSpatial))
			}
		case ks != nil:
			kernel[i] = int(ks[i])
		default:
			kernel[i] = 1
			ok = false
		}
	}
	return kernel, ok, nil
}

// nnGroup returns the group attribute, checked to be positive.
func nnGroup(c *InferContext) (int64, error) {
	g := c.Attrs().Int("group", 1)
	if g < 1 {
		return 0, c.Errorf("group %d: want a positive group count", g)
	}
	return g, nil
}

// InferConvShape checks the data and weight shapes of a convolution
// (X: N×C×D1…Dk, W: M×C/group×K1…Kk) against the node's conv attributes
// (auto_pad, dilations, group, kernel_shape, pads, strides) and returns the
// output shape N×M×O1…Ok. The batch dim and unknown spatial dims flow
// through. Conv uses it, and so can any op with convolution geometry
// (ConvInteger, QLinearConv).
func InferConvShape(c *InferContext, x, w Shape) (Shape, error) {
	rank := x.Rank()
	if rank < 3 {
		return nil, c.Errorf("input has shape %v, want rank 3 or more (N×C×D1…)", x)
	}
	if w.Rank() != rank {
		return nil, c.Errorf("weight has shape %v, want rank %d like the input %v (M×C/group×K1…)", w, rank, x)
	}
	group, err := nnGroup(c)
	if err != nil {
		return nil, err
	}
	if x[1].Known() && w[1].Known() && x[1].Size != w[1].Size*group {
		return nil, c.Errorf("weight has %d input channels per group, input has %d channels and group %d", w[1].Size, x[1].Size, group)
	}
	if w[0].Known() && w[0].Size%group != 0 {
		return nil, c.Errorf("weight has %d output channels, want a multiple of group %d", w[0].Size, group)
	}
	kernel, kernelKnown, err := nnKernel(c, w[2:])
	if err != nil {
		return nil, err
	}
	g, err := ResolveConvGeom(c.Attrs(), x[2:], kernel, false)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	out := make(Shape, 0, rank)
	out = append(out, x[0], w[0])
	if kernelKnown {
		out = append(out, g.OutDims()...)
	} else {
		for range kernel {
			out = append(out, UnknownDim)
		}
	}
	return out, nil
}

// nnBias checks an optional bias input: 1-d, of the output channel count,
// of the data's dtype.
func nnBias(c *InferContext, i int, dt DType, channels Dim) error {
	if !c.Has(i) {
		return nil
	}
	b := c.In[i]
	if b.DType != dt {
		return c.Errorf("bias is %v, want %v like the input", b.DType, dt)
	}
	if b.Shape.Rank() != 1 {
		return c.Errorf("bias has shape %v, want a 1-d vector of %v output channels", b.Shape, channels)
	}
	if b.Shape[0].Known() && channels.Known() && b.Shape[0].Size != channels.Size {
		return c.Errorf("bias has %d values, want %d (one per output channel)", b.Shape[0].Size, channels.Size)
	}
	return nil
}

func inferConv(c *InferContext) error {
	x, w := c.In[0], c.In[1]
	if !x.DType.IsFloat() {
		return c.Errorf("input is %v, want a float type (integer convolution is ConvInteger or QLinearConv)", x.DType)
	}
	if w.DType != x.DType {
		return c.Errorf("weight is %v and input %v, want the same dtype", w.DType, x.DType)
	}
	out, err := InferConvShape(c, x.Shape, w.Shape)
	if err != nil {
		return err
	}
	if err := nnBias(c, 2, x.DType, w.Shape[0]); err != nil {
		return err
	}
	c.SetOut(0, Type{DType: x.DType, Shape: out})
	return nil
}

// ResolveConvTransposeGeom resolves the geometry of a ConvTranspose over
// input spatial dims in with the given window. The result describes the
// forward convolution that ConvTranspose is the transpose of: In holds the
// ConvTranspose's output sizes, Out its input sizes, and PadBegin/PadEnd the
// pads (a negative PadEnd extends the output past the last window, as
// output_padding and a large output_shape do). Following the ONNX operator
// documentation:
//
//   - output_shape given (its last k values are the spatial sizes): the
//     total padding stride·(in−1) + output_padding + (kernel−1)·dilation + 1 − out
//     is split in halves, the odd unit at the end for SAME_UPPER and at the
//     beginning otherwise;
//   - else auto_pad SAME_UPPER/SAME_LOWER: the output is in·stride and the
//     total padding split the same way (odd unit at the end for SAME_UPPER);
//   - else out = stride·(in−1) + output_padding + (kernel−1)·dilation + 1 − pads.
//
// Unknown input sizes give -1 in In.
func ResolveConvTransposeGeom(a Attrs, in []Dim, kernel []int) (*ConvGeom, error) {
	k := len(in)
	if len(kernel) != k {
		return nil, fmt.Errorf("kernel has %d dims, input has %d spatial dims", len(kernel), k)
	}
	g := &ConvGeom{Kernel: kernel, Strides: ones(k), Dilations: ones(k), PadBegin: make([]int, k), PadEnd: make([]int, k), In: make([]int, k), Out: make([]int, k)}
	for _, v := range kernel {
		if v <= 0 {
			return nil, fmt.Errorf("kernel %v: want positive sizes", kernel)
		}
	}
	positive := func(name string, dst []int) error {
		v := a.Ints(name)
		if v == nil {
			return nil
		}
		if len(v) != k {
			return fmt.Errorf("%s has %d values, want %d", name, len(v), k)
		}
		for i, x := range v {
			if x <= 0 {
				return fmt.Errorf("%s %v: want positive values", name, v)
			}
			dst[i] = int(x)
		}
		return nil
	}
	if err := positive("strides", g.Strides); err != nil {
		return nil, err
	}
	if err := positive("dilations", g.Dilations); err != nil {
		return nil, err
	}
	outPad := make([]int, k)
	if op := a.Ints("output_padding"); op != nil {
		if len(op) != k {
			return nil, fmt.Errorf("output_padding has %d values, want %d", len(op), k)
		}
		for i, v := range op {
			// ONNX: output_padding must be less than the stride or the
			// dilation of its axis, else it adds rows no window reaches.
			if v < 0 || (int(v) >= g.Strides[i] && int(v) >= g.Dilations[i]) {
				return nil, fmt.Errorf("output_padding %v: want values in [0, max(stride, dilation))", op)
			}
			outPad[i] = int(v)
		}
	}
	autoPad := a.String("auto_pad", "NOTSET")
	switch autoPad {
	case "NOTSET", "", "VALID", "SAME_UPPER", "SAME_LOWER":
	default:
		return nil, fmt.Errorf("auto_pad %q: want NOTSET, VALID, SAME_UPPER or SAME_LOWER", autoPad)
	}
	pads := a.Ints("pads")
	if pads != nil {
		if autoPad != "NOTSET" && autoPad != "" {
			return nil, fmt.Errorf("both pads and auto_pad=%s given", autoPad)
		}
		if len(pads) != 2*k {
			return nil, fmt.Errorf("pads has %d values, want %d", len(pads), 2*k)
		}
		for _, p := range pads {
			if p < 0 {
				return nil, fmt.Errorf("pads %v: want non-negative values", pads)
			}
		}
	}
	outShape := a.Ints("output_shape")
	if outShape != nil {
		if len(outShape) != k && len(outShape) != k+2 {
			return nil, fmt.Errorf("output_shape %v has %d values, want %d spatial sizes", outShape, len(outShape), k)
		}
		outShape = outShape[len(outShape)-k:]
		for _, v := range outShape {
			if v <= 0 {
				return nil, fmt.Errorf("output_shape %v: want positive sizes", a.Ints("output_shape"))
			}
		}
	}
	for i, d := range in {
		g.Out[i] = -1
		g.In[i] = -1
		if pads != nil {
			g.PadBegin[i], g.PadEnd[i] = int(pads[i]), int(pads[i+k])
		}
		if !d.Known() {
			continue
		}
		n := int(d.Size)
		g.Out[i] = n
		// full is the output size with no padding at all.
		full := g.Strides[i]*(n-1) + outPad[i] + (kernel[i]-1)*g.Dilations[i] + 1
		var size int
		switch {
		case outShape != nil:
			size = int(outShape[i])
		case autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER":
			size = n * g.Strides[i]
		case autoPad == "VALID":
			g.PadBegin[i], g.PadEnd[i] = 0, 0
			size = full
		default:
			size = full - g.PadBegin[i] - g.PadEnd[i]
			if size <= 0 {
				return nil, fmt.Errorf("pads %v leave an output of size %d on spatial dim %d, want a positive size", pads, size, i)
			}
		}
		if outShape != nil || autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
			total := full - size
			switch {
			case total < 0:
				// A larger output than any window reaches: the extra
				// positions are at the end, as output_padding's are.
				g.PadBegin[i], g.PadEnd[i] = 0, total
			case autoPad == "SAME_UPPER":
				g.PadBegin[i], g.PadEnd[i] = total/2, total-total/2
			default:
				g.PadBegin[i], g.PadEnd[i] = total-total/2, total/2
			}
		} else {
			// output_padding extends the output at the end.
			g.PadEnd[i] -= outPad[i]
		}
		g.In[i] = size
	}
	return g, nil
}

func inferConvTranspose(c *InferContext) error {
	x, w := c.In[0], c.In[1]
	if !x.DType.IsFloat() {
		return c.Errorf("input is %v, want a float type", x.DType)
	}
	if w.DType != x.DType {
		return c.Errorf("weight is %v and input %v, want the same dtype", w.DType, x.DType)
	}
	if err := nnWindowInput(c, "input", x); err != nil {
		return err
	}
	rank := x.Shape.Rank()
	if w.Shape.Rank() != rank {
		return c.Errorf("weight has shape %v, want rank %d like the input %v (C×M/group×K1…)", w.Shape, rank, x.Shape)
	}
	group, err := nnGroup(c)
	if err != nil {
		return err
	}
	xs, ws := x.Shape, w.Shape
	if xs[1].Known() && ws[0].Known() && xs[1].Size != ws[0].Size {
		return c.Errorf("weight has %d input channels, input has %d (ConvTranspose weights are C×M/group×K1…)", ws[0].Size, xs[1].Size)
	}
	if xs[1].Known() && xs[1].Size%group != 0 {
		return c.Errorf("input has %d channels, want a multiple of group %d", xs[1].Size, group)
	}
	kernel, kernelKnown, err := nnKernel(c, ws[2:])
	if err != nil {
		return err
	}
	g, err := ResolveConvTransposeGeom(c.Attrs(), xs[2:], kernel)
	if err != nil {
		return c.Errorf("%v", err)
	}
	m := MulDims(ws[1], D(group))
	if err := nnBias(c, 2, x.DType, m); err != nil {
		return err
	}
	out := Shape{xs[0], m}
	for _, s := range g.In {
		if s < 0 || !kernelKnown {
			out = append(out, UnknownDim)
		} else {
			out = append(out, D(int64(s)))
		}
	}
	c.SetOut(0, Type{DType: x.DType, Shape: out})
	return nil
}

func inferGemm(c *InferContext) error {
	a, b := c.In[0], c.In[1]
	if !nnMatMulType(a.DType) {
		return c.Errorf("A is %v, want a float type or i32, i64, u32, u64", a.DType)
	}
	if b.DType != a.DType {
		return c.Errorf("B is %v and A %v, want the same dtype", b.DType, a.DType)
	}
	if a.Shape.Rank() != 2 {
		return c.Errorf("A has shape %v, want a 2-d matrix", a.Shape)
	}
	if b.Shape.Rank() != 2 {
		return c.Errorf("B has shape %v, want a 2-d matrix", b.Shape)
	}
	m, ka := a.Shape[0], a.Shape[1]
	if c.Attrs().Int("transA", 0) != 0 {
		m, ka = ka, m
	}
	kb, n := b.Shape[0], b.Shape[1]
	if c.Attrs().Int("transB", 0) != 0 {
		kb, n = n, kb
	}
	if ka.Known() && kb.Known() && ka.Size != kb.Size {
		return c.Errorf("op(A) is %v×%v and op(B) %v×%v: inner dims differ", m, ka, kb, n)
	}
	out := Shape{m, n}
	if c.Has(2) {
		cc := c.In[2]
		if cc.DType != a.DType {
			return c.Errorf("C is %v, want %v like A", cc.DType, a.DType)
		}
		if cc.Shape.Rank() > 2 {
			return c.Errorf("C has shape %v, want rank 2 or less (broadcast to %v)", cc.Shape, out)
		}
		// Unidirectional broadcast: each of C's dims (aligned to the
		// right) is 1 or the result's.
		for i, d := range cc.Shape {
			t := out[2-cc.Shape.Rank()+i]
			if d.Known() && d.Size != 1 && t.Known() && d.Size != t.Size {
				return c.Errorf("C has shape %v, which does not broadcast to the result %v", cc.Shape, out)
			}
		}
	}
	c.SetOut(0, Type{DType: a.DType, Shape: out})
	return nil
}

// MatMulShape returns the shape of numpy's matmul of operands shaped a and
// b: a 1-d a is promoted to 1×K and a 1-d b to K×1 (the added dim removed
// from the result), and the batch dims (all but the last two) broadcast.
func MatMulShape(a, b Shape) (Shape, error) {
	if a.Rank() == 0 || b.Rank() == 0 {
		return nil, fmt.Errorf("operands have shapes %v and %v, want rank 1 or more", a, b)
	}
	pa, pb := a, b
	if a.Rank() == 1 {
		pa = Shape{D(1), a[0]}
	}
	if b.Rank() == 1 {
		pb = Shape{b[0], D(1)}
	}
	ka, kb := pa[pa.Rank()-1], pb[pb.Rank()-2]
	if ka.Known() && kb.Known() && ka.Size != kb.Size {
		return nil, fmt.Errorf("shapes %v and %v: inner dims %d and %d differ", a, b, ka.Size, kb.Size)
	}
	batch, err := BroadcastShapes(pa[:pa.Rank()-2], pb[:pb.Rank()-2])
	if err != nil {
		return nil, fmt.Errorf("batch dims of %v and %v do not broadcast: %v", a, b, err)
	}
	out := append(Shape{}, batch...)
	if a.Rank() > 1 {
		out = append(out, pa[pa.Rank()-2])
	}
	if b.Rank() > 1 {
		out = append(out, pb[pb.Rank()-1])
	}
	return out, nil
}

func inferMatMul(c *InferContext) error {
	a, b := c.In[0], c.In[1]
	if !nnMatMulType(a.DType) {
		return c.Errorf("A is %v, want a float type or i32, i64, u32, u64", a.DType)
	}
	if b.DType != a.DType {
		return c.Errorf("B is %v and A %v, want the same dtype", b.DType, a.DType)
	}
	s, err := MatMulShape(a.Shape, b.Shape)
	if err != nil {
		return c.Errorf("%v", err)
	}
	c.SetOut(0, Type{DType: a.DType, Shape: s})
	return nil
}

// nnPoolShape resolves a pool's geometry from its attributes (kernel_shape
// is required) and returns the output shape N×C×O1….
func nnPoolShape(c *InferContext, x Type) (Shape, error) {
	if err := nnWindowInput(c, "input", x); err != nil {
		return nil, err
	}
	ks := c.Attrs().Ints("kernel_shape")
	if ks == nil {
		return nil, c.Errorf("attribute kernel_shape is missing, want the window size")
	}
	k := x.Shape.Rank() - 2
	if len(ks) != k {
		return nil, c.Errorf("kernel_shape %v has %d values, want %d (one per spatial dim of %v)", ks, len(ks), k, x.Shape)
	}
	kernel := make([]int, k)
	for i, v := range ks {
		kernel[i] = int(v)
	}
	ceil := c.Attrs().Int("ceil_mode", 0)
	if ceil != 0 && ceil != 1 {
		return nil, c.Errorf("ceil_mode %d: want 0 or 1", ceil)
	}
	g, err := ResolveConvGeom(c.Attrs(), x.Shape[2:], kernel, ceil == 1)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	return append(Shape{x.Shape[0], x.Shape[1]}, g.OutDims()...), nil
}

func inferMaxPool(c *InferContext) error {
	x := c.In[0]
	switch x.DType {
	case Float32, Float64, Float16, BFloat16, Int8, Uint8:
	default:
		return c.Errorf("input is %v, want a float type, i8 or u8", x.DType)
	}
	so := c.Attrs().Int("storage_order", 0)
	if so != 0 && so != 1 {
		return c.Errorf("storage_order %d: want 0 (row major) or 1 (column major)", so)
	}
	s, err := nnPoolShape(c, x)
	if err != nil {
		return err
	}
	c.SetOut(0, Type{DType: x.DType, Shape: s})
	c.SetOut(1, Type{DType: Int64, Shape: s.Clone()})
	return nil
}

func inferAveragePool(c *InferContext) error {
	x := c.In[0]
	if !x.DType.IsFloat() {
		return c.Errorf("input is %v, want a float type", x.DType)
	}
	cip := c.Attrs().Int("count_include_pad", 0)
	if cip != 0 && cip != 1 {
		return c.Errorf("count_include_pad %d: want 0 or 1", cip)
	}
	s, err := nnPoolShape(c, x)
	if err != nil {
		return err
	}
	c.SetOut(0, Type{DType: x.DType, Shape: s})
	return nil
}

func inferGlobalPool(c *InferContext) error {
	x := c.In[0]
	if !x.DType.IsFloat() {
		return c.Errorf("input is %v, want a float type", x.DType)
	}
	if err := nnWindowInput(c, "input", x); err != nil {
		return err
	}
	s := Shape{x.Shape[0], x.Shape[1]}
	for range x.Shape[2:] {
		s = append(s, D(1))
	}
	c.SetOut(0, Type{DType: x.DType, Shape: s})
	return nil
}

func inferBatchNorm(c *InferContext) error {
	x := c.In[0]
	if !x.DType.IsFloat() {
		return c.Errorf("input is %v, want a float type", x.DType)
	}
	if x.Shape.Rank() < 2 {
		return c.Errorf("input has shape %v, want rank 2 or more (N×C×…)", x.Shape)
	}
	if tm := c.Attrs().Int("training_mode", 0); tm != 0 {
		return c.Errorf("training_mode %d: only inference (training_mode 0) is supported", tm)
	}
	ch := x.Shape[1]
	for i, name := range []string{"scale", "bias", "mean", "variance"} {
		p := c.In[i+1]
		if !p.DType.IsFloat() {
			return c.Errorf("%s is %v, want a float type", name, p.DType)
		}
		if p.Shape.Rank() != 1 {
			return c.Errorf("%s has shape %v, want a 1-d vector of the %v channels", name, p.Shape, ch)
		}
		if p.Shape[0].Known() && ch.Known() && p.Shape[0].Size != ch.Size {
			return c.Errorf("%s has %d values, input has %d channels", name, p.Shape[0].Size, ch.Size)
		}
	}
	c.SetOut(0, Type{DType: x.DType, Shape: x.Shape.Clone()})
	return nil
}

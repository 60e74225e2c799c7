package ir

// Quantization ops: QuantizeLinear, DequantizeLinear, ConvInteger,
// MatMulInteger, QLinearConv and QLinearMatMul, with ONNX semantics at the
// newest opset.
//
// The schemas check what the integer kernels rely on: quantized tensors are
// int8 or uint8 (int16/uint16 for QuantizeLinear/DequantizeLinear), a zero
// point has its tensor's dtype, scales are float32, and a scale or zero point
// is a scalar (or a one-element vector) for per-tensor quantization, or a
// vector as long as the quantized axis for per-axis quantization. Blocked
// quantization (opset 21's block_size, or a scale of the input's rank) is not
// supported and says so.
//
// The exact arithmetic of each op is defined and documented by its kernel in
// package ir/ref (quant.go, quant_conv.go, quant_matmul.go).

// ONNX TensorProto element-type codes, as the output_dtype and precision
// attributes of QuantizeLinear/DequantizeLinear carry them (the frontend
// passes them through unchanged).
const (
	qOnnxFloat  = 1
	qOnnxUint8  = 2
	qOnnxInt8   = 3
	qOnnxUint16 = 4
	qOnnxInt16  = 5
	qOnnxInt32  = 6
)

var qConvAttrKinds = map[string]AttrKind{
	"auto_pad":     AttrString,
	"dilations":    AttrInts,
	"group":        AttrInt,
	"kernel_shape": AttrInts,
	"pads":         AttrInts,
	"strides":      AttrInts,
}

func init() {
	Register(&OpSchema{
		Name:      "QuantizeLinear",
		Doc:       "saturate(round_half_even(x / y_scale) + y_zero_point), per tensor or per axis; the zero point's dtype (default u8) is the output's",
		MinInputs: 2, MaxInputs: 3, MinOutputs: 1, MaxOutputs: 1,
		// saturate only changes float8 outputs, which sqc has none of; it is
		// accepted (and has no effect) because exporters set it. block_size
		// is accepted so that a blocked model gets a clear error, not
		// "unknown attribute".
		Attrs: map[string]AttrKind{
			"axis": AttrInt, "block_size": AttrInt, "saturate": AttrInt,
			"output_dtype": AttrInt, "precision": AttrInt,
		},
		Infer: inferQuantizeLinear,
	})
	Register(&OpSchema{
		Name:      "DequantizeLinear",
		Doc:       "(x - x_zero_point) * x_scale in float32, per tensor or per axis",
		MinInputs: 2, MaxInputs: 3, MinOutputs: 1, MaxOutputs: 1,
		Attrs: map[string]AttrKind{"axis": AttrInt, "block_size": AttrInt, "output_dtype": AttrInt},
		Infer: inferDequantizeLinear,
	})
	Register(&OpSchema{
		Name:      "ConvInteger",
		Doc:       "convolution of (x - x_zero_point) by (w - w_zero_point) accumulated exactly in int32",
		MinInputs: 2, MaxInputs: 4, MinOutputs: 1, MaxOutputs: 1,
		Attrs: qConvAttrKinds,
		Infer: inferConvInteger,
	})
	Register(&OpSchema{
		Name:      "QLinearConv",
		Doc:       "quantized convolution: int32 accumulation of (x - x_zp)(w - w_zp) plus bias, requantized to y_scale and y_zero_point",
		MinInputs: 8, MaxInputs: 9, MinOutputs: 1, MaxOutputs: 1,
		Attrs: qConvAttrKinds,
		Infer: inferQLinearConv,
	})
	Register(&OpSchema{
		Name:      "MatMulInteger",
		Doc:       "numpy matmul of (a - a_zero_point) by (b - b_zero_point) accumulated exactly in int32",
		MinInputs: 2, MaxInputs: 4, MinOutputs: 1, MaxOutputs: 1,
		Infer: inferMatMulInteger,
	})
	Register(&OpSchema{
		Name:      "QLinearMatMul",
		Doc:       "quantized numpy matmul: int32 accumulation of (a - a_zp)(b - b_zp), requantized to y_scale and y_zero_point",
		MinInputs: 8, MaxInputs: 8, MinOutputs: 1, MaxOutputs: 1,
		Infer: inferQLinearMatMul,
	})
}

// qIs8Bit reports whether d is one of the 8-bit integer types the integer
// convolution and matmul kernels take.
func qIs8Bit(d DType) bool { return d == Int8 || d == Uint8 }

// qParamLen returns the number of entries of a scale or zero point: 1 for a
// scalar, the length of a vector (-1 when unknown). Higher ranks are blocked
// quantization (when the rank is the quantized tensor's) or malformed.
func qParamLen(c *InferContext, name string, t Type, dataRank int) (int64, error) {
	switch t.Shape.Rank() {
	case 0:
		return 1, nil
	case 1:
		return t.Shape[0].Size, nil
	}
	if t.Shape.Rank() == dataRank {
		return 0, c.Errorf("%s has shape %v: block quantization unsupported", name, t.Shape)
	}
	return 0, c.Errorf("%s has shape %v, want a scalar or a 1-D tensor", name, t.Shape)
}

// qCheckParams checks a scale (input si) and its optional zero point (input
// zi, -1 when the op has none): float32 scale, zero point of dtype zpType,
// each a scalar or a vector. want is the length a per-axis vector must have
// (-1 when unknown, 0 when only per-tensor is allowed); what names the
// granularity for the error ("output channels of w"). It returns whether
// the parameters are per-axis.
func qCheckParams(c *InferContext, si, zi int, names [2]string, zpType DType, want int64, what string) (perAxis bool, err error) {
	st := c.In[si]
	if st.DType != Float32 {
		return false, c.Errorf("%s is %v, want f32", names[0], st.DType)
	}
	n, err := qParamLen(c, names[0], st, -1)
	if err != nil {
		return false, err
	}
	check := func(name string, n int64) error {
		if n == 1 || n < 0 || (want != 0 && (want < 0 || n == want)) {
			return nil
		}
		if want == 0 {
			return c.Errorf("%s has %d elements, want a scalar (only per-tensor quantization is supported here)", name, n)
		}
		if want == 1 {
			return c.Errorf("%s has %d elements, want 1 (%s)", name, n, what)
		}
		return c.Errorf("%s has %d elements, want 1 or %d (%s)", name, n, want, what)
	}
	if err := check(names[0], n); err != nil {
		return false, err
	}
	perAxis = n != 1
	if zi >= 0 && c.Has(zi) {
		zt := c.In[zi]
		if zt.DType != zpType {
			return false, c.Errorf("%s is %v, want %v (the dtype of the tensor it quantizes)", names[1], zt.DType, zpType)
		}
		zn, err := qParamLen(c, names[1], zt, -1)
		if err != nil {
			return false, err
		}
		if err := check(names[1], zn); err != nil {
			return false, err
		}
		if zn >= 0 && n >= 0 && zn != n && zn != 1 && n != 1 {
			return false, c.Errorf("%s has %d elements and %s %d, want the same number", names[0], n, names[1], zn)
		}
		perAxis = perAxis || zn != 1
	}
	return perAxis, nil
}

// qCheckQDQ checks the parameters of QuantizeLinear/DequantizeLinear: the
// data is input 0 with shape xs, the scale input 1, the zero point input 2.
func qCheckQDQ(c *InferContext, names [2]string, zpType DType) error {
	if bs := c.Attrs().Int("block_size", 0); bs != 0 {
		return c.Errorf("block_size %d: block quantization unsupported", bs)
	}
	x := c.In[0]
	if _, err := qParamLen(c, names[0], c.In[1], x.Shape.Rank()); err != nil {
		return err
	}
	if c.Has(2) {
		if _, err := qParamLen(c, names[1], c.In[2], x.Shape.Rank()); err != nil {
			return err
		}
	}
	// Per-axis parameters must be as long as the axis; the axis is only
	// checked when it is used, as ONNX does for per-tensor parameters of a
	// low-rank input (axis defaults to 1, which a 1-D x does not have).
	want := int64(-1)
	if n := c.In[1].Shape; (n.Rank() == 1 && n[0].Size != 1) || (c.Has(2) && c.In[2].Shape.Rank() == 1 && c.In[2].Shape[0].Size != 1) {
		axis, err := NormAxis(c.Attrs().Int("axis", 1), x.Shape.Rank())
		if err != nil {
			return c.Errorf("per-axis quantization: %v", err)
		}
		want = x.Shape[axis].Size
	}
	_, err := qCheckParams(c, 1, 2, names, zpType, want, "the size of the quantized axis")
	return err
}

// qOnnxDType maps an ONNX element-type code to the dtype, for the types
// these ops can produce.
func qOnnxDType(code int64) (DType, bool) {
	switch code {
	case qOnnxFloat:
		return Float32, true
	case qOnnxUint8:
		return Uint8, true
	case qOnnxInt8:
		return Int8, true
	case qOnnxUint16:
		return Uint16, true
	case qOnnxInt16:
		return Int16, true
	case qOnnxInt32:
		return Int32, true
	}
	return InvalidDType, false
}

func inferQuantizeLinear(c *InferContext) error {
	x := c.In[0]
	if x.DType != Float32 {
		return c.Errorf("x is %v, want f32", x.DType)
	}
	if p := c.Attrs().Int("precision", 0); p != 0 && p != qOnnxFloat {
		return c.Errorf("precision %d unsupported, want 1 (float32 division)", p)
	}
	out := Uint8 // ONNX's default when there is neither zero point nor output_dtype
	if c.Has(2) {
		out = c.In[2].DType
	}
	if code := c.Attrs().Int("output_dtype", 0); code != 0 {
		dt, ok := qOnnxDType(code)
		if !ok || dt == Float32 || dt == Int32 {
			return c.Errorf("output_dtype %d unsupported, want 2 (uint8), 3 (int8), 4 (uint16) or 5 (int16)", code)
		}
		if c.Has(2) && dt != out {
			return c.Errorf("output_dtype says %v but y_zero_point is %v", dt, out)
		}
		out = dt
	}
	switch out {
	case Int8, Uint8, Int16, Uint16:
	default:
		return c.Errorf("y_zero_point is %v, want i8, u8, i16 or u16", out)
	}
	if err := qCheckQDQ(c, [2]string{"y_scale", "y_zero_point"}, out); err != nil {
		return err
	}
	c.SetOut(0, Type{DType: out, Shape: x.Shape.Clone()})
	return nil
}

func inferDequantizeLinear(c *InferContext) error {
	x := c.In[0]
	switch x.DType {
	case Int8, Uint8, Int16, Uint16, Int32:
	default:
		return c.Errorf("x is %v, want i8, u8, i16, u16 or i32", x.DType)
	}
	if code := c.Attrs().Int("output_dtype", 0); code != 0 && code != qOnnxFloat {
		return c.Errorf("output_dtype %d unsupported, want 1 (float32)", code)
	}
	if err := qCheckQDQ(c, [2]string{"x_scale", "x_zero_point"}, x.DType); err != nil {
		return err
	}
	c.SetOut(0, Type{DType: Float32, Shape: x.Shape.Clone()})
	return nil
}

// qConvShape checks x (input 0) and w (input wi) of an integer convolution
// and returns the output shape N×M×O1×…×Ok. ONNX's Conv rules: w is
// M×(C/group)×k1×…×kk, kernel_shape (if given) agrees with w, and group
// divides both C and M.
func qConvShape(c *InferContext, wi int) (Shape, error) {
	x, w := c.In[0], c.In[wi]
	if !qIs8Bit(x.DType) {
		return nil, c.Errorf("x is %v, want i8 or u8", x.DType)
	}
	if !qIs8Bit(w.DType) {
		return nil, c.Errorf("w is %v, want i8 or u8", w.DType)
	}
	if x.Shape.Rank() < 3 {
		return nil, c.Errorf("x has shape %v, want N×C×D1×…×Dk with at least one spatial dim", x.Shape)
	}
	if w.Shape.Rank() != x.Shape.Rank() {
		return nil, c.Errorf("w has shape %v, want rank %d like x %v", w.Shape, x.Shape.Rank(), x.Shape)
	}
	group := c.Attrs().Int("group", 1)
	if group < 1 {
		return nil, c.Errorf("group %d, want at least 1", group)
	}
	k := x.Shape.Rank() - 2
	kernel := make([]int, k)
	ks := c.Attrs().Ints("kernel_shape")
	if ks != nil && len(ks) != k {
		return nil, c.Errorf("kernel_shape %v has %d values, want %d", ks, len(ks), k)
	}
	kernelKnown := true
	for i := 0; i < k; i++ {
		d := w.Shape[2+i]
		switch {
		case d.Known() && ks != nil && ks[i] != d.Size:
			return nil, c.Errorf("kernel_shape %v disagrees with w's shape %v", ks, w.Shape)
		case d.Known():
			kernel[i] = int(d.Size)
		case ks != nil:
			kernel[i] = int(ks[i])
		default:
			kernelKnown = false
		}
	}
	cin, cpg, m := x.Shape[1], w.Shape[1], w.Shape[0]
	if cin.Known() && cpg.Known() && cin.Size != group*cpg.Size {
		return nil, c.Errorf("x has %d channels, but w %v with group %d takes %d", cin.Size, w.Shape, group, group*cpg.Size)
	}
	if m.Known() && m.Size%group != 0 {
		return nil, c.Errorf("w has %d output channels, want a multiple of group %d", m.Size, group)
	}
	out := make(Shape, 0, k+2)
	out = append(out, x.Shape[0], m)
	if !kernelKnown {
		for i := 0; i < k; i++ {
			out = append(out, UnknownDim)
		}
		return out, nil
	}
	g, err := ResolveConvGeom(c.Attrs(), x.Shape[2:], kernel, false)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	return append(out, g.OutDims()...), nil
}

func inferConvInteger(c *InferContext) error {
	out, err := qConvShape(c, 1)
	if err != nil {
		return err
	}
	if c.Has(2) {
		if c.In[2].DType != c.In[0].DType {
			return c.Errorf("x_zero_point is %v, want %v like x", c.In[2].DType, c.In[0].DType)
		}
		if n, err := qParamLen(c, "x_zero_point", c.In[2], -1); err != nil {
			return err
		} else if n > 1 {
			return c.Errorf("x_zero_point has %d elements, want a scalar (per-tensor)", n)
		}
	}
	if c.Has(3) {
		if c.In[3].DType != c.In[1].DType {
			return c.Errorf("w_zero_point is %v, want %v like w", c.In[3].DType, c.In[1].DType)
		}
		n, err := qParamLen(c, "w_zero_point", c.In[3], -1)
		if err != nil {
			return err
		}
		if m := out[1]; n > 1 && m.Known() && n != m.Size {
			return c.Errorf("w_zero_point has %d elements, want 1 or %d (output channels of w)", n, m.Size)
		}
	}
	c.SetOut(0, Type{DType: Int32, Shape: out})
	return nil
}

func inferQLinearConv(c *InferContext) error {
	out, err := qConvShape(c, 3)
	if err != nil {
		return err
	}
	x, w := c.In[0], c.In[3]
	if _, err := qCheckParams(c, 1, 2, [2]string{"x_scale", "x_zero_point"}, x.DType, 0, ""); err != nil {
		return err
	}
	if _, err := qCheckParams(c, 4, 5, [2]string{"w_scale", "w_zero_point"}, w.DType, out[1].Size, "output channels of w"); err != nil {
		return err
	}
	y := c.In[7].DType
	if !qIs8Bit(y) {
		return c.Errorf("y_zero_point is %v, want i8 or u8", y)
	}
	if _, err := qCheckParams(c, 6, 7, [2]string{"y_scale", "y_zero_point"}, y, 0, ""); err != nil {
		return err
	}
	if c.Has(8) {
		b := c.In[8]
		if b.DType != Int32 {
			return c.Errorf("B is %v, want i32", b.DType)
		}
		if b.Shape.Rank() != 1 || (b.Shape[0].Known() && out[1].Known() && b.Shape[0] != out[1]) {
			return c.Errorf("B has shape %v, want [%v] (one per output channel)", b.Shape, out[1])
		}
	}
	c.SetOut(0, Type{DType: y, Shape: out})
	return nil
}

// qMatMulShape applies numpy matmul's shape rule: a 1-D a gains a leading
// 1 and a 1-D b a trailing 1 (both removed from the result), and the batch
// dims broadcast. It returns the result shape and the M and N dims (M and N
// are 1 for a 1-D operand).
func qMatMulShape(c *InferContext, a, b Shape) (out Shape, m, n Dim, err error) {
	if a.Rank() == 0 || b.Rank() == 0 {
		return nil, m, n, c.Errorf("operands have shapes %v and %v, want rank 1 or more", a, b)
	}
	aa, bb := a, b
	if a.Rank() == 1 {
		aa = Shape{D(1), a[0]}
	}
	if b.Rank() == 1 {
		bb = Shape{b[0], D(1)}
	}
	ka, kb := aa[aa.Rank()-1], bb[bb.Rank()-2]
	if ka.Known() && kb.Known() && ka.Size != kb.Size {
		return nil, m, n, c.Errorf("inner dims differ: %v × %v", a, b)
	}
	batch, err := BroadcastShapes(aa[:aa.Rank()-2], bb[:bb.Rank()-2])
	if err != nil {
		return nil, m, n, c.Errorf("batch dims: %v", err)
	}
	m, n = aa[aa.Rank()-2], bb[bb.Rank()-1]
	out = append(Shape{}, batch...)
	if a.Rank() > 1 {
		out = append(out, m)
	}
	if b.Rank() > 1 {
		out = append(out, n)
	}
	return out, m, n, nil
}

func inferMatMulInteger(c *InferContext) error {
	a, b := c.In[0], c.In[1]
	if !qIs8Bit(a.DType) {
		return c.Errorf("A is %v, want i8 or u8", a.DType)
	}
	if !qIs8Bit(b.DType) {
		return c.Errorf("B is %v, want i8 or u8", b.DType)
	}
	out, m, n, err := qMatMulShape(c, a.Shape, b.Shape)
	if err != nil {
		return err
	}
	for _, zp := range []struct {
		i    int
		name string
		dt   DType
		dim  Dim
		what string
	}{{2, "a_zero_point", a.DType, m, "rows of A"}, {3, "b_zero_point", b.DType, n, "columns of B"}} {
		if !c.Has(zp.i) {
			continue
		}
		t := c.In[zp.i]
		if t.DType != zp.dt {
			return c.Errorf("%s is %v, want %v", zp.name, t.DType, zp.dt)
		}
		cnt, err := qParamLen(c, zp.name, t, -1)
		if err != nil {
			return err
		}
		if cnt > 1 && zp.dim.Known() && cnt != zp.dim.Size {
			return c.Errorf("%s has %d elements, want 1 or %d (%s)", zp.name, cnt, zp.dim.Size, zp.what)
		}
	}
	c.SetOut(0, Type{DType: Int32, Shape: out})
	return nil
}

func inferQLinearMatMul(c *InferContext) error {
	a, b := c.In[0], c.In[3]
	if !qIs8Bit(a.DType) {
		return c.Errorf("a is %v, want i8 or u8", a.DType)
	}
	if !qIs8Bit(b.DType) {
		return c.Errorf("b is %v, want i8 or u8", b.DType)
	}
	out, _, n, err := qMatMulShape(c, a.Shape, b.Shape)
	if err != nil {
		return err
	}
	if _, err := qCheckParams(c, 1, 2, [2]string{"a_scale", "a_zero_point"}, a.DType, 0, ""); err != nil {
		return err
	}
	want := n.Size
	if b.Shape.Rank() == 1 {
		want = 0 // a vector b has one column: per-column is per-tensor
	}
	if _, err := qCheckParams(c, 4, 5, [2]string{"b_scale", "b_zero_point"}, b.DType, want, "columns of b"); err != nil {
		return err
	}
	y := c.In[7].DType
	if !qIs8Bit(y) {
		return c.Errorf("y_zero_point is %v, want i8 or u8", y)
	}
	if _, err := qCheckParams(c, 6, 7, [2]string{"y_scale", "y_zero_point"}, y, 0, ""); err != nil {
		return err
	}
	c.SetOut(0, Type{DType: y, Shape: out})
	return nil
}

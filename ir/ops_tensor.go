package ir

// Tensor-manipulation ops: Flatten, Reshape, Transpose, Concat, Split, Slice,
// Squeeze, Unsqueeze, Pad, Dropout, Shape, Gather, Cast and ReduceMean, with
// ONNX semantics at the newest opset (Reshape's shape, Slice's starts, ends,
// axes and steps, Split's split, Squeeze/Unsqueeze's axes, Pad's pads,
// constant_value and axes, and ReduceMean's axes are inputs).
//
// Several output shapes depend on the value of an input. Infer reads it with
// c.Const when it is known, which is always the case at run time (the
// reference executor passes every input's value). When it is not known, in
// static inference of a computed shape, Infer gives what can still be known:
// the rank where it follows from the input types, with UnknownDim for the
// dims that depend on the missing value. Symbolic dims flow through wherever
// the rule allows: Flatten of [N,512,1,1] at axis 1 is [N,512], Reshape's 0
// copies a symbol, and a -1 cancels symbols that appear on both sides.
//
// The Resolve* functions turn these ops' index inputs into the concrete form
// both Infer and the reference kernels use, so the clamping and
// normalisation rules are written once.

import (
	"fmt"
	"math"
)

func init() {
	Register(&OpSchema{Name: "Flatten", Doc: "reshape to 2-D: the dims before axis (default 1) become rows, the rest columns",
		MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1, Attrs: map[string]AttrKind{"axis": AttrInt}, Infer: inferFlatten})
	Register(&OpSchema{Name: "Reshape", Doc: "the data with the shape of the i64 shape input (0 copies the input dim unless allowzero, -1 is inferred)",
		MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1, Attrs: map[string]AttrKind{"allowzero": AttrInt}, Infer: inferReshape})
	Register(&OpSchema{Name: "Transpose", Doc: "permutes the dims: output dim i is input dim perm[i] (default: reversed)",
		MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1, Attrs: map[string]AttrKind{"perm": AttrInts}, Infer: inferTranspose})
	Register(&OpSchema{Name: "Concat", Doc: "joins the inputs along axis; every other dim must agree",
		MinInputs: 1, MaxInputs: -1, MinOutputs: 1, MaxOutputs: 1, Attrs: map[string]AttrKind{"axis": AttrInt}, Infer: inferConcat})
	Register(&OpSchema{Name: "Split", Doc: "cuts the input along axis into the outputs, sized by the split input, num_outputs, or evenly",
		MinInputs: 1, MaxInputs: 2, MinOutputs: 1, MaxOutputs: math.MaxInt32,
		Attrs: map[string]AttrKind{"axis": AttrInt, "num_outputs": AttrInt}, Infer: inferSplit})
	Register(&OpSchema{Name: "Slice", Doc: "the elements start, start+step, ... before end along each listed axis, indices clamped as numpy does",
		MinInputs: 3, MaxInputs: 5, MinOutputs: 1, MaxOutputs: 1, Infer: inferSlice})
	Register(&OpSchema{Name: "Squeeze", Doc: "removes the listed size-1 dims (all size-1 dims when axes is absent)",
		MinInputs: 1, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1, Infer: inferSqueeze})
	Register(&OpSchema{Name: "Unsqueeze", Doc: "inserts size-1 dims at the listed positions of the output",
		MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1, Infer: inferUnsqueeze})
	Register(&OpSchema{Name: "Pad", Doc: "pads (or, for negative pads, crops) each axis; mode constant, reflect, edge or wrap",
		MinInputs: 2, MaxInputs: 4, MinOutputs: 1, MaxOutputs: 1, Attrs: map[string]AttrKind{"mode": AttrString}, Infer: inferPad})
	Register(&OpSchema{Name: "Dropout", Doc: "the input unchanged (inference), with an optional all-true mask",
		MinInputs: 1, MaxInputs: 3, MinOutputs: 1, MaxOutputs: 2, Attrs: map[string]AttrKind{"seed": AttrInt}, Infer: inferDropout})
	Register(&OpSchema{Name: "Shape", Doc: "the input's dims start..end (clamped) as a 1-D i64 tensor",
		MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1, Attrs: map[string]AttrKind{"start": AttrInt, "end": AttrInt}, Infer: inferShape})
	Register(&OpSchema{Name: "Gather", Doc: "takes the slices at the given indices (negative counts from the end) along axis",
		MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1, Attrs: map[string]AttrKind{"axis": AttrInt}, Infer: inferGather})
	Register(&OpSchema{Name: "Cast", Doc: "converts to the ONNX element type `to` (floats to integers truncate toward zero)",
		MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1, Attrs: map[string]AttrKind{"to": AttrInt, "saturate": AttrInt}, Infer: inferCast})
	Register(&OpSchema{Name: "ReduceMean", Doc: "the mean over the listed axes (all when absent, unless noop_with_empty_axes), keeping them as 1s when keepdims",
		MinInputs: 1, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1,
		Attrs: map[string]AttrKind{"keepdims": AttrInt, "noop_with_empty_axes": AttrInt}, Infer: inferReduceMean})
}

// ONNX TensorProto element-type codes: the values of Cast's `to` attribute,
// which the IR keeps as ONNX writes it.
var onnxTypeCodes = map[int64]DType{
	1: Float32, 2: Uint8, 3: Int8, 4: Uint16, 5: Int16, 6: Int32, 7: Int64,
	9: Bool, 10: Float16, 11: Float64, 12: Uint32, 13: Uint64, 16: BFloat16,
}

var onnxTypeNames = map[int64]string{
	0: "UNDEFINED", 8: "STRING", 14: "COMPLEX64", 15: "COMPLEX128", 17: "FLOAT8E4M3FN",
	18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2", 20: "FLOAT8E5M2FNUZ", 21: "UINT4", 22: "INT4", 23: "FLOAT4E2M1",
}

// DTypeFromONNX maps an ONNX TensorProto element-type code (Cast's `to`) to
// the dtype; ok is false for types sqc does not have (strings, complex,
// 8-bit and 4-bit floats, 4-bit integers).
func DTypeFromONNX(code int64) (d DType, ok bool) {
	d, ok = onnxTypeCodes[code]
	return d, ok
}

// ONNXTypeCode is the inverse of DTypeFromONNX; 0 (UNDEFINED) for InvalidDType.
func ONNXTypeCode(d DType) int64 {
	for code, t := range onnxTypeCodes {
		if t == d {
			return code
		}
	}
	return 0
}

// tConstInts returns the elements of input i when its value is known: a
// constant, or a shape value (shapevalue.go) whose every element is a size.
func tConstInts(c *InferContext, i int) ([]int64, bool) {
	t := c.Const(i)
	if t == nil && c.Has(i) {
		sv := c.shapeValueOf(i)
		if sv == nil {
			return nil, false
		}
		v := make([]int64, len(sv))
		for k, e := range sv {
			if !e.Known {
				return nil, false
			}
			v[k] = e.Val
		}
		return v, true
	}
	if t == nil || !c.Has(i) {
		return nil, false
	}
	v := make([]int64, t.Len())
	for k := range v {
		v[k] = t.AsInt64(k)
	}
	return v, true
}

// tCheckIndexInput checks that index input i (named as ONNX names it) is a
// 1-D tensor of i64, or of i32 too when allowI32.
func tCheckIndexInput(c *InferContext, i int, name string, allowI32 bool) error {
	t := c.In[i]
	if t.DType != Int64 && !(allowI32 && t.DType == Int32) {
		want := "i64"
		if allowI32 {
			want = "i32 or i64"
		}
		return c.Errorf("input %s is %v, want %s", name, t.DType, want)
	}
	if t.Shape.Rank() != 1 {
		return c.Errorf("input %s has shape %v, want a 1-D tensor", name, t.Shape)
	}
	return nil
}

// tLen is the statically known length of 1-D input i, or -1.
func tLen(c *InferContext, i int) int {
	if d := c.In[i].Shape; len(d) == 1 && d[0].Known() {
		return int(d[0].Size)
	}
	return -1
}

// tRecorded returns the shape output i already records (from the model's
// value_info, say). It stands in when not even the output's rank follows from
// the inputs, which happens only in static inference: at run time every
// input value is known.
func tRecorded(c *InferContext, i int) Shape {
	if i < len(c.Node.Outputs) && c.Node.Outputs[i] != nil {
		return c.Node.Outputs[i].Type.Shape.Clone()
	}
	return nil
}

// tUnknown is a shape of n unknown dims.
func tUnknown(n int) Shape {
	s := make(Shape, n)
	for i := range s {
		s[i] = UnknownDim
	}
	return s
}

// tProd multiplies dims like MulDims, except that a product of known 1s and
// one symbolic dim is that dim (so Flatten keeps a batch symbol), and a known
// 0 makes the product 0 whatever else it holds.
func tProd(ds []Dim) Dim {
	n := int64(1)
	var other Dim
	unknown := 0
	for _, d := range ds {
		if d.Known() {
			n *= d.Size
		} else {
			unknown++
			other = d
		}
	}
	switch {
	case unknown == 0 || n == 0:
		return D(n)
	case unknown == 1 && n == 1:
		return other
	}
	return UnknownDim
}

// tNormAxes normalises a list of axes for rank and rejects repeats.
func tNormAxes(axes []int64, rank int) ([]int, error) {
	out := make([]int, len(axes))
	seen := make(map[int]bool, len(axes))
	for i, a := range axes {
		n, err := NormAxis(a, rank)
		if err != nil {
			return nil, err
		}
		if seen[n] {
			return nil, fmt.Errorf("axis %d is listed twice in %v", a, axes)
		}
		seen[n] = true
		out[i] = n
	}
	return out, nil
}

func inferFlatten(c *InferContext) error {
	in := c.In[0].Shape
	r := in.Rank()
	axis := c.Attrs().Int("axis", 1)
	if axis < -int64(r) || axis > int64(r) {
		return c.Errorf("attribute axis is %d, want a value in [%d, %d] for input shape %v", axis, -r, r, in)
	}
	if axis < 0 {
		axis += int64(r)
	}
	c.SetOut(0, Type{DType: c.In[0].DType, Shape: Shape{tProd(in[:axis]), tProd(in[axis:])}})
	return nil
}

func inferReshape(c *InferContext) error {
	data := c.In[0]
	if err := tCheckIndexInput(c, 1, "shape", false); err != nil {
		return err
	}
	allowZero := c.Attrs().Int("allowzero", 0) != 0
	vals, ok := tConstInts(c, 1)
	if !ok {
		if sv := c.shapeValueOf(1); sv != nil {
			if out := reshapeSymbolic(data.Shape, sv, allowZero); out != nil {
				c.SetOut(0, Type{DType: data.DType, Shape: out})
				return nil
			}
		}
		if n := tLen(c, 1); n >= 0 {
			c.SetOut(0, Type{DType: data.DType, Shape: tUnknown(n)})
		} else {
			c.SetOut(0, Type{DType: data.DType, Shape: tRecorded(c, 0)})
		}
		return nil
	}
	out, err := ReshapeShape(data.Shape, vals, allowZero)
	if err != nil {
		return c.Errorf("%v", err)
	}
	c.SetOut(0, Type{DType: data.DType, Shape: out})
	return nil
}

// ReshapeShape applies Reshape's rules to an input shape and a shape value:
// 0 copies the input dim at the same index (unless allowZero, where it is a
// real 0), -1 is inferred from the element count. Symbolic dims copied by 0
// or listed on both sides cancel, so [N,512,1,1] reshaped to [0,-1] is
// [N,512].
func ReshapeShape(in Shape, shape []int64, allowZero bool) (Shape, error) {
	out := make(Shape, len(shape))
	infer, zero := -1, false
	for i, v := range shape {
		switch {
		case v == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("shape %v has more than one -1", shape)
			}
			infer = i
		case v < -1:
			return nil, fmt.Errorf("shape %v: entry %d is %d, want >= -1", shape, i, v)
		case v == 0 && !allowZero:
			if i >= len(in) {
				return nil, fmt.Errorf("shape %v: entry %d is 0 (copy the input dim), but input %v has only %d dims", shape, i, in, len(in))
			}
			out[i] = in[i]
		default:
			zero = zero || v == 0
			out[i] = D(v)
		}
	}
	if infer >= 0 {
		if zero {
			return nil, fmt.Errorf("shape %v has both 0 and -1 with allowzero=1, want one of them", shape)
		}
		d, err := reshapeInferDim(in, shape, out, infer, allowZero)
		if err != nil {
			return nil, err
		}
		out[infer] = d
		return out, nil
	}
	if n, m := in.NumElements(), out.NumElements(); n >= 0 && m >= 0 && n != m {
		return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v (%d elements)", in, n, shape, m)
	}
	return out, nil
}

// reshapeInferDim computes the -1 entry (index k of out) of a reshape of in
// by the shape value shape: the input's element count over the product of
// out's other dims, after cancelling the dims a 0 copied (they are the same
// dims on both sides, symbolic or not). Every other entry of out is a known
// size, so what is left of the input decides: all known gives a number, a
// single symbol whose cofactor cancels exactly gives that symbol ([N,4] to
// [-1,4] is [N,4]), anything else is unknown.
func reshapeInferDim(in Shape, shape []int64, out Shape, k int, allowZero bool) (Dim, error) {
	copied := func(i int) bool { return i < len(shape) && shape[i] == 0 && !allowZero }
	den := int64(1)
	for i, d := range out {
		if i != k && !copied(i) {
			den *= d.Size
		}
	}
	num := int64(1)
	var sym []Dim
	for i, e := range in {
		switch {
		case copied(i):
		case e.Known():
			num *= e.Size
		default:
			sym = append(sym, e)
		}
	}
	if len(sym) > 0 {
		if len(sym) == 1 && sym[0].Sym != "" && num == den {
			return sym[0], nil
		}
		return UnknownDim, nil
	}
	if den == 0 {
		return Dim{}, fmt.Errorf("cannot infer the -1 in shape %v: another entry is 0", shape)
	}
	if num%den != 0 {
		return Dim{}, fmt.Errorf("cannot reshape %v to %v: %d elements are not a multiple of %d", in, shape, num, den)
	}
	return D(num / den), nil
}

// ResolvePerm returns Transpose's permutation for an input of the given
// rank: the perm attribute, or the dims reversed when it is absent.
func ResolvePerm(a Attrs, rank int) ([]int, error) {
	p := a.Ints("perm")
	perm := make([]int, rank)
	if !a.Has("perm") {
		for i := range perm {
			perm[i] = rank - 1 - i
		}
		return perm, nil
	}
	if len(p) != rank {
		return nil, fmt.Errorf("perm %v has %d entries, want %d (the input's rank)", p, len(p), rank)
	}
	seen := make([]bool, rank)
	for i, v := range p {
		if v < 0 || v >= int64(rank) || seen[v] {
			return nil, fmt.Errorf("perm %v is not a permutation of 0..%d", p, rank-1)
		}
		seen[v] = true
		perm[i] = int(v)
	}
	return perm, nil
}

func inferTranspose(c *InferContext) error {
	in := c.In[0].Shape
	perm, err := ResolvePerm(c.Attrs(), in.Rank())
	if err != nil {
		return c.Errorf("%v", err)
	}
	out := make(Shape, len(perm))
	for i, p := range perm {
		out[i] = in[p]
	}
	c.SetOut(0, Type{DType: c.In[0].DType, Shape: out})
	return nil
}

func inferConcat(c *InferContext) error {
	if !c.Attrs().Has("axis") {
		return c.Errorf("attribute axis is missing, want the axis to join along")
	}
	first := c.In[0]
	r := first.Shape.Rank()
	axis, err := NormAxis(c.Attrs().Int("axis", 0), r)
	if err != nil {
		return c.Errorf("attribute axis: %v (input 0 has shape %v)", err, first.Shape)
	}
	out := first.Shape.Clone()
	for i := 1; i < c.NumIn(); i++ {
		t := c.In[i]
		if !c.Has(i) {
			return c.Errorf("input %d is missing, want every input of a Concat", i)
		}
		if t.DType != first.DType {
			return c.Errorf("input %d is %v and input 0 is %v, want the same dtype", i, t.DType, first.DType)
		}
		if t.Shape.Rank() != r {
			return c.Errorf("input %d has shape %v and input 0 has %v, want the same rank", i, t.Shape, first.Shape)
		}
		for k, d := range t.Shape {
			o := out[k]
			if k == axis {
				switch {
				case o.Known() && d.Known():
					out[k] = D(o.Size + d.Size)
				case o.Known() && o.Size == 0:
					out[k] = d
				case d.Known() && d.Size == 0:
				default:
					out[k] = UnknownDim
				}
				continue
			}
			switch {
			case o.Known() && d.Known() && o.Size != d.Size:
				return c.Errorf("input %d has shape %v and input 0 has %v, want equal dims except on axis %d", i, t.Shape, first.Shape, axis)
			case d.Known():
				out[k] = d
			case o.Known() || o == d || d.Sym == "":
				// d is unknown or agrees: o says more.
			case o.Sym == "":
				out[k] = d
			default:
				out[k] = UnknownDim // two different symbols: equal at run time, unknown here
			}
		}
	}
	c.SetOut(0, Type{DType: first.DType, Shape: out})
	return nil
}

func inferSplit(c *InferContext) error {
	in := c.In[0]
	n := len(c.Out)
	axis, err := NormAxis(c.Attrs().Int("axis", 0), in.Shape.Rank())
	if err != nil {
		return c.Errorf("attribute axis: %v (input has shape %v)", err, in.Shape)
	}
	dim := in.Shape[axis]
	sizes := make([]Dim, n)
	for i := range sizes {
		sizes[i] = UnknownDim
	}
	a := c.Attrs()
	switch {
	case c.Has(1):
		if a.Has("num_outputs") {
			return c.Errorf("both input split and attribute num_outputs are given, want one of them")
		}
		if err := tCheckIndexInput(c, 1, "split", false); err != nil {
			return err
		}
		if l := tLen(c, 1); l >= 0 && l != n {
			return c.Errorf("input split has %d sizes for %d outputs, want one size per output", l, n)
		}
		vals, ok := tConstInts(c, 1)
		if !ok {
			break
		}
		sum := int64(0)
		for i, v := range vals {
			if v < 0 {
				return c.Errorf("input split is %v, want sizes >= 0", vals)
			}
			sum += v
			sizes[i] = D(v)
		}
		if dim.Known() && sum != dim.Size {
			return c.Errorf("input split %v sums to %d, want %d (dim %d of %v)", vals, sum, dim.Size, axis, in.Shape)
		}
	case a.Has("num_outputs"):
		k := a.Int("num_outputs", 0)
		if k != int64(n) {
			return c.Errorf("attribute num_outputs is %d but the node has %d outputs, want them equal", k, n)
		}
		if !dim.Known() {
			break
		}
		// Opset 18: chunks of ceil(dim/n), the last one smaller.
		chunk := (dim.Size + k - 1) / k
		last := dim.Size - chunk*(k-1)
		if last < 0 {
			return c.Errorf("dim %d of %v (size %d) cannot be split into %d chunks of %d (the last would have %d elements)", axis, in.Shape, dim.Size, k, chunk, last)
		}
		for i := range sizes {
			sizes[i] = D(chunk)
		}
		sizes[n-1] = D(last)
	default:
		// Before opset 18 the outputs split the axis evenly.
		if n == 1 {
			sizes[0] = dim
			break
		}
		if !dim.Known() {
			break
		}
		if dim.Size%int64(n) != 0 {
			return c.Errorf("dim %d of %v (size %d) does not split evenly into %d outputs, want a split input or num_outputs", axis, in.Shape, dim.Size, n)
		}
		for i := range sizes {
			sizes[i] = D(dim.Size / int64(n))
		}
	}
	for i := range sizes {
		s := in.Shape.Clone()
		s[axis] = sizes[i]
		c.SetOut(i, Type{DType: in.DType, Shape: s})
	}
	return nil
}

// SliceDim is the resolved slice of one dim: the Len elements at Start,
// Start+Step, Start+2*Step ... of the input. Len is -1 when the input dim is
// not known.
type SliceDim struct{ Start, Step, Len int64 }

// ResolveSlice applies Slice's rules to an input shape and the values of its
// starts, ends and optional axes and steps (nil when absent): it returns one
// SliceDim per input dim (a dim no axis names is taken whole) and the output
// shape. Starts and ends are clamped as the ONNX spec says: a negative index
// counts from the end, then starts clamp to [0, dim] ([0, dim-1] for negative
// steps) and ends to [0, dim] ([-1, dim-1] for negative steps).
func ResolveSlice(in Shape, starts, ends, axes, steps []int64) ([]SliceDim, Shape, error) {
	r := in.Rank()
	if len(ends) != len(starts) {
		return nil, nil, fmt.Errorf("starts has %d entries and ends %d, want the same number", len(starts), len(ends))
	}
	if axes != nil && len(axes) != len(starts) {
		return nil, nil, fmt.Errorf("axes has %d entries and starts %d, want the same number", len(axes), len(starts))
	}
	if steps != nil && len(steps) != len(starts) {
		return nil, nil, fmt.Errorf("steps has %d entries and starts %d, want the same number", len(steps), len(starts))
	}
	var ax []int
	if axes == nil {
		if len(starts) > r {
			return nil, nil, fmt.Errorf("starts has %d entries for an input of rank %d", len(starts), r)
		}
		ax = make([]int, len(starts))
		for i := range ax {
			ax[i] = i
		}
	} else {
		var err error
		if ax, err = tNormAxes(axes, r); err != nil {
			return nil, nil, fmt.Errorf("axes: %v", err)
		}
	}
	dims := make([]SliceDim, r)
	out := in.Clone()
	for i, d := range in {
		dims[i] = SliceDim{Start: 0, Step: 1, Len: d.Size}
	}
	for i, a := range ax {
		step := int64(1)
		if steps != nil {
			step = steps[i]
		}
		if step == 0 {
			return nil, nil, fmt.Errorf("steps %v: step %d is 0, want a non-zero step", steps, i)
		}
		d := in[a]
		if !d.Known() {
			dims[a] = SliceDim{Start: -1, Step: step, Len: -1}
			// Taking a whole unknown dim (start 0 to "the end", or its
			// reverse) keeps it; anything else depends on the size.
			whole := (step == 1 && starts[i] == 0 && ends[i] >= math.MaxInt32) ||
				(step == -1 && starts[i] == -1 && ends[i] <= math.MinInt32)
			if !whole {
				out[a] = UnknownDim
			}
			continue
		}
		start, n := sliceAxis(starts[i], ends[i], step, d.Size)
		dims[a] = SliceDim{Start: start, Step: step, Len: n}
		out[a] = D(n)
	}
	return dims, out, nil
}

// sliceAxis clamps one axis' start and end for a dim of size dim and returns
// the first index and the number of elements taken.
func sliceAxis(start, end, step, dim int64) (first, n int64) {
	if start < 0 {
		start += dim
	}
	if end < 0 {
		end += dim
	}
	if step > 0 {
		start = min(max(start, 0), dim)
		end = min(max(end, 0), dim)
		if end <= start {
			return start, 0
		}
		return start, (end - start + step - 1) / step
	}
	start = min(max(start, 0), dim-1)
	end = min(max(end, -1), dim-1)
	if start <= end {
		return max(start, 0), 0
	}
	return start, (start - end + (-step) - 1) / (-step)
}

func inferSlice(c *InferContext) error {
	in := c.In[0]
	names := []string{1: "starts", 2: "ends", 3: "axes", 4: "steps"}
	for i := 1; i < c.NumIn(); i++ {
		if i < 3 || c.Has(i) {
			if err := tCheckIndexInput(c, i, names[i], true); err != nil {
				return err
			}
		}
	}
	vals := make([][]int64, 5)
	known := true
	for i := 1; i < 5; i++ {
		if !c.Has(i) {
			continue
		}
		v, ok := tConstInts(c, i)
		known = known && ok
		vals[i] = v
	}
	if !known {
		// The sliced axes lose their sizes; if even they are not known,
		// every dim does.
		out := in.Shape.Clone()
		var axes []int
		switch {
		case vals[3] != nil:
			axes, _ = tNormAxes(vals[3], in.Shape.Rank())
		case !c.Has(3) && tLen(c, 1) >= 0 && tLen(c, 1) <= in.Shape.Rank():
			for i := 0; i < tLen(c, 1); i++ {
				axes = append(axes, i)
			}
		}
		if axes == nil {
			out = tUnknown(in.Shape.Rank())
		}
		for _, a := range axes {
			out[a] = UnknownDim
		}
		c.SetOut(0, Type{DType: in.DType, Shape: out})
		return nil
	}
	_, out, err := ResolveSlice(in.Shape, vals[1], vals[2], vals[3], vals[4])
	if err != nil {
		return c.Errorf("%v", err)
	}
	c.SetOut(0, Type{DType: in.DType, Shape: out})
	return nil
}

func inferSqueeze(c *InferContext) error {
	in := c.In[0]
	r := in.Shape.Rank()
	if !c.Has(1) {
		// Without axes every size-1 dim goes. A symbolic or unknown dim is
		// assumed not to be 1 (it is a batch or sequence size); at run time
		// the concrete shape decides.
		var out Shape
		for _, d := range in.Shape {
			if !(d.Known() && d.Size == 1) {
				out = append(out, d)
			}
		}
		c.SetOut(0, Type{DType: in.DType, Shape: out})
		return nil
	}
	if err := tCheckIndexInput(c, 1, "axes", false); err != nil {
		return err
	}
	axes, ok := tConstInts(c, 1)
	if !ok {
		if n := tLen(c, 1); n >= 0 && n <= r {
			c.SetOut(0, Type{DType: in.DType, Shape: tUnknown(r - n)})
		} else {
			c.SetOut(0, Type{DType: in.DType, Shape: tRecorded(c, 0)})
		}
		return nil
	}
	ax, err := tNormAxes(axes, r)
	if err != nil {
		return c.Errorf("input axes: %v", err)
	}
	drop := make([]bool, r)
	for _, a := range ax {
		if d := in.Shape[a]; d.Known() && d.Size != 1 {
			return c.Errorf("cannot squeeze axis %d of input %v: its size is %d, want 1", a, in.Shape, d.Size)
		}
		drop[a] = true
	}
	out := Shape{}
	for i, d := range in.Shape {
		if !drop[i] {
			out = append(out, d)
		}
	}
	c.SetOut(0, Type{DType: in.DType, Shape: out})
	return nil
}

func inferUnsqueeze(c *InferContext) error {
	in := c.In[0]
	if err := tCheckIndexInput(c, 1, "axes", false); err != nil {
		return err
	}
	axes, ok := tConstInts(c, 1)
	if !ok {
		if n := tLen(c, 1); n >= 0 {
			c.SetOut(0, Type{DType: in.DType, Shape: tUnknown(in.Shape.Rank() + n)})
		} else {
			c.SetOut(0, Type{DType: in.DType, Shape: tRecorded(c, 0)})
		}
		return nil
	}
	r := in.Shape.Rank() + len(axes)
	ax, err := tNormAxes(axes, r)
	if err != nil {
		return c.Errorf("input axes: %v (the output has rank %d)", err, r)
	}
	ones := make([]bool, r)
	for _, a := range ax {
		ones[a] = true
	}
	out := make(Shape, r)
	k := 0
	for i := range out {
		if ones[i] {
			out[i] = D(1)
		} else {
			out[i] = in.Shape[k]
			k++
		}
	}
	c.SetOut(0, Type{DType: in.DType, Shape: out})
	return nil
}

// ResolvePads spreads Pad's pads over every dim of an input of rank r: pads
// lists the begin pads of the given axes (all dims, in order, when axes is
// nil) and then their end pads. Dims not listed get 0.
func ResolvePads(r int, pads, axes []int64) (begin, end []int64, err error) {
	var ax []int
	if axes == nil {
		ax = make([]int, r)
		for i := range ax {
			ax[i] = i
		}
	} else if ax, err = tNormAxes(axes, r); err != nil {
		return nil, nil, fmt.Errorf("axes: %v", err)
	}
	if len(pads) != 2*len(ax) {
		return nil, nil, fmt.Errorf("pads has %d values, want %d (a begin and an end for each of %d axes)", len(pads), 2*len(ax), len(ax))
	}
	begin, end = make([]int64, r), make([]int64, r)
	for i, a := range ax {
		begin[a], end[a] = pads[i], pads[i+len(ax)]
	}
	return begin, end, nil
}

func inferPad(c *InferContext) error {
	in := c.In[0]
	r := in.Shape.Rank()
	mode := c.Attrs().String("mode", "constant")
	switch mode {
	case "constant", "reflect", "edge", "wrap":
	default:
		return c.Errorf("attribute mode is %q, want constant, reflect, edge or wrap", mode)
	}
	if err := tCheckIndexInput(c, 1, "pads", false); err != nil {
		return err
	}
	if c.Has(2) {
		if t := c.In[2]; t.DType != in.DType {
			return c.Errorf("input constant_value is %v and data is %v, want the same dtype", t.DType, in.DType)
		} else if n := t.Shape.NumElements(); n >= 0 && n != 1 {
			return c.Errorf("input constant_value has shape %v, want a scalar", t.Shape)
		}
	}
	if c.Has(3) {
		if err := tCheckIndexInput(c, 3, "axes", true); err != nil {
			return err
		}
	}
	pads, padsOK := tConstInts(c, 1)
	axes, axesOK := tConstInts(c, 3)
	if !c.Has(3) {
		axes, axesOK = nil, true
	}
	if !padsOK || !axesOK {
		out := in.Shape.Clone()
		if axesOK && axes != nil {
			if ax, err := tNormAxes(axes, r); err == nil {
				for _, a := range ax {
					out[a] = UnknownDim
				}
				c.SetOut(0, Type{DType: in.DType, Shape: out})
				return nil
			}
		}
		c.SetOut(0, Type{DType: in.DType, Shape: tUnknown(r)})
		return nil
	}
	begin, end, err := ResolvePads(r, pads, axes)
	if err != nil {
		return c.Errorf("%v", err)
	}
	out := in.Shape.Clone()
	for i, d := range in.Shape {
		if begin[i] == 0 && end[i] == 0 {
			continue
		}
		if !d.Known() {
			out[i] = UnknownDim
			continue
		}
		n := d.Size + begin[i] + end[i]
		if n < 0 {
			return c.Errorf("pads %v crop axis %d of input %v to %d elements, want at least 0", pads, i, in.Shape, n)
		}
		if mode != "constant" && d.Size == 0 && (begin[i] > 0 || end[i] > 0) {
			return c.Errorf("cannot %s-pad axis %d of input %v: it is empty", mode, i, in.Shape)
		}
		out[i] = D(n)
	}
	c.SetOut(0, Type{DType: in.DType, Shape: out})
	return nil
}

func inferDropout(c *InferContext) error {
	if c.Has(1) {
		t := c.In[1]
		if !t.DType.IsFloat() {
			return c.Errorf("input ratio is %v, want a float scalar", t.DType)
		}
		if n := t.Shape.NumElements(); n >= 0 && n != 1 {
			return c.Errorf("input ratio has shape %v, want a scalar", t.Shape)
		}
		if v := c.Const(1); v != nil && v.Len() == 1 {
			if r := v.AsFloat64(0); !(r >= 0 && r < 1) {
				return c.Errorf("input ratio is %v, want a value in [0, 1)", r)
			}
		}
	}
	if c.Has(2) {
		t := c.In[2]
		if t.DType != Bool {
			return c.Errorf("input training_mode is %v, want a bool scalar", t.DType)
		}
		if n := t.Shape.NumElements(); n >= 0 && n != 1 {
			return c.Errorf("input training_mode has shape %v, want a scalar", t.Shape)
		}
	}
	c.SetOut(0, Type{DType: c.In[0].DType, Shape: c.In[0].Shape.Clone()})
	c.SetOut(1, Type{DType: Bool, Shape: c.In[0].Shape.Clone()})
	return nil
}

// ShapeRange returns the dims [start, end) that Shape outputs for an input
// of rank r: negative values count from the end, then both clamp to [0, r].
func ShapeRange(a Attrs, r int) (start, end int) {
	clamp := func(v int64) int {
		if v < 0 {
			v += int64(r)
		}
		return int(min(max(v, 0), int64(r)))
	}
	start = clamp(a.Int("start", 0))
	end = r
	if a.Has("end") {
		end = clamp(a.Int("end", 0))
	}
	return start, max(start, end)
}

func inferShape(c *InferContext) error {
	start, end := ShapeRange(c.Attrs(), c.In[0].Shape.Rank())
	c.SetOut(0, Type{DType: Int64, Shape: Shape{D(int64(end - start))}})
	return nil
}

func inferGather(c *InferContext) error {
	data, idx := c.In[0], c.In[1]
	if idx.DType != Int32 && idx.DType != Int64 {
		return c.Errorf("input indices is %v, want i32 or i64", idx.DType)
	}
	axis, err := NormAxis(c.Attrs().Int("axis", 0), data.Shape.Rank())
	if err != nil {
		return c.Errorf("attribute axis: %v (data has shape %v)", err, data.Shape)
	}
	if d := data.Shape[axis]; d.Known() {
		if vals, ok := tConstInts(c, 1); ok {
			for i, v := range vals {
				if v < -d.Size || v >= d.Size {
					return c.Errorf("indices[%d] is %d, want a value in [%d, %d) (axis %d of data %v)", i, v, -d.Size, d.Size, axis, data.Shape)
				}
			}
		}
	}
	out := append(Shape{}, data.Shape[:axis]...)
	out = append(out, idx.Shape...)
	out = append(out, data.Shape[axis+1:]...)
	c.SetOut(0, Type{DType: data.DType, Shape: out})
	return nil
}

func inferCast(c *InferContext) error {
	a := c.Attrs()
	if !a.Has("to") {
		return c.Errorf("attribute to is missing, want an ONNX element type code")
	}
	code := a.Int("to", 0)
	to, ok := DTypeFromONNX(code)
	if !ok {
		name := onnxTypeNames[code]
		if name == "" {
			name = "an unknown code"
		}
		return c.Errorf("attribute to is %d (%s), want a type sqc supports (FLOAT, DOUBLE, FLOAT16, BFLOAT16, BOOL or an integer type)", code, name)
	}
	if s := a.Int("saturate", 1); s != 0 && s != 1 {
		return c.Errorf("attribute saturate is %d, want 0 or 1", s)
	}
	c.SetOut(0, Type{DType: to, Shape: c.In[0].Shape.Clone()})
	return nil
}

// ewReduceMeanType is ReduceMean's constraint (opset 18): floats and the
// 32/64-bit integers.
func ewReduceMeanType(d DType) bool {
	switch d {
	case Int32, Int64, Uint32, Uint64:
		return true
	}
	return d.IsFloat()
}

// ResolveReduceAxes returns which dims of a rank-r input a reduction covers,
// given the axes input's value (nil or empty when absent): all dims for no
// axes, or none (nil) when noopWithEmptyAxes asks the op to pass its input
// through.
func ResolveReduceAxes(r int, axes []int64, noopWithEmptyAxes bool) ([]bool, error) {
	if len(axes) == 0 {
		if noopWithEmptyAxes {
			return nil, nil
		}
		all := make([]bool, r)
		for i := range all {
			all[i] = true
		}
		return all, nil
	}
	ax, err := tNormAxes(axes, r)
	if err != nil {
		return nil, err
	}
	red := make([]bool, r)
	for _, a := range ax {
		red[a] = true
	}
	return red, nil
}

func inferReduceMean(c *InferContext) error {
	return inferReduce(c, ewReduceMeanType, "a float type or a 32/64-bit integer type", c.In[0].DType)
}

// inferReduce is the shape rule of the Reduce ops (opset 18: axes as an
// optional input) and, for their output dtype out, of ArgMax/ArgMin: the
// reduced dims are dropped, or kept as 1s when keepdims.
func inferReduce(c *InferContext, ok func(DType) bool, want string, outDType DType) error {
	in := c.In[0]
	r := in.Shape.Rank()
	if err := ewCheckDType(c, 0, "input data", ok, want); err != nil {
		return err
	}
	in.DType = outDType
	a := c.Attrs()
	keep := a.Int("keepdims", 1) != 0
	noop := a.Int("noop_with_empty_axes", 0) != 0
	var axes []int64
	if c.Has(1) {
		if err := tCheckIndexInput(c, 1, "axes", false); err != nil {
			return err
		}
		v, ok := tConstInts(c, 1)
		if !ok {
			n := tLen(c, 1)
			switch {
			case keep:
				c.SetOut(0, Type{DType: in.DType, Shape: tUnknown(r)})
			case n == 0 && noop:
				c.SetOut(0, Type{DType: in.DType, Shape: in.Shape.Clone()})
			case n == 0:
				c.SetOut(0, Type{DType: in.DType, Shape: Shape{}})
			case n > 0 && n <= r:
				c.SetOut(0, Type{DType: in.DType, Shape: tUnknown(r - n)})
			default:
				c.SetOut(0, Type{DType: in.DType, Shape: tRecorded(c, 0)})
			}
			return nil
		}
		axes = v
	}
	red, err := ResolveReduceAxes(r, axes, noop)
	if err != nil {
		return c.Errorf("input axes: %v (input has shape %v)", err, in.Shape)
	}
	out := Shape{}
	for i, d := range in.Shape {
		switch {
		case red == nil || !red[i]:
			out = append(out, d)
		case keep:
			out = append(out, D(1))
		}
	}
	c.SetOut(0, Type{DType: in.DType, Shape: out})
	return nil
}

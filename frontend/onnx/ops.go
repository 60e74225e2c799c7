package onnx

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/sqc-project/sqc/frontend/onnx/internal/codec"
	"github.com/sqc-project/sqc/frontend/onnx/internal/onnxpb"
	"github.com/sqc-project/sqc/ir"
)

// nodeCtx is one ONNX node being lowered.
type nodeCtx struct {
	pb   *onnxpb.NodeProto
	name string // the IR node's name
	// opset is the model's default-domain opset, which selects the
	// operator version the node follows.
	opset int64
	// ins are the resolved inputs, nil for an omitted optional one.
	ins   []*ir.Value
	attrs map[string]*onnxpb.AttributeProto
}

// opSpec says how an ONNX op is lowered.
type opSpec struct {
	// lower rewrites the node; nil lowers it one to one.
	lower func(l *lowerer, n *nodeCtx) error
	// drop lists attributes that have no effect on inference and that the
	// IR op does not take (old opsets' consumed_inputs, Gemm-6's broadcast).
	drop []string
	// since is the opset that introduced the op; 0 means opset 1. A node
	// of a model importing an older opset is an error, as ONNX's checker
	// makes it.
	since int64
}

// consumed is the "consumed_inputs" attribute of opset-1 ops: a hint for
// in-place execution with no effect on results.
var consumed = []string{"consumed_inputs"}

// ops lists the ONNX operators the frontend lowers.
var ops map[string]opSpec

func init() {
	// Ops with no lower function have had the same meaning in every
	// version, up to attributes the IR takes as they are (new optional ones
	// default to the old behaviour: AveragePool-7's count_include_pad=0,
	// MaxPool-8's storage_order, MaxPool-10's ceil_mode and dilations).
	//
	// ConvTranspose-1's documentation splits an odd total padding the other
	// way round from ConvTranspose-11's when output_shape is given; ONNX
	// treated that as a documentation error (onnx/onnx#1609, fixed by
	// #2095 in the opset-11 text), so every version is lowered as the
	// fixed text says.
	ops = map[string]opSpec{
		"Conv":               {},
		"ConvTranspose":      {},
		"Gemm":               {drop: []string{"broadcast"}},
		"MatMul":             {},
		"Add":                {lower: lowerBinary},
		"Sub":                {lower: lowerBinary},
		"Mul":                {lower: lowerBinary},
		"Div":                {lower: lowerBinary},
		"Relu":               {drop: consumed},
		"LeakyRelu":          {drop: consumed},
		"PRelu":              {lower: lowerPRelu},
		"Clip":               {lower: lowerClip},
		"Sigmoid":            {drop: consumed},
		"HardSigmoid":        {drop: consumed},
		"HardSwish":          {since: 14},
		"Tanh":               {drop: consumed},
		"Softmax":            {lower: lowerSoftmax},
		"LogSoftmax":         {lower: lowerSoftmax},
		"MaxPool":            {},
		"AveragePool":        {},
		"GlobalAveragePool":  {},
		"GlobalMaxPool":      {},
		"BatchNormalization": {lower: lowerBatchNorm},
		"Flatten":            {},
		"Reshape":            {lower: lowerReshape},
		"Transpose":          {},
		"Concat":             {lower: lowerConcat},
		"Split":              {lower: lowerSplit},
		"Slice":              {lower: lowerSlice},
		"Squeeze":            {lower: lowerAxesAttr},
		"Unsqueeze":          {lower: lowerAxesAttr},
		"Pad":                {lower: lowerPad},
		"Identity":           {},
		"Dropout":            {lower: lowerDropout},
		"Constant":           {lower: lowerConstant},
		"Shape":              {},
		"Gather":             {},
		"Cast":               {lower: lowerCast},
		"ReduceMean":         {lower: lowerAxesAttr},
		"Exp":                {drop: consumed},
		"Log":                {drop: consumed},
		"Sqrt":               {drop: consumed},
		"Neg":                {drop: consumed},
		"Abs":                {drop: consumed},
		"Reciprocal":         {drop: consumed},
		"Floor":              {drop: consumed},
		"Ceil":               {drop: consumed},
		"Round":              {since: 11},
		"Erf":                {since: 9},
		"Elu":                {drop: consumed},
		"Selu":               {drop: consumed},
		"Softplus":           {},
		"Mish":               {since: 18},
		"Gelu":               {since: 20},
		"Not":                {},
		"Softsign":           {},
		"ThresholdedRelu":    {since: 10},
		"Celu":               {since: 12},
		"Sin":                {since: 7}, "Cos": {since: 7}, "Tan": {since: 7},
		"Asin": {since: 7}, "Acos": {since: 7}, "Atan": {since: 7},
		"Sinh": {since: 9}, "Cosh": {since: 9}, "Asinh": {since: 9}, "Acosh": {since: 9}, "Atanh": {since: 9},
		"Sign":                  {since: 9},
		"Shrink":                {since: 9},
		"IsNaN":                 {since: 9},
		"IsInf":                 {since: 10},
		"Size":                  {},
		"Min":                   {drop: consumed},
		"Max":                   {drop: consumed},
		"Sum":                   {drop: consumed},
		"Mean":                  {drop: consumed},
		"Mod":                   {since: 10},
		"Pow":                   {lower: lowerBinary},
		"Equal":                 {lower: lowerBinary},
		"Less":                  {lower: lowerBinary},
		"Greater":               {lower: lowerBinary},
		"LessOrEqual":           {since: 12},
		"GreaterOrEqual":        {since: 12},
		"And":                   {lower: lowerBinary},
		"Or":                    {lower: lowerBinary},
		"Xor":                   {lower: lowerBinary},
		"Where":                 {since: 9},
		"ReduceSum":             {lower: lowerAxesAttr},
		"ReduceProd":            {lower: lowerAxesAttr},
		"ReduceMax":             {lower: lowerAxesAttr},
		"ReduceMin":             {lower: lowerAxesAttr},
		"ReduceL1":              {lower: lowerAxesAttr},
		"ReduceL2":              {lower: lowerAxesAttr},
		"ReduceSumSquare":       {lower: lowerAxesAttr},
		"ReduceLogSum":          {lower: lowerAxesAttr},
		"ReduceLogSumExp":       {lower: lowerAxesAttr},
		"ArgMax":                {},
		"ArgMin":                {},
		"TopK":                  {lower: lowerTopK},
		"Expand":                {since: 8},
		"Tile":                  {lower: lowerTile},
		"CastLike":              {lower: lowerCastLike, since: 15},
		"ConstantOfShape":       {lower: lowerConstantOfShape, since: 9},
		"Range":                 {since: 11},
		"DepthToSpace":          {},
		"SpaceToDepth":          {},
		"GatherElements":        {since: 11},
		"ScatterND":             {since: 11},
		"NonMaxSuppression":     {since: 10},
		"InstanceNormalization": {drop: consumed},
		"LayerNormalization":    {since: 17},
		"GroupNormalization":    {lower: lowerGroupNorm, since: 18},
		"Resize":                {lower: lowerResize, since: 10},
		"Upsample":              {lower: lowerUpsample, since: 7},
		"QuantizeLinear":        {since: 10},
		"DequantizeLinear":      {since: 10},
		"QLinearConv":           {since: 10},
		"QLinearMatMul":         {since: 10},
		"ConvInteger":           {since: 10},
		"MatMulInteger":         {since: 10},
	}
}

// SupportedOps lists the ONNX operators (default domain) the frontend can lower.
func SupportedOps() []string {
	names := make([]string, 0, len(ops))
	for k := range ops {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// lowerNode lowers one ONNX node.
func (l *lowerer) lowerNode(pb *onnxpb.NodeProto, name string) error {
	domain := pb.GetDomain()
	if domain != "" && domain != "ai.onnx" {
		if v, ok := l.m.Imports[domain]; ok {
			return fmt.Errorf("unsupported op %s (domain %s, opset %d)", pb.GetOpType(), domain, v)
		}
		return fmt.Errorf("unsupported op %s (domain %s, which the model does not import)", pb.GetOpType(), domain)
	}
	if l.m.Opset == 0 {
		if len(l.m.Imports) == 0 {
			return fmt.Errorf("op %s is of the default domain ai.onnx, but the model imports no opset (ir_version %d); want an opset_import of ai.onnx at opset %d to %d", pb.GetOpType(), l.m.IRVersion, MinOpset, MaxOpset)
		}
		return fmt.Errorf("op %s is of the default domain ai.onnx, which the model does not import; want an opset_import of ai.onnx at opset %d to %d", pb.GetOpType(), MinOpset, MaxOpset)
	}
	spec, ok := ops[pb.GetOpType()]
	if !ok {
		return fmt.Errorf("unsupported op %s (opset %d)", pb.GetOpType(), l.m.Opset)
	}
	if l.m.Opset < spec.since {
		return fmt.Errorf("op %s does not exist in opset %d: ONNX introduced it in opset %d", pb.GetOpType(), l.m.Opset, spec.since)
	}
	n := &nodeCtx{pb: pb, name: name, opset: l.m.Opset, attrs: map[string]*onnxpb.AttributeProto{}}
	for _, a := range pb.GetAttribute() {
		if a.GetName() == "" {
			return errors.New("an attribute has no name")
		}
		if _, dup := n.attrs[a.GetName()]; dup {
			return fmt.Errorf("attribute %q is given twice", a.GetName())
		}
		if a.GetRefAttrName() != "" {
			return fmt.Errorf("attribute %q refers to a function attribute %q, which is only allowed inside functions", a.GetName(), a.GetRefAttrName())
		}
		n.attrs[a.GetName()] = a
	}
	for _, in := range pb.GetInput() {
		v, err := l.value(in)
		if err != nil {
			return err
		}
		n.ins = append(n.ins, v)
	}
	// Trailing omitted inputs say nothing; the IR leaves them out.
	for len(n.ins) > 0 && n.ins[len(n.ins)-1] == nil {
		n.ins = n.ins[:len(n.ins)-1]
	}
	if spec.lower != nil {
		return spec.lower(l, n)
	}
	return l.passthrough(n, pb.GetOpType(), n.ins, spec.drop...)
}

// passthrough emits the node one to one under the IR op name op, with the
// given inputs and all attributes but the dropped ones.
func (l *lowerer) passthrough(n *nodeCtx, op string, ins []*ir.Value, drop ...string) error {
	attrs, err := n.irAttrs(drop...)
	if err != nil {
		return err
	}
	outs, err := l.outputs(n, op)
	if err != nil {
		return err
	}
	return l.emit(n.name, op, ins, outs, attrs)
}

// outputs creates the IR values of the node's outputs. Trailing outputs the
// IR op does not have are dropped when nothing reads them (MaxPool's
// Indices, say); an omitted output ("") before a present one gets a
// generated name.
func (l *lowerer) outputs(n *nodeCtx, op string) ([]*ir.Value, error) {
	names := n.pb.GetOutput()
	for len(names) > 0 && names[len(names)-1] == "" {
		names = names[:len(names)-1]
	}
	if len(names) == 0 {
		return nil, errors.New("node has no outputs")
	}
	keep := len(names)
	if s := ir.Lookup(op); s != nil && s.MaxOutputs < keep {
		keep = s.MaxOutputs
	}
	for k := keep; k < len(names); k++ {
		if names[k] != "" && l.used[names[k]] > 0 {
			return nil, fmt.Errorf("output %d %q is used, but the IR's %s has %d output(s)", k, names[k], op, keep)
		}
	}
	outs := make([]*ir.Value, keep)
	for k := range outs {
		if names[k] == "" {
			outs[k] = &ir.Value{Name: l.freshName(fmt.Sprintf("%s/output%d", n.name, k))}
			continue
		}
		outs[k] = &ir.Value{Name: names[k]}
		l.values[names[k]] = outs[k]
	}
	return outs, nil
}

// output returns the single ONNX output of a node whose lowering produces
// one value.
func (l *lowerer) output(n *nodeCtx) (*ir.Value, error) {
	outs, err := l.outputs(n, "")
	if err != nil {
		return nil, err
	}
	if len(outs) != 1 {
		return nil, fmt.Errorf("%d outputs, want 1", len(outs))
	}
	return outs[0], nil
}

// --- attribute access ---

func (n *nodeCtx) has(name string) bool { _, ok := n.attrs[name]; return ok }

// errorf makes an error about a form of an older opset, naming the op and
// the model's opset (the caller's caller adds the node): "Add at opset 6:
// legacy broadcast ...".
func (n *nodeCtx) errorf(format string, args ...any) error {
	return fmt.Errorf("%s at opset %d: %s", n.pb.GetOpType(), n.opset, fmt.Sprintf(format, args...))
}

func (n *nodeCtx) attrOfType(name string, want onnxpb.AttributeProto_AttributeType) (*onnxpb.AttributeProto, error) {
	a, ok := n.attrs[name]
	if !ok {
		return nil, nil
	}
	if got := attrType(a); got != want {
		return nil, fmt.Errorf("attribute %q is %v, want %v", name, got, want)
	}
	return a, nil
}

func (n *nodeCtx) intAttr(name string, def int64) (int64, error) {
	a, err := n.attrOfType(name, onnxpb.AttributeProto_INT)
	if a == nil || err != nil {
		return def, err
	}
	return a.GetI(), nil
}

func (n *nodeCtx) floatAttr(name string, def float32) (float32, error) {
	a, err := n.attrOfType(name, onnxpb.AttributeProto_FLOAT)
	if a == nil || err != nil {
		return def, err
	}
	return a.GetF(), nil
}

// intsAttr returns an INTS attribute; ok is false when it is absent.
func (n *nodeCtx) intsAttr(name string) (v []int64, ok bool, err error) {
	a, err := n.attrOfType(name, onnxpb.AttributeProto_INTS)
	if a == nil || err != nil {
		// An empty INTS attribute may carry no type and no data.
		if a0, present := n.attrs[name]; present && attrType(a0) == onnxpb.AttributeProto_UNDEFINED {
			return []int64{}, true, nil
		}
		return nil, false, err
	}
	return a.GetInts(), true, nil
}

// irAttrs converts the node's attributes, but the dropped ones, to IR form.
func (n *nodeCtx) irAttrs(drop ...string) (ir.Attrs, error) {
	out := ir.Attrs{}
outer:
	for _, a := range n.pb.GetAttribute() {
		for _, d := range drop {
			if a.GetName() == d {
				continue outer
			}
		}
		v, err := convertAttr(a)
		if err != nil {
			return nil, err
		}
		out[a.GetName()] = v
	}
	return out, nil
}

// convertAttr maps an ONNX attribute to the IR attribute of the same kind.
func convertAttr(a *onnxpb.AttributeProto) (ir.Attr, error) {
	switch t := attrType(a); t {
	case onnxpb.AttributeProto_INT:
		return ir.IntAttr(a.GetI()), nil
	case onnxpb.AttributeProto_FLOAT:
		return ir.FloatAttr(a.GetF()), nil
	case onnxpb.AttributeProto_STRING:
		return ir.StringAttr(string(a.GetS())), nil
	case onnxpb.AttributeProto_INTS:
		return ir.IntsAttr(append([]int64{}, a.GetInts()...)...), nil
	case onnxpb.AttributeProto_FLOATS:
		return ir.FloatsAttr(append([]float32{}, a.GetFloats()...)...), nil
	case onnxpb.AttributeProto_STRINGS:
		ss := make([]string, len(a.GetStrings()))
		for i, s := range a.GetStrings() {
			ss[i] = string(s)
		}
		return ir.StringsAttr(ss...), nil
	case onnxpb.AttributeProto_UNDEFINED:
		return ir.Attr{}, fmt.Errorf("attribute %q has no type and no value", a.GetName())
	default:
		return ir.Attr{}, fmt.Errorf("attribute %q is of type %v; the IR takes only int, float, string and list attributes", a.GetName(), t)
	}
}

// --- constants ---

// int64Vector is a 1-D int64 tensor.
func int64Vector(v []int64) *ir.Tensor {
	return ir.FromInt64(append([]int64{}, v...), len(v))
}

// scalarOf makes a scalar tensor of dtype dt holding v.
func scalarOf(dt ir.DType, v float64) (*ir.Tensor, error) {
	return numericTensor(dt, []float64{v}, nil)
}

// floatTensor makes a tensor of float dtype dt and the given shape from
// float64 values.
func floatTensor(dt ir.DType, vals []float64, shape []int) (*ir.Tensor, error) {
	if !dt.IsFloat() {
		return nil, fmt.Errorf("%v is not a float type", dt)
	}
	return numericTensor(dt, vals, shape)
}

// numericTensor makes a tensor of dtype dt and the given shape holding vals,
// converted as a Cast would (16-bit floats rounded, integers truncated).
func numericTensor(dt ir.DType, vals []float64, shape []int) (*ir.Tensor, error) {
	if dt.Size() == 0 {
		return nil, fmt.Errorf("no tensor of dtype %v", dt)
	}
	t := ir.NewTensor(dt, shape...)
	if t.Len() != len(vals) {
		return nil, fmt.Errorf("%d values for shape %v", len(vals), shape)
	}
	for i, v := range vals {
		switch d := t.Data.(type) {
		case []float32:
			d[i] = float32(v)
		case []float64:
			d[i] = v
		case []uint16:
			switch dt {
			case ir.Float16:
				d[i] = ir.Float32ToHalf(float32(v))
			case ir.BFloat16:
				d[i] = ir.Float32ToBFloat16(float32(v))
			default:
				d[i] = uint16(v)
			}
		case []int8:
			d[i] = int8(v)
		case []uint8:
			d[i] = uint8(v)
		case []int16:
			d[i] = int16(v)
		case []int32:
			d[i] = int32(v)
		case []uint32:
			d[i] = uint32(v)
		case []int64:
			d[i] = int64(v)
		case []uint64:
			d[i] = uint64(v)
		case []bool:
			d[i] = v != 0
		}
	}
	return t, nil
}

// attrToInput turns an INTS attribute of an old opset into the constant i64
// input that replaced it; nil when the attribute is absent.
func (l *lowerer) attrToInput(n *nodeCtx, attr string) (*ir.Value, error) {
	v, ok, err := n.intsAttr(attr)
	if err != nil || !ok {
		return nil, err
	}
	return l.constant(n.name+"/"+attr, int64Vector(v)), nil
}

// --- op lowerings ---

// lowerBinary lowers Add, Sub, Mul and Div, and the other binary ops that
// took the same attributes before opset 7 (Pow, the comparisons, And, Or,
// Xor). Before opset 7 they took
// broadcast and axis attributes: with broadcast=1, B's dims lined up with
// A's starting at axis (by default at the end), and a B of one element was
// shared; with broadcast=0 (the default) the shapes had to be equal. Numpy
// broadcasting aligns dims at the end, so a B placed at an axis gets
// trailing 1s. Such attributes are still met in files that declare a newer
// opset, and are lowered the same way.
func lowerBinary(l *lowerer, n *nodeCtx) error {
	bcast, err := n.intAttr("broadcast", 0)
	if err != nil {
		return err
	}
	ins := n.ins
	if len(ins) != 2 || ins[0] == nil || ins[1] == nil {
		return fmt.Errorf("%d inputs, want 2", len(ins))
	}
	if bcast == 1 && n.has("axis") && !allOnes(ins[1].Type.Shape) {
		axis, err := n.intAttr("axis", 0)
		if err != nil {
			return err
		}
		ra, rb := ins[0].Type.Shape.Rank(), ins[1].Type.Shape.Rank()
		if axis < 0 {
			axis += int64(ra)
		}
		fits := axis >= 0 && axis+int64(rb) <= int64(ra)
		for i := 0; fits && i < rb; i++ {
			da, db := ins[0].Type.Shape[int(axis)+i], ins[1].Type.Shape[i]
			if da.Known() && db.Known() && db.Size != 1 && da.Size != db.Size {
				fits = false
			}
		}
		if !fits {
			return n.errorf("legacy broadcast of %v at axis %d does not fit %v", ins[1].Type.Shape, axis, ins[0].Type.Shape)
		}
		b, err := l.trailingOnes(n, ins[1], ra-int(axis)-rb, "broadcast")
		if err != nil {
			return err
		}
		ins = []*ir.Value{ins[0], b}
	}
	return l.passthrough(n, n.pb.GetOpType(), ins, "broadcast", "axis", "consumed_inputs")
}

// allOnes reports whether every dim of s is known to be 1 (a scalar too):
// such a tensor broadcasts the same way wherever its dims are placed.
func allOnes(s ir.Shape) bool {
	for _, d := range s {
		if !d.Known() || d.Size != 1 {
			return false
		}
	}
	return true
}

// trailingOnes returns v with k size-1 dims appended, so that numpy
// broadcasting lines v's dims up with those of a higher-rank tensor that end
// k dims earlier: a reshaped copy for a constant, an Unsqueeze named
// "<node>/<suffix>" otherwise. k <= 0 returns v.
func (l *lowerer) trailingOnes(n *nodeCtx, v *ir.Value, k int, suffix string) (*ir.Value, error) {
	if k <= 0 {
		return v, nil
	}
	r := v.Type.Shape.Rank()
	if v.IsConst() {
		shape := append([]int{}, v.Const.Shape...)
		for i := 0; i < k; i++ {
			shape = append(shape, 1)
		}
		return l.constant(n.name+"/"+suffix, v.Const.Reshaped(shape...)), nil
	}
	axes := make([]int64, k)
	for i := range axes {
		axes[i] = int64(r + i)
	}
	return l.aux(n, suffix, "Unsqueeze", []*ir.Value{v, l.constant(n.name+"/"+suffix+"_axes", int64Vector(axes))}, nil)
}

// lowerPRelu lowers PRelu. Opset 7 gave it numpy (unidirectional)
// broadcasting of the slope; before, the slope had one element, shared by
// all, or one per channel (axis 1) as Caffe2 and PyTorch wrote it: a 1-D
// slope of C elements, which numpy broadcasting would line up with the last
// axis instead, so it gets trailing 1s. Other slope shapes are read the
// numpy way, the only meaning they have.
func lowerPRelu(l *lowerer, n *nodeCtx) error {
	ins := n.ins
	if len(ins) != 2 || ins[0] == nil || ins[1] == nil {
		return fmt.Errorf("%d inputs, want 2 (X and slope)", len(ins))
	}
	x, slope := ins[0], ins[1]
	rx := x.Type.Shape.Rank()
	if n.opset < 7 && slope.Type.Shape.Rank() == 1 && rx >= 3 && !allOnes(slope.Type.Shape) {
		c, k := x.Type.Shape[1], slope.Type.Shape[0]
		if c.Known() && k.Known() && c.Size != k.Size {
			return n.errorf("slope %q has %d elements, but input %q has %d channels (axis 1); before opset 7 a 1-D slope is per channel, want 1 or %d elements", slope.Name, k.Size, x.Name, c.Size, c.Size)
		}
		s, err := l.trailingOnes(n, slope, rx-2, "slope")
		if err != nil {
			return err
		}
		ins = []*ir.Value{x, s}
	}
	return l.passthrough(n, "PRelu", ins, "consumed_inputs")
}

// lowerConcat lowers Concat, whose axis was optional before opset 4 and
// then defaulted to 1.
func lowerConcat(l *lowerer, n *nodeCtx) error {
	if n.opset >= 4 || n.has("axis") {
		return l.passthrough(n, "Concat", n.ins)
	}
	attrs, err := n.irAttrs()
	if err != nil {
		return err
	}
	attrs["axis"] = ir.IntAttr(1)
	outs, err := l.outputs(n, "Concat")
	if err != nil {
		return err
	}
	return l.emit(n.name, "Concat", n.ins, outs, attrs)
}

// lowerClip moves the min and max attributes of Clip-1 and Clip-6 into the
// scalar inputs opset 11 replaced them with. An absent bound is none in
// Clip-1, but -FLT_MAX or FLT_MAX in Clip-6 (which clamps infinities, and
// doubles beyond float range), so opsets 6 to 10 get those constants.
func lowerClip(l *lowerer, n *nodeCtx) error {
	if n.opset >= 11 {
		return l.passthrough(n, "Clip", n.ins)
	}
	if len(n.ins) != 1 {
		return n.errorf("%d inputs, want 1 (before opset 11 Clip takes min and max as attributes)", len(n.ins))
	}
	x := n.ins[0]
	if !x.Type.DType.IsFloat() {
		return n.errorf("input %q is %v; before opset 11 Clip takes float types only", x.Name, x.Type.DType)
	}
	ins := []*ir.Value{x, nil, nil}
	for i, name := range []string{"min", "max"} {
		def, hasDefault := float32(-math.MaxFloat32), n.opset >= 6
		if i == 1 {
			def = math.MaxFloat32
		}
		if !n.has(name) && !hasDefault {
			continue
		}
		f, err := n.floatAttr(name, def)
		if err != nil {
			return err
		}
		t, err := scalarOf(x.Type.DType, float64(f))
		if err != nil {
			return err
		}
		ins[1+i] = l.constant(n.name+"/"+name, t)
	}
	for len(ins) > 1 && ins[len(ins)-1] == nil {
		ins = ins[:len(ins)-1]
	}
	return l.passthrough(n, "Clip", ins, "min", "max", "consumed_inputs")
}

// lowerSoftmax lowers Softmax and LogSoftmax. Before opset 13 they coerced
// the input to 2-D at axis (default 1) and normalised over everything from
// axis on; from 13 on they normalise along the one axis (default -1). The
// two agree when axis is the last dim, or when every dim after it is 1;
// otherwise the old form becomes Flatten, the op along axis 1, and a Reshape
// back to the input's shape.
func lowerSoftmax(l *lowerer, n *nodeCtx) error {
	op := n.pb.GetOpType()
	if n.opset >= 13 {
		return l.passthrough(n, op, n.ins)
	}
	if len(n.ins) != 1 {
		return fmt.Errorf("%d inputs, want 1", len(n.ins))
	}
	axis, err := n.intAttr("axis", 1)
	if err != nil {
		return err
	}
	x := n.ins[0]
	shape := x.Type.Shape
	a, err := ir.NormAxis(axis, shape.Rank())
	if err != nil {
		return err
	}
	sameAsNew := true
	for _, d := range shape[a+1:] {
		if !d.Known() || d.Size != 1 {
			sameAsNew = false
		}
	}
	if sameAsNew {
		outs, err := l.outputs(n, op)
		if err != nil {
			return err
		}
		return l.emit(n.name, op, []*ir.Value{x}, outs, ir.Attrs{"axis": ir.IntAttr(int64(a))})
	}
	flat, err := l.aux(n, "flatten", "Flatten", []*ir.Value{x}, ir.Attrs{"axis": ir.IntAttr(int64(a))})
	if err != nil {
		return err
	}
	y2 := &ir.Value{Name: l.freshName(n.name + "/2d")}
	if err := l.emit(n.name, op, []*ir.Value{flat}, []*ir.Value{y2}, ir.Attrs{"axis": ir.IntAttr(1)}); err != nil {
		return err
	}
	var shapeV *ir.Value
	if dims, ok := shape.Ints(); ok {
		s := make([]int64, len(dims))
		for i, d := range dims {
			s[i] = int64(d)
		}
		shapeV = l.constant(n.name+"/shape", int64Vector(s))
	} else {
		shapeV, err = l.aux(n, "shape", "Shape", []*ir.Value{x}, nil)
		if err != nil {
			return err
		}
	}
	out, err := l.output(n)
	if err != nil {
		return err
	}
	name := l.freshNode(n.name + "/reshape")
	return l.emit(name, "Reshape", []*ir.Value{y2, shapeV}, []*ir.Value{out}, nil)
}

// lowerBatchNorm keeps inference-mode BatchNormalization. Before opset 7 the
// mode was the is_test attribute, whose default 0 is training; from opset 7
// to 13 it was the number of outputs, and from 14 training_mode. Training
// mode is an error, since its outputs are batch statistics. momentum only
// matters in training and is dropped; spatial=0 (opsets 1 to 8: statistics
// per activation, not per channel) is rewritten by batchNormPerActivation.
func lowerBatchNorm(l *lowerer, n *nodeCtx) error {
	if v, err := n.intAttr("training_mode", 0); err != nil {
		return err
	} else if v != 0 {
		return errors.New("training_mode=1 computes batch statistics; want an inference model (training_mode=0)")
	}
	if err := checkIsTest(n, "batch statistics"); err != nil {
		return err
	}
	for i, o := range n.pb.GetOutput() {
		if i > 0 && o != "" {
			return fmt.Errorf("output %d %q is a training-mode output (running or saved mean/variance); want only the output Y", i, o)
		}
	}
	spatial, err := n.intAttr("spatial", 1)
	if err != nil {
		return err
	}
	if spatial == 0 && len(n.ins) == 5 && n.ins[0] != nil && n.ins[0].Type.Shape.Rank() > 2 {
		return l.batchNormPerActivation(n)
	}
	return l.passthrough(n, "BatchNormalization", n.ins, "training_mode", "is_test", "spatial", "momentum", "consumed_inputs")
}

// checkIsTest checks the is_test attribute of BatchNormalization and
// Dropout before opset 7, where it selected inference (1) or training (0,
// the default). From opset 7 on the attribute is gone and an inference
// model is assumed; a stray one is still honoured. what says what training
// mode would compute.
func checkIsTest(n *nodeCtx, what string) error {
	def := int64(1)
	if n.opset < 7 {
		def = 0
	}
	v, err := n.intAttr("is_test", def)
	if err != nil || v != 0 {
		return err
	}
	if !n.has("is_test") {
		return n.errorf("is_test is absent, and before opset 7 that means training mode (%s); want is_test=1 (an inference model)", what)
	}
	return n.errorf("is_test=0 selects training mode (%s); want is_test=1 (an inference model)", what)
}

// batchNormPerActivation lowers inference BatchNormalization with spatial=0,
// whose scale, B, mean and var have X's shape without the batch dim
// (C×D1×…). The IR's BatchNormalization normalises per channel, so the node
// becomes y = x·a + b with a = scale/sqrt(var+epsilon) and b = B − mean·a,
// computed here (in float64) from constant parameters; numpy broadcasting
// lines a and b up with X's dims 1 on. Computed parameters are an error.
func (l *lowerer) batchNormPerActivation(n *nodeCtx) error {
	eps, err := n.floatAttr("epsilon", 1e-5)
	if err != nil {
		return err
	}
	x := n.ins[0]
	want := x.Type.Shape[1:]
	dims, ok := want.Ints()
	if !ok {
		return n.errorf("spatial=0 on input %q of shape %v: the per-activation parameters need X's dims after the batch dim known", x.Name, x.Type.Shape)
	}
	var p [4]*ir.Tensor
	for i, name := range []string{"scale", "B", "mean", "var"} {
		v := n.ins[1+i]
		if v == nil || !v.IsConst() {
			return n.errorf("spatial=0 (statistics per activation) with a computed %s: only constant parameters can be folded into the per-channel form", name)
		}
		if !sameDims(v.Const.Shape, dims) {
			return n.errorf("spatial=0: %s %q has shape %v, want %v (X's shape %v without the batch dim)", name, v.Name, v.Const.Shape, dims, x.Type.Shape)
		}
		if v.Const.DType != x.Type.DType {
			return n.errorf("%s %q is %v and input %q %v, want the same dtype", name, v.Name, v.Const.DType, x.Name, x.Type.DType)
		}
		p[i] = v.Const
	}
	count := ir.NumElements(dims)
	a, b := make([]float64, count), make([]float64, count)
	for i := range a {
		a[i] = p[0].AsFloat64(i) / math.Sqrt(p[3].AsFloat64(i)+float64(eps))
		b[i] = p[1].AsFloat64(i) - float64(p[2].AsFloat64(i)*a[i])
	}
	at, err := floatTensor(x.Type.DType, a, dims)
	if err != nil {
		return err
	}
	bt, err := floatTensor(x.Type.DType, b, dims)
	if err != nil {
		return err
	}
	scaled, err := l.aux(n, "scale", "Mul", []*ir.Value{x, l.constant(n.name+"/scale", at)}, nil)
	if err != nil {
		return err
	}
	out, err := l.output(n)
	if err != nil {
		return err
	}
	return l.emit(n.name, "Add", []*ir.Value{scaled, l.constant(n.name+"/shift", bt)}, []*ir.Value{out}, nil)
}

// sameDims reports whether two shapes are equal.
func sameDims(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// lowerReshape moves Reshape-1's shape attribute into the input opset 5 made
// of it.
func lowerReshape(l *lowerer, n *nodeCtx) error {
	ins := n.ins
	if n.has("shape") {
		if len(ins) != 1 {
			return n.errorf("%d inputs and a shape attribute, want either 1 input and the attribute or 2 inputs", len(ins))
		}
		s, err := l.attrToInput(n, "shape")
		if err != nil {
			return err
		}
		ins = []*ir.Value{ins[0], s}
	}
	return l.passthrough(n, "Reshape", ins, "shape", "consumed_inputs")
}

// lowerSplit moves the split attribute (opsets 1 to 12) into the input
// opset 13 made of it. Split-1 could also take the sizes as a second input
// of the data's (float) type; it becomes i64. Without sizes, old opsets
// split evenly into as many parts as the node has outputs, which opset 18
// says with num_outputs.
func lowerSplit(l *lowerer, n *nodeCtx) error {
	ins := n.ins
	if n.has("split") {
		if len(ins) != 1 {
			return n.errorf("%d inputs and a split attribute, want either", len(ins))
		}
		s, err := l.attrToInput(n, "split")
		if err != nil {
			return err
		}
		ins = []*ir.Value{ins[0], s}
	} else if len(ins) == 2 && ins[1] != nil && ins[1].Type.DType != ir.Int64 && n.opset < 2 {
		s, err := l.toInt64(n, ins[1], "split")
		if err != nil {
			return err
		}
		ins = []*ir.Value{ins[0], s}
	}
	attrs, err := n.irAttrs("split")
	if err != nil {
		return err
	}
	if len(ins) < 2 && !attrs.Has("num_outputs") {
		attrs["num_outputs"] = ir.IntAttr(int64(len(n.pb.GetOutput())))
	}
	outs, err := l.outputs(n, "Split")
	if err != nil {
		return err
	}
	return l.emit(n.name, "Split", ins, outs, attrs)
}

// toInt64 converts a size or index input that an old opset typed like the
// data (a float tensor) to i64: a constant is converted here, and must hold
// whole numbers; a computed value gets a Cast named "<node>/<what>".
func (l *lowerer) toInt64(n *nodeCtx, v *ir.Value, what string) (*ir.Value, error) {
	if !v.IsConst() {
		return l.aux(n, what, "Cast", []*ir.Value{v}, ir.Attrs{"to": ir.IntAttr(int64(onnxpb.TensorProto_INT64))})
	}
	vals := make([]int64, v.Const.Len())
	for i := range vals {
		f := v.Const.AsFloat64(i)
		if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return nil, n.errorf("%s input %q holds %v, want whole numbers", what, v.Name, f)
		}
		vals[i] = int64(f)
	}
	return l.constant(n.name+"/"+what, ir.FromInt64(vals, v.Const.Shape...)), nil
}

// lowerSlice moves Slice-1's starts, ends and axes attributes into the
// inputs opset 10 made of them.
func lowerSlice(l *lowerer, n *nodeCtx) error {
	if !n.has("starts") && !n.has("ends") {
		return l.passthrough(n, "Slice", n.ins)
	}
	if len(n.ins) != 1 {
		return n.errorf("%d inputs and starts/ends attributes, want either", len(n.ins))
	}
	if !n.has("starts") || !n.has("ends") {
		return n.errorf("Slice-1 needs both the starts and ends attributes")
	}
	ins := []*ir.Value{n.ins[0]}
	for _, a := range []string{"starts", "ends", "axes"} {
		v, err := l.attrToInput(n, a)
		if err != nil {
			return err
		}
		if v != nil {
			ins = append(ins, v)
		}
	}
	return l.passthrough(n, "Slice", ins, "starts", "ends", "axes")
}

// lowerAxesAttr lowers Squeeze and Unsqueeze (axes attribute before opset 13)
// and the Reduce ops (before opset 18; ReduceSum before 13): the attribute
// becomes the input that replaced it.
func lowerAxesAttr(l *lowerer, n *nodeCtx) error {
	op := n.pb.GetOpType()
	ins := n.ins
	if n.has("axes") {
		if len(ins) != 1 {
			return n.errorf("%d inputs and an axes attribute, want either", len(ins))
		}
		a, err := l.attrToInput(n, "axes")
		if err != nil {
			return err
		}
		ins = []*ir.Value{ins[0], a}
	}
	return l.passthrough(n, op, ins, "axes")
}

// lowerPad moves the pads (Pad-2; "paddings" in Pad-1) and value attributes
// into the inputs opset 11 made of them.
func lowerPad(l *lowerer, n *nodeCtx) error {
	attr := "pads"
	if n.has("paddings") {
		if n.has("pads") {
			return n.errorf("both the paddings attribute (Pad-1) and pads (Pad-2) are given, want one")
		}
		attr = "paddings"
	}
	if !n.has(attr) {
		return l.passthrough(n, "Pad", n.ins)
	}
	if len(n.ins) != 1 {
		return n.errorf("%d inputs and a %s attribute, want either", len(n.ins), attr)
	}
	x := n.ins[0]
	pads, err := l.attrToInput(n, attr)
	if err != nil {
		return err
	}
	ins := []*ir.Value{x, pads}
	if n.has("value") {
		f, err := n.floatAttr("value", 0)
		if err != nil {
			return err
		}
		t, err := scalarOf(x.Type.DType, float64(f))
		if err != nil {
			return err
		}
		ins = append(ins, l.constant(n.name+"/value", t))
	}
	return l.passthrough(n, "Pad", ins, attr, "value")
}

// lowerDropout keeps inference-mode Dropout (the identity). Before opset 7
// the is_test attribute chose the mode, training by default; training with
// ratio 0 drops nothing and scales by 1, so it is the identity too. The
// ratio, an attribute before opset 12, has no effect in inference; a
// training_mode input that is true (unless the ratio is a constant 0, which
// drops nothing and scales by 1: torchvision's Swin exports that), or not
// known when compiling, is an error. Before opset 10 the mask output had the data's type: in inference
// all ones (opsets 7 to 9; a constant, for a static shape) or not filled at
// all (before 7).
func lowerDropout(l *lowerer, n *nodeCtx) error {
	if err := checkIsTest(n, "inputs dropped at random"); err != nil {
		ratio, rerr := n.floatAttr("ratio", 0.5)
		if rerr != nil {
			return rerr
		}
		if ratio != 0 {
			return err
		}
	}
	if len(n.ins) > 2 && n.ins[2] != nil {
		tm := n.ins[2]
		if !tm.IsConst() {
			return fmt.Errorf("training_mode input %q is computed at run time; want a constant false (inference)", tm.Name)
		}
		if tm.Const.Len() != 1 {
			return fmt.Errorf("training_mode input %q has %d elements, want a scalar", tm.Name, tm.Const.Len())
		}
		ratioZero := len(n.ins) > 1 && n.ins[1] != nil && n.ins[1].IsConst() && n.ins[1].Const.Len() == 1 && n.ins[1].Const.AsFloat64(0) == 0
		if tm.Const.AsFloat64(0) != 0 && !ratioZero {
			return fmt.Errorf("training_mode input %q is true with a ratio that is not a constant 0; want an inference model (false or absent)", tm.Name)
		}
	}
	if len(n.ins) == 0 || n.ins[0] == nil {
		return errors.New("no data input (want the input to pass through)")
	}
	drop := []string{"ratio", "is_test", "consumed_inputs"}
	outNames := n.pb.GetOutput()
	if n.opset >= 10 || len(outNames) < 2 || outNames[1] == "" || l.used[outNames[1]] == 0 {
		return l.passthrough(n, "Dropout", n.ins, drop...)
	}
	x := n.ins[0]
	if n.opset < 7 {
		return n.errorf("output 1 %q (the mask) is used, but before opset 7 inference leaves it unfilled", outNames[1])
	}
	if outNames[0] == "" {
		return errors.New("output 0 has no name (want the output Y)")
	}
	dims, ok := x.Type.Shape.Ints()
	if !ok {
		return n.errorf("output 1 %q (the mask, of the data's type before opset 10) is used; its all-ones value needs a static shape, but input %q is %v", outNames[1], x.Name, x.Type.Shape)
	}
	ones := make([]float64, ir.NumElements(dims))
	for i := range ones {
		ones[i] = 1
	}
	mask, err := floatTensor(x.Type.DType, ones, dims)
	if err != nil {
		return err
	}
	l.values[outNames[1]] = ir.NewConst(outNames[1], mask)
	attrs, err := n.irAttrs(drop...)
	if err != nil {
		return err
	}
	y := &ir.Value{Name: outNames[0]}
	l.values[outNames[0]] = y
	return l.emit(n.name, "Dropout", n.ins, []*ir.Value{y}, attrs)
}

// lowerConstant turns a Constant node into a constant value: tensor-valued
// attributes never reach the IR.
func lowerConstant(l *lowerer, n *nodeCtx) error {
	if len(n.pb.GetAttribute()) != 1 {
		return fmt.Errorf("%d attributes, want exactly one value attribute", len(n.pb.GetAttribute()))
	}
	a := n.pb.GetAttribute()[0]
	var t *ir.Tensor
	switch a.GetName() {
	case "value":
		if attrType(a) != onnxpb.AttributeProto_TENSOR || a.GetT() == nil {
			return fmt.Errorf("attribute \"value\" is %v, want TENSOR", attrType(a))
		}
		var err error
		t, err = l.m.tc.decodeTensorProto(a.GetT(), "attribute \"value\"")
		if err != nil {
			return err
		}
	case "value_float":
		f, err := n.floatAttr("value_float", 0)
		if err != nil {
			return err
		}
		t = ir.FromFloat32([]float32{f})
	case "value_floats":
		if attrType(a) != onnxpb.AttributeProto_FLOATS && attrType(a) != onnxpb.AttributeProto_UNDEFINED {
			return fmt.Errorf("attribute \"value_floats\" is %v, want FLOATS", attrType(a))
		}
		f := append([]float32{}, a.GetFloats()...)
		t = ir.FromFloat32(f, len(f))
	case "value_int":
		v, err := n.intAttr("value_int", 0)
		if err != nil {
			return err
		}
		t = ir.FromInt64([]int64{v})
	case "value_ints":
		v, _, err := n.intsAttr("value_ints")
		if err != nil {
			return err
		}
		t = int64Vector(v)
	case "sparse_value":
		return errors.New("sparse_value constants are not supported (want a dense value)")
	case "value_string", "value_strings":
		return fmt.Errorf("%s: string tensors are not supported (want a numeric constant)", a.GetName())
	default:
		return fmt.Errorf("unknown attribute %q (want value, value_float(s) or value_int(s))", a.GetName())
	}
	outs := n.pb.GetOutput()
	if len(outs) != 1 || outs[0] == "" {
		return fmt.Errorf("%d outputs, want 1", len(outs))
	}
	if len(n.ins) != 0 {
		return fmt.Errorf("%d inputs, want none", len(n.ins))
	}
	l.values[outs[0]] = ir.NewConst(outs[0], t)
	return nil
}

// lowerCast checks that the target type is one the IR has. Cast-1 names it
// with a string ("FLOAT"), which becomes the element-type code later
// versions take.
func lowerCast(l *lowerer, n *nodeCtx) error {
	a, ok := n.attrs["to"]
	if !ok {
		return errors.New("no \"to\" attribute (want the target element type)")
	}
	var to int64
	if attrType(a) == onnxpb.AttributeProto_STRING {
		if n.opset >= 6 {
			return n.errorf("attribute \"to\" is the string %q, the form of Cast-1; from opset 6 on want an INT element-type code", a.GetS())
		}
		name := strings.ToUpper(strings.TrimSpace(string(a.GetS())))
		code, ok := onnxpb.TensorProto_DataType_value[name]
		if !ok || code == 0 {
			return n.errorf("to=%q is not an ONNX element type (want a TensorProto.DataType name: FLOAT, INT64, ...)", a.GetS())
		}
		to = int64(code)
	} else {
		var err error
		if to, err = n.intAttr("to", 0); err != nil {
			return err
		}
	}
	if to < math.MinInt32 || to > math.MaxInt32 {
		return fmt.Errorf("to=%d is not an ONNX element type", to)
	}
	if _, err := codec.DTypeFromONNX(int32(to)); err != nil {
		return fmt.Errorf("cast to %v", err)
	}
	attrs, err := n.irAttrs("to")
	if err != nil {
		return err
	}
	attrs["to"] = ir.IntAttr(to)
	outs, err := l.outputs(n, "Cast")
	if err != nil {
		return err
	}
	return l.emit(n.name, "Cast", n.ins, outs, attrs)
}

// lowerConstantOfShape moves the value attribute (a one-element tensor;
// absent means f32 0) into the IR op's second input.
func lowerConstantOfShape(l *lowerer, n *nodeCtx) error {
	if len(n.ins) != 1 {
		return fmt.Errorf("%d inputs, want 1 (the shape)", len(n.ins))
	}
	ins := n.ins
	if a, ok := n.attrs["value"]; ok {
		if attrType(a) != onnxpb.AttributeProto_TENSOR || a.GetT() == nil {
			return fmt.Errorf("attribute \"value\" is %v, want a one-element TENSOR", attrType(a))
		}
		t, err := l.m.tc.decodeTensorProto(a.GetT(), "attribute \"value\"")
		if err != nil {
			return err
		}
		if t.Len() != 1 {
			return fmt.Errorf("attribute \"value\" has shape %v, want one element", t.Shape)
		}
		ins = []*ir.Value{ins[0], l.constant(n.name+"/value", t.Reshaped(1))}
	}
	outs, err := l.outputs(n, "ConstantOfShape")
	if err != nil {
		return err
	}
	return l.emit(n.name, "ConstantOfShape", ins, outs, nil)
}

// lowerGroupNorm lowers GroupNormalization. Opsets 18 to 20 gave scale and
// bias one value per group, which opset 21 replaced by one per channel (the
// per-group form was a mistake in the spec); a per-group vector becomes the
// per-channel one by repeating each value C/num_groups times: computed here
// for a constant, with Unsqueeze, Expand and Reshape nodes otherwise.
func lowerGroupNorm(l *lowerer, n *nodeCtx) error {
	if len(n.ins) != 3 {
		return fmt.Errorf("%d inputs, want 3 (X, scale, bias)", len(n.ins))
	}
	g, err := n.intAttr("num_groups", 0)
	if err != nil {
		return err
	}
	if !n.has("num_groups") || g < 1 {
		return errors.New("attribute num_groups is missing or < 1, want the number of channel groups")
	}
	x := n.ins[0]
	ins := append([]*ir.Value{}, n.ins...)
	if n.opset < 21 && x.Type.Shape.Rank() >= 2 {
		ch := x.Type.Shape[1]
		for i, name := range []string{1: "scale", 2: "bias"} {
			if i == 0 {
				continue
			}
			v := ins[i]
			s := v.Type.Shape
			if s.Rank() != 1 || !s[0].Known() || s[0].Size != g || (ch.Known() && ch.Size == g) {
				continue
			}
			if !ch.Known() {
				return n.errorf("input X has shape %v: repeating the per-group %s %q over the channels needs the channel count", x.Type.Shape, name, v.Name)
			}
			if ch.Size%g != 0 {
				return n.errorf("input X has %d channels, want a multiple of num_groups %d", ch.Size, g)
			}
			if ins[i], err = l.perChannel(n, v, name, g, ch.Size/g); err != nil {
				return err
			}
		}
	}
	return l.passthrough(n, "GroupNormalization", ins)
}

// perChannel repeats each of the g values of v k times.
func (l *lowerer) perChannel(n *nodeCtx, v *ir.Value, name string, g, k int64) (*ir.Value, error) {
	if v.IsConst() {
		vals := make([]float64, 0, g*k)
		for i := 0; i < int(g); i++ {
			for j := int64(0); j < k; j++ {
				vals = append(vals, v.Const.AsFloat64(i))
			}
		}
		t, err := floatTensor(v.Const.DType, vals, []int{int(g * k)})
		if err != nil {
			return nil, err
		}
		return l.constant(n.name+"/"+name, t), nil
	}
	col, err := l.aux(n, name+"_col", "Unsqueeze", []*ir.Value{v, l.constant(n.name+"/"+name+"_axes", int64Vector([]int64{1}))}, nil)
	if err != nil {
		return nil, err
	}
	rep, err := l.aux(n, name+"_rep", "Expand", []*ir.Value{col, l.constant(n.name+"/"+name+"_shape", int64Vector([]int64{g, k}))}, nil)
	if err != nil {
		return nil, err
	}
	return l.aux(n, name+"_flat", "Reshape", []*ir.Value{rep, l.constant(n.name+"/"+name+"_len", int64Vector([]int64{g * k}))}, nil)
}

// lowerResize lowers Resize. Resize-10 took only X and scales, with the
// asymmetric coordinate transformation and, for nearest, the floor of the
// original coordinate (what ONNX Runtime does when upsampling); later
// versions pass through.
func lowerResize(l *lowerer, n *nodeCtx) error {
	if n.opset >= 11 {
		if ins, attrs, ok := l.resizeToConstSizes(n); ok {
			outs, err := l.outputs(n, "Resize")
			if err != nil {
				return err
			}
			return l.emit(n.name, "Resize", ins, outs, attrs)
		}
		return l.passthrough(n, "Resize", n.ins)
	}
	if len(n.ins) != 2 {
		return n.errorf("%d inputs, want 2 (X and scales)", len(n.ins))
	}
	return l.resizeAsymmetric(n, n.ins[0], n.ins[1])
}

// resizeToConstSizes rewrites a Resize whose sizes are computed from
// shapes (F.interpolate(size=...) on a symbolic batch: Concat(Shape(x)[:2],
// Shape(y)[2:])) when shape inference knows them: every size is either a
// number or the input's own dim (the batch symbol), so the axes with a
// number become opset 18's axes attribute and the sizes a constant. The
// other axes keep their size with scale 1, which every coordinate
// transformation but tf_crop_and_resize (whose roi lists every axis) maps
// to itself; the Shape arithmetic then feeds nothing and is dropped as dead
// code.
func (l *lowerer) resizeToConstSizes(n *nodeCtx) ([]*ir.Value, ir.Attrs, bool) {
	if len(n.ins) != 4 || n.ins[3] == nil || n.ins[3].IsConst() || (n.ins[2] != nil && !(n.ins[2].IsConst() && n.ins[2].Const.Len() == 0)) {
		return nil, nil, false
	}
	x, sv := n.ins[0], n.ins[3].ShapeValue
	if n.has("axes") || n.has("keep_aspect_ratio_policy") || len(sv) != x.Type.Shape.Rank() {
		return nil, nil, false
	}
	if ctm, ok := n.attrs["coordinate_transformation_mode"]; ok && string(ctm.GetS()) == "tf_crop_and_resize" {
		return nil, nil, false
	}
	var axes, sizes []int64
	for i, e := range sv {
		d := x.Type.Shape[i]
		switch {
		case e.Known && d.Known() && e.Val == d.Size:
		case !e.Known && e.Sym != "" && d.Sym == e.Sym:
		case e.Known && e.Val >= 0:
			axes, sizes = append(axes, int64(i)), append(sizes, e.Val)
		default:
			return nil, nil, false
		}
	}
	if len(axes) == 0 {
		return nil, nil, false
	}
	attrs, err := n.irAttrs()
	if err != nil {
		return nil, nil, false
	}
	attrs["axes"] = ir.IntsAttr(axes...)
	return []*ir.Value{x, nil, nil, l.constant(n.name+"/sizes", int64Vector(sizes))}, attrs, true
}

// lowerUpsample lowers Upsample (opsets 7 to 9; deprecated in 10) into
// Resize: the scales attribute (opset 7) or input (9), the asymmetric
// coordinate transformation, and nearest as the floor of the original
// coordinate, which for the usual whole scales repeats each element as
// ONNX's reference does. "bilinear", which some old exporters wrote, is
// linear.
func lowerUpsample(l *lowerer, n *nodeCtx) error {
	ins := n.ins
	if n.has("scales") {
		if len(ins) != 1 {
			return n.errorf("%d inputs and a scales attribute, want either", len(ins))
		}
		a, err := n.attrOfType("scales", onnxpb.AttributeProto_FLOATS)
		if err != nil {
			return err
		}
		f := append([]float32{}, a.GetFloats()...)
		ins = []*ir.Value{ins[0], l.constant(n.name+"/scales", ir.FromFloat32(f, len(f)))}
	}
	if len(ins) != 2 {
		return n.errorf("%d inputs, want X and scales", len(ins))
	}
	return l.resizeAsymmetric(n, ins[0], ins[1])
}

// resizeAsymmetric emits the Resize of X by scales that Resize-10 and
// Upsample compute.
func (l *lowerer) resizeAsymmetric(n *nodeCtx, x, scales *ir.Value) error {
	mode := "nearest"
	if a, ok := n.attrs["mode"]; ok {
		mode = strings.ToLower(string(a.GetS()))
	}
	switch mode {
	case "nearest", "linear":
	case "bilinear", "trilinear":
		mode = "linear"
	default:
		return n.errorf("attribute mode is %q, want nearest or linear", mode)
	}
	outs, err := l.outputs(n, "Resize")
	if err != nil {
		return err
	}
	attrs := ir.Attrs{
		"mode":                           ir.StringAttr(mode),
		"coordinate_transformation_mode": ir.StringAttr("asymmetric"),
		"nearest_mode":                   ir.StringAttr("floor"),
	}
	return l.emit(n.name, "Resize", []*ir.Value{x, nil, scales}, outs, attrs)
}

// lowerTile lowers Tile. Tile-1 took the repeat count of one axis as two
// scalar inputs, tiles and axis; opset 6 replaced them with one count an
// axis, which constant tiles and axis become.
func lowerTile(l *lowerer, n *nodeCtx) error {
	if n.opset >= 6 {
		return l.passthrough(n, "Tile", n.ins)
	}
	if len(n.ins) != 3 || n.ins[1] == nil || n.ins[2] == nil {
		return n.errorf("%d inputs, want 3 (input, tiles, axis)", len(n.ins))
	}
	x, tiles, axis := n.ins[0], n.ins[1], n.ins[2]
	if !tiles.IsConst() || !axis.IsConst() || tiles.Const.Len() != 1 || axis.Const.Len() != 1 {
		return n.errorf("tiles %q and axis %q must be constant scalars", tiles.Name, axis.Name)
	}
	r := x.Type.Shape.Rank()
	a, err := ir.NormAxis(axis.Const.AsInt64(0), r)
	if err != nil {
		return n.errorf("axis input: %v", err)
	}
	reps := make([]int64, r)
	for i := range reps {
		reps[i] = 1
	}
	reps[a] = tiles.Const.AsInt64(0)
	return l.passthrough(n, "Tile", []*ir.Value{x, l.constant(n.name+"/repeats", int64Vector(reps))})
}

// lowerCastLike is a Cast to the element type of the second input.
func lowerCastLike(l *lowerer, n *nodeCtx) error {
	if len(n.ins) != 2 || n.ins[0] == nil || n.ins[1] == nil {
		return fmt.Errorf("%d inputs, want 2 (input and target_type)", len(n.ins))
	}
	attrs, err := n.irAttrs()
	if err != nil {
		return err
	}
	attrs["to"] = ir.IntAttr(ir.ONNXTypeCode(n.ins[1].Type.DType))
	outs, err := l.outputs(n, "Cast")
	if err != nil {
		return err
	}
	return l.emit(n.name, "Cast", n.ins[:1], outs, attrs)
}

// lowerTopK moves TopK-1's k attribute into the input opset 10 made of it.
func lowerTopK(l *lowerer, n *nodeCtx) error {
	if !n.has("k") {
		return l.passthrough(n, "TopK", n.ins)
	}
	if len(n.ins) != 1 {
		return n.errorf("%d inputs and a k attribute, want either", len(n.ins))
	}
	k, err := n.intAttr("k", 0)
	if err != nil {
		return err
	}
	return l.passthrough(n, "TopK", []*ir.Value{n.ins[0], l.constant(n.name+"/k", int64Vector([]int64{k}))}, "k")
}

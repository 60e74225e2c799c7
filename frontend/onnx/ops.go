package onnx

import (
	"errors"
	"fmt"
	"math"
	"sort"

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
}

// consumed is the "consumed_inputs" attribute of opset-1 ops: a hint for
// in-place execution with no effect on results.
var consumed = []string{"consumed_inputs"}

// ops lists the ONNX operators the frontend lowers.
var ops map[string]opSpec

func init() {
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
		"PRelu":              {drop: consumed},
		"Clip":               {lower: lowerClip},
		"Sigmoid":            {drop: consumed},
		"HardSigmoid":        {drop: consumed},
		"HardSwish":          {},
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
		"Concat":             {},
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
		"QuantizeLinear":     {},
		"DequantizeLinear":   {},
		"QLinearConv":        {},
		"QLinearMatMul":      {},
		"ConvInteger":        {},
		"MatMulInteger":      {},
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
	spec, ok := ops[pb.GetOpType()]
	if !ok {
		return fmt.Errorf("unsupported op %s (opset %d)", pb.GetOpType(), l.m.Opset)
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
	if dt.Size() == 0 {
		return nil, fmt.Errorf("no scalar of dtype %v", dt)
	}
	t := ir.NewTensor(dt)
	switch d := t.Data.(type) {
	case []float32:
		d[0] = float32(v)
	case []float64:
		d[0] = v
	case []uint16:
		switch dt {
		case ir.Float16:
			d[0] = ir.Float32ToHalf(float32(v))
		case ir.BFloat16:
			d[0] = ir.Float32ToBFloat16(float32(v))
		default:
			d[0] = uint16(v)
		}
	case []int8:
		d[0] = int8(v)
	case []uint8:
		d[0] = uint8(v)
	case []int16:
		d[0] = int16(v)
	case []int32:
		d[0] = int32(v)
	case []uint32:
		d[0] = uint32(v)
	case []int64:
		d[0] = int64(v)
	case []uint64:
		d[0] = uint64(v)
	case []bool:
		d[0] = v != 0
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

// lowerBinary lowers Add, Sub, Mul and Div. Before opset 7 they took
// broadcast and axis attributes: with broadcast=1, B's dims lined up with
// A's starting at axis (by default at the end). Such attributes are still
// met in files that declare a newer opset; numpy broadcasting aligns dims
// at the end, so B gets trailing 1s to put its dims at axis.
func lowerBinary(l *lowerer, n *nodeCtx) error {
	bcast, err := n.intAttr("broadcast", 0)
	if err != nil {
		return err
	}
	ins := n.ins
	if len(ins) != 2 || ins[0] == nil || ins[1] == nil {
		return fmt.Errorf("%d inputs, want 2", len(ins))
	}
	if bcast == 1 && n.has("axis") {
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
			return fmt.Errorf("legacy broadcast of %v at axis %d does not fit %v", ins[1].Type.Shape, axis, ins[0].Type.Shape)
		}
		if trailing := ra - int(axis) - rb; trailing > 0 {
			b := ins[1]
			if b.IsConst() {
				shape := append(append([]int{}, b.Const.Shape...), make([]int, trailing)...)
				for i := rb; i < len(shape); i++ {
					shape[i] = 1
				}
				b = l.constant(n.name+"/broadcast", b.Const.Reshaped(shape...))
			} else {
				axes := make([]int64, trailing)
				for i := range axes {
					axes[i] = int64(rb + i)
				}
				b, err = l.aux(n, "broadcast", "Unsqueeze", []*ir.Value{b, l.constant(n.name+"/broadcast_axes", int64Vector(axes))}, nil)
				if err != nil {
					return err
				}
			}
			ins = []*ir.Value{ins[0], b}
		}
	}
	return l.passthrough(n, n.pb.GetOpType(), ins, "broadcast", "axis", "consumed_inputs")
}

// lowerClip moves Clip-6's min and max attributes into the scalar inputs
// opset 11 replaced them with.
func lowerClip(l *lowerer, n *nodeCtx) error {
	if n.opset >= 11 || (!n.has("min") && !n.has("max")) {
		return l.passthrough(n, "Clip", n.ins, "consumed_inputs")
	}
	if len(n.ins) != 1 {
		return fmt.Errorf("%d inputs, want 1 (opset %d Clip takes min and max as attributes)", len(n.ins), n.opset)
	}
	x := n.ins[0]
	ins := []*ir.Value{x, nil, nil}
	for i, name := range []string{"min", "max"} {
		if !n.has(name) {
			continue
		}
		f, err := n.floatAttr(name, 0)
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

// lowerBatchNorm keeps inference-mode BatchNormalization. The attributes of
// older versions that select inference (is_test), per-channel statistics
// (spatial) or only matter in training (momentum) are dropped once checked;
// training mode is an error, since its outputs are batch statistics.
func lowerBatchNorm(l *lowerer, n *nodeCtx) error {
	if v, err := n.intAttr("training_mode", 0); err != nil {
		return err
	} else if v != 0 {
		return errors.New("training_mode=1 computes batch statistics; want an inference model (training_mode=0)")
	}
	if v, err := n.intAttr("is_test", 1); err != nil {
		return err
	} else if v == 0 {
		return errors.New("is_test=0 selects training mode; want an inference model (is_test=1)")
	}
	if v, err := n.intAttr("spatial", 1); err != nil {
		return err
	} else if v != 1 {
		return errors.New("spatial=0 (statistics per activation, not per channel) is not supported, want spatial=1")
	}
	for i, o := range n.pb.GetOutput() {
		if i > 0 && o != "" {
			return fmt.Errorf("output %d %q is a training-mode output (running or saved mean/variance); want only the output Y", i, o)
		}
	}
	return l.passthrough(n, "BatchNormalization", n.ins, "training_mode", "is_test", "spatial", "momentum", "consumed_inputs")
}

// lowerReshape moves Reshape-1's shape attribute into the input opset 5 made
// of it.
func lowerReshape(l *lowerer, n *nodeCtx) error {
	ins := n.ins
	if n.has("shape") {
		if len(ins) != 1 {
			return fmt.Errorf("%d inputs and a shape attribute, want either 1 input and the attribute or 2 inputs", len(ins))
		}
		s, err := l.attrToInput(n, "shape")
		if err != nil {
			return err
		}
		ins = []*ir.Value{ins[0], s}
	}
	return l.passthrough(n, "Reshape", ins, "shape", "consumed_inputs")
}

// lowerSplit moves the split attribute (opsets 2 to 12) into the input
// opset 13 made of it. Without sizes, old opsets split evenly into as many
// parts as the node has outputs, which opset 18 says with num_outputs.
func lowerSplit(l *lowerer, n *nodeCtx) error {
	ins := n.ins
	if n.has("split") {
		if len(ins) != 1 {
			return fmt.Errorf("%d inputs and a split attribute, want either", len(ins))
		}
		s, err := l.attrToInput(n, "split")
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

// lowerSlice moves Slice-1's starts, ends and axes attributes into the
// inputs opset 10 made of them.
func lowerSlice(l *lowerer, n *nodeCtx) error {
	if !n.has("starts") && !n.has("ends") {
		return l.passthrough(n, "Slice", n.ins)
	}
	if len(n.ins) != 1 {
		return fmt.Errorf("%d inputs and starts/ends attributes, want either", len(n.ins))
	}
	if !n.has("starts") || !n.has("ends") {
		return errors.New("Slice-1 needs both the starts and ends attributes")
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
// and ReduceMean (before opset 18): the attribute becomes the input that
// replaced it.
func lowerAxesAttr(l *lowerer, n *nodeCtx) error {
	op := n.pb.GetOpType()
	ins := n.ins
	if n.has("axes") {
		if len(ins) != 1 {
			return fmt.Errorf("%d inputs and an axes attribute, want either", len(ins))
		}
		a, err := l.attrToInput(n, "axes")
		if err != nil {
			return err
		}
		ins = []*ir.Value{ins[0], a}
	}
	return l.passthrough(n, op, ins, "axes")
}

// lowerPad moves Pad-2's pads and value attributes into the inputs opset 11
// made of them.
func lowerPad(l *lowerer, n *nodeCtx) error {
	if !n.has("pads") {
		return l.passthrough(n, "Pad", n.ins)
	}
	if len(n.ins) != 1 {
		return fmt.Errorf("%d inputs and a pads attribute, want either", len(n.ins))
	}
	x := n.ins[0]
	pads, err := l.attrToInput(n, "pads")
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
	return l.passthrough(n, "Pad", ins, "pads", "value")
}

// lowerDropout keeps inference-mode Dropout (the identity). Its ratio, an
// attribute before opset 12, has no effect in inference; a training_mode
// input that is true, or not known when compiling, is an error.
func lowerDropout(l *lowerer, n *nodeCtx) error {
	if is, err := n.intAttr("is_test", 1); err != nil {
		return err
	} else if is == 0 {
		return errors.New("is_test=0 selects training mode; want an inference model")
	}
	if len(n.ins) > 2 && n.ins[2] != nil {
		tm := n.ins[2]
		if !tm.IsConst() {
			return fmt.Errorf("training_mode input %q is computed at run time; want a constant false (inference)", tm.Name)
		}
		if tm.Const.Len() != 1 {
			return fmt.Errorf("training_mode input %q has %d elements, want a scalar", tm.Name, tm.Const.Len())
		}
		if tm.Const.AsFloat64(0) != 0 {
			return fmt.Errorf("training_mode input %q is true; want an inference model (false or absent)", tm.Name)
		}
	}
	return l.passthrough(n, "Dropout", n.ins, "ratio", "is_test", "consumed_inputs")
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

// lowerCast checks that the target type is one the IR has.
func lowerCast(l *lowerer, n *nodeCtx) error {
	to, err := n.intAttr("to", 0)
	if err != nil {
		return err
	}
	if !n.has("to") {
		return errors.New("no \"to\" attribute (want the target element type)")
	}
	if to < math.MinInt32 || to > math.MaxInt32 {
		return fmt.Errorf("to=%d is not an ONNX element type", to)
	}
	if _, err := codec.DTypeFromONNX(int32(to)); err != nil {
		return fmt.Errorf("cast to %v", err)
	}
	return l.passthrough(n, "Cast", n.ins)
}

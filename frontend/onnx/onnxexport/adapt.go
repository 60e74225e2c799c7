package onnxexport

// Writing newest-opset IR nodes at an older opset.
//
// The IR keeps each op in its newest ONNX form. Where that form appeared
// after the opset being written (an attribute added, an attribute turned
// into an input), the node is rewritten into the older form when the
// rewrite computes exactly the same thing, usually because the input that
// must become an attribute is a constant, and refused otherwise, with an
// error that says which opset the node needs. Type constraints that older
// opsets had (Relu on integers before 14, say) are not checked here: a
// runtime loading the model reports those.

import (
	"fmt"
	"math"

	"github.com/sqc-project/sqc/ir"
)

// stdNode is a node of an ONNX op about to be written.
type stdNode struct {
	op    string
	ins   []*ir.Value
	outs  []*ir.Value
	attrs ir.Attrs
}

// in returns input i, or nil when it is absent.
func (n stdNode) in(i int) *ir.Value {
	if i < len(n.ins) {
		return n.ins[i]
	}
	return nil
}

// without returns a copy of the attributes without the named ones.
func (n stdNode) without(names ...string) ir.Attrs {
	a := make(ir.Attrs, len(n.attrs))
	for k, v := range n.attrs {
		a[k] = v
	}
	for _, k := range names {
		delete(a, k)
	}
	return a
}

// adapters rewrite the ops whose newest form is newer than MinOpset. Each
// writes the node as it is when the opset has that form.
var adapters map[string]func(w *writer, n stdNode) error

func init() {
	adapters = map[string]func(w *writer, n stdNode) error{
		"Reshape":            adaptReshape,
		"Shape":              adaptShape,
		"AveragePool":        adaptAveragePool,
		"Pad":                adaptPad,
		"Split":              adaptSplit,
		"ReduceMean":         adaptReduce(18),
		"ReduceSum":          adaptReduce(13),
		"ReduceProd":         adaptReduce(18),
		"ReduceMax":          adaptReduce(18),
		"ReduceMin":          adaptReduce(18),
		"ReduceL1":           adaptReduce(18),
		"ReduceL2":           adaptReduce(18),
		"ReduceSumSquare":    adaptReduce(18),
		"ReduceLogSum":       adaptReduce(18),
		"ReduceLogSumExp":    adaptReduce(18),
		"ConstantOfShape":    adaptConstantOfShape,
		"GroupNormalization": adaptGroupNorm,
		"Resize":             adaptResize,
		"Cast":               adaptCast,
		"QuantizeLinear":     adaptQuantizeLinear,
		"DequantizeLinear":   adaptDequantizeLinear,
		"HardSwish":          adaptHardSwish,
	}
}

// needs is the error for a node that has no exact form at the opset.
func needs(w *writer, opset int64, what string) error {
	return fmt.Errorf("%s needs opset %d or later, exporting opset %d", what, opset, w.opset)
}

// constInts returns the elements of a constant integer input.
func constInts(v *ir.Value) ([]int64, bool) {
	if !v.IsConst() {
		return nil, false
	}
	t := v.Const
	if t.DType != ir.Int64 && t.DType != ir.Int32 {
		return nil, false
	}
	out := make([]int64, t.Len())
	for i := range out {
		out[i] = t.AsInt64(i)
	}
	return out, true
}

// int64s is a 1-D i64 tensor.
func int64s(v ...int64) *ir.Tensor { return ir.FromInt64(v, len(v)) }

// Reshape-14 added allowzero. Without it a 0 in the shape copies the input
// dim, which is allowzero=0; allowzero=1 only differs when the shape holds
// a 0.
func adaptReshape(w *writer, n stdNode) error {
	if w.opset >= 14 || !n.attrs.Has("allowzero") {
		return w.emit(n.op, n.ins, n.outs, n.attrs)
	}
	if n.attrs.Int("allowzero", 0) != 0 {
		shape, ok := constInts(n.in(1))
		if !ok {
			return needs(w, 14, "allowzero=1 with a computed shape")
		}
		for _, d := range shape {
			if d == 0 {
				return needs(w, 14, "allowzero=1 with a 0 in the shape")
			}
		}
	}
	return w.emit(n.op, n.ins, n.outs, n.without("allowzero"))
}

// Shape-15 added start and end; before, Shape then Slice of the same range
// (Slice clamps start and end as Shape does).
func adaptShape(w *writer, n stdNode) error {
	if w.opset >= 15 || (!n.attrs.Has("start") && !n.attrs.Has("end")) {
		return w.emit(n.op, n.ins, n.outs, n.attrs)
	}
	start, end := n.attrs.Int("start", 0), n.attrs.Int("end", math.MaxInt64)
	if start == 0 && end == math.MaxInt64 {
		return w.emit(n.op, n.ins, n.outs, n.without("start", "end"))
	}
	t := ir.Type{DType: ir.Int64}
	if s := n.in(0).Type.Shape; s != nil {
		t.Shape = ir.ShapeOf(s.Rank())
	}
	full := w.Temp(n.outs[0].Name+"/full", t)
	if err := w.emit("Shape", n.ins, []*ir.Value{full}, nil); err != nil {
		return err
	}
	base := n.outs[0].Name + "/"
	return w.emit("Slice", []*ir.Value{full,
		w.Const(base+"starts", int64s(start)),
		w.Const(base+"ends", int64s(end)),
		w.Const(base+"axes", int64s(0))}, n.outs, nil)
}

// AveragePool-19 added dilations; all ones is the older behaviour.
func adaptAveragePool(w *writer, n stdNode) error {
	if w.opset >= 19 || !n.attrs.Has("dilations") {
		return w.emit(n.op, n.ins, n.outs, n.attrs)
	}
	for _, d := range n.attrs.Ints("dilations") {
		if d != 1 {
			return needs(w, 19, fmt.Sprintf("dilations %v", n.attrs.Ints("dilations")))
		}
	}
	return w.emit(n.op, n.ins, n.outs, n.without("dilations"))
}

// Pad-18 added the axes input (pads then lists only those axes); Pad-19 the
// wrap mode. With constant pads and axes the older form lists every axis,
// zero where axes does not name it.
func adaptPad(w *writer, n stdNode) error {
	if w.opset < 19 && n.attrs.String("mode", "constant") == "wrap" {
		return needs(w, 19, "mode wrap")
	}
	if w.opset >= 18 || n.in(3) == nil {
		return w.emit(n.op, n.ins, n.outs, n.attrs)
	}
	pads, okP := constInts(n.in(1))
	axes, okA := constInts(n.in(3))
	rank := n.in(0).Type.Shape.Rank()
	if !okP || !okA || n.in(0).Type.Shape == nil {
		return needs(w, 18, "input axes with computed pads or axes")
	}
	if len(pads) != 2*len(axes) {
		return fmt.Errorf("pads has %d entries for %d axes, want 2 per axis", len(pads), len(axes))
	}
	full := make([]int64, 2*rank)
	for i, a := range axes {
		if a < 0 {
			a += int64(rank)
		}
		if a < 0 || a >= int64(rank) {
			return fmt.Errorf("axes %v out of range for rank %d", axes, rank)
		}
		full[a] = pads[i]
		full[int64(rank)+a] = pads[len(axes)+i]
	}
	ins := []*ir.Value{n.in(0), w.Const(n.outs[0].Name+"/pads", int64s(full...)), n.in(2)}
	return w.emit(n.op, ins, n.outs, n.attrs)
}

// Split-18 added num_outputs (the last chunk smaller when the dim does not
// divide). Before, a Split without sizes cut the dim into equal parts, one
// per output; unequal parts need a split input, which the outputs' static
// sizes give.
func adaptSplit(w *writer, n stdNode) error {
	if w.opset >= 18 || !n.attrs.Has("num_outputs") {
		return w.emit(n.op, n.ins, n.outs, n.attrs)
	}
	attrs := n.without("num_outputs")
	rank := n.in(0).Type.Shape.Rank()
	axis := n.attrs.Int("axis", 0)
	if axis < 0 {
		axis += int64(rank)
	}
	if axis < 0 || axis >= int64(rank) {
		return fmt.Errorf("axis %d out of range for input of shape %v", n.attrs.Int("axis", 0), n.in(0).Type.Shape)
	}
	sizes := make([]int64, len(n.outs))
	equal := true
	for i, v := range n.outs {
		d := ir.UnknownDim
		if int64(len(v.Type.Shape)) > axis {
			d = v.Type.Shape[axis]
		}
		if !d.Known() {
			// Equal parts are certain only when the input dim is known
			// to divide.
			in := n.in(0).Type.Shape[axis]
			if in.Known() && in.Size%int64(len(n.outs)) == 0 {
				return w.emit(n.op, n.ins, n.outs, attrs)
			}
			return needs(w, 18, "num_outputs on a dim of unknown size")
		}
		sizes[i] = d.Size
		equal = equal && d.Size == sizes[0]
	}
	if equal {
		return w.emit(n.op, n.ins, n.outs, attrs)
	}
	ins := []*ir.Value{n.in(0), w.Const(n.outs[0].Name+"/split", int64s(sizes...))}
	return w.emit(n.op, ins, n.outs, attrs)
}

// The Reduce ops took axes as an input and added noop_with_empty_axes at
// opset 18 (ReduceSum at 13). Before, axes was an attribute (so it must be
// constant) and no axes meant every axis.
func adaptReduce(since int64) func(w *writer, n stdNode) error {
	return func(w *writer, n stdNode) error { return adaptReduceAxes(w, n, since) }
}

func adaptReduceAxes(w *writer, n stdNode, since int64) error {
	if w.opset >= since {
		return w.emit(n.op, n.ins, n.outs, n.attrs)
	}
	attrs := n.without("noop_with_empty_axes")
	noop := n.attrs.Int("noop_with_empty_axes", 0) != 0
	var axes []int64
	if a := n.in(1); a != nil {
		var ok bool
		if axes, ok = constInts(a); !ok {
			return needs(w, since, "a computed axes input")
		}
	}
	if len(axes) == 0 && noop {
		return w.emit("Identity", n.ins[:1], n.outs, nil)
	}
	if len(axes) > 0 {
		attrs["axes"] = ir.IntsAttr(axes...)
	}
	return w.emit(n.op, n.ins[:1], n.outs, attrs)
}

// Cast-19 added saturate, which only changes conversions to float8 types;
// the IR has none, so the attribute is dropped before 19.
func adaptCast(w *writer, n stdNode) error {
	if w.opset >= 19 || !n.attrs.Has("saturate") {
		return w.emit(n.op, n.ins, n.outs, n.attrs)
	}
	return w.emit(n.op, n.ins, n.outs, n.without("saturate"))
}

// qTypeCode is the ONNX element type of an IR value (0 when unknown).
func qTypeCode(v *ir.Value) int64 {
	if v == nil {
		return 0
	}
	return ir.ONNXTypeCode(v.Type.DType)
}

// QuantizeLinear: saturate came in 19 (float8 only, dropped before);
// block_size and output_dtype in 21, int16/uint16 outputs in 21; precision
// in 25, which no supported opset has: it is written only when it states
// the default (the scale's type).
func adaptQuantizeLinear(w *writer, n stdNode) error {
	attrs := n.without()
	if p := n.attrs.Int("precision", 0); n.attrs.Has("precision") {
		if p != 0 && p != qTypeCode(n.in(1)) {
			return needs(w, 25, fmt.Sprintf("precision %d (division in another type than the scale's)", p))
		}
		delete(attrs, "precision")
	}
	if w.opset < 19 {
		delete(attrs, "saturate")
	}
	out := n.outs[0].Type.DType
	if w.opset < 21 {
		if out == ir.Int16 || out == ir.Uint16 {
			return needs(w, 21, fmt.Sprintf("quantization to %v", out))
		}
		if n.attrs.Has("block_size") {
			if n.attrs.Int("block_size", 0) != 0 {
				return needs(w, 21, "blocked quantization (block_size)")
			}
			delete(attrs, "block_size")
		}
		if n.attrs.Has("output_dtype") {
			delete(attrs, "output_dtype")
			if n.in(2) == nil && out != ir.Uint8 {
				// Before 21 the zero point's type was the only way to
				// ask for a signed output: add a zero one, shaped like
				// the scale.
				scale := n.in(1)
				dims, ok := scale.Type.Shape.Ints()
				if !ok {
					return needs(w, 21, "output_dtype with a scale of unknown shape")
				}
				zp := w.Const(n.outs[0].Name+"/zero_point", ir.NewTensor(out, dims...))
				return w.emit(n.op, []*ir.Value{n.in(0), scale, zp}, n.outs, attrs)
			}
		}
	}
	return w.emit(n.op, n.ins, n.outs, attrs)
}

// DequantizeLinear: block_size and int16/uint16 inputs came in 21;
// output_dtype in 23, which no supported opset has: it is written only when
// it states the default (the scale's type).
func adaptDequantizeLinear(w *writer, n stdNode) error {
	attrs := n.without()
	if n.attrs.Has("output_dtype") {
		if c := n.attrs.Int("output_dtype", 0); c != 0 && c != qTypeCode(n.in(1)) {
			return needs(w, 23, fmt.Sprintf("output_dtype %d (an output type other than the scale's)", c))
		}
		delete(attrs, "output_dtype")
	}
	if w.opset < 21 {
		if d := n.in(0).Type.DType; d == ir.Int16 || d == ir.Uint16 {
			return needs(w, 21, fmt.Sprintf("dequantization of %v", d))
		}
		if n.attrs.Has("block_size") {
			if n.attrs.Int("block_size", 0) != 0 {
				return needs(w, 21, "blocked dequantization (block_size)")
			}
			delete(attrs, "block_size")
		}
	}
	return w.emit(n.op, n.ins, n.outs, attrs)
}

// HardSwish came in 14. Before, x · HardSigmoid(x) with alpha 1/6 and beta
// 1/2, its definition; x·(1/6) may round differently from x/6 in the last
// bit, so opset 13 gives HardSwish to float rounding, not bit for bit.
func adaptHardSwish(w *writer, n stdNode) error {
	if w.opset >= 14 {
		return w.emit(n.op, n.ins, n.outs, n.attrs)
	}
	x := n.in(0)
	gate := w.Temp(n.outs[0].Name+"/gate", n.outs[0].Type)
	if err := w.emit("HardSigmoid", []*ir.Value{x}, []*ir.Value{gate},
		ir.Attrs{"alpha": ir.FloatAttr(1.0 / 6), "beta": ir.FloatAttr(0.5)}); err != nil {
		return err
	}
	return w.emit("Mul", []*ir.Value{x, gate}, n.outs, nil)
}

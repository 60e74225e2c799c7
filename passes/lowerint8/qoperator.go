package lowerint8

import (
	"github.com/sqc-project/sqc/ir"
)

// rewriteQOperators turns the QOperator forms into Q/DQ form (step 1 of the
// package comment) and returns how many nodes it rewrote. A node whose
// scales or zero points are not constants stays as it is: the reference
// executor runs it, and nothing downstream relies on its rewriting.
func rewriteQOperators(e *editor) (int, error) {
	count := 0
	for _, n := range append([]*ir.Node(nil), e.g.Nodes...) {
		if e.removed[n] {
			continue
		}
		ok := false
		switch n.Op {
		case "QLinearConv":
			ok = e.rewriteQLinear(n, true)
		case "QLinearMatMul":
			ok = e.rewriteQLinear(n, false)
		case "ConvInteger":
			ok = e.rewriteInteger(n, true)
		case "MatMulInteger":
			ok = e.rewriteInteger(n, false)
		}
		if ok {
			count++
		}
	}
	return count, nil
}

// constParams reads the parameters of a tensor of dtype dt from a scale and
// an optional zero point input, both constants; axis is where a vector of
// them applies (normalized).
func constParams(scale, zp *ir.Value, dt ir.DType, axis int) *qparams {
	if !scale.IsConst() || scale.Const.DType != ir.Float32 || scale.Const.Len() == 0 || (zp != nil && !zp.IsConst()) {
		return nil
	}
	p := &qparams{scale: append([]float32(nil), scale.Const.Float32s()...), dt: dt, axis: -1}
	z := []int32{0}
	if zp != nil {
		z = make([]int32, zp.Const.Len())
		for i := range z {
			z[i] = int32(zp.Const.AsInt64(i))
		}
	}
	n := max(len(p.scale), len(z))
	if (len(p.scale) != 1 && len(p.scale) != n) || (len(z) != 1 && len(z) != n) {
		return nil
	}
	for len(p.scale) < n {
		p.scale = append(p.scale, p.scale[0])
	}
	for len(z) < n {
		z = append(z, z[0])
	}
	p.zp = z
	if n > 1 {
		p.axis = axis
	}
	for _, s := range p.scale {
		if !(s > 0) || s > 3.4e38 {
			return nil
		}
	}
	return p
}

// rewriteQLinear rewrites QLinearConv (conv) or QLinearMatMul.
func (e *editor) rewriteQLinear(n *ir.Node, conv bool) bool {
	wi := 3
	x, w, y := n.Inputs[0], n.Inputs[wi], n.Outputs[0]
	wAxis := 0
	if !conv {
		wAxis = w.Type.Shape.Rank() - 1
	}
	px := constParams(n.Inputs[1], n.Inputs[2], x.Type.DType, -1)
	pw := constParams(n.Inputs[4], n.Inputs[5], w.Type.DType, wAxis)
	py := constParams(n.Inputs[6], n.Inputs[7], y.Type.DType, -1)
	if px == nil || pw == nil || py == nil || !px.perTensor() || !py.perTensor() {
		return false
	}
	base := n.Name
	xd := e.dequantize(base+"/dq_x", x, px, nil)
	wd := e.dequantize(base+"/dq_w", w, pw, nil)
	ins := []*ir.Value{xd, wd}
	if b := n.Input(8); conv && b != nil {
		// The bias is int32 in units of sx·sw[k], the scale ONNX defines
		// for QLinearConv's B.
		pb := &qparams{dt: ir.Int32, axis: -1}
		for _, s := range pw.scale {
			pb.scale = append(pb.scale, float32(px.scale[0]*s))
			pb.zp = append(pb.zp, 0)
		}
		if len(pb.scale) > 1 {
			pb.axis = 0
		}
		ins = append(ins, e.dequantize(base+"/dq_b", b, pb, nil))
	}
	op, attrs := "MatMul", ir.Attrs(nil)
	if conv {
		op, attrs = "Conv", ir.Attrs{}
		for k, v := range n.Attrs {
			attrs[k] = v
		}
	}
	acc := e.value(base+"/float", ir.Type{DType: ir.Float32, Shape: y.Type.Shape.Clone(), Layout: y.Type.Layout}, nil)
	e.remove(n)
	e.add(base, op, ins, []*ir.Value{acc}, attrs)
	e.quantize(base+"/q", acc, py, y)
	y.Quant = py.quant()
	return true
}

// rewriteInteger rewrites ConvInteger (conv) or MatMulInteger followed by
// Cast to float32 and a Mul by a constant scale.
func (e *editor) rewriteInteger(n *ir.Node, conv bool) bool {
	cast := e.soleUser(n.Outputs[0])
	if cast == nil || cast.Op != "Cast" || cast.Attrs.Int("to", 0) != 1 {
		return false
	}
	mul := e.soleUser(cast.Outputs[0])
	if mul == nil || mul.Op != "Mul" {
		return false
	}
	other := mul.Inputs[0]
	if other == cast.Outputs[0] {
		other = mul.Inputs[1]
	}
	scale := e.constOrProduct(other)
	if scale == nil {
		return false
	}
	x, w := n.Inputs[0], n.Inputs[1]
	q := e.producer(x)
	if q == nil || q.Op != "QuantizeLinear" {
		return false
	}
	px := nodeParams(q)
	if px == nil || !px.perTensor() {
		return false
	}
	// The integer op's own x zero point must be the one x was quantized with.
	zx := int32(0)
	if z := n.Input(2); z != nil {
		if !z.IsConst() || z.Const.Len() != 1 {
			return false
		}
		zx = int32(z.Const.AsInt64(0))
	}
	if zx != px.zp[0] {
		return false
	}
	out := mul.Outputs[0]
	channels, wAxis := 0, 0
	if conv {
		if w.Type.Shape.Rank() < 1 || !w.Type.Shape[0].Known() {
			return false
		}
		channels = int(w.Type.Shape[0].Size)
	} else {
		r := w.Type.Shape.Rank()
		if r < 1 || !w.Type.Shape[r-1].Known() {
			return false
		}
		channels, wAxis = int(w.Type.Shape[r-1].Size), r-1
	}
	sw, ok := perChannelScale(scale, out.Type.Shape, conv, channels)
	if !ok {
		return false
	}
	for i := range sw {
		sw[i] /= px.scale[0]
	}
	pw := &qparams{scale: sw, dt: w.Type.DType, axis: -1}
	zw := []int32{0}
	if z := n.Input(3); z != nil {
		if !z.IsConst() {
			return false
		}
		zw = make([]int32, z.Const.Len())
		for i := range zw {
			zw[i] = int32(z.Const.AsInt64(i))
		}
	}
	if len(zw) != 1 && len(zw) != channels {
		return false
	}
	if len(sw) > 1 || len(zw) > 1 {
		for len(pw.scale) < channels {
			pw.scale = append(pw.scale, pw.scale[0])
		}
		pw.axis = wAxis
	}
	for i := range pw.scale {
		pw.zp = append(pw.zp, zw[min(i, len(zw)-1)])
	}
	base := n.Name
	xd := e.dequantize(base+"/dq_x", x, px, nil)
	wd := e.dequantize(base+"/dq_w", w, pw, nil)
	op, attrs := "MatMul", ir.Attrs(nil)
	if conv {
		op, attrs = "Conv", ir.Attrs{}
		for k, v := range n.Attrs {
			attrs[k] = v
		}
	}
	e.remove(mul)
	e.remove(cast)
	e.remove(n)
	e.add(base, op, []*ir.Value{xd, wd}, []*ir.Value{out}, attrs)
	return true
}

// constOrProduct returns the constant value of v, or of a Mul of two
// float32 constants one of which is a scalar (a scale product the frontend
// left unfolded).
func (e *editor) constOrProduct(v *ir.Value) *ir.Tensor {
	if v.IsConst() {
		if v.Const.DType != ir.Float32 {
			return nil
		}
		return v.Const
	}
	m := e.producer(v)
	if m == nil || m.Op != "Mul" || !m.Inputs[0].IsConst() || !m.Inputs[1].IsConst() {
		return nil
	}
	a, b := m.Inputs[0].Const, m.Inputs[1].Const
	if a.DType != ir.Float32 || b.DType != ir.Float32 {
		return nil
	}
	if a.Len() != 1 {
		a, b = b, a
	}
	if a.Len() != 1 {
		return nil
	}
	out := b.Clone()
	for i, x := range out.Float32s() {
		out.Float32s()[i] = x * a.Float32s()[0]
	}
	return out
}

// perChannelScale reads the scale a Mul applies to an integer op's output
// (shape out): a scalar, or one value per output channel laid out so that it
// broadcasts along the channel axis (axis 1 of a conv output, the last axis
// of a matmul's).
func perChannelScale(s *ir.Tensor, out ir.Shape, conv bool, channels int) ([]float32, bool) {
	v := s.Float32s()
	if len(v) == 1 {
		return []float32{v[0]}, true
	}
	if len(v) != channels || len(s.Shape) > out.Rank() {
		return nil, false
	}
	// The one non-1 dim of s must sit on the channel axis once aligned to
	// the right.
	chAxis := out.Rank() - 1
	if conv {
		chAxis = 1
	}
	off := out.Rank() - len(s.Shape)
	for i, d := range s.Shape {
		if d != 1 && i+off != chAxis {
			return nil, false
		}
	}
	return append([]float32(nil), v...), true
}

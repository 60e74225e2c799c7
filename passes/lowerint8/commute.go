package lowerint8

import (
	"math"

	"github.com/sqc-project/sqc/ir"
)

// moverKind says how a data-movement op takes its data: one data input
// (input 0; the others are shapes, axes and indices), several data inputs
// (Concat), or one data input and several outputs (Split).
type moverKind int

const (
	notMover moverKind = iota
	oneInOneOut
	manyIn
	manyOut
)

// mover classifies n as a data-movement op that commutes with a per-tensor
// QuantizeLinear or DequantizeLinear of parameters p (see the package
// comment for why each does).
func mover(n *ir.Node, p *qparams) moverKind {
	switch n.Op {
	case "Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Slice", "Identity", "GlobalMaxPool":
		return oneInOneOut
	case "MaxPool":
		if len(n.Outputs) == 1 {
			return oneInOneOut
		}
	case "Relu":
		// Relu(q) is max(q, 0), the quantized relu only when 0 is the code of
		// real 0.
		if p.dt == ir.Int8 && p.zp[0] == 0 {
			return oneInOneOut
		}
	case "Concat":
		return manyIn
	case "Split":
		return manyOut
	case "Pad":
		if _, ok := padCode(n, p); ok {
			return oneInOneOut
		}
	}
	return notMover
}

// padCode says whether a Pad commutes with quantization of parameters p,
// and with which int8 pad value: edge and reflect padding copy elements;
// constant padding commutes when its value c is exactly the dequantized
// value of a code, (Q(c) − z)·s = c (0, the usual value, is the zero
// point's code), and pads with that code (0 for edge and reflect, which
// read no value).
func padCode(n *ir.Node, p *qparams) (int8, bool) {
	if !p.perTensor() || p.dt != ir.Int8 {
		return 0, false
	}
	switch n.Attrs.String("mode", "constant") {
	case "edge", "reflect":
		return 0, true
	case "constant":
	default:
		return 0, false
	}
	c := float32(0)
	if v := n.Input(2); v != nil {
		if !v.IsConst() || v.Const.DType != ir.Float32 || v.Const.Len() != 1 {
			return 0, false
		}
		c = v.Const.Float32s()[0]
	}
	s, z := p.scale[0], p.zp[0]
	q := math.RoundToEven(float64(c/s)) + float64(z)
	if q < math.MinInt8 || q > math.MaxInt8 || float32(float32(int32(q)-z)*s) != c {
		return 0, false
	}
	return int8(q), true
}

// twinQuantizers returns the other readers of v when every reader of v is
// a QuantizeLinear with parameters p (an empty list when n is the only
// one), or nil when some reader is not: then all of them read one int8
// value. v must not be a graph output.
func (e *editor) twinQuantizers(v *ir.Value, n *ir.Node, p *qparams) []*ir.Node {
	if e.g.IsOutput(v) {
		return nil
	}
	twins := []*ir.Node{}
	for _, u := range e.liveUsers(v) {
		if u == n {
			continue
		}
		if u.Op != "QuantizeLinear" || u.Inputs[0] != v || e.g.IsOutput(u.Outputs[0]) {
			return nil
		}
		if q := nodeParams(u); q == nil || !q.equal(p) || u.Outputs[0].Type.DType != n.Outputs[0].Type.DType {
			return nil
		}
		twins = append(twins, u)
	}
	uses := 0
	for _, in := range n.Inputs {
		if in == v {
			uses++
		}
	}
	if uses != 1 {
		return nil
	}
	return twins
}

// setPadValue gives a Pad moved into the int8 domain its pad value as an
// int8 constant (ins are the new node's inputs).
func (e *editor) setPadValue(n *ir.Node, ins []*ir.Value, p *qparams) []*ir.Value {
	if n.Op != "Pad" || n.Attrs.String("mode", "constant") != "constant" {
		return ins
	}
	code, _ := padCode(n, p)
	for len(ins) < 3 {
		ins = append(ins, nil)
	}
	t := ir.NewTensor(ir.Int8)
	t.Int8s()[0] = code
	ins[2] = e.constant(n.Name+".pad_value", t)
	return ins
}

// commute sinks DequantizeLinear nodes below data-movement ops, hoists
// QuantizeLinear nodes above them and cancels Q(DQ(q)) pairs, until
// nothing moves, and returns how many rewrites it made.
func commute(e *editor) (int, error) {
	total := 0
	for round := 0; round < 64; round++ {
		n := e.sinkAll() + e.cancelAll() + e.hoistAll() + e.cancelAll()
		total += n
		if n == 0 {
			break
		}
	}
	return total, nil
}

// dqParams returns the parameters of the DequantizeLinear producing v when
// it is per tensor with constant parameters over an 8-bit tensor.
func (e *editor) dqParams(v *ir.Value) (*ir.Node, *qparams) {
	d := e.producer(v)
	if d == nil || d.Op != "DequantizeLinear" {
		return nil, nil
	}
	p := nodeParams(d)
	if p == nil || !p.perTensor() || (p.dt != ir.Int8 && p.dt != ir.Uint8) {
		return nil, nil
	}
	return d, p
}

// intType is t with dtype dt.
func intType(t ir.Type, dt ir.DType) ir.Type {
	return ir.Type{DType: dt, Shape: t.Shape.Clone(), Layout: t.Layout}
}

// sinkAll rewrites op(DQ(q)) into DQ(op(q)) for every data-movement op
// whose data inputs are all DQ of the same parameters.
func (e *editor) sinkAll() int {
	count := 0
	for _, n := range append([]*ir.Node(nil), e.g.Nodes...) {
		if e.removed[n] || len(n.Inputs) == 0 || n.Inputs[0] == nil {
			continue
		}
		d0, p := e.dqParams(n.Inputs[0])
		if d0 == nil {
			continue
		}
		kind := mover(n, p)
		if kind == notMover {
			continue
		}
		data := 1
		if kind == manyIn {
			data = len(n.Inputs)
		}
		ins := append([]*ir.Value(nil), n.Inputs...)
		ok := true
		for i := 0; i < data; i++ {
			d, pi := e.dqParams(n.Inputs[i])
			if d == nil || !pi.equal(p) {
				ok = false
				break
			}
			ins[i] = d.Inputs[0]
		}
		if !ok {
			continue
		}
		outs := make([]*ir.Value, len(n.Outputs))
		for i, o := range n.Outputs {
			outs[i] = e.value(o.Name+".q", intType(o.Type, p.dt), p.quant())
		}
		attrs := n.Attrs
		name := n.Name
		ins = e.setPadValue(n, ins, p)
		e.remove(n)
		e.add(name, n.Op, ins, outs, attrs)
		for i, o := range n.Outputs {
			e.dequantize(o.Name+"/dequantize", outs[i], p, o)
		}
		count++
	}
	return count
}

// cancelAll replaces Q(DQ(q)) by q when both have the same parameters.
func (e *editor) cancelAll() int {
	count := 0
	for _, n := range append([]*ir.Node(nil), e.g.Nodes...) {
		if e.removed[n] || n.Op != "QuantizeLinear" || e.g.IsOutput(n.Outputs[0]) {
			continue
		}
		d := e.producer(n.Inputs[0])
		if d == nil || d.Op != "DequantizeLinear" {
			continue
		}
		p, pd := nodeParams(n), nodeParams(d)
		q := d.Inputs[0]
		if p == nil || !p.equal(pd) || q.Type.DType != n.Outputs[0].Type.DType {
			continue
		}
		if q.Quant == nil {
			q.Quant = p.quant()
		}
		e.replaceUses(n.Outputs[0], q)
		e.remove(n)
		count++
	}
	return count
}

// hoistAll rewrites Q(op(v)) into op(Q(v)) for data-movement ops whose
// output only the Q reads, or only Qs of the same parameters (a max pool
// feeding a block's convolution and its quantized residual: TensorRT's
// rule for a branch), repeating for the new Q nodes.
func (e *editor) hoistAll() int {
	count := 0
	work := []*ir.Node{}
	for _, n := range e.g.Nodes {
		if !e.removed[n] && n.Op == "QuantizeLinear" {
			work = append(work, n)
		}
	}
	for len(work) > 0 {
		n := work[len(work)-1]
		work = work[:len(work)-1]
		if e.removed[n] {
			continue
		}
		p := nodeParams(n)
		if p == nil || !p.perTensor() || (p.dt != ir.Int8 && p.dt != ir.Uint8) {
			continue
		}
		v := n.Inputs[0]
		m := e.producer(v)
		if m == nil || len(m.Outputs) != 1 {
			continue
		}
		twins := e.twinQuantizers(v, n, p)
		if twins == nil {
			continue
		}
		kind := mover(m, p)
		if kind != oneInOneOut && kind != manyIn {
			continue
		}
		if m.Op == "Relu" {
			// A relu right after a layer fuses into it; moving the Q above
			// it would leave an int8 Relu behind the fused layer instead.
			if a := e.producer(m.Inputs[0]); a != nil && anchorOps[a.Op] {
				continue
			}
		}
		data := 1
		if kind == manyIn {
			data = len(m.Inputs)
		}
		ins := append([]*ir.Value(nil), m.Inputs...)
		for i := 0; i < data; i++ {
			if ins[i] == nil || ins[i].Type.DType != ir.Float32 {
				data = -1
				break
			}
		}
		if data < 0 {
			continue
		}
		out := n.Outputs[0]
		name, attrs := m.Name, m.Attrs
		for _, t := range twins {
			e.replaceUses(t.Outputs[0], out)
			e.remove(t)
		}
		e.remove(n)
		e.remove(m)
		for i := 0; i < data; i++ {
			ins[i] = e.quantize(ins[i].Name+"/quantize", ins[i], p, nil)
			work = append(work, e.producer(ins[i]))
		}
		out.Quant = p.quant()
		ins = e.setPadValue(m, ins, p)
		e.add(name, m.Op, ins, []*ir.Value{out}, attrs)
		count++
	}
	return count
}

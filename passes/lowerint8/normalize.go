package lowerint8

import (
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// foldQuantizedConstants replaces QuantizeLinear of a float constant by the
// integer constant it computes (QuantizeLinear's own arithmetic,
// ref.QuantizeValue), carrying its parameters. A weight written as
// DQ(Q(w)), as PyTorch's QAT export writes it, becomes DQ(wq).
func foldQuantizedConstants(e *editor) (int, error) {
	count := 0
	for _, n := range append([]*ir.Node(nil), e.g.Nodes...) {
		if e.removed[n] || n.Op != "QuantizeLinear" || !n.Inputs[0].IsConst() || e.g.IsOutput(n.Outputs[0]) {
			continue
		}
		p := nodeParams(n)
		x := n.Inputs[0].Const
		if p == nil || x.DType != ir.Float32 {
			continue
		}
		q := quantizeTensor(x, p)
		if q == nil {
			continue
		}
		c := e.constant(n.Outputs[0].Name, q)
		c.Quant = p.quant()
		c.Type.Layout = n.Outputs[0].Type.Layout
		if s := n.Inputs[0].Sparsity; s != nil {
			// Quantization maps 0 to the zero point; with zero point 0 the
			// zeros stay zeros and the claim holds for the integers.
			zero := true
			for _, z := range p.zp {
				zero = zero && z == 0
			}
			if zero {
				c.Sparsity = &ir.Sparsity{N: s.N, M: s.M, Axis: s.Axis}
			}
		}
		e.replaceUses(n.Outputs[0], c)
		e.remove(n)
		count++
	}
	return count, nil
}

// quantizeTensor quantizes a float32 tensor with parameters p into p.dt
// (nil for a dtype QuantizeLinear cannot produce).
func quantizeTensor(x *ir.Tensor, p *qparams) *ir.Tensor {
	if _, _, ok := ref.QuantRange(p.dt); !ok || p.dt == ir.Int32 {
		return nil
	}
	out := ir.NewTensor(p.dt, x.Shape...)
	inner, channels := x.Len(), 1
	if !p.perTensor() {
		if p.axis >= len(x.Shape) || x.Shape[p.axis] != len(p.scale) {
			return nil
		}
		inner, channels = ir.NumElements(x.Shape[p.axis+1:]), len(p.scale)
	}
	for i, v := range x.Float32s() {
		ch := 0
		if inner > 0 {
			ch = (i / inner) % channels
		}
		out.SetInt64(i, int64(ref.QuantizeValue(v, p.scale[ch], p.zp[ch], p.dt)))
	}
	return out
}

// unsignedToSigned rewrites u8 tensors read only by DequantizeLinear nodes
// of the same parameters (directly or through data-movement ops) into i8
// tensors with the zero point lowered by 128 (exact; see the package
// comment): QuantizeLinear outputs and constants.
func unsignedToSigned(e *editor) (int, error) {
	count := 0
	for _, n := range append([]*ir.Node(nil), e.g.Nodes...) {
		if e.removed[n] {
			continue
		}
		switch n.Op {
		case "QuantizeLinear":
			v := n.Outputs[0]
			p := nodeParams(n)
			if p == nil || p.dt != ir.Uint8 || !p.perTensor() {
				continue
			}
			region, dqs, ok := e.unsignedRegion(v, p)
			if !ok {
				continue
			}
			sp := signedParams(p)
			z := e.zeroPointConst(v.Name, sp)
			e.setOrAppendInput(n, 2, z)
			if n.Attrs.Has("output_dtype") {
				n.Attrs["output_dtype"] = ir.IntAttr(3) // ONNX's INT8
			}
			for _, d := range dqs {
				e.setOrAppendInput(d, 2, z)
			}
			for _, r := range region {
				r.Type.DType = ir.Int8
				r.Quant = sp.quant()
			}
			count++
		case "DequantizeLinear":
			w := n.Inputs[0]
			p := nodeParams(n)
			if p == nil || p.dt != ir.Uint8 || !w.IsConst() || !e.onlyDequantized(w, p) {
				continue
			}
			sp := signedParams(p)
			t := ir.NewTensor(ir.Int8, w.Const.Shape...)
			for i, b := range w.Const.Uint8s() {
				t.Int8s()[i] = int8(int32(b) - 128)
			}
			c := e.constant(w.Name+".i8", t)
			c.Type.Layout = w.Type.Layout
			c.Quant = sp.quant()
			z := e.zeroPointConst(w.Name, sp)
			for _, u := range e.liveUsers(w) {
				e.setInput(u, 0, c)
				e.setOrAppendInput(u, 2, z)
			}
			count++
		}
	}
	return count, nil
}

// unsignedRegion collects the values that hold the u8 output v of a
// QuantizeLinear (parameters p, per tensor): v and the outputs of the
// data-movement ops that read them, which compute the same on the shifted
// i8 codes (they move or select elements; MaxPool's maximum is unchanged by
// an increasing shift). It also returns the DequantizeLinear nodes that read
// the region, and false when anything else reads it or a value of it is a
// graph output.
func (e *editor) unsignedRegion(v *ir.Value, p *qparams) (region []*ir.Value, dqs []*ir.Node, ok bool) {
	work := []*ir.Value{v}
	seen := map[*ir.Value]bool{v: true}
	for len(work) > 0 {
		r := work[len(work)-1]
		work = work[:len(work)-1]
		region = append(region, r)
		us := e.liveUsers(r)
		if e.g.IsOutput(r) || (len(us) == 0 && r == v) {
			return nil, nil, false
		}
		for _, u := range us {
			for i, in := range u.Inputs {
				if in == r && i != 0 {
					return nil, nil, false // read as a shape, an index, a second operand
				}
			}
			if u.Op == "DequantizeLinear" {
				if !nodeParams(u).equal(p) {
					return nil, nil, false
				}
				dqs = append(dqs, u)
				continue
			}
			if k := mover(u, p); (k != oneInOneOut && k != manyOut) || u.Op == "Relu" {
				return nil, nil, false
			}
			for _, o := range u.Outputs {
				if !seen[o] {
					seen[o] = true
					work = append(work, o)
				}
			}
		}
	}
	return region, dqs, true
}

// onlyDequantized reports whether every reader of v is a DequantizeLinear
// of v with parameters p (and v is not a graph output).
func (e *editor) onlyDequantized(v *ir.Value, p *qparams) bool {
	us := e.liveUsers(v)
	if len(us) == 0 || e.g.IsOutput(v) {
		return false
	}
	for _, u := range us {
		if u.Op != "DequantizeLinear" || u.Inputs[0] != v || !nodeParams(u).equal(p) {
			return false
		}
	}
	return true
}

// signedParams is p moved from u8 to i8: zero points lowered by 128.
func signedParams(p *qparams) *qparams {
	s := &qparams{scale: p.scale, axis: p.axis, dt: ir.Int8}
	for _, z := range p.zp {
		s.zp = append(s.zp, z-128)
	}
	return s
}

// zeroPointConst makes the zero-point constant of p (a scalar when per
// tensor, a vector otherwise).
func (e *editor) zeroPointConst(base string, p *qparams) *ir.Value {
	var t *ir.Tensor
	if p.perTensor() {
		t = ir.NewTensor(p.dt)
	} else {
		t = ir.NewTensor(p.dt, len(p.zp))
	}
	for i := range t.Len() {
		t.SetInt64(i, int64(p.zp[i]))
	}
	return e.constant(base+".zero_point", t)
}

// setOrAppendInput sets input i of n, growing its inputs with absent ones.
func (e *editor) setOrAppendInput(n *ir.Node, i int, v *ir.Value) {
	for len(n.Inputs) <= i {
		n.Inputs = append(n.Inputs, nil)
	}
	e.setInput(n, i, v)
}

// annotate records on every integer value that QuantizeLinear produces or
// DequantizeLinear reads the parameters those nodes give it (when all its
// DequantizeLinear readers agree), so that the fused ops, the verifier and
// the backend find them on the value.
func annotate(e *editor) {
	for _, n := range e.g.Nodes {
		if e.removed[n] {
			continue
		}
		switch n.Op {
		case "QuantizeLinear":
			if p := nodeParams(n); p != nil && n.Outputs[0].Quant == nil {
				n.Outputs[0].Quant = p.quant()
			}
		case "DequantizeLinear":
			v := n.Inputs[0]
			if v.Quant != nil {
				continue
			}
			p := nodeParams(n)
			if p == nil {
				continue
			}
			agree := true
			for _, u := range e.liveUsers(v) {
				if u.Op == "DequantizeLinear" && u.Inputs[0] == v && !nodeParams(u).equal(p) {
					agree = false
				}
			}
			if agree {
				v.Quant = p.quant()
			}
		}
	}
}

package ir

// Shape values: static inference's knowledge of the small i64 tensors that
// PyTorch's exporters compute from Shape when the batch is symbolic
// (Shape → Gather/Slice → Unsqueeze → Concat → Reshape, Expand or Resize's
// sizes). Such a tensor is not a constant, but its elements are known dims:
// sizes or the symbols of the input's shape. InferNode records them on the
// output values (Value.ShapeValue), and the ops that take a shape read them
// where the value is not constant, so [N,768,196] stays [N,768,196] rather
// than [?,?,?]. Values of up to maxShapeValue elements are tracked, of any
// rank (the pads PyTorch builds go through a [4,2] Reshape, a reversing
// Slice and a Transpose). At run time every input is known and this is not
// used.

// ShapeElem is one element of a shape value: a known integer (of any sign:
// -1 and 0 mean something in a Reshape's shape), or a symbolic dim, or
// neither (unknown).
type ShapeElem struct {
	Val   int64
	Sym   string
	Known bool
}

// knownElem is a known element.
func knownElem(v int64) ShapeElem { return ShapeElem{Val: v, Known: true} }

// dimElem is the element a dim of a shape becomes: its size or its symbol.
func dimElem(d Dim) ShapeElem {
	if d.Known() {
		return knownElem(d.Size)
	}
	return ShapeElem{Sym: d.Sym}
}

// dim is the dim an element describes as a size: unknown when it is
// neither a size nor a symbol.
func (e ShapeElem) dim() Dim {
	switch {
	case e.Known && e.Val >= 0:
		return D(e.Val)
	case !e.Known && e.Sym != "":
		return SymDim(e.Sym)
	}
	return UnknownDim
}

// intsElems turns a small integer constant into a shape value.
func intsElems(t *Tensor) []ShapeElem {
	if t == nil || !t.DType.IsInteger() || t.Len() > maxShapeValue {
		return nil
	}
	s := make([]ShapeElem, t.Len())
	for k := range s {
		s[k] = knownElem(t.AsInt64(k))
	}
	return s
}

// maxShapeValue is the most elements a shape value holds: shape tensors are
// short, and anything larger is data, not shape arithmetic.
const maxShapeValue = 64

// shapeValueOf returns the elements of input i as dims: a constant's
// values, or the recorded shape value; nil when neither is known. Only 1-D
// and scalar integer tensors have one.
func (c *InferContext) shapeValueOf(i int) []ShapeElem {
	if !c.Has(i) {
		return nil
	}
	if t := c.Const(i); t != nil {
		return intsElems(t)
	}
	if i < len(c.Node.Inputs) && c.Node.Inputs[i] != nil {
		return computedShapeValue(c.Node.Inputs[i])
	}
	return nil
}

// inputShapeValue is shapeValueOf for a node's input outside inference.
func inputShapeValue(n *Node, i int) []ShapeElem {
	if i >= len(n.Inputs) || n.Inputs[i] == nil {
		return nil
	}
	v := n.Inputs[i]
	if v.Const != nil {
		return intsElems(v.Const)
	}
	return computedShapeValue(v)
}

// computedShapeValue is the shape value of a computed value: the recorded
// one, or the empty one of an integer tensor with no elements. An empty
// piece of a shape is known whatever the batch: torch 2's unflatten slices
// the dims after the last one off a Shape (Slice from 3 of a rank-3 shape)
// and concatenates the nothing it gets.
func computedShapeValue(v *Value) []ShapeElem {
	if v.ShapeValue == nil && v.Type.DType.IsInteger() && len(v.Type.Shape) == 1 && v.Type.Shape.NumElements() == 0 {
		return []ShapeElem{}
	}
	return v.ShapeValue
}

// propagateShapeValue sets the shape value of n's output where its op
// computes one from its inputs' shapes or shape values.
func propagateShapeValue(n *Node) {
	for _, o := range n.Outputs {
		o.ShapeValue = nil
	}
	if len(n.Outputs) != 1 || n.Outputs[0].Const != nil {
		return
	}
	out := n.Outputs[0]
	if !(out.Type.DType.IsInteger() || out.Type.DType == Bool) {
		return
	}
	if count := out.Type.Shape.NumElements(); count < 0 || count > maxShapeValue {
		return
	}
	var v []ShapeElem
	switch n.Op {
	case "Shape":
		in := n.Inputs[0].Type.Shape
		if in == nil {
			return
		}
		start, end := ShapeRange(n.Attrs, len(in))
		v = []ShapeElem{}
		for _, d := range in[start:end] {
			v = append(v, dimElem(d))
		}
	case "Identity", "Cast", "Squeeze", "Unsqueeze", "Reshape", "Flatten":
		// Element order is unchanged; only the rank (scalar or 1-D) moves.
		v = append([]ShapeElem(nil), inputShapeValue(n, 0)...)
	case "ConstantOfShape":
		fill := inputShapeValue(n, 1)
		count := out.Type.Shape.NumElements()
		e := knownElem(0)
		if len(n.Inputs) > 1 && n.Inputs[1] != nil {
			if len(fill) != 1 {
				return
			}
			e = fill[0]
		}
		v = []ShapeElem{}
		for k := int64(0); k < count; k++ {
			v = append(v, e)
		}
	case "Gather":
		data, idx := inputShapeValue(n, 0), inputShapeValue(n, 1)
		if data == nil || idx == nil || n.Attrs.Int("axis", 0) != 0 || len(n.Inputs[0].Type.Shape) != 1 {
			return
		}
		for _, i := range idx {
			if !i.Known || i.Val < -int64(len(data)) || i.Val >= int64(len(data)) {
				return
			}
			k := i.Val
			if k < 0 {
				k += int64(len(data))
			}
			v = append(v, data[k])
		}
	case "Concat":
		if len(out.Type.Shape) != 1 {
			return
		}
		v = []ShapeElem{}
		for i := range n.Inputs {
			s := inputShapeValue(n, i)
			if s == nil {
				return
			}
			v = append(v, s...)
		}
	case "Transpose":
		data := inputShapeValue(n, 0)
		in, ok := n.Inputs[0].Type.Shape.Ints()
		perm, err := ResolvePerm(n.Attrs, len(in))
		if data == nil || !ok || err != nil {
			return
		}
		st := Strides(in)
		outDims := make([]int, len(perm))
		for i, p := range perm {
			outDims[i] = in[p]
		}
		idx := make([]int, len(perm))
		for range data {
			at := 0
			for i, p := range perm {
				at += idx[i] * st[p]
			}
			v = append(v, data[at])
			for d := len(idx) - 1; d >= 0; d-- {
				if idx[d]++; idx[d] < outDims[d] {
					break
				}
				idx[d] = 0
			}
		}
	case "Slice":
		data := inputShapeValue(n, 0)
		var vals [5][]int64
		for i := 1; i < 5; i++ {
			s := inputShapeValue(n, i)
			if i < len(n.Inputs) && n.Inputs[i] != nil && s == nil {
				return
			}
			for _, d := range s {
				if !d.Known {
					return
				}
				vals[i] = append(vals[i], d.Val)
			}
		}
		in, ok := n.Inputs[0].Type.Shape.Ints()
		if data == nil || !ok {
			return
		}
		dims, _, err := ResolveSlice(ShapeOf(in...), vals[1], vals[2], vals[3], vals[4])
		if err != nil {
			return
		}
		st := Strides(in)
		idx := make([]int64, len(dims))
		v = []ShapeElem{}
		for {
			for _, d := range dims {
				if d.Len == 0 {
					return
				}
			}
			at := 0
			for i, d := range dims {
				at += int(d.Start+idx[i]*d.Step) * st[i]
			}
			v = append(v, data[at])
			d := len(idx) - 1
			for ; d >= 0; d-- {
				if idx[d]++; idx[d] < dims[d].Len {
					break
				}
				idx[d] = 0
			}
			if d < 0 {
				break
			}
		}
	case "Add", "Sub", "Mul", "Div":
		v = shapeArith(n.Op, inputShapeValue(n, 0), inputShapeValue(n, 1))
	case "Mod":
		if n.Attrs.Int("fmod", 0) == 0 {
			v = shapeArith(n.Op, inputShapeValue(n, 0), inputShapeValue(n, 1))
		}
	case "Equal":
		v = shapeEqual(inputShapeValue(n, 0), inputShapeValue(n, 1))
	case "Where":
		cond, x, y := inputShapeValue(n, 0), inputShapeValue(n, 1), inputShapeValue(n, 2)
		if cond == nil || x == nil || y == nil {
			return
		}
		k := max(len(cond), len(x), len(y))
		at := func(s []ShapeElem, i int) (ShapeElem, bool) {
			switch len(s) {
			case 1:
				return s[0], true
			case k:
				return s[i], true
			}
			return ShapeElem{}, false
		}
		v = make([]ShapeElem, k)
		for i := range v {
			c, ok1 := at(cond, i)
			a, ok2 := at(x, i)
			b, ok3 := at(y, i)
			if !ok1 || !ok2 || !ok3 {
				return
			}
			switch {
			case c.Known && c.Val != 0:
				v[i] = a
			case c.Known:
				v[i] = b
			default:
				v[i] = ShapeElem{}
			}
		}
	}
	if v != nil && int64(len(v)) == max(out.Type.Shape.NumElements(), 1) {
		out.ShapeValue = v
	}
}

// shapeArith applies a binary op (Add, Sub, Mul, Div, Mod) to shape values elementwise (a single
// element broadcasts): known operands give the result; a symbol survives
// adding or subtracting 0 and multiplying or dividing by 1; anything else
// is unknown.
func shapeArith(op string, a, b []ShapeElem) []ShapeElem {
	if a == nil || b == nil || (len(a) != len(b) && len(a) != 1 && len(b) != 1) {
		return nil
	}
	n := max(len(a), len(b))
	out := make([]ShapeElem, n)
	at := func(s []ShapeElem, i int) ShapeElem {
		if len(s) == 1 {
			return s[0]
		}
		return s[i]
	}
	for i := range out {
		x, y := at(a, i), at(b, i)
		switch {
		case x.Known && y.Known:
			switch op {
			case "Add":
				out[i] = knownElem(x.Val + y.Val)
			case "Sub":
				out[i] = knownElem(x.Val - y.Val)
			case "Mul":
				out[i] = knownElem(x.Val * y.Val)
			case "Div":
				if y.Val == 0 {
					return nil
				}
				out[i] = knownElem(x.Val / y.Val) // truncation toward zero, as Div on integers
			case "Mod":
				if y.Val == 0 {
					return nil
				}
				r := x.Val % y.Val // the sign of the divisor, as Mod with fmod=0
				if r != 0 && (r < 0) != (y.Val < 0) {
					r += y.Val
				}
				out[i] = knownElem(r)
			}
		case y.Known && ((y.Val == 0 && (op == "Add" || op == "Sub")) || (y.Val == 1 && (op == "Mul" || op == "Div"))):
			out[i] = x
		case x.Known && x.Val == 0 && op == "Add", x.Known && x.Val == 1 && op == "Mul":
			out[i] = y
		default:
			out[i] = ShapeElem{}
		}
	}
	return out
}

// shapeFromValue turns a shape value into the shape it describes, for ops
// that take a shape input (Expand, ConstantOfShape, Resize's sizes): an
// element that is neither a size nor a symbol is an unknown dim.
func shapeFromValue(v []ShapeElem) Shape {
	out := make(Shape, len(v))
	for i, e := range v {
		out[i] = e.dim()
	}
	return out
}

// reshapeSymbolic applies Reshape's rules to a shape value with symbols:
// 0 copies the input dim (unless allowZero), a symbol or a size is taken as
// it is, and -1 is the input's element count over the others' when every
// symbol cancels, unknown otherwise.
func reshapeSymbolic(in Shape, v []ShapeElem, allowZero bool) Shape {
	out := make(Shape, len(v))
	infer := -1
	for i, e := range v {
		switch {
		case e.Known && e.Val == -1 && infer < 0:
			infer = i
		case e.Known && e.Val == 0 && !allowZero:
			if i >= len(in) {
				return nil
			}
			out[i] = in[i]
		case e.Known && e.Val < 0:
			return nil
		default:
			out[i] = e.dim()
		}
	}
	if infer < 0 {
		return out
	}
	// Cancel the dims both sides have, then divide what is known.
	rest := append(Shape{}, in...)
	num, den := int64(1), int64(1)
	for i, d := range out {
		if i == infer {
			continue
		}
		if !d.Known() && d.Sym == "" {
			out[infer] = UnknownDim
			return out
		}
		if !d.Known() {
			found := false
			for k, e := range rest {
				if e == d {
					rest = append(rest[:k], rest[k+1:]...)
					found = true
					break
				}
			}
			if !found {
				out[infer] = UnknownDim
				return out
			}
			continue
		}
		den *= d.Size
	}
	for _, e := range rest {
		if !e.Known() {
			out[infer] = UnknownDim
			return out
		}
		num *= e.Size
	}
	if den == 0 || num%den != 0 {
		out[infer] = UnknownDim
		return out
	}
	out[infer] = D(num / den)
	return out
}

// shapeEqual compares shape values elementwise as 1 (true) or 0 (false):
// known values by value; a symbol equals itself and, being a size, no
// negative number (the -1 that PyTorch's expand patterns test for).
func shapeEqual(a, b []ShapeElem) []ShapeElem {
	if a == nil || b == nil || (len(a) != len(b) && len(a) != 1 && len(b) != 1) {
		return nil
	}
	n := max(len(a), len(b))
	out := make([]ShapeElem, n)
	at := func(s []ShapeElem, i int) ShapeElem {
		if len(s) == 1 {
			return s[0]
		}
		return s[i]
	}
	boolElem := func(t bool) ShapeElem {
		if t {
			return knownElem(1)
		}
		return knownElem(0)
	}
	for i := range out {
		x, y := at(a, i), at(b, i)
		switch {
		case x.Known && y.Known:
			out[i] = boolElem(x.Val == y.Val)
		case x.Sym != "" && x == y:
			out[i] = knownElem(1)
		case x.Sym != "" && y.Known && y.Val < 0, y.Sym != "" && x.Known && x.Val < 0:
			out[i] = knownElem(0)
		default:
			out[i] = ShapeElem{}
		}
	}
	return out
}

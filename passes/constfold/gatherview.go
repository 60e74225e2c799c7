package constfold

import (
	"math"
	"slices"

	"github.com/sqc-project/sqc/ir"
)

// Gathers that only reshape. PyTorch's dynamo exporter lowers as_strided
// (with which ConvNeXt's classifier head makes its pooled [N,768,1,1]
// contiguous) to a Gather over the flattened tensor at indices it computes
// from the batch size:
//
//	N = Squeeze(Shape(x)[0:1])
//	i = Unsqueeze(Range(0, N, 1) · 768, [1,2,3]) + [0..767 as 1×768×1×1] + 0 + 0
//	y = Gather(Reshape(pooled, [-1]), i)
//
// The indices are every element in order, so the Gather is a Reshape of the
// pooled tensor to the indices' shape. With a static batch the indices fold
// to a constant; with a symbolic one they stay computed: an i64 tensor whose
// size follows the batch, which an engine (whose buffers hold the batch
// outermost) cannot hold, and a copy for nothing where it could.
//
// The proof is symbolic, so that it holds at every batch rather than at the
// few one could try. Each integer tensor of the index computation is
// written as an affine function of its own multi-index,
//
//	t[i₀,…,iᵣ₋₁] = off + Σ coef[d]·i[d]
//
// with constant coefficients and with dims and offset of the form k·S + c
// in one size symbol S (the batch). The rules below are exact for every S ≥
// 0: constants whose elements fit such a function, shape values (Shape's
// elements, the batch as a scalar), Range with a constant step, Add and Sub,
// Mul by a constant, Neg, Unsqueeze and Squeeze with constant axes, Identity,
// and Cast to i64. Any other op (Div, Mod, Min, Where ...), a product of two
// terms in S or a value that is not i64 ends the proof and the Gather stays:
// only these rules are relied on. The indices are the identity when their
// offset is 0 and each coefficient is the product of the dims after its own
// (row-major), and there are as many of them as the data has elements
// (taken from its type, through the Reshapes and Flattens that made it 1-D).

// lin is k·S + c for the graph's one size symbol S.
type lin struct{ k, c int64 }

// num is the constant c.
func num(c int64) lin { return lin{c: c} }

// isConst reports whether l does not depend on S.
func (l lin) isConst() bool { return l.k == 0 }

// add is l + m, and false when that overflows (as scale and mul say too).
func (l lin) add(m lin) (lin, bool) {
	k, ok1 := addOK(l.k, m.k)
	c, ok2 := addOK(l.c, m.c)
	return lin{k, c}, ok1 && ok2
}

// scale is l·f.
func (l lin) scale(f int64) (lin, bool) {
	k, ok1 := mulOK(l.k, f)
	c, ok2 := mulOK(l.c, f)
	return lin{k, c}, ok1 && ok2
}

// mul is l·m when at most one of them depends on S.
func (l lin) mul(m lin) (lin, bool) {
	switch {
	case m.isConst():
		return l.scale(m.c)
	case l.isConst():
		return m.scale(l.c)
	}
	return lin{}, false
}

// addOK is a + b, and false when that overflows.
func addOK(a, b int64) (int64, bool) {
	s := a + b
	return s, !(a > 0 && b > 0 && s < 0) && !(a < 0 && b < 0 && s >= 0)
}

// mulOK is a · b, and false when that overflows.
func mulOK(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	p := a * b
	return p, p/b == a && !(a == -1 && b == math.MinInt64) && !(b == -1 && a == math.MinInt64)
}

// affine is an integer tensor t[i] = off + Σ coef[d]·i[d] of dims dims. A
// dim of size 1 has coefficient 0 (its index is always 0).
type affine struct {
	dims []lin
	coef []int64
	off  lin
}

var one = num(1)

// normalize zeroes the coefficients of size-1 dims.
func (a *affine) normalize() *affine {
	for d, n := range a.dims {
		if n == one {
			a.coef[d] = 0
		}
	}
	return a
}

// uniform returns the constant every element of a holds, if it has one.
func (a *affine) uniform() (int64, bool) {
	if !a.off.isConst() {
		return 0, false
	}
	for _, c := range a.coef {
		if c != 0 {
			return 0, false
		}
	}
	return a.off.c, true
}

// scaled is a·f.
func (a *affine) scaled(f int64) (*affine, bool) {
	out := &affine{dims: slices.Clone(a.dims), coef: make([]int64, len(a.coef))}
	var ok bool
	if out.off, ok = a.off.scale(f); !ok {
		return nil, false
	}
	for d, c := range a.coef {
		if out.coef[d], ok = mulOK(c, f); !ok {
			return nil, false
		}
	}
	return out.normalize(), true
}

// broadcast aligns a and b to their numpy broadcast shape: the output dims
// and each side's coefficients along them (0 where a side broadcasts).
func broadcast(a, b *affine) (dims []lin, ca, cb []int64, ok bool) {
	r := max(len(a.dims), len(b.dims))
	dims, ca, cb = make([]lin, r), make([]int64, r), make([]int64, r)
	for d := range r {
		da, db := one, one
		var xa, xb int64
		if k := d - (r - len(a.dims)); k >= 0 {
			da, xa = a.dims[k], a.coef[k]
		}
		if k := d - (r - len(b.dims)); k >= 0 {
			db, xb = b.dims[k], b.coef[k]
		}
		switch {
		case da == db:
			dims[d], ca[d], cb[d] = da, xa, xb
		case da == one:
			dims[d], cb[d] = db, xb
		case db == one:
			dims[d], ca[d] = da, xa
		default:
			return nil, nil, nil, false
		}
	}
	return dims, ca, cb, true
}

// indexProver evaluates index computations symbolically.
type indexProver struct {
	producers map[*ir.Value]*ir.Node
	// sym is the size symbol S once a value has named one; a second
	// symbol ends the proof.
	sym  string
	memo map[*ir.Value]*affine
}

// maxConstElems bounds the constants checked for an affine fit.
const maxConstElems = 1 << 22

// dim is dim d of a type as a lin: its size or S.
func (p *indexProver) dim(d ir.Dim) (lin, bool) {
	if d.Known() {
		return num(d.Size), true
	}
	return p.symbol(d.Sym)
}

// symbol is the lin of a size symbol: S, if it is the one symbol seen.
func (p *indexProver) symbol(s string) (lin, bool) {
	if s == "" || p.sym != "" && p.sym != s {
		return lin{}, false
	}
	p.sym = s
	return lin{k: 1}, true
}

// eval is v as an affine tensor, or nil when the rules above do not cover
// it.
func (p *indexProver) eval(v *ir.Value) *affine {
	if v == nil || v.Type.DType != ir.Int64 {
		return nil
	}
	if a, ok := p.memo[v]; ok {
		return a
	}
	a := p.compute(v)
	p.memo[v] = a
	return a
}

func (p *indexProver) compute(v *ir.Value) *affine {
	if v.IsConst() {
		return fitConst(v.Const)
	}
	if a := p.shapeValue(v); a != nil {
		return a
	}
	n := p.producers[v]
	if n == nil || len(n.Outputs) != 1 {
		return nil
	}
	switch n.Op {
	case "Identity", "Cast":
		// eval takes i64 values only: a Cast from i64 to i64.
		return p.eval(n.Input(0))
	case "Neg":
		if a := p.eval(n.Input(0)); a != nil {
			out, _ := a.scaled(-1)
			return out
		}
	case "Add", "Sub":
		return p.sum(n)
	case "Mul":
		return p.product(n)
	case "Range":
		return p.rangeOf(n)
	case "Unsqueeze":
		return p.unsqueeze(n)
	case "Squeeze":
		return p.squeeze(n)
	}
	return nil
}

// fitConst is a constant as an affine tensor, when its elements are one.
func fitConst(t *ir.Tensor) *affine {
	if t.DType != ir.Int64 || t.Len() > maxConstElems {
		return nil
	}
	a := &affine{dims: make([]lin, len(t.Shape)), coef: make([]int64, len(t.Shape))}
	for d, n := range t.Shape {
		if n == 0 {
			return nil
		}
		a.dims[d] = num(int64(n))
	}
	strides := ir.Strides(t.Shape)
	a.off = num(t.AsInt64(0))
	for d, n := range t.Shape {
		if n > 1 {
			a.coef[d] = t.AsInt64(strides[d]) - a.off.c
		}
	}
	idx := make([]int, len(t.Shape))
	for i := range t.Len() {
		want := a.off.c
		for d, k := range idx {
			want += a.coef[d] * int64(k)
		}
		if t.AsInt64(i) != want {
			return nil
		}
		for d := len(idx) - 1; d >= 0; d-- {
			if idx[d]++; idx[d] < t.Shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return a
}

// shapeValue is a computed scalar or 1-D value whose elements static
// inference knows as sizes or symbols (ir.Value.ShapeValue): the batch N of
// Squeeze(Shape(x)[0:1]), for one.
func (p *indexProver) shapeValue(v *ir.Value) *affine {
	sv := v.ShapeValue
	if sv == nil || len(v.Type.Shape) > 1 {
		return nil
	}
	elems := make([]lin, len(sv))
	for i, e := range sv {
		var ok bool
		if e.Known {
			elems[i], ok = num(e.Val), true
		} else {
			elems[i], ok = p.symbol(e.Sym)
		}
		if !ok {
			return nil
		}
	}
	if len(v.Type.Shape) == 0 {
		if len(elems) != 1 {
			return nil
		}
		return &affine{off: elems[0]}
	}
	a := &affine{dims: []lin{num(int64(len(elems)))}, coef: []int64{0}}
	if len(elems) == 0 {
		return nil
	}
	a.off = elems[0]
	if len(elems) > 1 {
		step, ok := elems[1].add(lin{-elems[0].k, -elems[0].c})
		if !ok || !step.isConst() {
			return nil
		}
		a.coef[0] = step.c
	}
	for i, e := range elems {
		step, ok1 := num(a.coef[0]).scale(int64(i))
		want, ok2 := step.add(a.off)
		if !ok1 || !ok2 || want != e {
			return nil
		}
	}
	return a.normalize()
}

// sum is an Add or a Sub.
func (p *indexProver) sum(n *ir.Node) *affine {
	a, b := p.eval(n.Input(0)), p.eval(n.Input(1))
	if a == nil || b == nil {
		return nil
	}
	if n.Op == "Sub" {
		var ok bool
		if b, ok = b.scaled(-1); !ok {
			return nil
		}
	}
	dims, ca, cb, ok := broadcast(a, b)
	if !ok {
		return nil
	}
	out := &affine{dims: dims, coef: make([]int64, len(dims))}
	for d := range dims {
		if out.coef[d], ok = addOK(ca[d], cb[d]); !ok {
			return nil
		}
	}
	if out.off, ok = a.off.add(b.off); !ok {
		return nil
	}
	return out.normalize()
}

// product is a Mul by a constant (one side holds one value throughout).
func (p *indexProver) product(n *ir.Node) *affine {
	a, b := p.eval(n.Input(0)), p.eval(n.Input(1))
	if a == nil || b == nil {
		return nil
	}
	f, ok := b.uniform()
	if !ok {
		if f, ok = a.uniform(); !ok {
			return nil
		}
		a, b = b, a
	}
	// Scale a, then give it the broadcast shape.
	dims, ca, _, ok := broadcast(a, b)
	if !ok {
		return nil
	}
	s, ok := (&affine{dims: dims, coef: ca, off: a.off}).scaled(f)
	if !ok {
		return nil
	}
	return s
}

// rangeOf is Range(start, limit, delta) of scalars with a constant delta:
// its length is constant, or limit − start when that is k·S + c with k > 0,
// c ≥ 0 and delta 1 (never negative, so Range's max(0, ·) changes nothing).
func (p *indexProver) rangeOf(n *ir.Node) *affine {
	start, limit, delta := p.eval(n.Input(0)), p.eval(n.Input(1)), p.eval(n.Input(2))
	if start == nil || limit == nil || delta == nil || len(start.dims)+len(limit.dims)+len(delta.dims) != 0 {
		return nil
	}
	step := delta.off
	if !step.isConst() || step.c == 0 {
		return nil
	}
	diff, ok := limit.off.add(lin{-start.off.k, -start.off.c})
	if !ok {
		return nil
	}
	var length lin
	switch {
	case diff.isConst():
		q := diff.c / step.c
		if diff.c%step.c != 0 && (diff.c < 0) == (step.c < 0) {
			q++
		}
		length = num(max(q, 0))
	case step.c == 1 && diff.k > 0 && diff.c >= 0:
		length = diff
	default:
		return nil
	}
	if length == num(0) {
		return nil
	}
	return (&affine{dims: []lin{length}, coef: []int64{step.c}, off: start.off}).normalize()
}

// constAxes is a node's constant axes input, normalized to rank r, or
// false when it is not constant or holds a repeat.
func constAxes(n *ir.Node, i, r int) ([]int, bool) {
	v := n.Input(i)
	if v == nil || !v.IsConst() {
		return nil, false
	}
	var axes []int
	for k := range v.Const.Len() {
		a, err := ir.NormAxis(v.Const.AsInt64(k), r)
		if err != nil || slices.Contains(axes, a) {
			return nil, false
		}
		axes = append(axes, a)
	}
	return axes, true
}

// unsqueeze inserts size-1 dims.
func (p *indexProver) unsqueeze(n *ir.Node) *affine {
	a := p.eval(n.Input(0))
	if a == nil {
		return nil
	}
	r := len(a.dims)
	if v := n.Input(1); v != nil && v.IsConst() {
		r += v.Const.Len()
	}
	axes, ok := constAxes(n, 1, r)
	if !ok {
		return nil
	}
	out := &affine{off: a.off, dims: make([]lin, 0, r), coef: make([]int64, 0, r)}
	k := 0
	for d := range r {
		if slices.Contains(axes, d) {
			out.dims, out.coef = append(out.dims, one), append(out.coef, 0)
			continue
		}
		out.dims, out.coef = append(out.dims, a.dims[k]), append(out.coef, a.coef[k])
		k++
	}
	return out
}

// squeeze removes size-1 dims: those its constant axes name, or without
// axes every one, when no dim depends on S (that could be 1 at run time).
func (p *indexProver) squeeze(n *ir.Node) *affine {
	a := p.eval(n.Input(0))
	if a == nil {
		return nil
	}
	var drop []int
	if n.Input(1) == nil {
		for d, s := range a.dims {
			if !s.isConst() {
				return nil
			}
			if s == one {
				drop = append(drop, d)
			}
		}
	} else {
		axes, ok := constAxes(n, 1, len(a.dims))
		if !ok {
			return nil
		}
		for _, d := range axes {
			if a.dims[d] != one {
				return nil
			}
		}
		drop = axes
	}
	out := &affine{off: a.off}
	for d := range a.dims {
		if !slices.Contains(drop, d) {
			out.dims, out.coef = append(out.dims, a.dims[d]), append(out.coef, a.coef[d])
		}
	}
	return out
}

// elements is the element count of v, from its type or, where the type
// leaves a dim unknown, from the tensor it was reshaped or flattened from.
func (p *indexProver) elements(v *ir.Value) (lin, bool) {
	for v != nil {
		count, known := one, true
		for _, d := range v.Type.Shape {
			l, ok := p.dim(d)
			if !ok {
				known = false
				break
			}
			if count, ok = count.mul(l); !ok {
				return lin{}, false
			}
		}
		if known {
			return count, true
		}
		n := p.producers[v]
		if n == nil || !keepsOrder(n) {
			return lin{}, false
		}
		v = n.Input(0)
	}
	return lin{}, false
}

// keepsOrder reports whether n's output holds its first input's elements in
// the same order (only the shape changes).
func keepsOrder(n *ir.Node) bool {
	switch n.Op {
	case "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity":
		return len(n.Outputs) == 1
	}
	return false
}

// reshapeOf returns, for a Gather that only reshapes (see above), the
// tensor it reads in order and the constant shape to reshape it to (-1 for
// the dim that follows the batch); ok is false for any other node.
func (p *indexProver) reshapeOf(n *ir.Node) (src *ir.Value, shape []int64, ok bool) {
	data, idx := n.Input(0), n.Input(1)
	if n.Op != "Gather" || data == nil || data.IsConst() || len(data.Type.Shape) != 1 || len(n.Outputs) != 1 {
		return nil, nil, false
	}
	if axis := n.Attrs.Int("axis", 0); axis != 0 && axis != -1 {
		return nil, nil, false
	}
	a := p.eval(idx)
	if a == nil || a.off != num(0) {
		return nil, nil, false
	}
	// Row-major: the coefficient of each dim is the product of those after it.
	after := one
	for d := len(a.dims) - 1; d >= 0; d-- {
		if a.dims[d] != one && (!after.isConst() || a.coef[d] != after.c) {
			return nil, nil, false
		}
		if after, ok = after.mul(a.dims[d]); !ok {
			return nil, nil, false
		}
	}
	if count, ok := p.elements(data); !ok || count != after {
		return nil, nil, false
	}
	shape = make([]int64, len(a.dims))
	follows := false
	for d, s := range a.dims {
		switch {
		case !s.isConst() && !follows:
			shape[d], follows = -1, true
		case s.isConst() && s.c > 0:
			shape[d] = s.c
		default:
			return nil, nil, false
		}
	}
	src = data
	for {
		m := p.producers[src]
		if m == nil || (m.Op != "Reshape" && m.Op != "Flatten") {
			break
		}
		src = m.Input(0)
	}
	return src, shape, true
}

// gathersAsReshapes replaces every Gather of g that only reshapes by a
// Reshape of the tensor it reads (see above), under the Gather's name and
// writing its output, and infers the types from there on (the Reshape knows
// the batch dim that the Gather's indices hid). It returns how many it
// replaced; the index computation is left for dce.
func gathersAsReshapes(g *ir.Graph) (int, error) {
	producers := g.Producers()
	namer := ir.NewNamer(g)
	replaced, first := 0, -1
	for i, n := range g.Nodes {
		if n.Op != "Gather" {
			continue
		}
		// Each Gather's indices may name their own symbol.
		p := &indexProver{producers: producers, memo: map[*ir.Value]*affine{}}
		src, shape, ok := p.reshapeOf(n)
		if !ok {
			continue
		}
		k := ir.NewConst(namer.Fresh(n.Name+"/shape"), ir.FromInt64(shape, len(shape)))
		g.Nodes[i] = &ir.Node{Name: n.Name, Op: "Reshape", Inputs: []*ir.Value{src, k}, Outputs: n.Outputs, Attrs: ir.Attrs{}, Notes: n.Notes}
		g.Nodes[i].Note("simplified", "a Gather of every element in order, made a Reshape")
		replaced++
		if first < 0 {
			first = i
		}
	}
	if replaced == 0 {
		return 0, nil
	}
	for _, n := range g.Nodes[first:] {
		if err := ir.InferNode(n); err != nil {
			return 0, err
		}
	}
	return replaced, nil
}

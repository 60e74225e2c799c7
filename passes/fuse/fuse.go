package fuse

import (
	"fmt"
	"maps"
	"math"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
)

// Pass is the epilogue-fusion pass.
var Pass = &passes.Pass{
	Name: "fuse-epilogue",
	Doc:  "fuse Conv, Gemm and MatMul with a following bias Add, residual Add and Relu or Clip into FusedConv or FusedGemm",
	Run:  run,
}

func init() { passes.Register(Pass) }

func run(c *passes.Context) (any, error) {
	g := c.Graph
	f := &fuser{
		g:         g,
		producers: g.Producers(),
		users:     g.Users(),
		order:     map[*ir.Node]int{},
		depth:     map[*ir.Node]int{},
		pos:       map[*ir.Node]int{},
		names:     ir.NewNamer(g),
		at:        map[*ir.Node]*ir.Node{},
		removed:   map[*ir.Node]bool{},
		c:         c,
	}
	for i, n := range g.Nodes {
		f.order[n], f.pos[n] = i, i
		for _, in := range n.Inputs {
			if prod := f.producers[in]; prod != nil {
				f.depth[n] = max(f.depth[n], f.depth[prod]+1)
			}
		}
	}
	// Walk a snapshot of the nodes: fusing only removes Add, Relu and Clip
	// nodes, never an anchor that comes later.
	nodes := append([]*ir.Node{}, g.Nodes...)
	fused := 0
	for _, n := range nodes {
		if f.removed[n] {
			continue
		}
		ok, err := f.fuse(n)
		if err != nil {
			return nil, err
		}
		if ok {
			fused++
		}
	}
	if fused == 0 {
		return nil, nil
	}
	out := g.Nodes[:0]
	for _, n := range nodes {
		switch {
		case f.at[n] != nil:
			out = append(out, f.at[n])
		case !f.removed[n]:
			out = append(out, n)
		}
	}
	clear(g.Nodes[len(out):])
	g.Nodes = out
	c.Count("nodes fused", fused)
	c.Changed()
	return nil, nil
}

// fuser is the pass's working state. The maps are kept up to date as nodes
// fuse, so that later anchors see the graph as rewritten so far.
type fuser struct {
	g         *ir.Graph
	producers map[*ir.Value]*ir.Node
	users     map[*ir.Value][]*ir.Node
	// order is each anchor's index in the original node order and depth
	// the most nodes on a path to it from the graph's inputs (a fused node
	// inherits its anchor's), for the "deeper conv takes the Add" rule.
	order, depth map[*ir.Node]int
	// pos is where a node sits in the final order: its original index, or
	// for a fused node the index of the pattern's last node it replaces.
	pos   map[*ir.Node]int
	names *ir.Namer
	// at maps the last node of a fused pattern to the fused node that takes
	// its place; removed holds every other node a fusion consumed.
	at      map[*ir.Node]*ir.Node
	removed map[*ir.Node]bool
	c       *passes.Context
}

// kind is what an anchor becomes.
type kind int

const (
	notAnchor kind = iota
	convAnchor
	gemmAnchor
)

// anchorKind says whether n can start a pattern. A fused node with an
// activation can't grow: nothing may come after its activation.
func anchorKind(n *ir.Node) kind {
	if len(n.Outputs) != 1 || len(n.Inputs) < 2 || n.Inputs[0] == nil || n.Inputs[1] == nil {
		return notAnchor
	}
	if !n.Outputs[0].Type.DType.IsFloat() {
		return notAnchor
	}
	switch n.Op {
	case "Conv":
		return convAnchor
	case "Gemm":
		return gemmAnchor
	case "MatMul":
		// A Gemm only when it is one: 2-d by 2-d, the weight constant.
		if a, b := n.Inputs[0], n.Inputs[1]; a.Type.Shape.Rank() == 2 && b.IsConst() && len(b.Const.Shape) == 2 {
			return gemmAnchor
		}
	case "FusedConv", "FusedGemm":
		if act, _, _, err := ir.FusedActivation(n.Attrs); err != nil || act != ir.ActNone {
			return notAnchor
		}
		if n.Op == "FusedConv" {
			return convAnchor
		}
		return gemmAnchor
	}
	return notAnchor
}

// pattern is what an anchor has absorbed so far.
type pattern struct {
	anchor   *ir.Node
	kind     kind
	biases   []*ir.Value // constant bias operands, in order
	residual *ir.Value
	act      string
	lo, hi   float32
	chain    []*ir.Node // the absorbed nodes, in order
	out      *ir.Value  // the value the fused node will produce
}

// soleUser returns the one node reading v, when v has exactly one use and
// is not a graph output (so it may disappear inside a fused node).
func (f *fuser) soleUser(v *ir.Value) *ir.Node {
	us := f.users[v]
	if len(us) != 1 || f.g.IsOutput(v) {
		return nil
	}
	n := us[0]
	uses := 0
	for _, in := range n.Inputs {
		if in == v {
			uses++
		}
	}
	if uses != 1 || len(n.Outputs) != 1 {
		return nil
	}
	return n
}

// fuse grows a pattern from anchor n and, when it absorbed anything,
// replaces it by one fused node.
func (f *fuser) fuse(n *ir.Node) (bool, error) {
	k := anchorKind(n)
	if k == notAnchor {
		return false, nil
	}
	p := &pattern{anchor: n, kind: k, act: ir.ActNone, out: n.Outputs[0]}
	if n.Op == "FusedConv" || n.Op == "FusedGemm" {
		p.residual = n.Input(3)
	}
	for {
		next := f.soleUser(p.out)
		if next == nil {
			break
		}
		absorbed, final := f.absorb(p, next)
		if !absorbed {
			break
		}
		p.chain = append(p.chain, next)
		p.out = next.Outputs[0]
		if final {
			break
		}
	}
	if len(p.chain) == 0 {
		return false, nil
	}
	node, err := f.build(p)
	if err != nil {
		return false, err
	}
	f.commit(p, node)
	return true, nil
}

// absorb tries to add node next to the pattern. final is set when nothing
// may follow it (an activation).
func (f *fuser) absorb(p *pattern, next *ir.Node) (absorbed, final bool) {
	y := p.out
	switch next.Op {
	case "Add":
		if len(next.Inputs) != 2 {
			return false, false
		}
		other := next.Inputs[0]
		if other == y {
			other = next.Inputs[1]
		}
		if other == nil || other == y || !next.Outputs[0].Type.Shape.Equal(y.Type.Shape) || next.Outputs[0].Type.DType != y.Type.DType {
			return false, false
		}
		if other.IsConst() {
			if !biasFits(p.anchor, p.kind, other.Const, y.Type.Shape) {
				return false, false
			}
			p.biases = append(p.biases, other)
			f.c.Count("bias adds fused", 1)
			return true, false
		}
		if p.residual != nil || !f.residualFits(p, other, next) {
			return false, false
		}
		p.residual = other
		f.c.Count("residual adds fused", 1)
		return true, false
	case "Relu":
		p.act = ir.ActRelu
		f.c.Count("activations fused", 1)
		return true, true
	case "Clip":
		lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
		for i, b := range []*float32{&lo, &hi} {
			v := next.Input(i + 1)
			if v == nil {
				continue
			}
			if !v.IsConst() || v.Const.Len() != 1 || !v.Const.DType.IsFloat() {
				return false, false
			}
			x := v.Const.AsFloat64(0)
			*b = float32(x)
			if float64(*b) != x {
				// A NaN bound, or an f64 bound the float32 attribute
				// can't hold exactly: leave it to Clip.
				return false, false
			}
		}
		if lo == 0 && math.IsInf(float64(hi), 1) {
			// min(max(y, 0), +inf) is max(y, 0) for every y.
			p.act = ir.ActRelu
		} else {
			p.act, p.lo, p.hi = ir.ActClip, lo, hi
		}
		f.c.Count("activations fused", 1)
		return true, true
	}
	return false, false
}

// exactShape reports whether every dim of s is known or symbolic, so that
// equal shapes are equal at run time too.
func exactShape(s ir.Shape) bool {
	for _, d := range s {
		if !d.Known() && d.Sym == "" {
			return false
		}
	}
	return true
}

// residualFits checks a computed Add operand r as the residual: the
// output's exact shape and dtype, no broadcasting, and not an operand that
// the later of two convolutions should take (see the package doc).
func (f *fuser) residualFits(p *pattern, r *ir.Value, add *ir.Node) bool {
	y := p.out
	if r.Type.DType != y.Type.DType || !r.Type.Shape.Equal(y.Type.Shape) || !exactShape(y.Type.Shape) {
		return false
	}
	if q := f.rival(r); q != nil && f.takesAddFirst(q, p.anchor) {
		return false // q takes this Add; our output is its residual
	}
	// The fused node will sit where the pattern's last node is, at or after
	// the Add, so r must be defined before the Add: true in any graph in
	// topological order, checked because the rewrite depends on it.
	if prod := f.producers[r]; prod != nil && f.pos[prod] >= f.pos[add] {
		return false
	}
	return true
}

// takesAddFirst says whether anchor q, rather than p, absorbs an Add of
// their two outputs: the deeper one, so that the shallower one (a ResNet
// block's 1×1 projection of the block's input) depends on neither the
// other nor its path and can run beside that path; of two as deep, the
// later in graph order.
func (f *fuser) takesAddFirst(q, p *ir.Node) bool {
	if f.depth[q] != f.depth[p] {
		return f.depth[q] > f.depth[p]
	}
	return f.order[q] > f.order[p]
}

// rival returns the anchor that could absorb the Add reading r through its
// own pattern: r's producer chain back through single-use bias Adds to an
// anchor without a residual, every bias fitting it. It returns nil when
// there is none.
func (f *fuser) rival(r *ir.Value) *ir.Node {
	type bias struct {
		c *ir.Tensor
		y ir.Shape
	}
	var biases []bias
	v := r
	for range 64 {
		if f.soleUser(v) == nil {
			return nil
		}
		n := f.producers[v]
		if n == nil {
			return nil
		}
		if k := anchorKind(n); k != notAnchor {
			if (n.Op == "FusedConv" || n.Op == "FusedGemm") && n.Input(3) != nil {
				return nil // it has its residual already
			}
			for _, b := range biases {
				if !biasFits(n, k, b.c, b.y) {
					return nil
				}
			}
			return n
		}
		if n.Op != "Add" || len(n.Inputs) != 2 || n.Inputs[0] == nil || n.Inputs[1] == nil {
			return nil
		}
		c, x := n.Inputs[0], n.Inputs[1]
		if !c.IsConst() {
			c, x = x, c
		}
		if !c.IsConst() || x.IsConst() {
			return nil
		}
		biases = append(biases, bias{c.Const, x.Type.Shape})
		v = x
	}
	return nil
}

// biasFits checks a constant Add operand c as a bias of an anchor's output
// y: it must not change y's shape, for a convolution it must be one value
// per output channel (all its dims 1 but the channel dim), and the anchor's
// own bias or C must be a constant to merge with.
func biasFits(anchor *ir.Node, k kind, c *ir.Tensor, y ir.Shape) bool {
	if b := anchor.Input(2); b != nil && !b.IsConst() {
		return false
	}
	if !c.DType.IsFloat() || len(c.Shape) > len(y) || (k == gemmAnchor && len(c.Shape) > 2) {
		return false
	}
	if k == convAnchor && (len(y) < 2 || !y[1].Known()) {
		return false // the merged bias needs the channel count
	}
	off := len(y) - len(c.Shape)
	for i, d := range c.Shape {
		axis := off + i
		if d == 1 {
			continue
		}
		if k == convAnchor && axis != 1 {
			return false
		}
		if yd := y[axis]; !yd.Known() || yd.Size != int64(d) {
			return false
		}
	}
	return true
}

// fresh returns an unused value name built from base and reserves it.
func (f *fuser) fresh(base string) string { return f.names.Fresh(base) }

// build makes the fused node of a pattern.
func (f *fuser) build(p *pattern) (*ir.Node, error) {
	a := p.anchor
	attrs := ir.Attrs{}
	for k, v := range a.Attrs {
		attrs[k] = v
	}
	delete(attrs, "clip_min")
	delete(attrs, "clip_max")
	attrs["activation"] = ir.StringAttr(p.act)
	if p.act == ir.ActClip {
		if !math.IsInf(float64(p.lo), -1) {
			attrs["clip_min"] = ir.FloatAttr(p.lo)
		}
		if !math.IsInf(float64(p.hi), 1) {
			attrs["clip_max"] = ir.FloatAttr(p.hi)
		}
	}
	op := "FusedConv"
	if p.kind == gemmAnchor {
		op = "FusedGemm"
	}
	bias := a.Input(2)
	if len(p.biases) > 0 {
		var err error
		if p.kind == convAnchor {
			bias, err = f.convBias(p, bias)
		} else {
			bias, err = f.gemmBias(p, bias, attrs)
		}
		if err != nil {
			return nil, err
		}
	}
	inputs := []*ir.Value{a.Inputs[0], a.Inputs[1], bias}
	if p.residual != nil {
		inputs = append(inputs, p.residual)
	} else {
		for len(inputs) > 2 && inputs[len(inputs)-1] == nil {
			inputs = inputs[:len(inputs)-1]
		}
	}
	// The fused node is the anchor layer in a new form: what earlier passes
	// noted about it (why it is sparse or dense) still holds.
	n := &ir.Node{Name: a.Name, Op: op, Inputs: inputs, Outputs: []*ir.Value{p.out}, Attrs: attrs, Notes: maps.Clone(a.Notes)}
	if err := ir.InferNode(n); err != nil {
		// The pattern checks should have ruled this out; a graph the pass
		// would break is a bug, reported rather than written.
		return nil, fmt.Errorf("fusing %s into %s: %v", a.Name, op, err)
	}
	return n, nil
}

// convBias returns the conv's bias plus the absorbed constants, one value
// per output channel, as a new constant.
func (f *fuser) convBias(p *pattern, b *ir.Value) (*ir.Value, error) {
	y := p.anchor.Outputs[0].Type
	if len(y.Shape) < 2 || !y.Shape[1].Known() {
		return nil, fmt.Errorf("node %s: output %v has no known channel count", p.anchor.Name, y)
	}
	m := int(y.Shape[1].Size)
	sum := make([]float64, m)
	if b != nil {
		if !b.IsConst() {
			return nil, fmt.Errorf("node %s: bias %q is not a constant", p.anchor.Name, b.Name)
		}
		for k := range sum {
			sum[k] = b.Const.AsFloat64(k)
		}
	}
	for _, bv := range p.biases {
		c := bv.Const
		// A per-channel constant: its only non-1 dim, if any, is the
		// channel dim, so element k (or 0) is channel k's value.
		perChannel := c.Len() == m && m != 1
		for k := range sum {
			if perChannel {
				sum[k] += c.AsFloat64(k)
			} else {
				sum[k] += c.AsFloat64(0)
			}
		}
	}
	t := ir.NewTensor(y.DType, m)
	for k, v := range sum {
		setFloat(t, k, v)
	}
	v := ir.NewConst(f.fresh(p.anchor.Name+".bias"), t)
	return v, nil
}

// gemmBias returns beta·C plus the absorbed constants, broadcast to their
// common shape, as a new C (and sets beta to 1).
func (f *fuser) gemmBias(p *pattern, cv *ir.Value, attrs ir.Attrs) (*ir.Value, error) {
	if cv == nil && len(p.biases) == 1 {
		// One bias and no C: the bias constant is the new C as it is.
		delete(attrs, "beta")
		return p.biases[0], nil
	}
	var terms []*ir.Tensor
	for _, b := range p.biases {
		terms = append(terms, b.Const)
	}
	scale := make([]float64, len(terms))
	for i := range scale {
		scale[i] = 1
	}
	if cv != nil {
		if !cv.IsConst() {
			// biasFits keeps bias Adds away from a computed C.
			return nil, fmt.Errorf("node %s: C %q is not a constant", p.anchor.Name, cv.Name)
		}
		terms = append(terms, cv.Const)
		scale = append(scale, float64(attrs.Float("beta", 1)))
	}
	shape := []int{}
	for _, t := range terms {
		s, err := broadcast(shape, t.Shape)
		if err != nil {
			return nil, fmt.Errorf("node %s: %v", p.anchor.Name, err)
		}
		shape = s
	}
	sum := make([]float64, ir.NumElements(shape))
	for i, t := range terms {
		addBroadcast(sum, shape, t, scale[i])
	}
	dt := p.out.Type.DType
	out := ir.NewTensor(dt, shape...)
	for i, v := range sum {
		setFloat(out, i, v)
	}
	delete(attrs, "beta")
	return ir.NewConst(f.fresh(p.anchor.Name+".C"), out), nil
}

// broadcast is the numpy broadcast of two static shapes.
func broadcast(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := range n {
		da, db := 1, 1
		if j := i - (n - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (n - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("bias shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

// addBroadcast adds scale·t, broadcast to shape, into sum.
func addBroadcast(sum []float64, shape []int, t *ir.Tensor, scale float64) {
	strides := ir.Strides(t.Shape)
	off := len(shape) - len(t.Shape)
	idx := make([]int, len(shape))
	for i := range sum {
		src := 0
		for d, s := range strides {
			if t.Shape[d] != 1 {
				src += idx[off+d] * s
			}
		}
		sum[i] += float64(scale * t.AsFloat64(src))
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
}

// setFloat stores v, rounded, as element i of a float tensor.
func setFloat(t *ir.Tensor, i int, v float64) {
	switch d := t.Data.(type) {
	case []float32:
		d[i] = float32(v)
	case []float64:
		d[i] = v
	case []uint16:
		if t.DType == ir.BFloat16 {
			d[i] = ir.Float32ToBFloat16(float32(v))
		} else {
			d[i] = ir.Float32ToHalf(float32(v))
		}
	}
}

// commit puts the fused node in the graph's bookkeeping: it takes the place
// of the pattern's last node, and the anchor and the other absorbed nodes go.
func (f *fuser) commit(p *pattern, n *ir.Node) {
	last := p.chain[len(p.chain)-1]
	f.at[last] = n
	f.removed[p.anchor] = true
	for _, c := range p.chain[:len(p.chain)-1] {
		f.removed[c] = true
	}
	f.order[n], f.depth[n] = f.order[p.anchor], f.depth[p.anchor]
	f.pos[n] = f.pos[last]
	f.producers[p.out] = n
	// Rewire the use lists: the dropped nodes read nothing any more, the
	// fused node reads its inputs.
	gone := map[*ir.Node]bool{p.anchor: true}
	for _, c := range p.chain {
		gone[c] = true
	}
	for _, d := range append([]*ir.Node{p.anchor}, p.chain...) {
		for _, v := range d.Inputs {
			if v == nil {
				continue
			}
			us := f.users[v][:0:0]
			for _, u := range f.users[v] {
				if !gone[u] {
					us = append(us, u)
				}
			}
			f.users[v] = us
		}
		for _, v := range d.Outputs {
			if v != p.out {
				delete(f.users, v)
				delete(f.producers, v)
			}
		}
	}
	for _, v := range n.Inputs {
		if v != nil {
			f.users[v] = append(f.users[v], n)
		}
	}
}

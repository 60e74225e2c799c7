package lowerint8

import (
	"fmt"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/dce"
)

// Pass is the INT8 lowering pass.
var Pass = &passes.Pass{
	Name: "lower-int8",
	Doc:  "lower QuantizeLinear/DequantizeLinear patterns and QOperator ops around Conv, Gemm, MatMul and average pools into QConv and QGemm with int8 weights and fused requantization",
	Options: []passes.Option{
		{Name: "skip", Kind: passes.SelectorKind, Default: passes.Selector{},
			Doc: "layers (by name or op) to leave in Q/DQ float form"},
		{Name: "float-outputs", Kind: passes.Bool, Default: true,
			Doc: "lower a layer whose result is not quantized into a QConv/QGemm with a float32 output (false: leave it in Q/DQ float form)"},
	},
	Run: run,
}

func init() { passes.Register(Pass) }

func run(c *passes.Context) (any, error) {
	e := newEditor(c.Graph)
	steps := []struct {
		name string
		f    func(*editor) (int, error)
	}{
		{"qoperator nodes rewritten to Q/DQ", rewriteQOperators},
		{"constants quantized", foldQuantizedConstants},
		{"u8 values made i8", unsignedToSigned},
		{"Q/DQ moved through data movement", commute},
		{"average pools lowered to int8", lowerPools},
	}
	changed := false
	for _, s := range steps {
		n, err := s.f(e)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			c.Count(s.name, n)
			changed = true
		}
	}
	annotate(e)
	fused, err := fuseAll(e, c)
	if err != nil {
		return nil, err
	}
	if fused > 0 {
		changed = true
	}
	if !changed {
		return nil, nil
	}
	if err := e.finish(); err != nil {
		return nil, err
	}
	if n := dce.Eliminate(c.Graph); n > 0 {
		c.Count("nodes removed", n)
	}
	c.Changed()
	return nil, nil
}

// editor rewrites a graph while keeping its producer and user maps up to
// date. Nodes are appended as they are made and removed by marking; finish
// drops the marked ones and restores a topological order.
type editor struct {
	g *ir.Graph
	// names holds the value names in use, nodeNames the node names: two
	// name spaces, so a fused node can take the name of the node it
	// replaces while its output keeps the name of a value.
	names     *ir.Namer
	nodeNames *ir.Namer
	prod      map[*ir.Value]*ir.Node
	users     map[*ir.Value][]*ir.Node
	removed   map[*ir.Node]bool
}

func newEditor(g *ir.Graph) *editor {
	e := &editor{g: g, names: ir.NewNamer(g), nodeNames: ir.NewNodeNamer(g), prod: g.Producers(), users: g.Users(), removed: map[*ir.Node]bool{}}
	return e
}

// fresh returns base, or base.N for the smallest N that makes it unused
// among the value names, and reserves it.
func (e *editor) fresh(base string) string { return e.names.Fresh(base) }

// value makes a new computed value.
func (e *editor) value(base string, t ir.Type, q *ir.QuantParams) *ir.Value {
	return &ir.Value{Name: e.fresh(base), Type: t, Quant: q}
}

// constant makes a new constant value.
func (e *editor) constant(base string, t *ir.Tensor) *ir.Value {
	return ir.NewConst(e.fresh(base), t)
}

// add appends a node (named base, or base.N when a live node has that
// name) and records its edges.
func (e *editor) add(base, op string, ins, outs []*ir.Value, attrs ir.Attrs) *ir.Node {
	n := &ir.Node{Name: e.nodeNames.Fresh(base), Op: op, Inputs: ins, Outputs: outs, Attrs: attrs}
	e.g.Nodes = append(e.g.Nodes, n)
	for _, v := range outs {
		e.prod[v] = n
	}
	for _, v := range ins {
		if v != nil {
			e.users[v] = append(e.users[v], n)
		}
	}
	return n
}

// remove marks a node deleted and forgets its edges.
func (e *editor) remove(n *ir.Node) {
	if e.removed[n] {
		return
	}
	e.removed[n] = true
	e.nodeNames.Release(n.Name)
	for _, v := range n.Outputs {
		if e.prod[v] == n {
			delete(e.prod, v)
		}
	}
	for _, v := range n.Inputs {
		if v != nil {
			e.dropUse(v, n)
		}
	}
}

// dropUse removes one occurrence of n from v's users.
func (e *editor) dropUse(v *ir.Value, n *ir.Node) {
	us := e.users[v]
	for i, u := range us {
		if u == n {
			e.users[v] = append(us[:i:i], us[i+1:]...)
			return
		}
	}
}

// setInput makes input i of n read v.
func (e *editor) setInput(n *ir.Node, i int, v *ir.Value) {
	if old := n.Inputs[i]; old != nil {
		e.dropUse(old, n)
	}
	n.Inputs[i] = v
	if v != nil {
		e.users[v] = append(e.users[v], n)
	}
}

// replaceUses makes every reader of old (nodes and graph outputs) read new.
func (e *editor) replaceUses(old, new *ir.Value) {
	for _, n := range append([]*ir.Node(nil), e.users[old]...) {
		for i, v := range n.Inputs {
			if v == old {
				e.setInput(n, i, new)
			}
		}
	}
	for i, v := range e.g.Outputs {
		if v == old {
			e.g.Outputs[i] = new
		}
	}
}

// producer returns the live node producing v, or nil.
func (e *editor) producer(v *ir.Value) *ir.Node {
	if v == nil {
		return nil
	}
	n := e.prod[v]
	if n == nil || e.removed[n] {
		return nil
	}
	return n
}

// liveUsers returns the live nodes reading v, each once.
func (e *editor) liveUsers(v *ir.Value) []*ir.Node {
	var out []*ir.Node
	seen := map[*ir.Node]bool{}
	for _, u := range e.users[v] {
		if !e.removed[u] && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

// soleUser returns the one node reading v when v has exactly one use (one
// node, reading it once) and is not a graph output.
func (e *editor) soleUser(v *ir.Value) *ir.Node {
	us := e.liveUsers(v)
	if len(us) != 1 || e.g.IsOutput(v) {
		return nil
	}
	uses := 0
	for _, in := range us[0].Inputs {
		if in == v {
			uses++
		}
	}
	if uses != 1 {
		return nil
	}
	return us[0]
}

// finish drops removed nodes and sorts the rest topologically, keeping the
// existing order wherever it already is one (new nodes were appended at the
// end and move up to just before their first reader's turn).
func (e *editor) finish() error {
	live := make([]*ir.Node, 0, len(e.g.Nodes))
	for _, n := range e.g.Nodes {
		if !e.removed[n] {
			live = append(live, n)
		}
	}
	// A node is placed after the producers of its inputs; a depth-first
	// walk from each node in order does that and otherwise keeps the order.
	const (
		unseen = iota
		visiting
		done
	)
	state := make(map[*ir.Node]int, len(live))
	order := make([]*ir.Node, 0, len(live))
	var visit func(n *ir.Node) error
	visit = func(n *ir.Node) error {
		switch state[n] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("internal error: the rewritten graph has a cycle through node %s", n.Name)
		}
		state[n] = visiting
		for _, v := range n.Inputs {
			if p := e.producer(v); p != nil {
				if err := visit(p); err != nil {
					return err
				}
			}
		}
		state[n] = done
		order = append(order, n)
		return nil
	}
	// New nodes sit at the end of the list, so walking the list visits a
	// new node's readers before it: the walk from a reader pulls it in
	// ahead of that reader.
	for _, n := range live {
		if err := visit(n); err != nil {
			return err
		}
	}
	e.g.Nodes = order
	e.removed = map[*ir.Node]bool{}
	return nil
}

// qparams are the constant parameters of a QuantizeLinear or
// DequantizeLinear node, with ONNX's defaults resolved.
type qparams struct {
	scale []float32
	zp    []int32
	// axis is the quantized dim (normalized), -1 for per-tensor.
	axis int
	// dt is the quantized dtype.
	dt ir.DType
}

// perTensor reports whether one scale and zero point cover the tensor.
func (p *qparams) perTensor() bool { return p.axis < 0 }

// quant returns the parameters as an ir.QuantParams.
func (p *qparams) quant() *ir.QuantParams {
	return &ir.QuantParams{Scale: append([]float32(nil), p.scale...), ZeroPoint: append([]int32(nil), p.zp...), Axis: p.axis}
}

// equal compares two parameter sets exactly.
func (p *qparams) equal(o *qparams) bool {
	if p == nil || o == nil {
		return p == o
	}
	return p.dt == o.dt && p.quant().Equal(o.quant())
}

// nodeParams reads the parameters of a QuantizeLinear or DequantizeLinear
// node when its scale and zero point are constants; the quantized tensor
// is its output (Q) or input 0 (DQ).
func nodeParams(n *ir.Node) *qparams {
	if n == nil || (n.Op != "QuantizeLinear" && n.Op != "DequantizeLinear") || len(n.Inputs) < 2 {
		return nil
	}
	if n.Attrs.Int("block_size", 0) != 0 {
		return nil
	}
	data := n.Inputs[0]
	if n.Op == "QuantizeLinear" {
		data = n.Outputs[0]
	}
	s := n.Inputs[1]
	if !s.IsConst() || s.Const.DType != ir.Float32 || s.Const.Len() == 0 {
		return nil
	}
	p := &qparams{scale: append([]float32(nil), s.Const.Float32s()...), dt: data.Type.DType}
	if z := n.Input(2); z != nil {
		if !z.IsConst() {
			return nil
		}
		p.zp = make([]int32, z.Const.Len())
		for i := range p.zp {
			p.zp[i] = int32(z.Const.AsInt64(i))
		}
	}
	if p.zp == nil {
		p.zp = make([]int32, len(p.scale))
	}
	switch {
	case len(p.zp) == len(p.scale):
	case len(p.zp) == 1:
		z := p.zp[0]
		p.zp = make([]int32, len(p.scale))
		for i := range p.zp {
			p.zp[i] = z
		}
	case len(p.scale) == 1:
		s := p.scale[0]
		p.scale = make([]float32, len(p.zp))
		for i := range p.scale {
			p.scale[i] = s
		}
	default:
		return nil
	}
	p.axis = -1
	if len(p.scale) > 1 {
		a, err := ir.NormAxis(n.Attrs.Int("axis", 1), data.Type.Shape.Rank())
		if err != nil {
			return nil
		}
		p.axis = a
	}
	for _, v := range p.scale {
		if !(v > 0) || v > 3.4e38 {
			return nil
		}
	}
	return p
}

// paramsConsts makes the scale and zero-point constants of p for a new
// QuantizeLinear or DequantizeLinear node (zero point of dtype p.dt) and the
// axis attribute it needs.
func (e *editor) paramsConsts(base string, p *qparams) (scale, zp *ir.Value, attrs ir.Attrs) {
	if p.perTensor() {
		scale = e.constant(base+".scale", ir.FromFloat32([]float32{p.scale[0]}))
		zt := ir.NewTensor(p.dt)
		zt.SetInt64(0, int64(p.zp[0]))
		zp = e.constant(base+".zero_point", zt)
		return scale, zp, nil
	}
	n := len(p.scale)
	scale = e.constant(base+".scale", ir.FromFloat32(append([]float32(nil), p.scale...), n))
	zt := ir.NewTensor(p.dt, n)
	for i, z := range p.zp {
		zt.SetInt64(i, int64(z))
	}
	zp = e.constant(base+".zero_point", zt)
	return scale, zp, ir.Attrs{"axis": ir.IntAttr(int64(p.axis))}
}

// dequantize inserts DQ(q) with parameters p, a node named from base, and
// returns its float output: out when it is given (a value kept by
// identity), else a new value named after q.
func (e *editor) dequantize(base string, q *ir.Value, p *qparams, out *ir.Value) *ir.Value {
	s, z, attrs := e.paramsConsts(base, p)
	if out == nil {
		out = e.value(q.Name+".dq", ir.Type{DType: ir.Float32, Shape: q.Type.Shape.Clone(), Layout: q.Type.Layout}, nil)
	}
	e.add(base, "DequantizeLinear", []*ir.Value{q, s, z}, []*ir.Value{out}, attrs)
	return out
}

// quantize inserts Q(x) with parameters p, a node named from base, and
// returns its integer output (carrying p): out when it is given, else a new
// value named after x.
func (e *editor) quantize(base string, x *ir.Value, p *qparams, out *ir.Value) *ir.Value {
	s, z, attrs := e.paramsConsts(base, p)
	if out == nil {
		out = e.value(x.Name+".q", ir.Type{DType: p.dt, Shape: x.Type.Shape.Clone(), Layout: x.Type.Layout}, p.quant())
	}
	e.add(base, "QuantizeLinear", []*ir.Value{x, s, z}, []*ir.Value{out}, attrs)
	return out
}

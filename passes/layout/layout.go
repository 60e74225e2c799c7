package layout

import (
	"strings"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
)

// Pass is the layout-assignment pass.
var Pass = &passes.Pass{
	Name: "assign-layout",
	Doc:  "store the activations of the convolutional part NHWC and conv weights OHWI, with Relayout nodes where other ops read them",
	Options: []passes.Option{
		{Name: "layout", Doc: "the activation layout of conv-family ops and the layout-agnostic ops between them",
			Kind: passes.String, Default: "NHWC", Enum: []string{"NHWC"}},
		{Name: "weight-layout", Doc: "the layout of conv weights: OHWI (K×R×S×C), or OIHW to keep their logical order",
			Kind: passes.String, Default: "OHWI", Enum: []string{"OHWI", "OIHW"}},
		{Name: "input-layout", Doc: "keep: graph inputs keep their layout and a Relayout follows them where needed; NHWC: declare the 4-D graph inputs that layout-aware ops read NHWC",
			Kind: passes.String, Default: "keep", Enum: []string{"keep", "NHWC"}},
	},
	Run: run,
}

func init() { passes.Register(Pass) }

// kind is how a node relates to layouts.
type kind int

const (
	// other nodes read every operand in the default layout.
	other kind = iota
	// anchor nodes (conv family) compute in the activation layout.
	anchor
	// agnostic nodes compute in whichever layout their 4-D operands share.
	agnostic
	// anyLayout nodes read only shapes (Shape), so any operand layout does.
	anyLayout
	// relayout nodes convert: their input may have any layout, their output
	// has the layout of their to attribute.
	relayout
)

// role says how a node reads its operands: acts are the indices of the 4-D
// operands that must share the node's layout; weight is the index of a conv
// weight (-1 when none).
type role struct {
	kind   kind
	acts   []int
	weight int
}

// convKey names a value read in a layout.
type convKey struct {
	v  *ir.Value
	to ir.Layout
}

// state is one run of the pass.
type state struct {
	g      *ir.Graph
	act    ir.Layout // the activation layout (NHWC)
	weight ir.Layout // the weight layout; "" keeps the logical order
	names  *ir.Namer
	nodes  []*ir.Node // the rewritten node list
	// conv memoises conversions: one Relayout (or constant copy) per value
	// and layout, shared by all readers.
	conv map[convKey]*ir.Value
	// constCopies lists the layout copies of constants, to be folded back
	// into their originals when those end up unused.
	constCopies []convKey
	// weightChain marks the outputs of Quantize/DequantizeLinear nodes over
	// constants that are read only as conv weights: they take the weight
	// layout without any Relayout.
	weightChain map[*ir.Value]bool
	relayouts   int
}

func run(c *passes.Context) (any, error) {
	g := c.Graph
	s := &state{
		g:           g,
		act:         ir.Layout(c.Options.String("layout")),
		conv:        map[convKey]*ir.Value{},
		weightChain: map[*ir.Value]bool{},
	}
	if wl := c.Options.String("weight-layout"); wl == "OHWI" {
		s.weight = "OHWI"
	}
	before := snapshot(g)
	s.collectNames()
	s.findWeightChains()
	declared := 0
	if c.Options.String("input-layout") == "NHWC" {
		declared = s.declareInputs()
	}
	marked, weights := s.assign()
	s.fixOutputs()
	s.foldConstCopies()
	if !sameAs(g, before) {
		c.Changed()
	}
	for stat, n := range map[string]int{
		"relayouts inserted":                     s.relayouts,
		"activations " + string(s.act):           marked,
		"weights " + string(s.weight):            weights, // 0 when the weight layout is kept
		"graph inputs declared " + string(s.act): declared,
	} {
		if n > 0 {
			c.Count(stat, n)
		}
	}
	return nil, nil
}

// collectNames records every value name in use, so new values get fresh ones.
func (s *state) collectNames() { s.names = ir.NewNamer(s.g) }

// fresh returns an unused value name made from base, and reserves it.
func (s *state) fresh(base string) string { return s.names.Fresh(base) }

// suffix is the short name of a layout in value names: nhwc, ohwi, and
// nchw for the default layout of a 4-D value.
func suffix(l ir.Layout, rank int) string {
	if l == "" {
		if rank == 4 {
			return "nchw"
		}
		return "rowmajor"
	}
	return strings.ToLower(string(l))
}

// same reports whether two layouts of a value of the given rank store it
// the same way: equal names, or "" and the explicit row-major name NCHW of a
// 4-D activation.
func same(a, b ir.Layout, rank int) bool {
	if a == b {
		return true
	}
	if rank == 4 && (a == "" && b == "NCHW" || a == "NCHW" && b == "") {
		return true
	}
	return false
}

func rank4(v *ir.Value) bool { return v != nil && v.Type.Shape.Rank() == 4 }

// firstOut is a node's first output, or nil when it has none.
func firstOut(n *ir.Node) *ir.Value {
	if len(n.Outputs) == 0 {
		return nil
	}
	return n.Outputs[0]
}

// classify says how node n reads its operands.
func classify(n *ir.Node) role {
	r := role{kind: other, weight: -1}
	in := func(i int) *ir.Value { return n.Input(i) }
	switch n.Op {
	case "Conv", "FusedConv", "ConvInteger", "QLinearConv":
		w := 1
		if n.Op == "QLinearConv" {
			w = 3
		}
		if !rank4(in(0)) || !rank4(in(w)) {
			return r // 1-d and 3-d convolutions keep the default layout
		}
		r.kind, r.acts, r.weight = anchor, []int{0}, w
		if n.Op == "FusedConv" && rank4(in(3)) {
			r.acts = append(r.acts, 3) // the residual is added to the NHWC accumulators
		}
		return r
	case "MaxPool":
		if len(n.Outputs) > 1 {
			return r // Indices are flat offsets into the NCHW order
		}
		return unary(n, r)
	case "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "BatchNormalization",
		"Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Identity", "Cast", "Clip":
		// BatchNormalization's statistics, and Clip's bounds, are per
		// channel or scalar by their schemas.
		return unary(n, r)
	case "Dropout":
		if len(n.Outputs) > 1 {
			return r
		}
		return unary(n, r)
	case "Add", "Sub", "Mul", "Div", "PRelu":
		return binary(n, r)
	case "Softmax", "LogSoftmax":
		// Over the channels, the innermost dim in NHWC, Softmax reads
		// contiguous runs; over any other axis it depends on the order.
		if a, err := ir.NormAxis(n.Attrs.Int("axis", -1), 4); rank4(in(0)) && err == nil && a == 1 {
			return unary(n, r)
		}
		return r
	case "QuantizeLinear", "DequantizeLinear":
		if quantAxisOK(n, 1) {
			return unary(n, r)
		}
		return r
	case "Concat":
		if len(n.Outputs) != 1 || !rank4(n.Outputs[0]) {
			return r
		}
		if a := n.Attrs.Int("axis", 0); a != 1 && a != -3 {
			return r
		}
		for i, v := range n.Inputs {
			if !rank4(v) {
				return r
			}
			r.acts = append(r.acts, i)
		}
		r.kind = agnostic
		return r
	case "Split":
		// Split along the channels is Concat's inverse: each output is a
		// run of channels, contiguous within every NHWC pixel.
		if a, err := ir.NormAxis(n.Attrs.Int("axis", 0), 4); rank4(in(0)) && err == nil && a == 1 {
			return unary(n, r)
		}
		return r
	case "Pad":
		if channelOnlyPad(n) {
			return unary(n, r)
		}
		return r
	case "Slice":
		if channelOnlySlice(n) {
			return unary(n, r)
		}
		return r
	case "Shape":
		r.kind = anyLayout
		return r
	case "Relayout":
		r.kind = relayout
		return r
	}
	return r
}

// unary makes n agnostic over its 4-D input 0.
func unary(n *ir.Node, r role) role {
	if !rank4(n.Input(0)) {
		return r
	}
	r.kind, r.acts = agnostic, []int{0}
	return r
}

// binary classifies a broadcasting elementwise op: its 4-D operands share
// the layout; every lower-rank operand (and every 4-D constant that varies
// only along the channel axis) must broadcast only along the channel axis,
// which reads the same whatever the order of the others.
func binary(n *ir.Node, r role) role {
	if len(n.Outputs) != 1 || !rank4(n.Outputs[0]) {
		return r
	}
	var acts []int
	for i, v := range n.Inputs {
		if v == nil {
			continue
		}
		switch {
		case v.IsConst() && perChannel(v.Type.Shape):
		case rank4(v):
			acts = append(acts, i)
		case !perChannel(v.Type.Shape):
			return r
		}
	}
	r.kind, r.acts = agnostic, acts
	return r
}

// perChannel reports whether a shape, aligned to the right of N×C×H×W as
// broadcasting aligns it, is 1 in every dim but the channel dim.
func perChannel(s ir.Shape) bool {
	if s.Rank() > 4 {
		return false
	}
	for i, d := range s {
		if 4-s.Rank()+i == 1 {
			continue
		}
		if !d.Known() || d.Size != 1 {
			return false
		}
	}
	return true
}

// quantAxisOK reports whether a QuantizeLinear/DequantizeLinear over a 4-D
// input quantizes per tensor or along dim want (1: the channels of an
// activation; 0: the output channels of a weight).
func quantAxisOK(n *ir.Node, want int) bool {
	x, scale := n.Input(0), n.Input(1)
	if !rank4(x) || scale == nil || len(n.Outputs) != 1 {
		return false
	}
	if n.Attrs.Int("block_size", 0) != 0 {
		return false
	}
	if e := scale.Type.Shape.NumElements(); e == 1 {
		return true
	}
	axis, err := ir.NormAxis(n.Attrs.Int("axis", 1), 4)
	return err == nil && axis == want
}

// constInts returns the elements of a constant integer input, or ok false.
func constInts(v *ir.Value) ([]int, bool) {
	if v == nil || !v.IsConst() || !v.Type.DType.IsInteger() {
		return nil, false
	}
	return v.Const.Ints(), true
}

// channelOnlyPad reports whether n is a constant-mode Pad of a 4-D input
// with constant pads that are zero on every axis but the channels.
func channelOnlyPad(n *ir.Node) bool {
	if !rank4(n.Input(0)) || n.Attrs.String("mode", "constant") != "constant" {
		return false
	}
	pads, ok := constInts(n.Input(1))
	if !ok {
		return false
	}
	axes := []int{0, 1, 2, 3}
	if a := n.Input(3); a != nil {
		ax, ok := constInts(a)
		if !ok {
			return false
		}
		axes = axes[:0]
		for _, x := range ax {
			k, err := ir.NormAxis(int64(x), 4)
			if err != nil {
				return false
			}
			axes = append(axes, k)
		}
	}
	if len(pads) != 2*len(axes) {
		return false
	}
	for i, a := range axes {
		if a != 1 && (pads[i] != 0 || pads[i+len(axes)] != 0) {
			return false
		}
	}
	return true
}

// channelOnlySlice reports whether n is a Slice of a 4-D input along the
// channel axis alone, with constant bounds and step 1.
func channelOnlySlice(n *ir.Node) bool {
	if !rank4(n.Input(0)) {
		return false
	}
	starts, ok1 := constInts(n.Input(1))
	_, ok2 := constInts(n.Input(2))
	if !ok1 || !ok2 {
		return false
	}
	axes := make([]int, len(starts))
	for i := range axes {
		axes[i] = i
	}
	if a := n.Input(3); a != nil {
		ax, ok := constInts(a)
		if !ok {
			return false
		}
		axes = ax
	}
	for _, a := range axes {
		if k, err := ir.NormAxis(int64(a), 4); err != nil || k != 1 {
			return false
		}
	}
	if st := n.Input(4); st != nil {
		steps, ok := constInts(st)
		if !ok {
			return false
		}
		for _, s := range steps {
			if s != 1 {
				return false
			}
		}
	}
	return true
}

// findWeightChains marks the outputs of QuantizeLinear/DequantizeLinear
// chains over constant weights that are read only as conv weights (directly
// or through more of the chain), so they take the weight layout in place.
func (s *state) findWeightChains() {
	if s.weight == "" {
		return
	}
	g := s.g
	// weightLike: a Q/DQ over a 4-D constant, or over another weightLike
	// value, quantized per tensor or along the output channels.
	weightLike := map[*ir.Value]bool{}
	for _, n := range g.Nodes {
		if (n.Op == "QuantizeLinear" || n.Op == "DequantizeLinear") && quantAxisOK(n, 0) {
			if x := n.Inputs[0]; x.IsConst() || weightLike[x] {
				weightLike[firstOut(n)] = true
			}
		}
	}
	users := g.Users()
	// Walking backwards, every reader of a value is decided before it.
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		out := firstOut(n)
		if out == nil || !weightLike[out] || g.IsOutput(out) || len(users[out]) == 0 {
			continue
		}
		ok := true
		for _, u := range users[out] {
			r := classify(u)
			for j, v := range u.Inputs {
				if v != out {
					continue
				}
				isWeight := r.kind == anchor && j == r.weight
				feedsChain := (u.Op == "QuantizeLinear" || u.Op == "DequantizeLinear") && j == 0 && s.weightChain[firstOut(u)]
				ok = ok && (isWeight || feedsChain)
			}
		}
		if ok {
			s.weightChain[out] = true
		}
	}
}

// declareInputs implements input-layout=NHWC: a 4-D graph input in the
// default layout that an anchor or a layout-agnostic op reads directly is
// declared to be in the activation layout.
func (s *state) declareInputs() int {
	users := s.g.Users()
	n := 0
	for _, v := range s.g.Inputs {
		if !rank4(v) || !same(v.Type.Layout, "", 4) {
			continue
		}
		want := false
		for _, u := range users[v] {
			r := classify(u)
			if r.kind != anchor && r.kind != agnostic {
				continue
			}
			for _, i := range r.acts {
				want = want || u.Inputs[i] == v
			}
		}
		if want {
			v.Type.Layout = s.act
			n++
		}
	}
	return n
}

// plan decides the layout each node computes in ("" or the activation
// layout), without changing the graph.
//
// Forward, in topological order: an anchor computes in the activation
// layout; a layout-agnostic op does when at least as many of its computed
// 4-D operands are in it as are not, and at least one is. So NHWC spreads
// from the convolutions downstream.
//
// Backward, in reverse order: a layout-agnostic op still in the default
// layout switches when every reader of its outputs reads them in the
// activation layout and at most one of its operands would need a new
// conversion. The conversion moves up to its input, at no extra cost, and
// keeps moving up through a chain of such ops: x → Sub → Div → Pad → Conv
// converts x right after the graph input, where the channel count is still
// the smallest (before the channel Pad of pad-channels) and a backend can
// fuse the conversion with the input copy.
func (s *state) plan() map[*ir.Node]ir.Layout {
	nodes := s.g.Nodes
	roles := make(map[*ir.Node]role, len(nodes))
	modes := make(map[*ir.Node]ir.Layout, len(nodes))
	planned := map[*ir.Value]ir.Layout{}
	layoutOf := func(v *ir.Value) ir.Layout {
		if l, ok := planned[v]; ok {
			return l
		}
		return v.Type.Layout // graph inputs and constants keep theirs
	}
	setOutputs := func(n *ir.Node, mode ir.Layout) {
		for _, v := range n.Outputs {
			if v != nil {
				planned[v] = s.outputLayout(n, roles[n], mode, v)
			}
		}
	}
	for _, n := range nodes {
		r := classify(n)
		roles[n] = r
		mode := ir.Layout("")
		switch r.kind {
		case anchor:
			mode = s.act
		case agnostic:
			in, out := 0, 0
			for _, i := range r.acts {
				v := n.Inputs[i]
				switch {
				case v.IsConst():
				case same(layoutOf(v), s.act, 4):
					in++
				default:
					out++
				}
			}
			if in > 0 && in >= out {
				mode = s.act
			}
		}
		modes[n] = mode
		setOutputs(n, mode)
	}
	users := s.g.Users()
	readsAct := func(u *ir.Node, v *ir.Value) bool {
		r := roles[u]
		if r.kind == anyLayout {
			return true
		}
		if r.kind != anchor && r.kind != agnostic || modes[u] != s.act {
			return false
		}
		for j, x := range u.Inputs {
			if x == v && !slicesContains(r.acts, j) {
				return false
			}
		}
		return true
	}
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		r := roles[n]
		if r.kind != agnostic || modes[n] == s.act || s.weightChain[firstOut(n)] {
			continue
		}
		ok, read := true, false
		for _, v := range n.Outputs {
			if v == nil {
				continue
			}
			if s.g.IsOutput(v) {
				ok = false
			}
			for _, u := range users[v] {
				ok = ok && readsAct(u, v)
				read = read || roles[u].kind != anyLayout
			}
		}
		if !ok || !read {
			continue
		}
		convert := 0
		for _, j := range r.acts {
			if v := n.Inputs[j]; !v.IsConst() && !same(layoutOf(v), s.act, 4) {
				convert++
			}
		}
		if convert <= 1 {
			modes[n] = s.act
			setOutputs(n, s.act)
		}
	}
	return modes
}

func slicesContains(s []int, x int) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// outputLayout is the layout of output v of node n computing in mode.
func (s *state) outputLayout(n *ir.Node, r role, mode ir.Layout, v *ir.Value) ir.Layout {
	switch {
	case r.kind == relayout:
		return ir.Layout(n.Attrs.String("to", ""))
	case s.weightChain[firstOut(n)]:
		return s.weight
	case mode != "" && rank4(v):
		return mode
	}
	return ""
}

// assign visits the nodes in order, converts the operands that are not in
// the layout the node reads (as planned), and sets the layout of its
// outputs. It returns how many activations it made NHWC and how many conv
// weights are in the weight layout.
func (s *state) assign() (marked, weights int) {
	modes := s.plan()
	for _, n := range s.g.Nodes {
		r := classify(n)
		mode := modes[n]
		isAct := map[int]bool{}
		for _, i := range r.acts {
			isAct[i] = true
		}
		wmode := s.weightChain[firstOut(n)]
		for i, v := range n.Inputs {
			if v == nil {
				continue
			}
			switch {
			case r.kind == anyLayout || r.kind == relayout:
				continue
			case wmode && i == 0:
				n.Inputs[i] = s.need(v, s.weight)
			case i == r.weight:
				n.Inputs[i] = s.need(v, s.weight)
				if s.weight != "" {
					weights++
				}
			case isAct[i] && mode != "":
				n.Inputs[i] = s.need(v, mode)
			default:
				n.Inputs[i] = s.need(v, "")
			}
		}
		for _, v := range n.Outputs {
			if v == nil {
				continue
			}
			v.Type.Layout = s.outputLayout(n, r, mode, v)
			if v.Type.Layout == s.act && rank4(v) && r.kind != relayout {
				marked++
			}
		}
		s.nodes = append(s.nodes, n)
	}
	s.g.Nodes = s.nodes
	return marked, weights
}

// need returns v as read in layout l: v itself when it already is, a copy
// of a constant annotated with l, or the output of a Relayout inserted
// before the current node (the first reader) and shared by later ones.
func (s *state) need(v *ir.Value, l ir.Layout) *ir.Value {
	if same(v.Type.Layout, l, v.Type.Shape.Rank()) {
		return v
	}
	key := convKey{v, l}
	if c, ok := s.conv[key]; ok {
		return c
	}
	var c *ir.Value
	if v.IsConst() {
		// The tensor is shared for now; foldConstCopies gives the copy its
		// own data if the original stays in use.
		c = &ir.Value{Name: s.fresh(v.Name + "." + suffix(l, v.Type.Shape.Rank())), Const: v.Const, Type: v.Type,
			Quant: cloneQuant(v.Quant), Sparsity: cloneSparsity(v.Sparsity)}
		c.Type.Shape = v.Type.Shape.Clone()
		c.Type.Layout = l
		s.constCopies = append(s.constCopies, key)
	} else {
		var n *ir.Node
		c, n = s.relayout(v, l)
		s.nodes = append(s.nodes, n)
	}
	s.conv[key] = c
	return c
}

func cloneQuant(q *ir.QuantParams) *ir.QuantParams {
	if q == nil {
		return nil
	}
	return &ir.QuantParams{Scale: append([]float32{}, q.Scale...), ZeroPoint: append([]int32{}, q.ZeroPoint...), Axis: q.Axis}
}

func cloneSparsity(sp *ir.Sparsity) *ir.Sparsity {
	if sp == nil {
		return nil
	}
	c := *sp
	return &c
}

// relayout builds a Relayout of v to layout l and returns its output and
// the node, which the caller places in the graph.
func (s *state) relayout(v *ir.Value, l ir.Layout) (*ir.Value, *ir.Node) {
	sfx := suffix(l, v.Type.Shape.Rank())
	out := &ir.Value{Name: s.fresh(v.Name + "." + sfx), Type: ir.Type{DType: v.Type.DType, Shape: v.Type.Shape.Clone(), Layout: l}, Quant: cloneQuant(v.Quant)}
	n := &ir.Node{Name: v.Name + "/to_" + sfx, Op: "Relayout", Inputs: []*ir.Value{v}, Outputs: []*ir.Value{out}, Attrs: ir.Attrs{"to": ir.StringAttr(string(l))}}
	s.relayouts++
	return out, n
}

// fixOutputs gives every graph output the default layout under its own
// name: an output whose value is stored in another layout is renamed, and a
// Relayout (the one readers already share, if any) produces the output.
func (s *state) fixOutputs() {
	g := s.g
	for _, v := range g.Outputs {
		if v == nil || v.IsConst() || g.IsInput(v) || same(v.Type.Layout, "", v.Type.Shape.Rank()) {
			continue
		}
		key := convKey{v, ""}
		u, ok := s.conv[key]
		if !ok {
			var n *ir.Node
			u, n = s.relayout(v, "")
			g.Nodes = append(g.Nodes, n)
			s.conv[key] = u
		}
		name := v.Name
		v.Name = s.fresh(name + "." + suffix(v.Type.Layout, v.Type.Shape.Rank()))
		s.names.Release(u.Name)
		u.Name = name
		for j := range g.Outputs {
			if g.Outputs[j] == v {
				g.Outputs[j] = u
			}
		}
	}
}

// foldConstCopies settles the layout copies of constants: where the
// original is no longer read at all, the copy takes over its name and data
// (the constant was in effect re-annotated in place); otherwise the copy
// gets data of its own, so a later pass that rewrites one constant in place
// cannot change the other.
func (s *state) foldConstCopies() {
	used := map[*ir.Value]bool{}
	for _, v := range s.g.Constants() {
		used[v] = true
	}
	taken := map[*ir.Value]bool{}
	for _, key := range s.constCopies {
		c := s.conv[key]
		if !used[c] {
			continue
		}
		if !used[key.v] && !taken[key.v] {
			// One copy inherits the original's identity; a second copy of
			// the same constant (in another layout) must still clone.
			taken[key.v] = true
			s.names.Release(c.Name)
			c.Name = key.v.Name
			continue
		}
		c.Const = c.Const.Clone()
	}
}

// snapshot records the node count and every value's layout, to tell
// whether the pass changed anything.
type snap struct {
	nodes   int
	layouts map[*ir.Value]ir.Layout
	inputs  map[*ir.Node][]*ir.Value
}

func snapshot(g *ir.Graph) snap {
	s := snap{nodes: len(g.Nodes), layouts: map[*ir.Value]ir.Layout{}, inputs: map[*ir.Node][]*ir.Value{}}
	for _, v := range g.Inputs {
		s.layouts[v] = v.Type.Layout
	}
	for _, n := range g.Nodes {
		s.inputs[n] = append([]*ir.Value{}, n.Inputs...)
		for _, v := range n.Outputs {
			if v != nil {
				s.layouts[v] = v.Type.Layout
			}
		}
	}
	return s
}

func sameAs(g *ir.Graph, s snap) bool {
	if len(g.Nodes) != s.nodes {
		return false
	}
	for _, v := range g.Inputs {
		if s.layouts[v] != v.Type.Layout {
			return false
		}
	}
	for _, n := range g.Nodes {
		old, ok := s.inputs[n]
		if !ok || len(old) != len(n.Inputs) {
			return false
		}
		for i, v := range n.Inputs {
			if old[i] != v {
				return false
			}
		}
		for _, v := range n.Outputs {
			if v != nil && s.layouts[v] != v.Type.Layout {
				return false
			}
		}
	}
	return true
}

package permute

import (
	"fmt"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes/prune/layer"
)

// Index is what the domain walk needs to know about a graph; build it once
// per graph state with NewIndex (a permutation applied changes constants
// only, so an index stays valid across Apply calls).
type Index struct {
	g         *ir.Graph
	producers map[*ir.Value]*ir.Node
	users     map[*ir.Value][]*ir.Node
	outputs   map[*ir.Value]bool
	inputs    map[*ir.Value]bool
	names     *ir.Namer
}

// NewIndex indexes g.
func NewIndex(g *ir.Graph) *Index {
	x := &Index{g: g, producers: g.Producers(), users: g.Users(), outputs: map[*ir.Value]bool{}, inputs: map[*ir.Value]bool{}, names: ir.NewNamer(g)}
	for _, v := range g.Outputs {
		x.outputs[v] = true
	}
	for _, v := range g.Inputs {
		x.inputs[v] = true
	}
	return x
}

// fresh returns an unused value name based on base.
func (x *Index) fresh(base string) string { return x.names.Fresh(base) }

// edit is one constant input whose tensor is permuted along an axis.
type edit struct {
	node *ir.Node
	slot int
	axis int
}

// Domain is a set of activations that share one channel order: permuting
// their channels together, with the weights that produce and consume them,
// leaves the graph's function unchanged.
type Domain struct {
	// Channels is the number of channels every value of the domain has.
	Channels int
	// Values are the activations whose channels are permuted.
	Values []*ir.Value
	// Consumers are the layers that read a domain value as their data
	// input along their reduction: their weights' input channels are
	// permuted, and their masks are what a permutation is chosen for.
	Consumers []*layer.Layer
	// Producers are the nodes whose output channels are permuted (the
	// rows of their weights and their biases).
	Producers []*ir.Node

	idx   *Index
	axes  map[*ir.Value]int
	edits []edit
	seen  map[*ir.Node]bool
	// consumed and produced mark the layers handled as a reader and as a
	// writer of the channels.
	consumed, produced map[*ir.Node]bool
}

// isLayer reports whether op is one of the ops layer.Of describes.
func isLayer(op string) bool {
	switch op {
	case "Conv", "FusedConv", "Gemm", "FusedGemm", "MatMul":
		return true
	}
	return false
}

// unary lists the ops that act on each element alone, so they commute with
// any channel permutation.
var unary = map[string]bool{
	"Relu": true, "LeakyRelu": true, "Sigmoid": true, "HardSigmoid": true, "HardSwish": true,
	"Tanh": true, "Identity": true, "Elu": true, "Selu": true, "Softplus": true, "Gelu": true,
	"Neg": true, "Abs": true, "Exp": true, "Sqrt": true, "Erf": true, "Mish": true, "Swish": true,
}

// pools commute with a permutation of axis 1 (channels), never of another.
var pools = map[string]bool{"MaxPool": true, "AveragePool": true, "GlobalAveragePool": true, "GlobalMaxPool": true, "LpPool": true}

// binary ops broadcast; a per-channel constant operand is permuted with the
// channels.
var binary = map[string]bool{"Add": true, "Sub": true, "Mul": true, "Div": true, "PRelu": true, "Max": true, "Min": true}

// Find returns the channel domain of value v (channels along axis), or an
// error saying why its channels can't be permuted. The walk follows per-
// channel ops (activations, pools, BatchNormalization, elementwise ops with
// per-channel constants or with other domain values, Flatten of a 1×1
// spatial map) forward to the layers that read the channels and backward to
// the layers that produce them, and gives up at anything else.
func Find(x *Index, v *ir.Value, axis int) (*Domain, error) {
	if v.IsConst() {
		return nil, fmt.Errorf("%q is a constant", v.Name)
	}
	c, err := channels(v, axis)
	if err != nil {
		return nil, err
	}
	d := &Domain{Channels: c, idx: x, axes: map[*ir.Value]int{}, seen: map[*ir.Node]bool{},
		consumed: map[*ir.Node]bool{}, produced: map[*ir.Node]bool{}}
	work := []*ir.Value{}
	add := func(u *ir.Value, a int) error {
		if old, ok := d.axes[u]; ok {
			if old != a {
				return fmt.Errorf("%q is reached with its channels on axis %d and on axis %d", u.Name, old, a)
			}
			return nil
		}
		n, err := channels(u, a)
		if err != nil {
			return err
		}
		if n != d.Channels {
			return fmt.Errorf("%q has %d channels on axis %d, want %d like %q", u.Name, n, a, d.Channels, v.Name)
		}
		switch {
		case u.IsConst():
			return fmt.Errorf("%q is a constant", u.Name)
		case x.inputs[u]:
			return fmt.Errorf("channels reach graph input %q", u.Name)
		case x.outputs[u]:
			return fmt.Errorf("channels reach graph output %q", u.Name)
		}
		d.axes[u] = a
		d.Values = append(d.Values, u)
		work = append(work, u)
		return nil
	}
	if err := add(v, axis); err != nil {
		return nil, err
	}
	for len(work) > 0 {
		u := work[len(work)-1]
		work = work[:len(work)-1]
		if p := x.producers[u]; p != nil {
			if err := d.visit(p, add); err != nil {
				return nil, err
			}
		}
		for _, r := range x.users[u] {
			if err := d.visit(r, add); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

// channels returns v's size along axis.
func channels(v *ir.Value, axis int) (int, error) {
	s := v.Type.Shape
	if axis < 0 || axis >= s.Rank() {
		return 0, fmt.Errorf("%q has shape %v, no channel axis %d", v.Name, s, axis)
	}
	if !s[axis].Known() {
		return 0, fmt.Errorf("%q has shape %v: channel count unknown", v.Name, s)
	}
	return int(s[axis].Size), nil
}

// visit handles one node touching the domain: it checks the node commutes
// with the permutation, records the constants to permute, and adds the
// node's other channel-carrying values to the domain.
func (d *Domain) visit(n *ir.Node, add func(*ir.Value, int) error) error {
	if isLayer(n.Op) {
		// A layer can be reached twice, once as a consumer of the
		// channels and once as their producer; each side is handled once.
		return d.visitLayer(n, add, fmt.Sprintf("%s %q", n.Op, n.Name))
	}
	if d.seen[n] {
		return nil
	}
	d.seen[n] = true
	in := func(v *ir.Value) (int, bool) {
		if v == nil {
			return 0, false
		}
		a, ok := d.axes[v]
		return a, ok
	}
	where := fmt.Sprintf("%s %q", n.Op, n.Name)
	if len(n.Outputs) == 0 {
		return fmt.Errorf("channels reach %s, which has no output", where)
	}
	out := n.Outputs[0]
	switch {
	case unary[n.Op], n.Op == "Clip", n.Op == "Dropout":
		if len(n.Outputs) > 1 && n.Outputs[1] != nil && len(d.idx.users[n.Outputs[1]]) > 0 {
			return fmt.Errorf("channels reach %s, whose mask output is used", where)
		}
		for i := 1; i < len(n.Inputs); i++ {
			// Clip's bounds, Dropout's ratio: scalars, unaffected.
			if v := n.Inputs[i]; v != nil && v.Type.Shape.NumElements() != 1 {
				return fmt.Errorf("channels reach %s with a non-scalar operand %q", where, v.Name)
			}
		}
		a, ok := in(n.Inputs[0])
		if !ok {
			a = d.axes[out]
		}
		if err := add(n.Inputs[0], a); err != nil {
			return err
		}
		return add(out, a)
	case pools[n.Op]:
		if len(n.Outputs) > 1 && n.Outputs[1] != nil {
			return fmt.Errorf("channels reach %s with an indices output", where)
		}
		a, ok := in(n.Inputs[0])
		if !ok {
			a = d.axes[out]
		}
		if a != 1 {
			return fmt.Errorf("channels on axis %d reach %s, which pools over axes 2 and up", a, where)
		}
		if err := add(n.Inputs[0], 1); err != nil {
			return err
		}
		return add(out, 1)
	case n.Op == "BatchNormalization":
		if len(n.Outputs) > 1 {
			return fmt.Errorf("channels reach %s in training mode", where)
		}
		if err := add(n.Inputs[0], 1); err != nil {
			return err
		}
		if err := add(out, 1); err != nil {
			return err
		}
		for i := 1; i < len(n.Inputs) && i <= 4; i++ {
			if !n.Inputs[i].IsConst() {
				return fmt.Errorf("channels reach %s, whose parameter %q is not a constant", where, n.Inputs[i].Name)
			}
			d.edits = append(d.edits, edit{n, i, 0})
		}
		return nil
	case binary[n.Op]:
		return d.visitBinary(n, add, where)
	case n.Op == "Flatten" || n.Op == "Reshape":
		return d.visitFlatten(n, add, where)
	}
	return fmt.Errorf("channels reach %s (only per-channel ops are followed)", where)
}

// visitLayer handles a Conv, Gemm or MatMul that reads or produces domain
// channels.
func (d *Domain) visitLayer(n *ir.Node, add func(*ir.Value, int) error, where string) error {
	l, why := layer.Of(n, d.idx.producers)
	if l == nil {
		return fmt.Errorf("channels reach %s: %s", where, why)
	}
	if l.Group != 1 {
		return fmt.Errorf("channels reach %s, a grouped conv", where)
	}
	if _, ok := d.axes[l.Weight]; ok {
		return fmt.Errorf("channels reach the weight of %s", where)
	}
	out := n.Outputs[0]
	// The output axis of the layer's channels: 1 for conv and Gemm, the
	// last for MatMul.
	outAxis := 1
	if l.Kind == layer.MatMul {
		outAxis = out.Type.Shape.Rank() - 1
	}
	if a, ok := d.axes[l.Data]; ok && !d.consumed[n] {
		d.consumed[n] = true
		if a != l.DataAxis {
			return fmt.Errorf("channels on axis %d reach %s, which reduces over axis %d", a, where, l.DataAxis)
		}
		if sp := l.Const.Sparsity; sp != nil {
			return fmt.Errorf("channels reach %s, whose weight already claims sparsity %v", where, sp)
		}
		d.Consumers = append(d.Consumers, l)
		d.editWeight(l, l.Axis)
	}
	var res *ir.Value
	if (n.Op == "FusedConv" || n.Op == "FusedGemm") && len(n.Inputs) > 3 {
		res = n.Inputs[3]
	}
	_, resIn := d.axes[res]
	_, outIn := d.axes[out]
	if (!resIn && !outIn) || d.produced[n] {
		return nil
	}
	d.produced[n] = true
	// The layer produces domain channels: permute its filters, its bias
	// and its residual with them.
	if err := add(out, outAxis); err != nil {
		return err
	}
	if res != nil {
		if err := add(res, outAxis); err != nil {
			return err
		}
	}
	d.Producers = append(d.Producers, n)
	d.editWeight(l, l.OutAxis())
	if b := n.Input(2); b != nil {
		if !b.IsConst() {
			return fmt.Errorf("channels reach %s, whose bias %q is not a constant", where, b.Name)
		}
		bs := b.Type.Shape
		switch {
		case bs.NumElements() == 1:
		case l.Kind == layer.Conv:
			d.edits = append(d.edits, edit{n, 2, 0})
		case bs.Rank() >= 1 && bs[bs.Rank()-1].Known() && int(bs[bs.Rank()-1].Size) == d.Channels:
			d.edits = append(d.edits, edit{n, 2, bs.Rank() - 1})
		case bs.Rank() >= 1 && bs[bs.Rank()-1].Size == 1:
			// A column vector broadcast along the output channels.
		default:
			return fmt.Errorf("channels reach %s, whose bias %q has shape %v", where, b.Name, bs)
		}
	}
	return nil
}

// editWeight permutes a layer's weight along axis: the constant, and the
// scales and zero points of its quantization when they lie along it.
func (d *Domain) editWeight(l *layer.Layer, axis int) {
	if l.Quant == nil {
		d.edits = append(d.edits, edit{l.Node, 1, axis})
		return
	}
	q := l.Quant
	d.edits = append(d.edits, edit{q.Dequant, 0, axis})
	if q.Quantize != nil {
		d.edits = append(d.edits, edit{q.Quantize, 0, axis})
	}
	if q.Axis == axis {
		for _, n := range []*ir.Node{q.Dequant, q.Quantize} {
			if n == nil {
				continue
			}
			for slot := 1; slot <= 2 && slot < len(n.Inputs); slot++ {
				if n.Inputs[slot] != nil {
					d.edits = append(d.edits, edit{n, slot, 0})
				}
			}
		}
	}
}

// visitBinary handles an elementwise op with broadcasting: computed
// operands carrying the channels join the domain, constant ones with a
// channel dim are permuted, and those broadcast along the channels are
// left alone.
func (d *Domain) visitBinary(n *ir.Node, add func(*ir.Value, int) error, where string) error {
	out := n.Outputs[0]
	rank := out.Type.Shape.Rank()
	// The output's channel axis: from whichever of its values is known.
	axis := -1
	if a, ok := d.axes[out]; ok {
		axis = a
	}
	for _, v := range n.Inputs {
		if a, ok := d.axes[v]; ok && axis < 0 {
			axis = a + rank - v.Type.Shape.Rank()
		}
	}
	if axis < 0 {
		return fmt.Errorf("channels reach %s on no known axis", where)
	}
	if err := add(out, axis); err != nil {
		return err
	}
	for i, v := range n.Inputs {
		if v == nil {
			continue
		}
		va := axis - (rank - v.Type.Shape.Rank())
		if va < 0 {
			continue // broadcast along the channels
		}
		dim := v.Type.Shape[va]
		if !dim.Known() {
			return fmt.Errorf("channels reach %s, whose operand %q has shape %v", where, v.Name, v.Type.Shape)
		}
		if dim.Size == 1 {
			continue
		}
		if !v.IsConst() {
			if err := add(v, va); err != nil {
				return err
			}
			continue
		}
		d.edits = append(d.edits, edit{n, i, va})
	}
	return nil
}

// visitFlatten follows [N, C, 1, …, 1] ↔ [N, C]: a Flatten (axis 1) or a
// Reshape that only drops or adds trailing dims of size 1 keeps the channel
// order on axis 1.
func (d *Domain) visitFlatten(n *ir.Node, add func(*ir.Value, int) error, where string) error {
	x, out := n.Inputs[0], n.Outputs[0]
	if n.Op == "Flatten" && n.Attrs.Int("axis", 1) != 1 {
		return fmt.Errorf("channels reach %s, which does not flatten from axis 1", where)
	}
	xs, os := x.Type.Shape, out.Type.Shape
	ok := xs.Rank() >= 2 && os.Rank() >= 2 && xs[0] == os[0] && xs[1] == os[1]
	for _, s := range []ir.Shape{xs, os} {
		for _, dim := range s[min(2, s.Rank()):] {
			ok = ok && dim.Known() && dim.Size == 1
		}
	}
	if !ok {
		return fmt.Errorf("channels reach %s, which mixes them with other dims (%v to %v)", where, xs, os)
	}
	if err := add(x, 1); err != nil {
		return err
	}
	return add(out, 1)
}

// Columns lays out the magnitudes of the weights of layers, which all
// reduce over the same channels, as the search reads them: one column per
// channel, one row per (layer, output channel, kernel position).
func Columns(layers []*layer.Layer, channels int) ([][]float32, error) {
	R := 0
	for _, l := range layers {
		if l.In != channels {
			return nil, fmt.Errorf("layer %s reduces over %d channels, want %d", l.Node.Name, l.In, channels)
		}
		R += l.Rows * l.Spatial
	}
	cols := make([][]float32, channels)
	for c := range cols {
		cols[c] = make([]float32, 0, R)
	}
	for _, l := range layers {
		abs := l.Abs32()
		n := l.Cols()
		for k := range l.Rows {
			for s := range l.Spatial {
				row := abs[k*n+s*l.In : k*n+s*l.In+l.In]
				for c, v := range row {
					cols[c] = append(cols[c], v)
				}
			}
		}
	}
	return cols, nil
}

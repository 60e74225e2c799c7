package onnxexport

import (
	"fmt"
	"sort"
	"strconv"
	"sync"

	"github.com/sqc-project/sqc/frontend/onnx/internal/onnxpb"
	"github.com/sqc-project/sqc/ir"
)

// Emitter is what a decomposer writes ONNX nodes through. Values are IR
// values: those of the graph being exported (graph inputs, constants, the
// outputs of earlier nodes) and new ones made by Temp and Const. The
// emitter gives every value its ONNX name, adds the initializers the nodes
// read, and describes the new values' types.
type Emitter interface {
	// Opset is the default-domain opset being written.
	Opset() int64
	// Node appends a node of ONNX's default domain. Every input (nil is an
	// absent optional input) must already be defined; the outputs must be
	// new. The first node written for an IR node gets that node's name and
	// later ones "<name>/<op>". Where op's current form is newer than the
	// opset being written, the node is rewritten into the older form (or
	// refused) exactly as an IR node of that op would be.
	Node(op string, inputs, outputs []*ir.Value, attrs ir.Attrs) error
	// Temp returns a new value for an intermediate result, of type t, with
	// a name derived from base that no other value uses.
	Temp(base string, t ir.Type) *ir.Value
	// Const returns a new constant value holding t (written as an
	// initializer if a node reads it), with a name derived from base.
	Const(base string, t *ir.Tensor) *ir.Value
	// Alias makes every later reader of v read src instead: how a
	// decomposer drops an op that computes nothing in ONNX terms. A graph
	// output keeps its name, so aliasing one is an error (write Identity).
	Alias(v, src *ir.Value) error
	// IsGraphOutput reports whether v is one of the graph's outputs.
	IsGraphOutput(v *ir.Value) bool
}

// A Decomposer writes one IR node of an op ONNX does not have as ONNX nodes.
// It must not modify the node, and must define every output of the node
// (through Node or Alias), since later nodes and the graph outputs read
// them.
type Decomposer func(e Emitter, n *ir.Node) error

// decomposers holds the registered decomposers by op. decompMu guards it:
// registration normally happens in init, but nothing stops a plugin host
// from registering later.
var (
	decompMu    sync.RWMutex
	decomposers = map[string]Decomposer{}
)

// RegisterDecomposer registers the decomposer of an op. Packages that
// define ops of their own call it from init. A decomposer registered for an
// ONNX op replaces its one-to-one writing (the nodes it writes through
// Emitter.Node are then written as they are). Registering an op twice, or a
// nil function, is a programming error and panics, as ir.Register does.
func RegisterDecomposer(op string, f func(e Emitter, n *ir.Node) error) {
	decompMu.Lock()
	defer decompMu.Unlock()
	if f == nil {
		panic("onnxexport: nil decomposer for op " + op)
	}
	if _, dup := decomposers[op]; dup {
		panic("onnxexport: decomposer for op " + op + " registered twice")
	}
	decomposers[op] = f
}

// decomposer returns the decomposer registered for op, or nil.
func decomposer(op string) Decomposer {
	decompMu.RLock()
	defer decompMu.RUnlock()
	return decomposers[op]
}

// Decomposers lists the ops that have a decomposer, sorted.
func Decomposers() []string {
	decompMu.RLock()
	defer decompMu.RUnlock()
	ops := make([]string, 0, len(decomposers))
	for op := range decomposers {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	return ops
}

// writer builds the GraphProto of one graph. It implements Emitter.
type writer struct {
	g     *ir.Graph
	opset int64
	gp    *onnxpb.GraphProto

	// names maps every value met to its ONNX name; taken holds the names in
	// use, so generated names never collide with the graph's.
	names map[*ir.Value]string
	taken map[string]bool
	// irNodes holds the IR's node names, which the ONNX nodes written for
	// them take; usedNodes the ONNX node names written.
	irNodes, usedNodes map[string]bool
	// alias redirects readers of a dropped value to its source.
	alias map[*ir.Value]*ir.Value
	// defined holds the non-constant values readable so far.
	defined map[*ir.Value]bool
	// inits are the constants read, in order of first use.
	inits    []*ir.Value
	initSeen map[*ir.Value]bool
	outputs  map[*ir.Value]bool
	// produced lists node outputs in order, for value_info.
	produced []*ir.Value

	// cur is the IR node being written and written the number of ONNX
	// nodes written for it so far (the first one takes its name).
	cur     *ir.Node
	written int
}

func newWriter(g *ir.Graph, opset int64) *writer {
	w := &writer{
		g:         g,
		opset:     opset,
		gp:        &onnxpb.GraphProto{Name: g.Name},
		names:     map[*ir.Value]string{},
		taken:     map[string]bool{},
		irNodes:   map[string]bool{},
		usedNodes: map[string]bool{},
		alias:     map[*ir.Value]*ir.Value{},
		defined:   map[*ir.Value]bool{},
		initSeen:  map[*ir.Value]bool{},
		outputs:   map[*ir.Value]bool{},
	}
	if w.gp.Name == "" {
		w.gp.Name = "sqc" // ONNX's checker wants a graph name
	}
	// The graph's own names are reserved first, in a fixed order, so that
	// names generated later never take one of them; a value whose name is
	// empty or already taken is named when first written.
	reserve := func(v *ir.Value) {
		if v == nil {
			return
		}
		if _, ok := w.names[v]; ok || v.Name == "" || w.taken[v.Name] {
			return
		}
		w.names[v] = v.Name
		w.taken[v.Name] = true
	}
	for _, v := range g.Inputs {
		reserve(v)
	}
	for _, v := range g.Constants() {
		reserve(v)
	}
	for _, n := range g.Nodes {
		for _, v := range n.Outputs {
			reserve(v)
		}
		if n.Name != "" {
			w.irNodes[n.Name] = true
		}
	}
	for _, v := range g.Outputs {
		w.outputs[v] = true
	}
	return w
}

// fresh returns base, or base with a numeric suffix, such that no value
// has it yet, and reserves it.
func (w *writer) fresh(base string) string {
	if base == "" {
		base = "value"
	}
	name := base
	for k := 2; w.taken[name]; k++ {
		name = base + "_" + strconv.Itoa(k)
	}
	w.taken[name] = true
	return name
}

// nameOf returns v's ONNX name, naming it on first sight.
func (w *writer) nameOf(v *ir.Value) string {
	if name, ok := w.names[v]; ok {
		return name
	}
	name := w.fresh(v.Name)
	w.names[v] = name
	return name
}

// resolve follows aliases.
func (w *writer) resolve(v *ir.Value) *ir.Value {
	for {
		src, ok := w.alias[v]
		if !ok {
			return v
		}
		v = src
	}
}

// run writes the graph's inputs, nodes and outputs.
func (w *writer) run() error {
	for _, v := range w.g.Inputs {
		vi, err := valueInfo(w.nameOf(v), v.Type)
		if err != nil {
			return fmt.Errorf("graph input: %v", err)
		}
		w.gp.Input = append(w.gp.Input, vi)
		w.defined[v] = true
	}
	for _, n := range w.g.Nodes {
		w.cur, w.written = n, 0
		var err error
		if d := decomposer(n.Op); d != nil {
			err = w.decompose(d, n)
		} else {
			err = w.standard(n.Op, n.Inputs, n.Outputs, n.Attrs)
		}
		if err != nil {
			return fmt.Errorf("node %q (%s): %w", n.Name, n.Op, err)
		}
	}
	w.cur = nil
	for i, v := range w.g.Outputs {
		switch {
		case v.IsConst():
			w.addInit(v)
		case !w.defined[v]:
			return fmt.Errorf("graph output %d %q is not defined by any node that was written", i, v.Name)
		}
		vi, err := valueInfo(w.nameOf(v), v.Type)
		if err != nil {
			return fmt.Errorf("graph output: %v", err)
		}
		w.gp.Output = append(w.gp.Output, vi)
	}
	for _, v := range w.produced {
		if w.outputs[v] || v.Type.DType == ir.InvalidDType {
			continue
		}
		vi, err := valueInfo(w.names[v], v.Type)
		if err != nil {
			return err
		}
		w.gp.ValueInfo = append(w.gp.ValueInfo, vi)
	}
	return nil
}

// decompose runs a decomposer. Decomposers come from other packages and
// see graphs from untrusted files; a bug in one must surface as an error
// naming the node, not bring down the caller (a compile server).
func (w *writer) decompose(d Decomposer, n *ir.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error in the decomposer of %s (this is a bug in it): %v", n.Op, r)
		}
	}()
	if err := d(w, n); err != nil {
		return err
	}
	return w.checkDefined(n)
}

// checkDefined reports an output of a decomposed node that the decomposer
// neither wrote nor aliased: later readers would find no producer.
func (w *writer) checkDefined(n *ir.Node) error {
	for _, v := range n.Outputs {
		if v != nil && !w.defined[w.resolve(v)] {
			return fmt.Errorf("the decomposer did not define output %q", v.Name)
		}
	}
	return nil
}

func (w *writer) addInit(v *ir.Value) {
	if !w.initSeen[v] {
		w.initSeen[v] = true
		w.inits = append(w.inits, v)
		w.nameOf(v)
	}
}

// standard writes a node of an ONNX op, rewritten for the opset when its
// current form is newer (adapt.go).
func (w *writer) standard(op string, ins, outs []*ir.Value, attrs ir.Attrs) error {
	since, ok := onnxOps[op]
	if !ok {
		return fmt.Errorf("op %q is not an ONNX operator", op)
	}
	if a := adapters[op]; a != nil {
		return a(w, stdNode{op: op, ins: ins, outs: outs, attrs: attrs})
	}
	if since > w.opset {
		return fmt.Errorf("op %s needs opset %d or later, exporting opset %d", op, since, w.opset)
	}
	return w.emit(op, ins, outs, attrs)
}

// emit appends one node as given.
func (w *writer) emit(op string, ins, outs []*ir.Value, attrs ir.Attrs) error {
	if since := onnxOps[op]; since > w.opset {
		return fmt.Errorf("op %s needs opset %d or later, exporting opset %d", op, since, w.opset)
	}
	np := &onnxpb.NodeProto{OpType: op, Input: make([]string, len(ins))}
	for i, v := range ins {
		if v == nil {
			continue // "" is ONNX's absent optional input
		}
		v = w.resolve(v)
		switch {
		case v.IsConst():
			w.addInit(v)
		case !w.defined[v]:
			return fmt.Errorf("%s input %d %q is not defined before it is read", op, i, v.Name)
		}
		np.Input[i] = w.nameOf(v)
	}
	// Trailing absent inputs say nothing; ONNX writers leave them out.
	for len(np.Input) > 0 && np.Input[len(np.Input)-1] == "" {
		np.Input = np.Input[:len(np.Input)-1]
	}
	if len(outs) == 0 {
		return fmt.Errorf("%s node has no outputs", op)
	}
	for i, v := range outs {
		switch {
		case v == nil:
			return fmt.Errorf("%s output %d is nil", op, i)
		case v.IsConst():
			return fmt.Errorf("%s output %d %q is a constant", op, i, v.Name)
		case w.defined[v]:
			return fmt.Errorf("%s output %d %q is defined twice", op, i, v.Name)
		}
		w.defined[v] = true
		w.produced = append(w.produced, v)
		np.Output = append(np.Output, w.nameOf(v))
	}
	for _, name := range attrs.Names() {
		a, err := attrProto(name, attrs[name])
		if err != nil {
			return err
		}
		np.Attribute = append(np.Attribute, a)
	}
	np.Name = w.nodeName(op)
	w.gp.Node = append(w.gp.Node, np)
	return nil
}

// nodeName names the next ONNX node written for the current IR node: the
// first takes the IR node's name, later ones "<name>/<op>"; a numeric suffix
// keeps names unique.
func (w *writer) nodeName(op string) string {
	first := w.written == 0
	w.written++
	base := op
	if w.cur != nil && w.cur.Name != "" {
		base = w.cur.Name
		if !first {
			base += "/" + op
		} else if !w.usedNodes[base] {
			w.usedNodes[base] = true
			return base
		}
	}
	name := base
	for k := 2; w.usedNodes[name] || w.irNodes[name]; k++ {
		name = base + "_" + strconv.Itoa(k)
	}
	w.usedNodes[name] = true
	return name
}

// Opset implements Emitter.
func (w *writer) Opset() int64 { return w.opset }

// Node implements Emitter.
func (w *writer) Node(op string, inputs, outputs []*ir.Value, attrs ir.Attrs) error {
	if !IsONNXOp(op) {
		return fmt.Errorf("decomposer wrote op %q, which is not an ONNX operator", op)
	}
	return w.standard(op, inputs, outputs, attrs)
}

// Temp implements Emitter.
func (w *writer) Temp(base string, t ir.Type) *ir.Value {
	v := &ir.Value{Name: w.fresh(base), Type: t}
	w.names[v] = v.Name
	return v
}

// Const implements Emitter.
func (w *writer) Const(base string, t *ir.Tensor) *ir.Value {
	v := &ir.Value{Name: w.fresh(base), Type: t.Type(), Const: t}
	w.names[v] = v.Name
	return v
}

// Alias implements Emitter.
func (w *writer) Alias(v, src *ir.Value) error {
	switch {
	case v == nil || src == nil:
		return fmt.Errorf("alias of a nil value")
	case w.outputs[v]:
		return fmt.Errorf("value %q is a graph output, which must keep its name: write an Identity instead of an alias", v.Name)
	case w.defined[v] || v.IsConst():
		return fmt.Errorf("value %q is already defined and cannot become an alias", v.Name)
	case w.resolve(src) == v:
		return fmt.Errorf("aliasing %q to %q makes a cycle", v.Name, src.Name)
	}
	if s := w.resolve(src); !s.IsConst() && !w.defined[s] {
		return fmt.Errorf("alias source %q is not defined", src.Name)
	}
	w.alias[v] = src
	return nil
}

// IsGraphOutput implements Emitter.
func (w *writer) IsGraphOutput(v *ir.Value) bool { return w.outputs[v] }

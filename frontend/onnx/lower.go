package onnx

import (
	"container/heap"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"

	"github.com/sqc-project/sqc/frontend/onnx/internal/codec"
	"github.com/sqc-project/sqc/frontend/onnx/internal/onnxpb"
	"github.com/sqc-project/sqc/ir"
)

// Import loads an ONNX file and lowers it to the IR.
func Import(path string) (*ir.Graph, error) {
	m, err := Load(path)
	if err != nil {
		return nil, err
	}
	return m.Lower()
}

// Lower translates the model's main graph into an ir.Graph, normalising
// operators of older opsets to the newest form, then runs ir.InferShapes and
// ir.Verify. Errors start with the model's path when it was loaded from a
// file and name the node or value at fault.
//
// The graph's constants share their tensors with the Model (weights are not
// copied), so a second Lower of the same Model gives a graph whose constants
// alias the first one's: code that changes a constant's data in place should
// clone the tensor first.
func (m *Model) Lower() (g *ir.Graph, err error) {
	l := &lowerer{
		m:      m,
		g:      &ir.Graph{Name: m.graph.GetName()},
		values: map[string]*ir.Value{},
		names:  map[string]bool{},
		nodes:  map[string]bool{},
	}
	defer func() {
		// Lowering runs op schemas written elsewhere on data read from an
		// untrusted file; a bug there must surface as an error naming the
		// node, not bring down the caller (a compile server, the fuzzer).
		if r := recover(); r != nil {
			g = nil
			err = fmt.Errorf("internal error while lowering node %q: %v (this is a bug in sqc)\n%s", l.cur, r, debug.Stack())
		}
		if err != nil && m.Path != "" {
			err = fmt.Errorf("%s: %w", m.Path, err)
		}
	}()
	if err := l.run(); err != nil {
		return nil, err
	}
	return l.g, nil
}

// lowerer holds the state of one Lower call.
type lowerer struct {
	m *Model
	g *ir.Graph
	// values maps ONNX value names to IR values.
	values map[string]*ir.Value
	// names holds every value name in use, ONNX's and the generated ones,
	// so auxiliary values never take a name the model uses.
	names map[string]bool
	// nodes holds the IR node names in use.
	nodes map[string]bool
	// used counts the readers of each ONNX value name (node inputs and graph
	// outputs), to tell whether an optional output may be dropped.
	used map[string]int
	// cur is the name of the node being lowered, for the panic message.
	cur string
}

func (l *lowerer) run() error {
	gp := l.m.graph
	// Every name the file defines is reserved first.
	for _, name := range l.m.initOrder {
		l.names[name] = true
	}
	isInit := func(name string) bool { _, ok := l.m.inits[name]; return ok }
	for _, vi := range gp.GetInput() {
		l.names[vi.GetName()] = true
	}
	for _, n := range gp.GetNode() {
		for _, o := range n.GetOutput() {
			l.names[o] = true
		}
	}
	// Graph inputs. Old exporters list every initializer as an input too;
	// those stay constants.
	for i, vi := range gp.GetInput() {
		name := vi.GetName()
		if name == "" {
			return fmt.Errorf("graph input %d has no name", i)
		}
		if isInit(name) {
			continue
		}
		if _, dup := l.values[name]; dup {
			return fmt.Errorf("graph input %q is listed twice", name)
		}
		t, err := valueType(vi, true)
		if err != nil {
			return fmt.Errorf("graph input %q: %v", name, err)
		}
		v := &ir.Value{Name: name, Type: t}
		l.values[name] = v
		l.g.Inputs = append(l.g.Inputs, v)
	}
	nodes := gp.GetNode()
	names := nodeNames(nodes)
	for _, n := range names {
		l.nodes[n] = true
	}
	order, err := l.sortNodes(nodes, names)
	if err != nil {
		return err
	}
	l.used = map[string]int{}
	for _, n := range nodes {
		for _, in := range n.GetInput() {
			l.used[in]++
		}
	}
	for _, vi := range gp.GetOutput() {
		l.used[vi.GetName()]++
	}
	for _, i := range order {
		l.cur = names[i]
		if err := l.lowerNode(nodes[i], names[i]); err != nil {
			return fmt.Errorf("node %q: %w", names[i], err)
		}
	}
	l.cur = ""
	for i, vi := range gp.GetOutput() {
		name := vi.GetName()
		v, err := l.value(name)
		if err != nil || v == nil {
			return fmt.Errorf("graph output %d %q is not produced by any node, graph input or initializer", i, name)
		}
		l.g.Outputs = append(l.g.Outputs, v)
	}
	if err := ir.InferShapes(l.g); err != nil {
		return err
	}
	for i, vi := range gp.GetOutput() {
		if err := refineOutput(l.g.Outputs[i], vi, l.g); err != nil {
			return err
		}
	}
	return ir.Verify(l.g)
}

// value returns the IR value of an ONNX name: a graph input, a node output
// lowered earlier, or an initializer (made a constant on first use, so
// initializers nothing reads never reach the IR). "" is an omitted optional
// input and gives nil.
func (l *lowerer) value(name string) (*ir.Value, error) {
	if name == "" {
		return nil, nil
	}
	if v, ok := l.values[name]; ok {
		return v, nil
	}
	if t, ok := l.m.inits[name]; ok {
		v := ir.NewConst(name, t)
		l.values[name] = v
		return v, nil
	}
	return nil, fmt.Errorf("value %q is not defined", name)
}

// freshName returns base, or base with a numeric suffix, such that no value
// uses it yet, and reserves it.
func (l *lowerer) freshName(base string) string {
	name := base
	for k := 2; l.names[name]; k++ {
		name = base + "_" + strconv.Itoa(k)
	}
	l.names[name] = true
	return name
}

// freshNode is freshName for node names.
func (l *lowerer) freshNode(base string) string {
	name := base
	for k := 2; l.nodes[name]; k++ {
		name = base + "_" + strconv.Itoa(k)
	}
	l.nodes[name] = true
	return name
}

// constant adds a constant value named after base.
func (l *lowerer) constant(base string, t *ir.Tensor) *ir.Value {
	return ir.NewConst(l.freshName(base), t)
}

// emit appends a node and infers its output types at once, so later
// normalisations can look at the types of the values they rewrite.
func (l *lowerer) emit(name, op string, ins, outs []*ir.Value, attrs ir.Attrs) error {
	if attrs == nil {
		attrs = ir.Attrs{}
	}
	n := &ir.Node{Name: name, Op: op, Inputs: ins, Outputs: outs, Attrs: attrs}
	l.g.Nodes = append(l.g.Nodes, n)
	return ir.InferNode(n)
}

// aux emits an auxiliary node named "<node>/<suffix>" with one new output
// value of the same name.
func (l *lowerer) aux(n *nodeCtx, suffix, op string, ins []*ir.Value, attrs ir.Attrs) (*ir.Value, error) {
	name := l.freshNode(n.name + "/" + suffix)
	out := &ir.Value{Name: l.freshName(name)}
	if err := l.emit(name, op, ins, []*ir.Value{out}, attrs); err != nil {
		return nil, err
	}
	return out, nil
}

// valueType converts a ValueInfo's type. needShape requires a shape (graph
// inputs); without one the result has a nil shape.
func valueType(vi *onnxpb.ValueInfoProto, needShape bool) (ir.Type, error) {
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		if vi.GetType() == nil {
			return ir.Type{}, errors.New("has no type (want a tensor type)")
		}
		return ir.Type{}, errors.New("is not a tensor (sequences, maps, optionals and sparse tensors are not supported)")
	}
	dt, err := codec.DTypeFromONNX(tt.GetElemType())
	if err != nil {
		return ir.Type{}, err
	}
	if tt.GetShape() == nil {
		if needShape {
			return ir.Type{}, fmt.Errorf("has no shape (want a tensor of known rank)")
		}
		return ir.Type{DType: dt}, nil
	}
	dims := tt.GetShape().GetDim()
	shape := make(ir.Shape, len(dims))
	for i, d := range dims {
		switch v := d.GetValue().(type) {
		case *onnxpb.TensorShapeProto_Dimension_DimValue:
			if v.DimValue >= 0 {
				shape[i] = ir.D(v.DimValue)
			} else {
				shape[i] = ir.UnknownDim // some exporters write -1 for "unknown"
			}
		case *onnxpb.TensorShapeProto_Dimension_DimParam:
			if v.DimParam != "" {
				shape[i] = ir.SymDim(v.DimParam)
			} else {
				shape[i] = ir.UnknownDim
			}
		default:
			shape[i] = ir.UnknownDim
		}
	}
	return ir.Type{DType: dt, Shape: shape}, nil
}

// refineOutput checks a graph output's inferred type against the type the
// model declares for it, and takes from the declaration the dims inference
// could not know (a Reshape to -1 of a symbolic batch, say), or the whole
// shape when not even the rank was known: the file states them and ONNX
// runtimes trust that statement too.
func refineOutput(v *ir.Value, vi *onnxpb.ValueInfoProto, g *ir.Graph) error {
	if v.IsConst() || vi.GetType().GetTensorType() == nil {
		return nil
	}
	for _, in := range g.Inputs {
		if in == v {
			return nil
		}
	}
	decl, err := valueType(vi, false)
	if err != nil {
		if vi.GetType().GetTensorType().GetElemType() == 0 {
			return nil // no element type declared: nothing to compare
		}
		return fmt.Errorf("graph output %q: %v", v.Name, err)
	}
	if decl.DType != v.Type.DType {
		return fmt.Errorf("graph output %q: declared %v, but the graph computes %v", v.Name, decl.DType, v.Type.DType)
	}
	if decl.Shape == nil {
		return nil
	}
	if v.Type.Shape == nil {
		// Inference did not even know the rank (a Reshape to a shape
		// computed from Size or Shape values): the declaration says it.
		v.Type.Shape = decl.Shape.Clone()
		return nil
	}
	if len(decl.Shape) != len(v.Type.Shape) {
		return fmt.Errorf("graph output %q: declared shape %v, but the graph computes %v", v.Name, decl.Shape, v.Type.Shape)
	}
	for i, d := range decl.Shape {
		got := v.Type.Shape[i]
		switch {
		case got.Known() && d.Known() && got.Size != d.Size:
			return fmt.Errorf("graph output %q: declared shape %v, but the graph computes %v", v.Name, decl.Shape, v.Type.Shape)
		case !got.Known() && got.Sym == "" && (d.Known() || d.Sym != ""):
			v.Type.Shape[i] = d
		}
	}
	return nil
}

// sortNodes returns the order to lower the nodes in: the file's order when
// it is topological (as ONNX requires), otherwise a topological order that
// keeps the file's order wherever it can. It reports inputs nothing
// produces, values defined twice, and cycles.
func (l *lowerer) sortNodes(nodes []*onnxpb.NodeProto, names []string) ([]int, error) {
	producer := map[string]int{}
	for i, n := range nodes {
		for _, o := range n.GetOutput() {
			if o == "" {
				continue
			}
			if j, dup := producer[o]; dup {
				return nil, fmt.Errorf("node %q: output %q is also produced by node %q (want each value defined once)", names[i], o, names[j])
			}
			if _, ok := l.m.inits[o]; ok {
				return nil, fmt.Errorf("node %q: output %q has the name of an initializer (want each value defined once)", names[i], o)
			}
			if _, ok := l.values[o]; ok {
				return nil, fmt.Errorf("node %q: output %q has the name of a graph input (want each value defined once)", names[i], o)
			}
			producer[o] = i
		}
	}
	deps := make([][]int, len(nodes))
	sorted := true
	for i, n := range nodes {
		for _, in := range n.GetInput() {
			if in == "" {
				continue
			}
			if j, ok := producer[in]; ok {
				deps[i] = append(deps[i], j)
				if j >= i {
					sorted = false
				}
				continue
			}
			if _, ok := l.values[in]; ok {
				continue
			}
			if _, ok := l.m.inits[in]; ok {
				continue
			}
			return nil, fmt.Errorf("node %q: input %q is not produced by any node, graph input or initializer", names[i], in)
		}
	}
	order := make([]int, 0, len(nodes))
	if sorted {
		for i := range nodes {
			order = append(order, i)
		}
		return order, nil
	}
	// Kahn's algorithm, always taking the earliest ready node in file order.
	pending := make([]int, len(nodes))
	users := make([][]int, len(nodes))
	for i, ds := range deps {
		pending[i] = len(ds)
		for _, j := range ds {
			users[j] = append(users[j], i)
		}
	}
	ready := &intHeap{}
	for i, p := range pending {
		if p == 0 {
			heap.Push(ready, i)
		}
	}
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		order = append(order, i)
		for _, u := range users[i] {
			pending[u]--
			if pending[u] == 0 {
				heap.Push(ready, u)
			}
		}
	}
	if len(order) == len(nodes) {
		return order, nil
	}
	// Some nodes never became ready. Each of them waits on an input whose
	// producer never became ready either, so walking back along such inputs
	// must revisit a node: the walk from its first visit is a cycle.
	start := 0
	for pending[start] == 0 {
		start++
	}
	var path []int
	pos := map[int]int{}
	i := start
	for {
		if p, ok := pos[i]; ok {
			path = path[p:]
			break
		}
		pos[i] = len(path)
		path = append(path, i)
		for _, j := range deps[i] {
			if pending[j] > 0 {
				i = j
				break
			}
		}
	}
	// path runs from consumers to producers; print it in data-flow order.
	flow := strconv.Quote(names[path[0]])
	for k := len(path) - 1; k >= 0; k-- {
		flow += " -> " + strconv.Quote(names[path[k]])
	}
	return nil, fmt.Errorf("node %q is part of a cycle (%s); an ONNX graph must be acyclic", names[path[0]], flow)
}

// intHeap is a min-heap of node indices.
type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

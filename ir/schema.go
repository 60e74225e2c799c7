package ir

import (
	"fmt"
	"sort"
)

// OpSchema describes an operator: its arity, its attributes and how its
// output types follow from its inputs.
type OpSchema struct {
	Name string
	// Doc says what the op computes, in a lower-case phrase.
	Doc string
	// MinInputs..MaxInputs inputs; MaxInputs < 0 means any number (variadic).
	MinInputs, MaxInputs int
	// MinOutputs..MaxOutputs outputs.
	MinOutputs, MaxOutputs int
	// Attrs lists every attribute the op accepts and its kind.
	Attrs map[string]AttrKind
	// Infer computes the output types. It must not modify the node.
	Infer func(c *InferContext) error
}

var registry = map[string]*OpSchema{}

// Register adds an op schema; registering a name twice is a programming error.
func Register(s *OpSchema) {
	if _, dup := registry[s.Name]; dup {
		panic("ir: op " + s.Name + " registered twice")
	}
	if s.Infer == nil || s.Doc == "" {
		panic("ir: op " + s.Name + " needs Doc and Infer")
	}
	registry[s.Name] = s
}

// Lookup returns the schema of an op, or nil.
func Lookup(op string) *OpSchema { return registry[op] }

// Ops lists the registered op names, sorted.
func Ops() []string {
	names := make([]string, 0, len(registry))
	for k := range registry {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// InferContext is what an op's Infer function sees: the node (for its name
// and attributes), the types of its inputs, and the values of those inputs
// that are known. At run time (the reference executor) every input is known
// and every dim is concrete; in static shape inference only constants are.
type InferContext struct {
	Node *Node
	// In has one type per input; an absent optional input has DType InvalidDType.
	In []Type
	// Consts has the known value of each input, or nil.
	Consts []*Tensor
	// Out receives one type per output of the node.
	Out []Type
}

// Attrs returns the node's attributes.
func (c *InferContext) Attrs() Attrs { return c.Node.Attrs }

// NumIn is the number of inputs, counting absent optional ones.
func (c *InferContext) NumIn() int { return len(c.In) }

// Has reports whether optional input i is present.
func (c *InferContext) Has(i int) bool { return i < len(c.In) && c.In[i].DType != InvalidDType }

// Const returns the known value of input i, or nil.
func (c *InferContext) Const(i int) *Tensor {
	if i < len(c.Consts) {
		return c.Consts[i]
	}
	return nil
}

// Errorf returns an error that names the node and its op.
func (c *InferContext) Errorf(format string, args ...any) error {
	return fmt.Errorf("%s (%s): %s", c.Node.Name, c.Node.Op, fmt.Sprintf(format, args...))
}

// SetOut sets output i's type (outputs beyond the node's count are ignored,
// so Infer can always set its optional outputs).
func (c *InferContext) SetOut(i int, t Type) {
	if i < len(c.Out) {
		c.Out[i] = t
	}
}

// InferTypes runs the node's schema on the given input types and values and
// returns its output types. Unknown ops, a wrong arity and attributes of the
// wrong kind are errors.
func InferTypes(n *Node, in []Type, consts []*Tensor) ([]Type, error) {
	s := Lookup(n.Op)
	if s == nil {
		return nil, fmt.Errorf("%s: unknown op %q", n.Name, n.Op)
	}
	if err := checkArity(s, n); err != nil {
		return nil, err
	}
	for name, a := range n.Attrs {
		kind, ok := s.Attrs[name]
		if !ok {
			return nil, fmt.Errorf("%s (%s): unknown attribute %q", n.Name, n.Op, name)
		}
		if a.Kind != kind {
			return nil, fmt.Errorf("%s (%s): attribute %q is %v, want %v", n.Name, n.Op, name, a.Kind, kind)
		}
	}
	c := &InferContext{Node: n, In: in, Consts: consts, Out: make([]Type, len(n.Outputs))}
	if err := s.Infer(c); err != nil {
		return nil, err
	}
	return c.Out, nil
}

func checkArity(s *OpSchema, n *Node) error {
	if len(n.Inputs) < s.MinInputs || (s.MaxInputs >= 0 && len(n.Inputs) > s.MaxInputs) {
		return fmt.Errorf("%s (%s): %d inputs, want %s", n.Name, n.Op, len(n.Inputs), arity(s.MinInputs, s.MaxInputs))
	}
	if len(n.Outputs) < s.MinOutputs || len(n.Outputs) > s.MaxOutputs {
		return fmt.Errorf("%s (%s): %d outputs, want %s", n.Name, n.Op, len(n.Outputs), arity(s.MinOutputs, s.MaxOutputs))
	}
	for i := 0; i < s.MinInputs && i < len(n.Inputs); i++ {
		if n.Inputs[i] == nil {
			return fmt.Errorf("%s (%s): required input %d is missing", n.Name, n.Op, i)
		}
	}
	for i, v := range n.Outputs {
		if v == nil {
			return fmt.Errorf("%s (%s): output %d is nil", n.Name, n.Op, i)
		}
	}
	return nil
}

func arity(lo, hi int) string {
	switch {
	case hi < 0:
		return fmt.Sprintf("at least %d", lo)
	case lo == hi:
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d to %d", lo, hi)
}

// InferNode infers a node's output types statically from its inputs' types
// and constants, and stores them on its output values (keeping a layout the
// output already has).
func InferNode(n *Node) error {
	in := make([]Type, len(n.Inputs))
	consts := make([]*Tensor, len(n.Inputs))
	for i, v := range n.Inputs {
		if v != nil {
			in[i] = v.Type
			consts[i] = v.Const
		}
	}
	out, err := InferTypes(n, in, consts)
	if err != nil {
		return err
	}
	for i, t := range out {
		if t.Layout == "" {
			t.Layout = n.Outputs[i].Type.Layout
		}
		n.Outputs[i].Type = t
	}
	propagateShapeValue(n)
	return nil
}

// InferShapes runs InferNode over the graph in order.
func InferShapes(g *Graph) error {
	for _, n := range g.Nodes {
		if err := InferNode(n); err != nil {
			return err
		}
	}
	return nil
}

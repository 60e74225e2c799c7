package ir

import (
	"fmt"
	"sort"
)

// Value is an edge of the graph: a graph input, a node output or a constant.
type Value struct {
	Name string
	Type Type

	// Const holds the data of a constant value; nil for computed values.
	Const *Tensor

	// Quant, when set, says the value is quantized: its integer elements q
	// stand for the real numbers (q - ZeroPoint) * Scale.
	Quant *QuantParams

	// Sparsity, when set, claims the constant's structured sparsity pattern.
	Sparsity *Sparsity

	// ShapeValue, set by InferNode on a small computed integer or bool
	// tensor (scalar or 1-D), holds what static inference knows of its
	// elements: integers, or the symbols of the shape they were computed
	// from (shapevalue.go). Inference only: neither printed nor compared.
	ShapeValue []ShapeElem
}

// IsConst reports whether the value is a constant.
func (v *Value) IsConst() bool { return v != nil && v.Const != nil }

// NewConst makes a constant value from a tensor; its type is the tensor's.
func NewConst(name string, t *Tensor) *Value {
	return &Value{Name: name, Type: t.Type(), Const: t}
}

// QuantParams are the parameters of a linear quantization.
type QuantParams struct {
	// Scale has one entry per tensor (Axis < 0) or one per index of Axis.
	Scale []float32
	// ZeroPoint has as many entries as Scale.
	ZeroPoint []int32
	// Axis is the quantized dimension for per-axis quantization, -1 for per-tensor.
	Axis int
}

// PerTensor reports whether a single scale covers the whole tensor.
func (q *QuantParams) PerTensor() bool { return q.Axis < 0 }

// Equal compares two sets of parameters exactly.
func (q *QuantParams) Equal(p *QuantParams) bool {
	if q == nil || p == nil {
		return q == p
	}
	if q.Axis != p.Axis || len(q.Scale) != len(p.Scale) || len(q.ZeroPoint) != len(p.ZeroPoint) {
		return false
	}
	for i := range q.Scale {
		if q.Scale[i] != p.Scale[i] {
			return false
		}
	}
	for i := range q.ZeroPoint {
		if q.ZeroPoint[i] != p.ZeroPoint[i] {
			return false
		}
	}
	return true
}

// Sparsity is an N:M structured-sparsity claim: in every group of M
// consecutive elements along Axis at most N are non-zero (2:4 for the sparse
// Tensor Core instructions, along a weight's reduction dimension).
type Sparsity struct {
	N, M int
	Axis int
}

// String writes the claim as the textual form does: 2:4@1.
func (s *Sparsity) String() string { return fmt.Sprintf("%d:%d@%d", s.N, s.M, s.Axis) }

// Node is one operation.
type Node struct {
	Name string
	Op   string
	// Inputs in the schema's order; an omitted optional input is nil.
	Inputs  []*Value
	Outputs []*Value
	Attrs   Attrs
	// Notes are remarks passes leave for people and reports, not semantics:
	// why a layer stayed dense, what a pass padded. Keys are short words
	// ("sparsity", "padded"); the verifier ignores them.
	Notes map[string]string
}

// Note sets a note on the node.
func (n *Node) Note(key, text string) {
	if n.Notes == nil {
		n.Notes = map[string]string{}
	}
	n.Notes[key] = text
}

// Input returns input i, or nil when it is absent.
func (n *Node) Input(i int) *Value {
	if i < len(n.Inputs) {
		return n.Inputs[i]
	}
	return nil
}

// Graph is a model: inputs, outputs, and nodes in topological order.
type Graph struct {
	Name    string
	Inputs  []*Value
	Outputs []*Value
	Nodes   []*Node
}

// Constants returns the constant values the nodes and outputs use, each once,
// in order of first use (the order the textual form prints them).
func (g *Graph) Constants() []*Value {
	seen := map[*Value]bool{}
	var out []*Value
	add := func(v *Value) {
		if v.IsConst() && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, n := range g.Nodes {
		for _, v := range n.Inputs {
			add(v)
		}
	}
	for _, v := range g.Outputs {
		add(v)
	}
	return out
}

// Producers maps every node output to its node.
func (g *Graph) Producers() map[*Value]*Node {
	m := make(map[*Value]*Node, len(g.Nodes))
	for _, n := range g.Nodes {
		for _, v := range n.Outputs {
			if v != nil {
				m[v] = n
			}
		}
	}
	return m
}

// Users maps every value to the nodes that read it, in node order.
func (g *Graph) Users() map[*Value][]*Node {
	m := map[*Value][]*Node{}
	for _, n := range g.Nodes {
		for _, v := range n.Inputs {
			if v != nil {
				m[v] = append(m[v], n)
			}
		}
	}
	return m
}

// AttrKind says which field of an Attr is set.
type AttrKind uint8

// The attribute kinds.
const (
	AttrInt AttrKind = iota + 1
	AttrFloat
	AttrString
	AttrInts
	AttrFloats
	AttrStrings
)

var attrKindNames = [...]string{AttrInt: "int", AttrFloat: "float", AttrString: "string", AttrInts: "ints", AttrFloats: "floats", AttrStrings: "strings"}

func (k AttrKind) String() string {
	if int(k) < len(attrKindNames) && attrKindNames[k] != "" {
		return attrKindNames[k]
	}
	return fmt.Sprintf("attrkind(%d)", int(k))
}

// Attr is an attribute value. Tensor-valued ONNX attributes never reach the
// IR: a Constant node becomes a constant value.
type Attr struct {
	Kind    AttrKind
	Int     int64
	Float   float32
	String  string
	Ints    []int64
	Floats  []float32
	Strings []string
}

// Equal compares kinds and values exactly (floats by bits, so NaN equals NaN).
func (a Attr) Equal(b Attr) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case AttrInt:
		return a.Int == b.Int
	case AttrFloat:
		return sameFloat(a.Float, b.Float)
	case AttrString:
		return a.String == b.String
	case AttrInts:
		if len(a.Ints) != len(b.Ints) {
			return false
		}
		for i := range a.Ints {
			if a.Ints[i] != b.Ints[i] {
				return false
			}
		}
	case AttrFloats:
		if len(a.Floats) != len(b.Floats) {
			return false
		}
		for i := range a.Floats {
			if !sameFloat(a.Floats[i], b.Floats[i]) {
				return false
			}
		}
	case AttrStrings:
		if len(a.Strings) != len(b.Strings) {
			return false
		}
		for i := range a.Strings {
			if a.Strings[i] != b.Strings[i] {
				return false
			}
		}
	}
	return true
}

func sameFloat(a, b float32) bool { return a == b || (a != a && b != b) }

// Attrs are a node's attributes by name.
type Attrs map[string]Attr

// Names returns the attribute names sorted, the order the textual form uses.
func (a Attrs) Names() []string {
	names := make([]string, 0, len(a))
	for k := range a {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Int returns an int attribute, or def when it is absent.
func (a Attrs) Int(name string, def int64) int64 {
	if v, ok := a[name]; ok && v.Kind == AttrInt {
		return v.Int
	}
	return def
}

// Float returns a float attribute, or def when it is absent.
func (a Attrs) Float(name string, def float32) float32 {
	if v, ok := a[name]; ok && v.Kind == AttrFloat {
		return v.Float
	}
	return def
}

// String returns a string attribute, or def when it is absent.
func (a Attrs) String(name, def string) string {
	if v, ok := a[name]; ok && v.Kind == AttrString {
		return v.String
	}
	return def
}

// Ints returns an ints attribute, or nil when it is absent.
func (a Attrs) Ints(name string) []int64 {
	if v, ok := a[name]; ok && v.Kind == AttrInts {
		return v.Ints
	}
	return nil
}

// Floats returns a floats attribute, or nil when it is absent.
func (a Attrs) Floats(name string) []float32 {
	if v, ok := a[name]; ok && v.Kind == AttrFloats {
		return v.Floats
	}
	return nil
}

// Has reports whether the attribute is present.
func (a Attrs) Has(name string) bool { _, ok := a[name]; return ok }

// IntAttr, FloatAttr, StringAttr, IntsAttr and FloatsAttr build attributes.
func IntAttr(v int64) Attr { return Attr{Kind: AttrInt, Int: v} }

// FloatAttr builds a float attribute.
func FloatAttr(v float32) Attr { return Attr{Kind: AttrFloat, Float: v} }

// StringAttr builds a string attribute.
func StringAttr(v string) Attr { return Attr{Kind: AttrString, String: v} }

// IntsAttr builds an ints attribute.
func IntsAttr(v ...int64) Attr { return Attr{Kind: AttrInts, Ints: v} }

// FloatsAttr builds a floats attribute.
func FloatsAttr(v ...float32) Attr { return Attr{Kind: AttrFloats, Floats: v} }

// StringsAttr builds a strings attribute.
func StringsAttr(v ...string) Attr { return Attr{Kind: AttrStrings, Strings: v} }

// ReplaceUses makes every node input and graph output that reads old read
// new instead, and returns how many uses it changed.
func (g *Graph) ReplaceUses(old, new *Value) int {
	n := 0
	for _, node := range g.Nodes {
		for i, v := range node.Inputs {
			if v == old {
				node.Inputs[i] = new
				n++
			}
		}
	}
	for i, v := range g.Outputs {
		if v == old {
			g.Outputs[i] = new
			n++
		}
	}
	return n
}

// IsOutput reports whether v is one of the graph's outputs.
func (g *Graph) IsOutput(v *Value) bool {
	for _, o := range g.Outputs {
		if o == v {
			return true
		}
	}
	return false
}

// IsInput reports whether v is one of the graph's inputs.
func (g *Graph) IsInput(v *Value) bool {
	for _, o := range g.Inputs {
		if o == v {
			return true
		}
	}
	return false
}

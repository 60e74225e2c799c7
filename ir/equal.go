package ir

import (
	"fmt"
	"math"
)

// Equal reports whether two graphs are structurally identical and, if not,
// returns an error describing the first difference found. It is the equality
// the textual form's round trip promises, so tests use it.
//
// Two graphs are equal when they have the same name, the same inputs and
// outputs, and the same nodes in the same order with the same names, ops,
// attributes and operands. Values are compared by
// name, type (dtype, shape, layout), quantization parameters, sparsity and
// constant data. Floats (data, scales, attributes) must be bit-identical: NaN
// payloads and the sign of zero count, so that equal graphs print the same
// text. The sharing of values counts too: where a uses one value in two
// places, b must use one value in both.
func Equal(a, b *Graph) error {
	if a == nil || b == nil {
		if a == b {
			return nil
		}
		return fmt.Errorf("one graph is nil, the other is not")
	}
	e := &equaler{ab: map[*Value]*Value{}, ba: map[*Value]*Value{}}
	if a.Name != b.Name {
		return fmt.Errorf("graph name %q vs %q", a.Name, b.Name)
	}
	if len(a.Inputs) != len(b.Inputs) {
		return fmt.Errorf("graph has %d inputs vs %d", len(a.Inputs), len(b.Inputs))
	}
	for i := range a.Inputs {
		if err := e.value(a.Inputs[i], b.Inputs[i]); err != nil {
			return fmt.Errorf("graph input %d: %w", i, err)
		}
	}
	if len(a.Nodes) != len(b.Nodes) {
		return fmt.Errorf("graph has %d nodes vs %d", len(a.Nodes), len(b.Nodes))
	}
	for i := range a.Nodes {
		if err := e.node(a.Nodes[i], b.Nodes[i]); err != nil {
			return fmt.Errorf("node %d: %w", i, err)
		}
	}
	if len(a.Outputs) != len(b.Outputs) {
		return fmt.Errorf("graph has %d outputs vs %d", len(a.Outputs), len(b.Outputs))
	}
	for i := range a.Outputs {
		if err := e.value(a.Outputs[i], b.Outputs[i]); err != nil {
			return fmt.Errorf("graph output %d: %w", i, err)
		}
	}
	return nil
}

// equaler remembers which values of a correspond to which of b, so each pair
// (and a large constant's data) is compared once, and a value shared in one
// graph but duplicated in the other is caught.
type equaler struct {
	ab, ba map[*Value]*Value
}

func (e *equaler) node(a, b *Node) error {
	if a == nil || b == nil {
		if a == b {
			return nil
		}
		return fmt.Errorf("one node is nil, the other is not")
	}
	if a.Name != b.Name {
		return fmt.Errorf("name %q vs %q", a.Name, b.Name)
	}
	if a.Op != b.Op {
		return fmt.Errorf("%q: op %q vs %q", a.Name, a.Op, b.Op)
	}
	if len(a.Attrs) != len(b.Attrs) {
		return fmt.Errorf("%q (%s): %d attributes vs %d", a.Name, a.Op, len(a.Attrs), len(b.Attrs))
	}
	for _, k := range a.Attrs.Names() {
		bv, ok := b.Attrs[k]
		if !ok {
			return fmt.Errorf("%q (%s): attribute %q is missing from the second graph", a.Name, a.Op, k)
		}
		if av := a.Attrs[k]; !av.Equal(bv) || !floatBitsEqual(av, bv) {
			return fmt.Errorf("%q (%s): attribute %q is %s vs %s", a.Name, a.Op, k, attrString(av), attrString(bv))
		}
	}
	if len(a.Notes) != len(b.Notes) {
		return fmt.Errorf("%q (%s): %d notes vs %d", a.Name, a.Op, len(a.Notes), len(b.Notes))
	}
	for k, av := range a.Notes {
		if bv, ok := b.Notes[k]; !ok || av != bv {
			return fmt.Errorf("%q (%s): note %q is %q vs %q", a.Name, a.Op, k, av, bv)
		}
	}
	if len(a.Inputs) != len(b.Inputs) {
		return fmt.Errorf("%q (%s): %d inputs vs %d", a.Name, a.Op, len(a.Inputs), len(b.Inputs))
	}
	for i := range a.Inputs {
		if err := e.value(a.Inputs[i], b.Inputs[i]); err != nil {
			return fmt.Errorf("%q (%s): input %d: %w", a.Name, a.Op, i, err)
		}
	}
	if len(a.Outputs) != len(b.Outputs) {
		return fmt.Errorf("%q (%s): %d outputs vs %d", a.Name, a.Op, len(a.Outputs), len(b.Outputs))
	}
	for i := range a.Outputs {
		if err := e.value(a.Outputs[i], b.Outputs[i]); err != nil {
			return fmt.Errorf("%q (%s): output %d: %w", a.Name, a.Op, i, err)
		}
	}
	return nil
}

// floatBitsEqual compares float attributes by their bits: Attr.Equal takes
// -0 for 0 and any NaN for any other, but the textual form keeps the sign and
// the payload, and equal graphs must print the same text.
func floatBitsEqual(a, b Attr) bool {
	switch a.Kind {
	case AttrFloat:
		return math.Float32bits(a.Float) == math.Float32bits(b.Float)
	case AttrFloats:
		for i := range a.Floats {
			if math.Float32bits(a.Floats[i]) != math.Float32bits(b.Floats[i]) {
				return false
			}
		}
	}
	return true
}

func attrString(a Attr) string {
	switch a.Kind {
	case AttrInt:
		return fmt.Sprintf("int %d", a.Int)
	case AttrFloat:
		return fmt.Sprintf("float %v (bits %#08x)", a.Float, math.Float32bits(a.Float))
	case AttrString:
		return fmt.Sprintf("string %q", a.String)
	case AttrInts:
		return fmt.Sprintf("ints %v", a.Ints)
	case AttrFloats:
		s := "floats ["
		for i, f := range a.Floats {
			if i > 0 {
				s += " "
			}
			if bits := math.Float32bits(f); f != f || bits == 1<<31 {
				s += fmt.Sprintf("%v(bits %#08x)", f, bits) // NaN payloads and -0 matter
			} else {
				s += fmt.Sprint(f)
			}
		}
		return s + "]"
	case AttrStrings:
		return fmt.Sprintf("strings %q", a.Strings)
	}
	return a.Kind.String()
}

func (e *equaler) value(a, b *Value) error {
	if a == nil || b == nil {
		if a == b {
			return nil
		}
		if a == nil {
			return fmt.Errorf("absent vs %%%s", b.Name)
		}
		return fmt.Errorf("%%%s vs absent", a.Name)
	}
	if a.Name != b.Name {
		return fmt.Errorf("value name %q vs %q", a.Name, b.Name)
	}
	pb, seenA := e.ab[a]
	pa, seenB := e.ba[b]
	if seenA && seenB && pb == b && pa == a {
		return nil
	}
	if seenA || seenB {
		return fmt.Errorf("%%%s: the first graph shares a value where the second has two distinct values of that name, or the reverse", a.Name)
	}
	if !a.Type.Equal(b.Type) {
		return fmt.Errorf("%%%s: type %v vs %v", a.Name, a.Type, b.Type)
	}
	if !quantEqual(a.Quant, b.Quant) {
		return fmt.Errorf("%%%s: quantization %s vs %s", a.Name, quantString(a.Quant), quantString(b.Quant))
	}
	if !sparsityEqual(a.Sparsity, b.Sparsity) {
		return fmt.Errorf("%%%s: sparsity %s vs %s", a.Name, sparsityString(a.Sparsity), sparsityString(b.Sparsity))
	}
	if (a.Const == nil) != (b.Const == nil) {
		if a.Const == nil {
			return fmt.Errorf("%%%s: computed value vs constant", a.Name)
		}
		return fmt.Errorf("%%%s: constant vs computed value", a.Name)
	}
	if a.Const != nil {
		if err := tensorsIdentical(a.Const, b.Const); err != nil {
			return fmt.Errorf("constant %%%s: %w", a.Name, err)
		}
	}
	e.ab[a], e.ba[b] = b, a
	return nil
}

// quantEqual compares quantization parameters exactly: scales by their bits
// (QuantParams.Equal compares them as numbers, where -0 equals 0 and NaN
// equals nothing).
func quantEqual(a, b *QuantParams) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Axis != b.Axis || len(a.Scale) != len(b.Scale) || len(a.ZeroPoint) != len(b.ZeroPoint) {
		return false
	}
	for i := range a.Scale {
		if math.Float32bits(a.Scale[i]) != math.Float32bits(b.Scale[i]) {
			return false
		}
	}
	for i := range a.ZeroPoint {
		if a.ZeroPoint[i] != b.ZeroPoint[i] {
			return false
		}
	}
	return true
}

func quantString(q *QuantParams) string {
	if q == nil {
		return "none"
	}
	return fmt.Sprintf("{scale %v, zero point %v, axis %d}", q.Scale, q.ZeroPoint, q.Axis)
}

func sparsityEqual(a, b *Sparsity) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func sparsityString(s *Sparsity) string {
	if s == nil {
		return "none"
	}
	return s.String()
}

// tensorsIdentical compares dtype, shape and the bits of every element.
func tensorsIdentical(a, b *Tensor) error {
	if a.DType != b.DType {
		return fmt.Errorf("data dtype %v vs %v", a.DType, b.DType)
	}
	if len(a.Shape) != len(b.Shape) {
		return fmt.Errorf("data shape %v vs %v", a.Shape, b.Shape)
	}
	for i := range a.Shape {
		if a.Shape[i] != b.Shape[i] {
			return fmt.Errorf("data shape %v vs %v", a.Shape, b.Shape)
		}
	}
	diff := func(i int, x, y any) error {
		return fmt.Errorf("element %d is %v vs %v", i, x, y)
	}
	switch x := a.Data.(type) {
	case []float32:
		y, ok := b.Data.([]float32)
		if !ok || len(x) != len(y) {
			break
		}
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				return fmt.Errorf("element %d is %v (bits %#08x) vs %v (bits %#08x)", i, x[i], math.Float32bits(x[i]), y[i], math.Float32bits(y[i]))
			}
		}
		return nil
	case []float64:
		y, ok := b.Data.([]float64)
		if !ok || len(x) != len(y) {
			break
		}
		for i := range x {
			if math.Float64bits(x[i]) != math.Float64bits(y[i]) {
				return fmt.Errorf("element %d is %v (bits %#016x) vs %v (bits %#016x)", i, x[i], math.Float64bits(x[i]), y[i], math.Float64bits(y[i]))
			}
		}
		return nil
	case []uint16:
		return sliceDiff(x, b.Data, diff)
	case []int8:
		return sliceDiff(x, b.Data, diff)
	case []uint8:
		return sliceDiff(x, b.Data, diff)
	case []int16:
		return sliceDiff(x, b.Data, diff)
	case []int32:
		return sliceDiff(x, b.Data, diff)
	case []uint32:
		return sliceDiff(x, b.Data, diff)
	case []int64:
		return sliceDiff(x, b.Data, diff)
	case []uint64:
		return sliceDiff(x, b.Data, diff)
	case []bool:
		return sliceDiff(x, b.Data, diff)
	}
	return fmt.Errorf("data of Go types %T (%d elements) vs %T (%d elements)", a.Data, dataLen(a.Data), b.Data, dataLen(b.Data))
}

func sliceDiff[T comparable](x []T, other any, diff func(int, any, any) error) error {
	y, ok := other.([]T)
	if !ok || len(x) != len(y) {
		return fmt.Errorf("data of Go types %T (%d elements) vs %T (%d elements)", x, len(x), other, dataLen(other))
	}
	for i := range x {
		if x[i] != y[i] {
			return diff(i, x[i], y[i])
		}
	}
	return nil
}

func dataLen(data any) int {
	for _, dt := range []DType{Float32, Float64, Float16, Int8, Uint8, Int16, Int32, Uint32, Int64, Uint64, Bool} {
		if n, ok := sliceLen(dt, data); ok {
			return n
		}
	}
	return 0
}

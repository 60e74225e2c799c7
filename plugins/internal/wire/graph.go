package wire

import (
	"bytes"
	"fmt"
	"math"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/plugins/internal/wirepb"
)

// Encoder converts graphs into messages.
type Encoder struct {
	// Extent stores the data of a constant of InlineMax bytes or more out of
	// band and says where; nil puts every constant in the message.
	Extent func(t *ir.Tensor) (*wirepb.Extent, error)
}

// Graph encodes g. Values are numbered in order of first appearance: graph
// inputs, then each node's inputs and outputs, then graph outputs; a value
// that nothing defines (a broken graph) is encoded too, so that the
// receiver's verifier, not the encoder, says what is wrong.
func (e *Encoder) Graph(g *ir.Graph) (*wirepb.Graph, error) {
	m := &wirepb.Graph{Name: g.Name}
	index := map[*ir.Value]int32{}
	ref := func(v *ir.Value) (int32, error) {
		if v == nil {
			return -1, nil
		}
		if i, ok := index[v]; ok {
			return i, nil
		}
		if len(m.Values) >= math.MaxInt32 {
			return 0, fmt.Errorf("graph %s has too many values", g.Name)
		}
		pv, err := e.value(v)
		if err != nil {
			return 0, err
		}
		i := int32(len(m.Values))
		index[v] = i
		m.Values = append(m.Values, pv)
		return i, nil
	}
	for _, v := range g.Inputs {
		if v == nil {
			return nil, fmt.Errorf("graph %s has a nil input", g.Name)
		}
		i, err := ref(v)
		if err != nil {
			return nil, err
		}
		m.Inputs = append(m.Inputs, i)
	}
	for _, n := range g.Nodes {
		if n == nil {
			return nil, fmt.Errorf("graph %s has a nil node", g.Name)
		}
		pn := &wirepb.Node{Name: n.Name, Op: n.Op, Notes: n.Notes}
		for _, v := range n.Inputs {
			i, err := ref(v)
			if err != nil {
				return nil, err
			}
			pn.Inputs = append(pn.Inputs, i)
		}
		for _, v := range n.Outputs {
			i, err := ref(v)
			if err != nil {
				return nil, err
			}
			pn.Outputs = append(pn.Outputs, i)
		}
		if len(n.Attrs) > 0 {
			pn.Attrs = make(map[string]*wirepb.Attr, len(n.Attrs))
			for k, a := range n.Attrs {
				pa, err := attrToProto(a)
				if err != nil {
					return nil, fmt.Errorf("node %s: attribute %s: %v", n.Name, k, err)
				}
				pn.Attrs[k] = pa
			}
		}
		m.Nodes = append(m.Nodes, pn)
	}
	for _, v := range g.Outputs {
		if v == nil {
			return nil, fmt.Errorf("graph %s has a nil output", g.Name)
		}
		i, err := ref(v)
		if err != nil {
			return nil, err
		}
		m.Outputs = append(m.Outputs, i)
	}
	return m, nil
}

func (e *Encoder) value(v *ir.Value) (*wirepb.Value, error) {
	pv := &wirepb.Value{Name: v.Name, Type: typeToProto(v.Type)}
	if q := v.Quant; q != nil {
		pv.Quant = &wirepb.Quant{Scale: q.Scale, ZeroPoint: q.ZeroPoint, Axis: int32(q.Axis)}
	}
	if s := v.Sparsity; s != nil {
		pv.Sparsity = &wirepb.Sparsity{N: int32(s.N), M: int32(s.M), Axis: int32(s.Axis)}
	}
	if t := v.Const; t != nil {
		pt, err := e.tensor(t)
		if err != nil {
			return nil, fmt.Errorf("constant %q: %v", v.Name, err)
		}
		pv.Constant = pt
	}
	return pv, nil
}

func (e *Encoder) tensor(t *ir.Tensor) (*wirepb.Tensor, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	pt := &wirepb.Tensor{Dtype: t.DType.String()}
	for _, d := range t.Shape {
		pt.Shape = append(pt.Shape, int64(d))
	}
	b := bytesOf(t.Data)
	if len(b) >= InlineMax && e.Extent != nil {
		x, err := e.Extent(t)
		if err != nil {
			return nil, err
		}
		pt.Data = &wirepb.Tensor_Extent{Extent: x}
		return pt, nil
	}
	if !littleEndian {
		return nil, errBigEndian
	}
	// A copy: the data may lie in a mapping that is gone by the time gRPC
	// marshals the message.
	pt.Data = &wirepb.Tensor_Inline{Inline: bytes.Clone(b)}
	return pt, nil
}

func typeToProto(t ir.Type) *wirepb.Type {
	pt := &wirepb.Type{Layout: string(t.Layout)}
	if t.DType != ir.InvalidDType {
		pt.Dtype = t.DType.String()
	}
	for _, d := range t.Shape {
		pt.Shape = append(pt.Shape, &wirepb.Dim{Size: d.Size, Symbol: d.Sym})
	}
	return pt
}

func attrToProto(a ir.Attr) (*wirepb.Attr, error) {
	pa := &wirepb.Attr{}
	switch a.Kind {
	case ir.AttrInt:
		pa.Kind, pa.Int = wirepb.Attr_KIND_INT, a.Int
	case ir.AttrFloat:
		pa.Kind, pa.Float = wirepb.Attr_KIND_FLOAT, a.Float
	case ir.AttrString:
		pa.Kind, pa.String_ = wirepb.Attr_KIND_STRING, a.String
	case ir.AttrInts:
		pa.Kind, pa.Ints = wirepb.Attr_KIND_INTS, a.Ints
	case ir.AttrFloats:
		pa.Kind, pa.Floats = wirepb.Attr_KIND_FLOATS, a.Floats
	case ir.AttrStrings:
		pa.Kind, pa.Strings = wirepb.Attr_KIND_STRINGS, a.Strings
	default:
		return nil, fmt.Errorf("unknown kind %v", a.Kind)
	}
	return pa, nil
}

// Decoder converts messages into graphs. A message comes from the other
// side of a process boundary: the decoder checks what it needs to build a
// graph (indices in range, tensor sizes, dtypes), and ir.Verify the rest.
type Decoder struct {
	// Extent returns the data of n elements of dt that an extent places.
	Extent func(dt ir.DType, n int, x *wirepb.Extent) (any, error)
}

// Graph decodes m.
func (d *Decoder) Graph(m *wirepb.Graph) (*ir.Graph, error) {
	if m == nil {
		return nil, fmt.Errorf("no graph")
	}
	vals := make([]*ir.Value, len(m.Values))
	for i, pv := range m.Values {
		v, err := d.value(pv)
		if err != nil {
			return nil, fmt.Errorf("value %d (%q): %v", i, pv.GetName(), err)
		}
		vals[i] = v
	}
	get := func(i int32, what string, absentOK bool) (*ir.Value, error) {
		if i == -1 && absentOK {
			return nil, nil
		}
		if i < 0 || int(i) >= len(vals) {
			return nil, fmt.Errorf("%s refers to value %d, want 0 to %d", what, i, len(vals)-1)
		}
		return vals[i], nil
	}
	g := &ir.Graph{Name: m.Name}
	for k, i := range m.Inputs {
		v, err := get(i, fmt.Sprintf("graph input %d", k), false)
		if err != nil {
			return nil, err
		}
		g.Inputs = append(g.Inputs, v)
	}
	for k, i := range m.Outputs {
		v, err := get(i, fmt.Sprintf("graph output %d", k), false)
		if err != nil {
			return nil, err
		}
		g.Outputs = append(g.Outputs, v)
	}
	for k, pn := range m.Nodes {
		if pn == nil {
			return nil, fmt.Errorf("node %d is empty", k)
		}
		n := &ir.Node{Name: pn.Name, Op: pn.Op}
		for j, i := range pn.Inputs {
			v, err := get(i, fmt.Sprintf("node %s: input %d", pn.Name, j), true)
			if err != nil {
				return nil, err
			}
			n.Inputs = append(n.Inputs, v)
		}
		for j, i := range pn.Outputs {
			v, err := get(i, fmt.Sprintf("node %s: output %d", pn.Name, j), true)
			if err != nil {
				return nil, err
			}
			n.Outputs = append(n.Outputs, v)
		}
		if len(pn.Attrs) > 0 {
			n.Attrs = make(ir.Attrs, len(pn.Attrs))
			for name, pa := range pn.Attrs {
				a, err := attrFromProto(pa)
				if err != nil {
					return nil, fmt.Errorf("node %s: attribute %s: %v", pn.Name, name, err)
				}
				n.Attrs[name] = a
			}
		}
		if len(pn.Notes) > 0 {
			n.Notes = make(map[string]string, len(pn.Notes))
			for k, v := range pn.Notes {
				n.Notes[k] = v
			}
		}
		g.Nodes = append(g.Nodes, n)
	}
	return g, nil
}

func (d *Decoder) value(pv *wirepb.Value) (*ir.Value, error) {
	if pv == nil {
		return nil, fmt.Errorf("empty")
	}
	t, err := typeFromProto(pv.Type)
	if err != nil {
		return nil, err
	}
	v := &ir.Value{Name: pv.Name, Type: t}
	if q := pv.Quant; q != nil {
		v.Quant = &ir.QuantParams{Scale: append([]float32(nil), q.Scale...), ZeroPoint: append([]int32(nil), q.ZeroPoint...), Axis: int(q.Axis)}
	}
	if s := pv.Sparsity; s != nil {
		v.Sparsity = &ir.Sparsity{N: int(s.N), M: int(s.M), Axis: int(s.Axis)}
	}
	if pt := pv.Constant; pt != nil {
		if v.Const, err = d.tensor(pt); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (d *Decoder) tensor(pt *wirepb.Tensor) (*ir.Tensor, error) {
	dt, err := ir.ParseDType(pt.Dtype)
	if err != nil {
		return nil, err
	}
	n, size, err := tensorSize(dt, pt.Shape)
	if err != nil {
		return nil, err
	}
	t := &ir.Tensor{DType: dt, Shape: make([]int, len(pt.Shape))}
	for i, s := range pt.Shape {
		t.Shape[i] = int(s)
	}
	switch data := pt.Data.(type) {
	case *wirepb.Tensor_Inline:
		if int64(len(data.Inline)) != size {
			return nil, fmt.Errorf("%d bytes of data for %d %v elements, want %d", len(data.Inline), n, dt, size)
		}
		if !littleEndian {
			return nil, errBigEndian
		}
		if dt == ir.Bool {
			if err := checkBools(data.Inline); err != nil {
				return nil, err
			}
		}
		t.Data = ir.MakeData(dt, n)
		copy(bytesOf(t.Data), data.Inline)
	case *wirepb.Tensor_Extent:
		if data.Extent == nil || d.Extent == nil {
			return nil, fmt.Errorf("an extent, but no weights file")
		}
		if t.Data, err = d.Extent(dt, n, data.Extent); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("a constant without data")
	}
	return t, nil
}

func typeFromProto(pt *wirepb.Type) (ir.Type, error) {
	var t ir.Type
	if pt == nil {
		return t, fmt.Errorf("no type")
	}
	if pt.Dtype != "" {
		dt, err := ir.ParseDType(pt.Dtype)
		if err != nil {
			return t, err
		}
		t.DType = dt
	}
	t.Layout = ir.Layout(pt.Layout)
	if len(pt.Shape) > 0 {
		t.Shape = make(ir.Shape, len(pt.Shape))
	} else {
		t.Shape = ir.Shape{}
	}
	for i, pd := range pt.Shape {
		if pd == nil || pd.Size < -1 || (pd.Size >= 0 && pd.Symbol != "") {
			return t, fmt.Errorf("dim %d: want a size, or -1 with an optional symbol", i)
		}
		t.Shape[i] = ir.Dim{Size: pd.Size, Sym: pd.Symbol}
	}
	return t, nil
}

func attrFromProto(pa *wirepb.Attr) (ir.Attr, error) {
	if pa == nil {
		return ir.Attr{}, fmt.Errorf("empty")
	}
	switch pa.Kind {
	case wirepb.Attr_KIND_INT:
		return ir.IntAttr(pa.Int), nil
	case wirepb.Attr_KIND_FLOAT:
		return ir.FloatAttr(pa.Float), nil
	case wirepb.Attr_KIND_STRING:
		return ir.StringAttr(pa.String_), nil
	case wirepb.Attr_KIND_INTS:
		return ir.Attr{Kind: ir.AttrInts, Ints: append([]int64{}, pa.Ints...)}, nil
	case wirepb.Attr_KIND_FLOATS:
		return ir.Attr{Kind: ir.AttrFloats, Floats: append([]float32{}, pa.Floats...)}, nil
	case wirepb.Attr_KIND_STRINGS:
		return ir.Attr{Kind: ir.AttrStrings, Strings: append([]string{}, pa.Strings...)}, nil
	}
	return ir.Attr{}, fmt.Errorf("unknown kind %v", pa.Kind)
}

package onnx

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/sqc-project/sqc/frontend/onnx/internal/onnxpb"
	"github.com/sqc-project/sqc/ir"
)

// The default-domain opsets the frontend reads: every opset ONNX has
// released up to 21, the newest this frontend has been checked against.
// Lower rewrites each supported op's older versions (opset 1's
// consumed_inputs, the legacy broadcasting of opsets 1 to 6, attributes that
// later became inputs, ...) into the newest form, which is the IR's.
const (
	MinOpset = 1
	MaxOpset = 21
)

// Model is a decoded ONNX model.
type Model struct {
	// Path is the file the model was loaded from ("" when decoded from bytes).
	// Errors from Load and Lower start with it.
	Path string
	// IRVersion is the model's ir_version.
	IRVersion int64
	// Opset is the imported version of the default domain (ai.onnx), 0 when
	// the model does not import it (then Lower accepts no default-domain
	// node). Files of IR version 1 and 2, which predate opset_import, are
	// opset 1.
	Opset int64
	// Producer is the producer name and version, "pytorch 2.0.0".
	Producer string
	// Imports maps every imported domain to its version; the default domain
	// is listed under "".
	Imports map[string]int64
	// GraphName is the name of the main graph.
	GraphName string

	graph *onnxpb.GraphProto
	// inits holds the decoded initializers by name, and initOrder their order.
	inits     map[string]*ir.Tensor
	initOrder []string
	// tc resolves external data of tensors met later (Constant nodes).
	tc tensorContext
}

// Load reads and decodes an ONNX model file, resolving external data next to
// it. Errors start with the path.
func Load(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	m, err := Decode(data, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.Path = path
	return m, nil
}

// Decode decodes a serialized ModelProto. dir is the directory external data
// files live in; "" means the model may not use external data. Decode checks
// the opset imports and decodes every initializer, so a model that decodes
// has usable weights.
func Decode(data []byte, dir string) (*Model, error) {
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, mp); err != nil {
		if why := whyNotModel(data); why != "" {
			return nil, fmt.Errorf("not a serialized ONNX ModelProto: %s", why)
		}
		return nil, fmt.Errorf("not a serialized ONNX ModelProto: %v", err)
	}
	g := mp.GetGraph()
	if g == nil {
		return nil, fmt.Errorf("model has no graph (want a ModelProto with a graph field)")
	}
	m := &Model{
		IRVersion: mp.GetIrVersion(),
		Producer:  strings.TrimSpace(mp.GetProducerName() + " " + mp.GetProducerVersion()),
		Imports:   map[string]int64{},
		GraphName: g.GetName(),
		graph:     g,
		inits:     map[string]*ir.Tensor{},
		tc:        tensorContext{dir: dir, read: map[string]bool{}},
	}
	for _, op := range mp.GetOpsetImport() {
		domain := op.GetDomain()
		if domain == "ai.onnx" {
			domain = ""
		}
		if v, dup := m.Imports[domain]; dup && v != op.GetVersion() {
			return nil, fmt.Errorf("opset %s is imported twice, as versions %d and %d (want one version per domain)", domainName(domain), v, op.GetVersion())
		}
		m.Imports[domain] = op.GetVersion()
	}
	if len(mp.GetOpsetImport()) == 0 && m.IRVersion < 3 {
		// opset_import came with IR version 3; older files are opset 1.
		m.Imports[""] = 1
	}
	// A model that does not import the default domain is not rejected
	// here: its nodes are all of other domains, and Lower names the first
	// one it cannot lower (an unsupported op is a better error than a
	// missing import).
	if v, ok := m.Imports[""]; ok {
		if v < MinOpset || v > MaxOpset {
			return nil, fmt.Errorf("model imports default-domain opset %d, want %d to %d", v, MinOpset, MaxOpset)
		}
		m.Opset = v
	}
	if len(g.GetSparseInitializer()) > 0 {
		return nil, fmt.Errorf("sparse initializer %q: sparse initializers are not supported (want dense initializers)", g.GetSparseInitializer()[0].GetValues().GetName())
	}
	for i, tp := range g.GetInitializer() {
		name := tp.GetName()
		if name == "" {
			return nil, fmt.Errorf("initializer %d has no name", i)
		}
		what := fmt.Sprintf("initializer %q", name)
		if _, dup := m.inits[name]; dup {
			return nil, fmt.Errorf("%s is defined twice", what)
		}
		t, err := m.tc.decodeTensorProto(tp, what)
		if err != nil {
			return nil, err
		}
		m.inits[name] = t
		m.initOrder = append(m.initOrder, name)
	}
	// The decoded tensors replace the protobuf copies; dropping them halves
	// the memory a large model holds while it is lowered.
	g.Initializer = nil
	return m, nil
}

// domainName writes a domain the way errors name it.
func domainName(d string) string {
	if d == "" {
		return "ai.onnx"
	}
	return d
}

// NodeInfo describes one ONNX node as written in the file, for display.
type NodeInfo struct {
	// Name is the node's name, or the name the frontend gives an unnamed or
	// duplicate one (the IR node gets the same name).
	Name   string
	OpType string
	// Domain is "" for the default domain.
	Domain  string
	Inputs  []string
	Outputs []string
	Attrs   []AttrInfo
}

// AttrInfo is one attribute of a node in printable form.
type AttrInfo struct {
	Name string
	// Value is a short printable form: 3, 0.5, "NOTSET", [1,1], i64[6]{...}.
	Value string
}

// Nodes lists the ONNX graph's nodes in graph order (the order of the file,
// before any topological sorting).
func (m *Model) Nodes() []NodeInfo {
	nodes := m.graph.GetNode()
	names := nodeNames(nodes)
	out := make([]NodeInfo, len(nodes))
	for i, n := range nodes {
		info := NodeInfo{
			Name:    names[i],
			OpType:  n.GetOpType(),
			Domain:  n.GetDomain(),
			Inputs:  append([]string(nil), n.GetInput()...),
			Outputs: append([]string(nil), n.GetOutput()...),
		}
		if info.Domain == "ai.onnx" {
			info.Domain = ""
		}
		for _, a := range n.GetAttribute() {
			info.Attrs = append(info.Attrs, AttrInfo{Name: a.GetName(), Value: attrString(a)})
		}
		out[i] = info
	}
	return out
}

// nodeNames gives every node a unique name: its own when it has one that no
// earlier node took, otherwise "<OpType>_<index>", with a numeric suffix
// added until the name is free.
func nodeNames(nodes []*onnxpb.NodeProto) []string {
	taken := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		if n.GetName() != "" {
			taken[n.GetName()] = true
		}
	}
	names := make([]string, len(nodes))
	used := make(map[string]bool, len(nodes))
	for i, n := range nodes {
		name := n.GetName()
		if name == "" || used[name] {
			base := name
			if base == "" {
				base = fmt.Sprintf("%s_%d", n.GetOpType(), i)
			}
			name = base
			for k := 2; used[name] || (name != n.GetName() && taken[name]); k++ {
				name = base + "_" + strconv.Itoa(k)
			}
		}
		used[name] = true
		names[i] = name
	}
	return names
}

const maxShown = 16 // list elements shown before "..."

// attrString renders an attribute value briefly.
func attrString(a *onnxpb.AttributeProto) string {
	switch attrType(a) {
	case onnxpb.AttributeProto_INT:
		return strconv.FormatInt(a.GetI(), 10)
	case onnxpb.AttributeProto_FLOAT:
		return formatFloat(a.GetF())
	case onnxpb.AttributeProto_STRING:
		return strconv.Quote(string(a.GetS()))
	case onnxpb.AttributeProto_INTS:
		return listString(len(a.GetInts()), func(i int) string { return strconv.FormatInt(a.GetInts()[i], 10) })
	case onnxpb.AttributeProto_FLOATS:
		return listString(len(a.GetFloats()), func(i int) string { return formatFloat(a.GetFloats()[i]) })
	case onnxpb.AttributeProto_STRINGS:
		return listString(len(a.GetStrings()), func(i int) string { return strconv.Quote(string(a.GetStrings()[i])) })
	case onnxpb.AttributeProto_TENSOR:
		return tensorString(a.GetT())
	case onnxpb.AttributeProto_GRAPH:
		return fmt.Sprintf("graph %q (%d nodes)", a.GetG().GetName(), len(a.GetG().GetNode()))
	case onnxpb.AttributeProto_SPARSE_TENSOR:
		return "sparse tensor"
	}
	return strings.ToLower(attrType(a).String())
}

func formatFloat(f float32) string {
	if math.IsInf(float64(f), 0) || math.IsNaN(float64(f)) {
		return fmt.Sprint(f)
	}
	return strconv.FormatFloat(float64(f), 'g', -1, 32)
}

func listString(n int, elem func(int) string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		if i == maxShown {
			fmt.Fprintf(&b, "... %d more", n-i)
			break
		}
		b.WriteString(elem(i))
	}
	b.WriteByte(']')
	return b.String()
}

// tensorString writes a tensor attribute as its type, with its values when
// it is small and stored inline: i64[6]{-1,1,3,3,224,224}.
func tensorString(tp *onnxpb.TensorProto) string {
	typ := strings.ToLower(onnxpb.TensorProto_DataType(tp.GetDataType()).String())
	dims := make([]string, len(tp.GetDims()))
	for i, d := range tp.GetDims() {
		dims[i] = strconv.FormatInt(d, 10)
	}
	s := typ + "[" + strings.Join(dims, ",") + "]"
	if n, err := checkDims(tp.GetDims()); err == nil && n <= 8 && tp.GetDataLocation() == onnxpb.TensorProto_DEFAULT {
		if t, err := (tensorContext{}).decodeTensorProto(tp, "attribute"); err == nil {
			s = t.Type().String()
			vals := make([]string, t.Len())
			for i := range vals {
				if t.DType.IsFloat() {
					vals[i] = strconv.FormatFloat(t.AsFloat64(i), 'g', -1, 64)
				} else {
					vals[i] = strconv.FormatInt(t.AsInt64(i), 10)
				}
			}
			s += "{" + strings.Join(vals, ",") + "}"
		}
	}
	return s
}

// attrType returns an attribute's type, deducing it from the field that is
// set when the writer left it UNDEFINED (IR version 1 files did).
func attrType(a *onnxpb.AttributeProto) onnxpb.AttributeProto_AttributeType {
	if t := a.GetType(); t != onnxpb.AttributeProto_UNDEFINED {
		return t
	}
	switch {
	case len(a.GetInts()) > 0:
		return onnxpb.AttributeProto_INTS
	case len(a.GetFloats()) > 0:
		return onnxpb.AttributeProto_FLOATS
	case len(a.GetStrings()) > 0:
		return onnxpb.AttributeProto_STRINGS
	case a.GetT() != nil:
		return onnxpb.AttributeProto_TENSOR
	case a.GetG() != nil:
		return onnxpb.AttributeProto_GRAPH
	case len(a.GetS()) > 0:
		return onnxpb.AttributeProto_STRING
	case a.GetI() != 0:
		return onnxpb.AttributeProto_INT
	case a.GetF() != 0:
		return onnxpb.AttributeProto_FLOAT
	}
	return onnxpb.AttributeProto_UNDEFINED
}

package onnxexport

import (
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/sqc-project/sqc/frontend/onnx/internal/codec"
	"github.com/sqc-project/sqc/frontend/onnx/internal/onnxpb"
	"github.com/sqc-project/sqc/internal/atomicfile"
	"github.com/sqc-project/sqc/ir"
)

// Options control how a graph is written.
type Options struct {
	// Opset is the default-domain (ai.onnx) opset the model imports; 0 means
	// DefaultOpset. Opsets below MinOpset or above MaxOpset are refused.
	Opset int64
	// Producer is the model's producer_name; "" writes "sqc".
	Producer string
	// ExternalDataThreshold moves every initializer of at least this many
	// bytes into an external data file (WriteFile writes it beside the model
	// as <model file name>.data); 0 keeps every tensor inside the model.
	// ONNX models are protobuf messages, which readers cap at 2 GiB, so
	// large models need it.
	ExternalDataThreshold int
}

// maxModelBytes is protobuf's limit on one message: the C++ parser every
// ONNX runtime uses refuses anything larger.
const maxModelBytes = math.MaxInt32

// Encode returns g as a serialized ONNX ModelProto with every tensor inline.
// The graph is verified first (ir.Verify) and is not modified. With
// opt.ExternalDataThreshold set Encode fails, since the data would need a
// file of its own: use WriteFile or EncodeExternal.
func Encode(g *ir.Graph, opt Options) ([]byte, error) {
	if opt.ExternalDataThreshold > 0 {
		return nil, errors.New("onnx export: ExternalDataThreshold is set, but Encode writes one message with every tensor inline (use WriteFile or EncodeExternal, which write the external data too)")
	}
	e, err := encode(g, opt, "")
	if err != nil {
		return nil, err
	}
	return e.marshal()
}

// EncodeExternal is Encode with external data: initializers of at least
// opt.ExternalDataThreshold bytes are stored in data, which the model refers
// to under the file name location (relative to the model file, as ONNX
// requires). data is nil when no tensor is that large.
func EncodeExternal(g *ir.Graph, opt Options, location string) (model, data []byte, err error) {
	// ONNX resolves the location against the model's directory, and
	// runtimes refuse one that leaves it.
	if !filepath.IsLocal(location) {
		return nil, nil, fmt.Errorf("onnx export: external data location %q: want a file name relative to the model's directory, inside it", location)
	}
	e, err := encode(g, opt, location)
	if err != nil {
		return nil, nil, err
	}
	model, err = e.marshal()
	if err != nil {
		return nil, nil, err
	}
	if len(e.external) > 0 {
		data = make([]byte, 0, e.dataSize)
		w := &byteWriter{b: data}
		if err := e.writeData(w); err != nil {
			return nil, nil, err
		}
		data = w.b
	}
	return model, data, nil
}

// WriteFile writes g as an ONNX model at path. With opt.ExternalDataThreshold
// set, the large initializers go to "<base name of path>.data" in the same
// directory. Each file is written to a temporary name and renamed into place,
// so a failed or interrupted export never leaves a partial file (the data
// file is written first: the model never names data that is not there).
func WriteFile(path string, g *ir.Graph, opt Options) error {
	location := ""
	if opt.ExternalDataThreshold > 0 {
		location = filepath.Base(path) + ".data"
	}
	e, err := encode(g, opt, location)
	if err != nil {
		return err
	}
	model, err := e.marshal()
	if err != nil {
		return err
	}
	if len(e.external) > 0 {
		dataPath := filepath.Join(filepath.Dir(path), location)
		if err := atomicfile.Write(dataPath, e.writeData); err != nil {
			return fmt.Errorf("onnx export: %w", err)
		}
	}
	if err := atomicfile.WriteFile(path, model); err != nil {
		return fmt.Errorf("onnx export: %w", err)
	}
	return nil
}

// encoded is a model built but not yet serialized, with the tensors that go
// to the external data file in file order.
type encoded struct {
	model    *onnxpb.ModelProto
	external []extTensor
	dataSize int64
}

// extTensor is one tensor of the external data file.
type extTensor struct {
	t      *ir.Tensor
	offset int64
}

func (e *encoded) marshal() ([]byte, error) {
	if n := proto.Size(e.model); n > maxModelBytes {
		return nil, fmt.Errorf("onnx export: the model is %d bytes, above protobuf's 2 GiB limit (set ExternalDataThreshold to store large weights outside it)", n)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(e.model)
	if err != nil {
		return nil, fmt.Errorf("onnx export: %v", err)
	}
	return b, nil
}

// writeData writes the external data file: each tensor's raw bytes at its
// offset, zero padding between.
func (e *encoded) writeData(w io.Writer) error {
	pos := int64(0)
	var zeros [extAlignLarge]byte
	for _, x := range e.external {
		if pad := x.offset - pos; pad > 0 {
			if _, err := w.Write(zeros[:pad]); err != nil {
				return err
			}
		}
		raw := codec.RawBytes(x.t)
		if _, err := w.Write(raw); err != nil {
			return err
		}
		pos = x.offset + int64(len(raw))
	}
	return nil
}

type byteWriter struct{ b []byte }

func (w *byteWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// External data alignment. Small tensors start at multiples of 64 bytes
// (any SIMD load is aligned when a reader maps the file); tensors of 1 MiB
// or more at multiples of 64 KiB, the largest memory-mapping granularity
// (Windows'), so a runtime can map them in place. ONNX's own writer does
// the same.
const (
	extAlignSmall = 64
	extAlignLarge = 64 << 10
	extLargeBytes = 1 << 20
)

// encode builds the ModelProto of g. location names the external data file
// ("" keeps every tensor inline).
func encode(g *ir.Graph, opt Options, location string) (*encoded, error) {
	if g == nil {
		return nil, errors.New("onnx export: the graph is nil, want a graph to write")
	}
	opset, err := checkOpset(opt.Opset)
	if err != nil {
		return nil, fmt.Errorf("onnx export: %v", err)
	}
	if opt.ExternalDataThreshold < 0 {
		return nil, fmt.Errorf("onnx export: ExternalDataThreshold is %d, want 0 (all inline) or a size in bytes", opt.ExternalDataThreshold)
	}
	// Ops are checked before the verifier runs so that a graph holding an
	// op nobody can write gets that error, not a less direct one.
	for _, n := range g.Nodes {
		if n == nil {
			return nil, errors.New("onnx export: the graph holds a nil node")
		}
		if decomposer(n.Op) == nil && !IsONNXOp(n.Op) {
			if ir.Lookup(n.Op) == nil {
				return nil, fmt.Errorf("onnx export: node %q: unknown op %q (neither an ONNX operator nor one registered with the IR)", n.Name, n.Op)
			}
			return nil, fmt.Errorf("onnx export: node %q: op %q is sqc's own, not ONNX, and no decomposer is registered for it (onnxexport.RegisterDecomposer)", n.Name, n.Op)
		}
	}
	if err := ir.Verify(g); err != nil {
		return nil, fmt.Errorf("onnx export: graph %q is not valid: %w", g.Name, err)
	}
	w := newWriter(g, opset)
	if err := w.run(); err != nil {
		return nil, fmt.Errorf("onnx export: %w", err)
	}
	producer := opt.Producer
	if producer == "" {
		producer = "sqc"
	}
	e := &encoded{model: &onnxpb.ModelProto{
		IrVersion:    irVersionFor(opset),
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: "", Version: opset}},
		ProducerName: producer,
		Graph:        w.gp,
	}}
	if err := e.addInitializers(w, opt.ExternalDataThreshold, location); err != nil {
		return nil, fmt.Errorf("onnx export: %w", err)
	}
	return e, nil
}

// addInitializers writes the constants the nodes read, in order of first
// use, inline or (at or above threshold bytes, with a location) as
// references into the external data file.
func (e *encoded) addInitializers(w *writer, threshold int, location string) error {
	for _, v := range w.inits {
		t := v.Const
		if err := t.Check(); err != nil {
			return fmt.Errorf("constant %q: %v", w.names[v], err)
		}
		code, ok := codec.DTypeToONNX(t.DType)
		if !ok {
			return fmt.Errorf("constant %q: dtype %v has no ONNX element type", w.names[v], t.DType)
		}
		tp := &onnxpb.TensorProto{Name: w.names[v], DataType: code, Dims: make([]int64, len(t.Shape))}
		for i, d := range t.Shape {
			tp.Dims[i] = int64(d)
		}
		size := int64(t.Len()) * int64(t.DType.Size())
		if location != "" && threshold > 0 && size >= int64(threshold) {
			align := int64(extAlignSmall)
			if size >= extLargeBytes {
				align = extAlignLarge
			}
			off := (e.dataSize + align - 1) / align * align
			e.external = append(e.external, extTensor{t: t, offset: off})
			e.dataSize = off + size
			tp.DataLocation = onnxpb.TensorProto_EXTERNAL
			tp.ExternalData = []*onnxpb.StringStringEntryProto{
				{Key: "location", Value: location},
				{Key: "offset", Value: strconv.FormatInt(off, 10)},
				{Key: "length", Value: strconv.FormatInt(size, 10)},
			}
		} else {
			tp.RawData = codec.RawBytes(t)
		}
		w.gp.Initializer = append(w.gp.Initializer, tp)
	}
	return nil
}

// valueInfo describes a value's type; a value whose dtype is not known yet
// gets its name only, and one of unknown rank (nil shape) no shape.
func valueInfo(name string, t ir.Type) (*onnxpb.ValueInfoProto, error) {
	vi := &onnxpb.ValueInfoProto{Name: name}
	if t.DType == ir.InvalidDType {
		return vi, nil
	}
	code, ok := codec.DTypeToONNX(t.DType)
	if !ok {
		return nil, fmt.Errorf("value %q: dtype %v has no ONNX element type", name, t.DType)
	}
	tt := &onnxpb.TypeProto_Tensor{ElemType: code}
	if t.Shape != nil {
		tt.Shape = &onnxpb.TensorShapeProto{Dim: make([]*onnxpb.TensorShapeProto_Dimension, len(t.Shape))}
		for i, d := range t.Shape {
			dim := &onnxpb.TensorShapeProto_Dimension{}
			switch {
			case d.Known():
				dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d.Size}
			case d.Sym != "":
				dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d.Sym}
			}
			tt.Shape.Dim[i] = dim
		}
	}
	vi.Type = &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: tt}}
	return vi, nil
}

// attrProto converts an IR attribute to its ONNX form.
func attrProto(name string, a ir.Attr) (*onnxpb.AttributeProto, error) {
	p := &onnxpb.AttributeProto{Name: name}
	switch a.Kind {
	case ir.AttrInt:
		p.Type, p.I = onnxpb.AttributeProto_INT, a.Int
	case ir.AttrFloat:
		p.Type, p.F = onnxpb.AttributeProto_FLOAT, a.Float
	case ir.AttrString:
		p.Type, p.S = onnxpb.AttributeProto_STRING, []byte(a.String)
	case ir.AttrInts:
		p.Type, p.Ints = onnxpb.AttributeProto_INTS, append([]int64{}, a.Ints...)
	case ir.AttrFloats:
		p.Type, p.Floats = onnxpb.AttributeProto_FLOATS, append([]float32{}, a.Floats...)
	case ir.AttrStrings:
		p.Type = onnxpb.AttributeProto_STRINGS
		p.Strings = make([][]byte, len(a.Strings))
		for i, s := range a.Strings {
			p.Strings[i] = []byte(s)
		}
	default:
		return nil, fmt.Errorf("attribute %q has kind %v, which ONNX has no type for", name, a.Kind)
	}
	return p, nil
}

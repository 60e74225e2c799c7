// Package onnxbuild writes small ONNX models, for tests and examples that need
// an ONNX file without Python: a graph's inputs, initializers, nodes and
// outputs are added one call at a time and the model is serialized with the
// same generated protobuf types the frontend reads.
//
//	b := onnxbuild.New("tiny", 13)
//	x := b.Input("x", ir.Float32, 1, 3, 8, 8)
//	w := b.Initializer("w", ir.NewTensor(ir.Float32, 8, 3, 3, 3))
//	y := b.Node("Conv", []string{x, w}, map[string]any{"pads": []int64{1, 1, 1, 1}})
//	b.Output(y, ir.Float32, 1, 8, 8, 8)
//	err := b.WriteFile("tiny.onnx")
//
// Initializers are stored in raw_data by default; SetStorage selects the typed
// fields (float_data, int32_data ...) or an external data file instead, so
// tests can cover every form ONNX allows. Errors (an attribute of a type with
// no ONNX equivalent, a tensor that fails its check) are kept and returned by
// Bytes and WriteFile, so building reads as a plain sequence of calls.
package onnxbuild

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/sqc-project/sqc/frontend/onnx/internal/codec"
	"github.com/sqc-project/sqc/frontend/onnx/internal/onnxpb"
	"github.com/sqc-project/sqc/ir"
)

// Storage says where an initializer's data is written.
type Storage int

const (
	// Raw stores the data little-endian in raw_data (what PyTorch writes).
	Raw Storage = iota
	// Typed stores it in the typed field for its dtype: float_data,
	// double_data, int64_data, uint64_data (uint32, uint64) or int32_data
	// (every other type, 16-bit floats as bit patterns).
	Typed
	// External stores it in the builder's external data file, at an
	// 8-byte-aligned offset, with data_location EXTERNAL.
	External
)

// Builder accumulates a model. The zero value is not usable; call New.
type Builder struct {
	model   *onnxpb.ModelProto
	graph   *onnxpb.GraphProto
	storage Storage
	extName string
	extData []byte
	err     error
	nodes   int
	consts  int
}

// New starts a model whose graph is called name, importing the default ONNX
// domain at the given opset. The IR version is the one ONNX pairs with that
// opset.
func New(name string, opset int64) *Builder {
	g := &onnxpb.GraphProto{Name: name}
	return &Builder{
		model: &onnxpb.ModelProto{
			IrVersion:       irVersionFor(opset),
			ProducerName:    "sqc-onnxbuild",
			ProducerVersion: "1",
			OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: "", Version: opset}},
			Graph:           g,
		},
		graph:   g,
		extName: "weights.bin",
	}
}

// irVersionFor returns the IR version ONNX released alongside an opset.
func irVersionFor(opset int64) int64 {
	switch {
	case opset <= 8:
		return 3
	case opset == 9:
		return 4
	case opset == 10:
		return 5
	case opset == 11:
		return 6
	case opset <= 14:
		return 7
	case opset <= 18:
		return 8
	case opset <= 20:
		return 9
	}
	return 10
}

func (b *Builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// Err returns the first error met while building, if any.
func (b *Builder) Err() error { return b.err }

// SetIRVersion overrides the model's ir_version.
func (b *Builder) SetIRVersion(v int64) *Builder {
	b.model.IrVersion = v
	return b
}

// Import adds an opset import for another domain (or replaces the version of
// one already imported).
func (b *Builder) Import(domain string, version int64) *Builder {
	for _, op := range b.model.OpsetImport {
		if op.Domain == domain {
			op.Version = version
			return b
		}
	}
	b.model.OpsetImport = append(b.model.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: domain, Version: version})
	return b
}

// SetStorage selects how initializers added from now on are stored.
func (b *Builder) SetStorage(s Storage) *Builder {
	b.storage = s
	return b
}

// SetExternalFile names the external data file (relative to the model file;
// default "weights.bin").
func (b *Builder) SetExternalFile(name string) *Builder {
	b.extName = name
	return b
}

// Input adds a graph input with known dims and returns its name.
func (b *Builder) Input(name string, dt ir.DType, dims ...int) string {
	b.graph.Input = append(b.graph.Input, b.valueInfo(name, dt, intDims(dims)))
	return name
}

// InputSym adds a graph input whose dims are given as strings: a number is a
// known size, "?" or "" an unknown dim, anything else a symbolic dim
// (dim_param), as in []string{"N", "3", "224", "224"}.
func (b *Builder) InputSym(name string, dt ir.DType, dims []string) string {
	b.graph.Input = append(b.graph.Input, b.valueInfo(name, dt, dims))
	return name
}

// Output declares a graph output with known dims.
func (b *Builder) Output(name string, dt ir.DType, dims ...int) {
	b.graph.Output = append(b.graph.Output, b.valueInfo(name, dt, intDims(dims)))
}

// OutputUntyped declares a graph output by name only, leaving its type to
// shape inference (tests and fuzzing seeds whose output types vary).
func (b *Builder) OutputUntyped(name string) {
	b.graph.Output = append(b.graph.Output, &onnxpb.ValueInfoProto{Name: name})
}

// OutputSym declares a graph output with dims written as InputSym's.
func (b *Builder) OutputSym(name string, dt ir.DType, dims []string) {
	b.graph.Output = append(b.graph.Output, b.valueInfo(name, dt, dims))
}

func intDims(dims []int) []string {
	s := make([]string, len(dims))
	for i, d := range dims {
		s[i] = strconv.Itoa(d)
	}
	return s
}

func (b *Builder) valueInfo(name string, dt ir.DType, dims []string) *onnxpb.ValueInfoProto {
	code, ok := codec.DTypeToONNX(dt)
	if !ok {
		b.fail(fmt.Errorf("value %q: dtype %v has no ONNX equivalent", name, dt))
	}
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		dim := &onnxpb.TensorShapeProto_Dimension{}
		if n, err := strconv.ParseInt(d, 10, 64); err == nil {
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: n}
		} else if d != "?" && d != "" {
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d}
		}
		shape.Dim = append(shape.Dim, dim)
	}
	return &onnxpb.ValueInfoProto{
		Name: name,
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: code, Shape: shape},
		}},
	}
}

// Initializer adds a named initializer, stored as SetStorage last said, and
// returns its name.
func (b *Builder) Initializer(name string, t *ir.Tensor) string {
	tp, err := b.tensorProto(name, t, b.storage)
	if err != nil {
		b.fail(err)
		return name
	}
	b.graph.Initializer = append(b.graph.Initializer, tp)
	return name
}

// InitializerAsInput adds an initializer and also lists it as a graph input,
// as exporters before IR version 4 had to.
func (b *Builder) InitializerAsInput(name string, t *ir.Tensor) string {
	b.Initializer(name, t)
	b.Input(name, t.DType, t.Shape...)
	return name
}

// Const adds an initializer with a generated name ("const<k>").
func (b *Builder) Const(t *ir.Tensor) string {
	b.consts++
	return b.Initializer("const"+strconv.Itoa(b.consts-1), t)
}

// Ints is a shorthand for a 1-D int64 initializer (shapes, axes, pads).
func (b *Builder) Ints(v ...int64) string {
	return b.Const(ir.FromInt64(append([]int64{}, v...), len(v)))
}

// Node adds a node of a default-domain op with one output, named
// "<op>_<k>" with output "<op>_<k>_out", and returns the output's name.
// An input "" is an omitted optional input.
func (b *Builder) Node(op string, inputs []string, attrs map[string]any) string {
	return b.NodeN(op, inputs, 1, attrs)[0]
}

// NodeN adds a node with n outputs ("<op>_<k>_out0" ...) and returns them.
func (b *Builder) NodeN(op string, inputs []string, n int, attrs map[string]any) []string {
	name := op + "_" + strconv.Itoa(b.nodes)
	outs := make([]string, n)
	for i := range outs {
		if n == 1 {
			outs[i] = name + "_out"
		} else {
			outs[i] = name + "_out" + strconv.Itoa(i)
		}
	}
	b.Add(NodeSpec{Name: name, Op: op, Inputs: inputs, Outputs: outs, Attrs: attrs})
	return outs
}

// NodeSpec is a node written in full, for tests that need exact names
// (including none), domains or output lists.
type NodeSpec struct {
	Name    string
	Op      string
	Domain  string
	Inputs  []string
	Outputs []string
	// Attrs values: int, int64, float32, float64, string, []int, []int64,
	// []float32, []string, *ir.Tensor.
	Attrs map[string]any
}

// Add appends a node as given.
func (b *Builder) Add(s NodeSpec) {
	b.nodes++
	n := &onnxpb.NodeProto{
		Name:   s.Name,
		OpType: s.Op,
		Domain: s.Domain,
		Input:  append([]string(nil), s.Inputs...),
		Output: append([]string(nil), s.Outputs...),
	}
	names := make([]string, 0, len(s.Attrs))
	for k := range s.Attrs {
		names = append(names, k)
	}
	sort.Strings(names) // map order is random; the file should not be
	for _, k := range names {
		a, err := b.attr(k, s.Attrs[k])
		if err != nil {
			b.fail(fmt.Errorf("node %q: %v", s.Name, err))
			continue
		}
		n.Attribute = append(n.Attribute, a)
	}
	b.graph.Node = append(b.graph.Node, n)
}

// attr converts a Go value to an attribute of the matching ONNX type.
func (b *Builder) attr(name string, v any) (*onnxpb.AttributeProto, error) {
	a := &onnxpb.AttributeProto{Name: name}
	switch x := v.(type) {
	case int:
		a.Type, a.I = onnxpb.AttributeProto_INT, int64(x)
	case int64:
		a.Type, a.I = onnxpb.AttributeProto_INT, x
	case float32:
		a.Type, a.F = onnxpb.AttributeProto_FLOAT, x
	case float64:
		a.Type, a.F = onnxpb.AttributeProto_FLOAT, float32(x)
	case string:
		a.Type, a.S = onnxpb.AttributeProto_STRING, []byte(x)
	case []int:
		a.Type = onnxpb.AttributeProto_INTS
		for _, i := range x {
			a.Ints = append(a.Ints, int64(i))
		}
	case []int64:
		a.Type, a.Ints = onnxpb.AttributeProto_INTS, append([]int64(nil), x...)
	case []float32:
		a.Type, a.Floats = onnxpb.AttributeProto_FLOATS, append([]float32(nil), x...)
	case []string:
		a.Type = onnxpb.AttributeProto_STRINGS
		for _, s := range x {
			a.Strings = append(a.Strings, []byte(s))
		}
	case *ir.Tensor:
		tp, err := b.tensorProto("", x, Raw)
		if err != nil {
			return nil, err
		}
		a.Type, a.T = onnxpb.AttributeProto_TENSOR, tp
	default:
		return nil, fmt.Errorf("attribute %q: Go type %T has no ONNX attribute type", name, v)
	}
	return a, nil
}

// tensorProto encodes t in the given storage form.
func (b *Builder) tensorProto(name string, t *ir.Tensor, s Storage) (*onnxpb.TensorProto, error) {
	if t == nil {
		return nil, fmt.Errorf("tensor %q is nil", name)
	}
	if err := t.Check(); err != nil {
		return nil, fmt.Errorf("tensor %q: %v", name, err)
	}
	code, ok := codec.DTypeToONNX(t.DType)
	if !ok {
		return nil, fmt.Errorf("tensor %q: dtype %v has no ONNX equivalent", name, t.DType)
	}
	tp := &onnxpb.TensorProto{Name: name, DataType: code}
	for _, d := range t.Shape {
		tp.Dims = append(tp.Dims, int64(d))
	}
	switch s {
	case Raw:
		tp.RawData = codec.RawBytes(t)
	case Typed:
		fillTyped(tp, t)
	case External:
		for len(b.extData)%8 != 0 {
			b.extData = append(b.extData, 0)
		}
		raw := codec.RawBytes(t)
		tp.DataLocation = onnxpb.TensorProto_EXTERNAL
		tp.ExternalData = []*onnxpb.StringStringEntryProto{
			{Key: "location", Value: b.extName},
			{Key: "offset", Value: strconv.Itoa(len(b.extData))},
			{Key: "length", Value: strconv.Itoa(len(raw))},
		}
		b.extData = append(b.extData, raw...)
	default:
		return nil, fmt.Errorf("tensor %q: unknown storage %d", name, s)
	}
	return tp, nil
}

// fillTyped writes t's elements into the typed field ONNX assigns its dtype.
func fillTyped(tp *onnxpb.TensorProto, t *ir.Tensor) {
	switch d := t.Data.(type) {
	case []float32:
		tp.FloatData = append([]float32{}, d...)
	case []float64:
		tp.DoubleData = append([]float64{}, d...)
	case []int64:
		tp.Int64Data = append([]int64{}, d...)
	case []uint64:
		tp.Uint64Data = append([]uint64{}, d...)
	case []uint32:
		tp.Uint64Data = make([]uint64, len(d))
		for i, v := range d {
			tp.Uint64Data[i] = uint64(v)
		}
	default:
		// int32_data carries int32 and every narrower type.
		tp.Int32Data = make([]int32, t.Len())
		for i := range tp.Int32Data {
			switch x := t.Data.(type) {
			case []uint16:
				tp.Int32Data[i] = int32(x[i])
			case []bool:
				if x[i] {
					tp.Int32Data[i] = 1
				}
			default:
				tp.Int32Data[i] = int32(t.AsInt64(i))
			}
		}
	}
}

// Bytes serializes the model. With External storage the tensor data is not
// in it; DataBytes returns that file's content and WriteFile writes both.
func (b *Builder) Bytes() ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	if len(b.graph.Output) == 0 {
		return nil, errors.New("model has no outputs (call Output)")
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(b.model)
}

// DataBytes returns the external data file's content (nil if no initializer
// is stored externally).
func (b *Builder) DataBytes() []byte { return b.extData }

// ExternalFile is the name external data is written under.
func (b *Builder) ExternalFile() string { return b.extName }

// WriteFile writes the model to path, and the external data file next to it
// when there is one. Each file is written to a temporary name and renamed,
// so a reader never sees a partial file.
func (b *Builder) WriteFile(path string) error {
	data, err := b.Bytes()
	if err != nil {
		return err
	}
	if b.extData != nil {
		if err := writeAtomic(filepath.Join(filepath.Dir(path), filepath.FromSlash(b.extName)), b.extData); err != nil {
			return err
		}
	}
	return writeAtomic(path, data)
}

func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// Float32s is a shorthand for a float32 tensor of the given shape filled
// with data (which it takes, not copies).
func Float32s(data []float32, shape ...int) *ir.Tensor { return ir.FromFloat32(data, shape...) }

// Seq returns a float32 tensor of the given shape holding start, start+step,
// ... in row-major order: distinct, predictable weights for tests.
func Seq(start, step float32, shape ...int) *ir.Tensor {
	t := ir.NewTensor(ir.Float32, shape...)
	d := t.Float32s()
	for i := range d {
		d[i] = start + float32(step*float32(i))
	}
	return t
}

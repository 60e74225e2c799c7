package ref

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sqc-project/sqc/ir"
)

// The ONNX conformance tests of the quantization ops, from Debian's
// libonnx-testdata: each directory holds a one-node model.onnx and
// test_data_set_*/{input,output}_N.pb. The test decodes them itself with
// protowire (field numbers from onnx.proto), builds the node as an ir.Graph,
// runs static shape inference and the reference executor, and compares every
// output element exactly.

const onnxNodeTests = "/usr/share/libonnx-testdata/data/node"

func TestQuantOnnxConformance(t *testing.T) {
	if _, err := os.Stat(onnxNodeTests); err != nil {
		t.Skip("libonnx-testdata is not installed")
	}
	for _, name := range []string{
		"test_quantizelinear", "test_quantizelinear_axis",
		"test_dequantizelinear", "test_dequantizelinear_axis",
		"test_qlinearconv", "test_qlinearmatmul_2D", "test_qlinearmatmul_3D",
		"test_basic_convinteger", "test_convinteger_with_padding", "test_convinteger_without_padding",
		"test_matmulinteger",
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(onnxNodeTests, name)
			g, err := onnxLoadNodeModel(filepath.Join(dir, "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
			if len(sets) == 0 {
				t.Fatal("no test data sets")
			}
			for _, set := range sets {
				var ins []*ir.Tensor
				for i := range g.Inputs {
					x, err := onnxReadTensorFile(filepath.Join(set, fmt.Sprintf("input_%d.pb", i)))
					if err != nil {
						t.Fatal(err)
					}
					ins = append(ins, x)
					g.Inputs[i].Type = x.Type()
				}
				if err := ir.InferShapes(g); err != nil {
					t.Fatalf("shape inference: %v", err)
				}
				if err := ir.Verify(g); err != nil {
					t.Fatalf("verify: %v", err)
				}
				outs, err := Run(g, ins...)
				if err != nil {
					t.Fatal(err)
				}
				for i, got := range outs {
					want, err := onnxReadTensorFile(filepath.Join(set, fmt.Sprintf("output_%d.pb", i)))
					if err != nil {
						t.Fatal(err)
					}
					if !g.Outputs[i].Type.Equal(want.Type()) {
						t.Errorf("%s: inferred output type %v, want %v", filepath.Base(set), g.Outputs[i].Type, want.Type())
					}
					if err := sameTensor(got, want); err != nil {
						t.Errorf("%s output %d: %v", filepath.Base(set), i, err)
					}
				}
			}
		})
	}
}

// sameTensor compares dtype, shape and every element exactly (floats by
// bits).
func sameTensor(got, want *ir.Tensor) error {
	if got.DType != want.DType || !slicesEqual(got.Shape, want.Shape) {
		return fmt.Errorf("got %v, want %v", got.Type(), want.Type())
	}
	for i := 0; i < want.Len(); i++ {
		g, w := got.AsFloat64(i), want.AsFloat64(i)
		if math.Float64bits(g) != math.Float64bits(w) {
			return fmt.Errorf("element %d (of %d) is %v, want %v", i, want.Len(), g, w)
		}
	}
	return nil
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// onnxFields walks the fields of one protobuf message.
func onnxFields(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var u uint32
			u, n = protowire.ConsumeFixed32(b)
			x = uint64(u)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := f(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

// onnxVarints reads a repeated varint field, packed or not.
func onnxVarints(typ protowire.Type, v []byte, x uint64, dst *[]int64) error {
	if typ == protowire.VarintType {
		*dst = append(*dst, int64(x))
		return nil
	}
	for len(v) > 0 {
		u, n := protowire.ConsumeVarint(v)
		if n < 0 {
			return protowire.ParseError(n)
		}
		*dst = append(*dst, int64(u))
		v = v[n:]
	}
	return nil
}

// onnxReadTensorFile decodes a serialized TensorProto (dims 1, data_type 2,
// float_data 4, int32_data 5, int64_data 7, raw_data 9).
func onnxReadTensorFile(path string) (*ir.Tensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var dims, i32, i64 []int64
	var f32 []float32
	var raw []byte
	var dt int64
	err = onnxFields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch num {
		case 1:
			return onnxVarints(typ, v, x, &dims)
		case 2:
			dt = int64(x)
		case 4:
			if typ == protowire.Fixed32Type {
				f32 = append(f32, math.Float32frombits(uint32(x)))
				return nil
			}
			for ; len(v) >= 4; v = v[4:] {
				f32 = append(f32, math.Float32frombits(uint32(v[0])|uint32(v[1])<<8|uint32(v[2])<<16|uint32(v[3])<<24))
			}
		case 5:
			return onnxVarints(typ, v, x, &i32)
		case 7:
			return onnxVarints(typ, v, x, &i64)
		case 9:
			raw = v
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	shape := make([]int, len(dims))
	for i, d := range dims {
		shape[i] = int(d)
	}
	types := map[int64]ir.DType{1: ir.Float32, 2: ir.Uint8, 3: ir.Int8, 4: ir.Uint16, 5: ir.Int16, 6: ir.Int32, 7: ir.Int64}
	t := ir.NewTensor(types[dt], shape...)
	if t.DType == ir.InvalidDType {
		return nil, fmt.Errorf("%s: data type %d not handled", path, dt)
	}
	n := t.Len()
	size := t.DType.Size()
	if raw != nil && len(raw) != n*size {
		return nil, fmt.Errorf("%s: %d raw bytes for %d elements", path, len(raw), n)
	}
	// elem returns element i as raw little-endian bits or from the typed field.
	elem := func(i int) uint64 {
		if raw != nil {
			var u uint64
			for j := size - 1; j >= 0; j-- {
				u = u<<8 | uint64(raw[i*size+j])
			}
			return u
		}
		switch t.DType {
		case ir.Float32:
			return uint64(math.Float32bits(f32[i]))
		case ir.Int64:
			return uint64(i64[i])
		}
		return uint64(i32[i])
	}
	if raw == nil && len(f32)+len(i32)+len(i64) != n {
		return nil, fmt.Errorf("%s: %d typed values for %d elements", path, len(f32)+len(i32)+len(i64), n)
	}
	for i := 0; i < n; i++ {
		u := elem(i)
		switch s := t.Data.(type) {
		case []float32:
			s[i] = math.Float32frombits(uint32(u))
		case []uint8:
			s[i] = uint8(u)
		case []int8:
			s[i] = int8(u)
		case []uint16:
			s[i] = uint16(u)
		case []int16:
			s[i] = int16(u)
		case []int32:
			s[i] = int32(u)
		case []int64:
			s[i] = int64(u)
		}
	}
	return t, nil
}

// onnxLoadNodeModel decodes a one-node test model: ModelProto.graph (7);
// GraphProto node (1), input (11), output (12), initializer (5, rejected:
// the node tests feed everything as inputs); NodeProto input (1), output (2),
// name (3), op_type (4), attribute (5); AttributeProto name (1), f (2), i
// (3), s (4), floats (7), ints (8).
func onnxLoadNodeModel(path string) (*ir.Graph, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var graph []byte
	if err := onnxFields(b, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
		if num == 7 {
			graph = v
		}
		return nil
	}); err != nil || graph == nil {
		return nil, fmt.Errorf("%s: no graph (%v)", path, err)
	}
	g := &ir.Graph{Name: filepath.Base(filepath.Dir(path))}
	values := map[string]*ir.Value{}
	value := func(name string) *ir.Value {
		if values[name] == nil {
			values[name] = &ir.Value{Name: name}
		}
		return values[name]
	}
	// valueInfoName reads ValueInfoProto.name (1).
	valueInfoName := func(v []byte) (name string, err error) {
		err = onnxFields(v, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
			if num == 1 {
				name = string(v)
			}
			return nil
		})
		return name, err
	}
	err = onnxFields(graph, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
		switch num {
		case 1:
			node := &ir.Node{Attrs: ir.Attrs{}}
			err := onnxFields(v, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
				switch num {
				case 1:
					if len(v) == 0 {
						node.Inputs = append(node.Inputs, nil)
					} else {
						node.Inputs = append(node.Inputs, value(string(v)))
					}
				case 2:
					node.Outputs = append(node.Outputs, value(string(v)))
				case 3:
					node.Name = string(v)
				case 4:
					node.Op = string(v)
				case 5:
					return onnxAttr(v, node.Attrs)
				}
				return nil
			})
			if node.Name == "" {
				node.Name = "node"
			}
			g.Nodes = append(g.Nodes, node)
			return err
		case 5:
			return fmt.Errorf("initializers are not handled")
		case 11, 12:
			name, err := valueInfoName(v)
			if num == 11 {
				g.Inputs = append(g.Inputs, value(name))
			} else {
				g.Outputs = append(g.Outputs, value(name))
			}
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return g, nil
}

func onnxAttr(b []byte, attrs ir.Attrs) error {
	var name string
	var a ir.Attr
	err := onnxFields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch num {
		case 1:
			name = string(v)
		case 2:
			a = ir.FloatAttr(math.Float32frombits(uint32(x)))
		case 3:
			a = ir.IntAttr(int64(x))
		case 4:
			a = ir.StringAttr(string(v))
		case 8:
			var ints []int64
			if err := onnxVarints(typ, v, x, &ints); err != nil {
				return err
			}
			a.Kind = ir.AttrInts
			a.Ints = append(a.Ints, ints...)
		case 20: // AttributeProto.type: nothing to read, the value field says it
		default:
			return fmt.Errorf("attribute field %d not handled", num)
		}
		return nil
	})
	attrs[name] = a
	return err
}

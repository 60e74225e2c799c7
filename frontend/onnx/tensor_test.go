package onnx

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sqc-project/sqc/frontend/onnx/internal/onnxpb"
	"github.com/sqc-project/sqc/frontend/onnx/onnxbuild"
	"github.com/sqc-project/sqc/ir"
)

// sampleTensors has one [2,3] tensor per dtype, with values that exercise
// signs, extremes and (for the 16-bit floats) arbitrary bit patterns.
func sampleTensors() []*ir.Tensor {
	return []*ir.Tensor{
		{DType: ir.Float32, Shape: []int{2, 3}, Data: []float32{0, -1.5, 3.25, float32(math.Inf(1)), -math.MaxFloat32, 1e-40}},
		{DType: ir.Float64, Shape: []int{2, 3}, Data: []float64{0, -1.5, math.Pi, math.Inf(-1), math.MaxFloat64, 5e-324}},
		{DType: ir.Float16, Shape: []int{2, 3}, Data: []uint16{0x0000, 0x3c00, 0xbc00, 0x7c00, 0x0001, 0xfbff}},
		{DType: ir.BFloat16, Shape: []int{2, 3}, Data: []uint16{0x0000, 0x3f80, 0xbf80, 0x7f80, 0x0001, 0xff7f}},
		{DType: ir.Int8, Shape: []int{2, 3}, Data: []int8{0, 1, -1, 127, -128, 42}},
		{DType: ir.Uint8, Shape: []int{2, 3}, Data: []uint8{0, 1, 128, 255, 254, 42}},
		{DType: ir.Int16, Shape: []int{2, 3}, Data: []int16{0, 1, -1, 32767, -32768, 4242}},
		{DType: ir.Uint16, Shape: []int{2, 3}, Data: []uint16{0, 1, 32768, 65535, 65534, 4242}},
		{DType: ir.Int32, Shape: []int{2, 3}, Data: []int32{0, 1, -1, math.MaxInt32, math.MinInt32, 424242}},
		{DType: ir.Uint32, Shape: []int{2, 3}, Data: []uint32{0, 1, 1 << 31, math.MaxUint32, math.MaxUint32 - 1, 424242}},
		{DType: ir.Int64, Shape: []int{2, 3}, Data: []int64{0, 1, -1, math.MaxInt64, math.MinInt64, 1 << 40}},
		{DType: ir.Uint64, Shape: []int{2, 3}, Data: []uint64{0, 1, 1 << 63, math.MaxUint64, math.MaxUint64 - 1, 1 << 40}},
		{DType: ir.Bool, Shape: []int{2, 3}, Data: []bool{true, false, false, true, true, false}},
	}
}

// TestStorageForms writes an initializer of every dtype in every storage
// form (raw_data, the typed field, external data) and checks the decoded
// constant holds exactly the values written.
func TestStorageForms(t *testing.T) {
	for _, form := range []struct {
		name    string
		storage onnxbuild.Storage
	}{{"raw", onnxbuild.Raw}, {"typed", onnxbuild.Typed}, {"external", onnxbuild.External}} {
		for _, want := range sampleTensors() {
			t.Run(form.name+"/"+want.DType.String(), func(t *testing.T) {
				b := onnxbuild.New("g", 13).SetStorage(form.storage)
				b.Initializer("w", want)
				b.Output("w", want.DType, 2, 3)
				dir := t.TempDir()
				path := filepath.Join(dir, "m.onnx")
				if err := b.WriteFile(path); err != nil {
					t.Fatal(err)
				}
				g, err := Import(path)
				if err != nil {
					t.Fatal(err)
				}
				got := g.Outputs[0]
				if !got.IsConst() || got.Name != "w" {
					t.Fatalf("output is %+v, want the constant w", got)
				}
				if !reflect.DeepEqual(got.Const.Shape, want.Shape) || got.Const.DType != want.DType {
					t.Fatalf("got %v%v, want %v%v", got.Const.DType, got.Const.Shape, want.DType, want.Shape)
				}
				if !reflect.DeepEqual(got.Const.Data, want.Data) {
					t.Fatalf("data %v, want %v", got.Const.Data, want.Data)
				}
			})
		}
	}
}

// TestTypedFieldsByHand decodes TensorProtos written field by field, as
// other writers produce them, independently of the builder.
func TestTypedFieldsByHand(t *testing.T) {
	cases := []struct {
		tp   *onnxpb.TensorProto
		want any
	}{
		{&onnxpb.TensorProto{DataType: 3, Dims: []int64{3}, Int32Data: []int32{-128, 127, 5}}, []int8{-128, 127, 5}},
		{&onnxpb.TensorProto{DataType: 2, Dims: []int64{2}, Int32Data: []int32{255, 0}}, []uint8{255, 0}},
		// Float16 bits may be written sign-extended; both forms mean 0xbc00 (-1).
		{&onnxpb.TensorProto{DataType: 10, Dims: []int64{2}, Int32Data: []int32{0xbc00, -17408}}, []uint16{0xbc00, 0xbc00}},
		{&onnxpb.TensorProto{DataType: 9, Dims: []int64{3}, Int32Data: []int32{1, 0, 1}}, []bool{true, false, true}},
		{&onnxpb.TensorProto{DataType: 12, Dims: []int64{1}, Uint64Data: []uint64{math.MaxUint32}}, []uint32{math.MaxUint32}},
		{&onnxpb.TensorProto{DataType: 1, Dims: []int64{2}, RawData: []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}}, []float32{1, -2}},
		{&onnxpb.TensorProto{DataType: 7, Dims: []int64{}, RawData: []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, []int64{-2}},
		{&onnxpb.TensorProto{DataType: 1, Dims: []int64{0, 4}}, []float32{}},
	}
	for i, c := range cases {
		data, err := proto.Marshal(c.tp)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := DecodeTensor(data)
		if err != nil {
			t.Errorf("case %d: %v", i, err)
			continue
		}
		if !reflect.DeepEqual(got.Data, c.want) {
			t.Errorf("case %d: got %#v, want %#v", i, got.Data, c.want)
		}
	}
}

func TestEncodeDecodeTensor(t *testing.T) {
	for _, want := range sampleTensors() {
		data, err := EncodeTensor("t_"+want.DType.String(), want)
		if err != nil {
			t.Fatal(err)
		}
		got, name, err := DecodeTensor(data)
		if err != nil {
			t.Fatal(err)
		}
		if name != "t_"+want.DType.String() || !reflect.DeepEqual(got, want) {
			t.Errorf("%v: round trip gave %q %+v", want.DType, name, got)
		}
		// The encoding is ONNX's: raw_data, the right type code, the dims.
		tp := &onnxpb.TensorProto{}
		if err := proto.Unmarshal(data, tp); err != nil {
			t.Fatal(err)
		}
		if len(tp.RawData) != 6*want.DType.Size() || !sameInts(tp.Dims, []int64{2, 3}) {
			t.Errorf("%v: encoded %d raw bytes, dims %v", want.DType, len(tp.RawData), tp.Dims)
		}
	}
	// Float32 1.0 is 0x3f800000, little-endian.
	data, _ := EncodeTensor("one", ir.FromFloat32([]float32{1}, 1))
	tp := &onnxpb.TensorProto{}
	proto.Unmarshal(data, tp)
	if string(tp.RawData) != "\x00\x00\x80\x3f" || tp.DataType != 1 {
		t.Errorf("1.0 encoded as % x (type %d), want 00 00 80 3f (type 1)", tp.RawData, tp.DataType)
	}
	if _, err := EncodeTensor("bad", &ir.Tensor{DType: ir.Float32, Shape: []int{2}, Data: []float32{1}}); err == nil {
		t.Error("encoding a tensor whose data does not fit its shape succeeded")
	}
}

// TestReadTensorFile reads the zoo's mnist-7 reference input, whose name,
// shape and range the shared README records.
func TestReadTensorFile(t *testing.T) {
	p := sharedPath(t, "testdata/mnist-7/test_data_set_0/input_0.pb")
	x, err := ReadTensorFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if x.DType != ir.Float32 || !reflect.DeepEqual(x.Shape, []int{1, 1, 28, 28}) {
		t.Fatalf("got %v%v, want f32[1,1,28,28]", x.DType, x.Shape)
	}
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range x.Float32s() {
		lo, hi = min(lo, v), max(hi, v)
	}
	if math.Abs(float64(lo)+29.11) > 0.01 || math.Abs(float64(hi)-31.28) > 0.01 {
		t.Errorf("range [%v, %v], want [-29.11, 31.28]", lo, hi)
	}
	data, _ := os.ReadFile(p)
	if _, name, _ := DecodeTensor(data); name != "Input3" {
		t.Errorf("name %q, want Input3", name)
	}
	bad := filepath.Join(t.TempDir(), "bad.pb")
	os.WriteFile(bad, []byte{0x0a, 0xff}, 0o644)
	_, err = ReadTensorFile(bad)
	wantErr(t, err, bad+": ", "not a serialized ONNX TensorProto")
}

// TestTensorErrors feeds malformed initializers and checks each error names
// the initializer and says what was expected.
func TestTensorErrors(t *testing.T) {
	cases := []struct {
		name string
		tp   *onnxpb.TensorProto
		want []string
	}{
		{"string", &onnxpb.TensorProto{Name: "s", DataType: 8, Dims: []int64{1}, StringData: [][]byte{[]byte("x")}},
			[]string{`initializer "s"`, "unsupported dtype STRING"}},
		{"complex", &onnxpb.TensorProto{Name: "c", DataType: 14, Dims: []int64{1}, FloatData: []float32{1, 2}},
			[]string{`initializer "c"`, "unsupported dtype COMPLEX64"}},
		{"float8", &onnxpb.TensorProto{Name: "f8", DataType: 17, Dims: []int64{1}, RawData: []byte{1}},
			[]string{`initializer "f8"`, "unsupported dtype", "17"}},
		{"undefined", &onnxpb.TensorProto{Name: "u", Dims: []int64{1}},
			[]string{`initializer "u"`, "UNDEFINED"}},
		{"raw size", &onnxpb.TensorProto{Name: "w", DataType: 1, Dims: []int64{2, 3}, RawData: make([]byte, 20)},
			[]string{`initializer "w"`, "20 bytes of data, want 24", "6 f32 elements"}},
		{"typed size", &onnxpb.TensorProto{Name: "w", DataType: 1, Dims: []int64{2, 3}, FloatData: make([]float32, 5)},
			[]string{`initializer "w"`, "float_data has 5 elements, want 6"}},
		{"no data", &onnxpb.TensorProto{Name: "w", DataType: 7, Dims: []int64{4}},
			[]string{`initializer "w"`, "int64_data has 0 elements, want 4"}},
		{"wrong field", &onnxpb.TensorProto{Name: "w", DataType: 1, Dims: []int64{1}, Int64Data: []int64{1}},
			[]string{`initializer "w"`, "outside float_data"}},
		{"overflow", &onnxpb.TensorProto{Name: "big", DataType: 1, Dims: []int64{1 << 40, 1 << 40}},
			[]string{`initializer "big"`, "more than 2^40 elements"}},
		{"overflow wraps", &onnxpb.TensorProto{Name: "big", DataType: 1, Dims: []int64{1 << 62, 4, 0}},
			[]string{`initializer "big"`, "more than 2^40 elements"}},
		{"negative", &onnxpb.TensorProto{Name: "neg", DataType: 1, Dims: []int64{2, -1}},
			[]string{`initializer "neg"`, "dim 1 is -1, want a non-negative size"}},
		{"int8 range", &onnxpb.TensorProto{Name: "q", DataType: 3, Dims: []int64{2}, Int32Data: []int32{1, 200}},
			[]string{`initializer "q"`, "int32_data[1] = 200 is out of range for i8"}},
		{"raw and typed", &onnxpb.TensorProto{Name: "w", DataType: 1, Dims: []int64{1}, FloatData: []float32{1}, RawData: make([]byte, 4)},
			[]string{`initializer "w"`, "both raw_data and a typed data field"}},
		{"segment", &onnxpb.TensorProto{Name: "w", DataType: 1, Dims: []int64{1}, Segment: &onnxpb.TensorProto_Segment{Begin: 0, End: 1}, FloatData: []float32{1}},
			[]string{`initializer "w"`, "segmented tensors are not supported"}},
		{"external without dir", &onnxpb.TensorProto{Name: "e", DataType: 1, Dims: []int64{1}, DataLocation: onnxpb.TensorProto_EXTERNAL,
			ExternalData: []*onnxpb.StringStringEntryProto{{Key: "location", Value: "w.bin"}}},
			[]string{`initializer "e"`, `external file "w.bin"`, "not loaded from a file"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := onnxbuild.New("g", 13)
			x := b.Input("x", ir.Float32, 1)
			b.Output(b.Node("Relu", []string{x}, nil), ir.Float32, 1)
			data := editModel(t, b, func(m *onnxpb.ModelProto) {
				m.Graph.Initializer = append(m.Graph.Initializer, c.tp)
			})
			_, err := Decode(data, "")
			wantErr(t, err, c.want...)
		})
	}
}

// externalModel writes a model whose initializer "w" (f32[4]) lives in an
// external file, with edit applied to its external_data entries, and returns
// the model's path.
func externalModel(t *testing.T, dir string, edit func(kv []*onnxpb.StringStringEntryProto)) string {
	t.Helper()
	b := onnxbuild.New("g", 13).SetStorage(onnxbuild.External).SetExternalFile("w.bin")
	b.Initializer("w", ir.FromFloat32([]float32{1, 2, 3, 4}, 4))
	b.Output("w", ir.Float32, 4)
	data := editModel(t, b, func(m *onnxpb.ModelProto) {
		if edit != nil {
			edit(m.Graph.Initializer[0].ExternalData)
		}
	})
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), b.DataBytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "m.onnx")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func setKV(kv []*onnxpb.StringStringEntryProto, key, value string) {
	for _, e := range kv {
		if e.Key == key {
			e.Value = value
		}
	}
}

func TestExternalData(t *testing.T) {
	t.Run("present", func(t *testing.T) {
		path := externalModel(t, t.TempDir(), nil)
		g, err := Import(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.Outputs[0].Const.Float32s(); !reflect.DeepEqual(got, []float32{1, 2, 3, 4}) {
			t.Errorf("got %v", got)
		}
	})
	t.Run("offset and implicit length", func(t *testing.T) {
		dir := t.TempDir()
		path := externalModel(t, dir, func(kv []*onnxpb.StringStringEntryProto) {
			setKV(kv, "offset", "4")
			setKV(kv, "length", "")
		})
		// A file with 4 leading bytes and no length key: the data runs to the end.
		os.WriteFile(filepath.Join(dir, "w.bin"), append([]byte{9, 9, 9, 9}, onnxbuildRaw([]float32{5, 6, 7, 8})...), 0o644)
		_, err := Load(path)
		if err == nil {
			t.Fatalf("an empty length value was accepted")
		}
		wantErr(t, err, path+": ", `initializer "w"`, `length is ""`)
		// Without the key the length is implicit.
		data, _ := os.ReadFile(path)
		mp := &onnxpb.ModelProto{}
		proto.Unmarshal(data, mp)
		kv := mp.Graph.Initializer[0].ExternalData
		mp.Graph.Initializer[0].ExternalData = kv[:2] // location, offset
		data, _ = proto.Marshal(mp)
		os.WriteFile(path, data, 0o644)
		m, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		g, err := m.Lower()
		if err != nil {
			t.Fatal(err)
		}
		if got := g.Outputs[0].Const.Float32s(); !reflect.DeepEqual(got, []float32{5, 6, 7, 8}) {
			t.Errorf("got %v, want [5 6 7 8]", got)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		dir := t.TempDir()
		path := externalModel(t, dir, nil)
		os.Remove(filepath.Join(dir, "w.bin"))
		_, err := Load(path)
		wantErr(t, err, path+": ", `initializer "w"`, filepath.Join(dir, "w.bin"), "does not exist")
	})
	t.Run("escaping path", func(t *testing.T) {
		for _, loc := range []string{"../w.bin", "/etc/passwd", "sub/../../w.bin"} {
			dir := t.TempDir()
			path := externalModel(t, dir, func(kv []*onnxpb.StringStringEntryProto) { setKV(kv, "location", loc) })
			_, err := Load(path)
			wantErr(t, err, path+": ", `initializer "w"`, loc, "escapes the model's directory")
		}
	})
	t.Run("symlink out of the directory", func(t *testing.T) {
		outside := t.TempDir()
		os.WriteFile(filepath.Join(outside, "secret.bin"), make([]byte, 16), 0o644)
		dir := t.TempDir()
		path := externalModel(t, dir, func(kv []*onnxpb.StringStringEntryProto) { setKV(kv, "location", "link.bin") })
		if err := os.Symlink(filepath.Join(outside, "secret.bin"), filepath.Join(dir, "link.bin")); err != nil {
			t.Skip(err)
		}
		_, err := Load(path)
		wantErr(t, err, path+": ", `initializer "w"`, "link.bin", "escapes", "want a file inside the model's directory")
	})
	t.Run("wrong length", func(t *testing.T) {
		dir := t.TempDir()
		path := externalModel(t, dir, func(kv []*onnxpb.StringStringEntryProto) { setKV(kv, "length", "12") })
		_, err := Load(path)
		wantErr(t, err, path+": ", `initializer "w"`, "is 12 bytes, want 16")
	})
	t.Run("past the end", func(t *testing.T) {
		dir := t.TempDir()
		path := externalModel(t, dir, func(kv []*onnxpb.StringStringEntryProto) { setKV(kv, "offset", "8") })
		_, err := Load(path)
		wantErr(t, err, path+": ", `initializer "w"`, "runs past the end of the 16-byte file")
	})
	t.Run("bad offset", func(t *testing.T) {
		dir := t.TempDir()
		path := externalModel(t, dir, func(kv []*onnxpb.StringStringEntryProto) { setKV(kv, "offset", "-3") })
		_, err := Load(path)
		wantErr(t, err, `offset is "-3", want a non-negative integer`)
	})
}

func onnxbuildRaw(v []float32) []byte {
	data, _ := EncodeTensor("", ir.FromFloat32(v, len(v)))
	tp := &onnxpb.TensorProto{}
	proto.Unmarshal(data, tp)
	return tp.RawData
}

func TestBuilderWritesAtomically(t *testing.T) {
	dir := t.TempDir()
	b := onnxbuild.New("g", 13)
	b.Output(b.Initializer("w", ir.FromFloat32([]float32{1}, 1)), ir.Float32, 1)
	path := filepath.Join(dir, "m.onnx")
	if err := b.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "m.onnx" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only m.onnx (no temporary files)", names)
	}
	if err := onnxbuild.New("g", 13).WriteFile(path); err == nil || !strings.Contains(err.Error(), "no outputs") {
		t.Errorf("a model without outputs: got %v", err)
	}
}

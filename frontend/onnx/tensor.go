package onnx

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/sqc-project/sqc/frontend/onnx/internal/codec"
	"github.com/sqc-project/sqc/frontend/onnx/internal/onnxpb"
	"github.com/sqc-project/sqc/ir"
)

// maxElements caps the element count of any decoded tensor. It is far above
// any real weight (2^40 float32s is 4 TiB) and keeps products of dims well
// away from int64 overflow, so a hostile file cannot make us compute a
// negative or wrapped size.
const maxElements = int64(1) << 40

// checkDims validates a tensor's dims and returns its element count: every
// dim non-negative, the product at most maxElements (checked before each
// multiplication, so it cannot overflow).
func checkDims(dims []int64) (int, error) {
	n := int64(1)
	for i, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("dim %d is %d, want a non-negative size", i, d)
		}
		if d != 0 && n > maxElements/d {
			return 0, fmt.Errorf("dims %v hold more than 2^40 elements", dims)
		}
		n *= d
	}
	if n > maxElements {
		return 0, fmt.Errorf("dims %v hold more than 2^40 elements", dims)
	}
	return int(n), nil
}

// tensorContext says where tensor data may come from: dir is the directory
// external data is resolved against ("" forbids external data); read, when
// set, collects the external data files read (for build-system depfiles).
type tensorContext struct {
	dir  string
	read map[string]bool
}

// decodeTensorProto converts a TensorProto into an ir.Tensor, whatever field
// holds its data. what names the tensor in errors ("initializer \"w\"").
func (tc tensorContext) decodeTensorProto(tp *onnxpb.TensorProto, what string) (*ir.Tensor, error) {
	fail := func(format string, args ...any) (*ir.Tensor, error) {
		return nil, fmt.Errorf("%s: %s", what, fmt.Sprintf(format, args...))
	}
	dt, err := codec.DTypeFromONNX(tp.GetDataType())
	if err != nil {
		return fail("%v", err)
	}
	n, err := checkDims(tp.GetDims())
	if err != nil {
		return fail("%v", err)
	}
	if tp.GetSegment() != nil {
		return fail("segmented tensors are not supported (want the whole tensor in one TensorProto)")
	}
	shape := make([]int, len(tp.GetDims()))
	for i, d := range tp.GetDims() {
		shape[i] = int(d)
	}
	raw := tp.GetRawData()
	if tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		if len(raw) > 0 || typedCount(tp) > 0 {
			return fail("data_location is EXTERNAL but the tensor also holds data inline")
		}
		raw, err = tc.readExternal(tp, n*dt.Size(), what)
		if err != nil {
			return nil, err
		}
		return fromRaw(dt, shape, n, raw, what)
	}
	if tp.GetDataLocation() != onnxpb.TensorProto_DEFAULT {
		return fail("unknown data_location %d (want DEFAULT or EXTERNAL)", int32(tp.GetDataLocation()))
	}
	if len(raw) > 0 {
		if typedCount(tp) > 0 {
			return fail("both raw_data and a typed data field are set, want one")
		}
		return fromRaw(dt, shape, n, raw, what)
	}
	return fromTyped(tp, dt, shape, n, what)
}

// typedCount is the number of elements held in the typed data fields.
func typedCount(tp *onnxpb.TensorProto) int {
	return len(tp.GetFloatData()) + len(tp.GetInt32Data()) + len(tp.GetInt64Data()) +
		len(tp.GetDoubleData()) + len(tp.GetUint64Data()) + len(tp.GetStringData())
}

// fromRaw decodes little-endian raw bytes, the encoding of raw_data and of
// external data files.
func fromRaw(dt ir.DType, shape []int, n int, raw []byte, what string) (*ir.Tensor, error) {
	size := dt.Size()
	if len(raw) != n*size {
		return nil, fmt.Errorf("%s: %d bytes of data, want %d (%d %v elements of shape %v)", what, len(raw), n*size, n, dt, shape)
	}
	data := ir.MakeData(dt, n)
	switch {
	case data == nil:
		return nil, fmt.Errorf("%s: no raw decoding for %v", what, dt)
	case dt == ir.Bool:
		// ONNX reads any non-zero byte as true.
		d := data.([]bool)
		for i := range d {
			d[i] = raw[i] != 0
		}
	default:
		if err := ir.PutLE(data, 0, raw); err != nil {
			return nil, fmt.Errorf("%s: %v", what, err)
		}
	}
	return &ir.Tensor{DType: dt, Shape: shape, Data: data}, nil
}

// fromTyped decodes the typed data fields. ONNX puts every integer type of
// 32 bits or fewer, bool and the 16-bit floats (as bit patterns) in
// int32_data, and uint32 with uint64 in uint64_data.
func fromTyped(tp *onnxpb.TensorProto, dt ir.DType, shape []int, n int, what string) (*ir.Tensor, error) {
	var field string
	var count int
	switch dt {
	case ir.Float32:
		field, count = "float_data", len(tp.GetFloatData())
	case ir.Float64:
		field, count = "double_data", len(tp.GetDoubleData())
	case ir.Int64:
		field, count = "int64_data", len(tp.GetInt64Data())
	case ir.Uint32, ir.Uint64:
		field, count = "uint64_data", len(tp.GetUint64Data())
	default:
		field, count = "int32_data", len(tp.GetInt32Data())
	}
	if other := typedCount(tp) - count; other > 0 {
		return nil, fmt.Errorf("%s: %v data stored outside %s (want %s or raw_data)", what, dt, field, field)
	}
	if count != n {
		return nil, fmt.Errorf("%s: %s has %d elements, want %d (shape %v)", what, field, count, n, shape)
	}
	t := &ir.Tensor{DType: dt, Shape: shape}
	i32 := tp.GetInt32Data()
	// narrow checks that an int32_data entry fits the element type, so a
	// corrupt value is reported instead of silently wrapping.
	narrow := func(lo, hi int64) error {
		for i, v := range i32 {
			if int64(v) < lo || int64(v) > hi {
				return fmt.Errorf("%s: int32_data[%d] = %d is out of range for %v [%d, %d]", what, i, v, dt, lo, hi)
			}
		}
		return nil
	}
	switch dt {
	case ir.Float32:
		t.Data = append(make([]float32, 0, n), tp.GetFloatData()...)
	case ir.Float64:
		t.Data = append(make([]float64, 0, n), tp.GetDoubleData()...)
	case ir.Int64:
		t.Data = append(make([]int64, 0, n), tp.GetInt64Data()...)
	case ir.Int32:
		t.Data = append(make([]int32, 0, n), i32...)
	case ir.Uint64:
		t.Data = append(make([]uint64, 0, n), tp.GetUint64Data()...)
	case ir.Uint32:
		d := make([]uint32, n)
		for i, v := range tp.GetUint64Data() {
			if v > math.MaxUint32 {
				return nil, fmt.Errorf("%s: uint64_data[%d] = %d is out of range for u32", what, i, v)
			}
			d[i] = uint32(v)
		}
		t.Data = d
	case ir.Int8:
		if err := narrow(math.MinInt8, math.MaxInt8); err != nil {
			return nil, err
		}
		d := make([]int8, n)
		for i, v := range i32 {
			d[i] = int8(v)
		}
		t.Data = d
	case ir.Uint8:
		if err := narrow(0, math.MaxUint8); err != nil {
			return nil, err
		}
		d := make([]uint8, n)
		for i, v := range i32 {
			d[i] = uint8(v)
		}
		t.Data = d
	case ir.Int16:
		if err := narrow(math.MinInt16, math.MaxInt16); err != nil {
			return nil, err
		}
		d := make([]int16, n)
		for i, v := range i32 {
			d[i] = int16(v)
		}
		t.Data = d
	case ir.Uint16, ir.Float16, ir.BFloat16:
		// Bit patterns are written as unsigned values; some writers
		// sign-extend them, so both halves of the range are accepted.
		if err := narrow(math.MinInt16, math.MaxUint16); err != nil {
			return nil, err
		}
		d := make([]uint16, n)
		for i, v := range i32 {
			d[i] = uint16(v)
		}
		t.Data = d
	case ir.Bool:
		d := make([]bool, n)
		for i, v := range i32 {
			d[i] = v != 0
		}
		t.Data = d
	default:
		return nil, fmt.Errorf("%s: no typed decoding for %v", what, dt)
	}
	return t, nil
}

// readExternal reads a tensor's bytes from the file its external_data names,
// relative to tc.dir. The location must stay inside that directory: it is
// checked lexically and then opened through os.OpenInRoot, which also
// refuses symbolic links that lead out of it.
func (tc tensorContext) readExternal(tp *onnxpb.TensorProto, want int, what string) ([]byte, error) {
	var location string
	offset, length := int64(0), int64(-1)
	for _, kv := range tp.GetExternalData() {
		switch kv.GetKey() {
		case "location":
			location = kv.GetValue()
		case "offset", "length":
			v, err := strconv.ParseInt(kv.GetValue(), 10, 64)
			if err != nil || v < 0 {
				return nil, fmt.Errorf("%s: external data %s is %q, want a non-negative integer", what, kv.GetKey(), kv.GetValue())
			}
			if kv.GetKey() == "offset" {
				offset = v
			} else {
				length = v
			}
		}
	}
	if location == "" {
		return nil, fmt.Errorf("%s: external data has no location", what)
	}
	if tc.dir == "" {
		return nil, fmt.Errorf("%s: data is in external file %q, but the model was not loaded from a file, so there is no directory to find it in", what, location)
	}
	rel := filepath.FromSlash(location)
	if !filepath.IsLocal(rel) {
		return nil, fmt.Errorf("%s: external data location %q escapes the model's directory %s (want a relative path inside it)", what, location, tc.dir)
	}
	path := filepath.Join(tc.dir, rel)
	f, err := os.OpenInRoot(tc.dir, rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: external data file %s does not exist", what, path)
		}
		return nil, fmt.Errorf("%s: external data file %s: %v (want a file inside the model's directory)", what, path, err)
	}
	defer f.Close()
	if tc.read != nil {
		tc.read[path] = true
	}
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: external data file %s: %v", what, path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: external data file %s is not a regular file", what, path)
	}
	size := st.Size()
	if length < 0 {
		length = size - offset
	}
	if length != int64(want) {
		return nil, fmt.Errorf("%s: external data in %s is %d bytes, want %d", what, path, length, want)
	}
	if offset > size || length > size-offset {
		return nil, fmt.Errorf("%s: external data in %s at offset %d, length %d runs past the end of the %d-byte file", what, path, offset, length, size)
	}
	buf := make([]byte, length)
	if _, err := io.ReadFull(io.NewSectionReader(f, offset, length), buf); err != nil {
		return nil, fmt.Errorf("%s: reading external data from %s: %v", what, path, err)
	}
	return buf, nil
}

// DecodeTensor decodes one serialized TensorProto (the format of the
// test_data_set_N/input_K.pb files) and returns the tensor and its name.
// Every inline storage form is accepted; external data is not, since there is
// no file to resolve it against (ReadTensorFile allows it).
func DecodeTensor(data []byte) (*ir.Tensor, string, error) {
	return decodeTensorBytes(data, "")
}

func decodeTensorBytes(data []byte, dir string) (*ir.Tensor, string, error) {
	tp := &onnxpb.TensorProto{}
	if err := proto.Unmarshal(data, tp); err != nil {
		return nil, "", fmt.Errorf("not a serialized ONNX TensorProto: %v", err)
	}
	what := fmt.Sprintf("tensor %q", tp.GetName())
	t, err := tensorContext{dir: dir}.decodeTensorProto(tp, what)
	if err != nil {
		return nil, "", err
	}
	return t, tp.GetName(), nil
}

// ReadTensorFile reads a file holding one TensorProto. External data, if the
// tensor has any, is resolved next to the file. Errors start with the path.
func ReadTensorFile(path string) (*ir.Tensor, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, _, err := decodeTensorBytes(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// EncodeTensor serializes t as a TensorProto with the given name, its data in
// raw_data (little-endian), the form ONNX's own tools write.
func EncodeTensor(name string, t *ir.Tensor) ([]byte, error) {
	tp, err := tensorToProto(name, t)
	if err != nil {
		return nil, err
	}
	return proto.Marshal(tp)
}

// tensorToProto builds a TensorProto holding t in raw_data.
func tensorToProto(name string, t *ir.Tensor) (*onnxpb.TensorProto, error) {
	if t == nil {
		return nil, fmt.Errorf("tensor %q: nil tensor", name)
	}
	if err := t.Check(); err != nil {
		return nil, fmt.Errorf("tensor %q: %v", name, err)
	}
	code, ok := codec.DTypeToONNX(t.DType)
	if !ok {
		return nil, fmt.Errorf("tensor %q: dtype %v has no ONNX equivalent", name, t.DType)
	}
	dims := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = int64(d)
	}
	return &onnxpb.TensorProto{Name: name, DataType: code, Dims: dims, RawData: codec.RawBytes(t)}, nil
}

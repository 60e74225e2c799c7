// Package codec holds the ONNX tensor encoding shared by the frontend and
// the test-model builder: the mapping between ONNX element type codes and IR
// dtypes, and the little-endian byte form of raw_data and external data.
package codec

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/sqc-project/sqc/frontend/onnx/internal/onnxpb"
	"github.com/sqc-project/sqc/ir"
)

// ONNX TensorProto.DataType codes (onnx.proto3, enum TensorProto.DataType).
const (
	Undefined  = 0
	Float      = 1
	Uint8      = 2
	Int8       = 3
	Uint16     = 4
	Int16      = 5
	Int32      = 6
	Int64      = 7
	String     = 8
	Bool       = 9
	Float16    = 10
	Double     = 11
	Uint32     = 12
	Uint64     = 13
	Complex64  = 14
	Complex128 = 15
	BFloat16   = 16
)

var onnxToDType = map[int32]ir.DType{
	Float:    ir.Float32,
	Uint8:    ir.Uint8,
	Int8:     ir.Int8,
	Uint16:   ir.Uint16,
	Int16:    ir.Int16,
	Int32:    ir.Int32,
	Int64:    ir.Int64,
	Bool:     ir.Bool,
	Float16:  ir.Float16,
	Double:   ir.Float64,
	Uint32:   ir.Uint32,
	Uint64:   ir.Uint64,
	BFloat16: ir.BFloat16,
}

// TypeName names an ONNX data type code for error messages.
func TypeName(code int32) string {
	if n, ok := onnxpb.TensorProto_DataType_name[code]; ok {
		return n
	}
	return "data type " + strconv.Itoa(int(code))
}

// DTypeFromONNX maps an ONNX element type code to the IR's dtype. Types the
// IR has no storage for (strings, complex numbers, 8-bit floats, 4-bit
// integers) are an error.
func DTypeFromONNX(code int32) (ir.DType, error) {
	if dt, ok := onnxToDType[code]; ok {
		return dt, nil
	}
	if code == Undefined {
		return ir.InvalidDType, errors.New("element type is UNDEFINED")
	}
	return ir.InvalidDType, fmt.Errorf("unsupported dtype %s (want a number or bool type: FLOAT, DOUBLE, FLOAT16, BFLOAT16, INT8..INT64, UINT8..UINT64, BOOL)", TypeName(code))
}

// DTypeToONNX is the inverse of DTypeFromONNX.
func DTypeToONNX(dt ir.DType) (int32, bool) {
	for code, d := range onnxToDType {
		if d == dt {
			return code, true
		}
	}
	return 0, false
}

// RawBytes returns a tensor's elements as little-endian bytes, the encoding of
// ONNX raw_data and external data files (bool as one byte, 0 or 1). The
// tensor must pass t.Check.
func RawBytes(t *ir.Tensor) []byte {
	return ir.AppendLE(make([]byte, 0, t.Len()*t.DType.Size()), t.Data, 0, t.Len())
}

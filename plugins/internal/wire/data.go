package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"github.com/sqc-project/sqc/ir"
)

// The protocol stores tensors little-endian, and both sides move them as raw
// memory (a file read straight into a []float32, a mapping seen as one), so
// the machine's own order must be little-endian: every platform sqc targets
// (amd64, arm64) is.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// errBigEndian is reported instead of misreading every tensor.
var errBigEndian = errors.New("the sqc plugin protocol needs a little-endian machine")

// bytesOf returns the memory of a tensor's data as bytes, without copying.
// It is nil for data of an unknown Go type.
func bytesOf(data any) []byte {
	switch s := data.(type) {
	case []float32:
		return view(s, 4)
	case []float64:
		return view(s, 8)
	case []uint16:
		return view(s, 2)
	case []int8:
		return view(s, 1)
	case []uint8:
		return s
	case []int16:
		return view(s, 2)
	case []int32:
		return view(s, 4)
	case []uint32:
		return view(s, 4)
	case []int64:
		return view(s, 8)
	case []uint64:
		return view(s, 8)
	case []bool:
		return view(s, 1)
	}
	return nil
}

// view reinterprets a slice of fixed-size, pointer-free elements as bytes.
func view[T any](s []T, size int) []byte {
	if len(s) == 0 {
		return []byte{}
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*size)
}

// over reinterprets b as n elements of dt without copying; b must hold
// exactly n elements and be aligned for the element type. The caller keeps b
// alive (and, for a mapping, mapped) as long as the result is used.
func over(dt ir.DType, b []byte, n int) any {
	if n == 0 {
		return ir.MakeData(dt, 0)
	}
	p := unsafe.Pointer(unsafe.SliceData(b))
	switch dt {
	case ir.Float32:
		return unsafe.Slice((*float32)(p), n)
	case ir.Float64:
		return unsafe.Slice((*float64)(p), n)
	case ir.Float16, ir.BFloat16, ir.Uint16:
		return unsafe.Slice((*uint16)(p), n)
	case ir.Int8:
		return unsafe.Slice((*int8)(p), n)
	case ir.Uint8:
		return b[:n:n]
	case ir.Int16:
		return unsafe.Slice((*int16)(p), n)
	case ir.Int32:
		return unsafe.Slice((*int32)(p), n)
	case ir.Uint32:
		return unsafe.Slice((*uint32)(p), n)
	case ir.Int64:
		return unsafe.Slice((*int64)(p), n)
	case ir.Uint64:
		return unsafe.Slice((*uint64)(p), n)
	case ir.Bool:
		return unsafe.Slice((*bool)(p), n)
	}
	return nil
}

// aligned reports whether b's first byte is aligned for elements of size.
func aligned(b []byte, size int) bool {
	return len(b) == 0 || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%uintptr(size) == 0
}

// checkBools reports a byte that is not a valid Go bool: bytes that came from
// the other side of the protocol are untrusted, and a []bool holding a 2
// would misbehave in ways no check could later explain.
func checkBools(b []byte) error {
	for i, v := range b {
		if v > 1 {
			return fmt.Errorf("bool element %d is byte %d, want 0 or 1", i, v)
		}
	}
	return nil
}

// tensorSize returns the element count and byte size of a tensor of dtype dt
// and shape dims, checking that both fit in an int.
func tensorSize(dt ir.DType, dims []int64) (n int, bytes int64, err error) {
	size := int64(dt.Size())
	if size == 0 {
		return 0, 0, fmt.Errorf("dtype %v has no storage", dt)
	}
	count := int64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, 0, fmt.Errorf("negative dim %d in shape %v", d, dims)
		}
		if d != 0 && count > maxInt/size/d {
			return 0, 0, fmt.Errorf("shape %v is too large", dims)
		}
		count *= d
	}
	return int(count), count * size, nil
}

// Reuse returns the data of a tensor the host sent that a plugin returned
// as an input extent, as n elements of dt: t's own data when shared is
// false and the dtype is t's (the host's tensor moves into the result
// without a copy), else a copy, so that no two values of a graph share
// memory a later pass could change through one of them.
func Reuse(t *ir.Tensor, dt ir.DType, n int, shared bool) (any, error) {
	src := bytesOf(t.Data)
	if want := n * dt.Size(); len(src) != want || dt.Size() == 0 {
		return nil, fmt.Errorf("input extent of %d bytes read as %d %v elements", len(src), n, dt)
	}
	if dt == t.DType && !shared {
		return t.Data, nil
	}
	if dt == ir.Bool && t.DType != ir.Bool {
		if err := checkBools(src); err != nil {
			return nil, err
		}
	}
	data := ir.MakeData(dt, n)
	copy(bytesOf(data), src)
	return data, nil
}

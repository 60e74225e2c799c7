package ir

import (
	"encoding/binary"
	"fmt"
	"math"
)

// AppendLE appends the little-endian bytes of elements [from, to) of a
// tensor's Data (bool as one byte, 0 or 1): the encoding of ONNX raw_data,
// of .sqir blobs and of engine weights.
func AppendLE(b []byte, data any, from, to int) []byte {
	le := binary.LittleEndian
	switch s := data.(type) {
	case []float32:
		for _, v := range s[from:to] {
			b = le.AppendUint32(b, math.Float32bits(v))
		}
	case []float64:
		for _, v := range s[from:to] {
			b = le.AppendUint64(b, math.Float64bits(v))
		}
	case []uint16:
		for _, v := range s[from:to] {
			b = le.AppendUint16(b, v)
		}
	case []int8:
		for _, v := range s[from:to] {
			b = append(b, byte(v))
		}
	case []uint8:
		b = append(b, s[from:to]...)
	case []int16:
		for _, v := range s[from:to] {
			b = le.AppendUint16(b, uint16(v))
		}
	case []int32:
		for _, v := range s[from:to] {
			b = le.AppendUint32(b, uint32(v))
		}
	case []uint32:
		for _, v := range s[from:to] {
			b = le.AppendUint32(b, v)
		}
	case []int64:
		for _, v := range s[from:to] {
			b = le.AppendUint64(b, uint64(v))
		}
	case []uint64:
		for _, v := range s[from:to] {
			b = le.AppendUint64(b, v)
		}
	case []bool:
		for _, v := range s[from:to] {
			if v {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		}
	}
	return b
}

// PutLE stores little-endian bytes b (a whole number of elements) into a
// tensor's Data from element off on; the inverse of AppendLE. A bool byte
// other than 0 or 1 is an error (a []bool could not give it back), which
// reports the element's index.
func PutLE(data any, off int, b []byte) error {
	le := binary.LittleEndian
	switch s := data.(type) {
	case []float32:
		for i := range s[off : off+len(b)/4] {
			s[off+i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	case []float64:
		for i := range s[off : off+len(b)/8] {
			s[off+i] = math.Float64frombits(le.Uint64(b[8*i:]))
		}
	case []uint16:
		for i := range s[off : off+len(b)/2] {
			s[off+i] = le.Uint16(b[2*i:])
		}
	case []int8:
		for i, v := range b {
			s[off+i] = int8(v)
		}
	case []uint8:
		copy(s[off:], b)
	case []int16:
		for i := range s[off : off+len(b)/2] {
			s[off+i] = int16(le.Uint16(b[2*i:]))
		}
	case []int32:
		for i := range s[off : off+len(b)/4] {
			s[off+i] = int32(le.Uint32(b[4*i:]))
		}
	case []uint32:
		for i := range s[off : off+len(b)/4] {
			s[off+i] = le.Uint32(b[4*i:])
		}
	case []int64:
		for i := range s[off : off+len(b)/8] {
			s[off+i] = int64(le.Uint64(b[8*i:]))
		}
	case []uint64:
		for i := range s[off : off+len(b)/8] {
			s[off+i] = le.Uint64(b[8*i:])
		}
	case []bool:
		for i, v := range b {
			if v > 1 {
				return fmt.Errorf("element %d is byte %d, want 0 or 1 for bool", off+i, v)
			}
			s[off+i] = v == 1
		}
	}
	return nil
}

package sqir

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/sqc-project/sqc/ir"
)

// maxListElems is the largest constant the printer writes as a list; larger
// ones are base64 blobs.
const maxListElems = 16

// appendElem writes element i of a tensor as a list element.
func appendElem(b []byte, t *ir.Tensor, i int) []byte {
	switch s := t.Data.(type) {
	case []float32:
		return appendF32(b, s[i])
	case []float64:
		return appendF64(b, s[i])
	case []uint16:
		if t.DType == ir.Uint16 {
			return strconv.AppendUint(b, uint64(s[i]), 10)
		}
		return appendHalf(b, s[i], t.DType)
	case []int8:
		return strconv.AppendInt(b, int64(s[i]), 10)
	case []uint8:
		return strconv.AppendUint(b, uint64(s[i]), 10)
	case []int16:
		return strconv.AppendInt(b, int64(s[i]), 10)
	case []int32:
		return strconv.AppendInt(b, int64(s[i]), 10)
	case []uint32:
		return strconv.AppendUint(b, uint64(s[i]), 10)
	case []int64:
		return strconv.AppendInt(b, s[i], 10)
	case []uint64:
		return strconv.AppendUint(b, s[i], 10)
	case []bool:
		return strconv.AppendBool(b, s[i])
	}
	return b // unreachable: the printer checks tensors first
}

// appendLE appends the little-endian bytes of elements [from, to) of data.
func appendLE(b []byte, data any, from, to int) []byte {
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

// putLE stores little-endian bytes b (a whole number of elements) into data
// from element off on. A bool byte other than 0 or 1 is an error, since a
// []bool cannot keep it; it reports the element's index.
func putLE(data any, off int, b []byte) error {
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

// setElem parses a list element token into element i of data. It returns a
// message (without position) on failure.
func setElem(data any, dt ir.DType, i int, t token) string {
	if t.kind != tNumber && !(t.kind == tIdent && (t.text == "inf" || t.text == "nan" || t.text == "true" || t.text == "false")) {
		return fmt.Sprintf("expected a %v element, found %s", dt, describe(t))
	}
	if dt == ir.Bool {
		switch t.text {
		case "true":
			data.([]bool)[i] = true
		case "false":
			data.([]bool)[i] = false
		default:
			return fmt.Sprintf("expected true or false for a bool element, found %s", describe(t))
		}
		return ""
	}
	if t.kind == tIdent && (t.text == "true" || t.text == "false") {
		return fmt.Sprintf("expected a %v element, found %s", dt, describe(t))
	}
	if dt.IsFloat() {
		bits, err := parseFloatBits(t.text, dt)
		if err != nil {
			return numberError(err, t.text, dt.String())
		}
		switch s := data.(type) {
		case []float32:
			s[i] = math.Float32frombits(uint32(bits))
		case []float64:
			s[i] = math.Float64frombits(bits)
		case []uint16:
			s[i] = uint16(bits)
		}
		return ""
	}
	bits := dt.Size() * 8
	switch s := data.(type) {
	case []uint8, []uint16, []uint32, []uint64:
		v, err := parseUint(t.text, bits)
		if err != nil {
			return numberError(err, t.text, dt.String())
		}
		switch s := s.(type) {
		case []uint8:
			s[i] = uint8(v)
		case []uint16:
			s[i] = uint16(v)
		case []uint32:
			s[i] = uint32(v)
		case []uint64:
			s[i] = v
		}
		return ""
	}
	v, err := parseInt(t.text, bits)
	if err != nil {
		return numberError(err, t.text, dt.String())
	}
	switch s := data.(type) {
	case []int8:
		s[i] = int8(v)
	case []int16:
		s[i] = int16(v)
	case []int32:
		s[i] = int32(v)
	case []int64:
		s[i] = v
	}
	return ""
}

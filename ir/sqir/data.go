package sqir

import (
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

package sqir

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sqc-project/sqc/ir"
)

// The NaN bit patterns written as "nan"; every other NaN prints as its bits.
const (
	nanF32  = 0x7fc00000
	nanF64  = 0x7ff8000000000000
	nanF16  = 0x7e00
	nanBF16 = 0x7fc0
)

// appendHexBits writes bits as 0x followed by width hex digits.
func appendHexBits(b []byte, bits uint64, width int) []byte {
	b = append(b, '0', 'x')
	s := strconv.FormatUint(bits, 16)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// appendF32 writes a float32 so that parseFloatBits reads back its bits.
func appendF32(b []byte, f float32) []byte {
	bits := math.Float32bits(f)
	switch {
	case f != f:
		if bits == nanF32 {
			return append(b, "nan"...)
		}
		return appendHexBits(b, uint64(bits), 8)
	case math.IsInf(float64(f), 1):
		return append(b, "inf"...)
	case math.IsInf(float64(f), -1):
		return append(b, "-inf"...)
	}
	return strconv.AppendFloat(b, float64(f), 'g', -1, 32)
}

// appendF64 writes a float64 so that parseFloatBits reads back its bits.
func appendF64(b []byte, f float64) []byte {
	bits := math.Float64bits(f)
	switch {
	case f != f:
		if bits == nanF64 {
			return append(b, "nan"...)
		}
		return appendHexBits(b, bits, 16)
	case math.IsInf(f, 1):
		return append(b, "inf"...)
	case math.IsInf(f, -1):
		return append(b, "-inf"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// appendHalf writes an f16 or bf16 bit pattern as the float32 it converts
// to (exactly), or as its bits if it is a NaN other than the canonical one.
func appendHalf(b []byte, h uint16, dt ir.DType) []byte {
	var f float32
	canon := uint16(nanF16)
	if dt == ir.BFloat16 {
		f, canon = ir.BFloat16ToFloat32(h), nanBF16
	} else {
		f = ir.HalfToFloat32(h)
	}
	if f != f {
		if h == canon {
			return append(b, "nan"...)
		}
		return appendHexBits(b, uint64(h), 4)
	}
	return appendF32(b, f)
}

// appendFloatAttr writes a float attribute so that it reads back as a
// float: with a '.' or an exponent where 'g' wrote an integer. hex reports
// that it wrote a bit pattern, which then needs a kind suffix.
func appendFloatAttr(b []byte, f float32) (out []byte, hex bool) {
	start := len(b)
	b = appendF32(b, f)
	s := b[start:]
	if len(s) > 2 && s[0] == '0' && s[1] == 'x' {
		return b, true
	}
	for _, c := range s {
		if c != '-' && !isDigit(c) {
			return b, false
		}
	}
	return append(b, '.', '0'), false
}

// floatLooking reports whether a number token reads as a float when no kind
// says otherwise: it has a fraction, an exponent, or is inf or nan.
func floatLooking(s string) bool {
	u := strings.TrimLeft(s, "+-")
	if u == "inf" || u == "nan" {
		return true
	}
	if strings.HasPrefix(u, "0x") || strings.HasPrefix(u, "0X") {
		return strings.ContainsAny(u, "pP")
	}
	return strings.ContainsAny(u, ".eE")
}

var errRange = errors.New("out of range")

// parseInt reads a decimal or 0x-hexadecimal integer of the given bit size.
func parseInt(s string, bits int) (int64, error) {
	neg := false
	u := s
	if u != "" && (u[0] == '-' || u[0] == '+') {
		neg = u[0] == '-'
		u = u[1:]
	}
	if strings.HasPrefix(u, "0x") || strings.HasPrefix(u, "0X") {
		m, err := strconv.ParseUint(u[2:], 16, 64)
		if err != nil || strings.ContainsRune(u, '_') {
			return 0, numErr(err)
		}
		lim := uint64(1) << (bits - 1)
		if neg {
			if m > lim {
				return 0, errRange
			}
			return int64(-m), nil
		}
		if m >= lim {
			return 0, errRange
		}
		return int64(m), nil
	}
	v, err := strconv.ParseInt(s, 10, bits)
	return v, numErr(err)
}

// parseUint reads an unsigned decimal or 0x-hexadecimal integer.
func parseUint(s string, bits int) (uint64, error) {
	s = strings.TrimPrefix(s, "+")
	if strings.HasPrefix(s, "-") {
		if _, err := strconv.ParseUint(s[1:], 0, 64); err == nil {
			return 0, errRange
		}
		return 0, strconv.ErrSyntax
	}
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		if strings.ContainsRune(s, '_') {
			return 0, strconv.ErrSyntax
		}
		v, err := strconv.ParseUint(s[2:], 16, bits)
		return v, numErr(err)
	}
	v, err := strconv.ParseUint(s, 10, bits)
	return v, numErr(err)
}

// numErr reduces strconv's errors to errRange or strconv.ErrSyntax.
func numErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, strconv.ErrRange) {
		return errRange
	}
	return strconv.ErrSyntax
}

// parseFloatBits reads a float literal as the bit pattern of dt (f32, f64,
// f16 or bf16): a decimal or hex float, inf, -inf, nan, or 0x bits.
func parseFloatBits(s string, dt ir.DType) (uint64, error) {
	width := dt.Size() * 8
	neg := strings.HasPrefix(s, "-")
	u := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	switch {
	case u == "nan":
		if len(u) != len(s) {
			return 0, strconv.ErrSyntax // a NaN's sign is written in its bits
		}
		switch dt {
		case ir.Float32:
			return nanF32, nil
		case ir.Float64:
			return nanF64, nil
		case ir.Float16:
			return nanF16, nil
		}
		return nanBF16, nil
	case u == "inf":
		f := math.Inf(1)
		if neg {
			f = math.Inf(-1)
		}
		return floatToBits(f, dt), nil
	case (strings.HasPrefix(u, "0x") || strings.HasPrefix(u, "0X")) && !strings.ContainsAny(u, "pP"):
		if len(u) != len(s) || strings.ContainsRune(u, '_') {
			return 0, strconv.ErrSyntax
		}
		v, err := strconv.ParseUint(u[2:], 16, width)
		return v, numErr(err)
	case u == "" || !(isDigit(u[0]) || u[0] == '.') || strings.ContainsRune(u, '_'):
		// strconv would also take "Infinity", "NaN" and 1_000.
		return 0, strconv.ErrSyntax
	}
	if dt == ir.Float64 {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, numErr(err)
		}
		return math.Float64bits(f), nil
	}
	// f16 and bf16 go through float32: a printed value is a float32 that
	// the 16-bit type holds exactly, so the conversion is exact.
	f, err := strconv.ParseFloat(s, 32)
	if err != nil {
		return 0, numErr(err)
	}
	bits := floatToBits(f, dt)
	if dt != ir.Float32 && math.IsInf(float64(bitsToFloat32(bits, dt)), 0) {
		return 0, errRange
	}
	return bits, nil
}

func floatToBits(f float64, dt ir.DType) uint64 {
	switch dt {
	case ir.Float64:
		return math.Float64bits(f)
	case ir.Float16:
		return uint64(ir.Float32ToHalf(float32(f)))
	case ir.BFloat16:
		return uint64(ir.Float32ToBFloat16(float32(f)))
	}
	return uint64(math.Float32bits(float32(f)))
}

func bitsToFloat32(bits uint64, dt ir.DType) float32 {
	switch dt {
	case ir.Float16:
		return ir.HalfToFloat32(uint16(bits))
	case ir.BFloat16:
		return ir.BFloat16ToFloat32(uint16(bits))
	}
	return math.Float32frombits(uint32(bits))
}

// numberError words a number conversion failure for a parse error.
func numberError(err error, text, what string) string {
	if errors.Is(err, errRange) {
		return fmt.Sprintf("%s out of range for %s", text, what)
	}
	return fmt.Sprintf("malformed %s %q", what, text)
}

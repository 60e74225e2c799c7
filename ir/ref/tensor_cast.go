package ref

// Cast between every pair of dtypes, with ONNX's rules:
//
//   - float to float rounds to nearest even; past the target's range it
//     gives ±inf. float64 to float16 or bfloat16 rounds once, correctly
//     (through float32 rounded to odd, which cannot double-round).
//   - float to integer truncates toward zero. ONNX leaves values outside the
//     target's range undefined; this kernel saturates them to the target's
//     minimum or maximum, and NaN becomes 0, so the result is deterministic
//     and the GPU can be asked to match it.
//   - integer to integer keeps the low bits (two's complement wrap: 200 as
//     i16 is -56 as i8); integer to float rounds to nearest.
//   - to bool: zero (and -0.0) is false, everything else (NaN too) is true;
//     from bool: 1 and 0.
//
// The saturate attribute only concerns 8-bit float targets, which sqc does
// not have; it is accepted and has no effect.
//
// Every cast goes through a wide intermediate (int64 for integer and bool
// sources, float64 for float sources, both exact) in chunks, so there is one
// decoder per source type and one encoder per target type instead of one
// loop per pair.

import (
	"fmt"
	"math"

	"github.com/sqc-project/sqc/ir"
)

func init() {
	register("Cast", castKernel)
}

// castChunk is how many elements go through the intermediate at a time.
const castChunk = 2048

func castKernel(_ *ir.Node, in, out []*ir.Tensor) error {
	x, y := in[0], out[0]
	if x.Len() != y.Len() {
		return fmt.Errorf("output %v does not hold the %d elements of %v", y.Shape, x.Len(), x.Shape)
	}
	if x.DType == y.DType {
		copy(rawBytes(y), rawBytes(x))
		return nil
	}
	// The workers below must not fail (a panic there would not be
	// recovered), so every dtype is checked here.
	for _, t := range []*ir.Tensor{x, y} {
		if err := t.Check(); err != nil || t.DType.Size() == 0 {
			return fmt.Errorf("cannot cast %v to %v: %v tensor holds %T", x.DType, y.DType, t.DType, t.Data)
		}
	}
	parallelFor(x.Len(), elementwiseGrain, func(lo, hi int) {
		fbuf := make([]float64, castChunk)
		ibuf := make([]int64, castChunk)
		for c := lo; c < hi; c += castChunk {
			e := min(c+castChunk, hi)
			if x.DType.IsFloat() {
				f := fbuf[:e-c]
				decodeFloats(x, c, f)
				encodeFloats(y, c, f)
			} else {
				v := ibuf[:e-c]
				decodeInts(x, c, v)
				encodeInts(y, c, v, x.DType == ir.Uint64)
			}
		}
	})
	return nil
}

// decodeFloats reads len(buf) elements of a float tensor from index at.
func decodeFloats(t *ir.Tensor, at int, buf []float64) {
	switch s := t.Data.(type) {
	case []float32:
		for i, v := range s[at : at+len(buf)] {
			buf[i] = float64(v)
		}
	case []float64:
		copy(buf, s[at:at+len(buf)])
	case []uint16:
		if t.DType == ir.BFloat16 {
			for i, v := range s[at : at+len(buf)] {
				buf[i] = float64(ir.BFloat16ToFloat32(v))
			}
		} else {
			for i, v := range s[at : at+len(buf)] {
				buf[i] = float64(ir.HalfToFloat32(v))
			}
		}
	default:
		panic(fmt.Sprintf("ref: cast from %v", t.DType))
	}
}

// decodeInts reads len(buf) elements of an integer or bool tensor from index
// at. A uint64 above MaxInt64 keeps its bits (the encoder is told).
func decodeInts(t *ir.Tensor, at int, buf []int64) {
	switch s := t.Data.(type) {
	case []int8:
		widen(buf, s[at:at+len(buf)])
	case []uint8:
		widen(buf, s[at:at+len(buf)])
	case []int16:
		widen(buf, s[at:at+len(buf)])
	case []uint16:
		widen(buf, s[at:at+len(buf)])
	case []int32:
		widen(buf, s[at:at+len(buf)])
	case []uint32:
		widen(buf, s[at:at+len(buf)])
	case []int64:
		copy(buf, s[at:at+len(buf)])
	case []uint64:
		widen(buf, s[at:at+len(buf)])
	case []bool:
		for i, v := range s[at : at+len(buf)] {
			buf[i] = 0
			if v {
				buf[i] = 1
			}
		}
	default:
		panic(fmt.Sprintf("ref: cast from %v", t.DType))
	}
}

func widen[T int8 | uint8 | int16 | uint16 | int32 | uint32 | uint64](dst []int64, src []T) {
	for i, v := range src {
		dst[i] = int64(v)
	}
}

// encodeFloats stores float values into t from index at.
func encodeFloats(t *ir.Tensor, at int, buf []float64) {
	switch t.DType {
	case ir.Float32:
		d := t.Float32s()[at : at+len(buf)]
		for i, v := range buf {
			d[i] = float32(v)
		}
	case ir.Float64:
		copy(t.Data.([]float64)[at:], buf)
	case ir.Float16:
		d := t.Data.([]uint16)[at : at+len(buf)]
		for i, v := range buf {
			d[i] = ir.Float32ToHalf(roundToOdd32(v))
		}
	case ir.BFloat16:
		d := t.Data.([]uint16)[at : at+len(buf)]
		for i, v := range buf {
			d[i] = ir.Float32ToBFloat16(roundToOdd32(v))
		}
	case ir.Int8:
		floatsToInts(t.Int8s()[at:at+len(buf)], buf, math.MinInt8, math.MaxInt8)
	case ir.Int16:
		floatsToInts(t.Data.([]int16)[at:at+len(buf)], buf, math.MinInt16, math.MaxInt16)
	case ir.Int32:
		floatsToInts(t.Int32s()[at:at+len(buf)], buf, math.MinInt32, math.MaxInt32)
	case ir.Int64:
		floatsToInts(t.Int64s()[at:at+len(buf)], buf, math.MinInt64, math.MaxInt64)
	case ir.Uint8:
		floatsToUints(t.Uint8s()[at:at+len(buf)], buf, math.MaxUint8)
	case ir.Uint16:
		floatsToUints(t.Data.([]uint16)[at:at+len(buf)], buf, math.MaxUint16)
	case ir.Uint32:
		floatsToUints(t.Data.([]uint32)[at:at+len(buf)], buf, math.MaxUint32)
	case ir.Uint64:
		floatsToUints(t.Data.([]uint64)[at:at+len(buf)], buf, math.MaxUint64)
	case ir.Bool:
		d := t.Data.([]bool)[at : at+len(buf)]
		for i, v := range buf {
			d[i] = v != 0
		}
	default:
		panic(fmt.Sprintf("ref: cast to %v", t.DType))
	}
}

// roundToOdd32 rounds x to float32 toward zero and, when that was inexact,
// sets the last mantissa bit. Rounding the result to nearest even in a
// format at least two bits narrower (float16, bfloat16) then gives the
// correctly rounded value of x, which rounding x to nearest float32 first
// would not always.
func roundToOdd32(x float64) float32 {
	f := float32(x)
	if float64(f) == x || x != x {
		return f
	}
	if math.Abs(float64(f)) > math.Abs(x) {
		f = math.Nextafter32(f, 0)
	}
	return math.Float32frombits(math.Float32bits(f) | 1)
}

// floatsToInts truncates toward zero, saturating to [lo, hi] (NaN gives 0).
// The bounds compare as float64: lo is exact, and hi rounds up to a power of
// two for int64, where >= then still marks exactly the values out of range.
func floatsToInts[T int8 | int16 | int32 | int64](dst []T, src []float64, lo, hi int64) {
	flo, fhi := float64(lo), float64(hi)
	for i, v := range src {
		switch {
		case v != v:
			dst[i] = 0
		case v <= flo:
			dst[i] = T(lo)
		case v >= fhi:
			dst[i] = T(hi)
		default:
			dst[i] = T(int64(v))
		}
	}
}

// floatsToUints is floatsToInts for unsigned targets (lower bound 0).
func floatsToUints[T uint8 | uint16 | uint32 | uint64](dst []T, src []float64, hi uint64) {
	fhi := float64(hi)
	for i, v := range src {
		switch {
		case v != v || v <= 0:
			dst[i] = 0
		case v >= fhi:
			dst[i] = T(hi)
		default:
			dst[i] = T(uint64(v))
		}
	}
}

// encodeInts stores integer values into t from index at; unsigned says the
// values are uint64 bit patterns.
func encodeInts(t *ir.Tensor, at int, buf []int64, unsigned bool) {
	switch t.DType {
	case ir.Float32:
		d := t.Float32s()[at : at+len(buf)]
		for i, v := range buf {
			if unsigned {
				d[i] = float32(uint64(v))
			} else {
				d[i] = float32(v)
			}
		}
	case ir.Float64, ir.Float16, ir.BFloat16:
		f := make([]float64, len(buf))
		for i, v := range buf {
			if unsigned {
				f[i] = float64(uint64(v))
			} else {
				f[i] = float64(v)
			}
		}
		encodeFloats(t, at, f)
	case ir.Int8:
		narrow(t.Int8s()[at:at+len(buf)], buf)
	case ir.Uint8:
		narrow(t.Uint8s()[at:at+len(buf)], buf)
	case ir.Int16:
		narrow(t.Data.([]int16)[at:at+len(buf)], buf)
	case ir.Uint16:
		narrow(t.Data.([]uint16)[at:at+len(buf)], buf)
	case ir.Int32:
		narrow(t.Int32s()[at:at+len(buf)], buf)
	case ir.Uint32:
		narrow(t.Data.([]uint32)[at:at+len(buf)], buf)
	case ir.Int64:
		copy(t.Int64s()[at:], buf)
	case ir.Uint64:
		narrow(t.Data.([]uint64)[at:at+len(buf)], buf)
	case ir.Bool:
		d := t.Data.([]bool)[at : at+len(buf)]
		for i, v := range buf {
			d[i] = v != 0
		}
	default:
		panic(fmt.Sprintf("ref: cast to %v", t.DType))
	}
}

// narrow keeps the low bits of each value (Go's integer conversion).
func narrow[T int8 | uint8 | int16 | uint16 | int32 | uint32 | uint64](dst []T, src []int64) {
	for i, v := range src {
		dst[i] = T(v)
	}
}

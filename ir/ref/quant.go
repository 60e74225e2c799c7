package ref

import (
	"fmt"
	"math"

	"github.com/sqc-project/sqc/ir"
)

// The arithmetic of quantization, which the GPU backend reproduces bit for
// bit. Every step is IEEE float32 with round-to-nearest-even unless stated,
// and the order of operations is part of the definition:
//
//	QuantizeLinear   q = sat(rne(x / s) + zp)        x / s: one float32 division
//	DequantizeLinear y = float32(q - zp) * s          q - zp exact in integers
//	requantization   q = sat(rne(float32(acc) * m) + zp)
//	                 m = float32(float32(s_x * s_w) / s_y)
//
// rne rounds half to even (2.5 → 2, 3.5 → 4, -2.5 → -2), as numpy's rint
// and PTX's cvt.rni do. The zero point is added after rounding, never
// before: rne(v + zp) differs from rne(v) + zp on ties when zp is odd. sat
// clamps to the target type's range; +Inf and -Inf saturate, and NaN, which
// has no nearest integer, counts as 0 before the zero point is added (so it
// becomes the zero point, the code of real 0; PTX's cvt.rni.s32.f32 also
// gives 0 for NaN). float32(acc) rounds to nearest even above 2²⁴.
//
// The float32 multiplier follows ONNX Runtime (and the float32 inputs of
// ONNX's reference), and float32(acc)·m is one float32 multiply, the
// natural GPU epilogue. Both match every libonnx-testdata expected output.

// quantInt is the set of integer element types the quantization ops read or
// write.
type quantInt interface {
	~int8 | ~uint8 | ~int16 | ~uint16 | ~int32
}

// QuantRange returns the saturation range [lo, hi] of a quantized dtype, and
// false for a dtype that is not one.
func QuantRange(dt ir.DType) (lo, hi int32, ok bool) {
	switch dt {
	case ir.Int8:
		return math.MinInt8, math.MaxInt8, true
	case ir.Uint8:
		return 0, math.MaxUint8, true
	case ir.Int16:
		return math.MinInt16, math.MaxInt16, true
	case ir.Uint16:
		return 0, math.MaxUint16, true
	case ir.Int32:
		return math.MinInt32, math.MaxInt32, true
	}
	return 0, 0, false
}

// roundSat is sat(rne(v) + zp) over [lo, hi], with NaN rounding to 0. It
// works in float64, where rne(v) of a float32 v and its sum with a 16-bit
// zero point are exact.
func roundSat(v float32, zp, lo, hi int32) int32 {
	r := math.RoundToEven(float64(v))
	if r != r {
		r = 0
	}
	r += float64(zp)
	if r <= float64(lo) {
		return lo
	}
	if r >= float64(hi) {
		return hi
	}
	return int32(r)
}

// QuantizeValue quantizes one float32 as QuantizeLinear does:
// sat(rne(x / scale) + zp) in the range of dt (Int8, Uint8, Int16, Uint16).
func QuantizeValue(x, scale float32, zp int32, dt ir.DType) int32 {
	lo, hi, _ := QuantRange(dt)
	return roundSat(x/scale, zp, lo, hi)
}

// RequantMultiplier is the float32 factor that maps an int32 accumulator of
// (x - x_zp)(w - w_zp) products to output units: (xScale · wScale) / yScale,
// each operation rounded to float32, in that order.
func RequantMultiplier(xScale, wScale, yScale float32) float32 {
	return float32(float32(xScale*wScale) / yScale)
}

// Requantize maps an int32 accumulator (bias included) to the output type
// dt: sat(rne(float32(acc) · mult) + zp).
func Requantize(acc int32, mult float32, zp int32, dt ir.DType) int32 {
	lo, hi, _ := QuantRange(dt)
	return roundSat(float32(float32(acc)*mult), zp, lo, hi)
}

func init() {
	register("QuantizeLinear", quantizeLinear)
	register("DequantizeLinear", dequantizeLinear)
}

// qAxisParams reads a scale tensor and an optional zero point for a tensor
// of the given shape and returns one scale and one zero point per index of
// the quantized axis (a single entry when per-tensor) with the axis split
// of the data: outer × len(scales) × inner elements.
func qAxisParams(n *ir.Node, shape []int, scale, zp *ir.Tensor) (scales []float32, zps []int32, outer, inner int, err error) {
	scales, err = qScales(scale)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	zps = make([]int32, len(scales))
	if zp != nil {
		z := qZeroPoints(zp)
		switch {
		case len(z) == len(scales):
			copy(zps, z)
		case len(z) == 1:
			for i := range zps {
				zps[i] = z[0]
			}
		case len(scales) == 1:
			scales = append(make([]float32, 0, len(z)), scales[0])
			for len(scales) < len(z) {
				scales = append(scales, scales[0])
			}
			zps = z
		default:
			return nil, nil, 0, 0, fmt.Errorf("%d scales and %d zero points, want the same number", len(scales), len(z))
		}
	}
	total := ir.NumElements(shape)
	if len(scales) == 1 {
		return scales, zps, 1, total, nil
	}
	axis, err := ir.NormAxis(n.Attrs.Int("axis", 1), len(shape))
	if err != nil {
		return nil, nil, 0, 0, fmt.Errorf("per-axis quantization: %v", err)
	}
	if shape[axis] != len(scales) {
		return nil, nil, 0, 0, fmt.Errorf("%d scales for axis %d of size %d", len(scales), axis, shape[axis])
	}
	return scales, zps, ir.NumElements(shape[:axis]), ir.NumElements(shape[axis+1:]), nil
}

// qOpt returns optional input i, or nil when the node has fewer inputs or
// leaves it out.
func qOpt(in []*ir.Tensor, i int) *ir.Tensor {
	if i < len(in) {
		return in[i]
	}
	return nil
}

// qScales returns a float32 scale tensor's values.
func qScales(t *ir.Tensor) ([]float32, error) {
	s, ok := t.Data.([]float32)
	if !ok || len(s) == 0 {
		return nil, fmt.Errorf("scale is %v with %d elements, want a non-empty f32 tensor", t.DType, t.Len())
	}
	return s, nil
}

// qZeroPoints returns an integer tensor's values as int32 (nil for nil).
func qZeroPoints(t *ir.Tensor) []int32 {
	if t == nil {
		return nil
	}
	z := make([]int32, t.Len())
	for i := range z {
		z[i] = int32(t.AsInt64(i))
	}
	return z
}

func quantizeLinear(n *ir.Node, in, out []*ir.Tensor) error {
	x, ok := in[0].Data.([]float32)
	if !ok {
		return fmt.Errorf("x is %v, want f32", in[0].DType)
	}
	scales, zps, outer, inner, err := qAxisParams(n, in[0].Shape, in[1], qOpt(in, 2))
	if err != nil {
		return err
	}
	lo, hi, _ := QuantRange(out[0].DType)
	switch y := out[0].Data.(type) {
	case []int8:
		quantizeInto(x, y, scales, zps, outer, inner, lo, hi)
	case []uint8:
		quantizeInto(x, y, scales, zps, outer, inner, lo, hi)
	case []int16:
		quantizeInto(x, y, scales, zps, outer, inner, lo, hi)
	case []uint16:
		quantizeInto(x, y, scales, zps, outer, inner, lo, hi)
	default:
		return fmt.Errorf("output is %v, want i8, u8, i16 or u16", out[0].DType)
	}
	return nil
}

// quantizeInto quantizes x, laid out as outer × len(scales) × inner, into y.
func quantizeInto[T quantInt](x []float32, y []T, scales []float32, zps []int32, outer, inner int, lo, hi int32) {
	qForRuns(outer*len(scales)*inner, inner, len(scales), func(b, e, ch int) {
		s, zp := scales[ch], zps[ch]
		for j, v := range x[b:e] {
			y[b+j] = T(roundSat(v/s, zp, lo, hi))
		}
	})
}

// qForRuns splits total elements, laid out as runs of inner elements whose
// quantization channel cycles through channels, over the cores, and calls
// body for each piece of a run with its channel.
func qForRuns(total, inner, channels int, body func(b, e, ch int)) {
	if inner == 0 {
		return
	}
	parallelFor(total, 1<<14, func(b, e int) {
		for b < e {
			run := b / inner
			end := min(e, (run+1)*inner)
			body(b, end, run%channels)
			b = end
		}
	})
}

func dequantizeLinear(n *ir.Node, in, out []*ir.Tensor) error {
	scales, zps, outer, inner, err := qAxisParams(n, in[0].Shape, in[1], qOpt(in, 2))
	if err != nil {
		return err
	}
	y := out[0].Float32s()
	switch x := in[0].Data.(type) {
	case []int8:
		dequantizeInto(x, y, scales, zps, outer, inner)
	case []uint8:
		dequantizeInto(x, y, scales, zps, outer, inner)
	case []int16:
		dequantizeInto(x, y, scales, zps, outer, inner)
	case []uint16:
		dequantizeInto(x, y, scales, zps, outer, inner)
	case []int32:
		dequantizeInto(x, y, scales, zps, outer, inner)
	default:
		return fmt.Errorf("x is %v, want i8, u8, i16, u16 or i32", in[0].DType)
	}
	return nil
}

// dequantizeInto computes y = float32(x - zp) · s. The difference is taken in
// int64, so it is exact for every input type; only an int32 x whose
// difference needs more than 24 bits rounds, once, when converted.
func dequantizeInto[T quantInt](x []T, y []float32, scales []float32, zps []int32, outer, inner int) {
	qForRuns(outer*len(scales)*inner, inner, len(scales), func(b, e, ch int) {
		s, zp := scales[ch], int64(zps[ch])
		for j, v := range x[b:e] {
			y[b+j] = float32(int64(v)-zp) * s
		}
	})
}

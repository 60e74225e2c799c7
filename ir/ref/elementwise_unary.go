package ref

// Kernels of the unary activations (Relu, LeakyRelu, Sigmoid, HardSigmoid,
// HardSwish, Tanh) and Clip.
//
// float32 results of the transcendental ops (Sigmoid, Tanh, and HardSwish,
// whose x/6 rounds) are computed in float64 and rounded once: Sigmoid and
// Tanh by package fmath (machine-independent, so the GPU's kernels repeat
// them bit for bit), HardSigmoid as clamp01(float64(alpha·x) + beta) and
// HardSwish as x·clamp01(x/6 + 0.5), each operation rounded on its own. float16 and bfloat16 go through
// float32 in chunks, rounded back to nearest even.

import (
	"fmt"
	"math"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref/fmath"
)

// unaryKind selects an activation.
type unaryKind uint8

const (
	uRelu unaryKind = iota
	uLeakyRelu
	uSigmoid
	uHardSigmoid
	uHardSwish
	uTanh
)

// unaryOp is an activation with its attributes.
type unaryOp struct {
	kind        unaryKind
	alpha, beta float32
}

func init() {
	register("Relu", unaryKernel(uRelu))
	register("LeakyRelu", unaryKernel(uLeakyRelu))
	register("Sigmoid", unaryKernel(uSigmoid))
	register("HardSigmoid", unaryKernel(uHardSigmoid))
	register("HardSwish", unaryKernel(uHardSwish))
	register("Tanh", unaryKernel(uTanh))
	register("Clip", clipKernel)
}

// halfChunk is how many float16/bfloat16 elements are widened at a time.
const halfChunk = 4096

func unaryKernel(kind unaryKind) Kernel {
	return func(n *ir.Node, in, out []*ir.Tensor) error {
		op := unaryOp{kind: kind}
		switch kind {
		case uLeakyRelu:
			op.alpha = n.Attrs.Float("alpha", 0.01)
		case uHardSigmoid:
			op.alpha = n.Attrs.Float("alpha", 0.2)
			op.beta = n.Attrs.Float("beta", 0.5)
		}
		x, y := in[0], out[0]
		switch x.DType {
		case ir.Float32:
			src, dst := x.Float32s(), y.Float32s()
			parallelFor(len(dst), elementwiseGrain, func(lo, hi int) { unaryFloat(op, dst[lo:hi], src[lo:hi]) })
		case ir.Float64:
			src, dst := x.Data.([]float64), y.Data.([]float64)
			parallelFor(len(dst), elementwiseGrain, func(lo, hi int) { unaryFloat(op, dst[lo:hi], src[lo:hi]) })
		case ir.Float16, ir.BFloat16:
			src, dst := x.Data.([]uint16), y.Data.([]uint16)
			parallelFor(len(dst), elementwiseGrain, func(lo, hi int) {
				buf := make([]float32, min(halfChunk, hi-lo))
				for c := lo; c < hi; c += halfChunk {
					e := min(c+halfChunk, hi)
					b := buf[:e-c]
					decodeHalf(x.DType, b, src[c:e])
					unaryFloat(op, b, b)
					encodeHalf(x.DType, dst[c:e], b)
				}
			})
		case ir.Int8, ir.Int16, ir.Int32, ir.Int64:
			if kind != uRelu {
				return fmt.Errorf("no kernel for %v elements", x.DType)
			}
			switch src := x.Data.(type) {
			case []int8:
				reluInt(y.Int8s(), src)
			case []int16:
				reluInt(y.Data.([]int16), src)
			case []int32:
				reluInt(y.Int32s(), src)
			case []int64:
				reluInt(y.Int64s(), src)
			}
		default:
			return fmt.Errorf("no kernel for %v elements", x.DType)
		}
		return nil
	}
}

// unaryFloat applies op to src into dst (which may be src).
func unaryFloat[T float32 | float64](op unaryOp, dst, src []T) {
	src = src[:len(dst)]
	switch op.kind {
	// The builtin min and max compile without branches (a branch on the
	// sign of random activations mispredicts half the time: 10x slower), and
	// they keep NaN, as ONNX's reference does.
	case uRelu:
		for i, v := range src {
			dst[i] = max(v, 0)
		}
	case uLeakyRelu:
		// max(v,0) + min(v,0)*alpha is v or v*alpha exactly, the other term
		// being 0, unless alpha is inf or NaN (0*inf is NaN). The product is
		// rounded on its own (see the package doc): fused, a v*alpha that
		// underflows would give −0 on arm64 and +0 (0 + −0) elsewhere.
		alpha := T(op.alpha)
		if math.IsInf(float64(alpha), 0) || alpha != alpha {
			for i, v := range src {
				if v < 0 {
					v *= alpha
				}
				dst[i] = v
			}
			break
		}
		for i, v := range src {
			dst[i] = max(v, 0) + T(min(v, 0)*alpha)
		}
	case uSigmoid:
		for i, v := range src {
			dst[i] = T(fmath.Sigmoid(float64(v)))
		}
	case uHardSigmoid:
		alpha, beta := float64(op.alpha), float64(op.beta)
		for i, v := range src {
			dst[i] = T(clamp01(float64(alpha*float64(v)) + beta))
		}
	case uHardSwish:
		for i, v := range src {
			x := float64(v)
			dst[i] = T(x * clamp01(x/6+0.5))
		}
	case uTanh:
		for i, v := range src {
			dst[i] = T(fmath.Tanh(float64(v)))
		}
	}
}

// clamp01 is max(0, min(1, v)), with NaN passing through.
func clamp01(v float64) float64 { return max(0, min(1, v)) }

func reluInt[T int8 | int16 | int32 | int64](dst, src []T) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = max(v, 0)
	}
}

// decodeHalf widens float16 or bfloat16 bit patterns to float32.
func decodeHalf(dt ir.DType, dst []float32, src []uint16) {
	src = src[:len(dst)]
	if dt == ir.BFloat16 {
		for i, h := range src {
			dst[i] = ir.BFloat16ToFloat32(h)
		}
		return
	}
	for i, h := range src {
		dst[i] = ir.HalfToFloat32(h)
	}
}

// encodeHalf rounds float32 values to float16 or bfloat16, to nearest even.
func encodeHalf(dt ir.DType, dst []uint16, src []float32) {
	src = src[:len(dst)]
	if dt == ir.BFloat16 {
		for i, f := range src {
			dst[i] = ir.Float32ToBFloat16(f)
		}
		return
	}
	for i, f := range src {
		dst[i] = ir.Float32ToHalf(f)
	}
}

// clipKernel is min(max(x, lo), hi) with ONNX's Clip rules: an absent bound
// does not clip, NaN passes through, and lo > hi gives hi everywhere.
func clipKernel(_ *ir.Node, in, out []*ir.Tensor) error {
	x, y := in[0], out[0]
	var lo, hi *ir.Tensor
	if len(in) > 1 {
		lo = in[1]
	}
	if len(in) > 2 {
		hi = in[2]
	}
	for _, b := range []*ir.Tensor{lo, hi} {
		if b != nil && b.Len() != 1 {
			return fmt.Errorf("clip bound has shape %v, want a scalar", b.Shape)
		}
	}
	switch x.DType {
	case ir.Float32:
		return clipTyped[float32](x, y, lo, hi)
	case ir.Float64:
		return clipTyped[float64](x, y, lo, hi)
	case ir.Float16, ir.BFloat16:
		// Clipping picks one of the values, so going through float32 is exact.
		src, dst := x.Data.([]uint16), y.Data.([]uint16)
		l, h, hasL, hasH := float32(0), float32(0), lo != nil, hi != nil
		if hasL {
			l = float32(lo.AsFloat64(0))
		}
		if hasH {
			h = float32(hi.AsFloat64(0))
		}
		buf := make([]float32, min(halfChunk, len(src)))
		for c := 0; c < len(src); c += halfChunk {
			e := min(c+halfChunk, len(src))
			b := buf[:e-c]
			decodeHalf(x.DType, b, src[c:e])
			clipLoop(b, b, l, h, hasL, hasH)
			encodeHalf(x.DType, dst[c:e], b)
		}
		return nil
	case ir.Int8:
		return clipTyped[int8](x, y, lo, hi)
	case ir.Uint8:
		return clipTyped[uint8](x, y, lo, hi)
	case ir.Int16:
		return clipTyped[int16](x, y, lo, hi)
	case ir.Uint16:
		return clipTyped[uint16](x, y, lo, hi)
	case ir.Int32:
		return clipTyped[int32](x, y, lo, hi)
	case ir.Uint32:
		return clipTyped[uint32](x, y, lo, hi)
	case ir.Int64:
		return clipTyped[int64](x, y, lo, hi)
	case ir.Uint64:
		return clipTyped[uint64](x, y, lo, hi)
	}
	return fmt.Errorf("no kernel for %v elements", x.DType)
}

func clipTyped[T number](x, y, lo, hi *ir.Tensor) error {
	src, ok := x.Data.([]T)
	dst, ok2 := y.Data.([]T)
	if !ok || !ok2 {
		return fmt.Errorf("clip of %v data into %v", x.DType, y.DType)
	}
	var l, h T
	if lo != nil {
		v, ok := lo.Data.([]T)
		if !ok {
			return fmt.Errorf("min is %v, want %v", lo.DType, x.DType)
		}
		l = v[0]
	}
	if hi != nil {
		v, ok := hi.Data.([]T)
		if !ok {
			return fmt.Errorf("max is %v, want %v", hi.DType, x.DType)
		}
		h = v[0]
	}
	parallelFor(len(dst), elementwiseGrain, func(a, b int) {
		clipLoop(dst[a:b], src[a:b], l, h, lo != nil, hi != nil)
	})
	return nil
}

// clipLoop clips src into dst with the bounds that are present; min of max
// makes lo > hi give hi, and keeps NaN.
func clipLoop[T number](dst, src []T, lo, hi T, hasLo, hasHi bool) {
	src = src[:len(dst)]
	switch {
	case hasLo && hasHi:
		for i, v := range src {
			dst[i] = min(max(v, lo), hi)
		}
	case hasLo:
		for i, v := range src {
			dst[i] = max(v, lo)
		}
	case hasHi:
		for i, v := range src {
			dst[i] = min(v, hi)
		}
	default:
		copy(dst, src)
	}
}

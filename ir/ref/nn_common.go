package ref

import (
	"fmt"
	"sync"

	"github.com/sqc-project/sqc/ir"
)

// Helpers shared by the NN kernels (nn_*.go): float32 scratch buffers and
// the conversion that lets the float32 kernels serve f16, bf16 and f64.

// nnBufPool recycles the large float32 scratch buffers of im2col and
// col2im, so that calibration, which runs the same layers thousands of
// times, does not allocate (and zero) megabytes per layer per run.
var nnBufPool sync.Pool

// nnGetBuf returns a scratch buffer of n floats with arbitrary contents.
func nnGetBuf(n int) *[]float32 {
	if p, ok := nnBufPool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n)
	return &s
}

// nnPutBuf gives a buffer from nnGetBuf back.
func nnPutBuf(p *[]float32) { nnBufPool.Put(p) }

// nnViaFloat32 wraps a float32 kernel so that it also runs nodes whose
// float tensors are f16, bf16 or f64: those inputs are converted to f32, the
// kernel runs, and its float outputs are converted back (rounding to
// nearest even). The reference computes these ops in float32 whatever the
// storage type, as the design's "ONNX float32 semantics" says; non-float
// tensors (MaxPool's int64 Indices) pass through untouched.
func nnViaFloat32(k Kernel) Kernel {
	return func(n *ir.Node, in, out []*ir.Tensor) error {
		convert := false
		for _, ts := range [][]*ir.Tensor{in, out} {
			for _, t := range ts {
				if t != nil && t.DType.IsFloat() && t.DType != ir.Float32 {
					convert = true
				}
			}
		}
		if !convert {
			return k(n, in, out)
		}
		in32 := make([]*ir.Tensor, len(in))
		for i, t := range in {
			in32[i] = t
			if t != nil && t.DType.IsFloat() && t.DType != ir.Float32 {
				in32[i] = nnToFloat32(t)
			}
		}
		out32 := make([]*ir.Tensor, len(out))
		for i, t := range out {
			out32[i] = t
			if t.DType.IsFloat() && t.DType != ir.Float32 {
				out32[i] = ir.NewTensor(ir.Float32, t.Shape...)
			}
		}
		if err := k(n, in32, out32); err != nil {
			return err
		}
		for i, t := range out {
			if out32[i] != t {
				nnFromFloat32(out32[i].Float32s(), t)
			}
		}
		return nil
	}
}

// nnToFloat32 converts a float tensor to a new f32 tensor.
func nnToFloat32(t *ir.Tensor) *ir.Tensor {
	r := ir.NewTensor(ir.Float32, t.Shape...)
	d := r.Float32s()
	switch s := t.Data.(type) {
	case []float64:
		for i, v := range s {
			d[i] = float32(v)
		}
	case []uint16:
		if t.DType == ir.BFloat16 {
			for i, v := range s {
				d[i] = ir.BFloat16ToFloat32(v)
			}
		} else {
			for i, v := range s {
				d[i] = ir.HalfToFloat32(v)
			}
		}
	default:
		for i := range d {
			d[i] = float32(t.AsFloat64(i))
		}
	}
	return r
}

// nnFromFloat32 stores f32 values into a float tensor of another dtype.
func nnFromFloat32(src []float32, t *ir.Tensor) {
	switch d := t.Data.(type) {
	case []float64:
		for i, v := range src {
			d[i] = float64(v)
		}
	case []uint16:
		if t.DType == ir.BFloat16 {
			for i, v := range src {
				d[i] = ir.Float32ToBFloat16(v)
			}
		} else {
			for i, v := range src {
				d[i] = ir.Float32ToHalf(v)
			}
		}
	case []float32:
		copy(d, src)
	}
}

// nnFloat32 returns the data of an f32 tensor, or an error naming the
// operand when the tensor has another dtype (which the schemas and
// nnViaFloat32 should have ruled out).
func nnFloat32(t *ir.Tensor, what string) ([]float32, error) {
	d, ok := t.Data.([]float32)
	if !ok {
		return nil, fmt.Errorf("%s is %v, want f32", what, t.DType)
	}
	return d, nil
}

// nnSpatialDims returns the known dims of a concrete shape as ir.Dims, for
// the geometry resolvers.
func nnSpatialDims(s []int) []ir.Dim {
	d := make([]ir.Dim, len(s))
	for i, v := range s {
		d[i] = ir.D(int64(v))
	}
	return d
}

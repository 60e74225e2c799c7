package ref

import (
	"fmt"
	"slices"

	"github.com/sqc-project/sqc/ir"
)

// Kernels of sqc's fused ops (ir/ops_fused.go). Each runs the Conv or Gemm
// kernel of this package unchanged on its first three inputs (so the
// product and the bias are computed bit for bit as the unfused op computes
// them) and then the epilogue, act(y + r), in one pass over the output. In
// float32 the fused node therefore equals the chain Conv → Add → Relu (or
// Gemm → Add → Clip) exactly: the same operations in the same order.

func init() {
	register("FusedConv", nnViaFloat32(fusedConvF32))
	register("FusedGemm", fusedGemmKernel)
}

// fusedEpilogue is a fused node's resolved epilogue.
type fusedEpilogue struct {
	act    string
	lo, hi float32
}

// fusedPrepare reads a node's epilogue attributes and checks that the
// optional residual in[3] has the output's exact shape.
func fusedPrepare(n *ir.Node, in, out []*ir.Tensor) (*fusedEpilogue, *ir.Tensor, error) {
	act, lo, hi, err := ir.FusedActivation(n.Attrs)
	if err != nil {
		return nil, nil, err
	}
	var r *ir.Tensor
	if len(in) > 3 && in[3] != nil {
		r = in[3]
		if !slices.Equal(r.Shape, out[0].Shape) {
			return nil, nil, fmt.Errorf("residual R has shape %v, want the output's shape %v", r.Shape, out[0].Shape)
		}
		if r.DType != out[0].DType {
			return nil, nil, fmt.Errorf("residual R is %v, want %v like the output", r.DType, out[0].DType)
		}
	}
	return &fusedEpilogue{act, lo, hi}, r, nil
}

// fusedApply computes y = act(y + r) in place (r may be nil), over every
// core. The additions and the min/max are those of the Add, Relu and Clip
// kernels, so NaN propagates the same way.
func fusedApply[T float32 | float64](e *fusedEpilogue, y, r []T) {
	if r == nil && e.act == ir.ActNone {
		return
	}
	parallelFor(len(y), elementwiseGrain, func(a, b int) {
		var rs []T
		if r != nil {
			rs = r[a:b:b]
		}
		fusedApplySerial(e, y[a:b], rs)
	})
}

// fusedApplySerial is fusedApply on the calling goroutine.
func fusedApplySerial[T float32 | float64](e *fusedEpilogue, ys, rs []T) {
	if rs != nil {
		rs = rs[:len(ys):len(ys)]
		for i := range ys {
			ys[i] += rs[i]
		}
	}
	lo, hi := T(e.lo), T(e.hi)
	switch e.act {
	case ir.ActRelu:
		for i, v := range ys {
			ys[i] = max(v, 0)
		}
	case ir.ActClip:
		for i, v := range ys {
			ys[i] = min(max(v, lo), hi)
		}
	}
}

func fusedConvF32(n *ir.Node, in, out []*ir.Tensor) error {
	e, r, err := fusedPrepare(n, in, out)
	if err != nil {
		return err
	}
	var rd []float32
	if r != nil {
		if rd, err = nnFloat32(r, "residual R"); err != nil {
			return err
		}
	}
	if rd == nil && e.act == ir.ActNone {
		return convF32(n, in[:min(len(in), 3)], out)
	}
	// convF32 reads X, W and the bias (in[0:3]) and the conv attributes;
	// the epilogue attributes mean nothing to it. The epilogue runs on
	// each image's output as soon as the convolution has written it,
	// while it is still in the cache: as a pass over the whole batch's
	// output after the convolution it was a twentieth of a ResNet-50
	// calibration's time.
	y := out[0].Float32s()
	return convF32Then(n, in[:min(len(in), 3)], out, func(lo, hi int, parallel bool) {
		var rs []float32
		if rd != nil {
			rs = rd[lo:hi]
		}
		if parallel {
			fusedApply(e, y[lo:hi], rs)
		} else {
			fusedApplySerial(e, y[lo:hi], rs)
		}
	})
}

func fusedGemmKernel(n *ir.Node, in, out []*ir.Tensor) error {
	switch in[0].DType {
	case ir.Float32:
		return fusedGemmF32(n, in, out)
	case ir.Float16, ir.BFloat16:
		return nnViaFloat32(fusedGemmF32)(n, in, out)
	case ir.Float64:
		e, r, err := fusedPrepare(n, in, out)
		if err != nil {
			return err
		}
		if err := gemmPlain[float64](n, in[:min(len(in), 3)], out); err != nil {
			return err
		}
		var rd []float64
		if r != nil {
			rd = r.Data.([]float64)
		}
		fusedApply(e, out[0].Data.([]float64), rd)
		return nil
	}
	return fmt.Errorf("input A is %v, want a float type", in[0].DType)
}

func fusedGemmF32(n *ir.Node, in, out []*ir.Tensor) error {
	e, r, err := fusedPrepare(n, in, out)
	if err != nil {
		return err
	}
	if err := gemmF32(n, in[:min(len(in), 3)], out); err != nil {
		return err
	}
	var rd []float32
	if r != nil {
		if rd, err = nnFloat32(r, "residual R"); err != nil {
			return err
		}
	}
	fusedApply(e, out[0].Float32s(), rd)
	return nil
}

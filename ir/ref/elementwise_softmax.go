package ref

// Kernels of Softmax and LogSoftmax (opset 13: along one axis).
//
// Both subtract the lane's maximum before exponentiating, so large inputs
// (1e4, say) give the exact answer instead of inf/inf, and accumulate in
// float64. The arithmetic, which the GPU's softmax kernel repeats operation
// for operation: m = the lane's maximum, folded in index order from −Inf
// with "v > m" (a NaN never wins; it reaches the output through exp);
// e_k = fmath.Exp(float64(x_k) − m); s = Σ e_k added in index order from
// 0 in float64; Softmax is e_k/s rounded once, LogSoftmax
// (float64(x_k) − m) − fmath.Log(s) rounded once. A lane of −Inf only (a
// fully masked row) has m = −Inf and gives NaN, as ONNX's reference does. A lane is the n elements along the axis at one position of the
// other dims; they are inner elements apart, so the kernel walks inner lanes
// side by side and every memory access is contiguous.

import (
	"fmt"
	"math"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref/fmath"
)

func init() {
	register("Softmax", softmaxKernel(false))
	register("LogSoftmax", softmaxKernel(true))
}

func softmaxKernel(logOut bool) Kernel {
	return func(n *ir.Node, in, out []*ir.Tensor) error {
		x, y := in[0], out[0]
		axis, err := ir.NormAxis(n.Attrs.Int("axis", -1), len(x.Shape))
		if err != nil {
			return err
		}
		if x.Len() == 0 {
			return nil
		}
		outer := ir.NumElements(x.Shape[:axis])
		size := x.Shape[axis]
		inner := ir.NumElements(x.Shape[axis+1:])
		switch x.DType {
		case ir.Float32:
			softmaxBlocks(y.Float32s(), x.Float32s(), outer, size, inner, logOut)
		case ir.Float64:
			softmaxBlocks(y.Data.([]float64), x.Data.([]float64), outer, size, inner, logOut)
		case ir.Float16, ir.BFloat16:
			r := make([]float32, y.Len())
			softmaxBlocks(r, toFloat32(x), outer, size, inner, logOut)
			fromFloat32(y, r)
		default:
			return fmt.Errorf("no kernel for %v elements", x.DType)
		}
		return nil
	}
}

// softmaxBlocks runs the outer blocks (size*inner elements each) over the
// cores.
func softmaxBlocks[T float32 | float64](dst, src []T, outer, size, inner int, logOut bool) {
	block := size * inner
	parallelFor(outer, max(1, elementwiseGrain/block), func(lo, hi int) {
		m := make([]float64, inner)
		s := make([]float64, inner)
		e := make([]float64, block)
		for o := lo; o < hi; o++ {
			softmaxBlock(dst[o*block:(o+1)*block], src[o*block:(o+1)*block], size, inner, logOut, m, s, e)
		}
	})
}

// softmaxBlock computes one block: m, s and e are scratch for the lane
// maxima, the lane sums and the exponentials.
func softmaxBlock[T float32 | float64](dst, src []T, size, inner int, logOut bool, m, s, e []float64) {
	for j := range m {
		m[j] = math.Inf(-1)
		s[j] = 0
	}
	for k := 0; k < size; k++ {
		row := src[k*inner : (k+1)*inner]
		for j, v := range row {
			// A NaN never compares greater; it reaches the output through exp.
			if float64(v) > m[j] {
				m[j] = float64(v)
			}
		}
	}
	for k := 0; k < size; k++ {
		row := src[k*inner : (k+1)*inner]
		ex := e[k*inner : (k+1)*inner]
		for j, v := range row {
			ex[j] = fmath.Exp(float64(v) - m[j])
			s[j] += ex[j]
		}
	}
	if logOut {
		for j := range s {
			s[j] = fmath.Log(s[j])
		}
		for k := 0; k < size; k++ {
			row, d := src[k*inner:(k+1)*inner], dst[k*inner:(k+1)*inner]
			for j, v := range row {
				d[j] = T(float64(v) - m[j] - s[j])
			}
		}
		return
	}
	for k := 0; k < size; k++ {
		ex, d := e[k*inner:(k+1)*inner], dst[k*inner:(k+1)*inner]
		for j, v := range ex {
			d[j] = T(v / s[j])
		}
	}
}

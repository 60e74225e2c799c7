package ref

import (
	"fmt"
	"math"

	"github.com/sqc-project/sqc/ir"
)

func init() {
	register("BatchNormalization", nnViaFloat32(batchNormF32))
}

// batchNormF32 is inference batch normalization over axis 1:
//
//	y = (x − mean[c]) · (scale[c] / sqrt(var[c] + epsilon)) + B[c]
//
// The per-channel factor is computed in float64 and rounded once; x − mean
// is kept as its own step (rather than folding mean into the offset) so
// that values near the mean lose no more precision than ONNX's formula.
func batchNormF32(n *ir.Node, in, out []*ir.Tensor) error {
	x := in[0]
	xd, err := nnFloat32(x, "input")
	if err != nil {
		return err
	}
	var p [4][]float32
	for i, name := range []string{"scale", "bias", "mean", "variance"} {
		if p[i], err = nnFloat32(in[i+1], name); err != nil {
			return err
		}
	}
	yd, err := nnFloat32(out[0], "output")
	if err != nil {
		return err
	}
	scale, bias, mean, variance := p[0], p[1], p[2], p[3]
	eps := float64(n.Attrs.Float("epsilon", 1e-5))
	nb, c := x.Shape[0], x.Shape[1]
	for i, s := range p {
		if len(s) != c {
			return fmt.Errorf("input %d has %d values, want %d (one per channel)", i+1, len(s), c)
		}
	}
	inner := ir.NumElements(x.Shape[2:])
	factor := make([]float32, c)
	for ch := range factor {
		factor[ch] = float32(float64(scale[ch]) / math.Sqrt(float64(variance[ch])+eps))
	}
	parallelFor(nb*c, max(1, 16384/max(1, inner)), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			ch := pl % c
			f, m, b := factor[ch], mean[ch], bias[ch]
			src, dst := xd[pl*inner:(pl+1)*inner], yd[pl*inner:(pl+1)*inner]
			for i, v := range src {
				dst[i] = float32((v-m)*f) + b // the product rounded on its own (see the package doc)
			}
		}
	})
	return nil
}

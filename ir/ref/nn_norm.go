package ref

// Kernels of InstanceNormalization, LayerNormalization and
// GroupNormalization. Each normalizes rows of the input (a channel of an
// image, the trailing dims from axis, a group of channels) by their own mean
// and variance, then applies a scale and bias. Statistics are computed in
// float64 with the two-pass formula (mean, then the mean of squared
// deviations), so they do not lose precision on rows with a large mean, and
// the result is rounded once to the storage type. Every product is rounded
// on its own (an explicit float64 conversion keeps the compiler from fusing
// it into the next sum on CPUs that have a fused multiply-add), as the GPU's
// layer normalization kernel computes it.

import (
	"math"

	"github.com/sqc-project/sqc/ir"
)

func init() {
	register("InstanceNormalization", instanceNormKernel)
	register("GroupNormalization", groupNormKernel)
	register("LayerNormalization", layerNormKernel)
}

// normalizeRows replaces each of the rows of x (consecutive runs of size
// elements) by (x - mean) / sqrt(var + eps), and returns each row's mean
// and 1/sqrt(var + eps).
func normalizeRows(x []float64, size int, eps float64) (mean, inv []float64) {
	rows := 0
	if size > 0 {
		rows = len(x) / size
	}
	mean, inv = make([]float64, rows), make([]float64, rows)
	parallelFor(rows, max(1, 1<<14/max(size, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := x[r*size : (r+1)*size]
			m := 0.0
			for _, v := range row {
				m += v
			}
			m /= float64(size)
			v2 := 0.0
			for _, v := range row {
				d := v - m
				v2 += float64(d * d)
			}
			s := 1 / math.Sqrt(v2/float64(size)+eps)
			for i, v := range row {
				row[i] = (v - m) * s
			}
			mean[r], inv[r] = m, s
		}
	})
	return mean, inv
}

// channelAffine sets x = x*scale[c] + bias[c] for x of shape N×C×S (S the
// product of the spatial dims).
func channelAffine(x []float64, shape []int, scale, bias *ir.Tensor) {
	ch := shape[1]
	spatial := ir.NumElements(shape[2:])
	sc, b := float64s(scale), float64s(bias)
	for i := range x {
		c := (i / spatial) % ch
		x[i] = float64(x[i]*sc[c]) + b[c]
	}
}

func instanceNormKernel(n *ir.Node, in, out []*ir.Tensor) error {
	x := float64s(in[0])
	normalizeRows(x, ir.NumElements(in[0].Shape[2:]), float64(n.Attrs.Float("epsilon", 1e-5)))
	channelAffine(x, in[0].Shape, in[1], in[2])
	encodeFloats(out[0], 0, x)
	return nil
}

func groupNormKernel(n *ir.Node, in, out []*ir.Tensor) error {
	x := float64s(in[0])
	g := int(n.Attrs.Int("num_groups", 1))
	if len(x) > 0 {
		normalizeRows(x, len(x)/(in[0].Shape[0]*g), float64(n.Attrs.Float("epsilon", 1e-5)))
	}
	channelAffine(x, in[0].Shape, in[1], in[2])
	encodeFloats(out[0], 0, x)
	return nil
}

func layerNormKernel(n *ir.Node, in, out []*ir.Tensor) error {
	xt := in[0]
	axis, err := ir.NormAxis(n.Attrs.Int("axis", -1), len(xt.Shape))
	if err != nil {
		return err
	}
	x := float64s(xt)
	mean, inv := normalizeRows(x, ir.NumElements(xt.Shape[axis:]), float64(n.Attrs.Float("epsilon", 1e-5)))
	affine := func(i int, t *ir.Tensor, apply func(k int, v float64)) {
		if i >= len(in) || in[i] == nil {
			return
		}
		vals := float64s(in[i])
		forEachBroadcast(xt.Shape, [][]int{broadcastStrides(t.Shape, xt.Shape)}, func(o int, offs []int) { apply(o, vals[offs[0]]) })
	}
	affine(1, in[1], func(o int, s float64) { x[o] = float64(x[o] * s) })
	if len(in) > 2 {
		affine(2, in[2], func(o int, b float64) { x[o] += b })
	}
	encodeFloats(out[0], 0, x)
	if len(out) > 1 {
		encodeFloats(out[1], 0, mean)
	}
	if len(out) > 2 {
		encodeFloats(out[2], 0, inv)
	}
	return nil
}

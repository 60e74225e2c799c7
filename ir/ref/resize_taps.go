package ref

import "github.com/sqc-project/sqc/ir"

// ResizeTaps returns the interpolation the reference executor uses for one
// axis of a Resize node with attributes attrs, resized from in to out
// positions at the given scale (ir.ResolveResize's) over the whole input
// (no region of interest): output position j reads input positions
// idx[j*taps : (j+1)*taps] (clamped to the input) with weights
// w[j*taps : (j+1)*taps]. A backend that combines them as resizeAxis does
// (the first tap's product, then each later tap of nonzero weight added, in
// float64) computes the reference's values bit for bit.
// tf_crop_and_resize is not covered: its positions outside the region take
// the extrapolation value.
func ResizeTaps(attrs ir.Attrs, in, out int, scale float64) (taps int, idx []int, w []float64) {
	t := makeTaps(attrs, in, out, scale, 0, 1)
	return t.n, t.idx, t.w
}

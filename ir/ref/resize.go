package ref

// Resize. Interpolation is separable: each resized axis is done in turn,
// every output position along it being a weighted sum of a few input
// positions (1 tap for nearest, 2 for linear, 4 for cubic), so n-linear and
// n-cubic resizing are products of 1-d ones, as the ONNX reference defines
// them. The taps follow the reference: the original coordinate x of an
// output position comes from the coordinate transformation; with f =
// floor(x) and r = x - f (taken as f = x-1, r = 1 when x is whole, so the
// taps are those the reference's nearest-neighbour search picks), linear
// reads f and f+1, cubic f-1 … f+2, and indices outside the input read its
// edge. Values are computed in float64 and rounded once.

import (
	"math"

	"github.com/sqc-project/sqc/ir"
)

func init() { register("Resize", resizeKernel) }

// resizeTaps is the interpolation of one axis: output position j reads
// input positions idx[j*n : (j+1)*n] with weights w[j*n : (j+1)*n]; outside
// marks positions that tf_crop_and_resize sets to the extrapolation value.
type resizeTaps struct {
	n       int
	idx     []int
	w       []float64
	outside []bool
}

func resizeKernel(n *ir.Node, in, out []*ir.Tensor) error {
	x, y := in[0], out[0]
	var scales []float64
	var sizes []int64
	if len(in) > 2 && in[2] != nil {
		scales = float64s(in[2])
	}
	if len(in) > 3 && in[3] != nil {
		sizes = intsOf(in[3])
	}
	axes, err := ir.ResolveResize(x.Shape, scales, sizes, n.Attrs)
	if err != nil {
		return err
	}
	var roi []float64
	if len(in) > 1 && in[1] != nil && in[1].Len() > 0 {
		roi = float64s(in[1])
	}
	ctm := n.Attrs.String("coordinate_transformation_mode", "half_pixel")
	data := float64s(x)
	shape := append([]int{}, x.Shape...)
	taps := make([]*resizeTaps, len(shape))
	for a, ra := range axes {
		if ra.Out == int64(shape[a]) && ra.Scale == 1 && ctm != "tf_crop_and_resize" {
			continue // the identity for every mode
		}
		lo, hi := 0.0, 1.0
		if roi != nil {
			lo, hi = resizeROI(roi, a, len(shape), n.Attrs)
		}
		taps[a] = makeTaps(n.Attrs, shape[a], int(ra.Out), ra.Scale, lo, hi)
		data = resizeAxis(data, shape, a, taps[a])
		shape[a] = int(ra.Out)
	}
	if ctm == "tf_crop_and_resize" {
		ext := float64(n.Attrs.Float("extrapolation_value", 0))
		idx := make([]int, len(shape))
		for o := range data {
			for a, t := range taps {
				if t != nil && t.outside[idx[a]] {
					data[o] = ext
					break
				}
			}
			for d := len(shape) - 1; d >= 0; d-- {
				if idx[d]++; idx[d] < shape[d] {
					break
				}
				idx[d] = 0
			}
		}
	}
	encodeFloats(y, 0, data)
	return nil
}

// resizeROI returns the start and end of axis a in roi, which lists the
// starts of every resized axis and then their ends.
func resizeROI(roi []float64, a, rank int, attrs ir.Attrs) (float64, float64) {
	axes := make([]int64, rank)
	for i := range axes {
		axes[i] = int64(i)
	}
	if attrs.Has("axes") {
		axes = attrs.Ints("axes")
	}
	for i, ax := range axes {
		if ax < 0 {
			ax += int64(rank)
		}
		if int(ax) == a && len(roi) == 2*len(axes) {
			return roi[i], roi[i+len(axes)]
		}
	}
	return 0, 1
}

// makeTaps computes the interpolation of an axis of in elements resized to
// out with the given scale.
func makeTaps(attrs ir.Attrs, in, out int, scale, roiLo, roiHi float64) *resizeTaps {
	mode := attrs.String("mode", "nearest")
	ctm := attrs.String("coordinate_transformation_mode", "half_pixel")
	nearest := attrs.String("nearest_mode", "round_prefer_floor")
	cubicA := float64(attrs.Float("cubic_coeff_a", -0.75))
	exclude := attrs.Int("exclude_outside", 0) != 0
	n := map[string]int{"nearest": 1, "linear": 2, "cubic": 4}[mode]
	t := &resizeTaps{n: n, idx: make([]int, out*n), w: make([]float64, out*n), outside: make([]bool, out)}
	fin, fout := float64(in), scale*float64(in) // the output length before flooring
	for j := 0; j < out; j++ {
		xr := float64(j)
		var xo float64
		switch ctm {
		case "align_corners":
			// The output length here is the integer one, as the spec's
			// formula and ONNX Runtime have it (the reference's
			// scale*length differs when that is fractional).
			if out != 1 {
				xo = xr * (fin - 1) / float64(out-1)
			}
		case "asymmetric":
			xo = xr / scale
		case "tf_crop_and_resize":
			if out == 1 {
				xo = (roiHi - roiLo) * (fin - 1) / 2
			} else {
				xo = xr * (roiHi - roiLo) * (fin - 1) / float64(out-1)
			}
			xo += float64(roiLo * (fin - 1))
			t.outside[j] = xo < 0 || xo > fin-1
		case "pytorch_half_pixel":
			xo = -0.5
			if float64(out) != 1 {
				xo = (xr+0.5)/scale - 0.5
			}
		case "tf_half_pixel_for_nn":
			xo = (xr + 0.5) / scale
		case "half_pixel_symmetric":
			adjust := float64(out) / fout
			center := fin / 2
			xo = float64(center*(1-adjust)) + (xr+0.5)/scale - 0.5
		default: // half_pixel
			xo = (xr+0.5)/scale - 0.5
		}
		f := math.Floor(xo)
		r := xo - f
		if r == 0 {
			f, r = f-1, 1
		}
		idx, w := t.idx[j*n:(j+1)*n], t.w[j*n:(j+1)*n]
		switch mode {
		case "nearest":
			up := false
			switch nearest {
			case "round_prefer_ceil":
				up = r >= 0.5
			case "floor":
				up = r == 1
			case "ceil":
				up = true
			default: // round_prefer_floor
				up = r > 0.5
			}
			idx[0], w[0] = int(f), 1
			if up {
				idx[0] = int(f) + 1
			}
		case "linear":
			idx[0], idx[1] = int(f), int(f)+1
			w[0], w[1] = 1-r, r
		case "cubic":
			a := cubicA
			outer := func(t float64) float64 { // ((a·t − 5a)·t + 8a)·t − 4a, for 1 ≤ t ≤ 2
				v := float64(a*t) - float64(5*a)
				v = float64(v*t) + float64(8*a)
				return float64(v*t) - float64(4*a)
			}
			inner := func(t float64) float64 { // ((a+2)·t − (a+3))·t·t + 1, for t ≤ 1
				v := float64((a+2)*t) - (a + 3)
				return float64(v*t*t) + 1
			}
			w[0], w[1], w[2], w[3] = outer(r+1), inner(r), inner(1-r), outer(2-r)
			for k := range idx {
				idx[k] = int(f) - 1 + k
			}
		}
		if exclude {
			sum := 0.0
			for k, i := range idx {
				if i < 0 || i >= in {
					w[k] = 0
				}
				sum += w[k]
			}
			for k := range w {
				w[k] /= sum
			}
		}
		for k, i := range idx {
			idx[k] = min(max(i, 0), in-1)
		}
	}
	return t
}

// resizeAxis interpolates axis a of data (of the given shape) with taps.
func resizeAxis(data []float64, shape []int, a int, t *resizeTaps) []float64 {
	outer := ir.NumElements(shape[:a])
	inner := ir.NumElements(shape[a+1:])
	in := shape[a]
	out := len(t.outside)
	res := make([]float64, outer*out*inner)
	parallelFor(outer, max(1, 1<<14/max(1, out*inner)), func(lo, hi int) {
		for o := lo; o < hi; o++ {
			src := data[o*in*inner : (o+1)*in*inner]
			dst := res[o*out*inner : (o+1)*out*inner]
			for j := 0; j < out; j++ {
				row := dst[j*inner : (j+1)*inner]
				for k := 0; k < t.n; k++ {
					w := t.w[j*t.n+k]
					s := src[t.idx[j*t.n+k]*inner:]
					if k == 0 {
						for i := range row {
							row[i] = w * s[i]
						}
						continue
					}
					if w == 0 {
						continue
					}
					for i := range row {
						row[i] += float64(w * s[i])
					}
				}
			}
		}
	})
	return res
}

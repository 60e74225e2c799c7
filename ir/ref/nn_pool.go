package ref

import (
	"fmt"
	"math"

	"github.com/sqc-project/sqc/ir"
)

// Pooling: MaxPool (with its optional Indices output), AveragePool,
// GlobalAveragePool and GlobalMaxPool, for any number of spatial dims.
//
// A pool's windows are the same for every (image, channel) plane, so they
// are laid out once per call (nnPoolTaps) and then every plane is reduced
// in a tight loop, the planes split over the cores.

func init() {
	register("MaxPool", maxPoolKernel)
	register("AveragePool", nnViaFloat32(averagePoolF32))
	register("GlobalAveragePool", nnViaFloat32(globalAveragePoolF32))
	register("GlobalMaxPool", nnViaFloat32(globalMaxPoolF32))
}

// nnPoolTaps lists, for every output position o of one plane, the input
// positions its window covers: offs[start[o]:start[o+1]] are their
// row-major offsets (taps in the padding left out) in row-major window
// order, colMajor the same positions' column-major offsets (MaxPool's
// storage_order 1), and padded[o] the number of window taps that fall
// inside the input or its explicit padding (AveragePool's divisor with
// count_include_pad; taps that ceil_mode pushes past the end padding are
// not counted).
type nnPoolTaps struct {
	start, offs, colMajor, padded []int
}

func nnMakePoolTaps(g *ir.ConvGeom, wantColMajor bool) *nnPoolTaps {
	k := len(g.Kernel)
	outN, kN := ir.NumElements(g.Out), ir.NumElements(g.Kernel)
	rowStrides := ir.Strides(g.In)
	colStrides := make([]int, k)
	acc := 1
	for d := 0; d < k; d++ {
		colStrides[d] = acc
		acc *= g.In[d]
	}
	pt := &nnPoolTaps{start: make([]int, outN+1), padded: make([]int, outN), offs: make([]int, 0, outN*kN)}
	oIdx, kIdx := make([]int, k), make([]int, k)
	for o := 0; o < outN; o++ {
		unravelInto(o, g.Out, oIdx)
		pt.start[o] = len(pt.offs)
		padded := 1
		for d := 0; d < k; d++ {
			n := 0
			for kd := 0; kd < g.Kernel[d]; kd++ {
				i := oIdx[d]*g.Strides[d] - g.PadBegin[d] + kd*g.Dilations[d]
				if i >= -g.PadBegin[d] && i < g.In[d]+g.PadEnd[d] {
					n++
				}
			}
			padded *= n
		}
		pt.padded[o] = padded
		for kf := 0; kf < kN; kf++ {
			unravelInto(kf, g.Kernel, kIdx)
			row, col, inside := 0, 0, true
			for d := 0; d < k; d++ {
				i := oIdx[d]*g.Strides[d] - g.PadBegin[d] + kIdx[d]*g.Dilations[d]
				if i < 0 || i >= g.In[d] {
					inside = false
					break
				}
				row += i * rowStrides[d]
				col += i * colStrides[d]
			}
			if inside {
				pt.offs = append(pt.offs, row)
				if wantColMajor {
					pt.colMajor = append(pt.colMajor, col)
				}
			}
		}
	}
	pt.start[outN] = len(pt.offs)
	return pt
}

// nnPoolGeom resolves a pool node's window over input x.
func nnPoolGeom(n *ir.Node, x *ir.Tensor) (*ir.ConvGeom, error) {
	ks := n.Attrs.Ints("kernel_shape")
	if len(ks) != len(x.Shape)-2 {
		return nil, fmt.Errorf("kernel_shape %v does not fit input shape %v", ks, x.Shape)
	}
	kernel := make([]int, len(ks))
	for i, v := range ks {
		kernel[i] = int(v)
	}
	return ir.ResolveConvGeom(n.Attrs, nnSpatialDims(x.Shape[2:]), kernel, n.Attrs.Int("ceil_mode", 0) == 1)
}

func maxPoolKernel(n *ir.Node, in, out []*ir.Tensor) error {
	switch in[0].DType {
	case ir.Float32:
		return maxPool(n, in[0], out, float32(math.Inf(-1)))
	case ir.Float64:
		return maxPool(n, in[0], out, math.Inf(-1))
	case ir.Int8:
		return maxPool(n, in[0], out, int8(math.MinInt8))
	case ir.Uint8:
		return maxPool(n, in[0], out, uint8(0))
	case ir.Float16, ir.BFloat16:
		// Widening to f32 and back is exact, and so is a maximum.
		return nnViaFloat32(func(n *ir.Node, in, out []*ir.Tensor) error {
			return maxPool(n, in[0], out, float32(math.Inf(-1)))
		})(n, in, out)
	}
	return fmt.Errorf("input is %v, want a float type, i8 or u8", in[0].DType)
}

// maxPool computes Y and, when the node asks for it, Indices: the flat
// index into X (batch and channel included) of each window's first
// maximum, with the spatial part row-major (storage_order 0) or
// column-major (1). Taps in the padding never win; a window with no tap
// inside the input gives lowest and index -1. A NaN in a window is its
// maximum, as in numpy and PyTorch.
func maxPool[T float32 | float64 | int8 | uint8](n *ir.Node, x *ir.Tensor, out []*ir.Tensor, lowest T) error {
	g, err := nnPoolGeom(n, x)
	if err != nil {
		return err
	}
	xd, yd := x.Data.([]T), out[0].Data.([]T)
	var idx []int64
	if len(out) > 1 && out[1] != nil {
		idx = out[1].Int64s()
	}
	colMajor := n.Attrs.Int("storage_order", 0) == 1
	pt := nnMakePoolTaps(g, idx != nil && colMajor)
	inN, outN := ir.NumElements(g.In), ir.NumElements(g.Out)
	planes := x.Shape[0] * x.Shape[1]
	if len(yd) != planes*outN {
		return fmt.Errorf("output has %d elements, want %d", len(yd), planes*outN)
	}
	parallelFor(planes, max(1, 4096/max(1, outN)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			src, dst := xd[p*inN:(p+1)*inN], yd[p*outN:(p+1)*outN]
			for o := range dst {
				best, at := lowest, -1
				for t := pt.start[o]; t < pt.start[o+1]; t++ {
					// best == best is false once a NaN won: NaNs propagate.
					if v := src[pt.offs[t]]; at < 0 || (best == best && (v > best || v != v)) {
						best, at = v, t
					}
				}
				dst[o] = best
				if idx == nil {
					continue
				}
				switch {
				case at < 0:
					idx[p*outN+o] = -1
				case colMajor:
					idx[p*outN+o] = int64(p*inN + pt.colMajor[at])
				default:
					idx[p*outN+o] = int64(p*inN + pt.offs[at])
				}
			}
		}
	})
	return nil
}

// averagePoolF32 divides each window's sum by the number of its taps
// inside the input, or with count_include_pad by the number inside the
// input and its explicit padding.
func averagePoolF32(n *ir.Node, in, out []*ir.Tensor) error {
	x := in[0]
	xd, err := nnFloat32(x, "input")
	if err != nil {
		return err
	}
	yd, err := nnFloat32(out[0], "output")
	if err != nil {
		return err
	}
	g, err := nnPoolGeom(n, x)
	if err != nil {
		return err
	}
	includePad := n.Attrs.Int("count_include_pad", 0) == 1
	pt := nnMakePoolTaps(g, false)
	inN, outN := ir.NumElements(g.In), ir.NumElements(g.Out)
	planes := x.Shape[0] * x.Shape[1]
	if len(yd) != planes*outN {
		return fmt.Errorf("output has %d elements, want %d", len(yd), planes*outN)
	}
	parallelFor(planes, max(1, 4096/max(1, outN)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			src, dst := xd[p*inN:(p+1)*inN], yd[p*outN:(p+1)*outN]
			for o := range dst {
				var s float32
				for _, off := range pt.offs[pt.start[o]:pt.start[o+1]] {
					s += src[off]
				}
				count := pt.start[o+1] - pt.start[o]
				if includePad {
					count = pt.padded[o]
				}
				if count == 0 {
					// A window wholly in the padding averages nothing.
					dst[o] = float32(math.NaN())
					if includePad {
						dst[o] = 0
					}
					continue
				}
				dst[o] = s / float32(count)
			}
		}
	})
	return nil
}

// nnGlobalPool reduces every plane of x to one value.
func nnGlobalPool(in, out []*ir.Tensor, reduce func(plane []float32) float32) error {
	x := in[0]
	xd, err := nnFloat32(x, "input")
	if err != nil {
		return err
	}
	yd, err := nnFloat32(out[0], "output")
	if err != nil {
		return err
	}
	planes := x.Shape[0] * x.Shape[1]
	if len(yd) != planes {
		return fmt.Errorf("output has %d elements, want %d", len(yd), planes)
	}
	inN := ir.NumElements(x.Shape[2:])
	parallelFor(planes, max(1, 16384/max(1, inN)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			yd[p] = reduce(xd[p*inN : (p+1)*inN])
		}
	})
	return nil
}

// globalAveragePoolF32 sums in float64, so the mean of a large plane does
// not drift with the order of the additions.
func globalAveragePoolF32(_ *ir.Node, in, out []*ir.Tensor) error {
	return nnGlobalPool(in, out, func(plane []float32) float32 {
		var s float64
		for _, v := range plane {
			s += float64(v)
		}
		return float32(s / float64(len(plane)))
	})
}

// globalMaxPoolF32 propagates NaNs, as MaxPool does.
func globalMaxPoolF32(_ *ir.Node, in, out []*ir.Tensor) error {
	return nnGlobalPool(in, out, func(plane []float32) float32 {
		best := float32(math.Inf(-1))
		if len(plane) > 0 {
			best = plane[0]
		}
		for _, v := range plane {
			if best != best {
				break
			}
			if v > best || v != v {
				best = v
			}
		}
		return best
	})
}

package ref

import "github.com/sqc-project/sqc/ir"

// im2col lays out the receptive fields of one image and one channel group as
// the columns of a matrix, so that convolution becomes a GEMM:
//
//	col[(c*K1*…*Kk + kernel offset) * outSpatial + output position]
//
// x is one image's channels [c0, c0+cg) of shape spatial (C×D1×…×Dk laid out
// row-major from x[0]); positions in the padding read pad (0 for float
// convolution, the input zero point for integer convolution). col must have
// cg*prod(Kernel)*prod(Out) elements.
func im2col[T any](x []T, cg int, g *ir.ConvGeom, pad T, col []T) {
	if len(g.Kernel) == 2 {
		im2col2D(x, cg, g, pad, col)
		return
	}
	im2colND(x, cg, g, pad, col)
}

func im2col2D[T any](x []T, cg int, g *ir.ConvGeom, pad T, col []T) {
	ih, iw := g.In[0], g.In[1]
	oh, ow := g.Out[0], g.Out[1]
	kh, kw := g.Kernel[0], g.Kernel[1]
	sh, sw := g.Strides[0], g.Strides[1]
	dh, dw := g.Dilations[0], g.Dilations[1]
	ph, pw := g.PadBegin[0], g.PadBegin[1]
	row := 0
	for c := 0; c < cg; c++ {
		plane := x[c*ih*iw : (c+1)*ih*iw]
		for ky := 0; ky < kh; ky++ {
			for kx := 0; kx < kw; kx++ {
				dst := col[row*oh*ow : (row+1)*oh*ow]
				row++
				for y := 0; y < oh; y++ {
					iy := y*sh - ph + ky*dh
					d := dst[y*ow : (y+1)*ow]
					if iy < 0 || iy >= ih {
						for i := range d {
							d[i] = pad
						}
						continue
					}
					src := plane[iy*iw : (iy+1)*iw]
					ix := -pw + kx*dw
					if sw == 1 && ix >= 0 && ix+ow <= iw {
						copy(d, src[ix:ix+ow])
						continue
					}
					for xo := 0; xo < ow; xo++ {
						if ix >= 0 && ix < iw {
							d[xo] = src[ix]
						} else {
							d[xo] = pad
						}
						ix += sw
					}
				}
			}
		}
	}
}

func im2colND[T any](x []T, cg int, g *ir.ConvGeom, pad T, col []T) {
	k := len(g.Kernel)
	inStrides := ir.Strides(g.In)
	inSize := ir.NumElements(g.In)
	outN := ir.NumElements(g.Out)
	kN := ir.NumElements(g.Kernel)
	kIdx := make([]int, k)
	oIdx := make([]int, k)
	row := 0
	for c := 0; c < cg; c++ {
		plane := x[c*inSize : (c+1)*inSize]
		for kf := 0; kf < kN; kf++ {
			unravelInto(kf, g.Kernel, kIdx)
			dst := col[row*outN : (row+1)*outN]
			row++
			for o := 0; o < outN; o++ {
				unravelInto(o, g.Out, oIdx)
				off, inside := 0, true
				for d := 0; d < k; d++ {
					i := oIdx[d]*g.Strides[d] - g.PadBegin[d] + kIdx[d]*g.Dilations[d]
					if i < 0 || i >= g.In[d] {
						inside = false
						break
					}
					off += i * inStrides[d]
				}
				if inside {
					dst[o] = plane[off]
				} else {
					dst[o] = pad
				}
			}
		}
	}
}

func unravelInto(i int, dims, idx []int) {
	for d := len(dims) - 1; d >= 0; d-- {
		idx[d] = i % dims[d]
		i /= dims[d]
	}
}

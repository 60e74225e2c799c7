package dataset

import (
	"image"
	"image/draw"
	"math"
)

// Resizing follows Pillow's bilinear resampling exactly (libImaging's
// Resample.c, the algorithm, not its code): torchvision's Resize on a PIL
// image calls Image.resize(size, BILINEAR), so an engine calibrated here sees
// the pixels a PyTorch user's evaluation sees. The filter is the triangle
// 1 − |x| with its support widened by the scale factor when shrinking (so it
// antialiases); weights are normalised per output pixel, turned into 22-bit
// fixed point, and the image is resampled horizontally into 8 bits, then
// vertically. golang.org/x/image/draw's BiLinear kernel (the same filter in
// floating point, without the intermediate rounding) is within one level of
// it and its CatmullRom further away; TestResizeMatchesPIL measures both.

// pilPrecision is Pillow's PRECISION_BITS for 8-bit images: 32 − 8 − 2.
const pilPrecision = 22

// pilCoeffs holds, for each output pixel, the first input pixel it reads
// and its fixed-point weights.
type pilCoeffs struct {
	xmin  []int
	ksize int
	k     []int // ksize weights per output pixel (zero beyond the used ones)
	n     []int // weights used per output pixel
}

// newPILCoeffs is Pillow's precompute_coeffs with the bilinear filter,
// followed by normalize_coeffs_8bpc.
func newPILCoeffs(inSize, outSize int) pilCoeffs {
	scale := float64(inSize) / float64(outSize)
	filterscale := math.Max(scale, 1)
	support := 1.0 * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	c := pilCoeffs{xmin: make([]int, outSize), n: make([]int, outSize), ksize: ksize, k: make([]int, outSize*ksize)}
	w := make([]float64, ksize)
	for xx := range outSize {
		center := float64((float64(xx) + 0.5) * scale)
		ss := 1 / filterscale
		// C's (int) truncates toward zero; a negative start clamps to 0 anyway.
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), inSize) - xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			d := math.Abs((float64(x+xmin) - center + 0.5) * ss)
			w[x] = 0
			if d < 1 {
				w[x] = 1 - d
			}
			ww += w[x]
		}
		for x := 0; x < xmax; x++ {
			if ww != 0 {
				w[x] /= ww
			}
			if w[x] < 0 {
				c.k[xx*ksize+x] = int(-0.5 + float64(w[x]*(1<<pilPrecision)))
			} else {
				c.k[xx*ksize+x] = int(0.5 + float64(w[x]*(1<<pilPrecision)))
			}
		}
		c.xmin[xx], c.n[xx] = xmin, xmax
	}
	return c
}

// clip8 is Pillow's: the fixed-point sum shifted down and clamped to a byte.
func clip8(v int) uint8 {
	v >>= pilPrecision
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// resizePIL resizes an 8-bit image (gray, or RGBA whose alpha is ignored and
// set opaque) to w×h as Pillow's Image.resize(..., BILINEAR) does.
func resizePIL(src image.Image, w, h int) draw.Image {
	var pix []uint8
	var stride, ps, nc, inW, inH int
	switch s := src.(type) {
	case *image.Gray:
		pix, stride, ps, nc = s.Pix, s.Stride, 1, 1
		inW, inH = s.Rect.Dx(), s.Rect.Dy()
	case *image.RGBA:
		pix, stride, ps, nc = s.Pix, s.Stride, 4, 3
		inW, inH = s.Rect.Dx(), s.Rect.Dy()
	default:
		return resizePIL(toOpaqueRGBA(src), w, h)
	}
	// Horizontal pass into an 8-bit intermediate, as Pillow does, then vertical.
	if w != inW {
		c := newPILCoeffs(inW, w)
		out := make([]uint8, w*ps*inH)
		for y := range inH {
			row := pix[y*stride:]
			orow := out[y*w*ps:]
			for x := range w {
				k := c.k[x*c.ksize:]
				x0 := c.xmin[x]
				for ch := range nc {
					ss := 1 << (pilPrecision - 1)
					for i := range c.n[x] {
						ss += int(row[(x0+i)*ps+ch]) * k[i]
					}
					orow[x*ps+ch] = clip8(ss)
				}
				if ps == 4 {
					orow[x*ps+3] = 255
				}
			}
		}
		pix, stride, inW = out, w*ps, w
	}
	if h != inH {
		c := newPILCoeffs(inH, h)
		out := make([]uint8, w*ps*h)
		for y := range h {
			k := c.k[y*c.ksize:]
			y0 := c.xmin[y]
			orow := out[y*w*ps:]
			for x := range w {
				for ch := range nc {
					ss := 1 << (pilPrecision - 1)
					for i := range c.n[y] {
						ss += int(pix[(y0+i)*stride+x*ps+ch]) * k[i]
					}
					orow[x*ps+ch] = clip8(ss)
				}
				if ps == 4 {
					orow[x*ps+3] = 255
				}
			}
		}
		pix, stride = out, w*ps
	}
	r := image.Rect(0, 0, w, h)
	if nc == 1 {
		return &image.Gray{Pix: pix, Stride: stride, Rect: r}
	}
	return &image.RGBA{Pix: pix, Stride: stride, Rect: r}
}

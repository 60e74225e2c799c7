package ref

import (
	"fmt"
	"math"
	"runtime"

	"github.com/sqc-project/sqc/ir"
)

// Conv and ConvTranspose in float32, for any number of spatial dims.
//
// Conv lowers each (image, group) pair to one GEMM: W_g (M/group ×
// C/group·K1…Kk) times the im2col matrix of the image's group channels
// (C/group·K1…Kk × O1…Ok) gives the group's output channels directly in
// NCHW order. A 1×1, stride-1, unpadded convolution needs no im2col: the
// input planes already are that matrix; for other 2-d windows the GEMM
// usually reads the windows straight from the image as it packs them
// (nnIm2colPacker). Depthwise 2-d convolutions (one input and one output
// channel per group) skip the GEMM: a direct loop over the taps is
// several times faster than one-row matrix products. Every path sums in
// the order sumorder.go defines.
//
// ConvTranspose is the adjoint: W_gᵀ times the input gives, for every
// input position, the contributions to the output window it scatters
// into (col2im, the transpose of im2col, adds them up).

func init() {
	register("Conv", nnViaFloat32(convF32))
	register("ConvTranspose", nnViaFloat32(convTransposeF32))
}

// nnConvOperands returns the f32 data of a convolution's X, W, optional
// bias and Y.
func nnConvOperands(in, out []*ir.Tensor) (x, w, b, y []float32, err error) {
	if x, err = nnFloat32(in[0], "input"); err != nil {
		return
	}
	if w, err = nnFloat32(in[1], "weight"); err != nil {
		return
	}
	if len(in) > 2 && in[2] != nil {
		if b, err = nnFloat32(in[2], "bias"); err != nil {
			return
		}
	}
	y, err = nnFloat32(out[0], "output")
	return
}

// nnTaskSplit decides how a convolution's independent (image, group) tasks
// use the cores: true runs whole tasks side by side (serial GEMMs), false
// runs them one after another with each GEMM split over the cores. Tasks
// side by side are cheaper when there are enough of them to share evenly.
func nnTaskSplit(tasks int) bool {
	w := runtime.GOMAXPROCS(0)
	return w > 1 && (tasks >= 4*w || (tasks >= w && tasks%w == 0))
}

// nnFillRows sets each of the rows of y (each n long) to its bias value,
// or to zero without a bias; the GEMM then accumulates onto it.
func nnFillRows(y []float32, rows, n int, bias []float32) {
	for r := 0; r < rows; r++ {
		row := y[r*n : (r+1)*n]
		if bias == nil {
			clear(row)
			continue
		}
		v := bias[r]
		for i := range row {
			row[i] = v
		}
	}
}

func convF32(n *ir.Node, in, out []*ir.Tensor) error {
	return convF32Then(n, in, out, nil)
}

// convF32Then is convF32 followed by then(lo, hi, parallel) on every
// range [lo, hi) of the output as soon as it is final (parallel: then may
// use every core), so that an epilogue finds each image's output still in
// the cache rather than going over the whole batch's again.
func convF32Then(n *ir.Node, in, out []*ir.Tensor, then func(lo, hi int, parallel bool)) error {
	xd, wd, bd, yd, err := nnConvOperands(in, out)
	if err != nil {
		return err
	}
	x, w := in[0], in[1]
	group := int(n.Attrs.Int("group", 1))
	nb, c, m := x.Shape[0], x.Shape[1], w.Shape[0]
	g, err := ir.ResolveConvGeom(n.Attrs, nnSpatialDims(x.Shape[2:]), w.Shape[2:], false)
	if err != nil {
		return err
	}
	cg, mg := c/group, m/group
	kN := cg * ir.NumElements(g.Kernel)
	inN, outN := ir.NumElements(g.In), ir.NumElements(g.Out)
	if want := nb * m * outN; len(yd) != want {
		return fmt.Errorf("output has %d elements, want %d", len(yd), want)
	}
	direct := true // a 1×1, stride-1, unpadded window: the input is the im2col matrix
	for i := range g.Kernel {
		if g.Kernel[i] != 1 || g.Strides[i] != 1 || g.PadBegin[i] != 0 || g.PadEnd[i] != 0 {
			direct = false
		}
	}
	if cg == 1 && mg == 1 && len(g.Kernel) == 2 {
		// Depthwise: a GEMM of one row per channel is mostly overhead.
		parallelFor(nb*c, max(1, 16384/max(1, outN*kN)), func(lo, hi int) {
			for t := lo; t < hi; t++ {
				var init float32
				if bd != nil {
					init = bd[t%c]
				}
				nnDepthwise2D(xd[t*inN:(t+1)*inN], wd[t%c*kN:(t%c+1)*kN], g, init, yd[t*outN:(t+1)*outN])
			}
		})
		if then != nil {
			then(0, len(yd), true)
		}
		return nil
	}
	// 2-d windows are read from the image as the GEMM packs them
	// (implicit im2col), saving a pass over memory, when the output is at
	// least as wide as it has channels: then the GEMM splits the columns
	// and every worker packs only its own. A narrow output has the GEMM
	// split the rows, every worker packing all of B, and one shared
	// im2col buffer is cheaper than gathering the windows twice (measured
	// on ResNet-34's 14×14 and 7×7 layers). Other ranks always use the
	// buffer.
	implicit := !direct && len(g.Kernel) == 2 && mg <= outN
	colN := 0
	if !direct && !implicit {
		colN = kN * outN
	}
	task := func(t int, col []float32, parallel bool) {
		b, gi := t/group, t%group
		xg := xd[(b*c+gi*cg)*inN : (b*c+(gi+1)*cg)*inN]
		wg := wd[gi*mg*kN : (gi+1)*mg*kN]
		yg := yd[(b*m+gi*mg)*outN : (b*m+(gi+1)*mg)*outN]
		var bias []float32
		if bd != nil {
			bias = bd[gi*mg : (gi+1)*mg]
		}
		nnFillRows(yg, mg, outN, bias)
		a := sgemmMatrix{wg, kN, false}
		switch {
		case implicit:
			sgemmPacked(mg, outN, kN, a, nnIm2colPacker(xg, g), yg, outN, parallel)
		case direct:
			sgemm(mg, outN, kN, 1, a, sgemmMatrix{xg, outN, false}, 1, yg, outN, parallel)
		default:
			nnIm2col(xg, cg, g, col, parallel)
			sgemm(mg, outN, kN, 1, a, sgemmMatrix{col, outN, false}, 1, yg, outN, parallel)
		}
		if then != nil {
			lo := (b*m + gi*mg) * outN
			then(lo, lo+mg*outN, parallel)
		}
	}
	tasks := nb * group
	if nnTaskSplit(tasks) {
		parallelFor(tasks, 1, func(lo, hi int) {
			buf := nnGetBuf(colN)
			defer nnPutBuf(buf)
			for t := lo; t < hi; t++ {
				task(t, *buf, false)
			}
		})
		return nil
	}
	buf := nnGetBuf(colN)
	defer nnPutBuf(buf)
	for t := 0; t < tasks; t++ {
		task(t, *buf, true)
	}
	return nil
}

// nnIm2colPacker is an sgemmPacker for the im2col matrix of a 2-d
// convolution (see im2col), read straight from the image x (cg planes of
// g.In) as the GEMM packs it: row p of the matrix is channel p/(kh·kw) at
// window offset (ky, kx), column j output position (j/ow, j%ow). Runs of
// a row that stay on one output row and read one input row are copied
// whole at stride 1.
func nnIm2colPacker(x []float32, g *ir.ConvGeom) sgemmPacker {
	ih, iw := g.In[0], g.In[1]
	ow := g.Out[1]
	kh, kw := g.Kernel[0], g.Kernel[1]
	sh, sw := g.Strides[0], g.Strides[1]
	dh, dw := g.Dilations[0], g.Dilations[1]
	ph, pw := g.PadBegin[0], g.PadBegin[1]
	return func(dst []float32, nr, p0, kc, j0, nc int) {
		for jr := 0; jr < nc; jr += nr {
			cols := min(nr, nc-jr)
			panel := dst[jr*kc : jr*kc+kc*nr]
			oy0, ox0 := (j0+jr)/ow, (j0+jr)%ow
			ch, r := p0/(kh*kw), p0%(kh*kw)
			ky, kx := r/kw, r%kw
			for p := 0; p < kc; p++ {
				d := panel[p*nr : p*nr+nr]
				plane := x[ch*ih*iw : (ch+1)*ih*iw]
				oy, ox := oy0, ox0
				for t := 0; t < cols; {
					run := min(cols-t, ow-ox)
					seg := d[t : t+run]
					iy := oy*sh - ph + ky*dh
					ix := ox*sw - pw + kx*dw
					switch {
					case iy < 0 || iy >= ih:
						clear(seg)
					case sw == 1:
						src := plane[iy*iw : (iy+1)*iw]
						lo := min(run, max(0, -ix))
						hi := max(lo, min(run, iw-ix))
						clear(seg[:lo])
						if hi > lo { // else the run is all padding
							copy(seg[lo:hi], src[ix+lo:ix+hi])
						}
						clear(seg[hi:])
					default:
						src := plane[iy*iw : (iy+1)*iw]
						for q := range seg {
							if ix >= 0 && ix < iw {
								seg[q] = src[ix]
							} else {
								seg[q] = 0
							}
							ix += sw
						}
					}
					t += run
					oy, ox = oy+1, 0
				}
				clear(d[cols:])
				// Next row of the matrix: the next window offset.
				if kx++; kx == kw {
					kx = 0
					if ky++; ky == kh {
						ky = 0
						ch++
					}
				}
			}
		}
	}
}

// nnDepthwise2D computes the 2-d convolution of one plane x with one
// window w into y, starting from init (the bias, or 0), in the summation
// order (sumorder.go) of a GEMM with K = kh·kw: tap by tap in (ky, kx)
// order, every output row gets FMA32(w, x, ·) over a run of its input row,
// and the outputs whose input lies in the padding get w·0 added, as a
// GEMM's fused multiply-add by a padded 0 would; a strided window gathers
// each tap's inputs (0 in the padding) over the plane first.
func nnDepthwise2D(x, w []float32, g *ir.ConvGeom, init float32, y []float32) {
	ih, iw := g.In[0], g.In[1]
	oh, ow := g.Out[0], g.Out[1]
	kh, kw := g.Kernel[0], g.Kernel[1]
	sh, sw := g.Strides[0], g.Strides[1]
	dh, dw := g.Dilations[0], g.Dilations[1]
	ph, pw := g.PadBegin[0], g.PadBegin[1]
	taps := kh * kw
	// One chunk sums straight into y; more need a separate sum (a window
	// of more than 256 taps: rare).
	acc := y
	if taps > SumChunk {
		acc = make([]float32, len(y))
		for i := range y {
			y[i] = init
		}
	}
	var gather []float32
	if sw != 1 {
		gather = make([]float32, oh*ow)
	}
	for t0 := 0; t0 < taps; t0 += SumChunk {
		clear(acc)
		for t := t0; t < min(taps, t0+SumChunk); t++ {
			ky, kx := t/kw, t%kw
			wv := w[t]
			// Output columns ox with 0 ≤ ox·sw − pw + kx·dw < iw.
			off := kx*dw - pw
			lo := 0
			if off < 0 {
				lo = min(ow, (-off+sw-1)/sw)
			}
			hi := ow
			if last := iw - 1 - off; last < 0 {
				hi = 0
			} else {
				hi = min(ow, last/sw+1)
			}
			hi = max(lo, hi)
			if sw != 1 {
				// Strided: gather the tap's inputs over the whole output
				// plane, 0 in the padding (whose fused multiply-add is
				// the padded tap's w·0), for one axpy: a call a row cost
				// more than the arithmetic.
				for oy := 0; oy < oh; oy++ {
					row := gather[oy*ow : (oy+1)*ow]
					iy := oy*sh - ph + ky*dh
					if iy < 0 || iy >= ih {
						clear(row)
						continue
					}
					clear(row[:lo])
					clear(row[hi:])
					xrow := x[iy*iw : (iy+1)*iw]
					ix := lo*sw + off
					for i := lo; i < hi; i++ {
						row[i] = xrow[ix]
						ix += sw
					}
				}
				sfmaAxpy(wv, gather, acc)
				continue
			}
			// A padded tap adds wv·0: −0 (a finite negative weight) adds
			// to any sum exactly, +0 turns a −0 sum into +0, NaN (a weight
			// that is not finite) poisons it.
			pad := float32(wv * 0) // exact either way; rounded so that Go does not fuse it into the sums
			padAdds := math.Float32bits(pad) != 0x80000000
			for oy := 0; oy < oh; oy++ {
				ys := acc[oy*ow : (oy+1)*ow]
				iy := oy*sh - ph + ky*dh
				if iy < 0 || iy >= ih {
					if padAdds {
						for i := range ys {
							ys[i] += pad
						}
					}
					continue
				}
				if padAdds {
					for i := range ys[:lo] {
						ys[i] += pad
					}
					for i := hi; i < ow; i++ {
						ys[i] += pad
					}
				}
				if lo < hi {
					sfmaAxpy(wv, x[iy*iw+lo+off:iy*iw+hi+off], ys[lo:hi])
				}
			}
		}
		if taps <= SumChunk {
			for i, v := range y {
				y[i] = init + v
			}
			return
		}
		for i, v := range acc {
			y[i] += v
		}
	}
}

// nnIm2col is im2col over cg channels, split by channel over the cores
// when parallel is set (each channel's rows of col are its own).
func nnIm2col(x []float32, cg int, g *ir.ConvGeom, col []float32, parallel bool) {
	inN, rowsN := ir.NumElements(g.In), ir.NumElements(g.Kernel)*ir.NumElements(g.Out)
	if !parallel || cg < 2 {
		im2col(x, cg, g, 0, col)
		return
	}
	parallelFor(cg, 1, func(lo, hi int) {
		im2col(x[lo*inN:hi*inN], hi-lo, g, 0, col[lo*rowsN:hi*rowsN])
	})
}

func convTransposeF32(n *ir.Node, in, out []*ir.Tensor) error {
	xd, wd, bd, yd, err := nnConvOperands(in, out)
	if err != nil {
		return err
	}
	x, w := in[0], in[1]
	group := int(n.Attrs.Int("group", 1))
	nb, c, mg := x.Shape[0], x.Shape[1], w.Shape[1]
	m := mg * group
	// g describes the forward convolution this is the transpose of: g.In
	// is our output's spatial size, g.Out our input's.
	g, err := ir.ResolveConvTransposeGeom(n.Attrs, nnSpatialDims(x.Shape[2:]), w.Shape[2:])
	if err != nil {
		return err
	}
	cg := c / group
	rows := mg * ir.NumElements(g.Kernel)
	inN, outN := ir.NumElements(g.Out), ir.NumElements(g.In)
	if want := nb * m * outN; len(yd) != want {
		return fmt.Errorf("output has %d elements, want %d", len(yd), want)
	}
	task := func(t int, col []float32, parallel bool) {
		b, gi := t/group, t%group
		xg := xd[(b*c+gi*cg)*inN : (b*c+(gi+1)*cg)*inN]
		wg := wd[gi*cg*rows : (gi+1)*cg*rows]
		yg := yd[(b*m+gi*mg)*outN : (b*m+(gi+1)*mg)*outN]
		// col = W_gᵀ·X_g: row (oc, kernel offset), column input position.
		sgemm(rows, inN, cg, 1, sgemmMatrix{wg, rows, true}, sgemmMatrix{xg, inN, false}, 0, col, inN, parallel)
		var bias []float32
		if bd != nil {
			bias = bd[gi*mg : (gi+1)*mg]
		}
		nnFillRows(yg, mg, outN, bias)
		if !parallel || mg < 2 {
			nnCol2im(col, mg, g, yg)
			return
		}
		kin := rows / mg * inN
		parallelFor(mg, 1, func(lo, hi int) {
			nnCol2im(col[lo*kin:hi*kin], hi-lo, g, yg[lo*outN:hi*outN])
		})
	}
	tasks := nb * group
	colN := rows * inN
	if nnTaskSplit(tasks) {
		parallelFor(tasks, 1, func(lo, hi int) {
			buf := nnGetBuf(colN)
			defer nnPutBuf(buf)
			for t := lo; t < hi; t++ {
				task(t, *buf, false)
			}
		})
		return nil
	}
	buf := nnGetBuf(colN)
	defer nnPutBuf(buf)
	for t := 0; t < tasks; t++ {
		task(t, *buf, true)
	}
	return nil
}

// nnCol2im is the transpose of im2col: it adds each column entry
// col[(c·K1…Kk + kernel offset)·O + o] into y at the input position that
// im2col would have read it from, skipping positions in the padding. y is
// cg planes of the geometry's input size (g.In).
func nnCol2im(col []float32, cg int, g *ir.ConvGeom, y []float32) {
	if len(g.Kernel) == 2 {
		nnCol2im2D(col, cg, g, y)
		return
	}
	k := len(g.Kernel)
	inStrides := ir.Strides(g.In)
	inN, outN, kN := ir.NumElements(g.In), ir.NumElements(g.Out), ir.NumElements(g.Kernel)
	kIdx, oIdx := make([]int, k), make([]int, k)
	row := 0
	for c := 0; c < cg; c++ {
		plane := y[c*inN : (c+1)*inN]
		for kf := 0; kf < kN; kf++ {
			unravelInto(kf, g.Kernel, kIdx)
			src := col[row*outN : (row+1)*outN]
			row++
			for o, v := range src {
				unravelInto(o, g.Out, oIdx)
				off := 0
				for d := 0; d < k; d++ {
					i := oIdx[d]*g.Strides[d] - g.PadBegin[d] + kIdx[d]*g.Dilations[d]
					if i < 0 || i >= g.In[d] {
						off = -1
						break
					}
					off += i * inStrides[d]
				}
				if off >= 0 {
					plane[off] += v
				}
			}
		}
	}
}

func nnCol2im2D(col []float32, cg int, g *ir.ConvGeom, y []float32) {
	ih, iw := g.In[0], g.In[1]
	oh, ow := g.Out[0], g.Out[1]
	kh, kw := g.Kernel[0], g.Kernel[1]
	sh, sw := g.Strides[0], g.Strides[1]
	dh, dw := g.Dilations[0], g.Dilations[1]
	ph, pw := g.PadBegin[0], g.PadBegin[1]
	row := 0
	for c := 0; c < cg; c++ {
		plane := y[c*ih*iw : (c+1)*ih*iw]
		for ky := 0; ky < kh; ky++ {
			for kx := 0; kx < kw; kx++ {
				src := col[row*oh*ow : (row+1)*oh*ow]
				row++
				for yo := 0; yo < oh; yo++ {
					iy := yo*sh - ph + ky*dh
					if iy < 0 || iy >= ih {
						continue
					}
					dst := plane[iy*iw : (iy+1)*iw]
					s := src[yo*ow : (yo+1)*ow]
					ix := -pw + kx*dw
					for _, v := range s {
						if ix >= 0 && ix < iw {
							dst[ix] += v
						}
						ix += sw
					}
				}
			}
		}
	}
}

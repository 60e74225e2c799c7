package ampere

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/backend/ampere/pack"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/ir/ref/fmath"
	"github.com/sqc-project/sqc/ir/sqir"
)

// kernelModels are Go models of kernels, written as their PTX computes
// (loop order, rounding, the launch arguments read by position), for
// simulate: a plan that passes the wrong argument, or a kernel design that

// decodeImage is the kernels' decode of output element i of a batch of
// images with c channels and oh×ow pixels (kernels' decodeImage): image n,
// channel ch, row r, column q, in NHWC order or NCHW.
func decodeImage(i int, nhwc bool, c, oh, ow int) (n, ch, r, q int) {
	if nhwc {
		return i / c / ow / oh, i % c, i / c / ow % oh, i / c % ow
	}
	return i / ow / oh / c, i / ow / oh % c, i / ow % oh, i % ow
}

// does not reproduce ir/ref's arithmetic, shows on the CPU.
var kernelModels = map[string]func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, weights map[string][]byte){
	kernels.AvgPoolF32Kernel: func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, _ map[string][]byte) {
		x, y := buf(s.Args[0]).Float32s(), buf(s.Args[1]).Float32s()
		a := func(i int) int { return int(int32(s.Args[i].GetU32())) }
		c, h, w, oh, ow, kh, kw := a(3), a(4), a(5), a(6), a(7), a(8), a(9)
		sh, sw, ph, pw, dh, dw, peh, pew, nhwc, incl := a(10), a(11), a(12), a(13), a(14), a(15), a(16), a(17), a(18), a(19)
		for i := range y {
			n, ch, r, q := decodeImage(i, nhwc == 1, c, oh, ow)
			var sum float32
			inside, rows, cols := 0, 0, 0
			for j := 0; j < kw; j++ {
				if iw := q*sw - pw + j*dw; iw >= -pw && iw < w+pew {
					cols++
				}
			}
			for k := 0; k < kh; k++ {
				ih := r*sh - ph + k*dh
				if ih >= -ph && ih < h+peh {
					rows++
				}
				if ih < 0 || ih >= h {
					continue
				}
				for j := 0; j < kw; j++ {
					iw := q*sw - pw + j*dw
					if iw < 0 || iw >= w {
						continue
					}
					at := ((n*c+ch)*h+ih)*w + iw
					if nhwc == 1 {
						at = ((n*h+ih)*w+iw)*c + ch
					}
					sum += x[at]
					inside++
				}
			}
			count := inside
			if incl == 1 {
				count = rows * cols
			}
			switch {
			case count > 0:
				y[i] = sum / float32(count)
			case incl == 1:
				y[i] = 0
			default:
				y[i] = math.Float32frombits(0x7FC00000)
			}
		}
	},
	kernels.LayerNormKernel: func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, weights map[string][]byte) {
		x, y := buf(s.Args[0]).Float32s(), buf(s.Args[1]).Float32s()
		size := int(s.Args[5].GetU32())
		scale, bias := f32sOf(weights[s.Args[2].GetWeight()]), f32sOf(weights[s.Args[3].GetWeight()])
		for r := 0; r < len(x)/size; r++ {
			row := x[r*size : (r+1)*size]
			m := 0.0
			for _, v := range row {
				m += float64(v)
			}
			m /= float64(size)
			v2 := 0.0
			for _, v := range row {
				d := float64(v) - m
				v2 += d * d
			}
			inv := 1 / math.Sqrt(v2/float64(size)+float64(s.Args[10].GetF32()))
			sdiv, smod := int(s.Args[8].GetU32()), int(s.Args[9].GetU32())
			for j, v := range row {
				o := (float64(v) - m) * inv
				at := (r*size + j) / sdiv % smod
				if s.Args[6].GetU32() == 1 {
					o *= float64(scale[at])
				}
				if s.Args[7].GetU32() == 1 {
					o += float64(bias[at])
				}
				y[r*size+j] = float32(o)
			}
		}
	},
	kernels.ResizeKernel: func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, weights map[string][]byte) {
		x, y := buf(s.Args[0]).Float32s(), buf(s.Args[1]).Float32s()
		idx, wb := weights[s.Args[2].GetWeight()], weights[s.Args[3].GetWeight()]
		a := func(i int) int { return int(s.Args[i].GetU32()) }
		c, h, w, oh, ow, taps, nhwc := a(5), a(6), a(7), a(8), a(9), a(10), a(11)
		tap := func(t int) (int, float64) {
			return int(binary.LittleEndian.Uint32(idx[4*t:])), math.Float64frombits(binary.LittleEndian.Uint64(wb[8*t:]))
		}
		for i := range y {
			n, ch, r, q := decodeImage(i, nhwc == 1, c, oh, ow)
			acc := 0.0
			for j := 0; j < taps; j++ {
				iw, vw := tap((oh+q)*taps + j)
				if j > 0 && vw == 0 {
					continue
				}
				col := 0.0
				for k := 0; k < taps; k++ {
					ih, vh := tap(r*taps + k)
					if k > 0 && vh == 0 {
						continue
					}
					at := ((n*c+ch)*h+ih)*w + iw
					if nhwc == 1 {
						at = ((n*h+ih)*w+iw)*c + ch
					}
					if p := vh * float64(x[at]); k == 0 {
						col = p
					} else {
						col += p
					}
				}
				if p := vw * col; j == 0 {
					acc = p
				} else {
					acc += p
				}
			}
			y[i] = float32(acc)
		}
	},
	kernels.EltwiseKernel:  eltwiseModel,
	kernels.Eltwise4Kernel: eltwiseModel, // the same arithmetic, four elements a thread
	// The unary math kernel: ir/ref's arithmetic (package fmath's
	// functions), which the kernel repeats bit for bit.
	kernels.UnaryKernel:  unaryModel,
	kernels.ReduceKernel: reduceModel,
	// Softmax as ir/ref computes it, which the kernel repeats bit for bit.
	kernels.SoftmaxKernel:         softmaxModel(false),
	kernels.LogSoftmaxKernel:      softmaxModel(true),
	kernels.SoftmaxShortKernel:    softmaxModel(false),
	kernels.LogSoftmaxShortKernel: softmaxModel(true),
	// The broadcasting kernels (four elements a thread or one).
	kernels.BcastKernel:  bcastModel,
	kernels.Bcast4Kernel: bcastModel,
	// The transposed convolution: the bias, then per tap that lands here,
	// in (kh, kw) order, the group's channels summed as ir/ref's GEMM
	// column (ordered sums), added one at a time.
	kernels.ConvTransposeKernel: func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, weights map[string][]byte) {
		x, y := buf(s.Args[0]).Float32s(), buf(s.Args[1]).Float32s()
		w, bs := f32sOf(weights[s.Args[2].GetWeight()]), f32sOf(weights[s.Args[3].GetWeight()])
		u := func(i int) int { return int(s.Args[i].GetU32()) }
		c, h, wd, m, oh, ow, kh, kw := u(5), u(6), u(7), u(8), u(9), u(10), u(11), u(12)
		sh, sw, ph, pw, dh, dw, cg, mg, xn := u(13), u(14), u(15), u(16), u(17), u(18), u(19), u(20), u(21)
		for i := range y {
			mo, q, r0, n := i%m, i/m%ow, i/m/ow%oh, i/m/ow/oh
			c0, mp := mo/mg*cg, mo%mg
			v := bs[mo]
			for k := 0; k < kh; k++ {
				th := r0 + ph - k*dh
				if th < 0 || th%sh != 0 || th/sh >= h {
					continue
				}
				for j := 0; j < kw; j++ {
					tw := q + pw - j*dw
					if tw < 0 || tw%sw != 0 || tw/sw >= wd {
						continue
					}
					ih, iw := th/sh, tw/sw
					v += orderedSum(0, cg, func(ci int) (float32, float32) {
						at := ((n*c+c0+ci)*h+ih)*wd + iw
						if xn == 1 {
							at = ((n*h+ih)*wd+iw)*c + c0 + ci
						}
						return w[(((c0+ci)*mg+mp)*kh+k)*kw+j], x[at]
					})
				}
			}
			y[i] = v
		}
	},
	// The float max pool (global max pool here): ir/ref's rule, the first
	// tap inside, then a greater one or a NaN, a NaN never replaced.
	kernels.MaxPoolF32Kernel: func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, _ map[string][]byte) {
		x, y := buf(s.Args[0]).Float32s(), buf(s.Args[1]).Float32s()
		u := func(i int) int { return int(s.Args[i].GetU32()) }
		c, h, w, oh, ow, kh, kw := u(3), u(4), u(5), u(6), u(7), u(8), u(9)
		sh, sw, ph, pw, dh, dw := u(10), u(11), u(12), u(13), u(14), u(15)
		for i := range y {
			n, ch, r0, q := decodeImage(i, true, c, oh, ow)
			best, taken := float32(math.Inf(-1)), false
			for k := 0; k < kh; k++ {
				for j := 0; j < kw; j++ {
					ih, iw := r0*sh-ph+k*dh, q*sw-pw+j*dw
					if ih < 0 || ih >= h || iw < 0 || iw >= w {
						continue
					}
					if v := x[((n*h+ih)*w+iw)*c+ch]; !taken || (best == best && (v > best || v != v)) {
						best = v
					}
					taken = true
				}
			}
			y[i] = best
		}
	},
	kernels.ToNCHW32Kernel: func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, _ map[string][]byte) {
		// As the launch runs it: one block a 32×32 tile, only as many
		// blocks as the step's grid gives and tiles as "total" says, so a
		// step sized in elements instead of tiles leaves images uncopied.
		x, y := buf(s.Args[0]).Float32s(), buf(s.Args[1]).Float32s()
		c, hw := int(s.Args[3].GetU32()), int(s.Args[4].GetU32())
		batch := len(y) / (c * hw)
		blocks := (int(s.WorkPerSample)*batch + int(s.WorkPerBlockX) - 1) / int(s.WorkPerBlockX)
		tilesC, tilesHW := (c+31)/32, (hw+31)/32
		for tile := range min(blocks, int(s.Args[2].GetU32PerSample())*batch) {
			n, c0, p0 := tile/(tilesC*tilesHW), tile%tilesC*32, tile/tilesC%tilesHW*32
			for ch := c0; ch < min(c0+32, c) && n < batch; ch++ {
				for at := p0; at < min(p0+32, hw); at++ {
					y[(n*c+ch)*hw+at] = x[(n*hw+at)*c+ch]
				}
			}
		}
	},
	kernels.Clamp8Kernel: func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, _ map[string][]byte) {
		x, y := buf(s.Args[0]).Int8s(), buf(s.Args[1]).Int8s()
		lo, hi := int8(s.Args[3].GetS32()), int8(s.Args[4].GetS32())
		for i, v := range x {
			y[i] = min(max(v, lo), hi)
		}
	},
	kernels.QGroupConvF32Kernel: func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, weights map[string][]byte) {
		r, y := buf(s.Args[4]).Data, buf(s.Args[5]).Float32s()
		mult := f32sOf(weights[s.Args[3].GetWeight()])
		m, hasres, act := int(s.Args[10].GetU32()), s.Args[23].GetU32(), s.Args[24].GetU32()
		zr, mr, lo, hi := s.Args[26].GetS32(), s.Args[27].GetF32(), s.Args[28].GetF32(), s.Args[29].GetF32()
		sum := qGroupSum(s, buf, weights, s.Args[25].GetS32())
		for i := range y {
			mo := i % m
			acc := sum(i)
			v := float32(float32(acc) * mult[mo])
			if hasres == 1 {
				v = float32(v + float32(float32(int32(r.([]int8)[i])-zr)*mr))
			}
			switch act {
			case kernels.QGroupActRelu:
				v = max(v, 0)
			case kernels.QGroupActClip:
				v = min(max(v, lo), hi)
			}
			y[i] = v
		}
	},
	// The same convolution with an int8 output: the GEMM's int8 epilogue.
	kernels.QGroupConvKernel: func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, weights map[string][]byte) {
		y, mult := buf(s.Args[5]).Int8s(), f32sOf(weights[s.Args[3].GetWeight()])
		m := int(s.Args[10].GetU32())
		zr, qlo, qhi, zy, mr := s.Args[25].GetS32(), s.Args[26].GetS32(), s.Args[27].GetS32(), s.Args[28].GetS32(), s.Args[29].GetF32()
		var r []int8
		if s.Args[23].GetU32() == 1 {
			r = buf(s.Args[4]).Int8s()
		}
		sum := qGroupSum(s, buf, weights, s.Args[24].GetS32())
		for i := range y {
			mo := i % m
			acc := sum(i)
			v := float32(float32(acc) * mult[mo])
			if r != nil {
				v = float32(v + float32(float32(int32(r[i])-zr)*mr))
			}
			y[i] = int8(min(max(int32(math.RoundToEven(float64(v))), qlo), qhi) + zy)
		}
	},
	kernels.BatchMatMulKernel: func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, weights map[string][]byte) {
		a, b, y := f32Operand(s.Args[0], buf, weights), f32Operand(s.Args[1], buf, weights), buf(s.Args[2]).Float32s()
		u := func(i int) int { return int(s.Args[i].GetU32()) }
		m, k, pd, mats, aS, bS, aM, bM := u(4), u(5), u(6), u(7), u(8), u(9), u(10), u(11)
		for i := range y {
			col, row, j, n := i%pd, i/pd%m, i/pd/m%mats, i/pd/m/mats
			y[i] = orderedSum(0, k, func(q int) (float32, float32) {
				return a[n*aS+j*aM+row*k+q], b[n*bS+j*bM+q*pd+col]
			})
		}
	},
	// The float convolution, also for the planners that reuse it (Gemm,
	// row MatMul): one output element, the bias, then the products in
	// (c, kh, kw) order, a tap in the padding taking x = 0, as ordered
	// sums; then the residual and the NaN-keeping clamp.
	kernels.FloatConvKernel: func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, weights map[string][]byte) {
		x, y, r := buf(s.Args[0]).Float32s(), buf(s.Args[1]).Float32s(), buf(s.Args[4]).Float32s()
		wt, bs := f32sOf(weights[s.Args[2].GetWeight()]), f32sOf(weights[s.Args[3].GetWeight()])
		a := func(i int) int { return int(s.Args[i].GetU32()) }
		c, h, w, m, oh, ow, kh, kw := a(6), a(7), a(8), a(9), a(10), a(11), a(12), a(13)
		sh, sw, ph, pw, dh, dw, cg, mg, xn, yn, hasres := a(14), a(15), a(16), a(17), a(18), a(19), a(20), a(21), a(22), a(23), a(24)
		lo, hi := s.Args[25].GetF32(), s.Args[26].GetF32()
		for i := range y {
			n, mo, r0, q := decodeImage(i, yn == 1, m, oh, ow)
			c0 := mo / mg * cg
			sum := orderedSum(bs[mo], cg*kh*kw, func(p int) (float32, float32) {
				ci, k, j := p/(kh*kw), p/kw%kh, p%kw
				wv := wt[((mo*cg+ci)*kh+k)*kw+j]
				ih, iw := r0*sh-ph+k*dh, q*sw-pw+j*dw
				if ih < 0 || ih >= h || iw < 0 || iw >= w {
					return wv, 0
				}
				at := ((n*c+c0+ci)*h+ih)*w + iw
				if xn == 1 {
					at = ((n*h+ih)*w+iw)*c + c0 + ci
				}
				return wv, x[at]
			})
			if hasres == 1 {
				sum += r[i]
			}
			y[i] = min(max(sum, lo), hi) // Go's min and max keep a NaN, as max.NaN/min.NaN
		}
	},
}

// orderedSum is ir/ref's float summation order (ir/ref/sumorder.go), as
// the float product kernels compute it: init, then per chunk of
// ref.SumChunk products (term(p) gives the two factors) a fused sum from
// +0 added to it.
func orderedSum(init float32, k int, term func(p int) (float32, float32)) float32 {
	y := init
	var acc float32
	for p := 0; p < k; p++ {
		a, b := term(p)
		acc = ref.FMA32(a, b, acc)
		if (p+1)%ref.SumChunk == 0 {
			y += acc
			acc = 0
		}
	}
	if k%ref.SumChunk != 0 {
		y += acc
	}
	return y
}

// softmaxModel models the softmax kernel (log: LogSoftmax) over rows of
// the innermost size.
func softmaxModel(log bool) func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, _ map[string][]byte) {
	return func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, _ map[string][]byte) {
		x, y := buf(s.Args[0]).Float32s(), buf(s.Args[1]).Float32s()
		size := int(s.Args[3].GetU32())
		for r := 0; r < len(x)/size; r++ {
			mx := math.Inf(-1)
			for _, v := range x[r*size : (r+1)*size] {
				if float64(v) > mx {
					mx = float64(v)
				}
			}
			sum := 0.0
			for _, v := range x[r*size : (r+1)*size] {
				sum += fmath.Exp(float64(v) - mx)
			}
			for j, v := range x[r*size : (r+1)*size] {
				if log {
					y[r*size+j] = float32(float64(v) - mx - fmath.Log(sum))
				} else {
					y[r*size+j] = float32(fmath.Exp(float64(v)-mx) / sum)
				}
			}
		}
	}
}

// qGroupSum returns the grouped convolution kernels' int32 sum for output
// element i (NHWC): Σ (x − zx)·w over the group's channels and the taps
// inside the image, wrapping as the kernel's, plus the raw bias.
func qGroupSum(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, weights map[string][]byte, zx int32) func(i int) int32 {
	x, w, bb := buf(s.Args[0]).Int8s(), weights[s.Args[1].GetWeight()], weights[s.Args[2].GetWeight()]
	a := func(i int) int { return int(s.Args[i].GetU32()) }
	c, h, wd, m, oh, ow, kh, kw := a(7), a(8), a(9), a(10), a(11), a(12), a(13), a(14)
	sh, sw, ph, pw, dh, dw, cg, mg := a(15), a(16), a(17), a(18), a(19), a(20), a(21), a(22)
	return func(i int) int32 {
		mo, q, r0, n := i%m, i/m%ow, i/m/ow%oh, i/m/ow/oh
		var acc int32
		c0 := mo / mg * cg
		for ci := 0; ci < cg; ci++ {
			for k := 0; k < kh; k++ {
				for j := 0; j < kw; j++ {
					ih, iw := r0*sh-ph+k*dh, q*sw-pw+j*dw
					if ih < 0 || ih >= h || iw < 0 || iw >= wd {
						continue
					}
					acc += (int32(x[((n*h+ih)*wd+iw)*c+c0+ci]) - zx) * int32(int8(w[((mo*cg+ci)*kh+k)*kw+j]))
				}
			}
		}
		return acc + int32(binary.LittleEndian.Uint32(bb[4*mo:]))
	}
}

// gemmStep reports whether s runs one of the INT8 GEMM kernels: the plain
// GEMM (a QGemm, or a QConv on its NHWC rows), the implicit-GEMM
// convolution or the halo tile, dense or 2:4, split-K or not (the int32
// sums are exact in any order).
func gemmStep(s *engine.Step) bool {
	return (s.Op == "QGemm" || s.Op == "QConv") && strings.HasPrefix(s.Kernel, "sqc_gemm_") && !strings.HasPrefix(s.Kernel, "sqc_gemm_convpool")
}

// gemmModel models the INT8 GEMM kernels (kernels/gemm.go's epilogue): the
// packed weights unpacked (dense or 2:4), the int32 sum with the folded
// bias over the A rows (a convolution's taps in (kh, kw, c) order, a tap
// outside the image reading the input's zero point, which the folded bias
// cancels), the f32 multiply, a residual's (r − zr)·MR added (a "_res"
// kernel), and the int8 or f32 output.
func gemmModel(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, weights map[string][]byte) {
	if !gemmStep(s) {
		panic("gemm model: step " + s.Node + " runs no INT8 GEMM kernel")
	}
	u := func(i int) int { return int(s.Args[i].GetU32()) }
	x, y := buf(s.Args[0]).Int8s(), buf(s.Args[6])
	bias := make([]int32, len(weights[s.Args[3].GetWeight()])/4)
	for i := range bias {
		bias[i] = int32(binary.LittleEndian.Uint32(weights[s.Args[3].GetWeight()][4*i:]))
	}
	mult := f32sOf(weights[s.Args[4].GetWeight()])
	rows, n, k, lda, ldc := int(s.Args[7].GetU32PerSample()), u(8), u(9), u(11), u(13)
	packed := weights[s.Args[1].GetWeight()]
	values := make([]int8, len(packed))
	for i, b := range packed {
		values[i] = int8(b)
	}
	var w []int8
	var err error
	if s.Sparse {
		meta := weights[s.Args[2].GetWeight()]
		sp := &pack.Sparse{N: n, K: k, NPad: len(bias), KPad: u(10) * kernels.GemmBK, Values: values, Meta: make([]uint32, len(meta)/4)}
		for i := range sp.Meta {
			sp.Meta[i] = binary.LittleEndian.Uint32(meta[4*i:])
		}
		w, err = sp.Unpack()
	} else {
		w, err = (&pack.Dense{N: n, K: k, NPad: len(bias), KPad: u(10) * kernels.GemmBK, Values: values}).Unpack()
	}
	if err != nil {
		panic(err)
	}
	// A row r of the operand: x's row, or a convolution's taps.
	conv := strings.HasPrefix(s.Kernel, "sqc_gemm_conv_") || strings.HasPrefix(s.Kernel, "sqc_gemm_halo_")
	a := func(r, q int) int32 { return int32(x[r*lda+q]) }
	if conv {
		c, h, wd, oh, ow, kw := u(21), u(22), u(23), u(24), u(25), u(26)
		sh, sw, ph, pw, dh, dw, zx := u(27), u(28), u(29), u(30), u(31), u(32), s.Args[33].GetS32()
		a = func(r, q int) int32 {
			ch, tap := q%c, q/c
			col, row, img := r%ow, r/ow%oh, r/ow/oh
			ih, iw := row*sh-ph+tap/kw*dh, col*sw-pw+tap%kw*dw
			if ih < 0 || ih >= h || iw < 0 || iw >= wd {
				return zx
			}
			return int32(x[((img*h+ih)*wd+iw)*c+ch])
		}
	}
	// Only the rows the launch's blocks cover are written (work units:
	// rows, or the halo kernel's patches, image by image, row of patches
	// by row), so a step sized short leaves rows as they were.
	units := (int(s.WorkPerSample)*y.Shape[0] + int(s.WorkPerBlockX) - 1) / int(s.WorkPerBlockX) * int(s.WorkPerBlockX)
	covered := func(r int) bool { return r < units }
	if strings.HasPrefix(s.Kernel, "sqc_gemm_halo_") {
		oh, ow, pr := u(24), u(25), 8
		if strings.Contains(s.Kernel, "_h7") {
			pr = 7
		}
		py, px := (oh+pr-1)/pr, (ow+7)/8
		covered = func(r int) bool {
			col, row, img := r%ow, r/ow%oh, r/ow/oh
			return (img*py+row/pr)*px+col/8 < units
		}
	}
	qlo, qhi, zy, flo, fhi := s.Args[15].GetS32(), s.Args[16].GetS32(), s.Args[17].GetS32(), s.Args[19].GetF32(), s.Args[20].GetF32()
	var res []int8
	if strings.Contains(s.Kernel, "_res") {
		res = buf(s.Args[5]).Int8s()
	}
	ldr, zr, mr := u(12), s.Args[14].GetS32(), s.Args[18].GetF32()
	// A float32 output's activation is the kernel's (its name's _f32_relu
	// or _f32_clip); an int8 output's is its clamp range.
	relu, clip := strings.Contains(s.Kernel, "_f32_relu"), strings.Contains(s.Kernel, "_f32_clip")
	for r := 0; r < y.Shape[0]*rows; r++ {
		if !covered(r) {
			continue
		}
		for j := 0; j < n; j++ {
			acc := bias[j]
			for q := 0; q < k; q++ {
				acc += a(r, q) * int32(w[j*k+q])
			}
			v := float32(acc) * mult[j]
			if res != nil {
				v = float32(v + float32(float32(int32(res[r*ldr+j])-zr)*mr))
			}
			switch {
			case y.DType != ir.Float32:
				q := min(max(int32(math.RoundToEven(float64(v))), qlo), qhi)
				y.Int8s()[r*ldc+j] = int8(q + zy)
			case relu:
				y.Float32s()[r*ldc+j] = max(v, 0)
			case clip:
				y.Float32s()[r*ldc+j] = min(max(v, flo), fhi)
			default:
				y.Float32s()[r*ldc+j] = v
			}
		}
	}
}

// convPoolModel models the stem's conv-pool kernel: the convolution as
// gemmModel computes it, then the 3×3 stride-2 max pool (pad 1) of its
// int8 output, which the kernel keeps in shared memory.
func convPoolModel(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, weights map[string][]byte) {
	u := func(i int) int { return int(s.Args[i].GetU32()) }
	y := buf(s.Args[6])
	n, ldc, oh, ow, poh, pow := u(8), u(13), u(24), u(25), u(34), u(35)
	batch := y.Shape[0]
	conv := ir.NewTensor(ir.Int8, batch, oh*ow*n)
	// The conv's whole output (the pooled grid is the kernel's own).
	cs := &engine.Step{Node: s.Node, Op: "QConv", Kernel: "sqc_gemm_conv_s8_model", Sparse: s.Sparse, Args: append([]*engine.Arg(nil), s.Args[:34]...),
		WorkPerSample: uint64(s.Args[7].GetU32PerSample()), WorkPerBlockX: 1}
	cs.Args[13] = u32(int64(n))
	gemmModel(cs, func(a *engine.Arg) *ir.Tensor {
		if a == s.Args[6] {
			return conv
		}
		return buf(a)
	}, weights)
	c := conv.Int8s()
	for img := 0; img < batch; img++ {
		for pv := 0; pv < poh; pv++ {
			for pu := 0; pu < pow; pu++ {
				for j := 0; j < n; j++ {
					best := int8(-128)
					for r := max(2*pv-1, 0); r <= min(2*pv+1, oh-1); r++ {
						for q := max(2*pu-1, 0); q <= min(2*pu+1, ow-1); q++ {
							best = max(best, c[((img*oh+r)*ow+q)*n+j])
						}
					}
					y.Int8s()[((img*poh+pv)*pow+pu)*ldc+j] = best
				}
			}
		}
	}
}

// maxPool8Model models the int8 NHWC max pools (MaxPoolKernel and its
// 16-channel twin): the largest input code among the window's taps inside
// the image (ONNX pads a max pool with -inf).
func maxPool8Model(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, _ map[string][]byte) {
	u := func(i int) int { return int(s.Args[i].GetU32()) }
	x, y := buf(s.Args[0]).Int8s(), buf(s.Args[1]).Int8s()
	c, h, w, oh, ow, kh, kw := u(3), u(4), u(5), u(6), u(7), u(8), u(9)
	sh, sw, ph, pw, dh, dw := u(10), u(11), u(12), u(13), u(14), u(15)
	for i := range y {
		ch, q, r, n := i%c, i/c%ow, i/c/ow%oh, i/c/ow/oh
		best := int8(-128)
		for ky := 0; ky < kh; ky++ {
			for kx := 0; kx < kw; kx++ {
				ih, iw := r*sh-ph+ky*dh, q*sw-pw+kx*dw
				if ih >= 0 && ih < h && iw >= 0 && iw < w {
					best = max(best, x[((n*h+ih)*w+iw)*c+ch])
				}
			}
		}
		y[i] = best
	}
}

// quantizePixelModel models the stem quantize kernels (QuantizePixelKernel
// and its vector twin): output pixel (v, u)'s channel (bh·bs + bw)·C + c
// is input channel c at (v·bs + bh, u·bs + bw), quantized as the quantize
// kernels do; channels past bs²·C hold the zero point.
func quantizePixelModel(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, _ map[string][]byte) {
	u := func(i int) int { return int(s.Args[i].GetU32()) }
	x, y := buf(s.Args[0]).Float32s(), buf(s.Args[1])
	c, h, w, oh, ow, bs, zp, scale := u(3), u(4), u(5), u(6), u(7), u(8), s.Args[9].GetS32(), s.Args[10].GetF32()
	batch := y.Shape[0]
	cp := y.Len() / (batch * oh * ow)
	for img := 0; img < batch; img++ {
		for v := 0; v < oh; v++ {
			for uu := 0; uu < ow; uu++ {
				for oc := 0; oc < cp; oc++ {
					q := int8(zp)
					if oc < bs*bs*c {
						blk, ch := oc/c, oc%c
						bh, bw := blk/bs, blk%bs
						q = ptxQuantize(x[((img*c+ch)*h+v*bs+bh)*w+uu*bs+bw], scale, zp)
					}
					y.Int8s()[((img*oh+v)*ow+uu)*cp+oc] = q
				}
			}
		}
	}
}

// unaryModel models the unary math kernel on its transcendental ops, as
// ir/ref computes them.
func unaryModel(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, _ map[string][]byte) {
	x, y := buf(s.Args[0]).Float32s(), buf(s.Args[1]).Float32s()
	if s.Args[3].GetU32() == kernels.UGeluChain {
		// torch's GELU export, each node's f32 rounding in turn.
		c1, c3 := s.Args[4].GetF32(), s.Args[5].GetF32()
		for i, v := range x {
			d := v / c1
			e := float32(fmath.Erf(float64(d)))
			a := e + 1
			g := v * a
			y[i] = g * c3
		}
		return
	}
	// The f32 ops, as their one PTX instruction rounds.
	f32 := map[uint32]func(float32) float32{
		kernels.UNeg:    func(v float32) float32 { return -v },
		kernels.UAbs:    func(v float32) float32 { return float32(math.Abs(float64(v))) },
		kernels.UFloor:  func(v float32) float32 { return float32(math.Floor(float64(v))) },
		kernels.UCeil:   func(v float32) float32 { return float32(math.Ceil(float64(v))) },
		kernels.URound:  func(v float32) float32 { return float32(math.RoundToEven(float64(v))) },
		kernels.USqrt:   func(v float32) float32 { return float32(math.Sqrt(float64(v))) },
		kernels.URecip:  func(v float32) float32 { return 1 / v },
		kernels.USquare: func(v float32) float32 { return v * v },
		kernels.UPowHalf: func(v float32) float32 {
			if math.IsInf(float64(v), -1) {
				return float32(math.Inf(1))
			}
			return float32(math.Abs(math.Sqrt(float64(v))))
		},
	}[s.Args[3].GetU32()]
	if f32 != nil {
		for i, v := range x {
			y[i] = f32(v)
		}
		return
	}
	// The f64 ops: x, alpha and beta widened, the result rounded once.
	alpha, beta := float64(s.Args[4].GetF32()), float64(s.Args[5].GetF32())
	clamp01 := func(d float64) float64 {
		if d <= 0 {
			return 0
		}
		if d >= 1 {
			return 1
		}
		return d
	}
	f := map[uint32]func(float64) float64{kernels.UExp: fmath.Exp, kernels.ULog: fmath.Log, kernels.UErf: fmath.Erf,
		kernels.UGelu: fmath.Gelu, kernels.UGeluTanh: fmath.GeluTanh, kernels.USoftplus: fmath.Softplus, kernels.UMish: fmath.Mish,
		kernels.UElu: func(d float64) float64 {
			if d < 0 {
				return alpha * fmath.Expm1(d)
			}
			return d
		},
		kernels.USelu: func(d float64) float64 {
			if d > 0 {
				return beta * d
			}
			return beta * (alpha*fmath.Exp(d) - alpha)
		},
		kernels.UHardSigmoid: func(d float64) float64 { return clamp01(alpha*d + beta) },
		kernels.UHardSwish:   func(d float64) float64 { return d * clamp01(d/6+0.5) },
		kernels.UCube:        func(d float64) float64 { return d * d * d },
	}[s.Args[3].GetU32()]
	if f == nil {
		panic(fmt.Sprintf("unary model: op %d is not modelled", s.Args[3].GetU32()))
	}
	for i, v := range x {
		y[i] = float32(f(float64(v)))
	}
}

// reduceModel models the reduction kernel: output element r of sample n
// folds K inputs inner apart from n·inPerSample + (r / inner)·K·inner +
// r % inner; max and min in f32 from ∓Inf with NaN winning (max.NaN.f32),
// the sums in f64 from 0 (squared for SumSquare and L2, absolute for L1),
// Mean divided by K and L2's square root in f64, rounded to f32 once.
func reduceModel(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, _ map[string][]byte) {
	x, y := buf(s.Args[0]).Float32s(), buf(s.Args[1]).Float32s()
	u := func(i int) int { return int(s.Args[i].GetU32()) }
	op, k, inner, outPer, inPer := uint32(u(3)), u(4), u(5), u(6), u(7)
	for i := range y {
		n, r := i/outPer, i%outPer
		at := n*inPer + r/inner*k*inner + r%inner
		switch op {
		case kernels.RMax, kernels.RMin:
			acc := float32(math.Inf(-1))
			if op == kernels.RMin {
				acc = float32(math.Inf(1))
			}
			for e := 0; e < k; e++ {
				v := x[at+e*inner]
				switch {
				case acc != acc || v != v:
					acc = float32(math.NaN())
				case op == kernels.RMax:
					acc = max(acc, v)
				default:
					acc = min(acc, v)
				}
			}
			y[i] = acc
		default:
			sum := 0.0
			for e := 0; e < k; e++ {
				d := float64(x[at+e*inner])
				switch op {
				case kernels.RSumSquare, kernels.RL2:
					d *= d
				case kernels.RL1:
					d = math.Abs(d)
				}
				sum += d
			}
			switch op {
			case kernels.RMean:
				sum /= float64(k)
			case kernels.RL2:
				sum = math.Sqrt(sum)
			}
			y[i] = float32(sum)
		}
	}
}

// f32Operand is a kernel model's f32 operand: an engine weight or a buffer.
func f32Operand(a *engine.Arg, buf func(*engine.Arg) *ir.Tensor, weights map[string][]byte) []float32 {
	if w := a.GetWeight(); w != "" {
		return f32sOf(weights[w])
	}
	return buf(a).Float32s()
}

func f32sOf(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// TestHostFreePlans plans the ops that used to run on the host (float
// AveragePool, LayerNormalization, Resize, MatMul over rows, int8 Relu) on
// NCHW and NHWC inputs, checks each runs on its own kernel, then runs the
// plan through the kernels' Go models at batch 3 and compares with the
// reference executor: bit for bit, except downstream of an approximate
// kernel (Softmax) within 1e-5.
func TestHostFreePlans(t *testing.T) {
	// Four channels depthwise: the vectorized kernel, four a thread.
	dw4F32 := kernels.QGroupVec{Depthwise: true, V: 4, OutF32: true}.Name()
	cases := []struct {
		name, body string
		nhwc       []string
		kernel     map[string]string // node → kernel it must run on
		approx     bool
	}{
		{"average pools", `(%a: f32[N,5,9,7]) -> (%y1, %y2, %y3, %y4) {
  %y1: f32[N,5,4,3] = AveragePool "p1" (%a) {kernel_shape = [3, 3], strides = [2, 2]}
  %y2: f32[N,5,5,4] = AveragePool "p2" (%a) {kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 1, 1], count_include_pad = 1}
  %y3: f32[N,5,5,4] = AveragePool "p3" (%a) {kernel_shape = [3, 2], strides = [2, 2], pads = [1, 0, 0, 1], ceil_mode = 1}
  %y4: f32[N,5,5,4] = AveragePool "p4" (%a) {kernel_shape = [3, 2], strides = [2, 2], pads = [1, 0, 0, 1], ceil_mode = 1, count_include_pad = 1}
}`, nil, map[string]string{"p1": kernels.AvgPoolF32Kernel, "p2": kernels.AvgPoolF32Kernel, "p3": kernels.AvgPoolF32Kernel, "p4": kernels.AvgPoolF32Kernel}, false},
		{"average pool, dilated", `(%a: f32[N,3,8,8]) -> (%y) {
  %y: f32[N,3,4,4] = AveragePool "p" (%a) {kernel_shape = [2, 2], strides = [2, 2], dilations = [2, 2], pads = [1, 1, 1, 1]}
}`, nil, map[string]string{"p": kernels.AvgPoolF32Kernel}, false},
		{"layer norms", `(%a: f32[N,4,6,8]) -> (%y1, %y2, %y3) {
  const %s8: f32[8] = [1, 2, 0.5, -1, 3, 0.25, 1.5, -2]
  const %b8: f32[8] = [0.1, -0.2, 0.3, 0, 1, -1, 2, 0.5]
  const %s68: f32[6,1] = [1, 2, 3, 4, 5, 6]
  %y1: f32[N,4,6,8] = LayerNormalization "ln_last" (%a, %s8, %b8) {epsilon = 0.000001}
  %y2: f32[N,4,6,8] = LayerNormalization "ln_noscale_bias" (%a, %s8) {axis = 2}
  %y3: f32[N,4,6,8] = LayerNormalization "ln_axis1" (%a, %s68) {axis = 1}
}`, nil, map[string]string{"ln_last": kernels.LayerNormKernel, "ln_noscale_bias": kernels.LayerNormKernel, "ln_axis1": kernels.LayerNormKernel}, false},
		{"instance and group normalization", `(%a: f32[N,6,3,5]) -> (%y1, %y2) {
  const %s: f32[6] = [1, 2, 0.5, -1, 3, 0.25]
  const %b: f32[6] = [0.1, -0.2, 0.3, 0, 1, -1]
  %y1: f32[N,6,3,5] = InstanceNormalization "in" (%a, %s, %b) {epsilon = 0.001}
  %y2: f32[N,6,3,5] = GroupNormalization "gn" (%a, %s, %b) {num_groups = 3}
}`, nil, map[string]string{"in": kernels.LayerNormKernel, "gn": kernels.LayerNormKernel}, false},
		{"layer norm over channels-last view of an nhwc image", `(%a: f32[N,8,3,5]) -> (%y) {
  const %s8: f32[8] = [1, 2, 0.5, -1, 3, 0.25, 1.5, -2]
  const %b8: f32[8] = [0.1, -0.2, 0.3, 0, 1, -1, 2, 0.5]
  %t: f32[N,3,5,8] = Transpose "tr" (%a) {perm = [0, 2, 3, 1]}
  %l: f32[N,3,5,8] = LayerNormalization "ln" (%t, %s8, %b8)
  %y: f32[N,8,3,5] = Transpose "back" (%l) {perm = [0, 3, 1, 2]}
}`, []string{"a"}, map[string]string{"ln": kernels.LayerNormKernel}, false},
		{"resizes", `(%a: f32[N,3,5,4]) -> (%y1, %y2, %y3, %y4, %y5) {
  const %sz: i64[2] = [11, 9]
  const %sc: f32[4] = [1, 1, 2, 2]
  const %sw: f32[4] = [1, 1, 1, 2.5]
  %y1: f32[N,3,11,9] = Resize "lin" (%a, _, _, %sz) {axes = [2, 3], mode = "linear"}
  %y2: f32[N,3,10,8] = Resize "near" (%a, _, %sc) {mode = "nearest", coordinate_transformation_mode = "asymmetric", nearest_mode = "floor"}
  %y3: f32[N,3,10,8] = Resize "cubic" (%a, _, %sc) {mode = "cubic", coordinate_transformation_mode = "align_corners"}
  %y4: f32[N,3,5,10] = Resize "wonly" (%a, _, %sw) {mode = "linear", coordinate_transformation_mode = "pytorch_half_pixel"}
  %y5: f32[N,3,10,8] = Resize "cubicx" (%a, _, %sc) {mode = "cubic", exclude_outside = 1}
}`, nil, map[string]string{"lin": kernels.ResizeKernel, "near": kernels.ResizeKernel, "cubic": kernels.ResizeKernel, "wonly": kernels.ResizeKernel, "cubicx": kernels.ResizeKernel}, false},
		{"a resize to sizes computed from its input's shape, as torch's dynamo exporter writes it", `(%a: f32[N,3,5,4]) -> (%y) {
  %s: i64[4] = Shape "shape" (%a)
  const %st: i64[1] = [0]
  const %en: i64[1] = [2]
  %nc: i64[2] = Slice "nc" (%s, %st, %en)
  const %hw: i64[2] = [11, 9]
  %sz: i64[4] = Concat "sizes" (%nc, %hw) {axis = 0}
  %y: f32[N,3,11,9] = Resize "up" (%a, _, _, %sz) {mode = "linear", coordinate_transformation_mode = "pytorch_half_pixel"}
}`, nil, map[string]string{"up": kernels.ResizeKernel}, false},
		{"global average pool quantized for a classifier, and one that is also an output", `(%a: f32[N,8,3,5]) -> (%y, %p2, %q2) {
  const %sc: f32[] = [0.0625]
  const %zp: i8[] = [-2]
  const %w: i8[6,8] quant(axis=0, scale=[0.5, 0.25, 0.125, 0.5, 0.25, 0.125], zp=[0, 0, 0, 0, 0, 0]) = [` + int8s(48) + `]
  const %m: f32[6] = [0.03125, 0.015625, 0.0078125, 0.03125, 0.015625, 0.0078125]
  const %b: i32[6] = [1, -2, 300, -4, 5, -600]
  %p: f32[N,8,1,1] = GlobalAveragePool "pool" (%a)
  %q: i8[N,8,1,1] quant(scale=[0.0625], zp=[-2]) = QuantizeLinear "q" (%p, %sc, %zp)
  %f: i8[N,8] quant(scale=[0.0625], zp=[-2]) = Flatten "flat" (%q) {axis = 1}
  %y: f32[N,6] = QGemm "fc" (%f, %w, %m, %b)
  %p2: f32[N,8,1,1] = GlobalAveragePool "pool2" (%a)
  %q2: i8[N,8,1,1] quant(scale=[0.0625], zp=[-2]) = QuantizeLinear "q2" (%p2, %sc, %zp)
}`, nil, map[string]string{"pool": kernels.GapQuantizeKernel, "q": "", "pool2": kernels.GapKernel, "q2": kernels.QuantizeKernel}, false},
		{"matmul over rows", `(%a: f32[N,3,5,8]) -> (%y) {
  const %w: f32[8,6] = [` + zeros(48) + `]
  %y: f32[N,3,5,6] = MatMul "mm" (%a, %w)
}`, nil, map[string]string{"mm": kernels.FloatConvKernel}, false},
		{"grouped qconv, f32 output", `(%a: i8[N,4,5,6] quant(scale=[0.05], zp=[3])) -> (%y1, %y2, %y3) {
  const %w: i8[8,2,3,3] quant(axis=0, scale=[0.01, 0.02, 0.01, 0.02, 0.01, 0.02, 0.01, 0.02], zp=[0, 0, 0, 0, 0, 0, 0, 0]) = [` + int8s(144) + `]
  const %m: f32[8] = [0.0005, 0.001, 0.0005, 0.001, 0.0005, 0.001, 0.0005, 0.001]
  const %b: i32[8] = [1, -2, 300, -4, 5, -600, 7, -8]
  const %dw: i8[4,1,3,3] quant(axis=0, scale=[0.01, 0.02, 0.01, 0.02], zp=[0, 0, 0, 0]) = [` + int8s(36) + `]
  const %dm: f32[4] = [0.0005, 0.001, 0.0005, 0.001]
  const %db: i32[4] = [10, -20, 30, -40]
  const %mr: f32[] = [0.05]
  %y1: f32[N,8,3,3] = QConv "g2" (%a, %w, %m, %b) {activation = "relu", group = 2, kernel_shape = [3, 3], pads = [1, 1, 1, 1], strides = [2, 2]}
  %y2: f32[N,4,5,6] = QConv "dw" (%a, %dw, %dm, %db, %a, %mr) {activation = "clip", clip_min = -0.1, clip_max = 0.2, group = 4, kernel_shape = [3, 3], pads = [1, 1, 1, 1]}
  %y3: f32[N,4,5,6] = QConv "dwn" (%a, %dw, %dm, %db) {group = 4, kernel_shape = [3, 3], pads = [1, 1, 1, 1]}
}`, []string{"a"}, map[string]string{"g2": kernels.QGroupConvF32Kernel, "dw": dw4F32, "dwn": dw4F32}, false},
		{"matmul by a dequantized constant weight", `(%a: f32[N,3,5,8]) -> (%y, %z) {
  const %wq: i8[8,6] quant(axis=1, scale=[0.01, 0.02, 0.03, 0.01, 0.02, 0.03], zp=[0, 0, 0, 0, 0, 0]) = [` + int8s(48) + `]
  const %s: f32[6] = [0.01, 0.02, 0.03, 0.01, 0.02, 0.03]
  const %zp: i8[6] = [0, 0, 0, 0, 0, 0]
  const %wq2: i8[120,6] quant(axis=1, scale=[0.01, 0.02, 0.03, 0.01, 0.02, 0.03], zp=[0, 0, 0, 0, 0, 0]) = [` + int8s(720) + `]
  %w: f32[8,6] = DequantizeLinear "dqw" (%wq, %s, %zp) {axis = 1}
  %y: f32[N,3,5,6] = MatMul "mm" (%a, %w)
  %w2: f32[120,6] = DequantizeLinear "dqw2" (%wq2, %s, %zp) {axis = 1}
  %f: f32[N,120] = Flatten "flat" (%a) {axis = 1}
  %z: f32[N,6] = MatMul "mm2" (%f, %w2)
}`, nil, map[string]string{"dqw": "", "dqw2": "", "mm": kernels.FloatConvKernel, "mm2": kernels.FloatConvKernel}, false},
		{"attention-style batched matmuls", `(%a: f32[N,6,5,4]) -> (%y, %z, %u) {
  const %st: f32[6,4,3] = [` + zeros(72) + `]
  const %one: f32[4,3] = [` + zeros(12) + `]
  %t: f32[N,6,4,5] = Transpose "kt" (%a) {perm = [0, 1, 3, 2]}
  %y: f32[N,6,5,5] = MatMul "qk" (%a, %t)
  %z: f32[N,6,5,3] = MatMul "stack" (%a, %st)
  %u: f32[N,6,5,5] = MatMul "pv" (%y, %y)
}`, nil, map[string]string{"qk": kernels.BatchMatMulKernel, "stack": kernels.BatchMatMulKernel, "pv": kernels.BatchMatMulKernel}, false},
		{"inference dropout, a view", `(%a: f32[N,4,3,5]) -> (%y) {
  const %ratio: f32[] = [0.1]
  const %zero: f32[] = [0]
  const %train: bool[] = [true]
  %d: f32[N,4,3,5], %mask: bool[N,4,3,5] = Dropout "drop" (%a, %ratio)
  %e: f32[N,4,3,5] = Dropout "drop0" (%d, %zero, %train)
  %y: f32[N,4,3,5] = AveragePool "pool" (%e) {kernel_shape = [1, 1]}
}`, nil, map[string]string{"drop": "", "drop0": "", "pool": kernels.AvgPoolF32Kernel}, false},
		{"operands in different orders", `(%a: f32[N,4,3,5], %b: f32[N,4,3,5]) -> (%y, %z) {
  %y: f32[N,4,3,5] = Add "add" (%a, %b)
  %z: f32[N,4,3,5] = Div "div" (%b, %a)
}`, []string{"b"}, map[string]string{"add": kernels.Eltwise4Kernel, "div": kernels.Eltwise4Kernel}, false},
		{"softmax over the last axis of an nhwc image", `(%a: f32[N,4,3,5]) -> (%s) {
  %s: f32[N,4,3,5] = Softmax "sm" (%a) {axis = -1}
}`, nil, map[string]string{"sm": kernels.SoftmaxShortKernel}, false},
		{"prelu", `(%a: f32[N,4,3,5]) -> (%y, %z) {
  const %slope: f32[4,1,1] = [0.1, 0.2, -0.3, 2]
  const %full: f32[3,5] = [0.5, 1, 2, -1, 0, 0.25, 3, -2, 1, 1, 0.1, 0.2, 0.3, 0.4, 0.5]
  %y: f32[N,4,3,5] = PRelu "prelu_c" (%a, %slope)
  %z: f32[N,4,3,5] = PRelu "prelu_hw" (%a, %full)
}`, nil, map[string]string{"prelu_c": kernels.BcastKernel + "|" + kernels.Bcast4Kernel, "prelu_hw": kernels.BcastKernel + "|" + kernels.Bcast4Kernel}, false},
		{"token rows four elements a thread", `(%a: f32[N,6,8], %m: f32[N,6,1]) -> (%y, %z) {
  const %bias: f32[8] = [0.5, -1, 2, 0.25, -0.5, 3, 0, -2]
  %y: f32[N,6,8] = Add "bias" (%a, %bias)
  %z: f32[N,6,8] = Sub "centre" (%a, %m)
}`, nil, map[string]string{"bias": kernels.Bcast4Kernel, "centre": kernels.Bcast4Kernel}, false},
		{"transposed convolutions", `(%a: f32[N,4,5,6]) -> (%y1, %y2, %y3) {
  const %w: f32[4,3,3,3] = [` + zeros(108) + `]
  const %wg: f32[4,2,2,2] = [` + zeros(32) + `]
  const %b: f32[3] = [0.5, -1, 2]
  %y1: f32[N,3,10,13] = ConvTranspose "up2" (%a, %w, %b) {strides = [2, 2], pads = [1, 1, 1, 0], output_padding = [1, 1]}
  %y2: f32[N,4,10,12] = ConvTranspose "group" (%a, %wg) {strides = [2, 2], group = 2}
  %y3: f32[N,3,9,10] = ConvTranspose "dilated" (%a, %w, %b) {dilations = [2, 2], pads = [0, 0, 0, 0]}
}`, nil, map[string]string{"up2": kernels.ConvTransposeKernel, "group": kernels.ConvTransposeKernel, "dilated": kernels.ConvTransposeKernel}, false},
		{"products over more than one chunk of the summation order", `(%a: f32[N,2,3,300]) -> (%y, %z, %u) {
  const %w: f32[300,5] = [` + zeros(1500) + `]
  const %wt: f32[300,2,2,2] = [` + zeros(2400) + `]
  const %b: f32[2] = [0.5, -1]
  %t: f32[N,2,300,3] = Transpose "kt" (%a) {perm = [0, 1, 3, 2]}
  %y: f32[N,2,3,3] = MatMul "qk" (%a, %t)
  %z: f32[N,2,3,5] = MatMul "rows" (%a, %w)
  %r: f32[N,300,2,3] = Transpose "cl" (%a) {perm = [0, 3, 1, 2]}
  %u: f32[N,2,4,6] = ConvTranspose "up" (%r, %wt, %b) {strides = [2, 2]}
}`, nil, map[string]string{"qk": kernels.BatchMatMulKernel, "rows": kernels.FloatConvKernel, "up": kernels.ConvTransposeKernel}, false},
		{"global max pool", `(%a: f32[N,4,3,5]) -> (%y) {
  %y: f32[N,4,1,1] = GlobalMaxPool "gmax" (%a)
}`, []string{"a"}, map[string]string{"gmax": kernels.MaxPoolF32Kernel}, false},
		{"reshapes of nhwc images: fewer than 32 channels, and more than one tile each way", `(%a: f32[N,8,7,6], %b: f32[N,40,5,7]) -> (%y, %z) {
  const %shp: i64[2] = [-1, 336]
  %y: f32[N,336] = Reshape "flat8" (%a, %shp)
  %z: f32[N,1400] = Flatten "flat40" (%b) {axis = 1}
}`, []string{"b"}, map[string]string{"flat8": "|" + kernels.ToNCHW32Kernel, "flat40": kernels.ToNCHW32Kernel}, false},
		{"int8 relu", `(%a: i8[N,4,3,5] quant(scale=[0.05], zp=[3])) -> (%y) {
  %y: i8[N,4,3,5] quant(scale=[0.05], zp=[3]) = Relu "relu" (%a)
}`, nil, map[string]string{"relu": kernels.Clamp8Kernel}, false},
	}
	for _, c := range cases {
		for _, layout := range []string{"nchw", "nhwc"} {
			t.Run(c.name+"/"+layout, func(t *testing.T) {
				g, err := sqir.ParseAndVerify("g", []byte(`graph "g" `+c.body))
				if err != nil {
					t.Fatal(err)
				}
				nhwc := map[string]bool{}
				for _, n := range c.nhwc {
					nhwc[n] = true
				}
				if layout == "nhwc" {
					nhwc[g.Inputs[0].Name] = true
				}
				e, err := planWithInputLayouts(g, "test", nhwc, false)
				if err != nil {
					t.Fatal(err)
				}
				for node, k := range c.kernel {
					// "a|b": a on the NCHW run, b on the NHWC one.
					if a, b, ok := strings.Cut(k, "|"); ok {
						k = a
						if layout == "nhwc" {
							k = b
						}
					}
					var got []string
					for _, s := range e.Steps {
						if s.Node == node {
							got = append(got, s.Kernel)
						}
					}
					// Relayout copies (NHWC to row order, NCHW to NHWC) first.
					for len(got) > 1 && (got[0] == kernels.ToNCHW32Kernel || got[0] == kernels.ToNHWC32Kernel) {
						got = got[1:]
					}
					if k == "" && len(got) == 0 {
						continue // folded at plan time: no launch
					}
					if len(got) != 1 || got[0] != k {
						t.Errorf("node %s runs on %v, want %s", node, got, k)
					}
				}
				// Random weights where the text has zeros(), a constant 0.5.
				r := rand.New(rand.NewPCG(3, 4))
				randomized := false
				for _, nd := range g.Nodes {
					for _, v := range nd.Inputs {
						if v == nil || !v.IsConst() || v.Const.DType != ir.Float32 || v.Const.Len() < 2 {
							continue
						}
						w := v.Const.Float32s()
						if slices.ContainsFunc(w, func(f float32) bool { return f != 0.5 }) {
							continue
						}
						for i := range w {
							w[i] = float32(r.NormFloat64())
						}
						randomized = true
					}
				}
				if randomized {
					if e, err = planWithInputLayouts(g, "test", nhwc, false); err != nil {
						t.Fatal(err)
					}
				}
				const batch = 3
				rng := rand.New(rand.NewPCG(5, 6))
				ins, byName := randomGraphInputs(g, batch, rng, 2)
				for _, x := range ins {
					if d, ok := x.Data.([]float32); ok {
						d[0], d[1] = 3, 3 // a repeated value: ties, exact halves
					}
				}
				want, err := ref.Run(g, ins...)
				if err != nil {
					t.Fatal(err)
				}
				got := simulate(t, g, e, batch, byName)
				for i, v := range g.Outputs {
					gt, wt := got[v.Name], want[i]
					if gt.DType != wt.DType || gt.Len() != wt.Len() {
						t.Fatalf("output %s: %v of %d, want %v of %d", v.Name, gt.DType, gt.Len(), wt.DType, wt.Len())
					}
					bad := 0
					for j := 0; j < wt.Len(); j++ {
						gv, wv := gt.AsFloat64(j), wt.AsFloat64(j)
						ok := math.Float64bits(gv) == math.Float64bits(wv)
						if c.approx {
							ok = math.Abs(gv-wv) <= 1e-5*math.Max(1, math.Abs(wv))
						}
						if !ok {
							if bad < 3 {
								t.Errorf("output %s [%d]: %v, want %v", v.Name, j, gv, wv)
							}
							bad++
						}
					}
					if bad > 0 {
						t.Errorf("output %s: %d of %d differ", v.Name, bad, wt.Len())
					}
				}
			})
		}
	}
}

// int8s lists n int8 weights in .sqir syntax, varied and signed.
func int8s(n int) string {
	vs := make([]string, n)
	for i := range vs {
		vs[i] = strconv.Itoa((i*37)%255 - 127)
	}
	return strings.Join(vs, ", ")
}

// bufShape is a value's per-sample dims.
func bufShape(v *ir.Value) []int64 {
	var d []int64
	for _, s := range v.Type.Shape[1:] {
		d = append(d, s.Size)
	}
	return d
}

// eltwiseModel is the elementwise kernels' arithmetic, element by element.
// ptxMinMax is PTX's max.f32 (isMax) or min.f32: a NaN operand gives the
// other one.
func ptxMinMax(isMax bool, a, b float32) float32 {
	switch {
	case a != a:
		return b
	case b != b:
		return a
	case isMax:
		return max(a, b)
	}
	return min(a, b)
}

func eltwiseModel(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, weights map[string][]byte) {
	x, y := buf(s.Args[0]).Float32s(), buf(s.Args[2]).Float32s()
	var b []float32
	if w := s.Args[1].GetWeight(); w != "" {
		b = f32sOf(weights[w])
	} else {
		b = buf(s.Args[1]).Float32s()
	}
	bmode, c, inner, swap := s.Args[5].GetU32(), int(s.Args[6].GetU32()), int(s.Args[7].GetU32()), s.Args[8].GetU32() == 1
	for i := range y {
		xv, bv := x[i], float32(0)
		switch bmode {
		case kernels.EltSameB:
			bv = b[i]
		case kernels.EltScalarB:
			bv = b[0]
		case kernels.EltChannelB:
			bv = b[i/inner%c]
		case kernels.EltNoB: // a unary op
		default:
			panic("eltwise model: an operand mode not modelled")
		}
		if swap {
			xv, bv = bv, xv
		}
		switch s.Args[4].GetU32() {
		case kernels.EltAdd:
			y[i] = xv + bv
		case kernels.EltSub:
			y[i] = xv - bv
		case kernels.EltMul:
			y[i] = xv * bv
		case kernels.EltDiv:
			y[i] = xv / bv
		case kernels.EltClamp: // Relu and Clip: max.f32 then min.f32, which take the non-NaN operand
			y[i] = ptxMinMax(false, ptxMinMax(true, xv, s.Args[10].GetF32()), s.Args[11].GetF32())
		case kernels.EltLeaky:
			y[i] = xv
			if xv < 0 {
				y[i] = xv * s.Args[9].GetF32()
			}
		case kernels.EltSigmoid:
			y[i] = float32(fmath.Sigmoid(float64(xv)))
		case kernels.EltTanh:
			y[i] = float32(fmath.Tanh(float64(xv)))
		default:
			panic("eltwise model: only Add, Sub, Mul, Div, Clamp (Relu, Clip), LeakyRelu, Sigmoid and Tanh are modelled")
		}
	}
}

// bcastModel is the broadcasting kernels': each operand read through its
// own strides over the output's dims, innermost first.
func bcastModel(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, weights map[string][]byte) {
	a, b, y := f32Operand(s.Args[0], buf, weights), f32Operand(s.Args[1], buf, weights), buf(s.Args[2]).Float32s()
	u := func(i int) int { return int(s.Args[i].GetU32()) }
	op, per, aS, bS := u(4), u(5), u(6), u(7)
	const r = kernels.BcastRank
	for i := range y {
		n, rest := i/per, i%per
		ao, bo := n*aS, n*bS
		for d := r - 1; d >= 0; d-- {
			idx := rest % u(8+d)
			rest /= u(8 + d)
			ao += idx * u(8+r+d)
			bo += idx * u(8+2*r+d)
		}
		x, sl := a[ao], b[bo]
		switch op {
		case kernels.BAdd:
			y[i] = x + sl
		case kernels.BSub:
			y[i] = x - sl
		case kernels.BMul:
			y[i] = x * sl
		case kernels.BDiv:
			y[i] = x / sl
		case kernels.BPRelu:
			y[i] = max(x, 0) + min(x, 0)*sl
		default:
			panic("bcast model: only Add, Sub, Mul, Div and PRelu are modelled")
		}
	}
}

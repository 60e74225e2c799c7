package kernels

import "fmt"

// The small kernels around the GEMM: quantize (with the NCHW → NHWC
// relayout), dequantize, im2col, global average pool, int8 max pool and
// the NHWC → NCHW transpose. Each is one thread an output element, a block
// of OpThreads threads, the element count a launch parameter (so the same
// text serves every batch); their arithmetic is ir/ref's, operation for
// operation, so that integer results are bit-exact:
//
//	quantize    q = min(max(cvt.rni(x / s) +sat zp, -128), 127)   div.rn.f32
//	dequantize  y = float32(q - zp) * s                            mul.rn.f32
//	gap         y = float32(Σ float64(x) / float64(HW))            add.rn.f64 in order, div.rn.f64
//	gap + q     the gap's y, then the quantize of y                 (GapQuantizeKernel)
//
// cvt.rni.s32.f32 rounds half to even, saturates and maps NaN to 0, as
// ir/ref's roundSat does.

// OpThreads is the block size of the small kernels.
const OpThreads = 256

// Op kernel names.
const (
	QuantizeKernel   = "sqc_quantize_f32_s8"
	DequantizeKernel = "sqc_dequantize_s8_f32"
	// Quantize4Kernel and Dequantize4Kernel are QuantizeKernel without the
	// relayout and DequantizeKernel four elements a thread: one 16-byte
	// load or store of floats and one 4-byte store or load of codes, each
	// element's arithmetic the same; total counts the groups of four
	// (elements / 4; the planner takes them where a sample's elements are
	// a multiple of 4, so the buffers' 16-byte alignment holds).
	Quantize4Kernel   = "sqc_quantize_f32_s8_x4"
	Dequantize4Kernel = "sqc_dequantize_s8_f32_x4"
	Im2colKernel      = "sqc_im2col_s8"
	GapKernel         = "sqc_gap_f32_nhwc"
	// GapQuantizeKernel is GapKernel followed by QuantizeKernel's
	// arithmetic on each mean, in one launch that writes int8: a
	// GlobalAveragePool whose only reader is a QuantizeLinear (a
	// classifier head's: ResNet's avgpool before the fc QGemm). Output i
	// = n·C + c, the pooled [N,C,1,1] value in any layout.
	GapQuantizeKernel = "sqc_gap_quantize_f32_s8"
	MaxPoolKernel     = "sqc_maxpool_s8_nhwc"
	// MaxPool16Kernel is MaxPoolKernel for C a multiple of 16: one thread
	// 16 channels of an output pixel, one 16-byte load a tap and one
	// 16-byte store, the index arithmetic once for 16 outputs; total
	// counts the 16-channel groups (outputs / 16).
	MaxPool16Kernel  = "sqc_maxpool_s8_nhwc_v16"
	MaxPoolF32Kernel = "sqc_maxpool_f32_nhwc"
	ToNCHW8Kernel    = "sqc_nhwc_to_nchw_b8"
	ToNCHW32Kernel   = "sqc_nhwc_to_nchw_b32"
	ToNHWC8Kernel    = "sqc_nchw_to_nhwc_b8"
	ToNHWC32Kernel   = "sqc_nchw_to_nhwc_b32"
	BatchNormKernel  = "sqc_batchnorm_f32"
	SoftmaxKernel    = "sqc_softmax_f32"
	LogSoftmaxKernel = "sqc_logsoftmax_f32"
	Pad8Kernel       = "sqc_pad_b8"
	Pad32Kernel      = "sqc_pad_b32"
	// Pad8x4Kernel and Pad32x4Kernel are the pad kernels four output
	// elements a thread (one 4-byte or 16-byte load and store) where
	// Pad4Fits; total counts groups of four, the other parameters are the
	// same.
	Pad8x4Kernel  = "sqc_pad_b8_x4"
	Pad32x4Kernel = "sqc_pad_b32_x4"
)

// Pad4Fits reports whether a pad of output dims out, input dims in and
// leading pads lead (memory order, innermost last) can go four elements a
// thread: the innermost output and input dims and the innermost pad
// multiples of 4, so a group of four is all padding or all input, its
// input offset is a multiple of 4 and its accesses are aligned.
func Pad4Fits(out, in, lead [3]int64) bool {
	return out[2]%4 == 0 && in[2]%4 == 0 && lead[2]%4 == 0
}

// Pad4Of returns the four-a-thread form of a pad kernel.
func Pad4Of(name string) string {
	if name == Pad8Kernel {
		return Pad8x4Kernel
	}
	return Pad32x4Kernel
}

// OpParams lists each op kernel's parameters in launch order: the device
// pointers (.u64) first, then the u32 sizes (the first is always the
// element count), then s32 and f32 scalars. The planner builds launch
// arguments in this order.
var OpParams = map[string][]string{
	QuantizeKernel:    {"x", "y", "total", "C", "HW", "zp:s32", "scale:f32"},
	DequantizeKernel:  {"x", "y", "total", "zp:s32", "scale:f32"},
	Quantize4Kernel:   {"x", "y", "total", "zp:s32", "scale:f32"},
	Dequantize4Kernel: {"x", "y", "total", "zp:s32", "scale:f32"},
	Im2colKernel:      {"x", "col", "total", "lda", "K", "C", "H", "W", "OH", "OW", "KW", "sh", "sw", "ph", "pw", "dh", "dw", "zx:s32"},
	GapKernel:         {"x", "y", "total", "C", "HW"},
	// total = N·C; zp and scale the quantize's.
	GapQuantizeKernel: {"x", "y", "total", "C", "HW", "zp:s32", "scale:f32"},
	MaxPoolKernel:     {"x", "y", "total", "C", "H", "W", "OH", "OW", "KH", "KW", "sh", "sw", "ph", "pw", "dh", "dw"},
	MaxPool16Kernel:   {"x", "y", "total", "C", "H", "W", "OH", "OW", "KH", "KW", "sh", "sw", "ph", "pw", "dh", "dw"},
	MaxPoolF32Kernel:  {"x", "y", "total", "C", "H", "W", "OH", "OW", "KH", "KW", "sh", "sw", "ph", "pw", "dh", "dw"},
	ToNCHW8Kernel:     {"x", "y", "total", "C", "HW"},
	ToNCHW32Kernel:    {"x", "y", "total", "C", "HW"},
	ToNHWC8Kernel:     {"x", "y", "total", "C", "HW"},
	ToNHWC32Kernel:    {"x", "y", "total", "C", "HW"},
	// prm: the per-channel factor, mean and bias, C f32 each, in that
	// order; channel of element i = i / inner % C.
	BatchNormKernel:       {"x", "y", "prm", "total", "C", "inner"},
	SoftmaxKernel:         {"x", "y", "total", "size"},
	LogSoftmaxKernel:      {"x", "y", "total", "size"},
	SoftmaxShortKernel:    {"x", "y", "total", "size"},
	LogSoftmaxShortKernel: {"x", "y", "total", "size"},
	// Dims in memory order (the layout's), the batch dim excluded: output
	// O1×O2×O3, input I1×I2×I3, leading pads P1..P3; value is the pad
	// element's bits.
	Pad8Kernel:    {"x", "y", "total", "O1", "O2", "O3", "I1", "I2", "I3", "P1", "P2", "P3", "value"},
	Pad32Kernel:   {"x", "y", "total", "O1", "O2", "O3", "I1", "I2", "I3", "P1", "P2", "P3", "value"},
	Pad8x4Kernel:  {"x", "y", "total", "O1", "O2", "O3", "I1", "I2", "I3", "P1", "P2", "P3", "value"},
	Pad32x4Kernel: {"x", "y", "total", "O1", "O2", "O3", "I1", "I2", "I3", "P1", "P2", "P3", "value"},
}

// ApproxKernels are the kernels whose float results may differ from the
// reference executor's in the last bits: the float convolution, GEMM and
// batched MatMul, which sum in their own order, register here. Everything
// else is bit-exact, the transcendental functions included (fmath.go).
var ApproxKernels = map[string]bool{}

// opPointerCount is the number of pointer parameters of op kernels that
// have more than opPointers.
var opPointerCount = map[string]int{BatchNormKernel: 3}

// opPointers is the number of pointer parameters of most op kernels (the
// input and the output); opPointerCount lists the others.
const opPointers = 2

// OpPTX returns the module text of one op kernel.
func OpPTX(name string) (string, error) {
	if name == SoftmaxKernel || name == LogSoftmaxKernel {
		return SoftmaxPTX(name == LogSoftmaxKernel), nil // a warp a row (rows.go)
	}
	if name == SoftmaxShortKernel || name == LogSoftmaxShortKernel {
		return SoftmaxShortPTX(name == LogSoftmaxShortKernel), nil // 8 lanes a row (rows.go)
	}
	if name == ToNCHW32Kernel {
		return toNCHW32TiledPTX(), nil // 32×32 tiles through shared memory (transpose.go)
	}
	body, ok := opBodies[name]
	if !ok {
		return "", fmt.Errorf("no op kernel %q", name)
	}
	var b builder
	b.header()
	params := OpParams[name]
	ptrs := opPointers
	if n, ok := opPointerCount[name]; ok {
		ptrs = n
	}
	b.opEntry(name, params, ptrs)
	declare(&b, ".pred", "%p<8>")
	declare(&b, ".b32", "%r<48>")
	declare(&b, ".b64", "%rd<16>")
	declare(&b, ".f32", "%f<8>")
	declare(&b, ".f64", "%d<4>")
	if name == GapKernel || name == GapQuantizeKernel {
		declare(&b, ".f32", fmt.Sprintf("%%gv<%d>", gapLoads))
	}
	b.comment("parameters: pointers in %%rd0, %%rd1; u32/s32 scalars in %%r0..; f32 in %%f0")
	b.l("ld.param.u64 %%rd0, [p0];")
	b.l("cvta.to.global.u64 %%rd0, %%rd0;")
	b.l("ld.param.u64 %%rd1, [p1];")
	b.l("cvta.to.global.u64 %%rd1, %%rd1;")
	if ptrs > 2 {
		// A third pointer (BatchNormKernel's parameters) in %rd10.
		b.l("ld.param.u64 %%rd10, [p2];")
		b.l("cvta.to.global.u64 %%rd10, %%rd10;")
	}
	for i := ptrs; i < len(params); i++ {
		p := params[i]
		switch {
		case len(p) > 4 && p[len(p)-4:] == ":f32":
			b.l("ld.param.f32 %%f0, [p%d];", i)
		case len(p) > 4 && p[len(p)-4:] == ":s32":
			b.l("ld.param.s32 %%r%d, [p%d];", i-ptrs, i)
		default:
			b.l("ld.param.u32 %%r%d, [p%d];", i-ptrs, i)
		}
	}
	b.threadIndex()
	body(&b)
	b.raw("$L_done:")
	b.l("ret;")
	b.raw("}")
	return b.String(), nil
}

// QuantizePixelKernel is the input quantize of an image network's stem
// fused with the relayouts that follow it: one thread an output pixel reads
// the f32 NCHW input and writes that pixel's cp int8 channels (cp a
// multiple of 4, at most MaxQuantizePixelChannels) as whole words. With
// block size bs = 1 output channel c is input channel c; with bs > 1 the
// output is ONNX's SpaceToDepth of the quantized image (channel (bh·bs +
// bw)·C + c of output pixel (v, u) is input channel c at (v·bs + bh,
// u·bs + bw)); channels past bs²·C hold the zero point, which is what
// pad-channels' Pad writes. Its arithmetic is QuantizeKernel's.
func QuantizePixelKernel(cp int) string { return fmt.Sprintf("sqc_quantize_px%d_f32_s8", cp) }

// MaxQuantizePixelChannels is the widest pixel QuantizePixelKernel writes.
const MaxQuantizePixelChannels = 32

func init() {
	for cp := 4; cp <= MaxQuantizePixelChannels; cp += 4 {
		name := QuantizePixelKernel(cp)
		OpParams[name] = []string{"x", "y", "total", "C", "H", "W", "OH", "OW", "bs", "zp:s32", "scale:f32"}
		opBodies[name] = func(b *builder) { quantizePixel(b, cp) }
	}
}

// QuantizePixelVecKernel is QuantizePixelKernel for a SpaceToDepth of
// block size bs (2 or 4) on c input channels, both fixed in the kernel, pix
// (1 or 2) horizontally adjacent output pixels a thread. An output pixel's
// bs input pixels of a (channel, row) are bs contiguous floats (pix·bs for
// pix pixels), aligned to their size since W is a multiple of bs (of 2·bs
// for pix 2: OW even), so they come in one 8- or 16-byte load instead of
// bs scalar ones, at offsets fixed in the kernel instead of a running
// channel, column and row a channel; the pixel index takes two divisions
// instead of two divisions and two remainders, shared by pix pixels.
// Launch it with total = pixels / pix and QuantizePixelKernel's other
// parameters (C and bs unused); the arithmetic of each element is
// QuantizePixelKernel's, bit for bit.
func QuantizePixelVecKernel(cp, c, bs, pix int) string {
	return fmt.Sprintf("sqc_quantize_px%d_c%db%d_x%d_f32_s8", cp, c, bs, pix)
}

// QuantizePixelVecFits says whether QuantizePixelVecKernel runs a pixel
// of cp channels from c input channels and block size bs.
func QuantizePixelVecFits(cp, c, bs int) bool {
	return (bs == 2 || bs == 4) && c >= 1 && c*bs*bs <= cp && cp%4 == 0 && cp <= MaxQuantizePixelChannels
}

func init() {
	for cp := 4; cp <= MaxQuantizePixelChannels; cp += 4 {
		for _, bs := range []int{2, 4} {
			for c := 1; QuantizePixelVecFits(cp, c, bs); c++ {
				for _, pix := range []int{1, 2} {
					name := QuantizePixelVecKernel(cp, c, bs, pix)
					OpParams[name] = OpParams[QuantizePixelKernel(cp)]
					opBodies[name] = func(b *builder) { quantizePixelVec(b, cp, c, bs, pix) }
				}
			}
		}
	}
}

// quantizePixelVec emits QuantizePixelVecKernel's body.
func quantizePixelVec(b *builder, cp, c, bs, pix int) {
	// r2 H, r3 W, r4 OH, r5 OW, r7 zp; thread index in r40.
	run := bs * pix // contiguous floats of a (channel, row)
	declare(b, ".f32", fmt.Sprintf("%%fv<%d>", c*bs*run))
	b.comment("first pixel P = %d*thread (r41): n r11, v r13, u r14 (two divisions)", pix)
	b.l("mul.lo.u32 %%r41, %%r40, %d;", pix)
	b.l("mul.lo.u32 %%r10, %%r4, %%r5;")
	b.l("div.u32 %%r11, %%r41, %%r10;")
	b.l("mul.lo.u32 %%r12, %%r11, %%r10;")
	b.l("sub.u32 %%r12, %%r41, %%r12;")
	b.l("div.u32 %%r13, %%r12, %%r5;")
	b.l("mul.lo.u32 %%r14, %%r13, %%r5;")
	b.l("sub.u32 %%r14, %%r12, %%r14;")
	b.comment("input element (n, 0, v*%d, u*%d) = ((n*%d*H + v*%d)*W + u*%d) in r16, its address in rd3", bs, bs, c, bs, bs)
	b.l("mul.lo.u32 %%r16, %%r11, %%r2;")
	b.l("mul.lo.u32 %%r16, %%r16, %d;", c)
	b.l("mad.lo.u32 %%r16, %%r13, %d, %%r16;", bs)
	b.l("mul.lo.u32 %%r16, %%r16, %%r3;")
	b.l("mad.lo.u32 %%r16, %%r14, %d, %%r16;", bs)
	b.l("mul.wide.u32 %%rd2, %%r16, 4;")
	b.l("add.s64 %%rd3, %%rd0, %%rd2;")
	b.l("mul.lo.u32 %%r15, %%r2, %%r3;")
	b.l("mul.wide.u32 %%rd6, %%r15, 4;") // a channel plane's bytes
	b.l("mul.wide.u32 %%rd7, %%r3, 4;")  // a row's bytes
	b.comment("channel ch, row bh: %d floats at rd3 + ch*H*W*4 + bh*W*4 into fv[(ch*%d + bh)*%d ...]", run, bs, run)
	for ch := 0; ch < c; ch++ {
		if ch > 0 {
			b.l("add.s64 %%rd3, %%rd3, %%rd6;")
		}
		b.l("mov.u64 %%rd4, %%rd3;")
		for bh := 0; bh < bs; bh++ {
			if bh > 0 {
				b.l("add.s64 %%rd4, %%rd4, %%rd7;")
			}
			first := (ch*bs + bh) * run
			for k := 0; k < run; {
				n := 4
				if run-k < 4 {
					n = 2
				}
				b.l("ld.global.v%d.f32 %s, [%%rd4+%d];", n, regList("%fv", first+k, n), 4*k)
				k += n
			}
		}
	}
	if cp > c*bs*bs {
		b.comment("channels past %d: the zero point, quantized as QuantizePixelKernel does (0 / scale)", c*bs*bs)
		b.l("mov.f32 %%f1, 0f00000000;")
		b.l("div.rn.f32 %%f2, %%f1, %%f0;")
		b.l("cvt.rni.s32.f32 %%r25, %%f2;")
		b.l("add.sat.s32 %%r25, %%r25, %%r7;")
		b.l("max.s32 %%r25, %%r25, -128;")
		b.l("min.s32 %%r25, %%r25, 127;")
	}
	b.l("mul.wide.u32 %%rd4, %%r41, %d;", cp)
	b.l("add.s64 %%rd5, %%rd1, %%rd4;")
	for q := 0; q < pix; q++ {
		b.comment("pixel P+%d: output channel j = (bh*%d + bw)*%d + ch", q, bs, c)
		for j := 0; j < cp; j++ {
			word := 30 + j/4
			if j%4 == 0 {
				b.l("mov.u32 %%r%d, 0;", word)
			}
			v := "%r25"
			if j < c*bs*bs {
				ch, bw, bh := j%c, j/c%bs, j/(c*bs)
				b.l("div.rn.f32 %%f2, %%fv%d, %%f0;", (ch*bs+bh)*run+q*bs+bw)
				b.l("cvt.rni.s32.f32 %%r24, %%f2;")
				b.l("add.sat.s32 %%r24, %%r24, %%r7;")
				b.l("max.s32 %%r24, %%r24, -128;")
				b.l("min.s32 %%r24, %%r24, 127;")
				v = "%r24"
			}
			b.l("bfi.b32 %%r%d, %s, %%r%d, %d, 8;", word, v, word, 8*(j%4))
		}
		emitPixelWords(b, cp, q*cp)
	}
}

// emitPixelWords stores a pixel's cp/4 words (%r30…) at %rd5 + off:
// 16-byte stores where cp allows, then 8, then 4.
func emitPixelWords(b *builder, cp, off int) {
	words := cp / 4
	for w := 0; w < words; {
		switch {
		case cp%16 == 0 && words-w >= 4:
			b.l("st.global.v4.u32 [%%rd5+%d], {%%r%d, %%r%d, %%r%d, %%r%d};", off+4*w, 30+w, 31+w, 32+w, 33+w)
			w += 4
		case cp%8 == 0 && words-w >= 2:
			b.l("st.global.v2.u32 [%%rd5+%d], {%%r%d, %%r%d};", off+4*w, 30+w, 31+w)
			w += 2
		default:
			b.l("st.global.u32 [%%rd5+%d], %%r%d;", off+4*w, 30+w)
			w++
		}
	}
}

// quantizePixel emits QuantizePixelKernel's body for cp channels.
func quantizePixel(b *builder, cp int) {
	// r1 C, r2 H, r3 W, r4 OH, r5 OW, r6 bs, r7 zp; pixel index in r40.
	b.comment("pixel (n r11, v r13, u r14); element index of input (n, 0, v*bs, u*bs) in r16")
	b.l("mul.lo.u32 %%r10, %%r4, %%r5;")
	b.l("div.u32 %%r11, %%r40, %%r10;")
	b.l("rem.u32 %%r12, %%r40, %%r10;")
	b.l("div.u32 %%r13, %%r12, %%r5;")
	b.l("rem.u32 %%r14, %%r12, %%r5;")
	b.l("mul.lo.u32 %%r15, %%r2, %%r3;") // HW
	b.l("mul.lo.u32 %%r16, %%r11, %%r1;")
	b.l("mul.lo.u32 %%r16, %%r16, %%r15;")
	b.l("mul.lo.u32 %%r17, %%r13, %%r6;")
	b.l("mad.lo.u32 %%r16, %%r17, %%r3, %%r16;")
	b.l("mad.lo.u32 %%r16, %%r14, %%r6, %%r16;")
	b.comment("output channel j is input channel r20 at block offset (r22, r21); past bs*bs*C (r22 = bs) the zero point")
	b.l("mov.u32 %%r20, 0;")
	b.l("mov.u32 %%r21, 0;")
	b.l("mov.u32 %%r22, 0;")
	for j := 0; j < cp; j++ {
		word := 30 + j/4
		if j%4 == 0 {
			b.l("mov.u32 %%r%d, 0;", word)
		}
		b.l("setp.lt.u32 %%p2, %%r22, %%r6;")
		b.l("mad.lo.u32 %%r23, %%r20, %%r15, %%r16;")
		b.l("mad.lo.u32 %%r23, %%r22, %%r3, %%r23;")
		b.l("add.u32 %%r23, %%r23, %%r21;")
		b.l("mul.wide.u32 %%rd2, %%r23, 4;")
		b.l("add.s64 %%rd3, %%rd0, %%rd2;")
		b.l("mov.f32 %%f1, 0f00000000;")
		b.l("@%%p2 ld.global.f32 %%f1, [%%rd3];")
		b.l("div.rn.f32 %%f2, %%f1, %%f0;")
		b.l("cvt.rni.s32.f32 %%r24, %%f2;")
		b.l("add.sat.s32 %%r24, %%r24, %%r7;")
		b.l("max.s32 %%r24, %%r24, -128;")
		b.l("min.s32 %%r24, %%r24, 127;")
		b.l("bfi.b32 %%r%d, %%r24, %%r%d, %d, 8;", word, word, 8*(j%4))
		if j == cp-1 {
			break
		}
		b.l("add.u32 %%r20, %%r20, 1;")
		b.l("setp.eq.u32 %%p3, %%r20, %%r1;")
		b.l("@%%p3 mov.u32 %%r20, 0;")
		b.l("@%%p3 add.u32 %%r21, %%r21, 1;")
		b.l("setp.eq.u32 %%p4, %%r21, %%r6;")
		b.l("@%%p4 mov.u32 %%r21, 0;")
		b.l("@%%p4 add.u32 %%r22, %%r22, 1;")
	}
	b.comment("store the pixel's words: 16-byte stores where cp allows, then 8, then 4")
	b.l("mul.wide.u32 %%rd4, %%r40, %d;", cp)
	b.l("add.s64 %%rd5, %%rd1, %%rd4;")
	emitPixelWords(b, cp, 0)
}

var opBodies = map[string]func(b *builder){
	QuantizeKernel: func(b *builder) {
		// r1 = C, r2 = HW, r3 = zp; source NCHW index i, destination
		// (n*HW + hw)*C + c (C = HW = 1 copies in place order).
		b.l("div.u32 %%r10, %%r40, %%r2;") // i / HW
		b.l("rem.u32 %%r11, %%r10, %%r1;") // c
		b.l("div.u32 %%r12, %%r10, %%r1;") // n
		b.l("rem.u32 %%r13, %%r40, %%r2;") // hw
		b.l("mad.lo.u32 %%r14, %%r12, %%r2, %%r13;")
		b.l("mad.lo.u32 %%r14, %%r14, %%r1, %%r11;")
		b.l("mul.wide.u32 %%rd2, %%r40, 4;")
		b.l("add.s64 %%rd3, %%rd0, %%rd2;")
		b.l("ld.global.f32 %%f1, [%%rd3];")
		b.l("div.rn.f32 %%f2, %%f1, %%f0;")
		b.l("cvt.rni.s32.f32 %%r15, %%f2;")
		b.l("add.sat.s32 %%r15, %%r15, %%r3;")
		b.l("max.s32 %%r15, %%r15, -128;")
		b.l("min.s32 %%r15, %%r15, 127;")
		b.l("cvt.u64.u32 %%rd4, %%r14;")
		b.l("add.s64 %%rd5, %%rd1, %%rd4;")
		b.l("st.global.s8 [%%rd5], %%r15;")
	},
	Quantize4Kernel: func(b *builder) {
		// r1 = zp; codes packed low byte first into r16.
		b.l("mul.wide.u32 %%rd2, %%r40, 16;")
		b.l("add.s64 %%rd3, %%rd0, %%rd2;")
		b.l("ld.global.v4.f32 {%%f1, %%f2, %%f3, %%f4}, [%%rd3];")
		b.l("mov.u32 %%r16, 0;")
		for j := 0; j < 4; j++ {
			b.l("div.rn.f32 %%f5, %%f%d, %%f0;", j+1)
			b.l("cvt.rni.s32.f32 %%r15, %%f5;")
			b.l("add.sat.s32 %%r15, %%r15, %%r1;")
			b.l("max.s32 %%r15, %%r15, -128;")
			b.l("min.s32 %%r15, %%r15, 127;")
			b.l("bfi.b32 %%r16, %%r15, %%r16, %d, 8;", 8*j)
		}
		b.l("mul.wide.u32 %%rd4, %%r40, 4;")
		b.l("add.s64 %%rd5, %%rd1, %%rd4;")
		b.l("st.global.u32 [%%rd5], %%r16;")
	},
	Dequantize4Kernel: func(b *builder) {
		// r1 = zp; byte j of the word is element 4i + j.
		b.l("mul.wide.u32 %%rd2, %%r40, 4;")
		b.l("add.s64 %%rd3, %%rd0, %%rd2;")
		b.l("ld.global.u32 %%r10, [%%rd3];")
		for j := 0; j < 4; j++ {
			b.l("bfe.s32 %%r11, %%r10, %d, 8;", 8*j)
			b.l("sub.s32 %%r11, %%r11, %%r1;")
			b.l("cvt.rn.f32.s32 %%f5, %%r11;")
			b.l("mul.rn.f32 %%f%d, %%f5, %%f0;", j+1)
		}
		b.l("mul.wide.u32 %%rd4, %%r40, 16;")
		b.l("add.s64 %%rd5, %%rd1, %%rd4;")
		b.l("st.global.v4.f32 [%%rd5], {%%f1, %%f2, %%f3, %%f4};")
	},
	DequantizeKernel: func(b *builder) {
		// r1 = zp
		b.l("cvt.u64.u32 %%rd2, %%r40;")
		b.l("add.s64 %%rd3, %%rd0, %%rd2;")
		b.l("ld.global.s8 %%r10, [%%rd3];")
		b.l("sub.s32 %%r10, %%r10, %%r1;")
		b.l("cvt.rn.f32.s32 %%f1, %%r10;")
		b.l("mul.rn.f32 %%f2, %%f1, %%f0;")
		b.l("mul.wide.u32 %%rd4, %%r40, 4;")
		b.l("add.s64 %%rd5, %%rd1, %%rd4;")
		b.l("st.global.f32 [%%rd5], %%f2;")
	},
	Im2colKernel: func(b *builder) {
		// r1 lda, r2 K, r3 C, r4 H, r5 W, r6 OH, r7 OW, r8 KW, r9 sh,
		// r10 sw, r11 ph, r12 pw, r13 dh, r14 dw, r15 zx. Column k in
		// (kh, kw, c) order, c fastest; bytes k >= K are zero.
		b.l("div.u32 %%r20, %%r40, %%r1;") // m
		b.l("rem.u32 %%r21, %%r40, %%r1;") // k
		b.l("mov.u32 %%r30, 0;")
		b.l("setp.ge.u32 %%p1, %%r21, %%r2;")
		b.l("@%%p1 bra $L_store;")
		b.l("rem.u32 %%r22, %%r21, %%r3;") // c
		b.l("div.u32 %%r23, %%r21, %%r3;")
		b.l("rem.u32 %%r24, %%r23, %%r8;") // s (kw)
		b.l("div.u32 %%r25, %%r23, %%r8;") // r (kh)
		b.l("rem.u32 %%r26, %%r20, %%r7;") // ow
		b.l("div.u32 %%r27, %%r20, %%r7;")
		b.l("rem.u32 %%r28, %%r27, %%r6;") // oh
		b.l("div.u32 %%r29, %%r27, %%r6;") // n
		b.l("mul.lo.s32 %%r31, %%r28, %%r9;")
		b.l("sub.s32 %%r31, %%r31, %%r11;")
		b.l("mad.lo.s32 %%r31, %%r25, %%r13, %%r31;") // ih
		b.l("mul.lo.s32 %%r32, %%r26, %%r10;")
		b.l("sub.s32 %%r32, %%r32, %%r12;")
		b.l("mad.lo.s32 %%r32, %%r24, %%r14, %%r32;") // iw
		b.l("mov.u32 %%r30, %%r15;")
		b.l("setp.lt.s32 %%p2, %%r31, 0;")
		b.l("setp.ge.s32 %%p3, %%r31, %%r4;")
		b.l("or.pred %%p2, %%p2, %%p3;")
		b.l("setp.lt.s32 %%p3, %%r32, 0;")
		b.l("or.pred %%p2, %%p2, %%p3;")
		b.l("setp.ge.s32 %%p3, %%r32, %%r5;")
		b.l("or.pred %%p2, %%p2, %%p3;")
		b.l("@%%p2 bra $L_store;")
		b.l("mad.lo.u32 %%r33, %%r29, %%r4, %%r31;")
		b.l("mad.lo.u32 %%r33, %%r33, %%r5, %%r32;")
		b.l("mad.lo.u32 %%r33, %%r33, %%r3, %%r22;")
		b.l("cvt.u64.u32 %%rd2, %%r33;")
		b.l("add.s64 %%rd3, %%rd0, %%rd2;")
		b.l("ld.global.s8 %%r30, [%%rd3];")
		b.raw("$L_store:")
		b.l("cvt.u64.u32 %%rd4, %%r40;")
		b.l("add.s64 %%rd5, %%rd1, %%rd4;")
		b.l("st.global.s8 [%%rd5], %%r30;")
	},
	GapKernel: func(b *builder) {
		gapMean(b)
		b.l("mul.wide.u32 %%rd4, %%r40, 4;")
		b.l("add.s64 %%rd5, %%rd1, %%rd4;")
		b.l("st.global.f32 [%%rd5], %%f2;")
	},
	GapQuantizeKernel: func(b *builder) {
		gapMean(b)
		b.comment("QuantizeKernel's arithmetic on the mean: r3 zp, f0 scale")
		b.l("div.rn.f32 %%f3, %%f2, %%f0;")
		b.l("cvt.rni.s32.f32 %%r15, %%f3;")
		b.l("add.sat.s32 %%r15, %%r15, %%r3;")
		b.l("max.s32 %%r15, %%r15, -128;")
		b.l("min.s32 %%r15, %%r15, 127;")
		b.l("cvt.u64.u32 %%rd4, %%r40;")
		b.l("add.s64 %%rd5, %%rd1, %%rd4;")
		b.l("st.global.s8 [%%rd5], %%r15;")
	},
	MaxPoolKernel:    func(b *builder) { maxPoolBody(b, false) },
	MaxPoolF32Kernel: func(b *builder) { maxPoolBody(b, true) },
	MaxPool16Kernel:  maxPool16Body,
	ToNCHW8Kernel:    func(b *builder) { transposeBody(b, 1, false) },
	ToNHWC8Kernel:    func(b *builder) { transposeBody(b, 1, true) },
	ToNHWC32Kernel:   func(b *builder) { transposeBody(b, 4, true) },
	BatchNormKernel: func(b *builder) {
		// r1 C, r2 inner; y = (x - mean[c]) * factor[c] + bias[c], three
		// separately rounded operations as ir/ref's (v-m)*f + b (Go does
		// not fuse them on amd64; here no fma is ever emitted).
		b.l("div.u32 %%r10, %%r40, %%r2;")
		b.l("rem.u32 %%r10, %%r10, %%r1;") // c
		b.l("mul.wide.u32 %%rd2, %%r10, 4;")
		b.l("add.s64 %%rd3, %%rd10, %%rd2;")
		b.l("ld.global.f32 %%f1, [%%rd3];") // factor
		b.l("mul.wide.u32 %%rd4, %%r1, 4;")
		b.l("add.s64 %%rd3, %%rd3, %%rd4;")
		b.l("ld.global.f32 %%f2, [%%rd3];") // mean
		b.l("add.s64 %%rd3, %%rd3, %%rd4;")
		b.l("ld.global.f32 %%f3, [%%rd3];") // bias
		b.l("mul.wide.u32 %%rd5, %%r40, 4;")
		b.l("add.s64 %%rd6, %%rd0, %%rd5;")
		b.l("ld.global.f32 %%f4, [%%rd6];")
		b.l("sub.rn.f32 %%f4, %%f4, %%f2;")
		b.l("mul.rn.f32 %%f4, %%f4, %%f1;")
		b.l("add.rn.f32 %%f4, %%f4, %%f3;")
		b.l("add.s64 %%rd7, %%rd1, %%rd5;")
		b.l("st.global.f32 [%%rd7], %%f4;")
	},
	Pad8Kernel:    func(b *builder) { padBody(b, 1, 1) },
	Pad32Kernel:   func(b *builder) { padBody(b, 4, 1) },
	Pad8x4Kernel:  func(b *builder) { padBody(b, 1, 4) },
	Pad32x4Kernel: func(b *builder) { padBody(b, 4, 4) },
}

// maxPool16Body: thread i is channel group g = i % (C/16) of output pixel
// i / (C/16). The 16 running maxima start at -128 (what the scalar kernel
// and ir/ref start from, so a window entirely in the padding gives -128
// too); each tap inside the input is one 16-byte load whose bytes are
// sign-extended (bfe.s32) and compared as int32, and the maxima are packed
// back into four words with prmt for one 16-byte store.
func maxPool16Body(b *builder) {
	// r1 C, r2 H, r3 W, r4 OH, r5 OW, r6 KH, r7 KW, r8 sh, r9 sw, r10 ph,
	// r11 pw, r12 dh, r13 dw.
	b.raw("{")
	declare(b, ".b32", "%m<16>", "%v<4>")
	b.l("shr.u32 %%r14, %%r1, 4;")      // C/16
	b.l("rem.u32 %%r20, %%r40, %%r14;") // g
	b.l("shl.b32 %%r20, %%r20, 4;")     // first channel
	b.l("div.u32 %%r21, %%r40, %%r14;") // output pixel
	b.l("rem.u32 %%r22, %%r21, %%r5;")  // ow
	b.l("div.u32 %%r21, %%r21, %%r5;")
	b.l("rem.u32 %%r23, %%r21, %%r4;") // oh
	b.l("div.u32 %%r24, %%r21, %%r4;") // n
	for i := 0; i < 16; i++ {
		b.l("mov.u32 %%m%d, -128;", i)
	}
	b.l("mul.lo.s32 %%r26, %%r23, %%r8;")
	b.l("sub.s32 %%r26, %%r26, %%r10;") // ih of kh = 0
	b.l("mov.u32 %%r25, 0;")            // kh
	b.raw("$L_kh:")
	b.l("setp.ge.u32 %%p1, %%r25, %%r6;")
	b.l("@%%p1 bra $L_end;")
	b.l("mul.lo.s32 %%r28, %%r22, %%r9;")
	b.l("sub.s32 %%r28, %%r28, %%r11;") // iw of kw = 0
	b.l("mov.u32 %%r27, 0;")            // kw
	b.raw("$L_kw:")
	b.l("setp.ge.u32 %%p1, %%r27, %%r7;")
	b.l("@%%p1 bra $L_khnext;")
	b.comment("unsigned compares: a negative coordinate wraps past H or W")
	b.l("setp.ge.u32 %%p2, %%r26, %%r2;")
	b.l("setp.ge.u32 %%p3, %%r28, %%r3;")
	b.l("or.pred %%p2, %%p2, %%p3;")
	b.l("@%%p2 bra $L_kwnext;")
	b.l("mad.lo.u32 %%r29, %%r24, %%r2, %%r26;")
	b.l("mad.lo.u32 %%r29, %%r29, %%r3, %%r28;")
	b.l("mad.lo.u32 %%r29, %%r29, %%r1, %%r20;")
	b.l("cvt.u64.u32 %%rd2, %%r29;")
	b.l("add.s64 %%rd3, %%rd0, %%rd2;")
	b.l("ld.global.nc.v4.u32 {%%v0, %%v1, %%v2, %%v3}, [%%rd3];")
	for i := 0; i < 16; i++ {
		b.l("bfe.s32 %%r31, %%v%d, %d, 8;", i/4, 8*(i%4))
		b.l("max.s32 %%m%d, %%m%d, %%r31;", i, i)
	}
	b.raw("$L_kwnext:")
	b.l("add.u32 %%r28, %%r28, %%r13;")
	b.l("add.u32 %%r27, %%r27, 1;")
	b.l("bra $L_kw;")
	b.raw("$L_khnext:")
	b.l("add.u32 %%r26, %%r26, %%r12;")
	b.l("add.u32 %%r25, %%r25, 1;")
	b.l("bra $L_kh;")
	b.raw("$L_end:")
	b.comment("pack: bytes 0 of m[4w..4w+3] into word w")
	for w := 0; w < 4; w++ {
		b.l("prmt.b32 %%r32, %%m%d, %%m%d, 0x0040;", 4*w, 4*w+1)
		b.l("prmt.b32 %%r33, %%m%d, %%m%d, 0x0040;", 4*w+2, 4*w+3)
		b.l("prmt.b32 %%v%d, %%r32, %%r33, 0x5410;", w)
	}
	b.l("div.u32 %%r29, %%r40, %%r14;") // the output pixel again
	b.l("mad.lo.u32 %%r29, %%r29, %%r1, %%r20;")
	b.l("cvt.u64.u32 %%rd4, %%r29;")
	b.l("add.s64 %%rd5, %%rd1, %%rd4;")
	b.l("st.global.v4.u32 [%%rd5], {%%v0, %%v1, %%v2, %%v3};")
	b.raw("}")
}

// padBody: output element i (memory order O1×O2×O3 a sample) reads input
// (o1-P1, o2-P2, o3-P3) when inside I1×I2×I3, else value (%r10). r1..r3
// O, r4..r6 I, r7..r9 P. With vec = 4 thread i moves elements 4i..4i+3,
// which Pad4Fits keeps all inside or all padding: the first one decides.
func padBody(b *builder, size, vec int) {
	if vec == 4 {
		b.l("shl.b32 %%r40, %%r40, 2;") // the group's first element
	}
	b.l("mul.lo.u32 %%r20, %%r1, %%r2;")
	b.l("mul.lo.u32 %%r20, %%r20, %%r3;") // O per sample
	b.l("div.u32 %%r21, %%r40, %%r20;")   // n
	b.l("rem.u32 %%r22, %%r40, %%r20;")
	b.l("rem.u32 %%r25, %%r22, %%r3;") // o3
	b.l("div.u32 %%r22, %%r22, %%r3;")
	b.l("rem.u32 %%r24, %%r22, %%r2;") // o2
	b.l("div.u32 %%r23, %%r22, %%r2;") // o1
	b.l("mov.u32 %%r30, %%r10;")       // the pad value
	switch {
	case vec == 4 && size == 1:
		b.l("mul.lo.u32 %%r30, %%r10, %d;", 0x01010101) // the byte four times
	case vec == 4:
		b.l("mov.u32 %%r31, %%r10;")
		b.l("mov.u32 %%r32, %%r10;")
		b.l("mov.u32 %%r33, %%r10;")
	}
	b.l("sub.s32 %%r23, %%r23, %%r7;")
	b.l("sub.s32 %%r24, %%r24, %%r8;")
	b.l("sub.s32 %%r25, %%r25, %%r9;")
	b.l("setp.lt.s32 %%p1, %%r23, 0;")
	b.l("setp.ge.s32 %%p2, %%r23, %%r4;")
	b.l("or.pred %%p1, %%p1, %%p2;")
	b.l("setp.lt.s32 %%p2, %%r24, 0;")
	b.l("or.pred %%p1, %%p1, %%p2;")
	b.l("setp.ge.s32 %%p2, %%r24, %%r5;")
	b.l("or.pred %%p1, %%p1, %%p2;")
	b.l("setp.lt.s32 %%p2, %%r25, 0;")
	b.l("or.pred %%p1, %%p1, %%p2;")
	b.l("setp.ge.s32 %%p2, %%r25, %%r6;")
	b.l("or.pred %%p1, %%p1, %%p2;")
	b.l("@%%p1 bra $L_store;")
	b.l("mad.lo.u32 %%r26, %%r21, %%r4, %%r23;")
	b.l("mad.lo.u32 %%r26, %%r26, %%r5, %%r24;")
	b.l("mad.lo.u32 %%r26, %%r26, %%r6, %%r25;")
	b.l("mul.wide.u32 %%rd2, %%r26, %d;", size)
	b.l("add.s64 %%rd3, %%rd0, %%rd2;")
	// The access: a byte, a word, or four of either (a word, 16 bytes).
	access, val := "u8", "%r30"
	switch {
	case size == 4 && vec == 4:
		access, val = "v4.b32", "{%r30, %r31, %r32, %r33}"
	case size == 4 || vec == 4:
		access = "b32"
	}
	b.l("ld.global.%s %s, [%%rd3];", access, val)
	b.raw("$L_store:")
	b.l("mul.wide.u32 %%rd4, %%r40, %d;", size)
	b.l("add.s64 %%rd5, %%rd1, %%rd4;")
	b.l("st.global.%s [%%rd5], %s;", access, val)
}

// transposeBody: NCHW index i and NHWC index (n*HW + hw)*C + c; the
// thread reads the NHWC element and writes the NCHW one, or the other way
// round when toNHWC (element i of the NCHW input, so reads coalesce either
// way).
func transposeBody(b *builder, size int, toNHWC bool) {
	b.l("mul.lo.u32 %%r10, %%r1, %%r2;")
	b.l("div.u32 %%r11, %%r40, %%r10;") // n
	b.l("div.u32 %%r12, %%r40, %%r2;")
	b.l("rem.u32 %%r12, %%r12, %%r1;") // c
	b.l("rem.u32 %%r13, %%r40, %%r2;") // hw
	b.l("mad.lo.u32 %%r14, %%r11, %%r2, %%r13;")
	b.l("mad.lo.u32 %%r14, %%r14, %%r1, %%r12;")
	src, dst := "%r14", "%r40"
	if toNHWC {
		src, dst = dst, src
	}
	b.l("mul.wide.u32 %%rd2, %s, %d;", src, size)
	b.l("add.s64 %%rd3, %%rd0, %%rd2;")
	b.l("mul.wide.u32 %%rd4, %s, %d;", dst, size)
	b.l("add.s64 %%rd5, %%rd1, %%rd4;")
	if size == 1 {
		b.l("ld.global.u8 %%r15, [%%rd3];")
		b.l("st.global.u8 [%%rd5], %%r15;")
	} else {
		b.l("ld.global.b32 %%r15, [%%rd3];")
		b.l("st.global.b32 [%%rd5], %%r15;")
	}
}

// maxPoolBody: one thread an NHWC output element, the window's taps in
// (kh, kw) order as ir/ref visits them. int8: max.s32 from -128. f32: the
// reference's rule, not max.f32 (which drops NaNs): the first tap inside
// the input is taken, a later one only when it is greater or a NaN, and
// nothing replaces a NaN; an empty window gives -inf. So ties between -0
// and +0 and NaN payloads come out as the reference's bits.
func maxPoolBody(b *builder, isF32 bool) {
	// r1 C, r2 H, r3 W, r4 OH, r5 OW, r6 KH, r7 KW, r8 sh, r9 sw,
	// r10 ph, r11 pw, r12 dh, r13 dw; output NHWC i.
	b.l("rem.u32 %%r20, %%r40, %%r1;") // c
	b.l("div.u32 %%r21, %%r40, %%r1;")
	b.l("rem.u32 %%r22, %%r21, %%r5;") // ow
	b.l("div.u32 %%r21, %%r21, %%r5;")
	b.l("rem.u32 %%r23, %%r21, %%r4;") // oh
	b.l("div.u32 %%r24, %%r21, %%r4;") // n
	if isF32 {
		b.l("mov.f32 %%f1, 0fFF800000;")
		b.l("mov.u32 %%r32, 0;") // a tap taken yet
	} else {
		b.l("mov.u32 %%r30, -128;")
	}
	b.l("mov.u32 %%r25, 0;") // kh
	b.raw("$L_kh:")
	b.l("setp.ge.u32 %%p1, %%r25, %%r6;")
	b.l("@%%p1 bra $L_end;")
	b.l("mul.lo.s32 %%r26, %%r23, %%r8;")
	b.l("sub.s32 %%r26, %%r26, %%r10;")
	b.l("mad.lo.s32 %%r26, %%r25, %%r12, %%r26;") // ih
	b.l("mov.u32 %%r27, 0;")                      // kw
	b.raw("$L_kw:")
	b.l("setp.ge.u32 %%p1, %%r27, %%r7;")
	b.l("@%%p1 bra $L_khnext;")
	b.l("mul.lo.s32 %%r28, %%r22, %%r9;")
	b.l("sub.s32 %%r28, %%r28, %%r11;")
	b.l("mad.lo.s32 %%r28, %%r27, %%r13, %%r28;") // iw
	b.l("setp.lt.s32 %%p2, %%r26, 0;")
	b.l("setp.ge.s32 %%p3, %%r26, %%r2;")
	b.l("or.pred %%p2, %%p2, %%p3;")
	b.l("setp.lt.s32 %%p3, %%r28, 0;")
	b.l("or.pred %%p2, %%p2, %%p3;")
	b.l("setp.ge.s32 %%p3, %%r28, %%r3;")
	b.l("or.pred %%p2, %%p2, %%p3;")
	b.l("@%%p2 bra $L_kwnext;")
	b.l("mad.lo.u32 %%r29, %%r24, %%r2, %%r26;")
	b.l("mad.lo.u32 %%r29, %%r29, %%r3, %%r28;")
	b.l("mad.lo.u32 %%r29, %%r29, %%r1, %%r20;")
	if isF32 {
		b.l("mul.wide.u32 %%rd2, %%r29, 4;")
		b.l("add.s64 %%rd3, %%rd0, %%rd2;")
		b.l("ld.global.f32 %%f2, [%%rd3];")
		b.l("setp.eq.u32 %%p4, %%r32, 0;")
		b.l("setp.num.f32 %%p5, %%f1, %%f1;")
		b.l("setp.gt.f32 %%p6, %%f2, %%f1;")
		b.l("setp.nan.f32 %%p7, %%f2, %%f2;")
		b.l("or.pred %%p6, %%p6, %%p7;")
		b.l("and.pred %%p5, %%p5, %%p6;")
		b.l("or.pred %%p4, %%p4, %%p5;")
		b.l("@%%p4 mov.f32 %%f1, %%f2;")
		b.l("mov.u32 %%r32, 1;")
	} else {
		b.l("cvt.u64.u32 %%rd2, %%r29;")
		b.l("add.s64 %%rd3, %%rd0, %%rd2;")
		b.l("ld.global.s8 %%r31, [%%rd3];")
		b.l("max.s32 %%r30, %%r30, %%r31;")
	}
	b.raw("$L_kwnext:")
	b.l("add.u32 %%r27, %%r27, 1;")
	b.l("bra $L_kw;")
	b.raw("$L_khnext:")
	b.l("add.u32 %%r25, %%r25, 1;")
	b.l("bra $L_kh;")
	b.raw("$L_end:")
	if isF32 {
		b.l("mul.wide.u32 %%rd4, %%r40, 4;")
		b.l("add.s64 %%rd5, %%rd1, %%rd4;")
		b.l("st.global.f32 [%%rd5], %%f1;")
	} else {
		b.l("cvt.u64.u32 %%rd4, %%r40;")
		b.l("add.s64 %%rd5, %%rd1, %%rd4;")
		b.l("st.global.s8 [%%rd5], %%r30;")
	}
}

// gapLoads is how many of a channel's HW values the global average pool
// loads before it adds them: the adds must go one after another, in
// order (the reference's f64 sum), but the loads need not, and one load
// in flight a thread left the kernel waiting out HW L2 round trips one
// after another (6.1 µs for ResNet's 7×7 at batch 1 on the H100).
const gapLoads = 8

// gapMean emits the global average pool of element %r40 (n = i / C,
// channel c = i % C, r1 C, r2 HW) of NHWC f32 input %rd0 into %f2:
// float32(Σ float64(x) / float64(HW)), the sum in (h, w) order. It loads
// gapLoads values at a time into %gv*, those past HW as -0.0, which
// leaves every f64 sum as it is (x + -0 = x, also for x = ±0), then adds
// them in order.
func gapMean(b *builder) {
	b.l("div.u32 %%r10, %%r40, %%r1;") // n
	b.l("rem.u32 %%r11, %%r40, %%r1;") // c
	b.l("mul.lo.u32 %%r12, %%r10, %%r2;")
	b.l("mad.lo.u32 %%r12, %%r12, %%r1, %%r11;") // first element
	b.l("mul.wide.u32 %%rd2, %%r12, 4;")
	b.l("add.s64 %%rd3, %%rd0, %%rd2;") // its address
	b.l("mul.wide.u32 %%rd6, %%r1, 4;") // one pixel: C floats
	b.l("mov.f64 %%d0, 0d0000000000000000;")
	b.l("mov.u32 %%r13, 0;")
	b.raw("$L_loop:")
	b.l("setp.ge.u32 %%p1, %%r13, %%r2;")
	b.l("@%%p1 bra $L_end;")
	b.comment("pixels r13 .. r13+%d: the loads first, -0.0 past HW (r14 pixels left)", gapLoads-1)
	b.l("sub.u32 %%r14, %%r2, %%r13;")
	b.l("mov.u64 %%rd7, %%rd3;")
	for j := 0; j < gapLoads; j++ {
		b.l("mov.f32 %%gv%d, 0f80000000;", j)
		b.l("setp.gt.u32 %%p2, %%r14, %d;", j)
		b.l("@%%p2 ld.global.f32 %%gv%d, [%%rd7];", j)
		if j < gapLoads-1 {
			b.l("add.s64 %%rd7, %%rd7, %%rd6;")
		}
	}
	b.comment("then the adds, in order")
	for j := 0; j < gapLoads; j++ {
		b.l("cvt.f64.f32 %%d1, %%gv%d;", j)
		b.l("add.rn.f64 %%d0, %%d0, %%d1;")
	}
	b.l("mul.wide.u32 %%rd2, %%r1, %d;", 4*gapLoads)
	b.l("add.s64 %%rd3, %%rd3, %%rd2;")
	b.l("add.u32 %%r13, %%r13, %d;", gapLoads)
	b.l("bra $L_loop;")
	b.raw("$L_end:")
	b.l("cvt.rn.f64.u32 %%d2, %%r2;")
	b.l("div.rn.f64 %%d0, %%d0, %%d2;")
	b.l("cvt.rn.f32.f64 %%f2, %%d0;")
}

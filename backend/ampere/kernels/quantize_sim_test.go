package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestQuantizePixelSimulated runs the stem's input quantize kernels in the
// PTX interpreter, QuantizePixelKernel and QuantizePixelVecKernel with one
// and two pixels a thread, and requires each output to equal the
// definition (SpaceToDepth of the quantized NCHW image, channels past
// bs²·C the zero point) bit for bit: values that round half to even, that
// saturate at ±127, a negative zero point; block sizes 2 and 4, padded and
// unpadded pixels. The geometries keep every block whole (the exit branch
// stays uniform).
func TestQuantizePixelSimulated(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(51, 52))
	for _, tc := range []struct{ n, c, h, w, bs, cp int }{
		{2, 3, 32, 64, 2, 16}, // ResNet's stem: 12 channels padded to 16
		{1, 2, 32, 64, 2, 12},
		{2, 4, 16, 64, 2, 16},
		{2, 1, 32, 128, 4, 16},
		{4, 2, 16, 128, 4, 32},
	} {
		oh, ow := tc.h/tc.bs, tc.w/tc.bs
		x := make([]float32, tc.n*tc.c*tc.h*tc.w)
		const scale = float32(0.05)
		for i := range x {
			switch i % 7 {
			case 0:
				x[i] = float32(r.IntN(41)-20) * scale / 2 // half steps: ties to even
			case 1:
				x[i] = float32(r.NormFloat64() * 20) // saturates
			default:
				x[i] = float32(r.NormFloat64() * 2)
			}
		}
		zp := int32(-5)
		want := make([]byte, tc.n*oh*ow*tc.cp)
		q := func(v float32) byte {
			k := int64(math.RoundToEven(float64(v/scale))) + int64(zp)
			return byte(int8(min(max(k, -128), 127)))
		}
		for n := 0; n < tc.n; n++ {
			for v := 0; v < oh; v++ {
				for u := 0; u < ow; u++ {
					for j := 0; j < tc.cp; j++ {
						px := ((n*oh+v)*ow + u) * tc.cp
						if j >= tc.c*tc.bs*tc.bs {
							want[px+j] = q(0)
							continue
						}
						ch, bw, bh := j%tc.c, j/tc.c%tc.bs, j/(tc.c*tc.bs)
						want[px+j] = q(x[((n*tc.c+ch)*tc.h+v*tc.bs+bh)*tc.w+u*tc.bs+bw])
					}
				}
			}
		}
		kernels := []struct {
			name string
			pix  int
		}{{QuantizePixelKernel(tc.cp), 1}}
		for _, pix := range []int{1, 2} {
			kernels = append(kernels, struct {
				name string
				pix  int
			}{QuantizePixelVecKernel(tc.cp, tc.c, tc.bs, pix), pix})
		}
		for _, kn := range kernels {
			t.Run(fmt.Sprintf("%s_n%d_%dx%d", kn.name, tc.n, tc.h, tc.w), func(t *testing.T) {
				got, err := runQuantizePixel(kn.name, x, tc.n*oh*ow/kn.pix, len(want), tc.c, tc.h, tc.w, oh, ow, tc.bs, zp, scale)
				if err != nil {
					t.Fatal(err)
				}
				bad := 0
				for i := range want {
					if got[i] != want[i] {
						if bad < 5 {
							t.Errorf("output byte %d (pixel %d, channel %d) = %d, want %d", i, i/tc.cp, i%tc.cp, int8(got[i]), int8(want[i]))
						}
						bad++
					}
				}
				if bad > 0 {
					t.Errorf("%d of %d output bytes differ", bad, len(want))
				}
			})
		}
	}
}

// runQuantizePixel runs one of the stem quantize kernels on x in the PTX
// interpreter with total threads (a multiple of OpThreads) and returns its
// out bytes of output.
func runQuantizePixel(name string, x []float32, total, out, c, h, w, oh, ow, bs int, zp int32, scale float32) ([]byte, error) {
	if total%OpThreads != 0 {
		return nil, fmt.Errorf("%d threads, want whole blocks of %d", total, OpThreads)
	}
	text, err := OpPTX(name)
	if err != nil {
		return nil, err
	}
	k, err := parseSim(text, 0)
	if err != nil {
		return nil, err
	}
	xb := make([]byte, 4*len(x))
	for i, v := range x {
		put32(xb[4*i:], math.Float32bits(v))
	}
	y := make([]byte, out)
	for i := range y {
		y[i] = 0xA5
	}
	m := &simMachine{k: k, threads: OpThreads}
	m.params = map[string]uint64{"p0": m.newBuffer(xb), "p1": m.newBuffer(y), "p2": uint64(total),
		"p3": uint64(c), "p4": uint64(h), "p5": uint64(w), "p6": uint64(oh), "p7": uint64(ow), "p8": uint64(bs),
		"p9": uint64(uint32(zp)), "p10": uint64(math.Float32bits(scale))}
	m.gridX, m.gridZ = uint32(total/OpThreads), 1
	for bx := 0; bx < total/OpThreads; bx++ {
		if err := m.run(uint32(bx), 0, 0); err != nil {
			return nil, fmt.Errorf("%s block %d: %v", name, bx, err)
		}
	}
	return y, nil
}

// TestQuantize4Simulated runs the four-a-thread quantize and dequantize
// kernels in the PTX interpreter against the one-a-thread kernels (no
// relayout: C = HW = 1) and the definition, bit for bit: half steps that
// round to even, saturation at both ends, NaN (code zp), infinities, ±0,
// and every byte position of the packed word.
func TestQuantize4Simulated(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(53, 54))
	const n = 4 * 300 // two blocks, the second partial
	const scale = float32(0.05)
	x := make([]float32, n)
	for i := range x {
		switch r.IntN(9) {
		case 0:
			x[i] = float32(r.IntN(41)-20) * scale / 2
		case 1:
			x[i] = float32(r.NormFloat64() * 20)
		case 2:
			x[i] = []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1))}[r.IntN(4)]
		default:
			x[i] = float32(r.NormFloat64() * 2)
		}
	}
	for _, zp := range []int{-5, 100, -128} {
		text4, err := OpPTX(Quantize4Kernel)
		if err != nil {
			t.Fatal(err)
		}
		text1, err := OpPTX(QuantizeKernel)
		if err != nil {
			t.Fatal(err)
		}
		got, err := simRunOp(text4, n/4, x, make([]float32, n/4), n/4, zp, scale)
		if err != nil {
			t.Fatal(err)
		}
		one, err := simRunOp(text1, n, x, make([]float32, n/4), n, 1, 1, zp, scale)
		if err != nil {
			t.Fatal(err)
		}
		codes := f32Buffer(got[1])
		if want := f32Buffer(one[1]); string(codes) != string(want) {
			t.Fatalf("zp %d: the x4 quantize's codes differ from the scalar kernel's", zp)
		}
		for i, v := range x {
			k := int64(0)
			if q := float64(v / scale); q == q {
				k = int64(max(min(math.RoundToEven(q), 1e10), -1e10))
			}
			if w := byte(int8(min(max(k+int64(zp), -128), 127))); codes[i] != w {
				t.Fatalf("zp %d: code %d of %v is %d, want %d", zp, i, v, int8(codes[i]), int8(w))
			}
		}
		// Dequantize the codes back, four a thread and one a thread.
		code32 := f32sFrom(codes)
		deq4, err := simRunOp(mustOp(t, Dequantize4Kernel), n/4, code32, make([]float32, n), n/4, zp, scale)
		if err != nil {
			t.Fatal(err)
		}
		deq1, err := simRunOp(mustOp(t, DequantizeKernel), n, code32, make([]float32, n), n, zp, scale)
		if err != nil {
			t.Fatal(err)
		}
		for i := range x {
			want := float32(int32(int8(codes[i]))-int32(zp)) * scale
			if math.Float32bits(deq4[1][i]) != math.Float32bits(want) || math.Float32bits(deq1[1][i]) != math.Float32bits(want) {
				t.Fatalf("zp %d: dequantized %d is %v (x4) and %v (x1), want %v", zp, i, deq4[1][i], deq1[1][i], want)
			}
		}
	}
}

func mustOp(t *testing.T, name string) string {
	t.Helper()
	text, err := OpPTX(name)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

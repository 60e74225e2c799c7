package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/ir/sqir"
)

// TestGapQuantizeSimulated runs GapKernel and GapQuantizeKernel in the
// thread interpreter on NHWC f32 images and requires the pooled means and
// their int8 quantization to equal the reference executor's
// GlobalAveragePool then QuantizeLinear bit for bit: HW of 1, fewer than,
// exactly, and more than gapLoads values and not a multiple of it (ResNet's
// 7×7 = 49), batches of 1 and 3; values that cancel to zero, all -0.0
// (the loads past HW are -0.0, added like the values), means that
// fall on half steps of the scale (ties to even), that saturate, a
// negative zero point, NaN and infinities.
func TestGapQuantizeSimulated(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	const scale, zp = float32(0.0625), int32(-3)
	for _, tc := range []struct{ n, c, h, w int }{
		{1, 512, 7, 7}, {3, 16, 7, 7}, {2, 8, 1, 1}, {1, 24, 2, 3}, {2, 16, 2, 4}, {1, 40, 3, 3}, {3, 8, 4, 4}, {1, 8, 5, 13},
	} {
		hw := tc.h * tc.w
		nchw := make([]float32, tc.n*tc.c*hw)
		for i := range nchw {
			ch := i / hw % tc.c
			switch ch % 8 {
			case 0: // all -0.0
				nchw[i] = float32(math.Copysign(0, -1))
			case 1: // ±v pairs: the mean is 0
				nchw[i] = float32(1-2*(i%2)) * 3.5
				if hw%2 == 1 && i%hw == hw-1 {
					nchw[i] = 0
				}
			case 2: // a mean on a half step: k·scale/2 in every pixel
				nchw[i] = float32(2*(i/hw%5)+1) * scale / 2
			case 3: // saturates
				nchw[i] = float32(r.NormFloat64()*50 + 100)
			case 4:
				if i%hw == 0 && tc.n*tc.c > 16 {
					nchw[i] = float32(math.NaN())
				} else {
					nchw[i] = float32(r.NormFloat64())
				}
			case 5:
				if i%hw == hw/2 && tc.n*tc.c > 16 {
					nchw[i] = float32(math.Inf(1 - 2*(i/hw/tc.c%2)))
				} else {
					nchw[i] = float32(r.NormFloat64() * 1e-3)
				}
			default:
				nchw[i] = float32(r.NormFloat64() * 2)
			}
		}
		pool, q := gapQuantizeRef(t, tc.n, tc.c, tc.h, tc.w, nchw, scale, zp)
		nhwc := make([]float32, len(nchw))
		for n := 0; n < tc.n; n++ {
			for ch := 0; ch < tc.c; ch++ {
				for p := 0; p < hw; p++ {
					nhwc[(n*hw+p)*tc.c+ch] = nchw[(n*tc.c+ch)*hw+p]
				}
			}
		}
		total := tc.n * tc.c
		t.Run(fmt.Sprintf("n%d_c%d_%dx%d", tc.n, tc.c, tc.h, tc.w), func(t *testing.T) {
			text, err := OpPTX(GapKernel)
			if err != nil {
				t.Fatal(err)
			}
			got := runF32Kernel(t, text, total, total, [][]float32{nhwc, nil}, uint64(total), uint64(tc.c), uint64(hw))
			sameF32s(t, GapKernel, got, pool, func(i int) string { return fmt.Sprintf("n %d, c %d", i/tc.c, i%tc.c) })
			gq := runGapQuantize(t, nhwc, total, tc.c, hw, zp, scale)
			bad := 0
			for i := range q {
				if gq[i] != q[i] {
					if bad < 3 {
						t.Errorf("%s [%d] (n %d, c %d, mean %v): %d, reference %d", GapQuantizeKernel, i, i/tc.c, i%tc.c, pool[i], gq[i], q[i])
					}
					bad++
				}
			}
			if bad > 0 {
				t.Errorf("%s: %d of %d differ", GapQuantizeKernel, bad, len(q))
			}
		})
	}
}

// gapQuantizeRef runs GlobalAveragePool then QuantizeLinear on the
// reference executor: the pooled means and their int8 quantization.
func gapQuantizeRef(t *testing.T, n, c, h, w int, x []float32, scale float32, zp int32) ([]float32, []int8) {
	t.Helper()
	text := fmt.Sprintf(`graph "g" (%%x: f32[%[1]d,%[2]d,%[3]d,%[4]d]) -> (%%p, %%q) {
  const %%sc: f32[] = [%[5]v]
  const %%zp: i8[] = [%[6]d]
  %%p: f32[%[1]d,%[2]d,1,1] = GlobalAveragePool "pool" (%%x)
  %%q: i8[%[1]d,%[2]d,1,1] quant(scale=[%[5]v], zp=[%[6]d]) = QuantizeLinear "q" (%%p, %%sc, %%zp)
}`, n, c, h, w, scale, zp)
	g, err := sqir.ParseAndVerify("g", []byte(text))
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	in := ir.NewTensor(ir.Float32, n, c, h, w)
	copy(in.Float32s(), x)
	out, err := ref.Run(g, in)
	if err != nil {
		t.Fatal(err)
	}
	return out[0].Float32s(), out[1].Int8s()
}

// runGapQuantize runs GapQuantizeKernel on NHWC x in the thread
// interpreter and returns its int8 outputs.
func runGapQuantize(t *testing.T, x []float32, total, c, hw int, zp int32, scale float32) []int8 {
	t.Helper()
	text, err := OpPTX(GapQuantizeKernel)
	if err != nil {
		t.Fatal(err)
	}
	k, err := parseThreads(text)
	if err != nil {
		t.Fatal(err)
	}
	m := newTMachine()
	y := make([]byte, total)
	args := []uint64{m.buffer(f32Buffer(x)), m.buffer(y), uint64(total), uint64(c), uint64(hw), uint64(uint32(zp)), uint64(math.Float32bits(scale))}
	if err := m.runThreads(k, args, total); err != nil {
		t.Fatal(err)
	}
	out := make([]int8, total)
	for i, b := range y {
		out[i] = int8(b)
	}
	return out
}

// TestGapOrderMutation: the same kernel with each group's adds in
// reverse order gives another mean for values whose f64 sum depends on
// the order (1 + 1e30 − 1e30 is 0 in order, 1 the other way): the
// simulation sees the order of the adds.
func TestGapOrderMutation(t *testing.T) {
	text, err := OpPTX(GapKernel)
	if err != nil {
		t.Fatal(err)
	}
	add := func(j int) string { return fmt.Sprintf("cvt.f64.f32 %%d1, %%gv%d;", j) }
	broken := text
	for j := 0; j < gapLoads; j++ {
		if !strings.Contains(text, add(j)) {
			t.Fatalf("%s: no %q", GapKernel, add(j))
		}
		broken = strings.Replace(broken, add(j), fmt.Sprintf("cvt.f64.f32 %%d1, %%GV%d;", gapLoads-1-j), 1)
	}
	broken = strings.ReplaceAll(broken, "%GV", "%gv")
	const c, hw = 8, 3
	x := make([]float32, c*hw) // NHWC: pixel p of channel ch at p*c + ch
	for ch := 0; ch < c; ch++ {
		x[ch], x[c+ch], x[2*c+ch] = 1, 1e30, -1e30
	}
	nchw := make([]float32, len(x))
	for ch := 0; ch < c; ch++ {
		for p := 0; p < hw; p++ {
			nchw[ch*hw+p] = x[p*c+ch]
		}
	}
	pool, _ := gapQuantizeRef(t, 1, c, 1, hw, nchw, 1, 0)
	if good := runF32Kernel(t, text, c, c, [][]float32{x, nil}, c, c, hw); math.Float32bits(good[0]) != math.Float32bits(pool[0]) {
		t.Errorf("the kernel's mean is %v, the reference's %v", good[0], pool[0])
	}
	if got := runF32Kernel(t, broken, c, c, [][]float32{x, nil}, c, c, hw); math.Float32bits(got[0]) == math.Float32bits(pool[0]) {
		t.Errorf("with the adds reversed the mean is still the reference's %v: the test cannot see the order", pool[0])
	}
}

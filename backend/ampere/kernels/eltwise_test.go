package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestEltwisePTXLint lints the elementwise kernel: ASCII only, every
// parameter declared, no approximate instruction and no f32 fused
// multiply-add (the reference rounds each operation; the f64 fma.rn are
// fmath's math.FMA), and the kernel is not listed approximate.
func TestEltwisePTXLint(t *testing.T) {
	name, text := EltwiseKernel, EltwisePTX()
	lintPTX(t, name, text)
	if !strings.Contains(text, ".visible .entry "+name+"(") {
		t.Errorf("%s: entry not named %s", name, name)
	}
	for _, w := range []string{"add.rn.f32", "sub.rn.f32", "mul.rn.f32", "div.rn.f32", "fma.rn.f64", "max.f32", "min.f32", "st.global.f32"} {
		if !strings.Contains(text, w) {
			t.Errorf("%s: no %s", name, w)
		}
	}
	noApproxNoF32FMA(t, name, text)
	if n := strings.Count(text, ".param "); n != len(EltwiseParams) {
		t.Errorf("%s: %d params declared, want %d", name, n, len(EltwiseParams))
	}
	for i, c := range text {
		if c > 127 {
			t.Fatalf("%s: non-ASCII at byte %d", name, i)
		}
	}
	if ApproxKernels[EltwiseKernel] {
		t.Errorf("%s is listed approximate", EltwiseKernel)
	}
}

// TestEltwise4Exact runs the four-a-thread elementwise kernel and the
// one-a-thread kernel in the thread interpreter over the same operands
// (normal values, ±0, infinities, NaN, zero divisors) for every op it
// takes, with one second operand of the same shape or a scalar (none for
// the clamp and LeakyRelu), each way round, and requires the same bits (any NaN matching any NaN), and
// lints its text.
func TestEltwise4Exact(t *testing.T) {
	text4, text1 := Eltwise4PTX(), EltwisePTX()
	lintPTX(t, Eltwise4Kernel, text4)
	noApproxNoF32FMA(t, Eltwise4Kernel, text4)
	r := rand.New(rand.NewPCG(71, 72))
	const n = 4 * 300
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1, -1}
	operand := func() []float32 {
		v := make([]float32, n)
		for i := range v {
			if r.IntN(6) == 0 {
				v[i] = special[r.IntN(len(special))]
			} else {
				v[i] = float32(r.NormFloat64() * 3)
			}
		}
		return v
	}
	x, b := operand(), operand()
	for op := int64(EltAdd); op <= EltLeaky; op++ {
		for _, bmode := range []int64{EltNoB, EltSameB, EltScalarB} {
			if bmode == EltNoB && op < EltClamp {
				continue // a binary op always has its second operand
			}
			for _, swap := range []uint64{0, 1} {
				if !Eltwise4Fits(op, bmode, n) {
					t.Fatalf("op %d mode %d: Eltwise4Fits says no", op, bmode)
				}
				name := fmt.Sprintf("op %d mode %d swap %d", op, bmode, swap)
				args := func(total int) []uint64 {
					return []uint64{uint64(total), uint64(op), uint64(bmode), 1, 1, swap, f32bits(0.1), f32bits(-0.5), f32bits(6)}
				}
				got := runF32Kernel(t, text4, n/4, n, [][]float32{x, b, nil}, args(n/4)...)
				want := runF32Kernel(t, text1, n, n, [][]float32{x, b, nil}, args(n)...)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) && (got[i] == got[i] || want[i] == want[i]) {
						t.Fatalf("%s: element %d (x %v, b %v) is %v, the one-a-thread kernel's %v", name, i, x[i], b[i], got[i], want[i])
					}
				}
			}
		}
	}
	if Eltwise4Fits(EltSigmoid, EltNoB, 8) || Eltwise4Fits(EltAdd, EltChannelB, 8) || Eltwise4Fits(EltAdd, EltSameB, 6) {
		t.Error("Eltwise4Fits takes an op, a mode or a size the kernel does not")
	}
}

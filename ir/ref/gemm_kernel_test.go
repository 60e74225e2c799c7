package ref

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The micro-kernels and the fused axpy, each checked alone against FMA32
// (itself checked against math/big by TestFMA32), bit for bit, on
// operands chosen to catch a kernel that rounds twice, flushes subnormals,
// loses the sign of a zero sum or mishandles a non-finite one.

// kernelOperandKind selects the operands of one trial.
type kernelOperandKind int

const (
	kernelMixed     kernelOperandKind = iota // unit-variance, few-bit (exact products, ties) and zeros of both signs
	kernelSubnormal                          // tiny: products and sums in float32's subnormal range
	kernelZeroSigns                          // ±2⁻¹⁰⁰ and ±0: products rounding to ±0, −0 sums
	kernelSpecial                            // mixed, with infinities, NaN and values whose sums overflow
	kernelKinds
)

func (k kernelOperandKind) String() string {
	return [...]string{"mixed", "subnormal", "zero signs", "special"}[k]
}

// kernelOperand draws one operand of the given kind.
func kernelOperand(r *rand.Rand, kind kernelOperandKind) float32 {
	switch kind {
	case kernelSubnormal:
		return float32(r.NormFloat64()) * 0x1p-72 // products near 2⁻¹⁴⁴
	case kernelZeroSigns:
		return [...]float32{0x1p-100, -0x1p-100, 0, negZero}[r.IntN(4)]
	case kernelSpecial:
		switch r.IntN(40) {
		case 0:
			return float32(math.Inf(1))
		case 1:
			return float32(math.Inf(-1))
		case 2:
			return float32(math.NaN())
		case 3, 4:
			return float32(r.NormFloat64()) * 0x1p100 // products overflow
		}
	}
	switch n := r.IntN(16); {
	case n < 9:
		return float32(r.NormFloat64())
	case n < 14:
		return float32(math.Round(r.NormFloat64()*4096) / 4096) // few significant bits
	case n == 14:
		return 0
	default:
		return negZero
	}
}

// kernelGuard fills C's memory outside the tile, which a kernel must not
// touch.
const kernelGuard = float32(-12345.5)

// TestSgemmMicroKernels runs every micro-kernel this CPU has on its own,
// for kc = 1…300, and requires C[i*ldc+j] + (the sum of the kc fused
// multiply-adds from +0, in p order) bit for bit, and C's memory outside
// the tile untouched.
func TestSgemmMicroKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	for _, kern := range sgemmTestKernels() {
		mr, nr := kern.mr, kern.nr
		for kc := 1; kc <= 300; kc++ {
			kind := kernelOperandKind(kc % int(kernelKinds))
			ldc := nr + kc%3 // rows side by side, or gaps between them
			a := make([]float32, kc*mr)
			b := make([]float32, kc*nr)
			for i := range a {
				a[i] = kernelOperand(r, kind)
			}
			for i := range b {
				b[i] = kernelOperand(r, kind)
			}
			c := make([]float32, mr*ldc+ldc) // a row of guard past the tile
			for i := range c {
				c[i] = kernelGuard
			}
			want := make([]float32, len(c))
			for i := 0; i < mr; i++ {
				for j := 0; j < nr; j++ {
					c[i*ldc+j] = kernelOperand(r, kind)
				}
			}
			copy(want, c)
			for i := 0; i < mr; i++ {
				for j := 0; j < nr; j++ {
					var acc float32
					for p := 0; p < kc; p++ {
						acc = FMA32(a[p*mr+i], b[p*nr+j], acc)
					}
					want[i*ldc+j] = acc + c[i*ldc+j]
				}
			}
			kern.fn(kc, a, b, c, ldc)
			sameBits(t, fmt.Sprintf("%s kc=%d ldc=%d %v", kern.name, kc, ldc, kind), c, want)
		}
	}
}

// TestSgemmEdgeTiles runs sgemm on every kernel with m and n from 1 to one
// past the tile, so that every edge-tile size (and a full tile beside an
// edge one) is computed, on operands of every kind, against the
// summation order's definition.
func TestSgemmEdgeTiles(t *testing.T) {
	r := rand.New(rand.NewPCG(53, 54))
	saved := sgemmKernel
	defer func() { sgemmKernel = saved }()
	for _, kern := range sgemmTestKernels() {
		sgemmKernel = kern
		for m := 1; m <= kern.mr+1; m++ {
			for n := 1; n <= kern.nr+1; n++ {
				k := []int{1, 5, 256, 257}[(m+n)%4]
				kind := kernelOperandKind((m*7 + n) % int(kernelKinds))
				draw := func(n int) []float32 {
					s := make([]float32, n)
					for i := range s {
						s[i] = kernelOperand(r, kind)
					}
					return s
				}
				ldc := n + 1
				a := sgemmMatrix{draw(m * k), k, false}
				b := sgemmMatrix{draw(k * n), n, false}
				c := draw(m * ldc)
				want := sgemmOrder(m, n, k, 1, a, b, 1, c, ldc)
				sgemm(m, n, k, 1, a, b, 1, c, ldc, false)
				got := make([]float32, 0, m*n)
				for i := 0; i < m; i++ {
					got = append(got, c[i*ldc:i*ldc+n]...)
				}
				sameBits(t, fmt.Sprintf("%s %dx%dx%d %v", kern.name, m, n, k, kind), got, want)
			}
		}
	}
}

// TestSfmaAxpy checks the fused axpy in use (assembly on amd64 with AVX2
// and on arm64) against FMA32 at every length up to 70, so that each of
// its loops (vector blocks and the scalar tail) runs, and requires y past
// its length untouched.
func TestSfmaAxpy(t *testing.T) {
	r := rand.New(rand.NewPCG(55, 56))
	for n := 0; n <= 70; n++ {
		for kind := range kernelKinds {
			a := kernelOperand(r, kind)
			x := make([]float32, n+1)
			y := make([]float32, n+1)
			for i := range x {
				x[i], y[i] = kernelOperand(r, kind), kernelOperand(r, kind)
			}
			y[n] = kernelGuard
			want := append([]float32(nil), y...)
			for i := 0; i < n; i++ {
				want[i] = FMA32(a, x[i], y[i])
			}
			sfmaAxpy(a, x, y[:n])
			sameBits(t, fmt.Sprintf("n=%d a=%v %v", n, a, kind), y, want)
		}
	}
}

// TestSgemmKernelBlocking checks what the packing assumes of each kernel:
// an A block of sgemmMC rows is whole panels (no edge tile inside C), and
// the edge-tile scratch holds a tile.
func TestSgemmKernelBlocking(t *testing.T) {
	for _, kern := range append(sgemmTestKernels(), sgemmKernel) {
		if sgemmMC%kern.mr != 0 {
			t.Errorf("%s: sgemmMC %d is not a multiple of mr %d", kern.name, sgemmMC, kern.mr)
		}
		if kern.mr*kern.nr > sgemmMaxTile {
			t.Errorf("%s: an %d×%d tile does not fit sgemmMaxTile %d", kern.name, kern.mr, kern.nr, sgemmMaxTile)
		}
	}
}

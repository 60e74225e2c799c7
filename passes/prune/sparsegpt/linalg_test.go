package sparsegpt

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"

	"github.com/sqc-project/sqc/ir/ref"
)

// gram returns XᵀX + damp·I for a random X of n×d with correlated columns
// (as a layer's inputs are), and its mean diagonal.
func gram(rng *rand.Rand, n, d int, damp float64) []float64 {
	x := make([]float64, n*d)
	for i := range n {
		prev := 0.0
		for j := range d {
			prev = 0.8*prev + rng.NormFloat64()
			x[i*d+j] = prev
		}
	}
	x32 := make([]float32, n*d)
	for i, v := range x {
		x32[i] = float32(v)
	}
	h32 := make([]float32, d*d)
	ref.Sgemm(true, false, d, d, n, 1, x32, d, x32, d, 0, h32, d)
	h := make([]float64, d*d)
	for i, v := range h32 {
		h[i] = float64(v)
	}
	mean := 0.0
	for i := range d {
		mean += h[i*d+i] / float64(d)
	}
	for i := range d {
		h[i*d+i] += damp * mean
	}
	return h
}

// TestBlockedFactorizations: the blocked Cholesky factor and triangular
// inverse (float32 trailing products) agree with gonum's float64 Potrf and
// Trtri to float32 accuracy, on sizes that are and are not multiples of the
// block, and a matrix that is not positive definite is refused.
func TestBlockedFactorizations(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, d := range []int{7, linalgBlock, 300, 520} {
		h := gram(rng, 2*d, d, 0.01)
		want := append([]float64(nil), h...)
		tr, ok := lapack64.Potrf(blas64.Symmetric{Uplo: blas.Lower, N: d, Stride: d, Data: want})
		if !ok || !lapack64.Trtri(tr) {
			t.Fatalf("d=%d: gonum failed", d)
		}
		got := append([]float64(nil), h...)
		if !choleskyLower(got, d) || !invertLower(got, d) {
			t.Fatalf("d=%d: blocked factorization failed", d)
		}
		scale, worst := 0.0, 0.0
		for i := range d {
			for j := 0; j <= i; j++ {
				scale = math.Max(scale, math.Abs(want[i*d+j]))
				worst = math.Max(worst, math.Abs(got[i*d+j]-want[i*d+j]))
			}
		}
		if worst > 1e-4*scale {
			t.Errorf("d=%d: L⁻¹ differs from gonum's by %g (largest entry %g)", d, worst, scale)
		}
	}
	// Not positive definite: a negative diagonal entry in the last block.
	d := 300
	h := gram(rng, 2*d, d, 0.01)
	h[(d-1)*d+d-1] = -1
	if choleskyLower(h, d) {
		t.Errorf("an indefinite matrix was factored")
	}
}

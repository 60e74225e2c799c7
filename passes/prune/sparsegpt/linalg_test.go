package sparsegpt

import (
	"math"
	"math/rand/v2"
	"slices"
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

// fullCholesky and fullInverse are the blocked factorizations as first
// written: every trailing update and block-row product a whole matrix
// product, zeros included. The ones in linalg.go skip the products whose
// terms are all zero and must give the same bits.
func fullCholesky(a []float64, d int) bool {
	for k := 0; k < d; k += linalgBlock {
		b := min(linalgBlock, d-k)
		if !cholesky(a[k*d+k:], d, b) {
			return false
		}
		rest := d - k - b
		if rest == 0 {
			break
		}
		solveLowerTrans(a[(k+b)*d+k:], a[k*d+k:], d, rest, b)
		panel := toFloat32(make([]float32, rest*b), a[(k+b)*d+k:], d, rest, b)
		prod := make([]float32, rest*rest)
		ref.Sgemm(false, true, rest, rest, b, 1, panel, b, panel, b, 0, prod, rest)
		for i := range rest {
			for j := 0; j <= i; j++ {
				a[(k+b+i)*d+k+b+j] -= float64(prod[i*rest+j])
			}
		}
	}
	return true
}

func fullInverse(l []float64, d int) bool {
	for i := 0; i < d; i += linalgBlock {
		b := min(linalgBlock, d-i)
		var prod []float32
		if i > 0 {
			left := toFloat32(make([]float32, b*i), l[i*d:], d, b, i)
			x := make([]float32, i*i)
			lowerToFloat32(x, l, d, i, i)
			prod = make([]float32, b*i)
			ref.Sgemm(false, false, b, i, i, 1, left, i, x, i, 0, prod, i)
		}
		if !invertTriangular(l[i*d+i:], d, b) {
			return false
		}
		if i > 0 {
			inv := make([]float32, b*b)
			lowerToFloat32(inv, l[i*d+i:], d, b, b)
			out := make([]float32, b*i)
			ref.Sgemm(false, false, b, i, b, -1, inv, b, prod, i, 0, out, i)
			for r := range b {
				for c := range i {
					l[(i+r)*d+c] = float64(out[r*i+c])
				}
			}
		}
	}
	return true
}

// TestFactorizationsSkipOnlyZeros: the factorizations that multiply only
// the triangles they need equal, bit for bit, the ones that multiply whole
// matrices, on sizes whose inverse spans several of the GEMM's summation
// chunks (ref.SumChunk) and ragged last blocks.
func TestFactorizationsSkipOnlyZeros(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, d := range []int{linalgBlock + 1, 2*ref.SumChunk + 3*linalgBlock/2, 3*ref.SumChunk + 5} {
		h := gram(rng, 2*d, d, 0.01)
		got, want := append([]float64(nil), h...), append([]float64(nil), h...)
		if !choleskyLower(got, d) || !fullCholesky(want, d) {
			t.Fatalf("d=%d: factorization failed", d)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("d=%d: the Cholesky factors differ", d)
		}
		if !invertLower(got, d) || !fullInverse(want, d) {
			t.Fatalf("d=%d: inversion failed", d)
		}
		for i := range got {
			if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
				t.Fatalf("d=%d: L⁻¹[%d,%d] = %v, the full products give %v", d, i/d, i%d, got[i], want[i])
			}
		}
	}
}

// TestMirror checks that mirrorUpper and mirrorLower copy every element of
// one strict triangle onto the other, on a matrix wide enough for both
// cores to share the tile rows.
func TestMirror(t *testing.T) {
	const d = 1100
	for _, fromUpper := range []bool{true, false} {
		a := make([]float64, d*d)
		for i := range d {
			for j := range d {
				if (j > i) == fromUpper || i == j {
					a[i*d+j] = float64(i*d + j + 1)
				}
			}
		}
		if fromUpper {
			mirrorUpper(a, d)
		} else {
			mirrorLower(a, d)
		}
		for i := range d {
			for j := i + 1; j < d; j++ {
				if a[i*d+j] != a[j*d+i] || a[i*d+j] == 0 {
					t.Fatalf("fromUpper %v: a[%d][%d] = %v, a[%d][%d] = %v, want equal and set", fromUpper, i, j, a[i*d+j], j, i, a[j*d+i])
				}
			}
		}
	}
}

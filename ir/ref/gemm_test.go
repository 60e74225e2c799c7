package ref

import (
	"math"
	"math/rand/v2"
	"testing"
)

// naiveSgemm is C = alpha·op(A)·op(B) + beta·C in float64, the textbook
// triple loop, as the reference the packed GEMM is checked against.
func naiveSgemm(m, n, k int, alpha float32, a, b sgemmMatrix, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	at := func(x sgemmMatrix, i, j int) float64 {
		if x.trans {
			return float64(x.data[j*x.ld+i])
		}
		return float64(x.data[i*x.ld+j])
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += at(a, i, p) * at(b, p, j)
			}
			out[i*n+j] = float64(alpha) * s
			if beta != 0 {
				out[i*n+j] += float64(beta) * float64(c[i*ldc+j])
			}
		}
	}
	return out
}

func nnRandFloats(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// nnCheckClose compares got with want to a tolerance scaled by the size of
// the dot products (k terms of unit-variance products).
func nnCheckClose(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*(1+math.Abs(want[i])) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s: element %d is %v, want %v (diff %g)", what, i, got[i], want[i], d)
		}
	}
}

func TestSgemmShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	saved := sgemmKernel
	defer func() { sgemmKernel = saved }()
	shapes := [][3]int{{1, 1, 1}, {6, 16, 1}, {7, 17, 3}, {5, 15, 300}, {13, 33, 257}, {64, 200, 70}, {150, 40, 300}, {1, 1000, 64}, {100, 1, 50}, {150, 4200, 3}}
	for _, kern := range sgemmTestKernels() {
		name := kern.name
		t.Logf("kernel %s (%d×%d)", name, kern.mr, kern.nr)
		sgemmKernel = kern
		for _, s := range shapes {
			m, n, k := s[0], s[1], s[2]
			for _, ta := range []bool{false, true} {
				for _, tb := range []bool{false, true} {
					for _, par := range []bool{false, true} {
						if par && name == "go" {
							continue // the split is the same whatever the kernel
						}
						alpha, beta := float32(1), float32(0)
						if ta {
							alpha, beta = 0.5, 2
						}
						a, b, c, ldc := randSgemmOperands(r, m, n, k, ta, tb)
						want := naiveSgemm(m, n, k, alpha, a, b, beta, c, ldc)
						sgemm(m, n, k, alpha, a, b, beta, c, ldc, par)
						got := make([]float32, 0, m*n)
						for i := 0; i < m; i++ {
							got = append(got, c[i*ldc:i*ldc+n]...)
						}
						nnCheckClose(t, name, got, want, 1e-4*math.Sqrt(float64(k)))
					}
				}
			}
		}
	}
}

// TestSgemmBetaZeroIgnoresNaN checks the BLAS rule that beta 0 overwrites C.
func TestSgemmBetaZeroIgnoresNaN(t *testing.T) {
	c := []float32{float32(math.NaN()), float32(math.Inf(1))}
	a := sgemmMatrix{[]float32{2}, 1, false}
	b := sgemmMatrix{[]float32{3, 4}, 2, false}
	sgemm(1, 2, 1, 1, a, b, 0, c, 2, false)
	if c[0] != 6 || c[1] != 8 {
		t.Fatalf("got %v, want [6 8]", c)
	}
}

// randSgemmOperands returns random operands of an m×n×k product with
// padded leading dimensions (A's and B's stored transposed where ta, tb
// say) and a random C of leading dimension ldc.
func randSgemmOperands(r *rand.Rand, m, n, k int, ta, tb bool) (a, b sgemmMatrix, c []float32, ldc int) {
	lda, ldb := k+1, n+2
	ldc = n + 3
	rowsA, rowsB := m, k
	if ta {
		lda, rowsA = m+1, k
	}
	if tb {
		ldb, rowsB = k+2, n
	}
	a = sgemmMatrix{nnRandFloats(r, rowsA*lda), lda, ta}
	b = sgemmMatrix{nnRandFloats(r, rowsB*ldb), ldb, tb}
	return a, b, nnRandFloats(r, m*ldc), ldc
}

// TestSgemmUpper checks that SgemmUpper (SparseGPT's XᵀX) computes every
// element on or above the diagonal as Sgemm does, bit for bit, with every
// kernel, split over the cores by columns and by rows.
func TestSgemmUpper(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	saved := sgemmKernel
	defer func() { sgemmKernel = saved }()
	// Shapes with ragged panels and k chunks, wide and tall (the split
	// goes by columns, then by rows).
	shapes := [][3]int{{1, 1, 1}, {7, 17, 3}, {13, 33, 257}, {150, 40, 600}, {40, 300, 300}, {200, 200, 260}}
	for _, kern := range sgemmTestKernels() {
		sgemmKernel = kern
		for _, s := range shapes {
			m, n, k := s[0], s[1], s[2]
			for _, ta := range []bool{false, true} {
				a, b, _, ldc := randSgemmOperands(r, m, n, k, ta, false)
				want := make([]float32, m*ldc)
				sgemm(m, n, k, 1, a, b, 0, want, ldc, false)
				// Only the upper triangle (XᵀX's panels), and with the
				// diagonal 37 rows further down, split over the cores in
				// shares of equal work.
				got := make([]float32, m*ldc)
				SgemmUpper(ta, false, m, n, k, a.data, a.ld, b.data, b.ld, got, ldc)
				sgemmCheckSame(t, kern.name+" SgemmUpper", m, n, got, want, ldc, 0)
				clear(got)
				sgemmDiag(m, n, k, 1, a, b, 0, got, ldc, true, 37)
				sgemmCheckSame(t, kern.name+" diag 37", m, n, got, want, ldc, 37)
			}
		}
	}
}

// sgemmCheckSame compares the elements (i, j) with j + diag >= i of the
// m×n matrices got and want (leading dimension ldc) bit for bit.
func sgemmCheckSame(t *testing.T, what string, m, n int, got, want []float32, ldc int, diag int) {
	t.Helper()
	for i := range m {
		for j := max(0, i-diag); j < n; j++ {
			if g, w := got[i*ldc+j], want[i*ldc+j]; math.Float32bits(g) != math.Float32bits(w) {
				t.Fatalf("%s %d×%d: element (%d, %d) is %v, want %v", what, m, n, i, j, g, w)
			}
		}
	}
}

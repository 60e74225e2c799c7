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

// TestSgemmPrepacked checks that products reading an operand packed ahead
// (a convolution's weights, SparseGPT's XᵀX) equal sgemm bit for bit,
// with every kernel, serial and split over the cores by rows and by
// columns (each split shifts the prepacked view), and that SgemmUpper
// computes every element on or above the diagonal as Sgemm does.
func TestSgemmPrepacked(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	saved := sgemmKernel
	defer func() { sgemmKernel = saved }()
	// Shapes with ragged panels and k chunks, wide and tall (the split
	// goes by columns, then by rows); the last is packed ahead on two cores.
	shapes := [][3]int{{1, 1, 1}, {7, 17, 3}, {13, 33, 257}, {150, 40, 600}, {40, 300, 300}, {200, 200, 260}, {200, 64, 700}}
	for _, kern := range sgemmTestKernels() {
		sgemmKernel = kern
		for _, s := range shapes {
			m, n, k := s[0], s[1], s[2]
			for _, ta := range []bool{false, true} {
				a, b, _, ldc := randSgemmOperands(r, m, n, k, ta, false)
				want := make([]float32, m*ldc)
				sgemm(m, n, k, 1, a, b, 0, want, ldc, false)
				for _, par := range []bool{false, true} {
					// A packed ahead, B packed as the product goes.
					pre := sgemmPrepackA(make([]float32, sgemmPrepackedSize(m, k, kern.mr)), a, m, k, kern)
					got := make([]float32, m*ldc)
					sgemmRun(m, n, k, sgemmOperands{aPre: pre, packB: sgemmMatrixPacker(b)}, got, ldc, par, sgemmAllTiles)
					sgemmCheckSame(t, kern.name+" prepacked A", m, n, got, want, ldc, false)
				}
				// B packed ahead, only the upper triangle, from each panel
				// boundary on.
				pb := PackB(nil, b.data, b.ld, k, n)
				for j0 := 0; j0 < n; j0 += pb.Align() * 3 {
					got := make([]float32, m*ldc)
					SgemmUpper(ta, m, n-j0, a.data, a.ld, pb, j0, got, ldc)
					sub := make([]float32, m*ldc)
					for i := range m {
						copy(sub[i*ldc:i*ldc+n-j0], want[i*ldc+j0:i*ldc+n])
					}
					sgemmCheckSame(t, kern.name+" SgemmUpper", m, n-j0, got, sub, ldc, true)
				}
			}
		}
	}
}

// sgemmCheckSame compares the m×n matrices got and want (leading dimension
// ldc) bit for bit, only on and above the diagonal when upper is set.
func sgemmCheckSame(t *testing.T, what string, m, n int, got, want []float32, ldc int, upper bool) {
	t.Helper()
	for i := range m {
		j0 := 0
		if upper {
			j0 = i
		}
		for j := j0; j < n; j++ {
			if g, w := got[i*ldc+j], want[i*ldc+j]; math.Float32bits(g) != math.Float32bits(w) {
				t.Fatalf("%s %d×%d: element (%d, %d) is %v, want %v", what, m, n, i, j, g, w)
			}
		}
	}
}

package sparsegpt

import (
	"math"

	"github.com/sqc-project/sqc/ir/ref"
)

// The factorizations SparseGPT needs, blocked so that nearly all of their
// work is matrix products on the reference executor's float32 GEMM: gonum's
// float64 Potrf and Trtri ran at about 6 GFLOP/s here and took 11–30 s for
// a 4,608-wide Hessian, where the GEMM runs at 150 or more. The diagonal
// blocks are factored in float64 and the matrices are kept in float64; only
// the products of the trailing updates round their operands to float32, as
// the paper's implementation (float32 throughout, on a GPU) does everywhere.
//
// The float64 parts are the plain loops below, not gonum's Potrf, Trsm and
// Trtri: gonum sums in amd64 assembly on amd64 and in Go (where the
// compiler fuses multiply-adds) on arm64, so its factors differed in the
// last bits per host, and SparseGPT's masks and weights with them. Here
// every sum runs in index order with each product rounded, the same on every
// host.

// linalgBlock is the width of the diagonal blocks.
const linalgBlock = 128

// toFloat32 copies the r×c block of a (leading dimension lda) into dst,
// densely (leading dimension c).
func toFloat32(dst []float32, a []float64, lda, r, c int) []float32 {
	dst = dst[:r*c]
	for i := range r {
		row := a[i*lda : i*lda+c]
		out := dst[i*c : (i+1)*c]
		for j, x := range row {
			out[j] = float32(x)
		}
	}
	return dst
}

// choleskyLower factors the symmetric positive definite d×d matrix a
// (row-major, lower triangle read) in place into L with L·Lᵀ = a, in the
// lower triangle; the strict upper triangle is left as it was. It reports
// false when a is not numerically positive definite.
func choleskyLower(a []float64, d int) bool {
	nb := linalgBlock
	var panel, prod []float32
	for k := 0; k < d; k += nb {
		b := min(nb, d-k)
		// The diagonal block.
		if !cholesky(a[k*d+k:], d, b) {
			return false
		}
		rest := d - k - b
		if rest == 0 {
			break
		}
		// The panel below it: L21 = A21 · L11⁻ᵀ.
		solveLowerTrans(a[(k+b)*d+k:], a[k*d+k:], d, rest, b)
		// The trailing matrix: A22 −= L21 · L21ᵀ, as a float32 product.
		panel = toFloat32(grow(panel, rest*b), a[(k+b)*d+k:], d, rest, b)
		prod = grow(prod, rest*rest)
		ref.Sgemm(false, true, rest, rest, b, 1, panel, b, panel, b, 0, prod, rest)
		for i := range rest {
			row := a[(k+b+i)*d+k+b:]
			pr := prod[i*rest:]
			for j := 0; j <= i; j++ {
				row[j] -= float64(pr[j])
			}
		}
	}
	return true
}

// invertLower replaces the lower triangular d×d matrix l (row-major, lower
// triangle) by its inverse, in the lower triangle; the strict upper
// triangle is left as it was. It reports false when l is singular. Block
// row i of X = L⁻¹ is X[i, i] = L[i, i]⁻¹ and
// X[i, :i] = −L[i, i]⁻¹ · (L[i, :i] · X[:i, :i]), rows taken in order.
func invertLower(l []float64, d int) bool {
	nb := linalgBlock
	var left, x, prod, inv, out []float32
	for i := 0; i < d; i += nb {
		b := min(nb, d-i)
		if i > 0 {
			// S = L[i, :i] · X[:i, :i], X lower triangular (zeros above).
			left = toFloat32(grow(left, b*i), l[i*d:], d, b, i)
			x = grow(x, i*i)
			for r := range i {
				out := x[r*i : (r+1)*i]
				for c := range out {
					if c <= r {
						out[c] = float32(l[r*d+c])
					} else {
						out[c] = 0
					}
				}
			}
			prod = grow(prod, b*i)
			ref.Sgemm(false, false, b, i, i, 1, left, i, x, i, 0, prod, i)
		}
		if !invertTriangular(l[i*d+i:], d, b) {
			return false
		}
		if i > 0 {
			// X[i, :i] = −X[i, i] · S.
			inv = grow(inv, b*b)
			for r := range b {
				for c := range b {
					if c <= r {
						inv[r*b+c] = float32(l[(i+r)*d+i+c])
					} else {
						inv[r*b+c] = 0
					}
				}
			}
			out = grow(out, b*i)
			ref.Sgemm(false, false, b, i, b, -1, inv, b, prod, i, 0, out, i)
			for r := range b {
				row := l[(i+r)*d:]
				for c, v := range out[r*i : (r+1)*i] {
					row[c] = float64(v)
				}
			}
		}
	}
	return true
}

// cholesky factors the symmetric n×n block a (leading dimension lda, lower
// triangle read) in place into its lower Cholesky factor, column by column
// (LAPACK's Dpotf2 order). It reports false when a pivot is not positive.
func cholesky(a []float64, lda, n int) bool {
	for j := range n {
		rj := a[j*lda : j*lda+j+1]
		s := rj[j]
		for _, v := range rj[:j] {
			s -= float64(v * v)
		}
		if !(s > 0) {
			return false
		}
		ljj := math.Sqrt(s)
		rj[j] = ljj
		parallelRows(n-j-1, func(lo, hi int) {
			for i := j + 1 + lo; i < j+1+hi; i++ {
				ri := a[i*lda : i*lda+j+1]
				s := ri[j]
				for k, v := range rj[:j] {
					s -= float64(ri[k] * v)
				}
				ri[j] = s / ljj
			}
		})
	}
	return true
}

// solveLowerTrans replaces the rows×n block p (leading dimension lda) by
// X with X·Lᵀ = p, for L the lower triangular n×n block l (same leading
// dimension): each row is a forward substitution.
func solveLowerTrans(p, l []float64, lda, rows, n int) {
	parallelRows(rows, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			x := p[r*lda : r*lda+n]
			for j := range n {
				lj := l[j*lda : j*lda+j+1]
				s := x[j]
				for k, v := range lj[:j] {
					s -= float64(x[k] * v)
				}
				x[j] = s / lj[j]
			}
		}
	})
}

// invertTriangular replaces the lower triangular n×n block l (leading
// dimension lda) by its inverse, in place, columns from the last (LAPACK's
// Dtrti2 order): column j of the inverse is −(1/l[j][j])·X·l[j+1:, j], with X
// the inverse's lower right part, already computed. It reports false when
// l is singular.
func invertTriangular(l []float64, lda, n int) bool {
	for j := n - 1; j >= 0; j-- {
		ljj := l[j*lda+j]
		if ljj == 0 {
			return false
		}
		inv := 1 / ljj
		l[j*lda+j] = inv
		// v ← X·v for v = l[j+1:, j], from the bottom up, so that each
		// entry reads only entries above it that are not yet replaced.
		for i := n - 1; i > j; i-- {
			ri := l[i*lda:]
			s := float64(ri[i] * ri[j])
			for k := j + 1; k < i; k++ {
				s += float64(ri[k] * l[k*lda+j])
			}
			ri[j] = float64(-inv * s)
		}
	}
	return true
}

// grow returns s with length n, reusing its storage when it is big enough.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

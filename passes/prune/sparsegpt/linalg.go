package sparsegpt

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"

	"github.com/sqc-project/sqc/ir/ref"
)

// The factorizations SparseGPT needs, blocked so that nearly all of their
// work is matrix products on the reference executor's float32 GEMM: gonum's
// float64 Potrf and Trtri ran at about 6 GFLOP/s here and took 11–30 s for
// a 4,608-wide Hessian, where the GEMM runs at 150 or more. The diagonal
// blocks are factored in float64 (gonum) and the matrices are kept in
// float64; only the products of the trailing updates round their operands
// to float32, as the paper's implementation (float32 throughout, on a GPU)
// does everywhere.

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
		diag := blas64.Symmetric{Uplo: blas.Lower, N: b, Stride: d, Data: a[k*d+k:]}
		t, ok := lapack64.Potrf(diag)
		if !ok {
			return false
		}
		rest := d - k - b
		if rest == 0 {
			break
		}
		// The panel below it: L21 = A21 · L11⁻ᵀ.
		p := blas64.General{Rows: rest, Cols: b, Stride: d, Data: a[(k+b)*d+k:]}
		blas64.Trsm(blas.Right, blas.Trans, 1, t, p)
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
		t := blas64.Triangular{Uplo: blas.Lower, Diag: blas.NonUnit, N: b, Stride: d, Data: l[i*d+i:]}
		if !lapack64.Trtri(t) {
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

// grow returns s with length n, reusing its storage when it is big enough.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

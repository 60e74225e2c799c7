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
// The products compute only what the result reads: the lower triangle of
// the Cholesky update, and of L⁻¹'s block rows only the columns where the
// inverse is not zero. The GEMM sums each output element in one order,
// in chunks of ref.SumChunk along k (ir/ref's sumorder.go), however the
// product is split; a product that skips a leading run of k whose terms
// are all zero starts on a chunk boundary, so every element sums the same
// non-zero terms in the same chunks as the full product would, and the
// result is the same to the bit (a chunk of zero products adds +0).
//
// The float64 parts are the plain loops below, not gonum's Potrf, Trsm and
// Trtri: gonum sums in amd64 assembly on amd64 and in Go (where the
// compiler fuses multiply-adds) on arm64, so its factors differed in the
// last bits per host, and SparseGPT's masks and weights with them. Here
// every sum runs in index order with each product rounded, the same on every
// host.

// linalgBlock is the width of the diagonal blocks.
const linalgBlock = 128

// updateRows is the height of one product of the Cholesky trailing update:
// rows [r0, r0+updateRows) against columns [0, r0+updateRows).
const updateRows = 256

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
	// Sized for the first (largest) step, so that no step reallocates.
	rest0 := max(0, d-nb)
	panel := make([]float32, 0, rest0*nb)
	prod := make([]float32, 0, min(updateRows, rest0)*rest0)
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
		// The trailing matrix: A22 −= L21 · L21ᵀ, its lower triangle, as
		// float32 products of one band of rows each.
		panel = toFloat32(grow(panel, rest*b), a[(k+b)*d+k:], d, rest, b)
		for r0 := 0; r0 < rest; r0 += updateRows {
			r1 := min(r0+updateRows, rest)
			prod = grow(prod, (r1-r0)*r1)
			ref.Sgemm(false, true, r1-r0, r1, b, 1, panel[r0*b:], b, panel, b, 0, prod, r1)
			parallelRows(r1-r0, func(lo, hi int) {
				for i := r0 + lo; i < r0+hi; i++ {
					row := a[(k+b+i)*d+k+b:]
					pr := prod[(i-r0)*r1:]
					for j := 0; j <= i; j++ {
						row[j] -= float64(pr[j])
					}
				}
			})
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
	// Sized for the last (largest) step, so that no step reallocates.
	left := make([]float32, 0, nb*d)
	band := make([]float32, 0, min(ref.SumChunk, d)*d)
	prod := make([]float32, 0, nb*d)
	out := make([]float32, 0, nb*d)
	inv := make([]float32, 0, nb*nb)
	for i := 0; i < d; i += nb {
		b := min(nb, d-i)
		if i > 0 {
			// S = L[i, :i] · X[:i, :i]. X is lower triangular: column
			// band [c0, c0+SumChunk) of S reads X's rows from c0 on,
			// rounded to float32 with the zeros above the diagonal.
			left = toFloat32(grow(left, b*i), l[i*d:], d, b, i)
			prod = grow(prod, b*i)
			for c0 := 0; c0 < i; c0 += ref.SumChunk {
				w := min(ref.SumChunk, i-c0)
				band = grow(band, (i-c0)*w)
				lowerToFloat32(band, l[c0*d+c0:], d, i-c0, w)
				ref.Sgemm(false, false, b, w, i-c0, 1, left[c0:], i, band, w, 0, prod[c0:], i)
			}
		}
		if !invertTriangular(l[i*d+i:], d, b) {
			return false
		}
		if i > 0 {
			// X[i, :i] = −X[i, i] · S.
			inv = grow(inv, b*b)
			lowerToFloat32(inv, l[i*d+i:], d, b, b)
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

// lowerToFloat32 copies the lower triangle of the r×c block of a (leading
// dimension lda) into dst (leading dimension c) rounded to float32, zeros
// above the diagonal.
func lowerToFloat32(dst []float32, a []float64, lda, r, c int) {
	parallelRows(r, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out := dst[i*c : (i+1)*c]
			n := min(i+1, c)
			for j, x := range a[i*lda : i*lda+n] {
				out[j] = float32(x)
			}
			clear(out[n:])
		}
	})
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
		for i := j + 1; i < n; i++ {
			ri := a[i*lda : i*lda+j+1]
			s := ri[j]
			for k, v := range rj[:j] {
				s -= float64(ri[k] * v)
			}
			ri[j] = s / ljj
		}
	}
	return true
}

// solveLowerTrans replaces the rows×n block p (leading dimension lda) by
// X with X·Lᵀ = p, for L the lower triangular n×n block l (same leading
// dimension): each row is a forward substitution. Four rows run side by
// side, each in its own order, so that their dependency chains overlap.
func solveLowerTrans(p, l []float64, lda, rows, n int) {
	parallelRows(rows, func(lo, hi int) {
		r := lo
		for ; r+4 <= hi; r += 4 {
			x0 := p[r*lda : r*lda+n]
			x1 := p[(r+1)*lda : (r+1)*lda+n]
			x2 := p[(r+2)*lda : (r+2)*lda+n]
			x3 := p[(r+3)*lda : (r+3)*lda+n]
			for j := range n {
				lj := l[j*lda : j*lda+j+1]
				s0, s1, s2, s3 := x0[j], x1[j], x2[j], x3[j]
				for k, v := range lj[:j] {
					s0 -= float64(x0[k] * v)
					s1 -= float64(x1[k] * v)
					s2 -= float64(x2[k] * v)
					s3 -= float64(x3[k] * v)
				}
				x0[j], x1[j], x2[j], x3[j] = s0/lj[j], s1/lj[j], s2/lj[j], s3/lj[j]
			}
		}
		for ; r < hi; r++ {
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

// mirrorUpper copies the strict upper triangle of the d×d matrix a onto
// the strict lower one, in tiles so that both sides stay in cache.
func mirrorUpper(a []float64, d int) { mirror(a, d, true) }

// mirrorLower copies the strict lower triangle of the d×d matrix a onto
// the strict upper one (see mirrorUpper).
func mirrorLower(a []float64, d int) { mirror(a, d, false) }

// mirror copies one strict triangle of the d×d matrix a onto the other:
// the upper onto the lower when fromUpper, else the lower onto the upper,
// tile by tile over both cores. Tile row r of n copies n−r tiles, so the
// rows are dealt in pairs (0, n−1, 1, n−2, …) of n+1 tiles each and every
// core's share holds about as many: dealt in order, the first of two cores
// got three quarters of them.
func mirror(a []float64, d int, fromUpper bool) {
	const t = 64
	n := (d + t - 1) / t
	parallelRows(n, func(lo, hi int) {
		for q := lo; q < hi; q++ {
			r := q / 2
			if q%2 == 1 {
				r = n - 1 - q/2
			}
			i0 := r * t
			for j0 := i0; j0 < d; j0 += t {
				for i := i0; i < min(i0+t, d); i++ {
					for j := max(j0, i+1); j < min(j0+t, d); j++ {
						if fromUpper {
							a[j*d+i] = a[i*d+j]
						} else {
							a[i*d+j] = a[j*d+i]
						}
					}
				}
			}
		}
	})
}

// grow returns s with length n, reusing its storage when it is big enough.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

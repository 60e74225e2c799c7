package ref

// Sgemm computes C = alpha·op(A)·op(B) + beta·C with the executor's float32
// GEMM (the AVX-512 or AVX2 micro-kernels, on every core), for code outside
// the executor whose work is a matrix product (SparseGPT's Hessians and
// solves). Matrices are row-major: op(A) is m×k, read from a as a[i*lda+p],
// or a[p*lda+i] when transA (a then stores the k×m transpose); op(B) is k×n
// likewise with ldb and transB; C is m×n with leading dimension ldc. beta 0
// overwrites C without reading it.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(m, n, k, alpha, sgemmMatrix{a, lda, transA}, sgemmMatrix{b, ldb, transB}, beta, c, ldc, true)
}

// PackedB is a k×n matrix packed once as the B operand of many
// SgemmUpperPacked products, which read it in place instead of packing
// their part of it each (SparseGPT's XᵀX, computed panel by panel, reads
// the columns from the panel's first on: packing them every time was a
// fifth of the product's time on a 4608-wide layer).
type PackedB struct {
	pre  *sgemmPrepacked
	n, k int
}

// PackB packs b (k×n, row-major with leading dimension ldb) for the
// micro-kernel in use, reusing dst's storage when it is large enough.
func PackB(dst *PackedB, b []float32, ldb, k, n int) *PackedB {
	if dst == nil {
		dst = new(PackedB)
	}
	var buf []float32
	if dst.pre != nil {
		buf = dst.pre.data[:cap(dst.pre.data)]
	}
	if need := sgemmPrepackedSize(n, k, sgemmKernel.nr); len(buf) < need {
		buf = make([]float32, need)
	}
	dst.pre = sgemmPrepackB(buf, sgemmMatrixPacker(sgemmMatrix{b, ldb, false}), n, k, sgemmKernel)
	dst.n, dst.k = n, k
	return dst
}

// Align is the column step a product may start at in b: the width of its
// panels.
func (b *PackedB) Align() int { return b.pre.r }

// SgemmUpper computes C = op(A)·B for the elements of C on or above the
// diagonal (j >= i), as Sgemm with alpha 1 and beta 0 computes them, bit
// for bit, skipping the micro-tiles that lie wholly below (about half the
// work of a square product such as XᵀX); the elements below the diagonal
// are unspecified afterwards. B is columns [j0, j0+n) of b, j0 a multiple
// of b.Align(); op(A) is m×k, k b's rows.
func SgemmUpper(transA bool, m, n int, a []float32, lda int, b *PackedB, j0 int, c []float32, ldc int) {
	if j0%b.pre.r != 0 || j0 < 0 || j0+n > b.n {
		panic("ref: SgemmUpper: columns out of range or not on a panel boundary")
	}
	for i := 0; i < min(m, n); i++ {
		clear(c[i*ldc+i : i*ldc+n])
	}
	sgemmRun(m, n, b.k, sgemmOperands{a: sgemmMatrix{a, lda, transA}, bPre: b.pre.shifted(j0)}, c, ldc, true, 0)
}

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

// SgemmUpper is Sgemm with alpha 1 and beta 0 for a C that only needs
// its elements on or above the diagonal (j >= i), as a symmetric product
// such as XᵀX: it skips the micro-tiles that lie wholly below, half the
// work of a square product. Each element it computes equals Sgemm's bit
// for bit; those below the diagonal are unspecified afterwards.
func SgemmUpper(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	sgemmDiag(m, n, k, 1, sgemmMatrix{a, lda, transA}, sgemmMatrix{b, ldb, transB}, 0, c, ldc, true, 0)
}

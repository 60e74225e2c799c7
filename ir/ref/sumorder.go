package ref

import "math"

// The float summation order of Conv, ConvTranspose, Gemm and MatMul.
//
// Every float32 product of these ops (FusedConv and FusedGemm included)
// computes each output element in one order, on every CPU and every code
// path of this package (the AVX-512, AVX2, NEON and portable
// micro-kernels, edge tiles, tiny and matrix-vector products, the parallel
// splits, depthwise convolutions), and the GPU's float kernels
// (backend/ampere/kernels: the float convolution, which also runs Gemm and
// MatMul by a constant, the transposed convolution and the batched MatMul)
// follow it, so that a float engine equals this executor bit for bit:
//
//	y = init
//	for each chunk of SumChunk consecutive k (k = 0…255, 256…511, …, the last one ragged):
//		acc = +0
//		for each k of the chunk, in order: acc = FMA32(a_k, b_k, acc)
//		y = y + acc
//
// with one float32 rounding per FMA32 (the fused multiply-add: the exact
// a·b + acc, rounded once) and per addition, to nearest even, subnormals
// kept. K = 0 leaves y = init. What k, a_k, b_k and init are:
//
//   - Gemm: k is the inner index, a_k = op(A)[i][k], b_k = alpha·op(B)[k][j]
//     (the float32 product, rounded; alpha 1 leaves B as it is), init =
//     beta·C[i][j] (rounded; beta 1 leaves C, beta 0 or no C gives +0).
//   - MatMul: a_k = A[i][k], b_k = B[k][j], init = +0, for each matrix of
//     the broadcast batch.
//   - Conv: k runs over the group's input channels and the window,
//     k = (c·KH + ky)·KW + kx (any rank: the channel, then the window's
//     offsets in row-major order), a_k the weight, b_k the input at that
//     tap, +0 for a tap in the padding (so a padded tap adds w·0, which only
//     matters for a −0 sum or a weight that is not finite), init = the bias
//     or +0. Depthwise convolutions follow the same order.
//   - ConvTranspose: for each output element, y = the bias (or +0), then,
//     for each window offset (ky, kx) in row-major order whose forward
//     convolution reads this position, y = y + v, where v is the sum above
//     over the group's input channels c (init +0, a_k the weight
//     [c][m][ky][kx], b_k the input at the position the offset maps to).
//
// A fused epilogue (FusedConv, FusedGemm) then adds the residual (one
// float32 addition) and clamps.

// negZero is −0, the float32 that adds to any x exactly (−0 + x = x, also
// for x = ±0).
var negZero = float32(math.Copysign(0, -1))

// SumChunk is the number of products summed into a register before the
// partial sum is added to the output (the order above). It is the packed
// GEMM's kc, fixed by that order rather than tuned.
const SumChunk = 256

// FMA32 returns x·y + z computed exactly and rounded once to float32, to
// nearest even (IEEE 754 fusedMultiplyAdd): what the assembly
// micro-kernels' VFMADD231PS and PTX's fma.rn.f32 compute. Go has no
// float32 FMA, and float32(math.FMA(…)) rounds twice, which is wrong when
// the first rounding lands on a float32 tie; this is the portable
// definition the order above uses.
func FMA32(x, y, z float32) float32 {
	p := float64(x) * float64(y) // exact: 48 significant bits at most
	s := p + float64(z)          // p is an exact product: Go may fuse it, to the same sum
	if fma32Rounds(s) {
		return float32(s)
	}
	return fma32Tie(p, float64(z), s)
}

// fma32Rounds reports whether float32(s), for s the float64 sum of an
// exact product and a float32, is that sum rounded once to float32. It is
// unless s is exactly a float32 tie (the 29 bits below float32's precision
// are 1000…0), or s is below float32's normal range (±0 aside: a zero sum
// is exact), where its ties lie at other bits: then fma32Tie looks at the
// error of s. It inlines, so hot loops (sgemmKernelGo) can test it
// without a call.
func fma32Rounds(s float64) bool {
	b := math.Float64bits(s)
	return b&(1<<29-1) != 1<<28 && (b&0x7ff0000000000000 >= 0x3810000000000000 || b<<1 == 0)
}

// fma32Tie rounds p + z, whose float64 rounding is s, to float32 by
// rounding to odd first: s is moved one unit towards p + z when it is
// inexact and even, so the second rounding (float64 has 53 bits, at least
// two more than float32's 24) sees which side of a tie the exact sum lies.
func fma32Tie(p, z, s float64) float32 {
	if math.IsInf(s, 0) || math.IsNaN(s) {
		return float32(s)
	}
	// TwoSum: p + z = s + e exactly.
	v := s - p
	e := (p - (s - v)) + (z - v)
	if e != 0 && math.Float64bits(s)&1 == 0 {
		s = math.Nextafter(s, math.Copysign(math.Inf(1), e))
	}
	return float32(s)
}

// sfmaAxpy sets y[i] = FMA32(a, x[i], y[i]) for i < len(y) (x is at least
// as long). gemm_amd64.go's init swaps in an AVX2 loop where the CPU has
// one, gemm_arm64.go's a NEON one.
var sfmaAxpy = sfmaAxpyGo

func sfmaAxpyGo(a float32, x, y []float32) {
	x = x[:len(y)]
	for i, v := range x {
		if s := float64(a)*float64(v) + float64(y[i]); fma32Rounds(s) { // FMA32's common case, inline (an exact product)
			y[i] = float32(s)
		} else {
			y[i] = FMA32(a, v, y[i])
		}
	}
}

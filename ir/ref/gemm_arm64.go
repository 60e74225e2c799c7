package ref

// The NEON micro-kernel and fused axpy. Every arm64 CPU has NEON (Advanced
// SIMD is part of ARMv8-A, and Go requires it), so there is no feature
// test: they replace the portable ones unconditionally.

// sgemmKernel8x12NEON is gemm_arm64.s's micro-kernel: sgemmKernelGo's
// contract on raw pointers (c's rows ldc floats apart), the 8×12 tile in
// 24 of the 32 vector registers.
//
//go:noescape
func sgemmKernel8x12NEON(kc int, a, b, c *float32, ldc int)

// sgemmNEON is the assembly kernel adapted to sgemmMicro's slices; the
// index expressions check that it stays inside them.
var sgemmNEON = sgemmMicro{"neon", 8, 12, func(kc int, a, b, c []float32, ldc int) {
	_ = a[kc*8-1]
	_ = b[kc*12-1]
	_ = c[7*ldc+11]
	sgemmKernel8x12NEON(kc, &a[0], &b[0], &c[0], ldc)
}}

// sfmaAxpyNEON is gemm_arm64.s's y[i] = fma(a, x[i], y[i]) over n
// elements.
//
//go:noescape
func sfmaAxpyNEON(n int, a float32, x, y *float32)

func init() {
	sgemmKernel = sgemmNEON
	sfmaAxpy = func(a float32, x, y []float32) {
		if len(y) == 0 {
			return
		}
		_ = x[len(y)-1]
		sfmaAxpyNEON(len(y), a, &x[0], &y[0])
	}
}

// sgemmExtraKernels: the NEON kernel is the only assembly one, and it is
// always in use.
func sgemmExtraKernels() []sgemmMicro { return nil }

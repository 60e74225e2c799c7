package ref

// The AVX2+FMA micro-kernel and the CPU feature test that enables it.

// sgemmKernel6x16AVX2 is gemm_amd64.s's micro-kernel: sgemmKernelGo's
// contract on raw pointers (c's rows ldc floats apart).
//
//go:noescape
func sgemmKernel6x16AVX2(kc int, a, b, c *float32, ldc int)

// sgemmCPUID executes the CPUID instruction for leaf eax, sub-leaf ecx.
func sgemmCPUID(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

// sgemmXGETBV0 reads extended control register 0 (the register states the OS
// saves on a context switch).
func sgemmXGETBV0() (eax, edx uint32)

// sgemmHasAVX2FMA reports whether the CPU has AVX2 and FMA3 and the OS saves
// the ymm registers.
func sgemmHasAVX2FMA() bool {
	maxLeaf, _, _, _ := sgemmCPUID(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, ecx1, _ := sgemmCPUID(1, 0)
	const (
		fma     = 1 << 12
		osxsave = 1 << 27
		avx     = 1 << 28
	)
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	if xcr0, _ := sgemmXGETBV0(); xcr0&6 != 6 { // XMM and YMM state enabled
		return false
	}
	_, ebx7, _, _ := sgemmCPUID(7, 0)
	const avx2 = 1 << 5
	return ebx7&avx2 != 0
}

// sgemmKernel8x32AVX512 is gemm_amd64.s's AVX-512 micro-kernel, the
// 8×32 tile in sixteen zmm registers.
//
//go:noescape
func sgemmKernel8x32AVX512(kc int, a, b, c *float32, ldc int)

// sgemmHasAVX512 reports whether the CPU has AVX-512F and the OS saves the
// opmask and zmm registers.
func sgemmHasAVX512() bool {
	if !sgemmHasAVX2FMA() {
		return false
	}
	if xcr0, _ := sgemmXGETBV0(); xcr0&0xe6 != 0xe6 { // XMM, YMM, opmask, ZMM0-15 upper halves, ZMM16-31
		return false
	}
	_, ebx7, _, _ := sgemmCPUID(7, 0)
	const avx512f = 1 << 16
	return ebx7&avx512f != 0
}

// The assembly kernels, adapted to sgemmMicro's slices; the index
// expressions check that each kernel stays inside them.
var (
	sgemmAVX2 = sgemmMicro{"avx2", 6, 16, func(kc int, a, b, c []float32, ldc int) {
		_ = a[kc*6-1]
		_ = b[kc*16-1]
		_ = c[5*ldc+15]
		sgemmKernel6x16AVX2(kc, &a[0], &b[0], &c[0], ldc)
	}}
	sgemmAVX512 = sgemmMicro{"avx512", 8, 32, func(kc int, a, b, c []float32, ldc int) {
		_ = a[kc*8-1]
		_ = b[kc*32-1]
		_ = c[7*ldc+31]
		sgemmKernel8x32AVX512(kc, &a[0], &b[0], &c[0], ldc)
	}}
)

// sfmaAxpyAVX2 is gemm_amd64.s's y[i] = fma(a, x[i], y[i]) over n
// elements.
//
//go:noescape
func sfmaAxpyAVX2(n int, a float32, x, y *float32)

func init() {
	if sgemmHasAVX2FMA() {
		sfmaAxpy = func(a float32, x, y []float32) {
			if len(y) == 0 {
				return
			}
			_ = x[len(y)-1]
			sfmaAxpyAVX2(len(y), a, &x[0], &y[0])
		}
	}
	switch {
	case sgemmHasAVX512():
		sgemmKernel = sgemmAVX512
	case sgemmHasAVX2FMA():
		sgemmKernel = sgemmAVX2
	}
}

// sgemmExtraKernels lists the assembly kernels the CPU runs other than
// the one in use, so that tests and benchmarks cover every kernel.
func sgemmExtraKernels() []sgemmMicro {
	var ks []sgemmMicro
	if sgemmHasAVX2FMA() && sgemmKernel.name != "avx2" {
		ks = append(ks, sgemmAVX2)
	}
	if sgemmHasAVX512() && sgemmKernel.name != "avx512" {
		ks = append(ks, sgemmAVX512)
	}
	return ks
}

package ref

import "testing"

// sgemmTestKernels lists every micro-kernel this CPU can run.
func sgemmTestKernels() []sgemmMicro {
	ks := []sgemmMicro{sgemmGo}
	if sgemmKernel.name != "go" {
		ks = append(ks, sgemmKernel)
	}
	ks = append(ks, sgemmExtraKernels()...)
	return ks
}

// BenchmarkSgemmMicroKernel measures each micro-kernel alone on one core,
// its operands in L1: the ceiling of the whole GEMM.
func BenchmarkSgemmMicroKernel(b *testing.B) {
	const kc = 256
	for _, k := range sgemmTestKernels() {
		a := make([]float32, kc*k.mr)
		bb := make([]float32, kc*k.nr)
		c := make([]float32, k.mr*k.nr)
		for i := range a {
			a[i] = 1
		}
		b.Run(k.name, func(b *testing.B) {
			for b.Loop() {
				k.fn(kc, a, bb, c, k.nr)
			}
			b.ReportMetric(2*kc*float64(k.mr*k.nr)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkSgemmPackA measures packing a 512×256 block of weights.
func BenchmarkSgemmPackA(b *testing.B) {
	const m, k = 144, 256
	a := sgemmMatrix{make([]float32, 512*4608), 4608, false}
	dst := make([]float32, m*k)
	for b.Loop() {
		sgemmPackA(dst, a, sgemmKernel.mr, 0, m, 0, k)
	}
	b.ReportMetric(float64(m*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gfloat/s")
}

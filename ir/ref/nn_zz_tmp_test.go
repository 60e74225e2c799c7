package ref

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

func nnCPUTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkTmpCPU(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	conv := kernels["Conv"]
	for _, l := range nnResNet34 {
		bc := nnMakeBenchConv(r, l)
		b.Run(l.name, func(b *testing.B) {
			c0 := nnCPUTime()
			for b.Loop() {
				conv(bc.node, bc.in, bc.out)
			}
			cpu := nnCPUTime() - c0
			b.ReportMetric(2*l.macs()*float64(b.N)/cpu.Seconds()/1e9, "GFLOP/cpu-s")
		})
	}
}

package ref

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/gonum"
)

// The GEMM shapes (m×k times k×n) of ResNet-34's 3×3 convolutions at batch 1
// and of a square 512³ product, for this GEMM and gonum's.
var sgemmBenchShapes = [][3]int{
	{64, 3136, 576},  // 3×3 64→64 on 56²
	{128, 784, 1152}, // 3×3 128→128 on 28²
	{256, 196, 2304}, // 3×3 256→256 on 14²
	{512, 49, 4608},  // 3×3 512→512 on 7²
	{512, 512, 512},
}

func BenchmarkSgemm(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	blas32.Use(gonum.Implementation{})
	for _, s := range sgemmBenchShapes {
		m, n, k := s[0], s[1], s[2]
		a, bb, c := nnRandFloats(r, m*k), nnRandFloats(r, k*n), make([]float32, m*n)
		flops := 2 * float64(m) * float64(n) * float64(k)
		b.Run(fmt.Sprintf("sqc/%dx%dx%d", m, n, k), func(b *testing.B) {
			for b.Loop() {
				sgemm(m, n, k, 1, sgemmMatrix{a, k, false}, sgemmMatrix{bb, n, false}, 0, c, n, true)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(fmt.Sprintf("gonum/%dx%dx%d", m, n, k), func(b *testing.B) {
			ga := blas32.General{Rows: m, Cols: k, Stride: k, Data: a}
			gb := blas32.General{Rows: k, Cols: n, Stride: n, Data: bb}
			gc := blas32.General{Rows: m, Cols: n, Stride: n, Data: c}
			for b.Loop() {
				blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, ga, gb, 0, gc)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkSgemmSmall measures a tiny product (16×16×16, 4096
// multiply-adds) and a matrix-vector product, which an unpacked loop
// computed before every product was packed.
func BenchmarkSgemmSmall(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range [][3]int{{16, 16, 16}, {1024, 1, 1024}} {
		m, n, k := s[0], s[1], s[2]
		a, bb, c := nnRandFloats(r, m*k), nnRandFloats(r, k*n), make([]float32, m*n)
		b.Run(fmt.Sprintf("%dx%dx%d", m, n, k), func(b *testing.B) {
			for b.Loop() {
				sgemm(m, n, k, 1, sgemmMatrix{a, k, false}, sgemmMatrix{bb, n, false}, 0, c, n, false)
			}
			b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

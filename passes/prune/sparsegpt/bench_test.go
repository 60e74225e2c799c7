package sparsegpt

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkPrune times the solve of one layer as wide as ResNet-50's:
// 512 rows and 4,608 inputs (a 3×3 conv of 512 channels) or 2,304 (256
// channels), the Hessian from 8 images' worth of correlated rows. go test
// ./passes/prune/sparsegpt -run '^$' -bench Prune
func BenchmarkPrune(b *testing.B) {
	for _, d := range []int{2304, 4608} {
		b.Run(fmt.Sprintf("512x%d", d), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			h := gram(rng, 2*d, d, 0)
			w := make([]float64, 512*d)
			for i := range w {
				w[i] = rng.NormFloat64()
			}
			o := DefaultOptions
			o.MaxBlock = 4608
			b.ResetTimer()
			for range b.N {
				if _, err := Prune(w, 512, d, [][]float64{h}, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

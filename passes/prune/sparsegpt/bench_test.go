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

// BenchmarkHessian times the accumulation of a layer's Hessian from its
// input rows: a 3×3 conv of 64 channels (576 columns) over 8,192 rows and
// one of 512 channels (4,608 columns) over 1,568 rows, ResNet-50's first
// and last stages at 32 images of 224×224 (a quarter of the first's rows).
// go test ./passes/prune/sparsegpt -run '^$' -bench Hessian
func BenchmarkHessian(b *testing.B) {
	for _, tc := range []struct{ d, rows int }{{576, 8192}, {4608, 1568}} {
		b.Run(fmt.Sprintf("%dx%d", tc.rows, tc.d), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			x := make([]float32, tc.rows*tc.d)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			b.ResetTimer()
			for range b.N {
				h := NewHessian(tc.d, [][2]int{{0, tc.d}})
				for r := range tc.rows {
					row, _ := h.row()
					copy(row, x[r*tc.d:(r+1)*tc.d])
				}
				if err := h.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOutputErrors times the error statistics the prune pass reports
// per layer (three weights compared: zero, SparseGPT's, magnitude's) on a
// 512×2304 and a 512×4608 layer. go test ./passes/prune/sparsegpt -run '^$'
// -bench OutputErrors
func BenchmarkOutputErrors(b *testing.B) {
	for _, d := range []int{2304, 4608} {
		b.Run(fmt.Sprintf("512x%d", d), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			h := make([]float64, d*d)
			for i := range d {
				for j := i; j < d; j++ {
					h[i*d+j] = rng.NormFloat64()
					h[j*d+i] = h[i*d+j]
				}
			}
			vs := make([][]float64, 3)
			for i := range vs {
				vs[i] = make([]float64, 512*d)
				for j := range vs[i] {
					vs[i][j] = rng.NormFloat64()
				}
			}
			b.ResetTimer()
			for range b.N {
				if _, err := OutputErrors(vs[0], vs, 512, d, [][]float64{h}, [][2]int{{0, d}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package ref

import (
	"math/rand/v2"
	"testing"
)

// naiveGemm is the textbook triple loop in int64, the independent check of
// qgemm's packing, SWAR lanes and blocking.
func naiveGemm(m, n, k int, a, b []int16) []int32 {
	c := make([]int32, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s int64
			for kk := 0; kk < k; kk++ {
				s += int64(a[i*k+kk]) * int64(b[kk*n+j])
			}
			c[i*n+j] = int32(s)
		}
	}
	return c
}

func randInt16s(r *rand.Rand, n int, lo, hi int) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(lo + r.IntN(hi-lo+1))
	}
	return s
}

func TestQGemmMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	shapes := [][3]int{{1, 1, 1}, {3, 5, 7}, {4, 4, 4}, {5, 9, 513}, {17, 33, 1030}, {64, 3, 9}, {2, 200, 50}, {9, 1, 27}, {0, 4, 3}, {4, 4, 0},
		// Large enough for qgemm to split the work over the cores, by
		// columns and by rows.
		{200, 100, 300}, {300, 7, 200}}
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		for _, rng := range [][2]int{{-255, 255}, {255, 255}, {-255, -255}} {
			a := randInt16s(r, m*k, rng[0], rng[1])
			b := randInt16s(r, k*n, rng[0], rng[1])
			want := naiveGemm(m, n, k, a, b)
			got := make([]int32, m*n)
			for i := range got {
				got[i] = 12345 // qgemm must overwrite
			}
			qgemm(qPackA(m, k, a), n, b, got)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%dx%dx%d range %v: c[%d] = %d, want %d", m, n, k, rng, i, got[i], want[i])
				}
			}
		}
	}
}

// TestQGemmWraps checks that a sum past the int32 range wraps as int32
// arithmetic does: 40000 products of 255·255 overflow (2.6e9 > 2³¹).
func TestQGemmWraps(t *testing.T) {
	const k = 40000
	a := make([]int16, 2*k)
	b := make([]int16, k*3)
	for i := range a {
		a[i] = 255
	}
	for i := range b {
		b[i] = 255
	}
	b[1] = -255 // one different column sum to make lanes differ
	got := make([]int32, 2*3)
	qgemm(qPackA(2, k, a), 3, b, got)
	full := int64(k) * 255 * 255
	want := []int32{int32(full), int32(full - 2*255*255), int32(full)}
	for i := 0; i < 2; i++ {
		for j := 0; j < 3; j++ {
			if got[i*3+j] != want[j] {
				t.Errorf("c[%d,%d] = %d, want %d (the exact sum %d wrapped to int32)", i, j, got[i*3+j], want[j], full)
			}
		}
	}
}

// BenchmarkQGemmConv3x3 times the GEMM of a 3×3, 256→256 convolution over a
// 14×14 map (M=256 output channels, K=256·9, N=196 positions) and reports
// GOPS as 2·M·N·K per second.
func BenchmarkQGemmConv3x3(bm *testing.B) {
	const m, n, k = 256, 14 * 14, 256 * 9
	r := rand.New(rand.NewPCG(3, 4))
	a := qPackA(m, k, randInt16s(r, m*k, -128, 127))
	b := randInt16s(r, k*n, -128, 127)
	c := make([]int32, m*n)
	bm.ResetTimer()
	for bm.Loop() {
		qgemm(a, n, b, c)
	}
	bm.ReportMetric(2*m*n*k*float64(bm.N)/bm.Elapsed().Seconds()/1e9, "GOPS")
}

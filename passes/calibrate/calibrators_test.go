package calibrate

import (
	"math"
	"math/rand/v2"
	"testing"
)

func gaussian(n int, sigma float64, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64() * sigma)
	}
	return out
}

func histOf(t *testing.T, data ...[]float32) *Histogram {
	t.Helper()
	h := NewHistogram()
	for _, d := range data {
		if err := h.Add(d); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func TestMaxIsExact(t *testing.T) {
	data := gaussian(10_000, 1, 1)
	data[5000] = -7.123456
	h := histOf(t, data)
	got, err := Threshold(h, MethodMax, 0)
	if err != nil || got != 7.123456 {
		t.Fatalf("max = %v, %v; want 7.123456 exactly", got, err)
	}
	if h.Min != -7.123456 {
		t.Errorf("min = %v", h.Min)
	}
}

func TestPercentile(t *testing.T) {
	// |x| = 1 .. 100000 (in units of 1/100000): the p-th percentile is p/100.
	data := make([]float32, 100_000)
	for i := range data {
		data[i] = float32(i+1) / 100_000
		if i%2 == 0 {
			data[i] = -data[i]
		}
	}
	h := histOf(t, data)
	w := float32(h.BinWidth())
	for _, p := range []float64{50, 99, 99.99} {
		got, err := Threshold(h, MethodPercentile, p)
		want := float32(p / 100)
		if err != nil || got < want || got > want+w {
			t.Errorf("percentile %v = %v (%v); want within one bin (%v) above %v", p, got, err, w, want)
		}
	}
	if got, _ := Threshold(h, MethodPercentile, 100); got != 1 {
		t.Errorf("percentile 100 = %v, want the max, 1", got)
	}
	if _, err := Threshold(h, MethodPercentile, 0); err == nil {
		t.Errorf("percentile 0 accepted")
	}
}

// literalDivergences is Migacz's algorithm exactly as on the slides, O(i)
// per candidate, with no smoothing (a q of 0 where p > 0 is infinite).
func literalDivergences(h *Histogram) []float64 {
	n := h.used()
	// The zero bin takes its neighbour's count (pytorch-quantization).
	counts := append([]uint64(nil), h.Counts...)
	counts[0] = counts[1]
	var out []float64
	for i := quantBins; i <= n; i++ {
		p := make([]float64, i)
		for j := range i {
			p[j] = float64(counts[j])
		}
		for j := i; j < n; j++ {
			p[i-1] += float64(counts[j])
		}
		// Q: bins 0..i−1 merged into 128 levels, expanded over P's non-empty bins.
		q := make([]float64, i)
		merged := i / quantBins
		for l := range quantBins {
			s, e := l*merged, (l+1)*merged
			if l == quantBins-1 {
				e = i
			}
			sum, nonEmpty := 0.0, 0
			for j := s; j < e; j++ {
				sum += float64(counts[j])
				if p[j] != 0 {
					nonEmpty++
				}
			}
			for j := s; j < e; j++ {
				if p[j] != 0 {
					q[j] = sum / float64(nonEmpty)
				}
			}
		}
		ps, qs := 0.0, 0.0
		for j := range i {
			ps, qs = ps+p[j], qs+q[j]
		}
		kl := 0.0
		for j := range i {
			if p[j] == 0 {
				continue
			}
			if q[j] == 0 {
				kl = math.Inf(1)
				break
			}
			kl += p[j] / ps * math.Log((p[j]/ps)/(q[j]/qs))
		}
		out = append(out, kl)
	}
	return out
}

func TestEntropyMatchesLiteral(t *testing.T) {
	relu := gaussian(50_000, 1, 2)
	for i, x := range relu {
		relu[i] = max(x, 0)
	}
	sparse := make([]float32, 0, 2000)
	for i := range 2000 {
		sparse = append(sparse, float32(i%13)*float32(i%5)) // many empty bins
	}
	sparse = append(sparse, 500) // an outlier far out
	for name, data := range map[string][]float32{"gaussian": gaussian(50_000, 1, 3), "relu": relu, "sparse": sparse} {
		h := histOf(t, data)
		got, first := entropyDivergences(h)
		want := literalDivergences(h)
		if first != quantBins || len(got) != len(want) {
			t.Fatalf("%s: %d candidates from %d, want %d from %d", name, len(got), first, len(want), quantBins)
		}
		for k := range want {
			g, w := got[k], want[k]
			if math.IsInf(w, 1) != math.IsInf(g, 1) || (!math.IsInf(w, 1) && math.Abs(g-w) > 1e-9+1e-7*math.Abs(w)) {
				t.Fatalf("%s: candidate %d: KL %v, literal %v", name, k+quantBins, g, w)
			}
		}
	}
}

// quantMSE is the true mean squared error of symmetric int8 quantization of
// data with threshold t.
func quantMSE(data []float32, t float64) float64 {
	s := t / 127
	sum := 0.0
	for _, x := range data {
		q := math.Max(-127, math.Min(127, math.RoundToEven(float64(x)/s)))
		d := float64(x) - q*s
		sum += d * d
	}
	return sum / float64(len(data))
}

func TestGaussianWithOutliers(t *testing.T) {
	// Three outliers at 40σ, 50σ and 60σ among a million samples: keeping
	// them would cost every other value resolution.
	data := gaussian(1_000_000, 1, 4)
	for i, x := range []float32{40, -50, 60} {
		data[i*1000] = x
	}
	h := histOf(t, data)
	for _, m := range []string{MethodEntropy, MethodMSE} {
		got, err := Threshold(h, m, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Entropy keeps the Gaussian body (2.5σ..8σ); MSE weighs the
		// squared clipping error of the three outliers against a million
		// rounding errors and settles between (about 18σ, which
		// TestMSEMinimisesTrueError checks is right); both stay well below
		// the max, where most levels would go to three values.
		lo, hi := 2.5, 8.0
		if m == MethodMSE {
			lo, hi = 8, 30
		}
		if float64(got) < lo || float64(got) > hi {
			t.Errorf("%s threshold %v, want in [%v, %v], well below the max %v", m, got, lo, hi, h.Amax)
		}
		t.Logf("%s: %.3f (max %.1f)", m, got, h.Amax)
	}
}

func TestMSEMinimisesTrueError(t *testing.T) {
	laplace := make([]float32, 200_000)
	r := newRand(5)
	for i := range laplace {
		laplace[i] = float32(-math.Log(r.Float64()) * float64(1-2*(i%2)))
	}
	relu := gaussian(200_000, 2, 6)
	for i, x := range relu {
		relu[i] = max(x, 0)
	}
	outliers := gaussian(200_000, 1, 8)
	for i, x := range []float32{40, -50, 60} {
		outliers[i*1000] = x
	}
	for name, data := range map[string][]float32{"gaussian": gaussian(200_000, 1, 5), "laplace": laplace, "relu": relu, "outliers": outliers} {
		h := histOf(t, data)
		got := float64(MSEThreshold(h))
		// Brute force over a fine grid of thresholds on the data itself.
		best := math.Inf(1)
		for k := 1; k <= 200; k++ {
			best = math.Min(best, quantMSE(data, float64(h.Amax)*float64(k)/200))
		}
		if e := quantMSE(data, got); e > best*1.03 {
			t.Errorf("%s: threshold %.3f has MSE %.3g, the best on a grid %.3g: want within 3%%", name, got, e, best)
		}
	}
	// Uniform data: clipping only hurts, the threshold stays near the max.
	uni := make([]float32, 100_000)
	for i := range uni {
		uni[i] = float32(i)/100_000*2 - 1
	}
	if got := MSEThreshold(histOf(t, uni)); got < 0.97 {
		t.Errorf("uniform [-1, 1]: threshold %v, want near 1", got)
	}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 9)) }

func TestSmallAndEmptyHistograms(t *testing.T) {
	h := NewHistogram()
	for _, m := range Methods {
		got, err := Threshold(h, m, 99)
		if err != nil || got != 0 {
			t.Errorf("%s on nothing: %v, %v; want 0", m, got, err)
		}
	}
	// Values of one magnitude: every candidate below it folds them into
	// a bin Q leaves empty (infinite divergence); the one that keeps them
	// has divergence 0, and the threshold is their magnitude.
	h = histOf(t, []float32{3, 3, -3, 3})
	if got := EntropyThreshold(h); got != 3 {
		t.Errorf("entropy of ±3 = %v, want 3", got)
	}
	if _, err := Threshold(h, "kl", 0); err == nil {
		t.Errorf("unknown method accepted")
	}
}

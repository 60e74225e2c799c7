package calibrate

import (
	"fmt"
	"math"

	"github.com/sqc-project/sqc/ir/ref/fmath"
)

// The calibration methods.
const (
	MethodMax        = "max"
	MethodPercentile = "percentile"
	MethodEntropy    = "entropy"
	MethodMSE        = "mse"
)

// Methods lists the calibrators, the default (auto) first.
var Methods = []string{MethodAuto, MethodEntropy, MethodMax, MethodPercentile, MethodMSE}

// Threshold returns the |x| clipping threshold the method chooses from a
// histogram; percentile is used by the percentile method only (in (0, 100]).
// Auto needs the graph (see chooseAuto): here it gives mse's threshold,
// auto's first candidate and its choice for the values it does not search.
func Threshold(h *Histogram, method string, percentile float64) (float32, error) {
	switch method {
	case MethodMax:
		return h.Amax, nil
	case MethodPercentile:
		if !(percentile > 0 && percentile <= 100) {
			return 0, fmt.Errorf("percentile %v: want a number in (0, 100]", percentile)
		}
		return PercentileThreshold(h, percentile), nil
	case MethodEntropy:
		return EntropyThreshold(h), nil
	case MethodMSE, MethodAuto:
		return MSEThreshold(h), nil
	}
	return 0, fmt.Errorf("unknown calibration method %q (want auto, max, percentile, entropy or mse)", method)
}

// used is the number of bins up to the last non-empty one.
func (h *Histogram) used() int {
	for j := len(h.Counts) - 1; j >= 0; j-- {
		if h.Counts[j] != 0 {
			return j + 1
		}
	}
	return 0
}

// PercentileThreshold is the upper edge of the bin where the cumulative
// count of |x| reaches pct percent of all elements (never above Amax).
func PercentileThreshold(h *Histogram, pct float64) float32 {
	if h.Range == 0 || pct >= 100 {
		return h.Amax
	}
	target := pct / 100 * float64(h.N)
	var cum uint64
	for j, c := range h.Counts {
		cum += c
		if float64(cum) >= target {
			return min(float32(float64(j+1)*h.BinWidth()), h.Amax)
		}
	}
	return h.Amax
}

// quantBins is the number of quantized levels on one side of zero that the
// entropy calibrator compares with: int8's 0..127 (TensorRT uses 128).
const quantBins = 128

// EntropyThreshold is TensorRT's entropy calibration (IInt8EntropyCalibrator2)
// as Szymon Migacz describes it in "8-bit Inference with TensorRT" (GTC
// 2017): for every candidate i from 128 to the last used bin, the reference
// distribution P is bins 0..i−1 with the counts beyond folded into bin i−1;
// Q is bins 0..i−1 (without the outliers) merged into 128 levels and
// expanded back over the non-empty bins of P; the candidate with the least
// KL divergence KL(P‖Q) wins, and the threshold is (m + 0.5) · bin width
// for the winning m, as on the slide (never above Amax). As in NVIDIA's
// pytorch-quantization, the bin of zeros first takes its neighbour's count:
// after a Relu it holds a large share of all values and would otherwise
// dominate the divergence (on mnist-8 that spike alone cost 13 points of
// top-1).
//
// Each divergence is computed in O(1) from prefix sums rather than the O(i)
// of the literal algorithm: within a level Q is constant, so Σ p·log q is a
// sum over levels, the first 127 of which depend only on the merge width
// i/128 (computed once per width); Σ p·log p comes from a prefix sum of
// c·log c. The result is the same (TestEntropyMatchesLiteral); a level whose
// Q is empty while P is not (outliers folded into an otherwise empty last
// bin) makes the divergence infinite, where the literal algorithm needs
// smoothing.
func EntropyThreshold(h *Histogram) float32 {
	div, first := entropyDivergences(h)
	if div == nil {
		return h.Amax
	}
	best := -1
	for k, d := range div {
		if !math.IsInf(d, 1) && (best < 0 || d < div[best]) {
			best = k
		}
	}
	if best < 0 {
		return h.Amax
	}
	m := first + best
	return min(float32((float64(m)+0.5)*h.BinWidth()), h.Amax)
}

// entropyDivergences returns KL(P‖Q) for candidates i = first, first+1, ...
// up to the last used bin, or nil when the data fits in 128 bins (no
// clipping can help then).
func entropyDivergences(h *Histogram) (div []float64, first int) {
	n := h.used()
	if n <= quantBins {
		return nil, 0
	}
	// The bin of zeros takes its neighbour's count, as NVIDIA's
	// pytorch-quantization does: after a Relu it can hold half of all
	// values, and left alone it dominates both distributions, so the
	// divergence no longer sees the tail clipping cuts.
	counts := append([]uint64(nil), h.Counts[:n]...)
	counts[0] = counts[1]
	cum := make([]float64, n+1)  // Σ counts of bins < j
	clog := make([]float64, n+1) // Σ c·log c of bins < j
	nz := make([]int, n+1)       // non-empty bins < j
	for j := range n {
		c := float64(counts[j])
		cum[j+1] = cum[j] + c
		clog[j+1] = clog[j] + xlogx(c)
		nz[j+1] = nz[j]
		if c > 0 {
			nz[j+1]++
		}
	}
	total := cum[n]
	// For a merge width m (i/128), levels 0..126 are the same bins for
	// every candidate with that width and hold no outliers: their share of
	// Σ p·log q is computed once per width.
	body := make([]float64, n/quantBins+1)
	done := make([]bool, len(body))
	levels := func(m int) float64 {
		if !done[m] {
			for l := range quantBins - 1 {
				s, e := l*m, (l+1)*m
				if q := cum[e] - cum[s]; q > 0 {
					body[m] += float64(q * fmath.Log(q/float64(nz[e]-nz[s])))
				}
			}
			done[m] = true
		}
		return body[m]
	}
	div = make([]float64, 0, n-quantBins+1)
	for i := quantBins; i <= n; i++ {
		kept := cum[i]
		outliers := total - kept
		last := float64(counts[i-1]) + outliers // P's bin i−1 with the outliers
		plogp := clog[i-1] + xlogx(last)
		m := i / quantBins
		// The last level, bins 127·m .. i−1, takes the outliers.
		s := (quantBins - 1) * m
		qsum := cum[i] - cum[s]
		pmass := qsum + outliers
		nonEmpty := nz[i] - nz[s]
		if counts[i-1] == 0 && outliers > 0 {
			nonEmpty++ // bin i−1 of P holds the outliers
		}
		var lastTerm float64
		if pmass > 0 {
			if qsum == 0 {
				div = append(div, math.Inf(1)) // P has mass where Q has none
				continue
			}
			lastTerm = pmass * fmath.Log(qsum/float64(nonEmpty))
		}
		// Σ p·log q, with q = (level sum / its non-empty bins) / kept and
		// Σ over levels of P's mass = total.
		cross := levels(m) + lastTerm - float64(total*fmath.Log(kept))
		div = append(div, (plogp-cross)/total-fmath.Log(total))
	}
	return div, quantBins
}

func xlogx(x float64) float64 {
	if x <= 0 {
		return 0
	}
	return x * fmath.Log(x)
}

// MSEThreshold is the threshold t (a bin edge, or Amax) that minimises the
// expected squared error of symmetric int8 quantization with scale t/127
// over the histogram: values beyond t cost their distance to t squared;
// values that round to zero (|x| < scale/2) cost |x|²; other values inside
// the range cost scale²/12, the mean square of a uniform rounding error; a
// bin's values are spread uniformly over the bin (so each cost gains
// width²/12). Exact zeros cost nothing. Prefix sums make each candidate O(1).
func MSEThreshold(h *Histogram) float32 {
	n := h.used()
	if n == 0 {
		return h.Amax
	}
	// BinWidth's division by a power of two compiles to a product, which
	// Go would fuse with the w+w it makes of 2·w below: rounded here.
	w := float64(h.BinWidth())
	cnt := make([]float64, n+1) // Σ counts of bins < j (exact zeros left out)
	m1 := make([]float64, n+1)  // Σ count·center
	m2 := make([]float64, n+1)  // Σ count·center²
	for j := range n {
		c := float64(h.Counts[j])
		if j == 0 {
			c -= float64(h.Zeros)
		}
		x := (float64(j) + 0.5) * w
		cnt[j+1], m1[j+1], m2[j+1] = cnt[j]+c, m1[j]+float64(c*x), m2[j]+float64(c*x*x)
	}
	binVar := w * w / 12
	cost := func(t float64) float64 {
		s := t / 127
		// Bins whose center is below s/2 round to zero, those whose center
		// is at or above t are clipped.
		k := min(max(int(math.Ceil(s/(2*w)-0.5)), 0), n)
		f := min(max(int(math.Ceil(t/w-0.5)), k), n)
		zero := m2[k] + float64(cnt[k]*binVar)
		round := (cnt[f] - cnt[k]) * s * s / 12
		nc := cnt[n] - cnt[f]
		clip := (m2[n] - m2[f]) - float64(2*t*(m1[n]-m1[f])) + float64(t*t*nc) + float64(nc*binVar)
		return zero + round + clip
	}
	best, bestCost := float64(h.Amax), cost(float64(h.Amax))
	for i := 1; i <= n; i++ {
		t := float64(float64(i) * w) // rounded before cost's 2·t = t+t
		if t >= float64(h.Amax) {
			break
		}
		if c := cost(t); c < bestCost {
			best, bestCost = t, c
		}
	}
	return float32(best)
}

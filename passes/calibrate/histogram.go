package calibrate

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Bins is the number of histogram bins. The histogram covers [0, R) of |x|
// where R is the smallest power of two above the largest |x| seen, so the
// data fills between Bins/2 and Bins of them: at least the 2048 bins over
// [0, amax] TensorRT's entropy calibrator uses.
const Bins = 4096

// Histogram collects, in memory that does not grow with the data, what the
// calibrators need about one value: its signed extremes, the largest |x|,
// and a histogram of |x|.
//
// It is filled in one pass. When a larger |x| arrives, the range R doubles
// (as often as needed) and pairs of bins merge. Because R is always a power
// of two and Bins too, x falls in bin ⌊|x|·Bins/R⌋ computed exactly in
// float32, and a bin of range 2R is exactly the union of two bins of range R:
// the final histogram is the one a single pass over all the data with the
// final R would give, whatever the batching and the order.
type Histogram struct {
	// Counts has Bins entries once anything non-zero was seen; bin j counts
	// the |x| in [j·R/Bins, (j+1)·R/Bins).
	Counts []uint64
	// Range is R: 0 while every value seen was zero.
	Range float32
	// N is the number of elements seen and Zeros how many of them were 0.
	N, Zeros uint64
	// Min, Max and Amax are the smallest and largest values and the largest
	// magnitude seen.
	Min, Max, Amax float32
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{Counts: make([]uint64, Bins), Min: float32(math.Inf(1)), Max: float32(math.Inf(-1))}
}

// BinWidth is R/Bins.
func (h *Histogram) BinWidth() float64 { return float64(h.Range) / Bins }

// rangeAbove returns the smallest power of two strictly greater than a > 0.
func rangeAbove(a float32) float32 {
	_, exp := math.Frexp(float64(a)) // a = frac·2^exp, frac in [0.5, 1)
	return float32(math.Ldexp(1, exp))
}

// parallelMin is the smallest slice worth splitting over goroutines.
const parallelMin = 1 << 16

// Add folds data into the histogram. A NaN or infinite element is an error
// (and the histogram is left unchanged): no range can be calibrated from it.
func (h *Histogram) Add(data []float32) error {
	if len(data) == 0 {
		return nil
	}
	lo, hi, amax, bad := extremes(data)
	if bad >= 0 {
		return fmt.Errorf("element %d is %v, want finite values", bad, data[bad])
	}
	h.Min, h.Max = min(h.Min, lo), max(h.Max, hi)
	h.N += uint64(len(data))
	if amax > 0 {
		h.grow(rangeAbove(amax))
		h.Amax = max(h.Amax, amax)
	}
	h.count(data)
	return nil
}

// grow widens the range to r (a power of two) if it is larger, merging
// bins by the power-of-two factor.
func (h *Histogram) grow(r float32) {
	if h.Range == 0 {
		h.Range = r
		return
	}
	if r <= h.Range {
		return
	}
	if float64(r)/float64(h.Range) >= Bins {
		// Everything seen so far falls in the new bin 0.
		var sum uint64
		for _, c := range h.Counts {
			sum += c
		}
		clear(h.Counts)
		h.Counts[0] = sum
	} else {
		f := int(r / h.Range)
		for j := range Bins / f {
			var sum uint64
			for _, c := range h.Counts[j*f : (j+1)*f] {
				sum += c
			}
			h.Counts[j] = sum
		}
		clear(h.Counts[Bins/f:])
	}
	h.Range = r
}

// count adds |x| of every element to its bin, the range already covering
// them; with the range still 0 every element is zero and lands in bin 0.
func (h *Histogram) count(data []float32) {
	if h.Range == 0 {
		h.Counts[0] += uint64(len(data))
		h.Zeros += uint64(len(data))
		return
	}
	// Bins/R is a power of two, so |x|·scale is exact and the bin index does
	// not depend on the order of operations.
	scale := float32(Bins) / h.Range
	workers := min(runtime.GOMAXPROCS(0), len(data)/parallelMin)
	if workers <= 1 {
		h.Zeros += countBins(data, h.Counts, scale)
		return
	}
	var wg sync.WaitGroup
	local := make([][]uint64, workers)
	zeros := make([]uint64, workers)
	chunk := (len(data) + workers - 1) / workers
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local[w] = make([]uint64, Bins)
			zeros[w] = countBins(data[w*chunk:min((w+1)*chunk, len(data))], local[w], scale)
		}()
	}
	wg.Wait()
	for w := range workers {
		for j, c := range local[w] {
			h.Counts[j] += c
		}
		h.Zeros += zeros[w]
	}
}

// countBins adds each |x| to bin ⌊|x|·scale⌋ and returns the number of zeros.
func countBins(part []float32, counts []uint64, scale float32) (zeros uint64) {
	for _, x := range part {
		a := math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) // |x|
		if a == 0 {
			zeros++
		}
		counts[int(a*scale)]++
	}
	return zeros
}

// extremes returns the minimum, maximum and largest magnitude of data, and
// the index of a NaN or infinite element (-1 if none).
func extremes(data []float32) (lo, hi, amax float32, bad int) {
	workers := min(runtime.GOMAXPROCS(0), len(data)/parallelMin)
	if workers <= 1 {
		lo, hi, bad = scanPart(data, 0)
	} else {
		var wg sync.WaitGroup
		los, his, bads := make([]float32, workers), make([]float32, workers), make([]int, workers)
		chunk := (len(data) + workers - 1) / workers
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				end := min((w+1)*chunk, len(data))
				los[w], his[w], bads[w] = scanPart(data[w*chunk:end], w*chunk)
			}()
		}
		wg.Wait()
		lo, hi, bad = los[0], his[0], -1
		for w := range workers {
			lo, hi = min(lo, los[w]), max(hi, his[w])
			if bad < 0 && bads[w] >= 0 {
				bad = bads[w]
			}
		}
	}
	return lo, hi, max(-lo, hi), bad
}

// scanPart is extremes over part, whose first element is data[off].
func scanPart(part []float32, off int) (lo, hi float32, bad int) {
	lo, hi, bad = part[0], part[0], -1
	nan := false
	for _, x := range part {
		if x < lo {
			lo = x
		}
		if x > hi {
			hi = x
		}
		if x != x {
			nan = true
		}
	}
	// An infinity ends up as lo or hi; a NaN never does (it compares
	// false), hence the flag. Find the first culprit only when needed.
	if nan || math.IsInf(float64(lo), 0) || math.IsInf(float64(hi), 0) {
		for i, x := range part {
			if x != x || math.IsInf(float64(x), 0) {
				return lo, hi, off + i
			}
		}
	}
	return lo, hi, bad
}

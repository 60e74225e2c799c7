package calibrate

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// growingData has magnitudes that grow over the stream (so the range
// doubles many times), exact zeros, negatives and tiny values.
func growingData(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]float32, n)
	for i := range out {
		switch {
		case i%7 == 0:
			out[i] = 0
		case i%11 == 0:
			out[i] = float32(r.Float64() * 1e-6)
		default:
			scale := math.Pow(2, float64(i)*20/float64(n)-5) // 2^-5 .. 2^15
			out[i] = float32(r.NormFloat64() * scale)
		}
	}
	return out
}

// directHistogram bins all the data at once at the final range, in float64
// arithmetic: the two-pass computation the streaming one must equal.
func directHistogram(data []float32) (counts []uint64, r float64, zeros uint64) {
	amax := 0.0
	for _, x := range data {
		amax = math.Max(amax, math.Abs(float64(x)))
	}
	counts = make([]uint64, Bins)
	r = 0
	if amax > 0 {
		r = 1
		for r <= amax {
			r *= 2
		}
		for r/2 > amax {
			r /= 2
		}
	}
	for _, x := range data {
		a := math.Abs(float64(x))
		if a == 0 {
			zeros++
		}
		j := 0
		if r > 0 {
			j = int(math.Floor(a / r * Bins))
		}
		counts[j]++
	}
	return counts, r, zeros
}

func TestStreamingEqualsBatch(t *testing.T) {
	data := growingData(300_000, 1)
	want, wantR, wantZeros := directHistogram(data)
	check := func(name string, h *Histogram) {
		t.Helper()
		if float64(h.Range) != wantR || h.Zeros != wantZeros || h.N != uint64(len(data)) {
			t.Fatalf("%s: range %v zeros %d n %d, want %v %d %d", name, h.Range, h.Zeros, h.N, wantR, wantZeros, len(data))
		}
		for j := range want {
			if h.Counts[j] != want[j] {
				t.Fatalf("%s: bin %d = %d, want %d", name, j, h.Counts[j], want[j])
			}
		}
	}
	// One call (large enough to be split over goroutines), chunks of
	// several sizes, and the chunks in reverse order (the largest values
	// first, so no growth at all).
	one := NewHistogram()
	if err := one.Add(data); err != nil {
		t.Fatal(err)
	}
	check("one batch", one)
	for _, size := range []int{1, 97, 4096, 100_000} {
		h := NewHistogram()
		for lo := 0; lo < len(data); lo += size {
			h.Add(data[lo:min(lo+size, len(data))])
		}
		check("chunks", h)
		rev := NewHistogram()
		for hi := len(data); hi > 0; hi -= size {
			rev.Add(data[max(hi-size, 0):hi])
		}
		check("reversed chunks", rev)
		if rev.Min != one.Min || rev.Max != one.Max || rev.Amax != one.Amax {
			t.Errorf("extremes differ: %v %v %v vs %v %v %v", rev.Min, rev.Max, rev.Amax, one.Min, one.Max, one.Amax)
		}
	}
}

func TestHistogramZerosThenGrowth(t *testing.T) {
	h := NewHistogram()
	h.Add([]float32{0, 0, 0})
	if h.Range != 0 || h.Zeros != 3 || h.Counts[0] != 3 || h.Amax != 0 {
		t.Fatalf("all zeros: range %v zeros %d bin0 %d amax %v", h.Range, h.Zeros, h.Counts[0], h.Amax)
	}
	// 0.75 → range 1; 1e30 → a growth by far more than Bins: all earlier
	// counts end in bin 0.
	h.Add([]float32{0.75, -0.25})
	if h.Range != 1 || h.Counts[3*Bins/4] != 1 || h.Counts[Bins/4] != 1 {
		t.Fatalf("range %v, bins %d %d", h.Range, h.Counts[3*Bins/4], h.Counts[Bins/4])
	}
	h.Add([]float32{1e30})
	if h.Counts[0] != 5 || h.Range <= 1e30 || h.N != 6 || h.Min != -0.25 || h.Max != 1e30 {
		t.Fatalf("after 1e30: bin0 %d range %v n %d min %v max %v", h.Counts[0], h.Range, h.N, h.Min, h.Max)
	}
	// A value that is exactly a power of two lands in the upper half of a
	// range twice as large, never past the last bin.
	p := NewHistogram()
	p.Add([]float32{4})
	if p.Range != 8 || p.Counts[Bins/2] != 1 {
		t.Errorf("4: range %v, bin %d count %d", p.Range, Bins/2, p.Counts[Bins/2])
	}
}

func TestHistogramRejectsNaNAndInf(t *testing.T) {
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		h := NewHistogram()
		h.Add([]float32{1, 2})
		data := make([]float32, 200_000) // large: the parallel scan
		data[123_456] = bad
		err := h.Add(data)
		if err == nil || !strings.Contains(err.Error(), "element 123456") {
			t.Errorf("%v: got %v, want an error naming element 123456", bad, err)
		}
		if h.N != 2 || h.Range != 4 {
			t.Errorf("%v: the failed Add changed the histogram: n %d range %v", bad, h.N, h.Range)
		}
	}
}

// TestBoundedMemory: the histogram's size does not depend on the data, and
// adding to it allocates nothing (small slices) or only per-call scratch
// (large ones), never in proportion to what was seen.
func TestBoundedMemory(t *testing.T) {
	h := NewHistogram()
	small := growingData(1000, 2)
	for range 2000 {
		h.Add(small)
	}
	if len(h.Counts) != Bins || h.N != 2_000_000 {
		t.Fatalf("counts %d, n %d", len(h.Counts), h.N)
	}
	if a := testing.AllocsPerRun(100, func() { h.Add(small) }); a != 0 {
		t.Errorf("Add of 1000 values allocates %v times, want 0", a)
	}
	big := growingData(1<<18, 3)
	a1 := testing.AllocsPerRun(5, func() { h.Add(big) })
	for range 20 {
		h.Add(big)
	}
	if a2 := testing.AllocsPerRun(5, func() { h.Add(big) }); a2 > a1 {
		t.Errorf("allocations per Add grew from %v to %v", a1, a2)
	}
}

package calibrate

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// fakeQuantizeInto inlines ref.QuantizeValue: it must give the same bits
// for every input, ties, saturation, signed zeros and tiny values included.
func TestFakeQuantizeInto(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 11))
	// amax 127 and 254: scales 1 and 2, where the half-multiples are
	// exact ties of x/s.
	for _, amax := range []float32{127, 254, 1, 0.0371, 5.246807, 177.44882, 1e-30, 3e30} {
		s := ScaleFor(amax)
		var src []float32
		for k := -140; k <= 140; k++ {
			// Exact multiples and half-multiples of the scale: the ties.
			src = append(src, float32(k)*s, (float32(k)+0.5)*s, math.Nextafter32((float32(k)+0.5)*s, 0))
		}
		for range 4000 {
			src = append(src, float32(r.NormFloat64()*float64(amax)), float32(r.NormFloat64()*float64(amax)*1e-3))
		}
		src = append(src, 0, float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32,
			math.MaxFloat32, -math.MaxFloat32, 2*amax, -2*amax)
		got := make([]float32, len(src))
		fakeQuantizeInto(got, src, amax)
		for i, x := range src {
			want := float32(ref.QuantizeValue(x, s, 0, ir.Int8)) * s
			if math.Float32bits(got[i]) != math.Float32bits(want) {
				t.Fatalf("amax %g: x = %g (%#x) gave %g (%#x), ref.QuantizeValue %g (%#x)", amax, x, math.Float32bits(x),
					got[i], math.Float32bits(got[i]), want, math.Float32bits(want))
			}
		}
	}
}

// collect runs two batches at once and measureLayers reruns each layer's
// candidates on every core: the histograms, the chosen ranges and every
// measured error must be the same bits on one core as on several.
func TestAutoIndependentOfCores(t *testing.T) {
	g, spec := mnistBurn(t, "train", 48)
	calibrate := func(procs int) *Result {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		res, err := Calibrate(g, Config{Data: spec, Method: MethodAuto, InputMethod: MethodMax, AutoSamples: 12, Percentile: 99.99})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	one, four := calibrate(1), calibrate(4)
	searched := 0
	for name, a := range one.Ranges {
		b := four.Ranges[name]
		if a.Amax != b.Amax || a.Method != b.Method || math.Float64bits(a.Error) != math.Float64bits(b.Error) {
			t.Errorf("%s: one core %s, four %s", name, a.Describe(), b.Describe())
		}
		for m, e := range a.Errors {
			if math.Float64bits(e) != math.Float64bits(b.Errors[m]) {
				t.Errorf("%s: %s error %v on one core, %v on four", name, m, e, b.Errors[m])
			}
		}
		if a.Searched {
			searched++
		}
		ha, hb := one.Histograms[name], four.Histograms[name]
		if ha.N != hb.N || ha.Zeros != hb.Zeros || ha.Range != hb.Range || ha.Min != hb.Min || ha.Max != hb.Max || !slices.Equal(ha.Counts, hb.Counts) {
			t.Errorf("%s: histogram differs on one core (n %d, range %g) and four (n %d, range %g)", name, ha.N, ha.Range, hb.N, hb.Range)
		}
	}
	if searched == 0 {
		t.Fatal("no value was searched: the test measures nothing")
	}
}

// BenchmarkFakeQuantizeInto: auto's per-element cost, on a ResNet stage's
// activation (56×56×256 floats, half of them Relu's zeros).
func BenchmarkFakeQuantizeInto(b *testing.B) {
	src := make([]float32, 56*56*256)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range src {
		src[i] = max(float32(r.NormFloat64()), 0)
	}
	dst := make([]float32, len(src))
	b.SetBytes(int64(4 * len(src)))
	for b.Loop() {
		fakeQuantizeInto(dst, src, 3.1)
	}
}

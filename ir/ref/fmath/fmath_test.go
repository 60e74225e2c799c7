package fmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

// ulps is how many doubles lie between got and want (0 when equal, both
// NaN, or equal infinities).
func ulps(got, want float64) float64 {
	if got == want || (got != got && want != want) {
		return 0
	}
	if math.IsInf(got, 0) || math.IsInf(want, 0) || got != got || want != want {
		return math.Inf(1)
	}
	return math.Abs(got-want) / ulpOf(want)
}

func ulpOf(v float64) float64 {
	v = math.Abs(v)
	if v < 0x1p-1022 {
		return 0x1p-1074
	}
	return math.Nextafter(v, math.Inf(1)) - v
}

// TestAgainstMath checks each function against Go's math package (a
// different implementation, accurate to about an ulp) on random inputs
// over the ranges the ops see, and on edge values: within maxULP doubles
// (or an absolute error, for Erf, whose series cancels near 2.5), and the
// float32 roundings equal but in rare near-ties.
func TestAgainstMath(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	edges := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, -0.5, 1e-300, -1e-300, 5e-324, 1e-30, 1e30, -1e30,
		700, 709.7, 709.8, 710, -708, -720, -745, -745.2, -746, 22, -22, 23, 2.5, -2.5, 0.75, 1.5, 6, -6,
		math.MaxFloat64, -math.MaxFloat64, math.Inf(1), math.Inf(-1), math.NaN(), math.Sqrt2, math.Sqrt2 / 2}
	sample := func(scale float64) []float64 {
		v := append([]float64(nil), edges...)
		for range 200000 {
			v = append(v, (r.Float64()*2-1)*scale, float64(float32(r.NormFloat64()*scale/4)))
		}
		return v
	}
	cases := []struct {
		name   string
		f, ref func(float64) float64
		scale  float64
		maxULP float64
		abs    float64 // an absolute error also accepted
	}{
		{"Exp", Exp, mathExp, 750, 3, 0},
		{"Log", Log, mathLog, 1e6, 2, 0},
		{"Log small", Log, mathLog, 1e-3, 2, 0},
		{"Log1p", Log1p, math.Log1p, 1, 3, 0},
		{"Expm1", Expm1, math.Expm1, 40, 4, 0},
		{"Expm1 small", Expm1, math.Expm1, 1e-5, 4, 0},
		{"Tanh", Tanh, math.Tanh, 30, 6, 0},
		{"Tanh small", Tanh, math.Tanh, 1e-3, 4, 0},
		{"Sigmoid", Sigmoid, func(x float64) float64 {
			if x >= 0 {
				return 1 / (1 + math.Exp(-x))
			}
			return math.Exp(x) / (1 + math.Exp(x))
		}, 800, 4, 0},
		{"Erf", Erf, math.Erf, 8, 4, 5e-15},
		{"Erf small", Erf, math.Erf, 1e-3, 4, 0},
		{"Gelu", Gelu, func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }, 12, 8, 2e-14},
		{"Softplus", Softplus, func(x float64) float64 { return max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }, 100, 6, 0},
	}
	for _, c := range cases {
		worst, worstX, f32diff := 0.0, 0.0, 0
		xs := sample(c.scale)
		for _, x := range xs {
			got, want := c.f(x), c.ref(x)
			u := ulps(got, want)
			if u > c.maxULP && !(c.abs > 0 && math.Abs(got-want) <= c.abs) {
				t.Errorf("%s(%v) = %v, want %v (%.3g ulp)", c.name, x, got, want, u)
				continue
			}
			if u > worst && !math.IsInf(u, 0) {
				worst, worstX = u, x
			}
			if math.Float32bits(float32(got)) != math.Float32bits(float32(want)) && got == got {
				f32diff++
			}
		}
		if f32diff > len(xs)/10000 {
			t.Errorf("%s: %d of %d float32 roundings differ from math's", c.name, f32diff, len(xs))
		}
		t.Logf("%s: worst %.2f ulp at %v; %d of %d float32 roundings differ", c.name, worst, worstX, f32diff, len(xs))
	}
}

// mathLog is math.Log with subnormal inputs scaled to normal first: Go's
// amd64 assembly Log returns about -709.09 for every subnormal (-744.44 is
// right for 5e-324), one of the machine dependences package fmath removes.
func mathLog(x float64) float64 {
	if x > 0 && x < 0x1p-1022 {
		return math.Log(x*0x1p54) - 54*math.Ln2
	}
	return math.Log(x)
}

// mathExp is math.Exp, with x above 700 as e^(x−10)·e^10: Go's amd64
// assembly Exp returns +Inf from about 709.5 on, where e^x is still finite
// up to 709.78.
func mathExp(x float64) float64 {
	if x > 700 {
		return math.Exp(x-10) * math.Exp(10)
	}
	return math.Exp(x)
}

// TestExpCoeffs checks the constant coefficients against 1/n! divided at
// run time (both correctly rounded, so equal).
func TestExpCoeffs(t *testing.T) {
	f := 1.0
	for n, c := range ExpCoeffs {
		if n > 0 {
			f *= float64(n)
		}
		if c != 1/f {
			t.Errorf("ExpCoeffs[%d] = %v, want 1/%v", n, c, f)
		}
	}
}

// TestEstrinUnrolled checks that Exp's and Log's unrolled polynomials are
// Estrin's scheme and Horner's rule over their coefficient tables, the
// orders the GPU's kernels follow.
func TestEstrinUnrolled(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 100000 {
		x := (r.Float64()*2 - 1) * 0.35
		if got, want := expPoly(x), Estrin(ExpCoeffs, x); got != want {
			t.Fatalf("expPoly(%v) = %v, Estrin %v", x, got, want)
		}
		z := r.Float64() * 0.03
		if got, want := logPoly(z), Horner(LogCoeffs, z); got != want {
			t.Fatalf("logPoly(%v) = %v, Estrin %v", z, got, want)
		}
	}
}

// TestSpecialValues pins what the ops define at their edges.
func TestSpecialValues(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"Exp(-inf)", Exp(-inf), 0}, {"Exp(inf)", Exp(inf), inf}, {"Exp(0)", Exp(0), 1}, {"Exp(709.7)", Exp(709.7), 1.6549840276802644e+308},
		{"Log(0)", Log(0), -inf}, {"Log(inf)", Log(inf), inf}, {"Log(1)", Log(1), 0}, {"Log(-1)", Log(-1), nan}, {"Log(5e-324)", Log(5e-324), -744.4400719213812},
		{"Tanh(inf)", Tanh(inf), 1}, {"Tanh(-inf)", Tanh(-inf), -1}, {"Tanh(-0)", Tanh(math.Copysign(0, -1)), math.Copysign(0, -1)},
		{"Erf(inf)", Erf(inf), 1}, {"Erf(-inf)", Erf(-inf), -1}, {"Erf(nan)", Erf(nan), nan},
		{"Sigmoid(-inf)", Sigmoid(-inf), 0}, {"Sigmoid(inf)", Sigmoid(inf), 1},
		{"Expm1(-inf)", Expm1(-inf), -1}, {"Log1p(-1)", Log1p(-1), -inf}, {"Softplus(-inf)", Softplus(-inf), 0},
	} {
		if math.Float64bits(c.got) != math.Float64bits(c.want) && !(c.got != c.got && c.want != c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

var sink float64

func benchmark(b *testing.B, f func(float64) float64, scale float64) {
	xs := make([]float64, 4096)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range xs {
		xs[i] = r.NormFloat64() * scale
	}
	b.ResetTimer()
	s := 0.0
	for i := 0; i < b.N; i++ {
		s += f(xs[i%len(xs)])
	}
	sink = s
}

func BenchmarkExp(b *testing.B)      { benchmark(b, Exp, 5) }
func BenchmarkMathExp(b *testing.B)  { benchmark(b, math.Exp, 5) }
func BenchmarkErf(b *testing.B)      { benchmark(b, Erf, 1) }
func BenchmarkMathErf(b *testing.B)  { benchmark(b, math.Erf, 1) }
func BenchmarkTanh(b *testing.B)     { benchmark(b, Tanh, 2) }
func BenchmarkMathTanh(b *testing.B) { benchmark(b, math.Tanh, 2) }
func BenchmarkLog(b *testing.B)      { benchmark(b, func(x float64) float64 { return Log(math.Abs(x)) }, 5) }
func BenchmarkMathLog(b *testing.B) {
	benchmark(b, func(x float64) float64 { return math.Log(math.Abs(x)) }, 5)
}

// TestErfcFraction checks the forward-built continued fraction over the
// range Erf uses it on: A and B stay far inside the double's range (the
// bound ErfcFraction's doc states), and e^(−a²)/√π · B/A is erfc within
// 1e-13 relative, which keeps erf = 1 − erfc within a fraction of its
// last place.
func TestErfcFraction(t *testing.T) {
	worst, worstA, maxNum := 0.0, 0.0, 0.0
	for i := range 100000 {
		a := 2.5 + float64(i)*(ErfOne-2.5)/100000
		num, den := ErfcFraction(a)
		if !(num > 0 && den > 0 && num < 1e40 && den < 1e40) {
			t.Fatalf("ErfcFraction(%v) = %v, %v: outside (0, 1e40)", a, num, den)
		}
		maxNum = max(maxNum, num)
		erfc := Exp(-a*a) * InvSqrtPi * den / num
		if rel := math.Abs(erfc-math.Erfc(a)) / math.Erfc(a); rel > worst {
			worst, worstA = rel, a
		}
	}
	if worst > 1e-13 {
		t.Errorf("erfc from the continued fraction: relative error %.3g at %v", worst, worstA)
	}
	t.Logf("erfc's worst relative error %.3g at %v; largest numerator %.3g", worst, worstA, maxNum)
}

// benchmarkRange times f on values uniform in ±[lo, hi).
func benchmarkRange(b *testing.B, f func(float64) float64, lo, hi float64) {
	xs := make([]float64, 4096)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range xs {
		xs[i] = lo + r.Float64()*(hi-lo)
		if i%2 == 1 {
			xs[i] = -xs[i]
		}
	}
	b.ResetTimer()
	s := 0.0
	for i := 0; i < b.N; i++ {
		s += f(xs[i%len(xs)])
	}
	sink = s
}

func BenchmarkErfTail(b *testing.B)     { benchmarkRange(b, Erf, 2.5, 6) }
func BenchmarkMathErfTail(b *testing.B) { benchmarkRange(b, math.Erf, 2.5, 6) }
func BenchmarkGelu(b *testing.B)        { benchmark(b, Gelu, 2) }

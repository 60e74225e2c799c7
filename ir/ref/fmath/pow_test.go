package fmath

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

const refPrec = 192

// bigLn2 is ln 2 to refPrec bits.
var bigLn2 = func() *big.Float {
	v, _, err := big.ParseFloat("0.693147180559945309417232121458176568075500134360255254120680009493393621969694715605863326996418687542", 10, refPrec, big.ToNearestEven)
	if err != nil {
		panic(err)
	}
	return v
}()

// refPow is x**y for finite x > 0 and finite y to about 180 bits (atanh
// series for log, Taylor series after reduction by ln 2 for exp), an
// independent reference for Pow's general cases. ok is false where the
// result is outside [2^-1000, 2^1000].
func refPow(x, y float64) (v *big.Float, ok bool) {
	nf := func() *big.Float { return new(big.Float).SetPrec(refPrec) }
	m := nf().SetFloat64(x)
	e := m.MantExp(m) // m in [0.5, 1)
	// log m = 2·atanh(s), s = (m−1)/(m+1)
	s := nf().Quo(nf().Sub(m, big.NewFloat(1)), nf().Add(m, big.NewFloat(1)))
	s2 := nf().Mul(s, s)
	term, sum := nf().Set(s), nf()
	for n := int64(1); n < 400; n += 2 {
		sum.Add(sum, nf().Quo(term, nf().SetInt64(n)))
		term.Mul(term, s2)
		if term.Sign() == 0 || term.MantExp(nil) < -refPrec-10 {
			break
		}
	}
	lg := nf().Add(nf().Mul(sum, big.NewFloat(2)), nf().Mul(nf().SetInt64(int64(e)), bigLn2))
	t := nf().Mul(lg, nf().SetFloat64(y))
	tf, _ := t.Float64()
	if math.Abs(tf) > 690 {
		return nil, false
	}
	k := math.Round(tf / math.Ln2)
	r := nf().Sub(t, nf().Mul(nf().SetFloat64(k), bigLn2))
	term, sum = nf().SetInt64(1), nf().SetInt64(1)
	for n := int64(1); n < 200; n++ {
		term.Quo(nf().Mul(term, r), nf().SetInt64(n))
		sum.Add(sum, term)
		if term.Sign() == 0 || term.MantExp(nil) < -refPrec-10 {
			break
		}
	}
	return sum.SetMantExp(sum, int(k)), true
}

// relErr is |got − want|/want.
func relErr(got float64, want *big.Float) float64 {
	d := new(big.Float).SetPrec(refPrec).Sub(new(big.Float).SetPrec(refPrec).SetFloat64(got), want)
	q, _ := d.Quo(d, want).Float64()
	return math.Abs(q)
}

// f32TieDistance is how far (relative) want lies from the nearest
// midpoint between two float32s.
func f32TieDistance(want *big.Float) float64 {
	f, _ := want.Float32()
	d := math.Inf(1)
	for _, g := range []float32{math.Nextafter32(f, 0), math.Nextafter32(f, float32(math.Inf(1)))} {
		mid := new(big.Float).SetPrec(refPrec).SetFloat64((float64(f) + float64(g)) / 2) // exact
		q := new(big.Float).SetPrec(refPrec).Sub(want, mid)
		v, _ := q.Quo(q, want).Float64()
		d = min(d, math.Abs(v))
	}
	return d
}

// logUniform is about log-uniform over [2^lo, 2^hi): a random mantissa in
// [1, 2) times a random power of two, built from the generator's bits
// alone (math.Exp2 and rand's NormFloat64 are not the same on every host,
// and TestPowHash needs the same operands everywhere).
func logUniform(r *rand.Rand, lo, hi int) float64 {
	return float64((1 + r.Float64()) * Pow2(int32(lo+r.IntN(hi-lo))))
}

// powSample draws float32 operands the way models give them: bases
// log-uniform over [2^-30, 2^30], negative ones with integer exponents,
// and exponents uniform in ±8, small integers, or large (±2^12) floats.
func powSample(r *rand.Rand) (x, y float32) {
	x = float32(logUniform(r, -30, 30))
	switch r.IntN(4) {
	case 0:
		y = float32(r.Float64()*16 - 8)
	case 1:
		y = float32(r.IntN(41) - 20)
		if r.IntN(2) == 0 {
			x = -x
		}
	case 2:
		y = float32((r.Float64()*2 - 1) * 4096)
		x = float32(1 + (r.Float64()*2-1)*0.035)
	default:
		y = float32(r.Float64()*4 - 2)
		x = float32(r.Float64() * 4)
	}
	return x, y
}

// TestPowSpecialCases checks Pow bit for bit against math.Pow on a grid of
// edge operands wherever math.Pow's value is fixed by its documented
// special cases or by Sqrt (y = ±0.5), and within 2^-49 relative of the
// reference elsewhere (math.Pow is not: its repeated squaring errs by
// 1e-14 at 1.001**1023, and amd64's Log is wrong for subnormals).
func TestPowSpecialCases(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	vals := []float64{0, math.Copysign(0, -1), 1, -1, 2, -2, 3, -3, 0.5, -0.5, 1.5, -1.5, 0.25, 7, -7, 8, -8,
		1e-300, 5e-324, -5e-324, 1e300, -1e300, math.MaxFloat64, inf, -inf, nan, 1 << 53, -(1 << 53), 1<<53 + 2,
		1 << 63, -(1 << 63), 1 << 64, 1 << 31, 1<<31 + 1, -(1<<31 + 1), 1e10, 0.999, 1.001, -0.999, 1 - 0x1p-53,
		1 + 0x1p-52, 1023, 1075, -1075, 0.1, -0.1, 2.5, -2.5, 1 / 3.0}
	fixed := func(x, y, want float64) bool {
		return y == 0 || x == 1 || y == 1 || x != x || y != y || x == 0 || math.IsInf(x, 0) || math.IsInf(y, 0) ||
			math.Abs(y) == 0.5 || want == 0 || math.IsInf(want, 0) || want != want
	}
	n := 0
	for _, x := range vals {
		for _, y := range vals {
			got, want := Pow(x, y), math.Pow(x, y)
			if fixed(x, y, want) {
				n++
				if math.Float64bits(got) != math.Float64bits(want) && !(got != got && want != want) {
					t.Errorf("Pow(%v, %v) = %v, math.Pow %v", x, y, got, want)
				}
			} else if ref, ok := refPow(math.Abs(x), y); ok && relErr(math.Abs(got), ref) > 0x1p-49 {
				t.Errorf("Pow(%v, %v) = %v, want %v", x, y, got, ref)
			}
		}
	}
	for _, c := range []struct{ x, y, want float64 }{
		{-8, 1.0 / 3, nan}, {-2, 3, -8}, {-2, 2, 4}, {-2, -1, -0.5}, {math.Copysign(0, -1), -3, -inf},
		{math.Copysign(0, -1), 3, math.Copysign(0, -1)}, {-inf, 3, -inf}, {-inf, -3, math.Copysign(0, -1)},
		{-1, inf, 1}, {0.5, inf, 0}, {0.5, -inf, inf}, {2, 1 << 63, inf}, {-0.5, 1 << 63, 0},
		{3, 33, 5559060566555523}, {10, 22, 1e22}, {10, -5, 1e-5}, {2, -1074, 5e-324}, {2, 1024, inf}, {-1, 1 << 53, 1},
	} {
		if got := Pow(c.x, c.y); math.Float64bits(got) != math.Float64bits(c.want) && !(got != got && c.want != c.want) {
			t.Errorf("Pow(%v, %v) = %v, want %v", c.x, c.y, got, c.want)
		}
	}
	t.Logf("%d grid pairs bit for bit", n)
}

// TestPowAccuracy measures Pow against a 192-bit reference on float32
// operands and on double operands with integer and fractional exponents:
// within 2^-49 relative (the correctly rounded double, a half unit plus
// 2^-70, on the repeated-squaring path), and the
// float32 rounding correct but where the value lies within 2^-45 of a
// float32 midpoint.
func TestPowAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	worst := map[bool]float64{}
	f32wrong := 0
	n := 100000
	if testing.Short() {
		n = 10000
	}
	for i := range n {
		var x, y float64
		if i%2 == 0 {
			xf, yf := powSample(r)
			x, y = float64(xf), float64(yf)
		} else {
			x = math.Exp2(r.Float64()*40 - 20)
			if i%4 == 1 {
				y = float64(r.IntN(200) - 100)
				x = 1 + (r.Float64()-0.5)*0.5
			} else {
				y = r.NormFloat64() * 20
			}
		}
		want, ok := refPow(math.Abs(x), y)
		if !ok {
			continue
		}
		got := Pow(x, y)
		if x < 0 && isOddInt(y) {
			got = -got
		}
		intPath := math.Trunc(y) == y && math.Abs(y) <= PowIntMax
		e := relErr(got, want)
		worst[intPath] = max(worst[intPath], e)
		bound := 0x1p-49
		if intPath {
			bound = 0x1p-53 + 0x1p-70
		}
		if e > bound {
			t.Errorf("Pow(%v, %v) = %v: relative error %.3g (bound %.3g)", x, y, got, e, bound)
		}
		if w32, _ := want.Float32(); math.Float32bits(float32(got)) != math.Float32bits(w32) {
			f32wrong++
			if d := f32TieDistance(want); d > 0x1p-45 {
				t.Errorf("Pow(%v, %v) = %v: float32 %v, correctly rounded %v (%.3g from a midpoint)", x, y, got, float32(got), w32, d)
			}
		}
	}
	t.Logf("%d samples: worst relative error %.3g (exp/log), %.3g (repeated squaring); %d float32 roundings not the correct one",
		n, worst[false], worst[true], f32wrong)
}

// TestPowAgainstMathPow counts, over 2M float32 operand pairs, where
// Pow's float32 rounding differs from math.Pow's, and checks with the
// reference that Pow's is then the correctly rounded one (or a near-tie).
func TestPowAgainstMathPow(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	n := 2000000
	if testing.Short() {
		n = 200000
	}
	diff, mathRight, diff64 := 0, 0, 0
	for range n {
		xf, yf := powSample(r)
		x, y := float64(xf), float64(yf)
		g64, w64 := Pow(x, y), math.Pow(x, y)
		if math.Float64bits(g64) != math.Float64bits(w64) && g64 == g64 {
			diff64++
		}
		got, want := float32(g64), float32(w64)
		if math.Float32bits(got) == math.Float32bits(want) || (got != got && want != want) {
			continue
		}
		diff++
		ref, ok := refPow(math.Abs(x), y)
		if !ok {
			t.Errorf("Pow(%v, %v): float32 %v, math.Pow's %v", x, y, got, want)
			continue
		}
		w32, _ := ref.Float32()
		if math.Signbit(float64(got)) {
			w32 = -w32
		}
		if got != w32 {
			if d := f32TieDistance(ref); d > 0x1p-45 {
				t.Errorf("Pow(%v, %v): float32 %v, correctly rounded %v, math.Pow's %v", x, y, got, w32, want)
			}
		}
		if want == w32 {
			mathRight++
		}
	}
	t.Logf("%d samples: %d float32 roundings differ from math.Pow's (math.Pow's the correct one in %d); %d doubles differ",
		n, diff, mathRight, diff64)
}

// powHashWant is TestPowHash's hash, recorded on amd64 (and checked equal
// on arm64 under qemu-aarch64).
const powHashWant = 0x79f5cdcf9371c583

// TestPowHash hashes Pow's bits over 1M operand pairs (float32 ones as the
// reference executor's Pow sees them, and doubles with integer and
// fractional exponents) against a hash recorded on amd64: a build for
// another host must reproduce every bit.
func TestPowHash(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	h := fnv.New64a()
	var buf [8]byte
	for i := range 1000000 {
		var x, y float64
		switch i % 4 {
		case 0, 1:
			xf, yf := powSample(r)
			x, y = float64(xf), float64(yf)
		case 2:
			x, y = logUniform(r, -40, 40), (r.Float64()*2-1)*60
		default:
			x, y = -logUniform(r, -10, 10), float64(r.IntN(400)-200)
		}
		binary.LittleEndian.PutUint64(buf[:], math.Float64bits(Pow(x, y)))
		h.Write(buf[:])
	}
	if got := h.Sum64(); got != powHashWant {
		t.Errorf("hash of 1M Pow results %#x, want %#x (recorded on amd64)", got, uint64(powHashWant))
	}
}

// benchmarkPow times f on TestPowHash's kind of float32 operands.
func benchmarkPow(b *testing.B, f func(x, y float64) float64) {
	r := rand.New(rand.NewPCG(3, 4))
	xs, ys := make([]float64, 4096), make([]float64, 4096)
	for i := range xs {
		x, y := powSample(r)
		xs[i], ys[i] = float64(x), float64(y)
	}
	b.ResetTimer()
	s := 0.0
	for i := 0; i < b.N; i++ {
		s += f(xs[i%len(xs)], ys[i%len(ys)])
	}
	sink = s
}

func BenchmarkPow(b *testing.B)     { benchmarkPow(b, Pow) }
func BenchmarkMathPow(b *testing.B) { benchmarkPow(b, math.Pow) }

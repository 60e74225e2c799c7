// Package fmath holds the transcendental functions of the reference
// executor (ir/ref): Exp, Log, Log1p, Expm1, Pow, Tanh, Sigmoid, Erf and
// the activations built on them.
//
// They exist so that the reference's results are a function of the
// arithmetic written here and nothing else. Go's math.Exp and math.Log are
// assembly on amd64 and pure Go elsewhere (math.Pow is built on them), and
// the compiler may fuse a product and a sum into one multiply-add on some
// CPUs (arm64, ppc64, s390x) but not on others; either would make the reference's bits depend
// on the machine it runs on. Here every function is a fixed sequence of
// IEEE-754 double operations, each rounded to nearest even: +, −, ×, ÷,
// math.Sqrt, math.FMA where a fused multiply-add is meant (and only there:
// every other product is rounded on its own, by an explicit float64()
// conversion where the compiler could otherwise fuse it), exact
// power-of-two scalings built from bits, and comparisons. The GPU's f64
// add.rn, mul.rn, fma.rn, div.rn and sqrt.rn are the same IEEE operations,
// so a kernel that performs the same sequence (backend/ampere/kernels does,
// instruction for instruction) reproduces these results bit for bit.
//
// The algorithms are the textbook ones, with constants computed here (the
// polynomial coefficients are Taylor coefficients, not fitted):
//
//   - Exp: x = k·ln2 + r with k = round(x·log2 e), r by two fused steps
//     with ln 2 split in a head (low 32 bits zero) and a tail, exp(r) by the
//     degree-13 Taylor polynomial (|r| ≤ 0.35: truncation below 5e-18) in
//     Estrin's scheme (Estrin: a dependency chain of 4 fused steps, not
//     Horner's 13, which makes Softmax's reference 1.4× faster), times 2^k
//     applied as two exact power-of-two factors so that only the last
//     product rounds (subnormal results included).
//   - Log: x = 2^e·m with m in [√½, √2), s = (m−1)/(m+1),
//     log m = 2s + s·z·Q(z) with z = s² and Q the atanh series' terms
//     2/(2n+1) to n = 11 by Horner's rule with fused steps, plus e·ln2 in
//     two parts.
//   - Log1p(y) = Log(u)·(y/(u−1)) with u = 1 + y (y when u rounds to 1),
//     Expm1(x) = (u−1)·x/Log(u) with u = Exp(x) (x when u rounds to 1, u
//     above 40) (Kahan's forms).
//   - Pow (pow.go): math.Pow's special cases bit for bit (Sqrt for y =
//     ±0.5, as math.Pow); integer |y| ≤ 2^31 by repeated squaring in
//     double-double (exact while the partial products fit in 106 bits,
//     else the correctly rounded double but in near-ties), other y as
//     e^(y·log|x|) with log|x| a double-double from Log's reduction, the
//     product split by math.FMA and Exp(th)·(1 + tl) as one fused step
//     (within about 2^-50 relative).
//   - Tanh(x) = −t/(2+t), t = Expm1(−2|x|), with x's sign; ±1 beyond 22.
//   - Erf: the Maclaurin series x·Σ cₙ(x²)ⁿ by Horner's rule, truncated at
//     degree 15, 24 or 40 in x² for |x| below 0.75, 1.5 or 2.5 (truncation
//     below 1e-17 relative; the bands' polynomials are one series cut at
//     three degrees, so a GPU warp over all three runs one chain of 40
//     steps, not 79), and above 2.5 erf = 1 − erfc with erfc from
//     Laplace's continued fraction, its 32nd convergent as the 16th of its
//     even contraction, built forwards (numerator and denominator by a
//     product and a fused step a level, one division at the end:
//     ErfcFraction); ±1 from 6 on.
//
// Accuracy against the correctly rounded value: a few units in the last
// place of a double (Erf: up to about 3e-15 absolute just below |x| = 2.5,
// where its series cancels), far
// below a float32's half unit, so float32 results rounded from these are
// the correctly rounded float32 but in rare ties.
package fmath

import (
	"math"
	"math/big"
)

// Ln2Hi and Ln2Lo split ln 2: Ln2Hi has its low 32 bits zero (so k·Ln2Hi
// is exact for |k| < 2^20), Ln2Lo = ln 2 − Ln2Hi rounded.
var Ln2Hi, Ln2Lo = splitLn2()

func splitLn2() (hi, lo float64) {
	hi = math.Float64frombits(math.Float64bits(math.Ln2) &^ (1<<32 - 1))
	ln2, _, err := big.ParseFloat("0.693147180559945309417232121458176568075500134360255254120680009493393621969694715605863326996418687542", 10, 256, big.ToNearestEven)
	if err != nil {
		panic(err)
	}
	lo, _ = new(big.Float).Sub(ln2, big.NewFloat(hi)).Float64()
	return hi, lo
}

// The Taylor coefficients 1/n! of exp, n = 2..13, as constants (Go rounds
// the exact quotient once to float64).
const (
	exp2  = 1.0 / 2
	exp3  = 1.0 / 6
	exp4  = 1.0 / 24
	exp5  = 1.0 / 120
	exp6  = 1.0 / 720
	exp7  = 1.0 / 5040
	exp8  = 1.0 / 40320
	exp9  = 1.0 / 362880
	exp10 = 1.0 / 3628800
	exp11 = 1.0 / 39916800
	exp12 = 1.0 / 479001600
	exp13 = 1.0 / 6227020800
)

// ExpCoeffs are exp's Taylor coefficients 1/n!, n = 0..13, which Exp
// evaluates as Estrin(ExpCoeffs, r) does (unrolled).
var ExpCoeffs = []float64{1, 1, exp2, exp3, exp4, exp5, exp6, exp7, exp8, exp9, exp10, exp11, exp12, exp13}

// Exp's range: above ExpOverflow the result is +Inf, below ExpUnderflow
// it is +0 (both beyond where the result rounds to those anyway).
const (
	ExpOverflow  = 710
	ExpUnderflow = -746
)

// Exp returns e^x. NaN gives NaN.
func Exp(x float64) float64 {
	switch {
	case x != x:
		return x
	case x > ExpOverflow:
		return math.Inf(1)
	case x < ExpUnderflow:
		return 0
	}
	k := math.RoundToEven(float64(x * math.Log2E))
	r := math.FMA(-k, Ln2Hi, x)
	r = math.FMA(-k, Ln2Lo, r)
	p := expPoly(r)
	return Scale2(p, int32(k))
}

// expPoly is Estrin(ExpCoeffs, r), unrolled: pairs, then pairs of pairs
// with r², r⁴ and r⁸.
func expPoly(r float64) float64 {
	r2 := float64(r * r)
	r4 := float64(r2 * r2)
	r8 := float64(r4 * r4)
	u0 := math.FMA(math.FMA(exp3, r, exp2), r2, math.FMA(1, r, 1))
	u1 := math.FMA(math.FMA(exp7, r, exp6), r2, math.FMA(exp5, r, exp4))
	u2 := math.FMA(math.FMA(exp11, r, exp10), r2, math.FMA(exp9, r, exp8))
	u3 := math.FMA(exp13, r, exp12)
	return math.FMA(math.FMA(u3, r4, u2), r8, math.FMA(u1, r4, u0))
}

// logPoly is Horner's rule over LogCoeffs, unrolled.
func logPoly(z float64) float64 {
	q := math.FMA(2.0/23, z, 2.0/21)
	q = math.FMA(q, z, 2.0/19)
	q = math.FMA(q, z, 2.0/17)
	q = math.FMA(q, z, 2.0/15)
	q = math.FMA(q, z, 2.0/13)
	q = math.FMA(q, z, 2.0/11)
	q = math.FMA(q, z, 2.0/9)
	q = math.FMA(q, z, 2.0/7)
	q = math.FMA(q, z, 2.0/5)
	return math.FMA(q, z, 2.0/3)
}

// Horner returns Σ c[i]·x^i by Horner's rule with fused steps:
// p = c[n−1], then p = FMA(p, x, c[i]) for i = n−2 down to 0.
func Horner(c []float64, x float64) float64 {
	p := c[len(c)-1]
	for i := len(c) - 2; i >= 0; i-- {
		p = math.FMA(p, x, c[i])
	}
	return p
}

// MaxEstrin is the most coefficients Estrin takes.
const MaxEstrin = 64

// Estrin returns Σ c[i]·x^i (len(c) ≤ MaxEstrin) by Estrin's scheme, in
// this order: level 0 makes t[i] = FMA(c[2i+1], x, c[2i]) (c[2i] alone for
// an odd last one); with p = x·x, each next level makes t[i] =
// FMA(t[2i+1], p, t[2i]) (t[2i] alone for an odd last one) and then squares
// p if more than one term is left; the last term is the value.
func Estrin(c []float64, x float64) float64 {
	var t [MaxEstrin/2 + 1]float64
	m := (len(c) + 1) / 2
	for i := 0; i < m; i++ {
		if 2*i+1 < len(c) {
			t[i] = math.FMA(c[2*i+1], x, c[2*i])
		} else {
			t[i] = c[2*i]
		}
	}
	p := float64(x * x)
	for m > 1 {
		h := (m + 1) / 2
		for i := 0; i < h; i++ {
			if 2*i+1 < m {
				t[i] = math.FMA(t[2*i+1], p, t[2*i])
			} else {
				t[i] = t[2*i]
			}
		}
		m = h
		if m > 1 {
			p = float64(p * p)
		}
	}
	return t[0]
}

// Scale2 returns p·2^k for |k| ≤ 2044 as two exact power-of-two factors,
// 2^(k>>1) then 2^(k−k>>1) (each a normal double), so that only the
// second product rounds.
func Scale2(p float64, k int32) float64 {
	k1 := k >> 1
	k2 := k - k1
	p = float64(p * Pow2(k1))
	return float64(p * Pow2(k2))
}

// Pow2 is 2^k for a normal exponent k in [-1022, 1023], built from bits.
func Pow2(k int32) float64 { return math.Float64frombits(uint64(int64(k)+1023) << 52) }

// LogCoeffs are the atanh series' 2/(2n+1), n = 1..11: log m = 2s +
// s·z·Q(z), Q(z) = Σ LogCoeffs[n-1]·z^(n-1) by Horner's rule from the last
// with fused steps.
var LogCoeffs = []float64{2.0 / 3, 2.0 / 5, 2.0 / 7, 2.0 / 9, 2.0 / 11, 2.0 / 13, 2.0 / 15, 2.0 / 17, 2.0 / 19, 2.0 / 21, 2.0 / 23}

// Sqrt2 is √2 rounded; Log's mantissas lie in [Sqrt2/2, Sqrt2).
const Sqrt2 = math.Sqrt2

// Log returns the natural logarithm of x: −Inf at ±0, NaN below 0 and for
// NaN, +Inf at +Inf.
func Log(x float64) float64 {
	switch {
	case x != x || x < 0:
		return math.NaN()
	case x == 0:
		return math.Inf(-1)
	case x > math.MaxFloat64:
		return x
	}
	e, m := logReduce(x)
	f := m - 1 // exact
	s := f / (2 + f)
	z := float64(s * s)
	q := logPoly(z)
	l := math.FMA(float64(s*z), q, float64(2*s))
	fe := float64(e)
	return float64(fe*Ln2Hi) + math.FMA(fe, Ln2Lo, l)
}

// logReduce splits a finite x > 0 into 2^e·m with m in [Sqrt2/2, Sqrt2).
func logReduce(x float64) (e int32, m float64) {
	if x < 0x1p-1022 { // subnormal: make it normal first
		x = float64(x * 0x1p54)
		e = -54
	}
	b := math.Float64bits(x)
	e += int32(b>>52) - 1023
	m = math.Float64frombits(b&(1<<52-1) | 1023<<52) // [1, 2)
	if m >= Sqrt2 {
		m = float64(m * 0.5)
		e++
	}
	return e, m
}

// Log1p returns log(1 + y), accurate for small y.
func Log1p(y float64) float64 {
	u := 1 + y
	switch {
	case u == 1:
		return y
	case u > math.MaxFloat64:
		return u
	}
	return float64(Log(u) * float64(y/(u-1)))
}

// Expm1 returns e^x − 1, accurate for small x.
func Expm1(x float64) float64 {
	u := Exp(x)
	switch {
	case u == 1:
		return x
	case x > 40: // e^x − 1 rounds to e^x (and would overflow below)
		return u
	}
	um := u - 1
	if um == -1 {
		return -1
	}
	return float64(um*x) / Log(u)
}

// Tanh returns the hyperbolic tangent of x.
func Tanh(x float64) float64 {
	a := math.Abs(x)
	if a > 22 { // tanh(22) rounds to 1
		return math.Copysign(1, x)
	}
	t := Expm1(float64(-2 * a))
	return math.Copysign(-t/(2+t), x)
}

// Sigmoid returns 1/(1+e^−x), computed as e^x/(1+e^x) for x < 0 so that
// neither form overflows to a NaN.
func Sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + Exp(-x))
	}
	e := Exp(x)
	return e / (1 + e)
}

// ErfCoeffs are erf's Maclaurin coefficients (2/√π)·(−1)ⁿ/(n!·(2n+1)),
// n = 0..40: erf x = x·Horner(ErfCoeffs[:d+1], x²) for a band's degree d.
var ErfCoeffs = erfCoeffs[:]

// erfCoeffs is ErfCoeffs' array.
var erfCoeffs = func() (c [41]float64) {
	two := new(big.Float).SetPrec(256).Quo(big.NewFloat(2), new(big.Float).SetPrec(256).Sqrt(bigPi()))
	fact := new(big.Float).SetPrec(256).SetInt64(1)
	for n := range c {
		if n > 0 {
			fact.Mul(fact, big.NewFloat(float64(n)))
		}
		d := new(big.Float).SetPrec(256).Mul(fact, big.NewFloat(float64(2*n+1)))
		v, _ := new(big.Float).SetPrec(256).Quo(two, d).Float64()
		if n%2 == 1 {
			v = -v
		}
		c[n] = v
	}
	return
}()

func bigPi() *big.Float {
	pi, _, err := big.ParseFloat("3.14159265358979323846264338327950288419716939937510582097494459230781640628620899862803482534211706798", 10, 256, big.ToNearestEven)
	if err != nil {
		panic(err)
	}
	return pi
}

// ErfBands are Erf's ranges of |x| and the degree in x² of the series
// used below each; from the last bound on, the continued fraction.
var ErfBands = []struct {
	Below  float64
	Degree int
}{{0.75, 15}, {1.5, 24}, {2.5, 40}}

// Erf's continued fraction: ErfcDepth levels of its even contraction
// (ErfcFraction), used for |x| in [2.5, 6);
// from ErfOne on erf is ±1.
const (
	ErfcDepth = 16
	ErfOne    = 6
)

// InvSqrtPi is 1/√π rounded.
var InvSqrtPi = func() float64 {
	v, _ := new(big.Float).SetPrec(256).Quo(big.NewFloat(1), new(big.Float).SetPrec(256).Sqrt(bigPi())).Float64()
	return v
}()

// Erf returns the error function of x.
func Erf(x float64) float64 {
	a := math.Abs(x)
	if a != a {
		return x
	}
	for _, b := range ErfBands {
		if a < b.Below {
			z := float64(x * x)
			p := erfCoeffs[b.Degree]
			for n := b.Degree - 1; n >= 0; n-- {
				p = math.FMA(p, z, erfCoeffs[n])
			}
			return float64(x * p)
		}
	}
	if a >= ErfOne {
		return math.Copysign(1, x)
	}
	e := Exp(-float64(a * a))
	t, u := ErfcFraction(a)
	erfc := float64(float64(e*InvSqrtPi)*u) / t
	return math.Copysign(1-erfc, x)
}

// ErfcFraction returns a numerator A and denominator B with
// erfc a = e^(−a²)/√π · B/A: the ErfcDepth-th convergent of the even
// contraction of Laplace's continued fraction,
//
//	√π·e^(a²)·erfc a = 1/(a + ½/(a + 1/(a + (3/2)/(a + ...))))
//	                 = 2a/(2a²+1 − 1·2/(2a²+5 − 3·4/(2a²+9 − ...))),
//
// whose k-th convergent is Laplace's 2k-th, so each level does the work
// of two. It is built forwards: with s = 2a², d_k = s + 4k + 1 and
// n_k = (2k−1)·2k, A_k = d_k·A_{k−1} − n_k·A_{k−2} and the same for B,
// from A_{−1} = 1, A_0 = s + 1, B_{−1} = 0, B_0 = 2a; a level is one sum,
// and for A and for B a product rounded on its own and a fused step. The
// only division is erfc's. The subtractions cancel little (for a in
// [2.5, 6) the term subtracted is at most 0.23 of d_k·A_{k−1}, and of
// d_k·B_{k−1}), and the convergent's error measures at erfc's own
// rounding, 5e-15 relative (TestErfcFraction); erfc (below 4.1e-4 from
// 2.5 on) then moves erf = 1 − erfc by a small fraction of erf's last
// place. A_k grows like the product of the d_k: below 1e40 for a < ErfOne,
// far inside the double's range. ErfcDepth = 16 brings the truncation at
// a = 2.5 (the slowest convergence) down to that rounding (14 levels
// leave 3e-14, 12 leave 4e-13).
func ErfcFraction(a float64) (num, den float64) {
	s := float64(2 * float64(a*a))
	am, bm := 1.0, 0.0
	ak, bk := s+1, float64(2*a)
	for k := 1; k <= ErfcDepth; k++ {
		d := s + float64(4*k+1)
		n := -float64((2*k - 1) * 2 * k)
		an := math.FMA(d, ak, float64(n*am))
		bn := math.FMA(d, bk, float64(n*bm))
		am, bm, ak, bk = ak, bk, an, bn
	}
	return ak, bk
}

// InvSqrt2 is 1/√2 rounded (√2 rounded, halved exactly).
const InvSqrt2 = math.Sqrt2 / 2

// Gelu is x/2·(1 + erf(x/√2)), as (0.5·x)·(1 + Erf(x·InvSqrt2)): a
// product by the rounded 1/√2 rather than a division by the rounded √2
// (both within about half a unit of x/√2; a double division is a long
// instruction sequence on a GPU).
func Gelu(x float64) float64 {
	return float64(0.5*x) * (1 + Erf(float64(x*InvSqrt2)))
}

// GeluTanhK is √(2/π) rounded, GeluTanh's inner factor.
var GeluTanhK = math.Sqrt(2 / math.Pi)

// GeluTanh is ONNX's tanh approximation of Gelu:
// (0.5·x)·(1 + tanh(k·(x + 0.044715·x·x·x))), products left to right.
func GeluTanh(x float64) float64 {
	c := float64(float64(float64(0.044715*x)*x) * x)
	return float64(0.5*x) * (1 + Tanh(float64(GeluTanhK*(x+c))))
}

// Softplus is max(x, 0) + log1p(e^−|x|), which neither overflows nor loses
// small results.
func Softplus(x float64) float64 {
	return max(x, 0) + Log1p(Exp(-math.Abs(x)))
}

// Mish is x·tanh(softplus(x)).
func Mish(x float64) float64 { return float64(x * Tanh(Softplus(x))) }

package fmath

import "math"

// PowIntMax bounds the integer exponents Pow evaluates by repeated
// squaring: |y| ≤ PowIntMax takes that path, larger ones Exp and Log.
const PowIntMax = 1 << 31

// Pow returns x**y with math.Pow's special cases, bit for bit (see its
// documentation; in its order): Pow(x, ±0) = 1, Pow(1, y) = 1, Pow(x, 1) =
// x, NaN for a NaN operand, the signed zeros and infinities for ±0 and ±Inf
// operands, Pow(-1, ±Inf) = 1, NaN for finite x < 0 and finite non-integer
// y, and, as math.Pow computes them, Sqrt(x) for y = 0.5 and 1/Sqrt(x) for
// y = −0.5 (the GPU's Pow by 0.5 is that square root).
//
// Otherwise |x|**|y| is a double-double m·2^e, and its sign is x's for an
// odd integer y:
//
//   - integer |y| ≤ PowIntMax: repeated squaring of |x|'s mantissa in
//     double-double (products split exactly by math.FMA), the binary
//     exponent kept apart as an integer, and a double-double reciprocal
//     for y < 0. Exact while every partial product fits in 106 bits (an
//     integer result below 2^53 from an integer x is exact); otherwise each
//     step errs by under 2^-104 relative and squaring doubles what came
//     before, so the result is within 2|y|·2^-104 ≤ 2^-71 of x**y before
//     the last rounding: the correctly rounded double but in near-ties.
//   - otherwise e^t with t = y·log|x|: log|x| as a double-double from Log's
//     reduction (2s and e·ln 2 carried exactly, the series' tail of about
//     1% rounded; within about 2^-57 relative), times y with the product
//     split exactly by math.FMA, then Exp(th)·(1 + tl) as one fused step.
//     Exp's few units in the last place dominate: the result is within
//     about 2^-50 relative of x**y, far below a float32's half unit.
//
// Subnormal double results round twice (the scaling rounds again); a
// float32 rounding of any result is the correctly rounded float32 but in
// rare ties.
func Pow(x, y float64) float64 {
	switch {
	case y == 0 || x == 1:
		return 1
	case y == 1:
		return x
	case x != x || y != y:
		return math.NaN()
	case x == 0:
		switch {
		case y < 0:
			if math.Signbit(x) && isOddInt(y) {
				return math.Inf(-1)
			}
			return math.Inf(1)
		case y > 0:
			if math.Signbit(x) && isOddInt(y) {
				return x
			}
			return 0
		}
	case math.IsInf(y, 0):
		switch {
		case x == -1:
			return 1
		case (math.Abs(x) < 1) == math.IsInf(y, 1):
			return 0
		default:
			return math.Inf(1)
		}
	case math.IsInf(x, 0):
		if math.IsInf(x, -1) {
			return Pow(1/x, -y) // Pow(-0, -y)
		}
		if y < 0 {
			return 0
		}
		return math.Inf(1)
	case y == 0.5:
		return math.Sqrt(x)
	case y == -0.5:
		return 1 / math.Sqrt(x)
	}
	a := math.Abs(y)
	integer := math.Trunc(a) == a
	if x < 0 && !integer {
		return math.NaN()
	}
	ax := math.Abs(x)
	var r float64
	if integer && a <= PowIntMax {
		r = powInt(ax, uint64(a), y < 0)
	} else {
		r = powExpLog(ax, y)
	}
	if x < 0 && isOddInt(y) {
		return -r
	}
	return r
}

// isOddInt reports whether y is an odd integer (every double from 2^53 on
// is even).
func isOddInt(y float64) bool {
	a := math.Abs(y)
	return a < 1<<53 && math.Trunc(a) == a && uint64(a)&1 == 1
}

// twoSum returns s = a + b rounded and the rounding error, exactly
// (Knuth's six operations).
func twoSum(a, b float64) (s, e float64) {
	s = a + b
	bb := s - a
	return s, (a - (s - bb)) + (b - bb)
}

// ddMul returns (ah + al)·(bh + bl) as a normalized double-double: ah·bh
// split exactly by math.FMA, the cross products rounded, al·bl dropped
// (relative error below 2^-104 for normalized operands).
func ddMul(ah, al, bh, bl float64) (h, l float64) {
	p := float64(ah * bh)
	e := math.FMA(ah, bh, -p)
	e += float64(ah*bl) + float64(al*bh)
	h = p + e
	return h, e - (h - p)
}

// mantissa splits a finite x > 0 into m·2^e with m in [0.5, 1).
func mantissa(x float64) (m float64, e int64) {
	if x < 0x1p-1022 { // subnormal: make it normal first
		x = float64(x * 0x1p54)
		e = -54
	}
	b := math.Float64bits(x)
	e += int64(b>>52&0x7ff) - 1022
	return math.Float64frombits(b&(1<<52-1) | 1022<<52), e
}

// powInt returns ax**n (ax > 0 finite, n ≥ 1), or its reciprocal, by
// repeated squaring in double-double with mantissas kept in [0.5, 1) and
// the binary exponents as integers.
func powInt(ax float64, n uint64, reciprocal bool) float64 {
	bh, be := mantissa(ax)
	bl := 0.0
	rh, rl, re := 1.0, 0.0, int64(0)
	for {
		if n&1 == 1 {
			rh, rl = ddMul(rh, rl, bh, bl)
			re += be
			if rh < 0.5 {
				rh, rl, re = float64(rh*2), float64(rl*2), re-1
			}
		}
		n >>= 1
		if n == 0 {
			break
		}
		if be < -1<<12 || be > 1<<12 {
			// the result is beyond the double's range: re only grows
			// further the same way
			re += be
			break
		}
		bh, bl = ddMul(bh, bl, bh, bl)
		be *= 2
		if bh < 0.5 {
			bh, bl, be = float64(bh*2), float64(bl*2), be-1
		}
	}
	if reciprocal {
		// 1/(rh + rl) = q·(1 + d) with d = 1 − q·(rh + rl): the first
		// part exactly by a fused step
		q := 1 / rh
		d := math.FMA(-q, rh, 1) - float64(q*rl)
		rh, rl = twoSum(q, float64(q*d))
		re = -re
	}
	switch {
	case re > 1026:
		return math.Inf(1)
	case re < -1080:
		return 0
	}
	return Scale2(rh+rl, int32(re))
}

// powExpLog returns ax**y (ax > 0 finite, ax ≠ 1) as Exp of y·log ax in
// double-double.
func powExpLog(ax, y float64) float64 {
	lh, ll := logDD(ax)
	ph := float64(y * lh)
	if math.Abs(ph) > 1500 || math.IsInf(ph, 0) { // far beyond the range
		if ph > 0 {
			return math.Inf(1)
		}
		return 0
	}
	pl := math.FMA(y, lh, -ph) + float64(y*ll)
	th := ph + pl
	tl := pl - (th - ph)
	e := Exp(th)
	if e == 0 || e > math.MaxFloat64 {
		return e // Inf·tl would make a NaN
	}
	return math.FMA(e, tl, e)
}

// logDD returns log x (x > 0 finite) as a double-double hi + lo, from
// Log's reduction x = 2^e·m, s = (m−1)/(m+1), log m = 2s + s·z·Q(z):
// s as a double-double (m+1 and the quotient's residual exact), e·ln 2 as
// e·Ln2Hi (exact) plus e·Ln2Lo rounded (under 2^-85 of log x), and the tail s·z·Q(z)
// (under 1% of log m) in double.
func logDD(x float64) (hi, lo float64) {
	e, m := logReduce(x)
	f := m - 1 // exact
	dh := 2 + f
	dl := f - (dh - 2) // 2 + f = dh + dl exactly
	sh := f / dh
	sl := (math.FMA(-sh, dh, f) - float64(sh*dl)) / dh
	z := float64(sh * sh)
	tail := float64(float64(sh*z) * logPoly(z))
	fe := float64(e)
	h, l := twoSum(float64(fe*Ln2Hi), float64(2*sh))
	l += (float64(fe*Ln2Lo) + float64(2*sl)) + tail
	hi = h + l
	return hi, l - (hi - h)
}

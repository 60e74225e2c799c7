package kernels

// PTX for the reference executor's transcendental functions (package
// ir/ref/fmath), instruction for instruction: each Go operation of fmath
// becomes the PTX instruction that rounds the same way (add.rn, sub.rn,
// mul.rn, div.rn, fma.rn and sqrt.rn on f64 are IEEE operations on the GPU,
// as Go's float64 operations and math.FMA are on the CPU), comparisons
// become setp with the same outcome on NaN, and the constants are fmath's
// own tables. So a kernel that computes float32(f(float64(x))) with these
// gives the reference's bits. The functions are inlined where they are
// called; each call allocates its scratch registers from the emitter's
// banks (%md f64, %mp pred, %mr b32, %ml b64) and frees them on return.

import (
	"fmt"
	"math"

	"github.com/sqc-project/sqc/ir/ref/fmath"
)

// Register bank sizes of the fmath emitter.
const (
	fmF64  = 40
	fmPred = 4
	fmB32  = 4
	fmB64  = 2
)

// fmathEmitter inlines fmath's functions into a kernel.
type fmathEmitter struct {
	b              *builder
	nd, np, nr, nl int // registers in use
}

// newFmath returns an emitter writing into b, whose kernel declared the
// banks with declareFmathRegs.
func newFmath(b *builder) *fmathEmitter { return &fmathEmitter{b: b} }

// declareFmathRegs declares the emitter's register banks.
func declareFmathRegs(b *builder) {
	declare(b, ".f64", fmt.Sprintf("%%md<%d>", fmF64))
	declare(b, ".pred", fmt.Sprintf("%%mp<%d>", fmPred))
	declare(b, ".b32", fmt.Sprintf("%%mr<%d>", fmB32))
	declare(b, ".b64", fmt.Sprintf("%%ml<%d>", fmB64))
}

// take allocates the next register of a bank: *used of limit are taken.
func take(used *int, limit int, name, bank string) string {
	if *used == limit {
		panic("kernels: fmath emitter out of " + bank + " registers")
	}
	*used++
	return fmt.Sprintf("%%%s%d", name, *used-1)
}

func (e *fmathEmitter) d() string  { return take(&e.nd, fmF64, "md", "f64") }
func (e *fmathEmitter) p() string  { return take(&e.np, fmPred, "mp", "predicate") }
func (e *fmathEmitter) r() string  { return take(&e.nr, fmB32, "mr", "b32") }
func (e *fmathEmitter) ll() string { return take(&e.nl, fmB64, "ml", "b64") }

// mark and release bracket a function's scratch registers.
func (e *fmathEmitter) mark() [4]int         { return [4]int{e.nd, e.np, e.nr, e.nl} }
func (e *fmathEmitter) release(m [4]int)     { e.nd, e.np, e.nr, e.nl = m[0], m[1], m[2], m[3] }
func (e *fmathEmitter) l(f string, a ...any) { e.b.l(f, a...) }

// hexF64 is a PTX f64 immediate.
func hexF64(v float64) string { return fmt.Sprintf("0d%016X", math.Float64bits(v)) }

// horner writes acc = c[deg]; acc = fma(acc, z, c[n]) for n = deg-1..0.
func (e *fmathEmitter) horner(acc, z string, c []float64, deg int) {
	e.l("mov.f64 %s, %s;", acc, hexF64(c[deg]))
	for n := deg - 1; n >= 0; n-- {
		e.l("fma.rn.f64 %s, %s, %s, %s;", acc, acc, z, hexF64(c[n]))
	}
}

// estrin writes dst = fmath.Estrin(c, x), the same operations in the same
// order: fused pairs of coefficients, then pairs of pairs with x², x⁴, ...
func (e *fmathEmitter) estrin(dst, x string, c []float64) {
	m := e.mark()
	defer e.release(m)
	n := (len(c) + 1) / 2
	t := make([]string, n)
	for i := range t {
		t[i] = e.d()
		if 2*i+1 < len(c) {
			e.l("fma.rn.f64 %s, %s, %s, %s;", t[i], x, hexF64(c[2*i+1]), hexF64(c[2*i])) // c·x = x·c exactly
		} else {
			e.l("mov.f64 %s, %s;", t[i], hexF64(c[2*i]))
		}
	}
	p := e.d()
	e.l("mul.rn.f64 %s, %s, %s;", p, x, x)
	for n > 1 {
		h := (n + 1) / 2
		for i := 0; i < h; i++ {
			if 2*i+1 < n {
				e.l("fma.rn.f64 %s, %s, %s, %s;", t[i], t[2*i+1], p, t[2*i])
			} else {
				e.l("mov.f64 %s, %s;", t[i], t[2*i])
			}
		}
		n = h
		if n > 1 {
			e.l("mul.rn.f64 %s, %s, %s;", p, p, p)
		}
	}
	e.l("mov.f64 %s, %s;", dst, t[0])
}

// Exp writes dst = fmath.Exp(src); dst may be src. NaN and the two
// out-of-range cases take one branch, to a block after the main path, so
// a warp of ordinary inputs issues one test (three instructions and a
// branch not taken) rather than three predicated ones.
func (e *fmathEmitter) Exp(dst, src string) {
	m := e.mark()
	defer e.release(m)
	done, special := e.b.label("exp_done"), e.b.label("exp_special")
	p, q := e.p(), e.p()
	e.l("setp.gtu.f64 %s, %s, %s;", p, src, hexF64(fmath.ExpOverflow)) // or NaN
	e.l("setp.lt.f64 %s, %s, %s;", q, src, hexF64(fmath.ExpUnderflow))
	e.l("or.pred %s, %s, %s;", p, p, q)
	e.l("@%s bra %s;", p, special)
	k, nk, r, poly := e.d(), e.d(), e.d(), e.d()
	e.l("mul.rn.f64 %s, %s, %s;", k, src, hexF64(math.Log2E))
	e.l("cvt.rni.f64.f64 %s, %s;", k, k)
	e.l("neg.f64 %s, %s;", nk, k)
	e.l("fma.rn.f64 %s, %s, %s, %s;", r, nk, hexF64(fmath.Ln2Hi), src)
	e.l("fma.rn.f64 %s, %s, %s, %s;", r, nk, hexF64(fmath.Ln2Lo), r)
	e.estrin(poly, r, fmath.ExpCoeffs)
	ki := e.r()
	e.l("cvt.rzi.s32.f64 %s, %s;", ki, k)
	e.scale2(dst, poly, ki)
	e.l("bra %s;", done)
	e.b.raw("%s:", special)
	e.l("setp.nan.f64 %s, %s, %s;", p, src, src)
	e.l("@%s mov.f64 %s, %s;", p, dst, src)
	e.l("@%s bra %s;", p, done)
	e.l("setp.gt.f64 %s, %s, %s;", p, src, hexF64(fmath.ExpOverflow))
	e.l("@%s mov.f64 %s, 0d7FF0000000000000;", p, dst)
	e.l("@%s bra %s;", p, done)
	e.l("mov.f64 %s, 0d0000000000000000;", dst) // below ExpUnderflow
	e.b.raw("%s:", done)
}

// scale2 writes dst = fmath.Scale2(p, k) for k in the b32 register ki.
func (e *fmathEmitter) scale2(dst, p, ki string) {
	m := e.mark()
	defer e.release(m)
	k1, k2, bits, f := e.r(), e.r(), e.ll(), e.d()
	e.l("shr.s32 %s, %s, 1;", k1, ki)
	e.l("sub.s32 %s, %s, %s;", k2, ki, k1)
	for i, kk := range []string{k1, k2} {
		e.l("add.s32 %s, %s, 1023;", kk, kk)
		e.l("cvt.u64.u32 %s, %s;", bits, kk)
		e.l("shl.b64 %s, %s, 52;", bits, bits)
		e.l("mov.b64 %s, %s;", f, bits)
		src := p
		if i == 1 {
			src = dst
		}
		e.l("mul.rn.f64 %s, %s, %s;", dst, src, f)
	}
}

// Log writes dst = fmath.Log(src); dst may be src.
func (e *fmathEmitter) Log(dst, src string) {
	m := e.mark()
	defer e.release(m)
	done := e.b.label("log_done")
	p := e.p()
	x := e.d()
	e.l("mov.f64 %s, %s;", x, src)
	e.l("setp.ltu.f64 %s, %s, 0d0000000000000000;", p, x) // x < 0 or NaN
	e.l("@%s mov.f64 %s, %s;", p, dst, hexF64(math.NaN()))
	e.l("@%s bra %s;", p, done)
	e.l("setp.eq.f64 %s, %s, 0d0000000000000000;", p, x)
	e.l("@%s mov.f64 %s, 0dFFF0000000000000;", p, dst)
	e.l("@%s bra %s;", p, done)
	e.l("setp.gt.f64 %s, %s, %s;", p, x, hexF64(math.MaxFloat64))
	e.l("@%s mov.f64 %s, %s;", p, dst, x)
	e.l("@%s bra %s;", p, done)
	ex, t := e.r(), e.r()
	e.l("mov.s32 %s, 0;", ex)
	e.l("setp.lt.f64 %s, %s, 0d0010000000000000;", p, x) // subnormal
	e.l("@%s mul.rn.f64 %s, %s, %s;", p, x, x, hexF64(0x1p54))
	e.l("@%s mov.s32 %s, -54;", p, ex)
	bits := e.ll()
	e.l("mov.b64 %s, %s;", bits, x)
	e.l("shr.u64 %s, %s, 52;", bits, bits)
	e.l("cvt.u32.u64 %s, %s;", t, bits)
	e.l("sub.s32 %s, %s, 1023;", t, t)
	e.l("add.s32 %s, %s, %s;", ex, ex, t)
	e.l("mov.b64 %s, %s;", bits, x)
	e.l("and.b64 %s, %s, 0x000FFFFFFFFFFFFF;", bits, bits)
	e.l("or.b64 %s, %s, 0x3FF0000000000000;", bits, bits)
	mm := e.d()
	e.l("mov.b64 %s, %s;", mm, bits)
	e.l("setp.ge.f64 %s, %s, %s;", p, mm, hexF64(fmath.Sqrt2))
	e.l("@%s mul.rn.f64 %s, %s, 0d3FE0000000000000;", p, mm, mm)
	e.l("@%s add.s32 %s, %s, 1;", p, ex, ex)
	f, s, z, q := e.d(), e.d(), e.d(), e.d()
	e.l("sub.rn.f64 %s, %s, 0d3FF0000000000000;", f, mm)
	e.l("add.rn.f64 %s, %s, 0d4000000000000000;", s, f)
	e.l("div.rn.f64 %s, %s, %s;", s, f, s)
	e.l("mul.rn.f64 %s, %s, %s;", z, s, s)
	e.horner(q, z, fmath.LogCoeffs, len(fmath.LogCoeffs)-1)
	e.l("mul.rn.f64 %s, %s, %s;", z, s, z) // s·z
	e.l("mul.rn.f64 %s, %s, 0d4000000000000000;", s, s)
	e.l("fma.rn.f64 %s, %s, %s, %s;", q, z, q, s) // l
	fe := e.d()
	e.l("cvt.rn.f64.s32 %s, %s;", fe, ex)
	e.l("fma.rn.f64 %s, %s, %s, %s;", q, fe, hexF64(fmath.Ln2Lo), q)
	e.l("mul.rn.f64 %s, %s, %s;", fe, fe, hexF64(fmath.Ln2Hi))
	e.l("add.rn.f64 %s, %s, %s;", dst, fe, q)
	e.b.raw("%s:", done)
}

// Log1p writes dst = fmath.Log1p(y); dst may be y.
func (e *fmathEmitter) Log1p(dst, y string) {
	m := e.mark()
	defer e.release(m)
	done := e.b.label("log1p_done")
	p, u, v := e.p(), e.d(), e.d()
	e.l("add.rn.f64 %s, %s, 0d3FF0000000000000;", u, y)
	e.l("setp.eq.f64 %s, %s, 0d3FF0000000000000;", p, u)
	e.l("@%s mov.f64 %s, %s;", p, dst, y)
	e.l("@%s bra %s;", p, done)
	e.l("setp.gt.f64 %s, %s, %s;", p, u, hexF64(math.MaxFloat64))
	e.l("@%s mov.f64 %s, %s;", p, dst, u)
	e.l("@%s bra %s;", p, done)
	e.l("sub.rn.f64 %s, %s, 0d3FF0000000000000;", v, u)
	e.l("div.rn.f64 %s, %s, %s;", v, y, v)
	e.Log(u, u)
	e.l("mul.rn.f64 %s, %s, %s;", dst, u, v)
	e.b.raw("%s:", done)
}

// Expm1 writes dst = fmath.Expm1(x); dst may be x.
func (e *fmathEmitter) Expm1(dst, x string) {
	m := e.mark()
	defer e.release(m)
	done := e.b.label("expm1_done")
	p, u, um := e.p(), e.d(), e.d()
	e.Exp(u, x)
	e.l("setp.eq.f64 %s, %s, 0d3FF0000000000000;", p, u)
	e.l("@%s mov.f64 %s, %s;", p, dst, x)
	e.l("@%s bra %s;", p, done)
	e.l("setp.gt.f64 %s, %s, 0d4044000000000000;", p, x) // 40
	e.l("@%s mov.f64 %s, %s;", p, dst, u)
	e.l("@%s bra %s;", p, done)
	e.l("sub.rn.f64 %s, %s, 0d3FF0000000000000;", um, u)
	e.l("setp.eq.f64 %s, %s, 0dBFF0000000000000;", p, um)
	e.l("@%s mov.f64 %s, 0dBFF0000000000000;", p, dst)
	e.l("@%s bra %s;", p, done)
	e.l("mul.rn.f64 %s, %s, %s;", um, um, x)
	e.Log(u, u)
	e.l("div.rn.f64 %s, %s, %s;", dst, um, u)
	e.b.raw("%s:", done)
}

// Tanh writes dst = fmath.Tanh(x); dst may be x.
func (e *fmathEmitter) Tanh(dst, x string) {
	m := e.mark()
	defer e.release(m)
	done := e.b.label("tanh_done")
	p, a, t, nt := e.p(), e.d(), e.d(), e.d()
	e.l("abs.f64 %s, %s;", a, x)
	e.l("setp.gt.f64 %s, %s, 0d4036000000000000;", p, a) // 22
	e.l("@%s copysign.f64 %s, %s, 0d3FF0000000000000;", p, dst, x)
	e.l("@%s bra %s;", p, done)
	e.l("mul.rn.f64 %s, %s, 0dC000000000000000;", t, a)
	e.Expm1(t, t)
	e.l("neg.f64 %s, %s;", nt, t)
	e.l("add.rn.f64 %s, %s, 0d4000000000000000;", t, t)
	e.l("div.rn.f64 %s, %s, %s;", t, nt, t)
	e.l("copysign.f64 %s, %s, %s;", dst, x, t)
	e.b.raw("%s:", done)
}

// Sigmoid writes dst = fmath.Sigmoid(x); dst may be x.
func (e *fmathEmitter) Sigmoid(dst, x string) {
	m := e.mark()
	defer e.release(m)
	neg, done := e.b.label("sigmoid_neg"), e.b.label("sigmoid_done")
	p, t := e.p(), e.d()
	e.l("setp.ge.f64 %s, %s, 0d0000000000000000;", p, x)
	e.l("@!%s bra %s;", p, neg)
	e.l("neg.f64 %s, %s;", t, x)
	e.Exp(t, t)
	e.l("add.rn.f64 %s, %s, 0d3FF0000000000000;", t, t)
	e.l("div.rn.f64 %s, 0d3FF0000000000000, %s;", dst, t)
	e.l("bra %s;", done)
	e.b.raw("%s:", neg)
	u := e.d()
	e.Exp(t, x)
	e.l("add.rn.f64 %s, %s, 0d3FF0000000000000;", u, t)
	e.l("div.rn.f64 %s, %s, %s;", dst, t, u)
	e.b.raw("%s:", done)
}

// Erf writes dst = fmath.Erf(x); dst may be x.
//
// The series' bands share one Horner chain: the bands' series are the
// same series truncated at different degrees, so a lane of a band of
// degree d starts the chain at c[d] and branches in just after the step
// that would have added c[d]. A warp whose lanes span every band issues
// the deepest band's steps once (the branches nest, so its lanes
// reconverge where each shallower band enters), not the sum of the bands'
// degrees; a warp in the shallowest band alone skips the rest.
func (e *fmathEmitter) Erf(dst, x string) {
	m := e.mark()
	defer e.release(m)
	done, cf := e.b.label("erf_done"), e.b.label("erf_cf")
	p, a, z, acc := e.p(), e.d(), e.d(), e.d()
	e.l("abs.f64 %s, %s;", a, x)
	e.l("setp.nan.f64 %s, %s, %s;", p, a, a)
	e.l("@%s mov.f64 %s, %s;", p, dst, x)
	e.l("@%s bra %s;", p, done)
	bands := fmath.ErfBands
	e.l("setp.ge.f64 %s, %s, %s;", p, a, hexF64(bands[len(bands)-1].Below))
	e.l("@%s bra %s;", p, cf)
	e.l("mul.rn.f64 %s, %s, %s;", z, x, x)
	deepest := bands[len(bands)-1].Degree
	e.l("mov.f64 %s, %s;", acc, hexF64(fmath.ErfCoeffs[deepest]))
	entry := map[int]string{} // degree → label before the step adding c[degree-1]
	for _, band := range bands[:len(bands)-1] {
		entry[band.Degree] = e.b.label("erf_deg")
		e.l("setp.lt.f64 %s, %s, %s;", p, a, hexF64(band.Below))
		e.l("@%s mov.f64 %s, %s;", p, acc, hexF64(fmath.ErfCoeffs[band.Degree]))
		e.l("@%s bra %s;", p, entry[band.Degree])
	}
	for n := deepest - 1; n >= 0; n-- {
		if lbl, ok := entry[n+1]; ok {
			e.b.raw("%s:", lbl)
		}
		e.l("fma.rn.f64 %s, %s, %s, %s;", acc, acc, z, hexF64(fmath.ErfCoeffs[n]))
	}
	e.l("mul.rn.f64 %s, %s, %s;", dst, x, acc)
	e.l("bra %s;", done)
	e.b.raw("%s:", cf)
	e.l("setp.ge.f64 %s, %s, %s;", p, a, hexF64(fmath.ErfOne))
	e.l("@%s copysign.f64 %s, %s, 0d3FF0000000000000;", p, dst, x)
	e.l("@%s bra %s;", p, done)
	e.comment("erfc's continued fraction, %d levels of its even contraction, forwards (fmath.ErfcFraction)", fmath.ErfcDepth)
	s, am, bm, ak, bk, d, q := e.d(), e.d(), e.d(), e.d(), e.d(), e.d(), e.d()
	e.l("mul.rn.f64 %s, %s, %s;", s, a, a)
	e.l("mul.rn.f64 %s, %s, 0d4000000000000000;", s, s)
	e.l("mov.f64 %s, 0d3FF0000000000000;", am)
	e.l("mov.f64 %s, 0d0000000000000000;", bm)
	e.l("add.rn.f64 %s, %s, 0d3FF0000000000000;", ak, s)
	e.l("mul.rn.f64 %s, %s, 0d4000000000000000;", bk, a)
	for k := 1; k <= fmath.ErfcDepth; k++ {
		n := hexF64(-float64((2*k - 1) * 2 * k))
		e.l("add.rn.f64 %s, %s, %s;", d, s, hexF64(float64(4*k+1)))
		e.l("mul.rn.f64 %s, %s, %s;", q, n, am)
		e.l("fma.rn.f64 %s, %s, %s, %s;", am, d, ak, q) // A_k, into A_{k-2}'s register
		e.l("mul.rn.f64 %s, %s, %s;", q, n, bm)
		e.l("fma.rn.f64 %s, %s, %s, %s;", bm, d, bk, q)
		am, bm, ak, bk = ak, bk, am, bm
	}
	e.l("mul.rn.f64 %s, %s, %s;", z, a, a)
	e.l("neg.f64 %s, %s;", z, z)
	e.Exp(z, z)
	e.l("mul.rn.f64 %s, %s, %s;", z, z, hexF64(fmath.InvSqrtPi))
	e.l("mul.rn.f64 %s, %s, %s;", z, z, bk)
	e.l("div.rn.f64 %s, %s, %s;", z, z, ak)
	e.l("sub.rn.f64 %s, 0d3FF0000000000000, %s;", z, z)
	e.l("copysign.f64 %s, %s, %s;", dst, x, z)
	e.b.raw("%s:", done)
}

func (e *fmathEmitter) comment(f string, a ...any) { e.b.comment(f, a...) }

// Gelu writes dst = fmath.Gelu(x); dst may be x.
func (e *fmathEmitter) Gelu(dst, x string) {
	m := e.mark()
	defer e.release(m)
	h, t := e.d(), e.d()
	e.l("mul.rn.f64 %s, %s, 0d3FE0000000000000;", h, x)
	e.l("mul.rn.f64 %s, %s, %s;", t, x, hexF64(fmath.InvSqrt2))
	e.Erf(t, t)
	e.l("add.rn.f64 %s, %s, 0d3FF0000000000000;", t, t)
	e.l("mul.rn.f64 %s, %s, %s;", dst, h, t)
}

// GeluTanh writes dst = fmath.GeluTanh(x); dst may be x.
func (e *fmathEmitter) GeluTanh(dst, x string) {
	m := e.mark()
	defer e.release(m)
	c, h := e.d(), e.d()
	e.l("mul.rn.f64 %s, %s, %s;", c, x, hexF64(0.044715))
	e.l("mul.rn.f64 %s, %s, %s;", c, c, x)
	e.l("mul.rn.f64 %s, %s, %s;", c, c, x)
	e.l("add.rn.f64 %s, %s, %s;", c, x, c)
	e.l("mul.rn.f64 %s, %s, %s;", c, c, hexF64(fmath.GeluTanhK))
	e.Tanh(c, c)
	e.l("add.rn.f64 %s, %s, 0d3FF0000000000000;", c, c)
	e.l("mul.rn.f64 %s, %s, 0d3FE0000000000000;", h, x)
	e.l("mul.rn.f64 %s, %s, %s;", dst, h, c)
}

// Softplus writes dst = fmath.Softplus(x); dst may be x.
func (e *fmathEmitter) Softplus(dst, x string) {
	m := e.mark()
	defer e.release(m)
	p, t, mx := e.p(), e.d(), e.d()
	e.l("abs.f64 %s, %s;", t, x)
	e.l("neg.f64 %s, %s;", t, t)
	e.Exp(t, t)
	e.Log1p(t, t)
	e.comment("Go's max(x, 0): x above 0 or NaN, else +0")
	e.l("setp.gtu.f64 %s, %s, 0d0000000000000000;", p, x)
	e.l("selp.f64 %s, %s, 0d0000000000000000, %s;", mx, x, p)
	e.l("add.rn.f64 %s, %s, %s;", dst, mx, t)
}

// Mish writes dst = fmath.Mish(x); dst may be x.
func (e *fmathEmitter) Mish(dst, x string) {
	m := e.mark()
	defer e.release(m)
	t := e.d()
	e.Softplus(t, x)
	e.Tanh(t, t)
	e.l("mul.rn.f64 %s, %s, %s;", dst, x, t)
}

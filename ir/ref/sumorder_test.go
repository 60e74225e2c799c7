package ref

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// The summation order (sumorder.go) is checked bit for bit: each test
// computes the definition directly, one output element at a time, and
// requires every path of the executor to give exactly its bits.

// orderSum is the definition: init, then per chunk of SumChunk products a
// fused sum from +0 added to it.
func orderSum(init float32, k int, a, b func(p int) float32) float32 {
	y := init
	for p0 := 0; p0 < k; p0 += SumChunk {
		var acc float32
		for p := p0; p < min(k, p0+SumChunk); p++ {
			acc = FMA32(a(p), b(p), acc)
		}
		y += acc
	}
	return y
}

// sameBits reports the first element where got and want differ in their
// bits (−0 and +0 differ, NaNs are equal).
func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range got {
		g, w := got[i], want[i]
		if math.Float32bits(g) == math.Float32bits(w) || (g != g && w != w) {
			continue
		}
		if bad < 3 {
			t.Errorf("%s: element %d is %v (%#08x), want %v (%#08x)", what, i, g, math.Float32bits(g), w, math.Float32bits(w))
		}
		bad++
	}
	if bad > 0 {
		t.Fatalf("%s: %d of %d elements differ", what, bad, len(got))
	}
}

// exactFMA32 is x·y + z rounded once to float32 by math/big (finite
// operands), with IEEE's signs for a zero result.
func exactFMA32(x, y, z float32) float32 {
	if math.IsInf(float64(x), 0) || math.IsInf(float64(y), 0) || math.IsInf(float64(z), 0) || x != x || y != y || z != z {
		return float32(float64(x)*float64(y) + float64(z))
	}
	s := new(big.Float).SetPrec(1000).Mul(big.NewFloat(float64(x)), big.NewFloat(float64(y)))
	s.Add(s, big.NewFloat(float64(z)))
	if s.Sign() == 0 {
		// An exact zero is +0, unless both addends are −0.
		if (x == 0 || y == 0) && math.Signbit(float64(x)) != math.Signbit(float64(y)) && math.Signbit(float64(z)) {
			return negZero
		}
		return 0
	}
	f, _ := s.Float32()
	return f
}

// fmaCases are operands that make double rounding go wrong: products on a
// float32 tie with a tiny addend of either sign, the same in the subnormal
// range and near overflow, and random ones.
func fmaCases(r *rand.Rand) [][3]float32 {
	var cs [][3]float32
	tie := float32(1 + 1.0/4096) // (1 + 2⁻¹²)² = 1 + 2⁻¹¹ + 2⁻²⁴: a tie at float32's precision
	for _, z := range []float32{0x1p-60, -0x1p-60, 0x1p-140, -0x1p-149, 0, 1, -1, 0x1p-24, -0x1p-24} {
		cs = append(cs, [3]float32{tie, tie, z}, [3]float32{-tie, tie, z}, [3]float32{tie * 0x1p-70, tie * 0x1p-70, z * 0x1p-100})
	}
	// Sums that cancel into float32's subnormal range, where ties lie at
	// other bits.
	for i := 0; i < 2000; i++ {
		x := float32(1+r.Float64()) * 0x1p-70
		y := float32(1+r.Float64()) * 0x1p-60
		z := -float32(float64(x) * float64(y))
		z = math.Float32frombits(math.Float32bits(z) + uint32(r.IntN(3)) - 1)
		cs = append(cs, [3]float32{x, y, z})
	}
	big := float32(math.MaxFloat32)
	cs = append(cs, [3]float32{big, 1, big}, [3]float32{big, 0.5, big * 0.5}, [3]float32{0x1p64, 0x1p63, -0x1p127})
	for i := 0; i < 200000; i++ {
		f := func() float32 {
			v := float32(r.NormFloat64() * math.Exp2(float64(r.IntN(40)-20)))
			if r.IntN(4) == 0 {
				// Few significant bits: exact products, ties.
				v = float32(math.Round(float64(v)*4096) / 4096)
			}
			return v
		}
		cs = append(cs, [3]float32{f(), f(), f()})
	}
	return cs
}

// TestFMA32 checks the portable fused multiply-add against math/big and,
// where the CPU has one, against the hardware's.
func TestFMA32(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	hw := sfmaAxpy
	for _, c := range fmaCases(r) {
		x, y, z := c[0], c[1], c[2]
		want := exactFMA32(x, y, z)
		if got := FMA32(x, y, z); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("FMA32(%g, %g, %g) = %g (%#08x), want %g (%#08x)", x, y, z, got, math.Float32bits(got), want, math.Float32bits(want))
		}
		acc := []float32{z}
		hw(x, []float32{y}, acc)
		if math.Float32bits(acc[0]) != math.Float32bits(want) {
			t.Fatalf("sfmaAxpy(%g, %g, %g) = %g, want %g", x, y, z, acc[0], want)
		}
	}
}

// sgemmOrder is the definition for sgemm's arguments.
func sgemmOrder(m, n, k int, alpha float32, a, b sgemmMatrix, beta float32, c []float32, ldc int) []float32 {
	at := func(x sgemmMatrix, i, j int) float32 {
		if x.trans {
			return x.data[j*x.ld+i]
		}
		return x.data[i*x.ld+j]
	}
	out := make([]float32, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var init float32
			if beta != 0 {
				init = beta * c[i*ldc+j]
			}
			out[i*n+j] = orderSum(init, k, func(p int) float32 { return at(a, i, p) }, func(p int) float32 { return alpha * at(b, p, j) })
		}
	}
	return out
}

// TestSgemmOrder runs every micro-kernel on shapes with K below, at and
// above one chunk (several, ragged), edge tiles in both dimensions, the
// tiny-product and matrix-vector paths, both transpositions, alpha and
// beta, serial and split over the cores.
func TestSgemmOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	saved := sgemmKernel
	defer func() { sgemmKernel = saved }()
	shapes := [][3]int{{1, 1, 1}, {3, 5, 7}, {16, 16, 16}, {8, 32, 255}, {9, 33, 256}, {17, 40, 257}, {13, 70, 600},
		{40, 9, 1000}, {150, 90, 513}, {64, 1, 700}, {1, 100, 300}, {200, 300, 20}}
	for _, kern := range sgemmTestKernels() {
		sgemmKernel = kern
		for _, s := range shapes {
			m, n, k := s[0], s[1], s[2]
			for v := 0; v < 4; v++ {
				ta, tb := v&1 != 0, v&2 != 0
				alpha, beta := float32(1), float32(0)
				switch v {
				case 1:
					alpha, beta = 0.3, 1
				case 2:
					beta = 0.7
				case 3:
					alpha, beta = -1.7, 1
				}
				a, b, c0, ldc := randSgemmOperands(r, m, n, k, ta, tb)
				want := sgemmOrder(m, n, k, alpha, a, b, beta, c0, ldc)
				for _, par := range []bool{false, true} {
					c := append([]float32(nil), c0...)
					sgemm(m, n, k, alpha, a, b, beta, c, ldc, par)
					got := make([]float32, 0, m*n)
					for i := 0; i < m; i++ {
						got = append(got, c[i*ldc:i*ldc+n]...)
					}
					sameBits(t, fmt.Sprintf("%s %dx%dx%d ta=%v tb=%v alpha=%v beta=%v parallel=%v", kern.name, m, n, k, ta, tb, alpha, beta, par), got, want)
				}
			}
		}
	}
}

// TestSgemmNegativeZero checks that a −0 sum reaches C as −0 on a full
// tile, an edge tile and the tiny path alike (−0 + −0).
func TestSgemmNegativeZero(t *testing.T) {
	saved := sgemmKernel
	defer func() { sgemmKernel = saved }()
	for _, kern := range sgemmTestKernels() {
		sgemmKernel = kern
		for _, s := range [][2]int{{kern.mr, kern.nr}, {kern.mr + 1, kern.nr + 3}, {2, 2}} {
			m, n, k := s[0], s[1], 200
			a := make([]float32, m*k)
			b := make([]float32, k*n)
			for i := range a {
				a[i] = -0x1p-100 // products of −2⁻²⁰⁰: −0 once rounded
			}
			for i := range b {
				b[i] = 0x1p-100
			}
			c := make([]float32, m*n)
			for i := range c {
				c[i] = negZero
			}
			sgemm(m, n, k, 1, sgemmMatrix{a, k, false}, sgemmMatrix{b, n, false}, 1, c, n, false)
			sameBits(t, fmt.Sprintf("%s %dx%d", kern.name, m, n), c, sgemmOrder(m, n, k, 1, sgemmMatrix{a, k, false}, sgemmMatrix{b, n, false}, 1, c, n))
			for i, v := range c {
				if math.Float32bits(v) != 0x80000000 {
					t.Fatalf("%s %dx%d: element %d is %v, want −0", kern.name, m, n, i, v)
				}
			}
		}
	}
}

// orderConv is the definition for a convolution: for every output element
// its group's K = Cg·prod(kernel) products in (c, window offset) order,
// a padded tap taking x = 0.
func orderConv(cc nnConvCase, x, w, b []float32) (shape []int, y []float32) {
	padB, out := naiveConvGeom(cc)
	cg, mg := cc.c/cc.group, cc.m/cc.group
	shape = append([]int{cc.n, cc.m}, out...)
	y = make([]float32, ir.NumElements(shape))
	kN, inN := ir.NumElements(cc.kernel), ir.NumElements(cc.in)
	pos := make([]int, len(cc.in))
	kk := make([]int, len(cc.kernel))
	for n := 0; n < cc.n; n++ {
		for m := 0; m < cc.m; m++ {
			gi := m / mg
			nnIter(out, func(o []int) {
				var init float32
				if b != nil {
					init = b[m]
				}
				xAt := func(p int) float32 {
					c := gi*cg + p/kN
					unravelInto(p%kN, cc.kernel, kk)
					for d := range pos {
						pos[d] = o[d]*cc.strides[d] - padB[d] + kk[d]*cc.dilation[d]
						if pos[d] < 0 || pos[d] >= cc.in[d] {
							return 0
						}
					}
					return x[(n*cc.c+c)*inN+nnFlat(cc.in, pos)]
				}
				wAt := func(p int) float32 { return w[m*cg*kN+p] }
				y[(n*cc.m+m)*ir.NumElements(out)+nnFlat(out, o)] = orderSum(init, cg*kN, wAt, xAt)
			})
		}
	}
	return shape, y
}

// TestConvOrder checks Conv bit for bit on every path: the implicit
// im2col (output wider than its channels), the im2col buffer (narrow
// output, other ranks), 1×1 direct, grouped, depthwise (its own tap loop,
// strided, dilated, a window of more than one chunk), K below, at and
// above 256, the tiny GEMM, serial and parallel tasks.
func TestConvOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	two := func(v int) []int { return []int{v, v} }
	cases := []nnConvCase{
		{n: 1, c: 32, m: 16, group: 1, in: two(12), kernel: two(3), strides: two(1), dilation: two(1), padB: two(1), padE: two(1), bias: true},     // K 288, implicit
		{n: 2, c: 64, m: 40, group: 1, in: two(5), kernel: two(3), strides: two(2), dilation: two(1), padB: two(1), padE: two(0), bias: true},      // K 576, buffer (narrow)
		{n: 1, c: 256, m: 8, group: 1, in: two(6), kernel: two(1), strides: two(1), dilation: two(1), padB: two(0), padE: two(0), bias: false},     // 1×1 direct, K 256
		{n: 1, c: 300, m: 7, group: 1, in: []int{3, 5}, kernel: two(1), strides: two(1), dilation: two(1), padB: two(0), padE: two(0), bias: true}, // direct, K 300
		{n: 3, c: 12, m: 6, group: 3, in: two(7), kernel: []int{3, 2}, strides: []int{1, 2}, dilation: []int{2, 1}, padB: []int{2, 0}, padE: []int{1, 1}, bias: true},
		{n: 1, c: 96, m: 12, group: 4, in: two(9), kernel: two(5), strides: two(1), dilation: two(1), padB: two(2), padE: two(2), bias: true}, // K 600 a group
		{n: 2, c: 8, m: 8, group: 8, in: two(11), kernel: two(3), strides: two(2), dilation: two(1), padB: two(1), padE: two(1), bias: true},  // depthwise, strided
		{n: 1, c: 5, m: 5, group: 5, in: two(9), kernel: two(3), strides: two(1), dilation: two(3), padB: two(3), padE: two(2), bias: false},  // depthwise, dilated
		{n: 1, c: 3, m: 3, group: 3, in: two(20), kernel: two(17), strides: two(1), dilation: two(1), padB: two(8), padE: two(8), bias: true}, // depthwise, 289 taps
		{n: 1, c: 2, m: 2, group: 2, in: []int{9, 13}, kernel: []int{1, 7}, strides: []int{1, 3}, dilation: two(1), padB: []int{0, 5}, padE: []int{0, 6}, bias: true},
		{n: 1, c: 3, m: 4, group: 1, in: two(4), kernel: two(2), strides: two(1), dilation: two(1), padB: two(0), padE: two(0), bias: true}, // tiny GEMM
		{n: 1, c: 20, m: 6, group: 2, in: []int{5, 4, 6}, kernel: []int{3, 2, 3}, strides: []int{1, 2, 1}, dilation: []int{1, 1, 2}, padB: []int{1, 0, 2}, padE: []int{1, 1, 1}, bias: true},
		{n: 8, c: 16, m: 16, group: 1, in: two(6), kernel: two(3), strides: two(1), dilation: two(1), padB: two(1), padE: two(1), bias: true}, // tasks side by side
	}
	for i := 0; i < 30; i++ {
		cases = append(cases, nnRandConvCase(r, 1+i%3))
	}
	for _, cc := range cases {
		x, w, b, bd := nnRandConvOperands(r, cc, []int{cc.m, cc.c / cc.group})
		got, err := nnRunNode("Conv", cc.attrs(), 1, x, w, b)
		if err != nil {
			t.Fatalf("%v: %v", cc, err)
		}
		shape, want := orderConv(cc, x.Float32s(), w.Float32s(), bd)
		if fmt.Sprint(got[0].Shape) != fmt.Sprint(shape) {
			t.Fatalf("%v: shape %v, want %v", cc, got[0].Shape, shape)
		}
		sameBits(t, cc.String(), got[0].Float32s(), want)
	}
}

// TestConvDepthwisePaddingSigns checks the padded taps of the depthwise
// loop against the GEMM's: a weight that is not finite makes NaN at every
// output whose window reaches the padding, and a −0 sum meets +0 there.
func TestConvDepthwisePaddingSigns(t *testing.T) {
	for _, stride := range []int{1, 2} {
		cc := nnConvCase{n: 1, c: 2, m: 2, group: 2, in: []int{4, 5}, kernel: []int{3, 3}, strides: []int{stride, stride}, dilation: []int{1, 1}, padB: []int{1, 1}, padE: []int{1, 1}}
		x := ir.NewTensor(ir.Float32, 1, 2, 4, 5)
		xs := x.Float32s()
		for i := range xs {
			xs[i] = 0x1p-80
		}
		w := ir.FromFloat32([]float32{-0x1p-80, 2, -1, 3, -0x1p-80, 1, 0, 1, -2, // −0 sums where only the corner taps land
			float32(math.Inf(1)), 1, 1, 1, 1, 1, 1, 1, 1}, 2, 1, 3, 3)
		got, err := nnRunNode("Conv", cc.attrs(), 1, x, w)
		if err != nil {
			t.Fatal(err)
		}
		_, want := orderConv(cc, xs, w.Float32s(), nil)
		sameBits(t, fmt.Sprintf("depthwise padding, stride %d", stride), got[0].Float32s(), want)
	}
}

// orderConvTranspose is the definition for a transposed convolution: the
// bias, then for each window offset in order whose forward convolution
// reads this position, the group's Cg products summed in order from +0.
func orderConvTranspose(cc nnConvTCase, out, padB []int, x, w, b []float32) []float32 {
	k := len(cc.in)
	cg, mg := cc.c/cc.group, cc.m/cc.group
	outN, inN, kN := ir.NumElements(out), ir.NumElements(cc.in), ir.NumElements(cc.kernel)
	y := make([]float32, cc.n*cc.m*outN)
	i := make([]int, k)
	for n := 0; n < cc.n; n++ {
		for m := 0; m < cc.m; m++ {
			gi, mo := m/mg, m%mg
			nnIter(out, func(o []int) {
				var v float32
				if b != nil {
					v = b[m]
				}
				nnIter(cc.kernel, func(kk []int) {
					for d := 0; d < k; d++ {
						t := o[d] + padB[d] - kk[d]*cc.dilation[d]
						if t < 0 || t%cc.strides[d] != 0 || t/cc.strides[d] >= cc.in[d] {
							return
						}
						i[d] = t / cc.strides[d]
					}
					at := nnFlat(cc.in, i)
					col := orderSum(0, cg, func(c int) float32 {
						return w[((gi*cg+c)*mg+mo)*kN+nnFlat(cc.kernel, kk)]
					}, func(c int) float32 {
						return x[(n*cc.c+gi*cg+c)*inN+at]
					})
					v += col
				})
				y[(n*cc.m+m)*outN+nnFlat(out, o)] = v
			})
		}
	}
	return y
}

// TestConvTransposeOrder checks ConvTranspose bit for bit, with Cg below,
// at and above one chunk, grouped, strided, dilated, padded, 1-d to 3-d.
func TestConvTransposeOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	two := func(v int) []int { return []int{v, v} }
	cases := []nnConvTCase{
		{nnConvCase: nnConvCase{n: 1, c: 300, m: 3, group: 1, in: two(4), kernel: two(3), strides: two(2), dilation: two(1), padB: two(1), padE: two(0), bias: true}, outPad: two(1)},
		{nnConvCase: nnConvCase{n: 2, c: 512, m: 4, group: 2, in: []int{3, 5}, kernel: []int{2, 3}, strides: []int{2, 1}, dilation: []int{1, 2}, padB: []int{0, 1}, padE: []int{1, 0}, bias: false}, outPad: two(0)},
		{nnConvCase: nnConvCase{n: 1, c: 4, m: 6, group: 2, in: two(5), kernel: two(3), strides: two(3), dilation: two(2), padB: two(2), padE: two(1), bias: true}, outPad: two(1)},
		{nnConvCase: nnConvCase{n: 1, c: 40, m: 5, group: 1, in: []int{4, 3, 5}, kernel: []int{2, 3, 2}, strides: []int{2, 1, 2}, dilation: []int{1, 1, 1}, padB: []int{0, 1, 0}, padE: []int{1, 1, 0}, bias: true}, outPad: []int{1, 0, 0}},
		{nnConvCase: nnConvCase{n: 3, c: 257, m: 2, group: 1, in: []int{7}, kernel: []int{4}, strides: []int{2}, dilation: []int{1}, padB: []int{1}, padE: []int{2}, bias: true}, outPad: []int{0}},
	}
	for _, cc := range cases {
		a := cc.attrs()
		a["output_padding"] = ir.Attr{Kind: ir.AttrInts, Ints: ints64(cc.outPad...)}
		x, w, b, bd := nnRandConvOperands(r, cc.nnConvCase, []int{cc.c, cc.m / cc.group})
		got, err := nnRunNode("ConvTranspose", a, 1, x, w, b)
		if err != nil {
			t.Fatalf("%v: %v", cc, err)
		}
		out := got[0].Shape[2:]
		want := orderConvTranspose(cc, out, cc.padB, x.Float32s(), w.Float32s(), bd)
		sameBits(t, cc.String(), got[0].Float32s(), want)
	}
}

// TestGemmMatMulOrder checks Gemm (transpositions, alpha, beta, C
// broadcast as a row, a column, one value and whole) and MatMul (batched,
// broadcast either way, 1-d operands) bit for bit.
func TestGemmMatMulOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, k := range []int{7, 256, 300, 700} {
		for v := 0; v < 4; v++ {
			m, n := 5, 37
			ta, tb := v&1 != 0, v&2 != 0
			alpha, beta := []float32{1, 0.25, 1.3, -2.1}[v], []float32{1, 0, 0.7, 1}[v]
			as, bs := []int{m, k}, []int{k, n}
			if ta {
				as = []int{k, m}
			}
			if tb {
				bs = []int{n, k}
			}
			cs := [][]int{{n}, {m, 1}, {}, {m, n}}[v]
			a, b, c := nnRandTensor(r, as...), nnRandTensor(r, bs...), nnRandTensor(r, cs...)
			attrs := ir.Attrs{
				"alpha":  {Kind: ir.AttrFloat, Float: alpha},
				"beta":   {Kind: ir.AttrFloat, Float: beta},
				"transA": {Kind: ir.AttrInt, Int: int64(v & 1)},
				"transB": {Kind: ir.AttrInt, Int: int64(v >> 1)},
			}
			got, err := nnRunNode("Gemm", attrs, 1, a, b, c)
			if err != nil {
				t.Fatal(err)
			}
			cm := make([]float32, m*n)
			if err := nnBroadcastC(c.Float32s(), cs, cm, m, n); err != nil {
				t.Fatal(err)
			}
			at := func(x *ir.Tensor, tr bool, i, j int) float32 {
				if tr {
					return x.Float32s()[j*x.Shape[1]+i]
				}
				return x.Float32s()[i*x.Shape[1]+j]
			}
			want := make([]float32, m*n)
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					var init float32
					if beta != 0 {
						init = beta * cm[i*n+j]
					}
					want[i*n+j] = orderSum(init, k, func(p int) float32 { return at(a, ta, i, p) }, func(p int) float32 { return alpha * at(b, tb, p, j) })
				}
			}
			sameBits(t, fmt.Sprintf("Gemm k=%d case %d", k, v), got[0].Float32s(), want)
		}
	}
	for _, s := range [][2][]int{
		{{2, 3, 4, 300}, {2, 3, 300, 5}},
		{{2, 3, 4, 257}, {257, 6}},
		{{3, 256}, {2, 1, 256, 4}},
		{{1, 4, 513}, {3, 513, 2}},
		{{600}, {2, 600, 3}},
		{{2, 5, 260}, {260}},
		{{7, 40}, {40, 9}},
	} {
		a, b := nnRandTensor(r, s[0]...), nnRandTensor(r, s[1]...)
		got, err := nnRunNode("MatMul", nil, 1, a, b)
		if err != nil {
			t.Fatal(err)
		}
		m, k, n, aOff, bOff, err := nnMatMulPlan(s[0], s[1])
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float32, len(aOff)*m*n)
		ad, bd := a.Float32s(), b.Float32s()
		for q := range aOff {
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					want[(q*m+i)*n+j] = orderSum(0, k, func(p int) float32 { return ad[aOff[q]+i*k+p] }, func(p int) float32 { return bd[bOff[q]+p*n+j] })
				}
			}
		}
		sameBits(t, fmt.Sprintf("MatMul %v × %v", s[0], s[1]), got[0].Float32s(), want)
	}
}

package gputest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir/sqir"
)

// stemCase is an RGB-like stem as the INT8 recipes leave it: the input's
// QuantizeLinear, then SpaceToDepth (bs > 1, space-to-depth) and/or a
// channel Pad with the zero point (pad-channels), then a QConv with an f32
// output.
type stemCase struct {
	c, h, w, bs, cp int // input channels and image; block size (1: none); channels after the Pad (0: none)
	k               int // the QConv's kernel (k×k, stride 1, pad k/2)
}

// text writes the case's graph, its weights drawn from r.
func (s stemCase) text(r *rand.Rand) string {
	cin := s.c * s.bs * s.bs
	var b strings.Builder
	fmt.Fprintf(&b, "graph \"stem\" (%%x: f32[N,%d,%d,%d]) -> (%%y) {\n", s.c, s.h, s.w)
	b.WriteString("  const %sc: f32[] = [0.05]\n  const %zp: i8[] = [-5]\n")
	oh, ow := s.h/s.bs, s.w/s.bs
	cur := "%q"
	fmt.Fprintf(&b, "  %%q: i8[N,%d,%d,%d] quant(scale=[0.05], zp=[-5]) = QuantizeLinear \"q\" (%%x, %%sc, %%zp)\n", s.c, s.h, s.w)
	if s.bs > 1 {
		fmt.Fprintf(&b, "  %%s2d: i8[N,%d,%d,%d] quant(scale=[0.05], zp=[-5]) = SpaceToDepth \"s2d\" (%%q) {blocksize = %d}\n", cin, oh, ow, s.bs)
		cur = "%s2d"
	}
	if s.cp > 0 {
		fmt.Fprintf(&b, "  const %%pads: i64[8] = [0, 0, 0, 0, 0, %d, 0, 0]\n", s.cp-cin)
		fmt.Fprintf(&b, "  %%p: i8[N,%d,%d,%d] quant(scale=[0.05], zp=[-5]) = Pad \"pad\" (%s, %%pads, %%zp)\n", s.cp, oh, ow, cur)
		cur, cin = "%p", s.cp
	}
	const m = 8
	ws := make([]string, m*cin*s.k*s.k)
	for i := range ws {
		ws[i] = strconv.Itoa(r.IntN(255) - 127)
	}
	sw, mul := make([]string, m), make([]string, m)
	for i := range sw {
		v := math.Ldexp(1, -1-i%3) // 0.5, 0.25, 0.125: sx·sw exact in f32
		sw[i] = strconv.FormatFloat(v, 'g', -1, 64)
		mul[i] = strconv.FormatFloat(float64(float32(0.05)*float32(v)), 'g', -1, 32)
	}
	zeros := strings.Repeat("0, ", m-1) + "0"
	fmt.Fprintf(&b, "  const %%w: i8[%d,%d,%d,%d] quant(axis=0, scale=[%s], zp=[%s]) = [%s]\n", m, cin, s.k, s.k, strings.Join(sw, ", "), zeros, strings.Join(ws, ", "))
	fmt.Fprintf(&b, "  const %%m: f32[%d] = [%s]\n", m, strings.Join(mul, ", "))
	p := s.k / 2
	fmt.Fprintf(&b, "  %%y: f32[N,%d,%d,%d] = QConv \"conv\" (%s, %%w, %%m) {pads = [%d, %d, %d, %d]}\n}\n", m, oh+2*p-s.k+1, ow+2*p-s.k+1, cur, p, p, p, p)
	return b.String()
}

// TestStemQuantize: the input quantize fused with the SpaceToDepth and the
// zero-point channel Pad after it (QuantizePixelKernel) writes what the
// three nodes compute: the QConv that reads it equals the reference
// executor bit for bit, at batch 1, 2 and 9. The plan is checked on any
// machine.
//
//	.gpu/ampere.test -test.run TestStemQuantize -test.v
func TestStemQuantize(t *testing.T) {
	cases := []stemCase{
		{c: 3, h: 12, w: 10, bs: 1, cp: 4, k: 3},  // pad-channels' RGB stem
		{c: 3, h: 12, w: 10, bs: 1, cp: 8, k: 1},  // padded to 8
		{c: 4, h: 8, w: 6, bs: 2, k: 1},           // SpaceToDepth alone: 16 channels
		{c: 3, h: 14, w: 10, bs: 2, cp: 16, k: 3}, // ResNet's stem after space-to-depth
		{c: 3, h: 9, w: 12, bs: 3, cp: 32, k: 1},  // 27 channels padded to 32
		{c: 1, h: 8, w: 8, bs: 2, cp: 8, k: 3},    // a grey image: 4 channels padded to 8
		{c: 2, h: 6, w: 4, bs: 2, cp: 12, k: 1},   // 8 → 12: three words a pixel
		{c: 3, h: 16, w: 12, bs: 2, cp: 16, k: 3}, // ResNet's stem, two pixels a thread (OW even)
		{c: 1, h: 8, w: 12, bs: 4, k: 1},          // block size 4: 16-byte loads, OW 3 odd
		{c: 2, h: 8, w: 16, bs: 4, k: 1},          // block size 4, two pixels a thread
	}
	for i, s := range cases {
		name := fmt.Sprintf("c%d_%dx%d_bs%d_cp%d_k%d", s.c, s.h, s.w, s.bs, s.cp, s.k)
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 77))
			g, err := sqir.ParseAndVerify(name, []byte(s.text(r)))
			if err != nil {
				t.Fatal(err)
			}
			e, err := ampere.Plan(g, "test")
			if err != nil {
				t.Fatal(err)
			}
			cp := s.cp
			if cp == 0 {
				cp = s.c * s.bs * s.bs
			}
			var first []string
			for _, st := range e.Steps {
				if st.Node == "s2d" || st.Node == "pad" {
					t.Errorf("node %s has a launch of its own (%s), want it fused into the quantize", st.Node, st.Kernel)
				}
				if st.Node == "q" {
					first = append(first, st.Kernel)
				}
			}
			want := kernels.QuantizePixelKernel(cp)
			if kernels.QuantizePixelVecFits(cp, s.c, s.bs) {
				pix := 1 + (s.w/s.bs+1)%2 // two pixels a thread where OW is even
				want = kernels.QuantizePixelVecKernel(cp, s.c, s.bs, pix)
			}
			if len(first) != 1 || first[0] != want {
				t.Fatalf("the quantize runs %v, want %s", first, want)
			}
			needGPU(t)
			for _, batch := range []int{1, 2, 9} {
				x := randomInput(g, batch, rand.New(rand.NewPCG(uint64(batch), 5)), 3)
				x.Float32s()[0] = 0.025 // exactly half a step: rounds to even
				got, want := runBoth(t, g, e, batch, x)
				for j := 0; j < want[0].Len(); j++ {
					if a, b := got[0].AsFloat64(j), want[0].AsFloat64(j); math.Float64bits(a) != math.Float64bits(b) {
						t.Fatalf("%s, batch %d: element %d is %v, want %v", first[0], batch, j, a, b)
					}
				}
			}
		})
	}
}

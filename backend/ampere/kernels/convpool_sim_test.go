package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/pack"
)

// convPoolProblem is a QConv followed by a 3×3/2 pad-1 max pool for the
// PTX interpreter: the conv part is a simConv (its want is the QConv's
// definition), the conv's end pads eh, ew given separately (the stem's
// pads are [2,2,1,1]).
type convPoolProblem struct {
	*simConv
}

// newConvPoolProblem draws a problem: n images of h×w×16, a kh×kw kernel
// with leading pads ph, pw and trailing pads eh, ew, nOut channels.
func newConvPoolProblem(r *rand.Rand, n, h, w, kh, kw, ph, pw, eh, ew, nOut int) convPoolProblem {
	s := ConvShape{C: 16, H: h, W: w, KH: kh, KW: kw, SH: 1, SW: 1, PH: ph, PW: pw, DH: 1, DW: 1}
	p := newSimConv(r, n, s, nOut, false, false, false)
	p.s.OH, p.s.OW = h+ph+eh-kh+1, w+pw+ew-kw+1
	return convPoolProblem{p}
}

// wantPooled is the definition: the QConv's int8 output (simConv.want),
// then a 3×3 stride-2 max pool that ignores its pad-1 border.
func (p convPoolProblem) wantPooled(t *testing.T, biasP []int32) []byte {
	conv := p.want(t, biasP)
	oh, ow := p.s.OH, p.s.OW
	poh, pow := PoolShape(oh, ow)
	out := make([]byte, p.n*poh*pow*p.nOut)
	for b := 0; b < p.n; b++ {
		for y := 0; y < poh; y++ {
			for x := 0; x < pow; x++ {
				for o := 0; o < p.nOut; o++ {
					best := int8(math.MinInt8)
					seen := false
					for dy := 0; dy < 3; dy++ {
						for dx := 0; dx < 3; dx++ {
							cy, cx := 2*y-1+dy, 2*x-1+dx
							if cy < 0 || cy >= oh || cx < 0 || cx >= ow {
								continue
							}
							v := int8(conv[((b*oh+cy)*ow+cx)*p.nOut+o])
							if !seen || v > best {
								best, seen = v, true
							}
						}
					}
					out[((b*poh+y)*pow+x)*p.nOut+o] = byte(best)
				}
			}
		}
	}
	return out
}

// simulateConvPool runs the kernel of c (its PTX text passed through edit,
// for mutation checks) on the problem and returns the pooled output.
func (p convPoolProblem) simulateConvPool(t *testing.T, c ConvPoolConfig, edit func(string) string) (got, want []byte) {
	t.Helper()
	text, err := c.PTX()
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		text = edit(text)
	}
	k, err := parseSim(text, 0)
	if err != nil {
		t.Fatal(err)
	}
	kd := p.s.KH * p.s.KW * p.s.C
	dn, err := pack.PackDense(p.w, p.nOut, kd, c.BN())
	if err != nil {
		t.Fatal(err)
	}
	var wb []byte
	for _, v := range dn.Values {
		wb = append(wb, byte(v))
	}
	biasP, err := pack.FoldZeroPoint(p.bias, p.w, p.nOut, kd, dn.NPad, p.s.ZX)
	if err != nil {
		t.Fatal(err)
	}
	m := p.n * p.s.OH * p.s.OW
	poh, pow := PoolShape(p.s.OH, p.s.OW)
	prm := GemmParams{M: m, N: p.nOut, K: kd, NPad: dn.NPad, KPad: dn.KPad, LDA: p.s.C, LDR: p.nOut, LDC: p.nOut,
		QLo: p.qlo, QHi: p.qhi, ZY: p.zy, Conv: p.s}
	if err := c.Check(prm); err != nil {
		t.Fatal(err)
	}
	mc := &simMachine{k: k, threads: c.Threads()}
	x := make([]byte, len(p.x))
	for i, v := range p.x {
		x[i] = byte(v)
	}
	bb := make([]byte, 4*dn.NPad)
	for i, v := range biasP {
		put32(bb[4*i:], uint32(v))
	}
	mb := make([]byte, 4*dn.NPad)
	for i, v := range p.mult {
		put32(mb[4*i:], math.Float32bits(v))
	}
	y := make([]byte, p.n*poh*pow*p.nOut)
	for i := range y {
		y[i] = 0xA5
	}
	s32 := func(x int32) uint64 { return uint64(uint32(x)) }
	mc.params = map[string]uint64{
		"p_x": mc.newBuffer(x), "p_w": mc.newBuffer(wb), "p_bias": mc.newBuffer(bb), "p_mult": mc.newBuffer(mb), "p_y": mc.newBuffer(y),
		"p_m": uint64(m), "p_n": uint64(p.nOut), "p_ldc": uint64(p.nOut),
		"p_qlo": s32(p.qlo), "p_qhi": s32(p.qhi), "p_zy": s32(p.zy), "p_zx": s32(p.s.ZX),
		"p_poh": uint64(poh), "p_pow": uint64(pow),
	}
	for i, v := range p.s.LaunchU32s() {
		mc.params[convParams[i].name] = uint64(v)
	}
	gx := (p.n*ConvPoolPatchesOf(p.s.OH, p.s.OW) + c.Patches - 1) / c.Patches
	for by := 0; by < dn.NPad/c.BN(); by++ {
		for bx := 0; bx < gx; bx++ {
			if err := mc.run(uint32(bx), uint32(by), 0); err != nil {
				t.Fatalf("%s block (%d, %d): %v", c.Name(), bx, by, err)
			}
		}
	}
	return y, p.wantPooled(t, biasP)
}

// TestConvPoolSimulated runs the fused conv + max-pool kernel's PTX in the
// CPU interpreter and requires its pooled output to equal the definition
// (the QConv, then the max pool) bit for bit, with no shared-memory race
// and no access outside a buffer: the stem's 4×4 kernel with pads
// [2,2,1,1] on images whose conv output is 12×12, 13×9 (ragged patches,
// odd sides: the last window's third row or column is outside), 7×7 and
// 17×20 (two patches a side), batches 1 to 3, one to four patches a block
// (the last block's patches past the batch), 64 and 128 channels (two
// channel blocks) and 48 (the last chunk past N); a 3×3 pad-1 kernel
// (K = 144, padded to 192); products two tiles at a time (Group 2).
func TestConvPoolSimulated(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(31, 32))
	for _, tc := range []struct {
		n, h, w, kh, kw, ph, pw, eh, ew, nOut, patches int
	}{
		{1, 12, 12, 4, 4, 2, 2, 1, 1, 64, 1},
		{3, 13, 9, 4, 4, 2, 2, 1, 1, 64, 2},
		{2, 7, 7, 4, 4, 2, 2, 1, 1, 64, 4},
		{1, 17, 20, 4, 4, 2, 2, 1, 1, 128, 3},
		{2, 9, 11, 4, 4, 2, 2, 1, 1, 48, 4},
		{1, 14, 13, 4, 4, 2, 2, 1, 1, 64, -2}, // patches 2, Group 2 (the _g2_b5 kernel's code)
		{2, 10, 7, 3, 3, 1, 1, 1, 1, 64, 2},
	} {
		p := newConvPoolProblem(r, tc.n, tc.h, tc.w, tc.kh, tc.kw, tc.ph, tc.pw, tc.eh, tc.ew, tc.nOut)
		c := ConvPoolConfig{KH: tc.kh, KW: tc.kw, Patches: tc.patches}
		if tc.patches < 0 {
			c.Patches, c.Group = -tc.patches, 2
		}
		t.Run(fmt.Sprintf("n%d_%dx%d_k%dx%d_m%d_%s", tc.n, tc.h, tc.w, tc.kh, tc.kw, tc.nOut, c.Name()), func(t *testing.T) {
			got, want := p.simulateConvPool(t, c, nil)
			if string(got) != string(want) {
				bad := 0
				for i := range got {
					if got[i] != want[i] {
						if bad < 5 {
							t.Errorf("pooled byte %d (pixel %d, channel %d) = %d, want %d", i, i/tc.nOut, i%tc.nOut, int8(got[i]), int8(want[i]))
						}
						bad++
					}
				}
				t.Errorf("%d of %d pooled bytes differ", bad, len(got))
			}
		})
	}
}

// TestConvPoolSimulatedMutations: the simulation sees a broken kernel, on
// a 13x9 conv output (odd sides: the last windows' third row and column
// are outside). Counting the conv pixels outside the image, at the top or
// at the right, changes windows at those edges; window rows one column
// short of the region's width read the wrong conv pixels.
func TestConvPoolSimulatedMutations(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(33, 34))
	p := newConvPoolProblem(r, 1, 13, 9, 4, 4, 2, 2, 1, 1, 64)
	c := ConvPoolConfig{KH: 4, KW: 4, Patches: 1}
	for _, m := range []struct{ name, from, to string }{
		{"top", "setp.ne.u32 %pr0, %r, 0;", "setp.ne.u32 %pr0, %r, 4096;"},
		{"right", "setp.lt.u32 %pc2, %tmp2, %OW;", "setp.lt.u32 %pc2, %tmp2, 4096;"},
		{"origin", "mul.lo.u32 %tmp, %r, 34;", "mul.lo.u32 %tmp, %r, 33;"},
	} {
		t.Run(m.name, func(t *testing.T) {
			text, err := c.PTX()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text, m.from) {
				t.Fatalf("the kernel has no %q to break", m.from)
			}
			got, want := p.simulateConvPool(t, c, func(s string) string { return strings.ReplaceAll(s, m.from, m.to) })
			if string(got) == string(want) {
				t.Errorf("the broken kernel (%s) still gives the definition's output", m.name)
			}
		})
	}
}

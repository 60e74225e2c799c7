package gputest

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
)

var perfVariantBatches = flag.String("perfvariants", "256,1", "batches of TestPerfVariants, comma-separated")

// resnet34Convs are ResNet-34's convolution shapes (224² input), one of
// each kind a stage: the 3×3 stride-1 body convolution (plain, and with
// the block's residual), the stage's first 3×3 stride-2 convolution and
// its 1×1 stride-2 downsample.
var resnet34Convs = []struct {
	name           string
	c, h, m, kh, s int // input channels, input size, output channels, kernel, stride
	res            bool
}{
	{"layer1 3x3 64->64 56x56", 64, 56, 64, 3, 1, false},
	{"layer1 3x3 64->64 56x56 +res", 64, 56, 64, 3, 1, true},
	{"layer2 3x3 64->128 s2 56->28", 64, 56, 128, 3, 2, false},
	{"layer2 1x1 64->128 s2 down", 64, 56, 128, 1, 2, false},
	{"layer2 3x3 128->128 28x28", 128, 28, 128, 3, 1, false},
	{"layer2 3x3 128->128 28x28 +res", 128, 28, 128, 3, 1, true},
	{"layer3 3x3 128->256 s2 28->14", 128, 28, 256, 3, 2, false},
	{"layer3 1x1 128->256 s2 down", 128, 28, 256, 1, 2, false},
	{"layer3 3x3 256->256 14x14", 256, 14, 256, 3, 1, false},
	{"layer3 3x3 256->256 14x14 +res", 256, 14, 256, 3, 1, true},
	{"layer4 3x3 256->512 s2 14->7", 256, 14, 512, 3, 2, false},
	{"layer4 1x1 256->512 s2 down", 256, 14, 512, 1, 2, false},
	{"layer4 3x3 512->512 7x7", 512, 7, 512, 3, 1, false},
	{"layer4 3x3 512->512 7x7 +res", 512, 7, 512, 3, 1, true},
}

// TestPerfVariants times, side by side in one run, every GEMM variant the
// planner offers a tuning cache (ampere.GemmCandidates: its own choice
// first) as the implicit-GEMM convolution the planner launches (running
// taps, int8 out + relu, residual where the block has one), dense and 2:4
// sparse on the same pruned weights, on ResNet-34's convolutions at
// batches 256 and 1 (-perfvariants). One line a layer and variant: µs,
// dense-equivalent TOPS (2·M·N·K / time), sparse over dense, and each
// kind's speed-up over the planner's variant. Skipped with -test.short.
func TestPerfVariants(t *testing.T) {
	g := needGPU(t)
	if testing.Short() {
		t.Skip("timing skipped in -short mode")
	}
	var batches []int
	for _, f := range strings.Split(*perfVariantBatches, ",") {
		b, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || b <= 0 {
			t.Fatalf("-perfvariants %q: want positive batches separated by commas", *perfVariantBatches)
		}
		batches = append(batches, b)
	}
	r := rand.New(rand.NewPCG(91, 92))
	lines := []string{fmt.Sprintf("implicit-GEMM convolutions of ResNet-34 on %s, int8 out + relu, median of %d launches; vs planner: time of the planner's variant over this one's", g.desc, perfIters),
		fmt.Sprintf("%5s %-32s %-38s | %9s %6s | %9s %6s | %5s | %-17s", "batch", "layer", "variant", "dense us", "TOPS", "sparse us", "TOPS", "sp/dn", "vs planner dn/sp")}
	for _, batch := range batches {
		for _, l := range resnet34Convs {
			oh := (l.h+2*(l.kh/2)-l.kh)/l.s + 1
			m, k := batch*oh*oh, l.kh*l.kh*l.c
			w := rand24(r, l.m, k)
			x := randInt8(r, batch*l.h*l.h*l.c)
			var res []int8
			if l.res {
				res = randInt8(r, m*l.m)
			}
			flop := 2 * float64(m) * float64(l.m) * float64(k)
			// The candidates differ only in the pipeline flags, the same
			// for dense and sparse.
			var base [2]float64
			for ci, cand := range ampere.GemmCandidates(false, l.res, false, "", l.m) {
				us := [2]float64{math.NaN(), math.NaN()}
				for si, sparse := range []bool{false, true} {
					cfg := cand
					cfg.Sparse = sparse
					t.Run(fmt.Sprintf("b%d_%s_%s", batch, strings.ReplaceAll(l.name, " ", "_"), cfg.Name()), func(t *testing.T) {
						us[si] = timeConv(t, g, cfg, l.c, l.h, l.m, l.kh, l.s, batch, w, x, res)
					})
				}
				if ci == 0 {
					base = us
				}
				lines = append(lines, fmt.Sprintf("%5d %-32s %-38s | %9.1f %6.1f | %9.1f %6.1f | %4.2fx | %6.2fx %6.2fx",
					batch, l.name, pipeName(cand), us[0], flop/us[0]/1e6, us[1], flop/us[1]/1e6, us[0]/us[1], base[0]/us[0], base[1]/us[1]))
			}
		}
	}
	t.Log("\n" + strings.Join(lines, "\n"))
}

// timeConv uploads one implicit-GEMM convolution (NHWC input x, weights w
// in (kh, kw, c) order, 2:4 along c, residual res or none) for the variant
// cfg and times it.
func timeConv(t *testing.T, g *gpu, cfg kernels.GemmConfig, c, h, m, kh, s, batch int, w, x, res []int8) float64 {
	t.Helper()
	oh := (h+2*(kh/2)-kh)/s + 1
	rows, k := batch*oh*oh, kh*kh*c
	p := newQGemm(rand.New(rand.NewPCG(1, 2)), 1, m, k, cfg.Sparse, false, false, ir.ActRelu)
	p.m, p.a, p.w, p.ldcExtra = rows, nil, w, 0
	if res != nil {
		p.r, p.sr, p.zr = res, p.sy, 3
	}
	p.pipe = cfg
	q := p.upload(t, g)
	q.cfg.Conv, q.cfg.ConvStep = true, c%64 == 0
	q.fn = g.gemmFunction(t, q.cfg)
	q.x = buf(t, g, x)
	q.prm.LDA = c
	q.prm.Conv = kernels.ConvShape{C: c, H: h, W: h, OH: oh, OW: oh, KH: kh, KW: kh, SH: s, SW: s, PH: kh / 2, PW: kh / 2, DH: 1, DW: 1, ZX: p.zx}
	if err := q.cfg.Check(q.prm); err != nil {
		t.Fatal(err)
	}
	return timeLaunch(t, g, q)
}

package gputest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/ir"
)

// resnet50Pointwise are ResNet-50's 1×1 stride-1 convolutions at batch 256
// as the planner runs them: plain GEMMs on the NHWC rows (M = 256·H·W, N
// output channels, K input channels), the bottleneck's last one with the
// block's residual. In the H200 engine profile (2026-12-07) layer1's
// 802816×256×64 ones took 181 µs (no residual) and 266 µs (residual) at
// 30–36 % of DRAM bandwidth and 5 % of the instruction ceiling: bound by
// neither, 18 % of the engine.
var resnet50Pointwise = []struct {
	name    string
	m, n, k int
	res     bool
}{
	{"layer1 conv1 64->64", 802816, 64, 64, false},
	{"layer1 conv1 256->64", 802816, 64, 256, false},
	{"layer1 conv3 64->256", 802816, 256, 64, false},
	{"layer1 conv3 64->256 +res", 802816, 256, 64, true},
	{"layer2 conv1 256->128", 802816, 128, 256, false},
	{"layer2 conv3 128->512 +res", 200704, 512, 128, true},
	{"layer3 conv3 256->1024 +res", 50176, 1024, 256, true},
	{"layer4 conv3 512->2048 +res", 12544, 2048, 512, true},
}

// TestPerfPointwise times, side by side in one run, every GEMM variant the
// planner offers a tuning cache (its own choice first) on resnet50Pointwise,
// dense and 2:4 on the same pruned weights, int8 out + relu. One line a
// layer and variant: µs, the operands' bytes over the time (activations,
// residual, output and weights once each, as sqc bench --profile counts
// them), sparse over dense, and each kind's speed-up over the planner's
// variant, so that the heuristic for these memory-heavy layers can follow
// a measurement. Skipped with -test.short.
//
//	.gpu/ampere.test -test.v -test.run TestPerfPointwise
func TestPerfPointwise(t *testing.T) {
	g := needGPU(t)
	if testing.Short() {
		t.Skip("timing skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(93, 94))
	lines := []string{fmt.Sprintf("ResNet-50's 1x1 convolutions as GEMMs on %s, int8 out + relu, median of %d launches; vs planner: time of the planner's variant over this one's", g.desc, perfIters),
		fmt.Sprintf("%-28s %-24s | %9s %6s | %9s %6s | %5s | %-13s", "layer", "variant", "dense us", "GB/s", "sparse us", "GB/s", "sp/dn", "vs planner dn/sp")}
	for _, l := range resnet50Pointwise {
		w := rand24(r, l.n, l.k)
		a := randInt8(r, l.m*l.k)
		var res []int8
		if l.res {
			res = randInt8(r, l.m*l.n)
		}
		bytes := func(sparse bool) float64 {
			b := float64(l.m*l.k + l.m*l.n + l.n*l.k)
			if sparse {
				b -= float64(l.n*l.k) / 2 // 2:4 values, metadata aside
			}
			if l.res {
				b += float64(l.m * l.n)
			}
			return b
		}
		var base [2]float64
		for ci, cand := range ampere.GemmCandidates(false, l.res, false, "", l.n) {
			us := [2]float64{math.NaN(), math.NaN()}
			for si, sparse := range []bool{false, true} {
				p := newQGemmWeights(r, 1, l.n, l.k, sparse, false, false, ir.ActRelu)
				p.m, p.a, p.w, p.ldcExtra = l.m, a, w, 0
				if res != nil {
					p.r, p.sr, p.zr = res, p.sy, 3
				}
				cfg := cand
				cfg.Sparse = sparse
				p.pipe = cfg
				t.Run(fmt.Sprintf("%s_%s", strings.ReplaceAll(l.name, " ", "_"), cfg.Name()), func(t *testing.T) {
					us[si] = timeGemm(t, g, p)
				})
			}
			if ci == 0 {
				base = us
			}
			lines = append(lines, fmt.Sprintf("%-28s %-24s | %9.1f %6.0f | %9.1f %6.0f | %4.2fx | %6.2fx %6.2fx",
				l.name, pipeName(cand), us[0], bytes(false)/us[0]/1e3, us[1], bytes(true)/us[1]/1e3, us[0]/us[1], base[0]/us[0], base[1]/us[1]))
		}
	}
	t.Log("\n" + strings.Join(lines, "\n"))
}

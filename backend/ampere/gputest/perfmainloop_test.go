package gputest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
)

// mainLoopPipes are the wide-tile K loops TestPerfMainLoop sets side by
// side: the plain n128 step (the dense heuristic's), the 8-warp latency
// variant the 2:4 heuristic takes for 3×3 layers (m32-lc-k128), and the
// K step as one basic block (Interleave) on both tiles, and on the 4-warp
// tile with two steps a loop iteration (Unroll).
var mainLoopPipes = []kernels.GemmConfig{
	{Stages: 3, SharedWeights: true, WideN: true, StoreVec: true},
	{Stages: 3, SharedWeights: true, WideN: true, SplitM: true, LateCopy: true, DoubleK: true, StoreVec: true},
	{Stages: 3, SharedWeights: true, WideN: true, Interleave: true, StoreVec: true},
	{Stages: 3, SharedWeights: true, WideN: true, SplitM: true, Interleave: true, StoreVec: true},
	{Stages: 3, SharedWeights: true, WideN: true, Interleave: true, Unroll: true, StoreVec: true},
}

// TestPerfMainLoop times the K-loop variants (mainLoopPipes), dense and
// 2:4 on the same pruned weights, on ResNet-34's 3×3 stride-1 layers of
// 128 channels or more at batch 256 (implicit GEMM with running taps; the
// halo tile on the plain n128 step beside them, as the engines run layers
// 3 and 4, and its twin on 7-row patches, "halo7": Halo7) and on the 8192³ GEMM, int8 out + relu. One line a shape and
// variant: µs, dense-equivalent TOPS, the share of the instruction's
// register-only ceiling (ampere.InstructionCeiling), sparse over dense;
// then per shape the fastest 2:4 over the fastest dense. Skipped with
// -test.short.
func TestPerfMainLoop(t *testing.T) {
	g := needGPU(t)
	if testing.Short() {
		t.Skip("timing skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(81, 82))
	ceil := func(sparse bool) float64 {
		c, ok := ampere.InstructionCeiling(g.desc, sparse)
		if !ok {
			return math.NaN()
		}
		return c
	}
	lines := []string{fmt.Sprintf("K-loop variants on %s, int8 out + relu, median of %d launches; TOPS dense-equivalent, %% of the mma.sync / mma.sp register-only ceiling", g.desc, perfIters),
		fmt.Sprintf("%-22s %-24s | %9s %6s %5s | %9s %6s %5s | %5s", "shape", "variant", "dense us", "TOPS", "ceil", "sparse us", "TOPS", "ceil", "sp/dn")}
	row := func(shape, name string, flop float64, us [2]float64) {
		lines = append(lines, fmt.Sprintf("%-22s %-24s | %9.1f %6.1f %4.0f%% | %9.1f %6.1f %4.0f%% | %4.2fx", shape, name,
			us[0], flop/us[0]/1e6, 100*flop/us[0]/1e6/ceil(false), us[1], flop/us[1]/1e6, 100*flop/us[1]/1e6/ceil(true), us[0]/us[1]))
	}
	best := func(shape string, all [][2]float64) {
		b := [2]float64{math.Inf(1), math.Inf(1)}
		for _, us := range all {
			for i := range b {
				if us[i] < b[i] { // NaN (a failed run) never wins
					b[i] = us[i]
				}
			}
		}
		lines = append(lines, fmt.Sprintf("%-22s fastest 2:4 over fastest dense: %.2fx", shape, b[0]/b[1]))
	}
	const batch = 256
	for _, l := range []struct {
		name  string
		hw, c int
	}{{"layer2 28x28x128", 28, 128}, {"layer3 14x14x256", 14, 256}, {"layer4 7x7x512", 7, 512}} {
		k := 9 * l.c
		w := rand24(r, l.c, k)
		xn := randInt8(r, batch*l.hw*l.hw*l.c)
		rows := batch * l.hw * l.hw
		flop := 2 * float64(rows) * float64(l.c) * float64(k)
		var all [][2]float64
		for vi := 0; vi <= len(mainLoopPipes)+1; vi++ {
			pipe, halo, halo7, kernel := mainLoopPipes[0], true, false, "halo" // after the conv variants
			switch {
			case vi < len(mainLoopPipes):
				pipe, halo, kernel = mainLoopPipes[vi], false, "conv"
			case vi > len(mainLoopPipes):
				halo7, kernel = true, "halo7"
			}
			us := [2]float64{math.NaN(), math.NaN()}
			for si, sparse := range []bool{false, true} {
				p := newQGemmWeights(r, rows, l.c, k, sparse, false, false, ir.ActRelu)
				p.w, p.pipe, p.ldcExtra = w, pipe, 0
				tc := convCase{n: batch, c: l.c, h: l.hw, w: l.hw, m: l.c, kh: 3, kw: 3, stride: 1, pad: 1, padEnd: 1, dil: 1, step: !halo, halo: halo, halo7: halo7}
				t.Run(fmt.Sprintf("%s_%s_%s_sparse%v", strings.Fields(l.name)[0], kernel, pipeName(pipe), sparse), func(t *testing.T) {
					us[si] = timeLaunch(t, g, uploadConv(t, g, p, tc, xn))
				})
			}
			all = append(all, us)
			row(l.name, kernel+" "+pipeName(pipe), flop, us)
		}
		best(l.name, all)
	}
	const n = 8192
	w := rand24(r, n, n)
	a := randInt8(r, n*n)
	var all [][2]float64
	for _, pipe := range mainLoopPipes {
		us := [2]float64{math.NaN(), math.NaN()}
		for si, sparse := range []bool{false, true} {
			p := newQGemm(r, n, n, n, sparse, false, false, ir.ActRelu)
			p.w, p.a, p.pipe, p.ldcExtra = w, a, pipe, 0
			t.Run("gemm8192_"+p.name(), func(t *testing.T) { us[si] = timeGemm(t, g, p) })
		}
		all = append(all, us)
		row("gemm 8192^3", pipeName(pipe), 2*float64(n)*n*n, us)
	}
	best("gemm 8192^3", all)
	t.Log("\n" + strings.Join(lines, "\n"))
}

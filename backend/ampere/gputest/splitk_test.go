package gputest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/backend/ampere/cuda"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
)

// latencyKernel is the kernel the latency heuristic (--opt-batch 1) plans
// for a layer, with split-K: s4w with 16-byte stores, the halo tile on a
// 3×3 stride-1 convolution of 128 channels or more, else the running
// column.
func latencyKernel(tc convCase) (kernels.GemmConfig, bool) {
	halo := tc.kh == 3 && tc.stride == 1 && tc.m >= 128
	return kernels.GemmConfig{Stages: 4, SharedWeights: true, StoreVec: true, SplitK: true}, halo
}

// splitUnits is the K units a SplitK kernel divides for case tc.
func splitUnits(c kernels.GemmConfig, tc convCase) int {
	return c.SplitKUnits((tc.kh*tc.kw*tc.c+kernels.GemmBK-1)/kernels.GemmBK, tc.c)
}

// TestSplitKBitExact: split-K kernels match ir/ref's QConv bit for bit on
// ResNet-34's layer shapes (resnet34Convs) at batches 1 to 3: the latency heuristic's
// kernels (halo and running-column s4w, 16-byte stores) and the 8-warp
// k128 tile, and on the halo layers the halo kernel split over its
// chunks' kernel rows (HaloRows); dense and 2:4, residual, int8 and
// float32 outputs, each with the splits the runtime picks on this GPU
// (ampere.SplitKFor, over the kernel's K units and over the planner's
// bound), with two, and with as many as the kernel has K units (up to
// 16); the tile counters are zero after every launch.
func TestSplitKBitExact(t *testing.T) {
	g := needGPU(t)
	sms, err := g.dev.MultiprocessorCount()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(101, 102))
	m32 := kernels.GemmConfig{Stages: 3, SharedWeights: true, WideN: true, SplitM: true, LateCopy: true, DoubleK: true, StoreVec: true, SplitK: true}
	for li, l := range resnet34Convs {
		for _, n := range []int{1, 2 + li%2} {
			tc := convCase{n: n, c: l.c, h: l.h, w: l.h, m: l.m, kh: l.kh, kw: l.kh, stride: l.s, pad: l.kh / 2, padEnd: l.kh / 2, dil: 1,
				sparse: li%3 != 1, res: l.res, outF32: li%5 == 4 && n > 1}
			pipe, halo := latencyKernel(tc)
			pipes := []struct {
				cfg        kernels.GemmConfig
				halo, step bool
			}{{pipe, halo, !halo}}
			if halo {
				rows := pipe
				rows.HaloRows = true
				pipes = append(pipes, struct {
					cfg        kernels.GemmConfig
					halo, step bool
				}{pipe, false, true}, struct {
					cfg        kernels.GemmConfig
					halo, step bool
				}{rows, true, false})
			}
			if l.kh == 3 && l.m >= 128 && (tc.sparse || !tc.res) {
				pipes = append(pipes, struct {
					cfg        kernels.GemmConfig
					halo, step bool
				}{m32, false, true})
			}
			for _, p := range pipes {
				c := tc
				c.halo, c.step = p.halo, p.step
				cfg := p.cfg
				cfg.Halo, cfg.Conv = p.halo, true
				units := min(splitUnits(cfg, c), ampere.MaxSplitK)
				sh := c.shape(0)
				gx, gy := cfg.Grid(n*sh.OH*sh.OW, (l.m+cfg.BN()-1)/cfg.BN()*cfg.BN())
				if p.halo {
					gx = cfg.HaloBlocks(sh, n)
				}
				rule := ampere.SplitKFor(gx*gy, sms, units)
				engine := ampere.SplitKFor(gx*gy, sms, ampere.SplitKMaxFor(cfg, l.kh*l.kh*l.c, l.c)) // the planner's bound
				for _, s := range uniqueInts(rule, 2, units, engine) {
					c.splits = s
					t.Run(fmt.Sprintf("%s_n%d_sparse%v_halo%v_%s_S%d", strings.ReplaceAll(l.name, " ", "_"), n, c.sparse, p.halo, pipeName(cfg), s), func(t *testing.T) {
						checkImplicitConv(t, g, r, c, cfg)
					})
				}
			}
		}
	}
}

// uniqueInts returns the distinct values of vs above 0, in order.
func uniqueInts(vs ...int) []int {
	var out []int
	for _, v := range vs {
		dup := false
		for _, o := range out {
			dup = dup || o == v
		}
		if v > 0 && !dup {
			out = append(out, v)
		}
	}
	return out
}

// TestPerfSplitK times ResNet-34's 3×3 and 1×1 convolutions (resnet34Convs)
// at batch 1 on the latency heuristic's split-K kernels (2:4 sparse, int8
// out + relu, the residual where the layer has one),
// each with the splits the engine would take on this GPU (ampere.SplitKFor
// over ampere.SplitKMaxFor, four K steps a split at least)
// and unsplit (S = 1: the same kernel), and prints µs, the splits and the
// ratio, with the card's name. Skipped with -test.short.
func TestPerfSplitK(t *testing.T) {
	g := needGPU(t)
	if testing.Short() {
		t.Skip("timing skipped in -short mode")
	}
	sms, err := g.dev.MultiprocessorCount()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(103, 104))
	var lines []string
	lines = append(lines, fmt.Sprintf("ResNet-34 convolutions at batch 1 on %s (%d SMs), 2:4 sparse, int8 out + relu, median of %d launches", g.desc, sms, perfIters))
	lines = append(lines, fmt.Sprintf("%-32s %-34s %6s %3s | %9s | %9s | %6s", "layer", "kernel", "blocks", "S", "S=1 us", "split us", "ratio"))
	var sum1, sumS float64
	for _, l := range resnet34Convs {
		tc := convCase{n: 1, c: l.c, h: l.h, w: l.h, m: l.m, kh: l.kh, kw: l.kh, stride: l.s, pad: l.kh / 2, padEnd: l.kh / 2, dil: 1, sparse: true}
		cfg, halo := latencyKernel(tc)
		tc.halo, tc.step = halo, !halo
		cfg.Halo, cfg.Conv = halo, true
		sh := tc.shape(0)
		kd := l.kh * l.kh * l.c
		rows := sh.OH * sh.OW
		gx, gy := cfg.Grid(rows, (l.m+cfg.BN()-1)/cfg.BN()*cfg.BN())
		if halo {
			gx = cfg.HaloBlocks(sh, 1)
		}
		s := ampere.SplitKFor(gx*gy, sms, ampere.SplitKMaxFor(cfg, kd, l.c)) // the engine's splits
		w := rand24(r, l.m, kd)
		xn := randInt8(r, l.h*l.h*l.c)
		var us [2]float64
		for i, splits := range []int{1, s} {
			p := newQGemmWeights(r, rows, l.m, kd, true, l.res, false, ir.ActRelu)
			p.w, p.pipe, p.ldcExtra = w, cfg, 0
			c := tc
			c.splits = splits
			t.Run(fmt.Sprintf("%s_S%d", strings.ReplaceAll(l.name, " ", "_"), splits), func(t *testing.T) {
				us[i] = timeLaunch(t, g, uploadConv(t, g, p, c, xn))
			})
		}
		sum1, sumS = sum1+us[0], sumS+us[1]
		named := cfg
		named.Sparse, named.Residual = true, l.res // upload's kernel
		lines = append(lines, fmt.Sprintf("%-32s %-34s %6d %3d | %9.2f | %9.2f | %5.2fx", l.name, named.Name()[len("sqc_gemm_"):], gx*gy, s, us[0], us[1], us[0]/us[1]))
	}
	lines = append(lines, fmt.Sprintf("%-32s %-34s %6s %3s | %9.2f | %9.2f | %5.2fx", "sum (one of each row)", "", "", "", sum1, sumS, sum1/sumS))
	t.Log("\n" + strings.Join(lines, "\n"))
}

// TestPerfSplitKCandidates times, at batch 1, the kernels the latency
// heuristic could run on ResNet-34's 3×3 layers (2:4 sparse, int8 out +
// relu, the residual where the block has one; s4w with 16-byte stores).
// On the stride-1 layers (layer1, whose 64 channels the latency heuristic
// runs on the running column, latencyHaloMinChannels; layer2, layer3,
// layer4): the halo kernel unsplit, split over its chunks (the splits the
// engine would take, ampere.SplitKFor over ampere.SplitKMaxFor, and the
// most the planner allows), split over its chunks' kernel rows (HaloRows)
// the same two ways, and the running-column kernel (inc) unsplit and split
// (the engine's, the most, 8). On the stride-2 layers, whose splits the
// floor of four K steps a split keeps at four or fewer (layer2, layer3;
// layer4's split nine ways already): the running-column kernel unsplit,
// at the engine's splits, the most, and at 8 and 9 (two or three steps a
// split). It prints µs and the ratio to each layer's first row (the halo
// kernel unsplit on stride-1 layers, the running column unsplit on
// stride-2 ones), the fastest marked; latencyUnsplitHalo
// (backend/ampere/plan_variant.go) is to follow the layer3 rows. The
// outputs of every candidate of a layer are compared bit for bit. Skipped
// with -test.short.
func TestPerfSplitKCandidates(t *testing.T) {
	g := needGPU(t)
	if testing.Short() {
		t.Skip("timing skipped in -short mode")
	}
	sms, err := g.dev.MultiprocessorCount()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(105, 106))
	lines := []string{fmt.Sprintf("ResNet-34 3x3 convolutions at batch 1 on %s (%d SMs), 2:4 sparse, int8 out + relu, s4w v16, median of %d launches", g.desc, sms, perfIters),
		fmt.Sprintf("%-32s %-16s %6s %3s | %9s | %8s", "layer", "candidate", "blocks", "S", "us", "vs first")}
	base := kernels.GemmConfig{Stages: 4, SharedWeights: true, StoreVec: true, Conv: true}
	for _, l := range resnet34Convs {
		if l.kh != 3 {
			continue
		}
		tc := convCase{n: 1, c: l.c, h: l.h, w: l.h, m: l.m, kh: 3, kw: 3, stride: l.s, pad: 1, padEnd: 1, dil: 1, sparse: true}
		sh := tc.shape(0)
		kd, rows := 9*l.c, sh.OH*sh.OW
		type cand struct {
			name   string
			cfg    kernels.GemmConfig
			splits int
			blocks int
		}
		var cands []cand
		add := func(name string, cfg kernels.GemmConfig, splits ...int) {
			blocks := cfg.HaloBlocks(sh, 1)
			if !cfg.Halo {
				blocks, _ = cfg.Grid(rows, l.m)
			}
			blocks *= l.m / cfg.BN()
			for _, s := range uniqueInts(splits...) {
				if s > 1 || !cfg.SplitK {
					cands = append(cands, cand{name, cfg, s, blocks})
				}
			}
		}
		halo, inc := base, base
		halo.Halo, inc.ConvStep = true, true
		haloSK, rowsSK, incSK := halo, halo, inc
		haloSK.SplitK, rowsSK.SplitK, rowsSK.HaloRows, incSK.SplitK = true, true, true, true
		blocksInc := (rows + kernels.GemmBM - 1) / kernels.GemmBM * l.m / base.BN()
		engineS := func(cfg kernels.GemmConfig, blocks int) int {
			return ampere.SplitKFor(blocks, sms, ampere.SplitKMaxFor(cfg, kd, l.c))
		}
		maxS := func(cfg kernels.GemmConfig) int { return ampere.SplitKMaxFor(cfg, kd, l.c) }
		if l.s == 1 {
			blocksHalo := halo.HaloBlocks(sh, 1) * l.m / base.BN()
			add("halo", halo, 1)
			add("halo-sk", haloSK, engineS(haloSK, blocksHalo), maxS(haloSK))
			add("halo-tr-sk", rowsSK, engineS(rowsSK, blocksHalo), maxS(rowsSK))
			add("inc", inc, 1)
			add("inc-sk", incSK, engineS(incSK, blocksInc), maxS(incSK), 8)
		} else {
			add("inc", inc, 1)
			add("inc-sk", incSK, engineS(incSK, blocksInc), maxS(incSK), 8, 9)
		}
		w := rand24(r, l.m, kd)
		xn := randInt8(r, l.h*l.h*l.c)
		p := newQGemmWeights(r, rows, l.m, kd, true, l.res, false, ir.ActRelu)
		p.w, p.ldcExtra = w, 0
		us := make([]float64, len(cands))
		var want []int8
		for i, c := range cands {
			p.pipe = c.cfg
			cc := tc
			cc.halo, cc.step, cc.splits = c.cfg.Halo, c.cfg.ConvStep, c.splits
			t.Run(fmt.Sprintf("%s_%s_S%d", strings.ReplaceAll(l.name, " ", "_"), c.name, c.splits), func(t *testing.T) {
				q := uploadConv(t, g, p, cc, xn)
				us[i] = timeLaunch(t, g, q)
				if err := g.stream.Synchronize(); err != nil {
					t.Fatal(err)
				}
				q.countersZero(t)
				got := make([]int8, rows*l.m)
				if err := cuda.Download(q.y, 0, got); err != nil {
					t.Fatal(err)
				}
				if want == nil {
					want = got
				} else if !slices.Equal(got, want) {
					t.Errorf("%s S=%d: the outputs differ from the first candidate's", c.name, c.splits)
				}
			})
		}
		best := 0
		for i := range us {
			if us[i] < us[best] {
				best = i
			}
		}
		for i, c := range cands {
			mark := ""
			if i == best {
				mark = "  <- fastest"
			}
			lines = append(lines, fmt.Sprintf("%-32s %-16s %6d %3d | %9.2f | %7.2fx%s", l.name, c.name, c.blocks, c.splits, us[i], us[0]/us[i], mark))
		}
	}
	t.Log("\n" + strings.Join(lines, "\n"))
}

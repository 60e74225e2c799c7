package gputest

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/cuda"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
)

var perfBatch = flag.Int("perfbatch", 32, "batch of TestPerfResNet34's GEMM shapes")

// TestPerfResNet34 times the dense and the 2:4 sparse GEMM on the
// convolution GEMMs of ResNet-34's four stages (3×3 convolutions, as
// im2col GEMMs) at batch 32, with CUDA events around each launch, and
// reports dense-equivalent TOPS (2·M·N·K / time) with the card's name.
// The activations rotate among enough copies to exceed the L2 cache, so a
// launch does not find its input there from the previous one. Skipped
// with -test.short.
func TestPerfResNet34(t *testing.T) {
	g := needGPU(t)
	if testing.Short() {
		t.Skip("timing skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(51, 52))
	b := *perfBatch
	shapes := []struct {
		name    string
		m, n, k int
	}{
		{"conv2_x 3x3 64->64 56x56", b * 56 * 56, 64, 576},
		{"conv3_x 3x3 128->128 28x28", b * 28 * 28, 128, 1152},
		{"conv4_x 3x3 256->256 14x14", b * 14 * 14, 256, 2304},
		{"conv5_x 3x3 512->512 7x7", b * 7 * 7, 512, 4608},
	}
	var lines []string
	lines = append(lines, fmt.Sprintf("INT8 GEMM on %s, batch %d, int8 out + relu, median of %d launches; pipelines: default (%d stages, weights to registers one step ahead), s4w (4 stages, weights through shared memory), n128-s3w (64 channels a warp, 3 stages)", g.desc, *perfBatch, perfIters, kernels.DefaultStages))
	lines = append(lines, fmt.Sprintf("%-28s %6s %4s %4s | %-8s %9s %6s | %9s %6s | %5s", "layer", "M", "N", "K", "pipeline", "dense us", "TOPS", "sparse us", "TOPS", "ratio"))
	for _, sh := range shapes {
		// The same work for both: dense runs the pruned weights too.
		w := rand24(r, sh.n, sh.k)
		for _, pipe := range pipelines {
			us := [2]float64{math.NaN(), math.NaN()}
			for si, sparse := range []bool{false, true} {
				p := newQGemm(r, sh.m, sh.n, sh.k, sparse, false, false, ir.ActRelu)
				p.w, p.pipe, p.ldcExtra = w, pipe, 0
				// A subtest, so that a variant that fails to load or run
				// costs its own figure only.
				t.Run(p.name(), func(t *testing.T) { us[si] = timeGemm(t, g, p) })
			}
			name := pipeName(pipe)
			flop := 2 * float64(sh.m) * float64(sh.n) * float64(sh.k)
			lines = append(lines, fmt.Sprintf("%-28s %6d %4d %4d | %-8s %9.1f %6.1f | %9.1f %6.1f | %4.2fx",
				sh.name, sh.m, sh.n, sh.k, name, us[0], flop/us[0]/1e6, us[1], flop/us[1]/1e6, us[0]/us[1]))
		}
	}
	t.Log("\n" + strings.Join(lines, "\n"))
}

const perfIters = 50

// TestPerfGemm8192 times the dense and the 2:4 sparse GEMM at M = N = K =
// 8192 (int8 out + relu) with every pipeline and prints one line a kernel,
// "gemm8192 KIND PIPELINE US TOPS", which bench/gpu/report.py reads and
// sets against the instruction's register-only ceiling. Skipped with
// -test.short.
func TestPerfGemm8192(t *testing.T) {
	g := needGPU(t)
	if testing.Short() {
		t.Skip("timing skipped in -short mode")
	}
	const n = 8192
	r := rand.New(rand.NewPCG(61, 62))
	w := rand24(r, n, n)
	a := randInt8(r, n*n)
	var lines []string
	for _, pipe := range pipelines {
		for _, sparse := range []bool{false, true} {
			p := newQGemm(r, n, n, n, sparse, false, false, ir.ActRelu)
			p.w, p.a, p.pipe, p.ldcExtra = w, a, pipe, 0
			var us float64
			t.Run(p.name(), func(t *testing.T) { us = timeGemm(t, g, p) })
			kind := "dense"
			if sparse {
				kind = "sparse"
			}
			name := pipeName(pipe)
			lines = append(lines, fmt.Sprintf("gemm8192 %s %s %.1f %.1f", kind, name, us, 2*float64(n)*n*n/us/1e6))
		}
	}
	t.Logf("INT8 GEMM 8192x8192x8192 on %s, median of %d launches\n%s", g.desc, perfIters, strings.Join(lines, "\n"))
}

// pipeName names a pipeline in the tables: default, s4w (4 stages, shared
// weights), n128-s3w (the wide warp tile), n128-m32-lc-s3w (the wide block
// tile on 8 warps, copies after the first products), il (the K step as one
// basic block), -v16 (16-byte output stores).
func pipeName(c kernels.GemmConfig) string {
	name := "default"
	if c.SharedWeights {
		name = fmt.Sprintf("s%dw", c.Stages)
	}
	if c.DoubleK {
		name = "k128-" + name
	}
	if c.LateCopy {
		name = "lc-" + name
	}
	if c.Unroll {
		name = "u2-" + name
	}
	if c.Interleave {
		name = "il-" + name
	}
	if c.SplitM {
		name = "m32-" + name
	}
	if c.WideN {
		name = fmt.Sprintf("n%d-%s", c.BN(), name)
	}
	if c.StoreVec {
		name += "-v16"
	}
	return name
}

// timeGemm returns the median time of one launch in microseconds.
func timeGemm(t *testing.T, g *gpu, p *qgemmProblem) float64 {
	t.Helper()
	return timeLaunch(t, g, p.upload(t, g))
}

// timeLaunch returns the median time of one launch of q in microseconds,
// its input rotating among copies that together exceed the L2 cache.
func timeLaunch(t *testing.T, g *gpu, q *gpuGemm) float64 { return timeRotating(t, g, q, false) }

// timeRotating is timeLaunch; with residual the residual rotates among
// copies too, so that it comes from DRAM as in an engine, where the
// residual was written layers before (ResNet's at batch 256: 6-205 MB).
func timeRotating(t *testing.T, g *gpu, q *gpuGemm, residual bool) float64 {
	t.Helper()
	// Extra activation (and residual) copies so that the rotation exceeds
	// the L2 cache.
	xs, rs := []*cuda.Buffer{q.x}, []*cuda.Buffer{q.r}
	copyOf := func(b *cuda.Buffer) *cuda.Buffer {
		c := alloc(t, g, b.Size)
		if err := g.ctx.CopyDtoD(c.Ptr, b.Ptr, b.Size); err != nil {
			t.Fatal(err)
		}
		return c
	}
	per := q.x.Size
	if residual {
		per += q.r.Size
	}
	for total := per; total < 160<<20 && len(xs) < 16; total += per {
		xs = append(xs, copyOf(q.x))
		if residual {
			rs = append(rs, copyOf(q.r))
		}
	}
	rotate := func(i int) {
		q.x = xs[i%len(xs)]
		if residual {
			q.r = rs[i%len(rs)]
		}
	}
	n := 0
	return timeKernel(t, g, func() error {
		rotate(n)
		n++
		return q.launch(g.stream)
	})
}

// timeKernel returns the median µs of perfIters launches after five
// warm-up ones (JIT, caches, clocks), each between two events.
func timeKernel(t *testing.T, g *gpu, launch func() error) float64 {
	t.Helper()
	ev := make([]*cuda.Event, perfIters+1)
	for i := range ev {
		e, err := g.ctx.NewEvent()
		if err != nil {
			t.Fatal(err)
		}
		defer e.Destroy()
		ev[i] = e
	}
	for i := 0; i < 5; i++ {
		if err := launch(); err != nil {
			t.Fatal(err)
		}
	}
	if err := ev[0].Record(g.stream); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < perfIters; i++ {
		if err := launch(); err != nil {
			t.Fatal(err)
		}
		if err := ev[i+1].Record(g.stream); err != nil {
			t.Fatal(err)
		}
	}
	if err := ev[perfIters].Synchronize(); err != nil {
		t.Fatal(err)
	}
	times := make([]float64, perfIters)
	for i := range times {
		ms, err := cuda.ElapsedMs(ev[i], ev[i+1])
		if err != nil {
			t.Fatal(err)
		}
		times[i] = float64(ms) * 1000
	}
	sort.Float64s(times)
	return times[len(times)/2]
}

// TestGemmResources logs each GEMM variant's registers, local memory
// (spills) and blocks an SM as the driver compiled them, and fails on
// spills, which would mean an accumulator array went to local memory, and
// where a SplitM variant (8 warps, built for two blocks an SM) fits only
// one block, which would undo what it is for.
func TestGemmResources(t *testing.T) {
	g := needGPU(t)
	var configs []kernels.GemmConfig
	for _, c := range allGemmConfigs() {
		for _, conv := range []bool{false, true} {
			c.Conv, c.ConvStep = conv, conv
			configs = append(configs, c)
		}
	}
	for _, c := range append(configs, allHaloConfigs()...) {
		t.Run(c.Name(), func(t *testing.T) {
			f := g.gemmFunction(t, c)
			regs, err := f.Attribute(cuda.FuncNumRegs)
			if err != nil {
				t.Fatal(err)
			}
			local, err := f.Attribute(cuda.FuncLocalSizeBytes)
			if err != nil {
				t.Fatal(err)
			}
			blocks, err := f.MaxActiveBlocks(c.Threads(), c.DynamicShared())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%-48s %3d registers, %5d bytes shared, %d bytes local memory, %d blocks of %d warps an SM", c.Name(), regs, c.SharedBytes(), local, blocks, c.Threads()/32)
			if local > 0 {
				t.Errorf("%s spills %d bytes to local memory", c.Name(), local)
			}
			if c.SplitM && blocks < 2 {
				t.Errorf("%s: %d registers leave room for %d block of 8 warps an SM, want 2", c.Name(), regs, blocks)
			}
		})
	}
	testConvPoolResources(t, g)
}

// TestPerfHalo times, side by side in one run, the implicit-GEMM
// convolution kernel as the planner configures it (ConvStep, the wide warp
// tile from 128 channels, 16-byte stores) and the halo-tile kernel on the
// same pipeline (and one with two more stages), dense and 2:4 sparse, on
// ResNet-34's 3×3 stride-1 convolutions at batch 256 and 1 (int8 out +
// relu), and prints µs, dense-equivalent TOPS (2·M·N·K / time) and the
// sparse/dense and halo/conv ratios, with the card's name. Dense runs the
// same pruned weights. Skipped with -test.short.
func TestPerfHalo(t *testing.T) {
	g := needGPU(t)
	if testing.Short() {
		t.Skip("timing skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(71, 72))
	layers := []struct {
		name  string
		hw, c int
	}{{"conv2_x 56x56x64", 56, 64}, {"conv3_x 28x28x128", 28, 128}, {"conv4_x 14x14x256", 14, 256}, {"conv5_x 7x7x512", 7, 512}}
	var lines []string
	lines = append(lines, fmt.Sprintf("3x3 stride-1 convolutions on %s, int8 out + relu, median of %d launches; conv = implicit GEMM (ConvStep), halo = halo tile; TOPS dense-equivalent", g.desc, perfIters))
	lines = append(lines, fmt.Sprintf("%-18s %5s %-16s %-6s | %9s %6s | %9s %6s | %5s", "layer", "batch", "pipeline", "kernel", "dense us", "TOPS", "sparse us", "TOPS", "sp/dn"))
	for _, batch := range []int{256, 1} {
		for _, l := range layers {
			k := 9 * l.c
			w := rand24(r, l.c, k)
			tc := convCase{n: batch, c: l.c, h: l.hw, w: l.hw, m: l.c, kh: 3, kw: 3, stride: 1, pad: 1, padEnd: 1, dil: 1}
			xn := randInt8(r, batch*l.hw*l.hw*l.c)
			pipe := kernels.GemmConfig{Stages: 4, SharedWeights: true, StoreVec: true}
			if l.c >= 128 {
				pipe.WideN, pipe.Stages = true, 3
			}
			deep := pipe
			deep.Stages += 2
			type variant struct {
				kernel string
				pipe   kernels.GemmConfig
				halo   bool
			}
			rows := batch * l.hw * l.hw
			flop := 2 * float64(rows) * float64(l.c) * float64(k)
			var conv [2]float64
			for _, v := range []variant{{"conv", pipe, false}, {"halo", pipe, true}, {"halo", deep, true}} {
				us := [2]float64{math.NaN(), math.NaN()}
				for si, sparse := range []bool{false, true} {
					p := newQGemmWeights(r, rows, l.c, k, sparse, false, false, ir.ActRelu)
					p.w, p.pipe, p.ldcExtra = w, v.pipe, 0
					c := tc
					c.step, c.halo = !v.halo, v.halo
					t.Run(fmt.Sprintf("%s_b%d_%s_%s_sparse%v", l.name, batch, v.kernel, pipeName(v.pipe), sparse), func(t *testing.T) {
						us[si] = timeLaunch(t, g, uploadConv(t, g, p, c, xn))
					})
				}
				vs := ""
				if v.halo {
					vs = fmt.Sprintf(" | halo/conv dense %.2fx sparse %.2fx", conv[0]/us[0], conv[1]/us[1])
				} else {
					conv = us
				}
				lines = append(lines, fmt.Sprintf("%-18s %5d %-16s %-6s | %9.1f %6.1f | %9.1f %6.1f | %4.2fx%s",
					l.name, batch, pipeName(v.pipe), v.kernel, us[0], flop/us[0]/1e6, us[1], flop/us[1]/1e6, us[0]/us[1], vs))
			}
		}
	}
	t.Log("\n" + strings.Join(lines, "\n"))
}

package gputest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/backend/ampere/cuda"
	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/ir/sqir"
)

// convPoolStem writes the ResNet stem as the recipes leave it, on an h×w
// image of 16 channels (ResNet's 224×224 input after space-to-depth is
// 112×112): a quantize, the 4×4 QConv "conv1" (pads [2,2,1,1], relu, 64
// channels, random weights and bias) and "maxpool" (3×3, stride 2, pad
// 1), dequantized.
func convPoolStem(r *rand.Rand, h, w int) string {
	const m, c, k = 64, 16, 4
	ws := make([]string, m*c*k*k)
	for i := range ws {
		ws[i] = strconv.Itoa(r.IntN(255) - 127)
	}
	sw := make([]float32, m)
	sws, bias := make([]string, m), make([]string, m)
	for i := range sw {
		sw[i] = float32(math.Ldexp(1, -7-i%3))
		sws[i] = strconv.FormatFloat(float64(sw[i]), 'g', -1, 32)
		bias[i] = strconv.Itoa(r.IntN(4001) - 2000)
	}
	mult := ir.QOutputMultipliers(0.05, sw, m, 0.1)
	ms := make([]string, m)
	for i, v := range mult {
		ms[i] = strconv.FormatFloat(float64(v), 'g', -1, 32)
	}
	zeros := strings.TrimSuffix(strings.Repeat("0, ", m), ", ")
	ph, pw := (h-1)/2+1, (w-1)/2+1
	var b strings.Builder
	fmt.Fprintf(&b, "graph \"stem\" (%%x: f32[N,%d,%d,%d]) -> (%%y) {\n", c, h, w)
	b.WriteString("  const %sc: f32[] = [0.05]\n  const %zp: i8[] = [-5]\n  const %ys: f32[] = [0.1]\n  const %yz: i8[] = [-40]\n")
	fmt.Fprintf(&b, "  const %%w: i8[%d,%d,%d,%d] quant(axis=0, scale=[%s], zp=[%s]) = [%s]\n", m, c, k, k, strings.Join(sws, ", "), zeros, strings.Join(ws, ", "))
	fmt.Fprintf(&b, "  const %%m: f32[%d] = [%s]\n  const %%b: i32[%d] = [%s]\n", m, strings.Join(ms, ", "), m, strings.Join(bias, ", "))
	fmt.Fprintf(&b, "  %%q: i8[N,%d,%d,%d] quant(scale=[0.05], zp=[-5]) = QuantizeLinear \"q\" (%%x, %%sc, %%zp)\n", c, h, w)
	fmt.Fprintf(&b, "  %%c: i8[N,%d,%d,%d] quant(scale=[0.1], zp=[-40]) = QConv \"conv1\" (%%q, %%w, %%m, %%b) {activation = \"relu\", kernel_shape = [4, 4], pads = [2, 2, 1, 1], strides = [1, 1]}\n", m, h, w)
	fmt.Fprintf(&b, "  %%p: i8[N,%d,%d,%d] quant(scale=[0.1], zp=[-40]) = MaxPool \"maxpool\" (%%c) {kernel_shape = [3, 3], pads = [1, 1, 1, 1], strides = [2, 2]}\n", m, ph, pw)
	fmt.Fprintf(&b, "  %%y: f32[N,%d,%d,%d] = DequantizeLinear \"dq\" (%%p, %%ys, %%yz)\n}\n", m, ph, pw)
	return b.String()
}

// planStem parses a convPoolStem graph and plans it; it requires the plan
// to hold the conv-pool launch.
func planStem(t *testing.T, r *rand.Rand, h, w int) (*ir.Graph, *engine.Engine, *engine.Step) {
	t.Helper()
	g, err := sqir.ParseAndVerify("stem", []byte(convPoolStem(r, h, w)))
	if err != nil {
		t.Fatal(err)
	}
	e, err := ampere.PlanWith(g, "test", ampere.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range e.Steps {
		if strings.HasPrefix(s.Kernel, "sqc_gemm_convpool") {
			return g, e, s
		}
	}
	t.Fatalf("the %dx%d stem has no conv-pool launch", h, w)
	return nil, nil, nil
}

// withConvPoolKernel makes e's conv-pool launch run kernel c instead of
// the planner's (same arguments; c.Patches patches a block).
func withConvPoolKernel(t *testing.T, e *engine.Engine, c kernels.ConvPoolConfig) {
	t.Helper()
	for _, s := range e.Steps {
		if !strings.HasPrefix(s.Kernel, "sqc_gemm_convpool") {
			continue
		}
		if s.Kernel == c.Name() {
			return
		}
		ptx, err := c.PTX()
		if err != nil {
			t.Fatal(err)
		}
		s.Kernel, s.WorkPerBlockX = c.Name(), uint32(c.Patches)
		for _, k := range e.Kernels {
			if k.Name == c.Name() {
				return
			}
		}
		e.Kernels = append(e.Kernels, &engine.Kernel{Name: c.Name(), Ptx: ptx})
		return
	}
	t.Fatal("no conv-pool launch")
}

// convPoolVariants are the kernels the GPU tests run: the planner's (4
// patches a block; 1 for the latency heuristic) and the same with two
// tiles' products at a time in 96 registers (5 blocks an SM).
var convPoolVariants = []kernels.ConvPoolConfig{
	{KH: 4, KW: 4, Patches: kernels.ConvPoolPatches}, {KH: 4, KW: 4, Patches: 1},
	{KH: 4, KW: 4, Patches: kernels.ConvPoolPatches, Group: 2, MinBlocks: 5}, {KH: 4, KW: 4, Patches: 1, Group: 2, MinBlocks: 5},
}

// TestConvPoolBitExact: the stem's conv and max pool as one launch
// (kernels.ConvPoolConfig, each of convPoolVariants) equal the reference
// executor's QConv then MaxPool bit for bit: ResNet's stem (224×224 input:
// 112×112 conv output, 56×56 pooled) at batch 1 and 3, and small images
// with ragged 8×8 patches (12×12, 13×9, 7×7, 30×17) at batch 1 to 3.
//
//	.gpu/ampere.test -test.run TestConvPoolBitExact -test.v
func TestConvPoolBitExact(t *testing.T) {
	for i, tc := range []struct{ h, w, batch int }{
		{112, 112, 1}, {112, 112, 3}, {12, 12, 2}, {13, 9, 3}, {7, 7, 1}, {30, 17, 2},
	} {
		t.Run(fmt.Sprintf("%dx%d_b%d", tc.h, tc.w, tc.batch), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 91))
			g, e, _ := planStem(t, r, tc.h, tc.w)
			needGPU(t)
			x := randomInput(g, tc.batch, r, 3)
			want, err := ref.Run(g, x)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range convPoolVariants {
				withConvPoolKernel(t, e, c)
				rt, err := ampere.Open(e, tc.batch)
				if err != nil {
					t.Fatal(err)
				}
				got, err := rt.Run([]*ir.Tensor{x})
				rt.Close()
				if err != nil {
					t.Fatal(err)
				}
				for j := 0; j < want[0].Len(); j++ {
					if a, b := got[0].AsFloat64(j), want[0].AsFloat64(j); math.Float64bits(a) != math.Float64bits(b) {
						t.Fatalf("%s: element %d is %v, want %v", c.Name(), j, a, b)
					}
				}
			}
		})
	}
}

// testConvPoolResources logs the conv-pool kernels' registers, local
// memory and blocks an SM as the driver compiled them, and fails on
// spills (TestGemmResources runs it).
func testConvPoolResources(t *testing.T, g *gpu) {
	for _, c := range append(convPoolVariants, kernels.ConvPoolConfig{KH: 3, KW: 3, Patches: 2}) {
		t.Run(c.Name(), func(t *testing.T) {
			text, err := c.PTX()
			if err != nil {
				t.Fatal(err)
			}
			f := g.function(t, c.Name(), text, c.Name())
			regs, err := f.Attribute(cuda.FuncNumRegs)
			if err != nil {
				t.Fatal(err)
			}
			local, err := f.Attribute(cuda.FuncLocalSizeBytes)
			if err != nil {
				t.Fatal(err)
			}
			blocks, err := f.MaxActiveBlocks(c.Threads(), 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%-48s %3d registers, %5d bytes shared, %d bytes local memory, %d blocks of %d warps an SM", c.Name(), regs, c.SharedBytes(), local, blocks, c.Threads()/32)
			if local > 0 {
				t.Errorf("%s spills %d bytes to local memory", c.Name(), local)
			}
		})
	}
}

// TestPerfConvPool times ResNet's stem (112×112×16 after space-to-depth,
// 64 channels, pooled to 56×56) at batch 256 and 1, in one run on one
// card: the two launches the planner made before (the implicit-GEMM conv
// kernel the heuristic picks, sqc_gemm_conv_s8_dense_i8_v16_s4w, then
// sqc_maxpool_s8_nhwc_v16) against the conv-pool kernel with 1, 2, 4 and
// 8 patches a block (the planner's: ConvPoolPatches, 1 at a latency
// batch), and 1 and 4 with Group 2 in 96 registers, each the median of
// 50 engine runs (Runtime.ProfileSteps, as sqc bench --profile), in µs,
// conv TOPS (2·M·64·256 / time) and the ratio. Skipped with -test.short.
//
//	.gpu/ampere.test -test.run TestPerfConvPool -test.v
func TestPerfConvPool(t *testing.T) {
	r := rand.New(rand.NewPCG(93, 94))
	text := convPoolStem(r, 112, 112)
	gr, err := sqir.ParseAndVerify("stem", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	// A second reader of the conv's output keeps the planner from fusing:
	// the two launches of before (and a dequantize not timed).
	two, err := sqir.ParseAndVerify("stem2", []byte(strings.Replace(strings.Replace(text, "-> (%y)", "-> (%y, %y2)", 1),
		"\n}\n", "\n  %y2: f32[N,64,112,112] = DequantizeLinear \"dq2\" (%c, %ys, %yz)\n}\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	profile := func(e *engine.Engine, batch int, nodes ...string) (us float64, kernel string) {
		t.Helper()
		rt, err := ampere.Open(e, batch)
		if err != nil {
			t.Fatal(err)
		}
		defer rt.Close()
		if err := rt.Upload([]*ir.Tensor{randomInput(gr, batch, r, 1)}); err != nil {
			t.Fatal(err)
		}
		med, err := rt.ProfileSteps(perfIters, 5)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for i, s := range rt.Steps() {
			for _, n := range nodes {
				if s.Node == n {
					us += med[i] * 1000
					names = append(names, s.Kernel)
				}
			}
		}
		return us, strings.Join(names, " + ")
	}
	unfused, err := ampere.Plan(two, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ampere.PlanWith(gr, "test", ampere.PlanOptions{}); err != nil {
		t.Fatal(err)
	}
	g := needGPU(t)
	if testing.Short() {
		t.Skip("timing skipped in -short mode")
	}
	lines := []string{fmt.Sprintf("ResNet stem 112x112x16 -> conv 4x4 64 ch -> maxpool 3x3/2 -> 56x56, on %s, median of %d engine runs", g.desc, perfIters),
		fmt.Sprintf("%-5s %-70s %9s %7s %7s", "batch", "kernels", "us", "TOPS", "vs two")}
	for _, batch := range []int{256, 1} {
		flop := 2 * float64(batch*112*112) * 64 * 256
		base, names := profile(unfused, batch, "conv1", "maxpool")
		lines = append(lines, fmt.Sprintf("%-5d %-70s %9.1f %7.1f %7s", batch, names, base, flop/base/1e6, "1.00x"))
		cands := append([]kernels.ConvPoolConfig{{KH: 4, KW: 4, Patches: 2}, {KH: 4, KW: 4, Patches: 8}}, convPoolVariants...)
		for _, c := range cands {
			e, err := ampere.PlanWith(gr, "test", ampere.PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			withConvPoolKernel(t, e, c)
			us, name := profile(e, batch, "conv1")
			lines = append(lines, fmt.Sprintf("%-5d %-70s %9.1f %7.1f %6.2fx", batch, name, us, flop/us/1e6, base/us))
		}
	}
	t.Log("\n" + strings.Join(lines, "\n"))
}

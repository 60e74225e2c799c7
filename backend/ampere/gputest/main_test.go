package gputest

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/backend/ampere/cuda"
	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

var ptxDir = flag.String("ptxdir", "", "write the PTX of every generated module into this directory (for ptxas)")

// gpu is the device state shared by the tests: one primary context and
// one stream, and the modules loaded so far.
type gpu struct {
	dev    cuda.Device
	ctx    *cuda.Context
	stream *cuda.Stream
	desc   string

	mu   sync.Mutex
	mods map[string]*cuda.Module // by kernel or module name
}

var (
	theGPU   *gpu
	gpuError error
)

// TestMain opens the device once. A machine without a driver or device
// runs every test as a skip, with the reason.
func TestMain(m *testing.M) {
	flag.Parse()
	if *ptxDir != "" {
		if err := writePTX(*ptxDir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	theGPU, gpuError = openGPU()
	if gpuError != nil {
		fmt.Fprintf(os.Stderr, "gputest: GPU tests skip: %v\n", gpuError)
	} else {
		fmt.Fprintf(os.Stderr, "gputest: device 0: %s\n", theGPU.desc)
	}
	code := m.Run()
	if theGPU != nil {
		theGPU.close()
	}
	os.Exit(code)
}

func openGPU() (*gpu, error) {
	if err := cuda.Load(); err != nil {
		return nil, err
	}
	n, err := cuda.DeviceCount()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("the CUDA driver sees no device")
	}
	dev, err := cuda.GetDevice(0)
	if err != nil {
		return nil, err
	}
	ctx, err := dev.RetainPrimaryContext()
	if err != nil {
		return nil, err
	}
	s, err := ctx.NewStream()
	if err != nil {
		_ = ctx.Release()
		return nil, err
	}
	return &gpu{dev: dev, ctx: ctx, stream: s, desc: dev.Describe(), mods: map[string]*cuda.Module{}}, nil
}

func (g *gpu) close() {
	for _, m := range g.mods {
		_ = m.Unload()
	}
	_ = g.stream.Destroy()
	_ = g.ctx.Release()
}

// needGPU returns the shared device or skips the test.
func needGPU(t testing.TB) *gpu {
	t.Helper()
	if theGPU == nil {
		t.Skipf("no GPU: %v", gpuError)
	}
	return theGPU
}

// module loads (once) the PTX text under the given name.
func (g *gpu) module(t testing.TB, name, ptx string) *cuda.Module {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if m, ok := g.mods[name]; ok {
		return m
	}
	m, err := g.ctx.LoadPTX(ptx)
	if err != nil {
		t.Fatalf("module %s: %v", name, err)
	}
	g.mods[name] = m
	return m
}

// function loads a kernel from a module text.
func (g *gpu) function(t testing.TB, module, ptx, kernel string) *cuda.Function {
	t.Helper()
	f, err := g.module(t, module, ptx).Function(kernel)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// gemmFunction loads the GEMM variant c.
func (g *gpu) gemmFunction(t testing.TB, c kernels.GemmConfig) *cuda.Function {
	t.Helper()
	text, err := c.PTX()
	if err != nil {
		t.Fatal(err)
	}
	f := g.function(t, c.Name(), text, c.Name())
	if n := c.DynamicShared(); n > 0 {
		if err := f.SetMaxDynamicSharedMemory(n); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// pipelines are the K-loop pipelines the tests cover: the default (three
// stages, weights loaded to registers one step ahead), four stages with
// the weights staged through shared memory, and the wide warp tile (128
// channels a block) with three such stages, and 8 warps of it (256
// channels a block, stages in dynamic shared memory); the last three also stage int8
// outputs for 16-byte stores (StoreVec, which applies where N and the row
// stride are multiples of 16: upload drops it elsewhere).
var pipelines = []kernels.GemmConfig{{}, {Stages: 4, SharedWeights: true}, {Stages: 3, SharedWeights: true, WideN: true},
	{Stages: 4, SharedWeights: true, StoreVec: true}, {Stages: 3, SharedWeights: true, WideN: true, StoreVec: true},
	{Stages: 4, SharedWeights: true, WideN: true, WideBlock: true, StoreVec: true}}

// latencyPipelines are the variants that hide the latency Nsight Compute
// found in the wide-tile kernels (backend/ampere/NOTES.md): the wide block
// tile on 8 warps (SplitM), the next stage's copies after the first
// products (LateCopy), both, and both with two K steps a stage (DoubleK); the K step as one basic block
// (Interleave) on the 4-warp and the 8-warp tile, and on the 4-warp tile two steps a loop iteration (Unroll). The GEMM tests run them on every shape,
// the implicit-convolution test on every case.
var latencyPipelines = []kernels.GemmConfig{
	{Stages: 3, SharedWeights: true, WideN: true, SplitM: true, StoreVec: true},
	{Stages: 3, SharedWeights: true, WideN: true, LateCopy: true, StoreVec: true},
	{Stages: 3, SharedWeights: true, WideN: true, SplitM: true, LateCopy: true, StoreVec: true},
	{Stages: 3, SharedWeights: true, WideN: true, SplitM: true, LateCopy: true, DoubleK: true, StoreVec: true},
	{Stages: 3, SharedWeights: true, WideN: true, Interleave: true, StoreVec: true},
	{Stages: 3, SharedWeights: true, WideN: true, SplitM: true, Interleave: true, StoreVec: true},
	{Stages: 3, SharedWeights: true, WideN: true, Interleave: true, Unroll: true, StoreVec: true},
}

// allGemmConfigs lists every GEMM variant.
func allGemmConfigs() []kernels.GemmConfig {
	var cs []kernels.GemmConfig
	for _, pipe := range append(append([]kernels.GemmConfig{}, pipelines...), latencyPipelines...) {
		for _, sp := range []bool{false, true} {
			for _, res := range []bool{false, true} {
				for _, out := range []struct {
					f32 bool
					act string
				}{{false, ""}, {true, "none"}, {true, "relu"}, {true, "clip"}} {
					c := pipe
					c.Sparse, c.Residual, c.OutF32, c.Act = sp, res, out.f32, out.act
					variants := []kernels.GemmConfig{c}
					if res { // and with the residual tile
						rt := c
						rt.ResidualTile = true
						variants = append(variants, rt)
					}
					for _, v := range variants {
						cs = append(cs, v)
						if v.SplitK = true; v.Validate() == nil { // and its split-K twin
							cs = append(cs, v)
						}
					}
				}
			}
		}
	}
	return cs
}

// allHaloConfigs lists the halo-tile convolution variants: every
// shared-weight pipeline's GEMM variant as a Halo kernel.
func allHaloConfigs() []kernels.GemmConfig {
	var cs []kernels.GemmConfig
	for _, c := range allGemmConfigs() {
		if c.SharedWeights && !c.SplitM && !c.LateCopy && !c.DoubleK && !c.Interleave && !(c.SplitK && c.WideN) { // Halo has its own K loop; no wide split-K halo (it spills)
			c.Conv, c.Halo = true, true
			// Each on 8×8 and on 7×8 patches (Halo7).
			for _, h7 := range []bool{false, true} {
				c.Halo7, c.HaloRows = h7, false
				cs = append(cs, c)
				// The split kernel's twin that splits each chunk's three
				// kernel rows (HaloRows: at most 4 stages).
				if c.HaloRows = true; c.SplitK && c.Validate() == nil {
					cs = append(cs, c)
				}
			}
		}
	}
	return cs
}

// writePTX writes every module the tests load (the GEMMs, the op kernels,
// the gather kernels, the activation kernels and those that replaced host
// steps), one .ptx file a module.
func writePTX(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string]string{"probe.ptx": kernels.ProbePTX()}
	for _, c := range allGemmConfigs() {
		// The plain GEMM, the implicit convolution, and the convolution
		// with running taps (ConvStep: the planner's choice for C a
		// multiple of 64).
		for _, conv := range []struct{ on, step bool }{{false, false}, {true, false}, {true, true}} {
			c.Conv, c.ConvStep = conv.on, conv.step
			text, err := c.PTX()
			if err != nil {
				return err
			}
			files[c.Name()+".ptx"] = text
		}
	}
	for _, c := range allHaloConfigs() {
		text, err := c.PTX()
		if err != nil {
			return err
		}
		files[c.Name()+".ptx"] = text
	}
	for _, c := range []kernels.ConvPoolConfig{{KH: 4, KW: 4, Patches: kernels.ConvPoolPatches}} {
		text, err := c.PTX()
		if err != nil {
			return err
		}
		files[c.Name()+".ptx"] = text
	}
	for name := range kernels.OpParams {
		text, err := kernels.OpPTX(name)
		if err != nil {
			return err
		}
		files[name+".ptx"] = text
	}
	for _, name := range []string{kernels.Gather8Kernel, kernels.Gather32Kernel, kernels.Gather32x4Kernel, kernels.Gather8x4Kernel} {
		files[name+".ptx"] = kernels.GatherPTX(name)
	}
	files[kernels.HardActKernel+".ptx"] = kernels.HardActPTX()
	files[kernels.ChanScaleKernel+".ptx"] = kernels.ChanScalePTX()
	// The kernels that replaced host steps.
	for name, text := range map[string]string{
		kernels.AvgPoolF32Kernel: kernels.AvgPoolPTX(), kernels.LayerNormKernel: kernels.LayerNormPTX(),
		kernels.ResizeKernel: kernels.ResizePTX(), kernels.Clamp8Kernel: kernels.Clamp8PTX(),
		kernels.BatchMatMulKernel: kernels.BatchMatMulPTX(), kernels.ConvTransposeKernel: kernels.ConvTransposePTX(),
		kernels.QGroupConvF32Kernel: kernels.QGroupConvF32PTX(),
	} {
		files[name+".ptx"] = text
	}
	for _, c := range kernels.QGroupVecVariants() {
		files[c.Name()+".ptx"] = c.PTX()
	}
	files[kernels.QGroupConvKernel+".ptx"] = kernels.QGroupConvPTX()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// buf allocates and fills a device buffer, freed at the end of the test.
func buf[T cuda.Plain](t testing.TB, g *gpu, data []T) *cuda.Buffer {
	t.Helper()
	b, err := cuda.NewBufferFrom(g.ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Free() })
	return b
}

// alloc allocates n bytes poisoned with 0xA5 (so an unwritten output is
// seen), freed at the end of the test.
func alloc(t testing.TB, g *gpu, n int) *cuda.Buffer {
	t.Helper()
	b, err := g.ctx.Alloc(max(n, 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Free() })
	if err := b.Fill(0xA5); err != nil {
		t.Fatal(err)
	}
	return b
}

// randomInput is an f32 input for g's first input at batch: its per-sample
// shape, N(0, scale²) values drawn from r in order.
func randomInput(g *ir.Graph, batch int, r *rand.Rand, scale float64) *ir.Tensor {
	shape := []int{batch}
	for _, d := range g.Inputs[0].Type.Shape[1:] {
		shape = append(shape, int(d.Size))
	}
	x := ir.NewTensor(ir.Float32, shape...)
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(r.NormFloat64() * scale)
	}
	return x
}

// runBoth runs g on the reference executor and its engine e on the GPU, at
// batch, on the input x, and returns both outputs.
func runBoth(t *testing.T, g *ir.Graph, e *engine.Engine, batch int, x *ir.Tensor) (got, want []*ir.Tensor) {
	t.Helper()
	want, err := ref.Run(g, x)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := ampere.Open(e, batch)
	if err != nil {
		t.Fatal(err)
	}
	got, err = rt.Run([]*ir.Tensor{x})
	rt.Close()
	if err != nil {
		t.Fatal(err)
	}
	return got, want
}

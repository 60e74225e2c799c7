package gputest

import (
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/backend/ampere/cuda"
)

// The ceilings a K loop of the engines' shape can reach, instruction by
// instruction added (issue: engine speed, item 5: "say which layer stops
// where and why"). The engines' 3×3 layers reach 40–50 % of the
// mma.sync / mma.sp register-only ceilings and 2:4 gains 1.2–1.4× over
// dense where the instructions allow 1.47×. A loop skeleton
// (ceilingLoop) keeps the engines' warp tiles, block tiles, stages and
// shared-memory layout sizes but none of their address arithmetic or
// epilogue, in three modes:
//
//   - reg: fragments loaded once, the loop only multiplies: the
//     instruction ceiling at the tile's occupancy;
//   - lds: each K step a barrier, the warp's A (weights, and 2:4
//     metadata) and B (activations, ldmatrix.x4) fragments from shared
//     memory, then the products: what the shared-memory reads cost;
//   - fill: lds plus the stage refill the engines' kernels do each step
//     (cp.async of the block's whole weight and activation tile from an
//     L2-resident buffer, commit, wait): the skeleton's ceiling.
//
// The gap from fill to the engines' kernels is their address arithmetic,
// predicates and epilogue; the gap from reg to fill is the shared-memory
// traffic the tile shape implies, which 2:4 halves only on its weight
// side.

var ceilingIters = flag.Int("ceilingiters", 2048, "K steps a block runs in TestPerfLoopCeiling")

// ceilingLoop is one loop skeleton.
type ceilingLoop struct {
	name   string
	sparse bool
	warps  int // a block
	mt, nt int // a warp's m16 tiles (output channels) and n8 tiles (pixels)
	blockM int // output channels a block (a multiple of 16·mt)
	stages int
	mode   string // "reg", "lds", "fill"
	// streamB loads each pixel tile's B fragment just before its
	// products instead of all of them first, so that a warp tile of 192
	// accumulators fits the registers (lds and fill only).
	streamB bool
}

// Per m16 tile and K step of 64: 2:4 weights 16×32 bytes and their
// metadata (a 32-bit word a lane), dense weights 16×64; per n8 tile the
// activations 8 pixels × 64 bytes.
func (c ceilingLoop) aTileBytes() int {
	if c.sparse {
		return 512
	}
	return 1024
}

func (c ceilingLoop) eTileBytes() int {
	if c.sparse {
		return 128
	}
	return 0
}

func (c ceilingLoop) warpsM() int { return c.blockM / (16 * c.mt) }
func (c ceilingLoop) warpsN() int { return c.warps / c.warpsM() }
func (c ceilingLoop) blockN() int { return 8 * c.nt * c.warpsN() }

// stageBytes is one pipeline stage: the block's weights, metadata and
// activations for one K step of 64.
func (c ceilingLoop) stageBytes() int {
	return c.blockM/16*(c.aTileBytes()+c.eTileBytes()) + c.blockN()/8*512
}

// opsPerStep is a block's dense-equivalent operations a K step.
func (c ceilingLoop) opsPerStep() float64 {
	return 2 * float64(c.blockM) * float64(c.blockN()) * 64
}

// readBytesPerStep is what a block's warps read from shared memory a K
// step; the fill mode writes stageBytes more.
func (c ceilingLoop) readBytesPerStep() int {
	return c.warps * (c.mt*(c.aTileBytes()+c.eTileBytes()) + c.nt*512)
}

func (c ceilingLoop) kernel() string {
	kind := "dense"
	if c.sparse {
		kind = "sp24"
	}
	return fmt.Sprintf("sqc_ceiling_%s_%s_%s", kind, c.name, c.mode)
}

// ptx writes the skeleton. Parameters: the global source of the refills
// (a power-of-two size, its mask), the K steps, and an output word a
// thread that keeps the products live.
func (c ceilingLoop) ptx() string {
	var b strings.Builder
	l := func(format string, args ...any) { fmt.Fprintf(&b, "\t"+format+"\n", args...) }
	threads := 32 * c.warps
	acc := 4 * c.mt * c.nt
	aRegs := 4 * c.mt // 2:4: one 16-byte fragment a tile
	if !c.sparse {
		aRegs = 8 * c.mt // dense: two k32 halves
	}
	bRegs := 4 * c.nt
	fmt.Fprintf(&b, ".version 8.5\n.target sm_80\n.address_size 64\n.extern .shared .align 128 .b8 smem[];\n")
	fmt.Fprintf(&b, ".visible .entry %s(.param .u64 src, .param .u32 mask, .param .u32 steps, .param .u64 out)\n.maxntid %d, 1, 1\n{\n", c.kernel(), threads)
	l(".reg .b32 %%c<%d>;", acc)
	l(".reg .b32 %%a<%d>;", aRegs)
	l(".reg .b32 %%b<%d>;", bRegs)
	l(".reg .b32 %%e<%d>;", max(c.mt, 1))
	l(".reg .b32 %%r<24>;")
	l(".reg .b64 %%rd<8>;")
	l(".reg .pred %%p<4>;")
	l("mov.u32 %%r0, %%tid.x;")
	l("shr.u32 %%r1, %%r0, 5;")  // warp
	l("and.b32 %%r2, %%r0, 31;") // lane
	l("mov.u32 %%r3, smem;")
	// Fill the stages with 0x44 bytes: valid 2:4 metadata (indices 0, 1
	// in every group) and harmless operands; the refills copy 0x44 too.
	total := c.stages * c.stageBytes()
	l("mov.u32 %%r4, 0x44444444;")
	l("shl.b32 %%r5, %%r0, 2;")
	l("FILL:")
	l("setp.lt.u32 %%p0, %%r5, %d;", total)
	l("@!%%p0 bra FILLED;")
	l("add.u32 %%r6, %%r3, %%r5;")
	l("st.shared.u32 [%%r6], %%r4;")
	l("add.u32 %%r5, %%r5, %d;", 4*threads)
	l("bra FILL;")
	l("FILLED:")
	l("bar.sync 0;")
	// The warp's fragment offsets within a stage.
	wm := "%r7"
	l("rem.u32 %s, %%r1, %d;", wm, c.warpsM())
	l("div.u32 %%r8, %%r1, %d;", c.warpsM())                                    // wn
	l("mul.lo.u32 %%r9, %s, %d;", wm, c.mt*c.aTileBytes())                      // A
	l("mad.lo.u32 %%r9, %%r2, 16, %%r9;")                                       // + lane·16
	l("mul.lo.u32 %%r10, %s, %d;", wm, c.mt*c.eTileBytes())                     // E
	l("mad.lo.u32 %%r10, %%r2, 4, %%r10;")                                      //
	l("add.u32 %%r10, %%r10, %d;", c.blockM/16*c.aTileBytes())                  //
	l("mul.lo.u32 %%r11, %%r8, %d;", c.nt*512)                                  // B
	l("mad.lo.u32 %%r11, %%r2, 16, %%r11;")                                     //
	l("add.u32 %%r11, %%r11, %d;", c.blockM/16*(c.aTileBytes()+c.eTileBytes())) //
	for i := 0; i < acc; i++ {
		l("mov.u32 %%c%d, 0;", i)
	}
	l("ld.param.u64 %%rd0, [src];")
	l("ld.param.u32 %%r12, [mask];")
	l("ld.param.u32 %%r13, [steps];")
	l("mov.u32 %%r14, %%r3;")                                  // read stage
	l("add.u32 %%r15, %%r3, %d;", (c.stages-1)*c.stageBytes()) // write stage
	l("add.u32 %%r16, %%r3, %d;", total)                       // end of the ring
	l("mov.u32 %%r17, 0;")                                     // global offset
	chunks := c.stageBytes() / 16
	perThread := (chunks + threads - 1) / threads
	loadB := func(j int) {
		l("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%%b%d, %%b%d, %%b%d, %%b%d}, [%%r20+%d];", 4*j, 4*j+1, 4*j+2, 4*j+3, j*512)
	}
	loadFragments := func() {
		for i := 0; i < c.mt; i++ {
			if c.sparse {
				l("ld.shared.v4.u32 {%%a%d, %%a%d, %%a%d, %%a%d}, [%%r18+%d];", 4*i, 4*i+1, 4*i+2, 4*i+3, i*512)
				l("ld.shared.u32 %%e%d, [%%r19+%d];", i, i*128)
			} else {
				for h := 0; h < 2; h++ {
					r := 8*i + 4*h
					l("ld.shared.v4.u32 {%%a%d, %%a%d, %%a%d, %%a%d}, [%%r18+%d];", r, r+1, r+2, r+3, (2*i+h)*512)
				}
			}
		}
		if c.streamB && c.mode != "reg" {
			return // products() loads them
		}
		for j := 0; j < c.nt; j++ {
			loadB(j)
		}
	}
	addrs := func() {
		l("add.u32 %%r18, %%r14, %%r9;")
		l("add.u32 %%r19, %%r14, %%r10;")
		l("add.u32 %%r20, %%r14, %%r11;")
	}
	products := func() {
		for j := 0; j < c.nt; j++ {
			if c.streamB && c.mode != "reg" {
				loadB(j)
			}
			for i := 0; i < c.mt; i++ {
				d := 4 * (i*c.nt + j)
				cr := fmt.Sprintf("{%%c%d, %%c%d, %%c%d, %%c%d}", d, d+1, d+2, d+3)
				if c.sparse {
					l("mma.sp::ordered_metadata.sync.aligned.m16n8k64.row.col.s32.s8.s8.s32 %s, {%%a%d, %%a%d, %%a%d, %%a%d}, {%%b%d, %%b%d, %%b%d, %%b%d}, %s, %%e%d, 0x0;",
						cr, 4*i, 4*i+1, 4*i+2, 4*i+3, 4*j, 4*j+1, 4*j+2, 4*j+3, cr, i)
					continue
				}
				for h := 0; h < 2; h++ {
					a := 8*i + 4*h
					l("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 %s, {%%a%d, %%a%d, %%a%d, %%a%d}, {%%b%d, %%b%d}, %s;",
						cr, a, a+1, a+2, a+3, 4*j+2*h, 4*j+2*h+1, cr)
				}
			}
		}
	}
	if c.mode == "reg" {
		addrs()
		loadFragments()
	}
	if c.mode == "fill" {
		for s := 0; s < c.stages-1; s++ {
			l("cp.async.commit_group;")
		}
	}
	l("LOOP:")
	l("setp.eq.u32 %%p1, %%r13, 0;")
	l("@%%p1 bra DONE;")
	l("sub.u32 %%r13, %%r13, 1;")
	switch c.mode {
	case "lds":
		l("bar.sync 0;")
		addrs()
		loadFragments()
	case "fill":
		l("cp.async.wait_group %d;", c.stages-2)
		l("bar.sync 0;")
		// The engines' interleaved step (Interleave, `_il`): fragments,
		// then the next stage's copies, then the products, so that the
		// copies issue in the products' gaps.
		addrs()
		loadFragments()
		for f := 0; f < perThread; f++ {
			l("add.u32 %%r21, %%r0, %d;", f*threads) // chunk
			l("setp.lt.u32 %%p2, %%r21, %d;", chunks)
			l("shl.b32 %%r21, %%r21, 4;")
			l("add.u32 %%r22, %%r15, %%r21;") // shared destination
			l("add.u32 %%r21, %%r21, %%r17;")
			l("and.b32 %%r21, %%r21, %%r12;")
			l("cvt.u64.u32 %%rd1, %%r21;")
			l("add.u64 %%rd1, %%rd0, %%rd1;")
			l("@%%p2 cp.async.cg.shared.global [%%r22], [%%rd1], 16;")
		}
		l("cp.async.commit_group;")
		l("add.u32 %%r17, %%r17, %d;", 16*chunks)
		l("add.u32 %%r15, %%r15, %d;", c.stageBytes())
		l("setp.ge.u32 %%p3, %%r15, %%r16;")
		l("@%%p3 mov.u32 %%r15, %%r3;")
	}
	products()
	if c.mode != "reg" {
		l("add.u32 %%r14, %%r14, %d;", c.stageBytes())
		l("setp.ge.u32 %%p3, %%r14, %%r16;")
		l("@%%p3 mov.u32 %%r14, %%r3;")
	}
	l("bra LOOP;")
	l("DONE:")
	if c.mode == "fill" {
		l("cp.async.wait_group 0;")
	}
	for i := 1; i < acc; i++ {
		l("xor.b32 %%c0, %%c0, %%c%d;", i)
	}
	l("ld.param.u64 %%rd2, [out];")
	l("mov.u32 %%r23, %%ctaid.x;")
	l("mad.lo.u32 %%r23, %%r23, %d, %%r0;", threads)
	l("mul.wide.u32 %%rd3, %%r23, 4;")
	l("add.u64 %%rd2, %%rd2, %%rd3;")
	l("st.global.u32 [%%rd2], %%c0;")
	l("ret;")
	b.WriteString("}\n")
	return b.String()
}

// ceilingLoops are the skeletons of the engines' wide tiles: n128 (4
// warps of 64 channels × 64 pixels, a 128×128 block, 3 stages), m32 (8
// warps of 64 × 32, the same block), and two shapes only a skeleton
// has: warps of 128 channels × 32 pixels (the same accumulators),
// n256 (8 warps of 64 × 64, a 256 × 128 block: 3/4 of the refill a
// product), and two warp tiles of 192 accumulators that read a pixel
// tile's B fragment just before its products, 2:4 only: 64 × 96 and
// 128 × 48 (shared-memory bytes read a product 0.89 and 0.78 of n128's).
func ceilingLoops() []ceilingLoop {
	var all []ceilingLoop
	for _, mode := range []string{"reg", "lds", "fill"} {
		for _, sparse := range []bool{false, true} {
			all = append(all,
				ceilingLoop{name: "n128", sparse: sparse, warps: 4, mt: 4, nt: 8, blockM: 128, stages: 3, mode: mode},
				ceilingLoop{name: "m32", sparse: sparse, warps: 8, mt: 4, nt: 4, blockM: 128, stages: 3, mode: mode},
				ceilingLoop{name: "n256", sparse: sparse, warps: 8, mt: 4, nt: 8, blockM: 256, stages: 3, mode: mode},
				ceilingLoop{name: "w128x32", sparse: sparse, warps: 4, mt: 8, nt: 4, blockM: 256, stages: 3, mode: mode},
			)
			// The 192-accumulator tiles: 2:4 only (ptxas 11.8 spills the
			// dense 64 × 96 tile's fragments: 32–96 bytes), and only with
			// shared-memory fragments (all B fragments at once spill).
			if sparse && mode != "reg" {
				all = append(all,
					ceilingLoop{name: "w64x96", sparse: sparse, warps: 4, mt: 4, nt: 12, blockM: 128, stages: 3, mode: mode, streamB: true},
					ceilingLoop{name: "w128x48", sparse: sparse, warps: 4, mt: 8, nt: 6, blockM: 128, stages: 3, mode: mode, streamB: true})
			}
		}
	}
	return all
}

// TestPerfLoopCeiling times every skeleton at every occupancy its
// registers and shared memory allow (one block an SM, then as many as
// fit, a grid of one wave), and prints a table: registers, blocks an SM,
// dense-equivalent TOPS, the share of the instruction's register-only
// ceiling, the shared-memory bytes a clock and SM it implies (lmem: local
// memory bytes, nonzero where the driver spilled), and per
// shape and mode 2:4 over dense. Skipped with -test.short.
func TestPerfLoopCeiling(t *testing.T) {
	g := needGPU(t)
	if testing.Short() {
		t.Skip("timing skipped in -short mode")
	}
	sms, err := g.dev.MultiprocessorCount()
	if err != nil {
		t.Fatal(err)
	}
	khz, err := g.dev.Attribute(cuda.AttrClockRateKHz)
	if err != nil {
		t.Fatal(err)
	}
	const srcBytes = 8 << 20 // L2-resident, as the engines' refills mostly are
	src := alloc(t, g, srcBytes)
	if err := src.Fill(0x44); err != nil {
		t.Fatal(err)
	}
	lines := []string{fmt.Sprintf("K-loop skeletons on %s (%d SMs, %d MHz max), %d K steps of 64 a block, one wave, median of %d launches; TOPS dense-equivalent; smem B/clk = shared-memory bytes read (+ written, fill) a clock and SM at the max clock",
		g.desc, sms, khz/1000, *ceilingIters, perfIters),
		fmt.Sprintf("%-8s %-5s %-5s | %4s %4s %5s | %8s %7s %5s %8s", "tile", "kind", "mode", "regs", "lmem", "blk", "us", "TOPS", "ceil", "smem B/clk")}
	type key struct{ name, mode string }
	best := map[key][2]float64{}
	for _, c := range ceilingLoops() {
		// A subtest a skeleton, so that one the driver refuses costs its own rows only.
		t.Run(c.kernel(), func(t *testing.T) {
			ptx := c.ptx()
			f := g.function(t, c.kernel(), ptx, c.kernel())
			regs, _ := f.Attribute(cuda.FuncNumRegs)
			local, _ := f.Attribute(cuda.FuncLocalSizeBytes)
			shared := c.stages * c.stageBytes()
			if err := f.SetMaxDynamicSharedMemory(200 << 10); err != nil {
				t.Fatal(err)
			}
			most, err := f.MaxActiveBlocks(32*c.warps, shared)
			if err != nil {
				t.Fatal(err)
			}
			ceil, _ := ampere.InstructionCeiling(g.desc, c.sparse)
			kind := "dense"
			si := 0
			if c.sparse {
				kind, si = "2:4", 1
			}
			for per := 1; per <= most; per++ {
				// Shared memory sized so that no more than per blocks fit an
				// SM (228 KiB an SM, 1 KiB of it reserved a block).
				smem := shared
				if per < most {
					smem = max(shared, (228<<10)/(per+1)+1)
				}
				if n, err := f.MaxActiveBlocks(32*c.warps, smem); err != nil || n != per {
					t.Fatalf("%s: %d bytes of shared memory give %d blocks an SM (%v), want %d", c.kernel(), smem, n, err, per)
				}
				grid := sms * per
				out := alloc(t, g, grid*32*c.warps*4)
				us := timeKernel(t, g, func() error {
					return g.stream.Launch(f, cuda.D1(grid), cuda.D1(32*c.warps), smem, src, uint32(srcBytes-1), uint32(*ceilingIters), out)
				})
				ops := c.opsPerStep() * float64(grid) * float64(*ceilingIters)
				tops := ops / us / 1e6
				bytes := float64(c.readBytesPerStep())
				if c.mode == "fill" {
					bytes += float64(c.stageBytes())
				}
				if c.mode == "reg" {
					bytes = 0
				}
				steps := float64(per) * float64(*ceilingIters) // a SM's block steps
				clocks := us * float64(khz) / 1e3
				lines = append(lines, fmt.Sprintf("%-8s %-5s %-5s | %4d %4d %5d | %8.1f %7.1f %4.0f%% | %8.1f", c.name, kind, c.mode, regs, local, per, us, tops, 100*tops/ceil, bytes*steps/clocks))
				k := key{c.name, c.mode}
				b := best[k]
				if tops > b[si] {
					b[si] = tops
				}
				best[k] = b
			}
		})
	}
	lines = append(lines, "", "2:4 over dense (the faster occupancy of each):")
	for _, c := range ceilingLoops() {
		if c.sparse {
			continue
		}
		b := best[key{c.name, c.mode}]
		if b[0] > 0 {
			lines = append(lines, fmt.Sprintf("%-8s %-5s %5.2fx", c.name, c.mode, b[1]/b[0]))
		}
	}
	lines = append(lines, "", "fastest 2:4 tile over fastest dense tile, per mode:")
	for _, mode := range []string{"reg", "lds", "fill"} {
		var top [2]float64
		for k, b := range best {
			if k.mode == mode {
				top[0], top[1] = max(top[0], b[0]), max(top[1], b[1])
			}
		}
		lines = append(lines, fmt.Sprintf("%-5s %5.2fx (%.0f / %.0f TOPS)", mode, top[1]/top[0], top[1], top[0]))
	}
	t.Log("\n" + strings.Join(lines, "\n"))
}

package kernels

import (
	"fmt"
	"math"
	"strings"

	"github.com/sqc-project/sqc/backend/ampere/pack"
)

// The INT8 GEMM with the QConv/QGemm epilogue.
//
// It computes, for activations X [M][K] (int8, row-major with row stride
// lda: im2col or NHWC rows, one row a pixel) and weights W [N][K] (int8,
// packed by backend/ampere/pack), the output Y [M][N] (row stride ldc):
//
//	acc     = Σk X[m][k]·W[n][k] + bias'[n]          int32, wrapping
//	y       = float32(acc) · mult[n]                  mul.rn.f32
//	y       = y + float32(R[m][n] − zr) · mr          (residual) mul.rn, add.rn
//	Y[m][n] = clamp(rne(y), qlo, qhi) + zy            int8 output
//	Y[m][n] = act(y)                                  float32 output
//
// bias' is the QConv bias with the input zero point folded in
// (pack.FoldZeroPoint), so the Tensor Cores multiply the raw int8 codes;
// [qlo, qhi] is the activation's int8 range minus zy (ir.QActivationRange),
// so that the clamp happens before the zero point is added and cannot
// overflow. Every float operation carries .rn, which also forbids ptxas
// from contracting a multiply and an add into an FMA: the arithmetic is
// ir/ref/qint8.go's, bit for bit.
//
// The instruction computes Yᵀ = W·Xᵀ: the weights are its A operand (the
// one mma.sp makes sparse), 16 output channels by the instruction's M, and
// the activations its B operand, 8 pixels by its N.
//
// Tiling: a block of 128 threads (4 warps) computes 128 pixels × 64
// channels; warp w covers channels 32·(w&1)…+31 (two 16-channel tiles) and
// pixels 64·(w>>1)…+63 (eight 8-pixel tiles), 64 int32 accumulators a
// thread. WideN doubles the channels: 128 a block, 64 a warp (four
// tiles), 128 accumulators a thread. The K loop steps 64 at a time. Activations go through shared
// memory: each thread copies four 16-byte chunks per step with cp.async,
// three stages deep, into rows of 64 bytes whose 16-byte chunks are XOR-
// swizzled by (row>>1)&3 so that the ldmatrix.x4 that reads an 8-pixel ×
// 64-byte B fragment hits 32 distinct banks. Weights are read straight
// from global memory (the packed layout makes each lane's registers one
// 16-byte load, coalesced across the warp) one step ahead of their use.
//
// The Conv variant (conv.go) differs only in where the activation chunks
// come from: the NHWC input of a convolution, addressed per chunk, instead
// of X's rows.
//
// Ragged shapes: M by predication (cp.async zero-fills rows past M; stores
// are skipped); K by padding the packed weights with zeros to a multiple
// of 64 and zero-filling activation bytes at k ≥ K (cp.async's src-size),
// so nothing past a row is read; N by padding the packed weights, bias'
// and mult to a multiple of 64 channels (GemmBN) and skipping stores of
// channels ≥ N.

// GEMM tile geometry.
const (
	GemmThreads = 128 // threads a block
	GemmBM      = 128 // pixels (rows of X) a block
	GemmBN      = 64  // channels a block; pack weights with nAlign = GemmBN
	GemmBK      = 64  // K a main-loop step
	// DefaultStages is the cp.async pipeline depth of a config that sets
	// none.
	DefaultStages = 3
	xStageBytes   = GemmBM * GemmBK // activations of one stage
	maxStaticSmem = 48 << 10        // a kernel's static shared memory limit
	// maxDynamicSmem is the most a block may opt in to on the smallest
	// target (sm_86: 99 KiB; sm_80 163, sm_90 227).
	maxDynamicSmem = 99 << 10
)

// GemmConfig selects a GEMM variant; each is its own kernel, so the loop
// and epilogue carry no run-time switches.
//
// Of the two pipelines, {Stages: 4, SharedWeights: true} is the faster
// (on an H200, ResNet-34's 3×3 GEMMs at batch 32: dense 215–340 and 2:4
// sparse 223–382 TOPS, against 116–289 and 123–301 for the zero value,
// which loads weights only one step ahead: backend/ampere/NOTES.md); both
// are bit-exact against the reference.
type GemmConfig struct {
	// Sparse selects mma.sp m16n8k64 on 2:4 weights packed by
	// pack.PackSparse; otherwise mma.sync m16n8k32 on pack.PackDense.
	Sparse bool
	// Residual adds an int8 residual R [M][N] (row stride ldr).
	Residual bool
	// OutF32 writes float32 y (after Act) instead of int8.
	OutF32 bool
	// Act is the activation of a float32 output: "none", "relu" or
	// "clip" (bounds flo, fhi). An int8 output's activation is its clamp
	// range, a launch parameter.
	Act string
	// Stages is the cp.async pipeline depth (2 or more; 0 means
	// DefaultStages).
	Stages int
	// SharedWeights stages each K step's weight tiles through shared
	// memory with cp.async, in the same pipeline as the activations, so
	// their loads are issued Stages-1 steps ahead; otherwise each warp
	// loads its weight registers from global memory one step ahead.
	SharedWeights bool
	// Conv makes the kernel an implicit-GEMM convolution: X is the NHWC
	// int8 input itself and each 16-byte activation chunk's address is
	// computed from the convolution geometry (GemmParams.Conv) instead of
	// read from an im2col matrix; see conv.go.
	Conv bool
	// ConvPiece is what one copy of a Conv kernel moves: 0 (16 bytes)
	// when C is a multiple of 16, so that a 16-byte chunk of a GEMM row is
	// 16 channels of one tap; 4 or 8 when C is 4 or 8 (a 3-channel stem
	// after pad-channels), a chunk then being 16/C whole taps, each its
	// own 4- or 8-byte cp.async. See conv.go.
	ConvPiece int
	// ConvStep keeps each thread's tap and channel as running values that
	// advance by one K step (64) a tile instead of dividing the column by
	// C and KW every tile; C must be a multiple of 64. See conv.go.
	ConvStep bool
	// StoreVec stages the output tile through shared memory (after the K
	// loop, when the stages are free) so that each lane writes whole
	// 16-byte chunks of output rows instead of single elements: a warp's
	// element stores touch 4 rows × 8 elements each, many partial sectors
	// an instruction. An int8 output needs N and the output row stride
	// multiples of 16; a float32 output (f32Passes) multiples of 4.
	StoreVec bool
	// ResidualTile copies the block's residual (each warp its pixel rows
	// × its channels) into shared memory with 16-byte cp.async after the
	// K loop, and the epilogue reads each element's residual byte from
	// there instead of one ld.global.s8 an accumulator: a warp's byte
	// loads touch 4 rows × 8 bytes, many partial sectors an instruction,
	// each waited on inside the epilogue's dependency chain. The tile is
	// laid out as StoreVec's staging (storeRow), so that an int8 output
	// overwrites its own residual byte. Needs Residual and the residual
	// row stride a multiple of 16 (Check); without it the byte loads
	// stay.
	ResidualTile bool
	// WideBlock doubles the block to 8 warps (256 threads) side by side
	// along the channels: 256 channels a block (with WideN), 128 pixels.
	// Each activation tile copied from L2 then feeds 256 channels instead
	// of 128: the implicit-GEMM kernels are bound by L2 → shared traffic,
	// of which the activations are the part 2:4 does not shrink. Its
	// stages exceed 48 KiB: the launch passes them as dynamic shared
	// memory (DynamicShared) and the runtime raises the function's limit.
	WideBlock bool
	// Halo makes a Conv kernel a halo-tile convolution (halo.go): for 3×3
	// stride-1 convolutions with pad 1 and C a multiple of 64, a block
	// owns two 8×8 output patches and loads each 64-channel chunk of
	// their 10×10 input halos into shared memory once, forming the nine
	// taps' fragments from there instead of copying each input pixel
	// nine times. Needs Conv and SharedWeights.
	Halo bool
	// WideN gives each warp 64 output channels (four 16-channel tiles)
	// instead of 32, and the block 128 (BN) instead of 64. Every B
	// fragment a warp reads from shared memory then feeds four
	// instructions instead of two, which halves the shared-memory reads
	// per product: with 32 channels a warp, those reads, not the Tensor
	// Cores, bound the 2:4 kernel (mma.sp does twice the work of mma.sync
	// on the same B fragment). Needs SharedWeights and N ≥ 128 to pay.
	WideN bool
	// SplitM gives the WideN block tile (128 pixels × 128 channels) to 8
	// warps instead of 4: four along the pixels (32 each, four 8-pixel
	// tiles) and two along the channels (64 each). A thread then holds 64
	// accumulators instead of 128, and the kernel asks ptxas for two
	// blocks an SM (.minnctapersm 2, at most 128 registers a thread), 16
	// warps instead of the 8 that 200–255 registers allow: Nsight Compute
	// found the 4-warp kernels latency bound (a fixed-latency dependency
	// the top stall, two warps a scheduler to hide it). Each B fragment
	// still feeds four channel tiles; each weight fragment feeds four
	// pixel tiles instead of eight. Needs WideN; not with WideBlock.
	SplitM bool
	// LateCopy orders a K step as: the step's weight fragments and the
	// first pixel tile's B fragment, that tile's products, then the next
	// stage's copies (address arithmetic, cp.async, zero-point stores),
	// then the remaining fragments and products. Otherwise the copies come
	// first, and every warp runs them between the barrier and its first
	// product; ptxas does not move products above them (the copy's skip
	// branch ends a basic block: in the SASS of the n128 kernel some 80
	// instructions sit between BAR.SYNC and the first IMMA). Same
	// arithmetic, same order of accumulation: bit-exact alike. Needs
	// WideN.
	LateCopy bool
	// DoubleK makes a pipeline stage two K steps of 64 (BK = 128): one
	// barrier and one wait for every 128 of K instead of every 64, the
	// products of both steps between them. Each step keeps its own
	// layout inside the stage (activations, weights, metadata), so the
	// copies and fragment reads are the one-step kernel's at an offset.
	// A last stage past an odd KT holds one step: its second step's
	// copies and products are skipped. The stages exceed 48 KiB: the
	// launch passes them as dynamic shared memory. Needs WideN.
	DoubleK bool
	// Interleave makes a K step one basic block that ptxas can schedule
	// as a whole: the step's fragment loads (weights, metadata, every
	// pixel tile's B fragment) first, then the next stage's copies without
	// a branch, then the products. In the SASS of the other orders the
	// copies' address arithmetic issues on its own before the first
	// product (or, with LateCopy, between products but still in its own
	// basic block: a skip branch past KT ends the block); here ptxas
	// spreads it over the issue gaps between the Tensor Core instructions
	// (an IMMA.SP issues every 8 cycles a warp), which keeps a warp's
	// chain from the barrier to its last product close to the products'
	// own issue time (ptxas 11.8: 337 instead of 490 cycles of stall
	// counts a step for the 2:4 n128 GEMM, of which 256 are the 32
	// products; backend/ampere/NOTES.md). Past KT the copies still run,
	// into the stage no step reads: activations zero-filled (or the zero
	// point, conv padding) as past K, weights and metadata from tile
	// KT−1 so that no address leaves the packed array. Same products in
	// the same order per accumulator: bit-exact alike. Needs WideN; not
	// with LateCopy, DoubleK, WideBlock, Halo, SplitK or ConvPiece.
	Interleave bool
	// Unroll makes the Interleave loop's body two K steps (and an odd
	// KT's last step a copy after the loop), and moves each step's wait
	// and barrier (after which tile kt+1 is in its stage and every warp
	// is done with the stage the next copies overwrite) from the step's
	// start to just after its last shared-memory read, before its
	// products (emitEarlyBarrier): the first step's products may then run
	// on past the second step's barrier and under its fragment loads, as
	// they do across the halo kernel's unrolled taps. ptxas 11.8: 3–9 %
	// fewer stall cycles a step on the n128 tile (without the early
	// barrier 2–6 %, and up to 32 more registers); on the m32 tile the
	// 2:4 convolution lost and the dense one spilled. Needs Interleave,
	// not with SplitM.
	Unroll bool
	// HaloRows makes a SplitK Halo kernel's K units a chunk's kernel
	// rows instead of whole chunks: unit u is tap row r = u / (C/64) of
	// chunk u mod (C/64), its three taps (r, 0..2); each unit loads its
	// chunk's halo (the halo is loaded three times a chunk over the
	// launch), so a layer of few chunks splits three times as many ways
	// (ResNet-34's layer3: 4 chunks, 12 units). See halo.go. Needs Halo
	// and SplitK.
	HaloRows bool
	// Halo7 makes the halo kernel's patches 7 rows × 8 columns instead
	// of 8 × 8 (halo 9 × 10 pixels): ResNet's 14×14, 7×7 and 28×28 images
	// take as many patches as with 8 rows (4, 1, 16), and each warp skips
	// its pixel tile 7 (7 products a channel tile and tap instead of 8,
	// 720 halo copies a chunk instead of 800): the 8-row patches computed
	// 1.31× the useful pixels there, these 1.14×. Same products in the
	// same order per accumulator. Needs Halo. See halo.go.
	Halo7 bool
	// SplitK divides the K loop over the launch's grid z and adds the
	// splits' partial sums in the last block of each tile to arrive
	// (splitk.go). The kernel takes two more parameters, the workspace
	// and the tile counters (SplitKWorkspaceBytes; the counters start at
	// zero and are zero again after the launch). For batch-1 latency,
	// where a layer has fewer blocks than the GPU has SMs.
	SplitK bool
}

// Threads is the block size.
func (c GemmConfig) Threads() int { return 32 * c.warpsN() * c.warpsM() }

// warpsN is the number of warps side by side along the channels.
func (c GemmConfig) warpsN() int {
	if c.WideBlock {
		return 4
	}
	return 2
}

// warpsM is the number of warps side by side along the block's 128
// pixels.
func (c GemmConfig) warpsM() int {
	if c.SplitM {
		return 4
	}
	return 2
}

// warpPixels is the number of pixels (GEMM rows) a warp computes.
func (c GemmConfig) warpPixels() int { return GemmBM / c.warpsM() }

// pixelTiles is the number of 8-pixel tiles (mma columns) a warp
// computes.
func (c GemmConfig) pixelTiles() int { return c.warpPixels() / 8 }

// rowsPerThread is the number of activation rows a thread copies a stage:
// 128 rows of four 16-byte chunks over the block.
func (c GemmConfig) rowsPerThread() int { return GemmBM * 4 / c.Threads() }

// rowStep is the distance between a thread's rows.
func (c GemmConfig) rowStep() int { return c.Threads() / 4 }

// DynamicShared is the dynamic shared memory a launch passes: the stages,
// where they exceed what a kernel may declare statically; else 0.
func (c GemmConfig) DynamicShared() int {
	if c.SharedBytes() > maxStaticSmem {
		return c.SharedBytes()
	}
	return 0
}

// warpTiles is the number of 16-channel tiles (mma rows) a warp computes.
func (c GemmConfig) warpTiles() int {
	if c.WideN {
		return 4
	}
	return 2
}

// BN is the block's channel count: the packed weights' channel alignment
// (pack with nAlign = BN) and the grid's y step.
func (c GemmConfig) BN() int { return c.warpsN() * 16 * c.warpTiles() }

// blockTiles is the number of 16-channel weight tiles a block reads a
// step.
func (c GemmConfig) blockTiles() int { return c.BN() / 16 }

// Grid returns the launch grid for m pixels and nPad channels (the block
// is GemmThreads threads, no dynamic shared memory).
func (c GemmConfig) Grid(m, nPad int) (x, y int) {
	return (m + GemmBM - 1) / GemmBM, nPad / c.BN()
}

// stages returns the pipeline depth.
func (c GemmConfig) stages() int {
	if c.Stages == 0 {
		return DefaultStages
	}
	return c.Stages
}

// tileBytes is the size of one packed 16x64 weight tile.
func (c GemmConfig) tileBytes() int {
	if c.Sparse {
		return pack.SparseTileBytes
	}
	return pack.DenseTileBytes
}

// Shared memory of one stage: activations, then (SharedWeights) the
// block's four weight tiles, then (sparse) their four metadata tiles.
func (c GemmConfig) wStageBytes() int {
	if !c.SharedWeights {
		return 0
	}
	return c.blockTiles() * c.tileBytes()
}

func (c GemmConfig) eStageBytes() int {
	if !c.SharedWeights || !c.Sparse {
		return 0
	}
	return c.blockTiles() * pack.WarpSize * 4
}

// stepBytes is the shared memory of one K step: activations, then the
// weights and metadata (SharedWeights).
func (c GemmConfig) stepBytes() int { return c.xStage() + c.wStageBytes() + c.eStageBytes() }

// xStage is the activation part of a step: none for Halo, whose
// activations are the two halo buffers before the stages.
func (c GemmConfig) xStage() int {
	if c.Halo {
		return 0
	}
	return xStageBytes
}

// ringBase is where the stages start in shared memory: after the halo
// buffers for Halo, else at 0.
func (c GemmConfig) ringBase() int {
	if c.Halo {
		return 2 * c.haloBufBytes()
	}
	return 0
}

// wRegion is the offset of stage 0's weight tiles in shared memory.
func (c GemmConfig) wRegion() int { return c.ringBase() + c.xStage() }

// stepsPerStage is the number of K steps of 64 a pipeline stage holds.
func (c GemmConfig) stepsPerStage() int {
	if c.DoubleK {
		return 2
	}
	return 1
}

// stageBytes is the shared memory of one pipeline stage.
func (c GemmConfig) stageBytes() int { return c.stepsPerStage() * c.stepBytes() }

// SharedBytes is the kernel's static shared memory.
func (c GemmConfig) SharedBytes() int { return c.ringBase() + c.stages()*c.stageBytes() }

// Name returns the kernel's entry name. Every GEMM kernel's name starts
// with sqc_gemm: sqc tune, the roofline of bench --profile and run's layer
// table find a layer's GEMM step by that prefix (a halo kernel named
// otherwise was invisible to tune, which then dropped it as a candidate).
func (c GemmConfig) Name() string {
	var b strings.Builder
	switch {
	case c.Halo:
		b.WriteString("sqc_gemm_halo_s8")
	case c.Conv:
		b.WriteString("sqc_gemm_conv_s8")
	default:
		b.WriteString("sqc_gemm_s8")
	}
	if c.Sparse {
		b.WriteString("_sp24")
	} else {
		b.WriteString("_dense")
	}
	if c.Residual {
		b.WriteString("_res")
	}
	if c.OutF32 {
		b.WriteString("_f32")
		if c.Act != "" && c.Act != "none" {
			b.WriteString("_" + c.Act)
		}
	} else {
		b.WriteString("_i8")
	}
	if c.ConvPiece != 0 {
		fmt.Fprintf(&b, "_c%d", c.ConvPiece)
	}
	if c.ConvStep {
		b.WriteString("_inc")
	}
	if c.WideN {
		fmt.Fprintf(&b, "_n%d", c.BN())
	}
	if c.SplitM {
		fmt.Fprintf(&b, "_m%d", c.warpPixels())
	}
	if c.LateCopy {
		b.WriteString("_lc")
	}
	if c.Interleave {
		b.WriteString("_il")
	}
	if c.Unroll {
		b.WriteString("_u2")
	}
	if c.DoubleK {
		fmt.Fprintf(&b, "_k%d", c.stepsPerStage()*GemmBK)
	}
	if c.StoreVec {
		b.WriteString("_v16")
	}
	if c.ResidualTile {
		b.WriteString("_rt")
	}
	if c.stages() != DefaultStages || c.SharedWeights {
		fmt.Fprintf(&b, "_s%d", c.stages())
		if c.SharedWeights {
			b.WriteString("w")
		}
	}
	if c.Halo7 {
		b.WriteString("_h7")
	}
	if c.HaloRows {
		b.WriteString("_tr")
	}
	if c.SplitK {
		b.WriteString("_sk")
	}
	return b.String()
}

// Validate checks the configuration.
func (c GemmConfig) Validate() error {
	if c.stages() < 2 {
		return fmt.Errorf("gemm: %d pipeline stages, want 2 or more", c.Stages)
	}
	if (c.ConvPiece != 0 || c.ConvStep) && !c.Conv {
		return fmt.Errorf("gemm %s: ConvPiece and ConvStep apply to Conv kernels", c.Name())
	}
	if c.ConvPiece != 0 && c.ConvPiece != 4 && c.ConvPiece != 8 {
		return fmt.Errorf("gemm %s: copy piece of %d bytes, want 4 or 8 (or 0 for 16-byte chunks)", c.Name(), c.ConvPiece)
	}
	if c.ConvPiece != 0 && c.ConvStep {
		return fmt.Errorf("gemm %s: ConvStep needs 16-byte chunks (C a multiple of 64), not %d-byte pieces", c.Name(), c.ConvPiece)
	}
	if c.StoreVec && c.OutF32 && c.f32Passes() == 0 {
		return fmt.Errorf("gemm %s: %d bytes of shared memory cannot stage %d float32 tiles of %d rows × 16 channels", c.Name(), c.SharedBytes(), c.Threads()/32, c.warpPixels())
	}
	if w := c.Threads() / 32; (c.StoreVec && !c.OutF32 || c.ResidualTile) && c.SharedBytes() < w*c.storeRegion() {
		return fmt.Errorf("gemm %s: %d bytes of shared memory cannot stage %d %d-byte output or residual tiles", c.Name(), c.SharedBytes(), w, c.storeRegion())
	}
	if c.ResidualTile && !c.Residual {
		return fmt.Errorf("gemm %s: ResidualTile stages a residual, want Residual", c.Name())
	}
	if c.WideN && !c.SharedWeights {
		return fmt.Errorf("gemm %s: WideN reads its weight tiles from shared memory, want SharedWeights", c.Name())
	}
	if c.WideBlock && !c.WideN {
		return fmt.Errorf("gemm %s: WideBlock is for the wide warp tile, want WideN", c.Name())
	}
	if c.SplitM && (!c.WideN || c.WideBlock) {
		return fmt.Errorf("gemm %s: SplitM splits the 4-warp wide block tile, want WideN without WideBlock", c.Name())
	}
	if c.LateCopy && !c.WideN {
		return fmt.Errorf("gemm %s: LateCopy reorders the wide warp tile's step, want WideN", c.Name())
	}
	if c.DoubleK && !c.WideN {
		return fmt.Errorf("gemm %s: DoubleK is for the wide warp tile, want WideN", c.Name())
	}
	if c.Interleave && (!c.WideN || c.LateCopy || c.DoubleK || c.WideBlock || c.Halo || c.SplitK || c.ConvPiece != 0) {
		return fmt.Errorf("gemm %s: Interleave reorders the wide warp tile's one-step K loop, want WideN without LateCopy, DoubleK, WideBlock, Halo, SplitK or ConvPiece", c.Name())
	}
	if c.Unroll && (!c.Interleave || c.SplitM) {
		return fmt.Errorf("gemm %s: Unroll unrolls the 4-warp Interleave loop, want Interleave without SplitM", c.Name())
	}
	if err := c.validateHalo(); err != nil {
		return err
	}
	if c.SplitK && c.Halo && c.WideN {
		// On the H100 (CUDA 13's JIT) every 4-warp wide halo kernel's
		// split-K twin spilled 8 bytes at 255 registers
		// (TestGemmResources); the latency heuristic plans s4w halo.
		return fmt.Errorf("gemm %s: split-K spills the wide halo tile, want it without SplitK (or the s4w tile)", c.Name())
	}
	if c.SplitK && c.SplitM && c.DoubleK && !c.Sparse && c.Residual && c.StoreVec {
		// ptxas 11.8 (sm_90) spills 8 bytes of this 128-register kernel
		// with the split's loop bound live; its unsplit twin uses all 128.
		return fmt.Errorf("gemm %s: split-K spills the dense residual 8-warp k128 kernel with 16-byte stores, want it without SplitK", c.Name())
	}
	if c.SharedBytes() > maxStaticSmem && !c.WideBlock && !c.DoubleK && !c.Halo {
		return fmt.Errorf("gemm %s: %d stages of %d bytes need %d bytes of shared memory, more than the %d a kernel may declare", c.Name(), c.stages(), c.stageBytes(), c.SharedBytes(), maxStaticSmem)
	}
	if c.SharedBytes() > maxDynamicSmem {
		return fmt.Errorf("gemm %s: %d stages of %d bytes need %d bytes of shared memory, more than the %d an sm_86 block may have", c.Name(), c.stages(), c.stageBytes(), c.SharedBytes(), maxDynamicSmem)
	}
	switch c.Act {
	case "", "none":
	case "relu", "clip":
		if !c.OutF32 {
			return fmt.Errorf("gemm %s: activation %q is part of an int8 output's clamp range, want Act empty", c.Name(), c.Act)
		}
	default:
		return fmt.Errorf("gemm: activation %q, want none, relu or clip", c.Act)
	}
	return nil
}

// GemmParams are the scalar launch parameters.
type GemmParams struct {
	M, N, K       int // logical sizes
	NPad, KPad    int // of the packed weights
	LDA, LDR, LDC int // row strides of X, R and Y in elements
	ZR            int32
	QLo, QHi      int32 // int8 clamp range minus ZY
	ZY            int32
	MR            float32 // residual multiplier
	FLo, FHi      float32 // float32 output clip bounds
	// Conv is the convolution geometry of a Conv kernel (LDA is then
	// unused); ignored otherwise.
	Conv ConvShape
}

// Check validates parameters against the kernel's requirements.
func (c GemmConfig) Check(p GemmParams) error {
	name := c.Name()
	switch {
	case p.M <= 0 || p.N <= 0 || p.K <= 0:
		return fmt.Errorf("gemm %s: M, N, K = %d, %d, %d, want positive", name, p.M, p.N, p.K)
	case p.NPad < p.N || p.NPad%c.BN() != 0:
		return fmt.Errorf("gemm %s: weights padded to %d channels, want a multiple of %d ≥ N = %d (pack with nAlign %d)", name, p.NPad, c.BN(), p.N, c.BN())
	case p.KPad < p.K || p.KPad%GemmBK != 0:
		return fmt.Errorf("gemm %s: weights padded to K %d, want a multiple of %d ≥ K = %d", name, p.KPad, GemmBK, p.K)
	case c.Conv && p.Conv.check(p.K) != nil:
		return fmt.Errorf("%s: %v", name, p.Conv.check(p.K))
	case c.Conv && c.ConvPiece != p.Conv.piece():
		return fmt.Errorf("%s: %d input channels need ConvPiece %d", name, p.Conv.C, p.Conv.piece())
	case c.Halo && p.Conv.haloCheck(p.M) != nil:
		return fmt.Errorf("%s: %v", name, p.Conv.haloCheck(p.M))
	case c.ConvStep && p.Conv.C%64 != 0:
		return fmt.Errorf("%s: %d input channels, ConvStep wants a multiple of 64", name, p.Conv.C)
	case !c.Conv && (p.LDA < p.K || p.LDA%16 != 0):
		return fmt.Errorf("gemm %s: activation row stride %d, want a multiple of 16 ≥ K = %d (cp.async copies aligned 16-byte chunks)", name, p.LDA, p.K)
	case p.LDC < p.N:
		return fmt.Errorf("gemm %s: output row stride %d, want ≥ N = %d", name, p.LDC, p.N)
	case c.StoreVec && !c.OutF32 && (p.N%16 != 0 || p.LDC%16 != 0):
		return fmt.Errorf("gemm %s: N = %d, output row stride %d: StoreVec writes 16-byte chunks, want both multiples of 16", name, p.N, p.LDC)
	case c.StoreVec && c.OutF32 && (p.N%4 != 0 || p.LDC%4 != 0):
		return fmt.Errorf("gemm %s: N = %d, output row stride %d: StoreVec writes 16-byte chunks of four float32, want both multiples of 4", name, p.N, p.LDC)
	case c.Residual && p.LDR < p.N:
		return fmt.Errorf("gemm %s: residual row stride %d, want ≥ N = %d", name, p.LDR, p.N)
	case c.ResidualTile && p.LDR%16 != 0:
		return fmt.Errorf("gemm %s: residual row stride %d, want a multiple of 16 (ResidualTile copies aligned 16-byte chunks)", name, p.LDR)
	case c.Residual && c.SplitM && !c.ResidualTile && int64(p.M)*int64(p.LDR) > math.MaxUint32:
		return fmt.Errorf("gemm %s: residual of %d×%d bytes, want under 4 GiB (32-bit offsets)", name, p.M, p.LDR)
	case !c.OutF32 && (p.QLo > p.QHi || p.QLo+p.ZY < -128 || p.QHi+p.ZY > 127):
		return fmt.Errorf("gemm %s: clamp range [%d, %d] + zero point %d leaves int8", name, p.QLo, p.QHi, p.ZY)
	}
	return nil
}

// PTX returns the module text holding the kernel.
func (c GemmConfig) PTX() (string, error) {
	if err := c.Validate(); err != nil {
		return "", err
	}
	var b builder
	b.header()
	c.emit(&b)
	return b.String(), nil
}

// Kernel parameters, in order. The GPU runtime passes them in this order;
// ParamNames documents it.
var gemmParams = []struct{ name, typ string }{
	{"p_x", ".u64"}, {"p_w", ".u64"}, {"p_e", ".u64"}, {"p_bias", ".u64"}, {"p_mult", ".u64"},
	{"p_r", ".u64"}, {"p_y", ".u64"},
	{"p_m", ".u32"}, {"p_n", ".u32"}, {"p_k", ".u32"}, {"p_ktiles", ".u32"},
	{"p_lda", ".u32"}, {"p_ldr", ".u32"}, {"p_ldc", ".u32"},
	{"p_zr", ".s32"}, {"p_qlo", ".s32"}, {"p_qhi", ".s32"}, {"p_zy", ".s32"},
	{"p_mr", ".f32"}, {"p_flo", ".f32"}, {"p_fhi", ".f32"},
}

// GemmParamNames lists the kernel's parameters in launch order: the seven
// device pointers X, packed W, metadata E (sparse; any value for dense),
// bias', mult, R (any value without residual), Y; then M, N, K, KPad/64,
// lda, ldr, ldc as u32; zr, qlo, qhi, zy as s32; mr, flo, fhi as f32.
func GemmParamNames() []string { return GemmConfig{}.ParamNames() }

// ParamNames lists the variant's parameters in launch order: a Conv
// kernel takes GemmParamNames' then convParams'.
func (c GemmConfig) ParamNames() []string {
	ps := c.params()
	n := make([]string, len(ps))
	for i, p := range ps {
		n[i] = p.name
	}
	return n
}

// params returns the kernel's parameter list: GemmParamNames', then a
// Conv kernel's convParams, then a SplitK kernel's workspace and
// counters.
func (c GemmConfig) params() []struct{ name, typ string } {
	if !c.Conv && !c.SplitK {
		return gemmParams
	}
	ps := append([]struct{ name, typ string }{}, gemmParams...)
	if c.Conv {
		ps = append(ps, convParams...)
	}
	if c.SplitK {
		ps = append(ps, splitKParams...)
	}
	return ps
}

// acc names the accumulator of channel tile i (< warpTiles), pixel tile j
// (< pixelTiles), register r (0…3).
func (c GemmConfig) acc(i, j, r int) string {
	return fmt.Sprintf("%%acc%d", (i*c.pixelTiles()+j)*4+r)
}

// accCount is the number of accumulators a thread holds.
func (c GemmConfig) accCount() int { return 4 * c.warpTiles() * c.pixelTiles() }

func (c GemmConfig) emit(b *builder) {
	sp := c.Sparse
	if c.DynamicShared() > 0 {
		// Dynamic shared memory is declared at module scope (ptxas
		// refuses .extern inside a function); the launch passes its size
		// (DynamicShared).
		b.raw(".extern .shared .align 128 .b8 smem_x[];")
	}
	b.typedEntry(c.Name(), c.params())
	b.raw(".maxntid %d, 1, 1", c.Threads())
	if c.SplitM {
		// Two blocks of 8 warps an SM: ptxas keeps to 128 registers.
		b.raw(".minnctapersm 2")
	}
	b.raw("{")
	S, stageBytes := c.stages(), c.stageBytes()
	if c.DynamicShared() == 0 {
		b.raw("\t.shared .align 128 .b8 smem_x[%d];", c.SharedBytes())
	}
	mi := c.warpTiles()
	declare(b, ".pred", "%p<8>", "%pv<4>", "%pc<8>")
	declare(b, ".b32", "%tidx", "%ln", "%wrp", "%gid", "%tig", "%wn", "%wm", "%m0", "%n0",
		"%M", "%N", "%K", "%KT", "%lda", "%ldr", "%ldc", "%zr", "%qlo", "%qhi", "%zy",
		"%kt", "%ktn", "%rst", "%wst", "%sbase", "%sdst", "%ldm", "%kc16", "%kb", "%sz", "%tmp", "%tmp2", "%px", "%q", "%rv", "%nt",
		"%ch<8>", "%bias<8>", "%ai", fmt.Sprintf("%%acc<%d>", c.accCount()), "%bf<32>", fmt.Sprintf("%%wa<%d>", 8*mi), "%wb<16>",
		fmt.Sprintf("%%ea<%d>", mi), "%eb<2>")
	declare(b, ".f32", "%mult<8>", "%mr", "%flo", "%fhi", "%fy", "%fr")
	declare(b, ".b64", "%gx", "%gw", "%ge", "%gb", "%gm", "%gr", "%gy", "%gsrc<4>", "%src", "%wp<2>", "%ep<2>",
		"%rk", "%yrow", "%rrow", "%cho<8>", "%chr0", "%addr", "%gws<4>", "%ges")
	declare(b, ".b32", "%wlane", "%elane", "%sdw")
	if c.halvesApart() {
		declare(b, ".b32", "%ldm2")
	}
	if c.oneWeightSource() {
		declare(b, ".b64", "%gwst")
	}
	if c.DoubleK {
		declare(b, ".b32", "%rsub")
	}
	if c.Interleave {
		declare(b, ".b32", "%ktc")
	}
	declare(b, ".pred", "%pe0")
	if c.Conv {
		emitConvDecls(b)
	}
	if c.Halo {
		c.emitHaloDecls(b)
	}
	if c.SplitK {
		c.emitSplitKDecls(b)
	}

	b.comment("parameters")
	for _, p := range []struct{ reg, param string }{{"%gx", "p_x"}, {"%gw", "p_w"}, {"%ge", "p_e"}, {"%gb", "p_bias"}, {"%gm", "p_mult"}, {"%gr", "p_r"}, {"%gy", "p_y"}} {
		b.l("ld.param.u64 %s, [%s];", p.reg, p.param)
		b.l("cvta.to.global.u64 %s, %s;", p.reg, p.reg)
	}
	for _, p := range []struct{ reg, param, typ string }{
		{"%M", "p_m", "u32"}, {"%N", "p_n", "u32"}, {"%K", "p_k", "u32"}, {"%KT", "p_ktiles", "u32"},
		{"%lda", "p_lda", "u32"}, {"%ldr", "p_ldr", "u32"}, {"%ldc", "p_ldc", "u32"},
		{"%zr", "p_zr", "s32"}, {"%qlo", "p_qlo", "s32"}, {"%qhi", "p_qhi", "s32"}, {"%zy", "p_zy", "s32"},
		{"%mr", "p_mr", "f32"}, {"%flo", "p_flo", "f32"}, {"%fhi", "p_fhi", "f32"},
	} {
		b.l("ld.param.%s %s, [%s];", p.typ, p.reg, p.param)
	}

	c.emitCoords(b)
	// The shared window address of the buffer (a 32-bit offset; ldmatrix
	// and cp.async take .shared addresses in 32-bit registers).
	b.l("mov.u64 %%addr, smem_x;")
	b.l("cvt.u32.u64 %%sbase, %%addr;")

	b.comment("cp.async roles: thread copies 16-byte chunk kc = tid&3 of rows tid>>2 + 32i, i = 0..3,")
	b.comment("to shared row*64 + ((kc ^ (row>>1)&3)*16) (the swizzle is the same for the four rows)")
	b.l("and.b32 %%tmp, %%tidx, 3;")
	b.l("shl.b32 %%kc16, %%tmp, 4;")
	b.l("shr.u32 %%tmp2, %%tidx, 3;")
	b.l("and.b32 %%tmp2, %%tmp2, 3;")
	b.l("xor.b32 %%tmp, %%tmp, %%tmp2;")
	b.l("shl.b32 %%tmp, %%tmp, 4;")
	b.l("shr.u32 %%tmp2, %%tidx, 2;")
	b.l("shl.b32 %%tmp2, %%tmp2, 6;")
	b.l("add.u32 %%sdst, %%tmp2, %%tmp;")
	b.l("add.u32 %%sdst, %%sdst, %%sbase;")
	switch {
	case c.Halo:
		c.emitHaloSetup(b)
	case c.Conv:
		c.emitConvSetup(b)
	default:
		for i := 0; i < c.rowsPerThread(); i++ {
			b.l("shr.u32 %%px, %%tidx, 2;")
			b.l("add.u32 %%px, %%px, %d;", c.rowStep()*i)
			b.l("add.u32 %%px, %%px, %%m0;")
			b.l("setp.lt.u32 %%pv%d, %%px, %%M;", i)
			b.l("selp.b32 %%px, %%px, 0, %%pv%d;", i)
			b.l("mul.wide.u32 %%rk, %%px, %%lda;")
			b.l("add.u64 %%gsrc%d, %%gx, %%rk;", i)
			b.l("cvt.u64.u32 %%rk, %%kc16;")
			b.l("add.u64 %%gsrc%d, %%gsrc%d, %%rk;", i, i)
		}
	}
	if c.SplitK {
		c.emitSplitRange(b)
	}

	if !c.Halo { // the halo kernel's lanes address halo pixels instead (emitHaloSetup)
		b.comment("ldmatrix address: lane supplies row lane&7 of 16-byte chunk lane>>3 (its 8x8 b16 matrix),")
		b.comment("swizzled like the copies: pixels %d*wm + 8j + (lane&7) of the stage", c.warpPixels())
		b.l("and.b32 %%tmp, %%ln, 7;")
		b.l("shl.b32 %%ldm, %%tmp, 6;")
		b.l("shr.u32 %%tmp, %%ln, 3;")
		b.l("shr.u32 %%tmp2, %%ln, 1;")
		b.l("and.b32 %%tmp2, %%tmp2, 3;")
		b.l("xor.b32 %%tmp, %%tmp, %%tmp2;")
		b.l("shl.b32 %%tmp, %%tmp, 4;")
		b.l("add.u32 %%ldm, %%ldm, %%tmp;")
		b.l("shl.b32 %%tmp, %%wm, %d;", log2(c.warpPixels()*GemmBK))
		b.l("add.u32 %%ldm, %%ldm, %%tmp;")
		b.l("add.u32 %%ldm, %%ldm, %%sbase;")
		if c.halvesApart() {
			b.comment("the second k32 half of a fragment: chunks 2, 3 = chunks 0, 1 xor 2, i.e. address bit 5 flipped")
			b.comment("(every other term of the address is a multiple of 64: rows, stages, pixel tiles, the base)")
			b.l("xor.b32 %%ldm2, %%ldm, 32;")
		}
	}

	tileBytes := c.tileBytes()
	laneBytes := tileBytes / pack.WarpSize
	if c.SharedWeights {
		c.emitSharedWeightSetup(b)
	} else {
		b.comment("weight pointers: channel tile nt = 4*ctaid.y + 2*wn + i, tile (nt, kt) at (nt*KT + kt)*%d, lane at +%d*lane", tileBytes, laneBytes)
		for i := 0; i < 2; i++ {
			b.l("mov.u32 %%tmp, %%ctaid.y;")
			b.l("shl.b32 %%nt, %%tmp, 2;")
			b.l("shl.b32 %%tmp, %%wn, 1;")
			b.l("add.u32 %%nt, %%nt, %%tmp;")
			if i == 1 {
				b.l("add.u32 %%nt, %%nt, 1;")
			}
			b.l("mul.lo.u32 %%tmp, %%nt, %%KT;")
			b.l("shl.b32 %%tmp, %%tmp, 5;")
			b.l("add.u32 %%tmp, %%tmp, %%ln;")
			b.l("mul.wide.u32 %%rk, %%tmp, %d;", laneBytes)
			b.l("add.u64 %%wp%d, %%gw, %%rk;", i)
			if sp {
				b.l("mul.wide.u32 %%rk, %%tmp, 4;")
				b.l("add.u64 %%ep%d, %%ge, %%rk;", i)
			}
		}
		if c.SplitK {
			b.comment("split-K: the weight pointers start at the split's first step")
			b.l("mul.wide.u32 %%rk, %%ks0, %d;", tileBytes)
			for i := 0; i < 2; i++ {
				b.l("add.u64 %%wp%d, %%wp%d, %%rk;", i, i)
			}
			if sp {
				b.l("mul.wide.u32 %%rk, %%ks0, %d;", pack.WarpSize*4)
				for i := 0; i < 2; i++ {
					b.l("add.u64 %%ep%d, %%ep%d, %%rk;", i, i)
				}
			}
		}
	}

	b.comment("zero the accumulators")
	for i := 0; i < c.accCount(); i++ {
		b.l("mov.b32 %%acc%d, 0;", i)
	}

	kdone := ""
	if c.SplitK {
		kdone = b.label("kdone")
		c.emitSplitSkipEmpty(b, kdone)
	}
	if c.Halo {
		c.emitHaloLoop(b)
		c.emitKEnd(b, kdone)
		return
	}

	b.comment("prologue: stages 0..%d, one commit group each (empty past KT)", S-2)
	kp, stepBytes := c.stepsPerStage(), c.stepBytes()
	for s := 0; s < S-1; s++ {
		skip := b.label("pro")
		for u := 0; u < kp; u++ {
			if c.SplitK {
				b.l("add.u32 %%kt, %%ks0, %d;", kp*s+u)
				b.l("setp.ge.u32 %%p0, %%kt, %%kse;")
				b.l("@%%p0 bra.uni %s;", skip)
			} else {
				b.l("setp.le.u32 %%p0, %%KT, %d;", kp*s+u)
				b.l("@%%p0 bra.uni %s;", skip)
				b.l("mov.u32 %%kt, %d;", kp*s+u)
			}
			b.l("mov.u32 %%wst, %d;", s*stageBytes+u*stepBytes)
			c.emitTileLoad(b)
		}
		b.raw("%s:", skip)
		b.l("cp.async.commit_group;")
	}
	b.l("mov.u32 %%rst, 0;")
	b.l("mov.u32 %%wst, %d;", (S-1)*stageBytes)
	if c.SplitK {
		b.l("mov.u32 %%kt, %%ks0;")
	} else {
		b.l("mov.u32 %%kt, 0;")
	}
	if !c.SharedWeights {
		c.emitWeightLoad(b, "wa", "ea", 0, "")
	}

	loop := b.label("kloop")
	// top starts a K step: the barrier after which tile kt is in stage
	// rst.
	top := func() {
		b.comment("tile kt has landed in stage rst, and every warp is done with the stage the next copy overwrites")
		b.l("cp.async.wait_group %d;", S-2)
		b.l("bar.sync 0;")
	}
	// nextCopy issues the copies of tile kt+S-1 (DoubleK: tiles
	// kt+2(S-1) and the one after) into stage wst, the one every warp
	// finished reading before the barrier.
	nextCopy := func() {
		skip := b.label("noload")
		b.l("add.u32 %%ktn, %%kt, %d;", kp*(S-1))
		b.l("setp.ge.u32 %%p0, %%ktn, %s;", c.kEnd())
		b.l("@%%p0 bra.uni %s;", skip)
		b.l("mov.u32 %%tmp2, %%kt;")
		b.l("mov.u32 %%kt, %%ktn;")
		c.emitTileLoad(b)
		if kp == 2 {
			b.comment("the stage's second step, at +%d, unless past KT", stepBytes)
			restore := b.label("noload2")
			b.l("add.u32 %%kt, %%kt, 1;")
			b.l("setp.ge.u32 %%p0, %%kt, %s;", c.kEnd())
			b.l("@%%p0 bra.uni %s;", restore)
			b.l("add.u32 %%wst, %%wst, %d;", stepBytes)
			c.emitTileLoad(b)
			b.l("sub.u32 %%wst, %%wst, %d;", stepBytes)
			b.raw("%s:", restore)
		}
		b.l("mov.u32 %%kt, %%tmp2;")
		b.raw("%s:", skip)
		b.l("cp.async.commit_group;")
	}
	if c.Interleave {
		nextCopy = func() {
			b.comment("the copies of tile kt+%d into stage wst, without a branch: past KT into a stage no step reads", S-1)
			b.l("add.u32 %%ktn, %%kt, %d;", S-1)
			b.l("mov.u32 %%tmp2, %%kt;")
			b.l("mov.u32 %%kt, %%ktn;")
			c.emitTileLoad(b)
			b.l("mov.u32 %%kt, %%tmp2;")
			b.l("cp.async.commit_group;")
		}
	}
	firstHalf := -1
	if c.halvesApart() {
		firstHalf = 0
	}
	if c.Interleave {
		c.emitInterleavedLoop(b, loop, top, func() {
			c.emitWeightFragments(b, firstHalf, "%rst")
			c.emitProducts(b, nextCopy, "%rst", -1)
		})
		c.emitKEnd(b, kdone)
		return
	}
	b.raw("%s:", loop)
	top()
	if !c.LateCopy {
		nextCopy()
		nextCopy = nil
	}

	if c.SharedWeights {
		c.emitWeightFragments(b, firstHalf, "%rst")
	} else {
		b.comment("weights of step kt+1, one step ahead")
		b.l("add.u32 %%ktn, %%kt, 1;")
		b.l("setp.lt.u32 %%p1, %%ktn, %s;", c.kEnd())
		c.emitWeightLoad(b, "wb", "eb", tileBytes, "@%p1 ")
	}

	c.emitProducts(b, nextCopy, "%rst", -1)
	if kp == 2 {
		skip := b.label("odd")
		b.comment("the stage's second step (tile kt+1) at rst + %d, unless past KT", stepBytes)
		b.l("add.u32 %%ktn, %%kt, 1;")
		b.l("setp.ge.u32 %%p0, %%ktn, %s;", c.kEnd())
		b.l("@%%p0 bra.uni %s;", skip)
		b.l("add.u32 %%rsub, %%rst, %d;", stepBytes)
		c.emitWeightFragments(b, firstHalf, "%rsub")
		c.emitProducts(b, nil, "%rsub", -1)
		b.raw("%s:", skip)
	}
	if c.SharedWeights {
		b.comment("rotate stages")
	} else {
		b.comment("rotate weights, weight pointers and stages")
		nw := 16
		if sp {
			nw = 8
		}
		for r := 0; r < nw; r++ {
			b.l("mov.b32 %%wa%d, %%wb%d;", r, r)
		}
		for i := 0; i < 2; i++ {
			b.l("add.u64 %%wp%d, %%wp%d, %d;", i, i, tileBytes)
			if sp {
				b.l("mov.b32 %%ea%d, %%eb%d;", i, i)
				b.l("add.u64 %%ep%d, %%ep%d, %d;", i, i, pack.WarpSize*4)
			}
		}
	}
	c.emitRotateStages(b)
	b.l("add.u32 %%kt, %%kt, %d;", kp)
	b.l("setp.lt.u32 %%p0, %%kt, %s;", c.kEnd())
	b.l("@%%p0 bra.uni %s;", loop)
	c.emitKEnd(b, kdone)
}

// emitEarlyBarrier is an Unroll step's wait and barrier, after its
// last shared-memory read and its copies of tile kt+S-1: S-2 groups left in
// flight means tile kt+1 has landed.
func (c GemmConfig) emitEarlyBarrier(b *builder) {
	b.comment("tile kt+1 has landed, and every warp has read stage rst (the next step's copies overwrite it)")
	b.l("cp.async.wait_group %d;", c.stages()-2)
	b.l("bar.sync 0;")
}

// emitInterleavedLoop emits the Interleave K loop: each step is top (the
// barrier), body (fragments, copies, products: no branch), the stage
// rotation and kt+1. With Unroll the loop body is two steps, each with its
// barrier inside body (emitEarlyBarrier; tile 0's comes before the loop),
// so that ptxas may let the first step's products run on past the second
// step's barrier and over its fragment loads' latency (as it does across
// the halo kernel's unrolled taps); a KT below 2 skips the loop, and an odd
// KT's last step follows it.
func (c GemmConfig) emitInterleavedLoop(b *builder, loop string, top, body func()) {
	step := func() {
		body()
		b.comment("rotate stages")
		c.emitRotateStages(b)
		b.l("add.u32 %%kt, %%kt, 1;")
	}
	if !c.Unroll {
		b.raw("%s:", loop)
		top()
		step()
		b.l("setp.lt.u32 %%p0, %%kt, %s;", c.kEnd())
		b.l("@%%p0 bra.uni %s;", loop)
		return
	}
	b.comment("tile 0's barrier; each step's own comes after its fragment loads, for the next tile")
	top()
	rest, done := b.label("rest"), b.label("done")
	b.comment("two steps an iteration while two remain")
	b.l("setp.lt.u32 %%p0, %s, 2;", c.kEnd())
	b.l("@%%p0 bra.uni %s;", rest)
	b.raw("%s:", loop)
	step()
	step()
	b.l("add.u32 %%ktn, %%kt, 1;")
	b.l("setp.lt.u32 %%p0, %%ktn, %s;", c.kEnd())
	b.l("@%%p0 bra.uni %s;", loop)
	b.raw("%s:", rest)
	b.comment("the last step of an odd KT")
	b.l("setp.ge.u32 %%p0, %%kt, %s;", c.kEnd())
	b.l("@%%p0 bra.uni %s;", done)
	step()
	b.raw("%s:", done)
}

// emitKEnd ends the kernel after its K loop: the last copies, the split-K
// fix-up (kdone, the label an empty split jumps to; empty without
// SplitK), the epilogue.
func (c GemmConfig) emitKEnd(b *builder, kdone string) {
	if kdone != "" {
		b.raw("%s:", kdone)
	}
	b.l("cp.async.wait_group 0;")
	exit := ""
	if c.SplitK {
		exit = b.label("exit")
		c.emitSplitFixup(b, exit)
	}
	c.emitEpilogue(b)
	if exit != "" {
		b.raw("%s:", exit)
	}
	b.l("ret;")
	b.raw("}")
}

// emitRotateStages moves the read (rst) and write (wst) stage offsets on
// by one stage, wrapping after the last.
func (c GemmConfig) emitRotateStages(b *builder) {
	S, stageBytes := c.stages(), c.stageBytes()
	for _, r := range []string{"%rst", "%wst"} {
		b.l("add.u32 %s, %s, %d;", r, r, stageBytes)
		b.l("setp.lt.u32 %%p0, %s, %d;", r, S*stageBytes)
		b.l("selp.b32 %s, %s, 0, %%p0;", r, r)
	}
}

// emitCoords computes the thread's coordinates: warp, lane, its group
// and place in it, the warp's place in the block, the block's first pixel
// and channel.
func (c GemmConfig) emitCoords(b *builder) {
	b.comment("thread coordinates: lane = 4*groupID + threadID_in_group")
	b.l("mov.u32 %%tidx, %%tid.x;")
	b.l("shr.u32 %%wrp, %%tidx, 5;")
	b.l("and.b32 %%ln, %%tidx, 31;")
	b.l("shr.u32 %%gid, %%ln, 2;")
	b.l("and.b32 %%tig, %%ln, 3;")
	b.l("and.b32 %%wn, %%wrp, %d;", c.warpsN()-1)
	b.l("shr.u32 %%wm, %%wrp, %d;", log2(c.warpsN()))
	b.l("mov.u32 %%tmp, %%ctaid.x;")
	b.l("shl.b32 %%m0, %%tmp, %d;", log2(GemmBM))
	b.l("mov.u32 %%tmp, %%ctaid.y;")
	b.l("shl.b32 %%n0, %%tmp, %d;", log2(c.BN()))
}

// halvesApart reports whether a dense SplitM step reads its weight
// fragments one k32 half at a time, the second half's after the first
// half's products: 16 weight registers live instead of 32, which keeps
// the 8-warp kernel within 128 registers.
func (c GemmConfig) halvesApart() bool { return c.SplitM && !c.Sparse }

// haloHalves reports whether a dense wide Halo step goes one k32 half at a
// time: half 0's weight fragments (16 registers) and, per pixel tile, its
// B fragment half (ldmatrix.x2) before that tile's products, then half
// 1's. Holding both halves (32 + 4 fragment registers beside the 128
// accumulators and the halo copies' addresses) made the _n128 and _n256
// kernels spill (ptxas 11.8: 60–92 bytes at 255 registers; the CUDA 13
// JIT on an H100 spilled all six dense wide ones).
func (c GemmConfig) haloHalves() bool { return c.Halo && c.WideN && !c.Sparse }

// interleavedFragments is the number of pixel tiles whose B fragments an
// Interleave step reads before the next stage's copies (the others come
// after them, still before the products): all of them, except in the
// 2:4 8-warp convolution, where the conv copies' registers beside all four
// fragments exceeded its 128 (ptxas 11.8 spilled 8 bytes); with two
// before and two after it fits, and its stall counts a step were the
// lowest of the four splits (238 cycles against 261–291).
func (c GemmConfig) interleavedFragments() int {
	if c.SplitM && c.Sparse && c.Conv {
		return c.pixelTiles() / 2
	}
	return c.pixelTiles()
}

// emitWeightFragments reads the warp's weight fragments (and metadata) of
// step kt from stage rst: both k32 halves of a dense tile (h < 0), or only
// half h.
func (c GemmConfig) emitWeightFragments(b *builder, h int, rs string) {
	tileBytes := c.tileBytes()
	if h < 0 {
		b.comment("weights of step kt from stage rst")
	} else {
		b.comment("weights of step kt from stage rst, k32 half %d", h)
	}
	b.l("add.u32 %%tmp, %%wlane, %s;", rs)
	for i := 0; i < c.warpTiles(); i++ {
		switch {
		case c.Sparse:
			b.l("ld.shared.v4.u32 %s, [%%tmp+%d];", regList("%wa", 4*i, 4), i*tileBytes)
		case h < 0:
			b.l("ld.shared.v4.u32 %s, [%%tmp+%d];", regList("%wa", 8*i, 4), i*tileBytes)
			b.l("ld.shared.v4.u32 %s, [%%tmp+%d];", regList("%wa", 8*i+4, 4), i*tileBytes+16)
		default:
			b.l("ld.shared.v4.u32 %s, [%%tmp+%d];", regList("%wa", 8*i+4*h, 4), i*tileBytes+16*h)
		}
	}
	if c.Sparse {
		b.l("add.u32 %%tmp, %%elane, %s;", rs)
		for i := 0; i < c.warpTiles(); i++ {
			b.l("ld.shared.u32 %%ea%d, [%%tmp+%d];", i, i*pack.WarpSize*4)
		}
	}
}

// emitProducts reads the warp's B fragments (pixelTiles tiles × 64 K)
// from the step at shared offset rs (the stage, %rst, or its second step)
// and issues the Tensor Core products. With two channel
// tiles all fragments are loaded first, then used; with four (WideN) each
// fragment is loaded just before its four (sparse) or eight (dense)
// products, which keeps fewer fragments live beside the 128 accumulators.
// With LateCopy (WideN only) it calls copy, the next stage's copies,
// after the first pixel tile's products; copy is nil without LateCopy.
// tap is the Halo kernel's kernel tap (3r + s: fragments from the halo
// buffer, haloFragment, and rs unused), or -1.
func (c GemmConfig) emitProducts(b *builder, copy func(), rs string, tap int) {
	mi, pt := c.warpTiles(), c.pixelTiles()
	if tap >= 0 {
		pt = c.haloTiles() // Halo7: no products for tile 7
	}
	ldm := func(j int) {
		if tap >= 0 {
			reg, off := haloFragment(j, tap)
			b.l("ldmatrix.sync.aligned.m8n8.x4.shared.b16 %s, [%s+%d];", regList("%bf", 4*j, 4), reg, off)
			return
		}
		b.l("add.u32 %%tmp, %%ldm, %s;", rs)
		b.l("ldmatrix.sync.aligned.m8n8.x4.shared.b16 %s, [%%tmp+%d];", regList("%bf", 4*j, 4), 8*GemmBK*j)
	}
	// mma is one sparse product of channel tile i and pixel tile j, or,
	// dense, the k32 half h of it.
	mma := func(i, j, h int) {
		d := regs(c.acc(i, j, 0), c.acc(i, j, 1), c.acc(i, j, 2), c.acc(i, j, 3))
		if c.Sparse {
			b.l("mma.sp::ordered_metadata.sync.aligned.m16n8k64.row.col.s32.s8.s8.s32 %s, %s, %s, %s, %%ea%d, 0x0;",
				d, regList("%wa", 4*i, 4), regList("%bf", 4*j, 4), d, i)
			return
		}
		b.l("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 %s, %s, %s, %s;",
			d, regList("%wa", 8*i+4*h, 4), regList("%bf", 4*j+2*h, 2), d)
	}
	// Dense products go by k32 half outermost (then tile), so that no
	// product waits on the one just before it.
	halves := 2
	if c.Sparse {
		halves = 1
	}
	if tap >= 0 && c.haloHalves() {
		// Half h of pixel tile j's B fragment: lanes 0..15 address chunks
		// 0, 1 (%ha<s>) or 2, 3 (%hah: address bit 5 flipped, i.e. the
		// swizzled chunk xor 2; every other term of a halo address is a
		// multiple of 64).
		reg, _ := haloFragment(0, tap)
		b.comment("the products by k32 half: the half's weights, then per pixel tile its B fragment half (x2) and products: 16 + 2 fragment registers live")
		b.l("xor.b32 %%hah, %s, 32;", reg)
		for h := 0; h < 2; h++ {
			if h == 1 {
				c.emitWeightFragments(b, 1, "%rst")
			}
			for j := 0; j < pt; j++ {
				_, off := haloFragment(j, tap)
				b.l("ldmatrix.sync.aligned.m8n8.x2.shared.b16 %s, [%s+%d];", regList("%bf", 4*j+2*h, 2), []string{reg, "%hah"}[h], off)
				for i := 0; i < mi; i++ {
					mma(i, j, h)
				}
			}
		}
		return
	}
	if c.halvesApart() {
		// Half h of pixel tile j's B fragment (8 pixels x 32 K), two
		// 8x8 matrices: lanes 0..15 address them, from %ldm (chunks 0, 1)
		// or %ldm2 (chunks 2, 3).
		ldmHalf := func(j, h int) {
			b.l("add.u32 %%tmp, %s, %s;", []string{"%ldm", "%ldm2"}[h], rs)
			b.l("ldmatrix.sync.aligned.m8n8.x2.shared.b16 %s, [%%tmp+%d];", regList("%bf", 4*j+2*h, 2), 8*GemmBK*j)
		}
		b.comment("the products by k32 half, each half's weights and B fragments (x2) before it: 16 + 8 fragment registers live")
		late := copy != nil && !c.Interleave // LateCopy: the copies after tile 0's products
		for h := 0; h < 2; h++ {
			if h == 1 {
				c.emitWeightFragments(b, 1, rs)
			}
			for j := 0; j < pt; j++ {
				if h == 1 || !late || j == 0 {
					ldmHalf(j, h)
				}
			}
			if h == 0 && c.Interleave {
				copy()
			}
			if h == 1 && c.Unroll {
				c.emitEarlyBarrier(b)
			}
			for j := 0; j < pt; j++ {
				for i := 0; i < mi; i++ {
					mma(i, j, h)
				}
				if h == 0 && j == 0 && late {
					copy()
					for j := 1; j < pt; j++ {
						ldmHalf(j, 0)
					}
				}
			}
		}
		return
	}
	if c.WideN && c.Interleave {
		pre := c.interleavedFragments()
		b.comment("%d pixel tiles' B fragments, the next stage's copies, the other fragments, then the products: one basic block", pre)
		for j := 0; j < pt; j++ {
			if j == pre {
				copy()
			}
			ldm(j)
		}
		if pre == pt {
			copy()
		}
		if c.Unroll {
			c.emitEarlyBarrier(b)
		}
		for j := 0; j < pt; j++ {
			for h := 0; h < halves; h++ {
				for i := 0; i < mi; i++ {
					mma(i, j, h)
				}
			}
		}
		return
	}
	if c.WideN {
		if copy != nil {
			b.comment("the first pixel tile's B fragment and products, the next stage's copies, then the rest")
		} else {
			b.comment("per pixel tile: its B fragment from stage rst, then the products of the %d channel tiles", mi)
		}
		for j := 0; j < pt; j++ {
			ldm(j)
			for h := 0; h < halves; h++ {
				for i := 0; i < mi; i++ {
					mma(i, j, h)
				}
			}
			if j == 0 && copy != nil {
				copy()
			}
		}
		return
	}
	b.comment("B fragments: %d pixel tiles x 64 K from stage rst", pt)
	for j := 0; j < pt; j++ {
		ldm(j)
	}
	b.comment("Tensor Core products")
	for h := 0; h < halves; h++ {
		for i := 0; i < mi; i++ {
			for j := 0; j < pt; j++ {
				mma(i, j, h)
			}
		}
	}
}

// emitTileLoad copies activation tile %kt into the stage at offset %wst:
// four 16-byte cp.async a thread, zero-filled past K and past M.
func (c GemmConfig) emitTileLoad(b *builder) {
	if c.Conv {
		c.emitConvTileLoad(b)
	} else {
		c.emitGemmTileLoad(b)
	}
	if c.SharedWeights {
		kt := "%kt"
		if c.Interleave {
			b.comment("past KT, tile KT-1: an address inside the packed weights")
			b.l("sub.u32 %%ktc, %%KT, 1;")
			b.l("min.u32 %%ktc, %%kt, %%ktc;")
			kt = "%ktc"
		}
		c.emitSharedWeightLoad(b, kt)
	}
}

// emitGemmTileLoad copies activation tile %kt from the row-major X.
func (c GemmConfig) emitGemmTileLoad(b *builder) {
	b.l("shl.b32 %%tmp, %%kt, %d;", log2(GemmBK))
	b.l("sub.s32 %%kb, %%K, %%tmp;")
	b.l("sub.s32 %%kb, %%kb, %%kc16;")
	b.l("max.s32 %%kb, %%kb, 0;")
	b.l("min.s32 %%kb, %%kb, 16;")
	b.l("cvt.u64.u32 %%rk, %%tmp;")
	b.l("add.u32 %%tmp, %%sdst, %%wst;")
	for i := 0; i < c.rowsPerThread(); i++ {
		b.l("selp.b32 %%sz, %%kb, 0, %%pv%d;", i)
		b.l("add.u64 %%src, %%gsrc%d, %%rk;", i)
		b.comment("nothing is read when sz is 0; point at the start of X all the same")
		b.l("setp.ne.u32 %%p2, %%sz, 0;")
		b.l("selp.b64 %%src, %%src, %%gx, %%p2;")
		b.l("cp.async.cg.shared.global [%%tmp+%d], [%%src], 16, %%sz;", i*c.rowStep()*GemmBK)
	}
}

// emitSharedWeightLoad copies the block's weight tiles of K step kt (the
// register named) into the stage at offset %wst.
func (c GemmConfig) emitSharedWeightLoad(b *builder, kt string) {
	b.comment("the block's weight tiles of step kt (padded: never out of bounds)")
	tb := c.tileBytes()
	b.l("mul.wide.u32 %%rk, %s, %d;", kt, tb)
	b.l("add.u32 %%tmp, %%sdw, %%wst;")
	for i := 0; i < c.wStageBytes()/16/c.Threads(); i++ {
		switch {
		case !c.oneWeightSource():
			b.l("add.u64 %%src, %%gws%d, %%rk;", i)
		case i == 0:
			b.l("add.u64 %%src, %%gws0, %%rk;")
		default:
			b.l("add.u64 %%src, %%src, %%gwst;")
		}
		b.l("cp.async.cg.shared.global [%%tmp+%d], [%%src], 16;", c.wRegion()+i*c.Threads()*16)
	}
	if c.Sparse {
		b.l("mul.wide.u32 %%rk, %s, %d;", kt, pack.WarpSize*4)
		b.l("add.u64 %%src, %%ges, %%rk;")
		b.l("@%%pe0 cp.async.cg.shared.global [%%tmp+%d], [%%src], 16;", c.wRegion()+c.wStageBytes())
	}
}

// oneWeightSource reports whether a thread keeps only its first weight
// chunk's source (%gws0) and reaches chunk i at i·%gwst = i·Threads·16·KT
// bytes past it: chunk i is i·Threads/(tileBytes/16) tiles further on,
// each KT tiles of the packed array, at the same offset in its tile. The
// Halo kernel does, for fewer live registers beside its halo copies' (4
// instead of 8 for the dense wide tiles). The other kernels keep one
// source a chunk: their registers are the ones the GPU tests measured.
func (c GemmConfig) oneWeightSource() bool { return c.Halo }

// emitSharedWeightSetup computes, for SharedWeights, each thread's weight
// copy sources (%gws*, %ges) and where warps read their fragments
// (%wlane, %elane, stage-relative). The block's channel tiles are
// 4*ctaid.y + c, c = 0..3; tile (nt, kt) of the packed array is at
// (nt*KT + kt)*tileBytes, so a stage holds, for each c, one contiguous
// tile: chunk j (16 bytes) of the four goes to j*16 in the stage's weight
// region and comes from tile c = j / (tileBytes/16), offset j %
// (tileBytes/16) * 16. Metadata likewise, 32 chunks of 16 bytes, copied by
// threads 0..31.
func (c GemmConfig) emitSharedWeightSetup(b *builder) {
	tb := c.tileBytes()
	perTile := tb / 16
	b.comment("shared weights: copy sources of this thread's chunks")
	b.l("mov.u32 %%tmp, %%ctaid.y;")
	b.l("shl.b32 %%nt, %%tmp, %d;", log2(c.blockTiles()))
	b.l("mul.lo.u32 %%nt, %%nt, %%KT;") // first tile of the block at kt = 0
	n := c.wStageBytes() / 16 / c.Threads()
	if c.oneWeightSource() {
		n = 1
		b.l("mul.wide.u32 %%gwst, %%KT, %d;", c.Threads()*16)
	}
	for i := 0; i < n; i++ {
		b.l("add.u32 %%q, %%tidx, %d;", i*c.Threads())
		b.l("shr.u32 %%tmp, %%q, %d;", log2(perTile))
		b.l("mul.lo.u32 %%tmp, %%tmp, %%KT;")
		b.l("add.u32 %%tmp, %%tmp, %%nt;")
		b.l("mul.wide.u32 %%gws%d, %%tmp, %d;", i, tb)
		b.l("and.b32 %%tmp, %%q, %d;", perTile-1)
		b.l("mul.wide.u32 %%rk, %%tmp, 16;")
		b.l("add.u64 %%gws%d, %%gws%d, %%rk;", i, i)
		b.l("add.u64 %%gws%d, %%gws%d, %%gw;", i, i)
	}
	if c.Sparse {
		const metaTile = pack.WarpSize * 4
		b.l("setp.lt.u32 %%pe0, %%tidx, %d;", c.blockTiles()*metaTile/16)
		b.l("shr.u32 %%tmp, %%tidx, %d;", log2(metaTile/16))
		b.l("and.b32 %%tmp, %%tmp, %d;", c.blockTiles()-1)
		b.l("mul.lo.u32 %%tmp, %%tmp, %%KT;")
		b.l("add.u32 %%tmp, %%tmp, %%nt;")
		b.l("mul.wide.u32 %%ges, %%tmp, %d;", metaTile)
		b.l("and.b32 %%tmp, %%tidx, %d;", metaTile/16-1)
		b.l("mul.wide.u32 %%rk, %%tmp, 16;")
		b.l("add.u64 %%ges, %%ges, %%rk;")
		b.l("add.u64 %%ges, %%ges, %%ge;")
	}
	b.comment("copy destinations: the weight region, chunk tid (+128 for the second of dense)")
	b.l("shl.b32 %%sdw, %%tidx, 4;")
	b.l("add.u32 %%sdw, %%sdw, %%sbase;")
	b.comment("fragment reads: tile %d*wn + i of the stage, lane's %d bytes", c.warpTiles(), tb/pack.WarpSize)
	b.l("shl.b32 %%tmp, %%wn, %d;", log2(c.warpTiles()))
	b.l("mul.lo.u32 %%wlane, %%tmp, %d;", tb)
	b.l("mul.lo.u32 %%tmp, %%ln, %d;", tb/pack.WarpSize)
	b.l("add.u32 %%wlane, %%wlane, %%tmp;")
	b.l("add.u32 %%wlane, %%wlane, %%sbase;")
	b.l("add.u32 %%wlane, %%wlane, %d;", c.wRegion())
	if c.Sparse {
		b.l("shl.b32 %%tmp, %%wn, %d;", log2(c.warpTiles()))
		b.l("mul.lo.u32 %%elane, %%tmp, %d;", pack.WarpSize*4)
		b.l("shl.b32 %%tmp, %%ln, 2;")
		b.l("add.u32 %%elane, %%elane, %%tmp;")
		b.l("add.u32 %%elane, %%elane, %%sbase;")
		b.l("add.u32 %%elane, %%elane, %d;", c.wRegion()+c.wStageBytes())
	}
}

// emitWeightLoad loads the weight (and metadata) registers of the step at
// byte offset off from the current weight pointers, under an optional
// predicate guard.
func (c GemmConfig) emitWeightLoad(b *builder, w, e string, off int, guard string) {
	for i := 0; i < 2; i++ {
		if c.Sparse {
			b.l("%sld.global.nc.v4.u32 %s, [%%wp%d+%d];", guard, regList("%"+w, 4*i, 4), i, off)
			b.l("%sld.global.nc.u32 %%%s%d, [%%ep%d+%d];", guard, e, i, i, off/pack.SparseTileBytes*pack.WarpSize*4)
		} else {
			b.l("%sld.global.nc.v4.u32 %s, [%%wp%d+%d];", guard, regList("%"+w, 8*i, 4), i, off)
			b.l("%sld.global.nc.v4.u32 %s, [%%wp%d+%d];", guard, regList("%"+w, 8*i+4, 4), i, off+16)
		}
	}
}

// storeRow is the row stride of a warp's staged output tile (StoreVec):
// its channels plus 16 bytes, so that rows stay 16-byte aligned for the
// vector reads and the lanes of one byte store (rows 2·tig apart, four
// channels a word) fall in distinct banks.
func (c GemmConfig) storeRow() int { return 16*c.warpTiles() + 16 }

// storeRegion is a warp's staging area: one row a pixel of the warp.
func (c GemmConfig) storeRegion() int { return c.warpPixels() * c.storeRow() }

// emitEpilogue applies bias', the multiplier, the residual, the activation
// and the output conversion to the 64 accumulators and stores them.
func (c GemmConfig) emitEpilogue(b *builder) {
	mi := c.warpTiles()
	b.comment("epilogue: channels n0 + %d*wn + 16i + 8h + groupID (ch[2i+h]), pixels m0 + %d*wm + 8j + 2*tig + e", 16*mi, c.warpPixels())
	esize := 1
	if c.OutF32 {
		esize = 4
	}
	// chanSetup loads bias' and the multiplier of channel row 16i+8h
	// and computes its output (and residual) offsets.
	chanSetup := func(i, h int) {
		k := 2*i + h
		b.l("add.u32 %%ch%d, %%n0, %%gid;", k)
		b.l("shl.b32 %%tmp, %%wn, %d;", log2(16*mi))
		b.l("add.u32 %%ch%d, %%ch%d, %%tmp;", k, k)
		b.l("add.u32 %%ch%d, %%ch%d, %d;", k, k, 16*i+8*h)
		b.l("setp.lt.u32 %%pc%d, %%ch%d, %%N;", k, k)
		b.l("mul.wide.u32 %%rk, %%ch%d, 4;", k)
		b.l("add.u64 %%addr, %%gb, %%rk;")
		b.l("ld.global.nc.u32 %%bias%d, [%%addr];", k)
		b.l("add.u64 %%addr, %%gm, %%rk;")
		b.l("ld.global.nc.f32 %%mult%d, [%%addr];", k)
		if !c.StoreVec { // StoreVec addresses whole chunks instead
			b.l("mul.wide.u32 %%cho%d, %%ch%d, %d;", k, k, esize)
		}
		if c.residualBytes() && !c.SplitM && k == 0 {
			// The other channels are at fixed offsets from it: one
			// 64-bit register, not eight (the dense 64-channel warp
			// tile spilled with eight).
			b.l("cvt.u64.u32 %%chr0, %%ch0;")
		}
	}
	// rowSetup computes pixel row 8j+e's predicate and row addresses.
	rowSetup := func(j, e int) {
		c.emitRow(b, 8*j+e)
		if !c.StoreVec {
			b.l("mul.wide.u32 %%rk, %%q, %%ldc;")
			if c.OutF32 {
				b.l("shl.b64 %%rk, %%rk, 2;")
			}
			b.l("add.u64 %%yrow, %%gy, %%rk;")
		}
		if c.residualBytes() && !c.SplitM {
			b.l("mul.wide.u32 %%rk, %%q, %%ldr;")
			b.l("add.u64 %%rrow, %%gr, %%rk;")
			b.l("add.u64 %%rrow, %%rrow, %%chr0;")
		}
	}
	rs := c.storeRow()
	// element finishes the output of channel row 16i+8h, pixel row 8j+e.
	element := func(i, h, j, e int) {
		k := 2*i + h
		a := c.acc(i, j, 2*h+e)
		b.l("and.pred %%p4, %%p3, %%pc%d;", k)
		b.l("add.s32 %%ai, %s, %%bias%d;", a, k)
		b.l("cvt.rn.f32.s32 %%fy, %%ai;")
		b.l("mul.rn.f32 %%fy, %%fy, %%mult%d;", k)
		switch {
		case c.ResidualTile:
			// The lane's own byte of the warp's tile (rows past M and
			// channels past N hold zeros, never stored).
			b.l("ld.shared.s8 %%rv, [%%sdst+%d];", (8*j+e)*rs+16*i+8*h)
		case c.Residual:
			b.l("mov.b32 %%rv, 0;")
			if c.SplitM {
				// A 32-bit offset per element instead of a 64-bit
				// row address kept per row: the 128-register kernel
				// spills otherwise (Check bounds M·ldr below 2³²).
				b.l("mad.lo.u32 %%tmp, %%q, %%ldr, %%ch%d;", k)
				b.l("cvt.u64.u32 %%rk, %%tmp;")
				b.l("add.u64 %%addr, %%gr, %%rk;")
				b.l("@%%p4 ld.global.s8 %%rv, [%%addr];")
			} else {
				b.l("@%%p4 ld.global.s8 %%rv, [%%rrow+%d];", 16*i+8*h)
			}
		}
		if c.Residual {
			b.l("sub.s32 %%rv, %%rv, %%zr;")
			b.l("cvt.rn.f32.s32 %%fr, %%rv;")
			b.l("mul.rn.f32 %%fr, %%fr, %%mr;")
			b.l("add.rn.f32 %%fy, %%fy, %%fr;")
		}
		if !c.StoreVec {
			b.l("add.u64 %%addr, %%yrow, %%cho%d;", k)
		}
		if c.OutF32 {
			switch c.Act {
			case "relu":
				b.l("max.f32 %%fy, %%fy, 0f00000000;")
			case "clip":
				b.l("max.f32 %%fy, %%fy, %%flo;")
				b.l("min.f32 %%fy, %%fy, %%fhi;")
			}
			if c.StoreVec {
				// Kept in the accumulator's register until every
				// element is done (emitF32Stores stages it).
				b.l("mov.b32 %s, %%fy;", a)
			} else {
				b.l("@%%p4 st.global.f32 [%%addr], %%fy;")
			}
		} else {
			b.l("cvt.rni.s32.f32 %%ai, %%fy;")
			b.l("max.s32 %%ai, %%ai, %%qlo;")
			b.l("min.s32 %%ai, %%ai, %%qhi;")
			b.l("add.s32 %%ai, %%ai, %%zy;")
			if c.StoreVec {
				b.l("st.shared.u8 [%%sdst+%d], %%ai;", (8*j+e)*rs+16*i+8*h)
			} else {
				b.l("@%%p4 st.global.s8 [%%addr], %%ai;")
			}
		}
	}
	if c.ResidualTile {
		// Issued before the bias' and multiplier loads so that their
		// latencies overlap; into the stages (free once every warp is
		// past the K loop) rather than a region of its own, which would
		// cost each block 12-40 KiB of shared memory for the whole K loop
		// and, on the 3-4 stage pipelines, blocks an SM.
		b.comment("residual tile: every warp is done with the stages first")
		b.l("bar.sync 0;")
		if c.Halo {
			c.emitHaloEpilogueSetup(b)
		}
		c.emitResidualTile(b)
	}
	if !c.SplitM {
		for i := 0; i < mi; i++ {
			for h := 0; h < 2; h++ {
				chanSetup(i, h)
			}
		}
	}
	if c.Halo && !c.ResidualTile {
		c.emitHaloEpilogueSetup(b)
	}
	// rowBase sets the lane's first pixel row (2·tig) for rowSetup.
	rowBase := func() {
		b.l("shl.b32 %%tmp, %%tig, 1;")
		if c.Halo {
			c.emitHaloRows(b, "%tmp")
			return
		}
		b.l("shl.b32 %%px, %%wm, %d;", log2(c.warpPixels()))
		b.l("add.u32 %%px, %%px, %%m0;")
		b.l("add.u32 %%px, %%px, %%tmp;")
	}
	if !c.Halo {
		// The instructions' order before the float32 staging: kernels
		// without it kept their text.
		b.l("shl.b32 %%px, %%wm, %d;", log2(c.warpPixels()))
		b.l("add.u32 %%px, %%px, %%m0;")
		b.l("shl.b32 %%tmp, %%tig, 1;")
		b.l("add.u32 %%px, %%px, %%tmp;")
	} else {
		rowBase()
	}
	// A float32 tile staged without the residual tile is staged pass by
	// pass as the elements are done, so that the accumulators die as they
	// go (holding them all to the end spilled the wide residual kernels'
	// byte loads); with the residual tile, whose bytes the staging
	// overwrites, after every element (emitF32Stores).
	passes, interleave := 1, c.StoreVec && c.OutF32 && !c.ResidualTile
	if interleave {
		passes = c.f32Passes()
		b.comment("float32 staging, %d pass(es) of %d channels as the elements are done: every warp is done with the stages first", passes, 16*mi/passes)
		b.l("bar.sync 0;")
		c.emitF32Region(b)
	}
	if c.StoreVec && !c.OutF32 || c.ResidualTile {
		if !c.ResidualTile { // else done before the residual tile's copies
			b.comment("stage the tile in shared memory: every warp is done with the stages first")
			b.l("bar.sync 0;")
		}
		b.comment("warp region wrp*%d; lane's first byte: row 2*tig, channel groupID", c.storeRegion())
		b.l("mul.lo.u32 %%sdw, %%wrp, %d;", c.storeRegion())
		b.l("add.u32 %%sdw, %%sdw, %%sbase;")
		b.l("mul.lo.u32 %%tmp, %%tig, %d;", 2*rs)
		b.l("add.u32 %%tmp, %%tmp, %%gid;")
		b.l("add.u32 %%sdst, %%sdw, %%tmp;")
	}
	if c.ResidualTile {
		b.comment("the residual tile has landed; the warp's other lanes copied most of the lane's bytes")
		b.l("cp.async.wait_group 0;")
		b.l("bar.warp.sync 0xffffffff;")
	}
	tiles := mi / passes
	for p := 0; p < passes; p++ {
		if p > 0 {
			rowBase() // the last pass's stores moved the rows on
		}
		if c.SplitM {
			// One channel row at a time: one channel's bias', multiplier and
			// offsets live instead of eight, which keeps the 128-register
			// kernel from spilling (the row addresses are recomputed per
			// channel row).
			for i := p * tiles; i < (p+1)*tiles; i++ {
				for h := 0; h < 2; h++ {
					chanSetup(i, h)
					for j := 0; j < c.pixelTiles(); j++ {
						for e := 0; e < 2; e++ {
							rowSetup(j, e)
							element(i, h, j, e)
						}
					}
				}
			}
		} else {
			// Halo7: tile 7 (no patch row, no products) is not stored.
			for j := 0; j < c.haloTiles(); j++ {
				for e := 0; e < 2; e++ {
					rowSetup(j, e)
					for i := p * tiles; i < (p+1)*tiles; i++ {
						for h := 0; h < 2; h++ {
							element(i, h, j, e)
						}
					}
				}
			}
		}
		if interleave {
			c.emitF32Lane(b, p)
			c.emitF32Pass(b, p)
		}
	}
	switch {
	case c.StoreVec && c.OutF32 && c.ResidualTile:
		c.emitF32Stores(b)
	case c.StoreVec && !c.OutF32:
		c.emitVecStores(b)
	}
}

// residualBytes says whether the epilogue reads the residual from global
// memory one byte an element (Residual without ResidualTile).
func (c GemmConfig) residualBytes() bool { return c.Residual && !c.ResidualTile }

// emitResidualTile issues the copies of the warp's residual tile into its
// staging region (warpPixels rows of storeRow bytes, as emitVecStores
// reads the output tile): lane l takes 16-byte chunk l % cpr of local row
// l / cpr and every (32/cpr)-th row after it, cpr = warpTiles chunks a
// row, each row mapped to its GEMM row as the output's (emitRow: halo
// slots past the image or the batch, rows past M). A chunk that starts
// below N is copied whole (with ldr a multiple of 16 it ends inside its
// row; its bytes past N belong to outputs that are not stored); the
// others (rows not stored, chunks past N) are zero-filled by cp.async's
// src-size, their source address kept inside the buffer (row 0, channel
// 0). One commit group, waited on before the first element.
func (c GemmConfig) emitResidualTile(b *builder) {
	rs := c.storeRow()
	b.comment("warp region wrp*%d", c.storeRegion())
	b.l("mul.lo.u32 %%sdw, %%wrp, %d;", c.storeRegion())
	b.l("add.u32 %%sdw, %%sdw, %%sbase;")
	rows := c.emitTileLane(b, func() {
		b.comment("copied if below N (all 16 bytes: a row's chunks below N end within ldr, a multiple of 16,")
		b.comment("and the bytes past N are never stored)")
		b.l("selp.b32 %%sz, 16, 0, %%p5;")
		b.l("selp.b32 %%tmp2, %%tmp2, 0, %%p5;")
	})
	for _, row := range rows {
		c.emitRow(b, row)
		b.l("selp.b32 %%tmp, %%sz, 0, %%p3;")
		b.l("selp.b32 %%q, %%q, 0, %%p3;")
		b.l("mul.wide.u32 %%rk, %%q, %%ldr;")
		b.l("add.u64 %%addr, %%gr, %%rk;")
		b.l("add.u64 %%addr, %%addr, %%cho0;")
		b.l("cp.async.cg.shared.global [%%sdst+%d], [%%addr], 16, %%tmp;", row*rs)
	}
	b.l("cp.async.commit_group;")
}

// emitRow sets %q to the output row (GEMM row m) of the warp's local
// pixel L + off, L the lane's base set up before (in %px), and %p3 to
// whether it is stored: m < M, or for Halo, inside the image and the
// batch (emitHaloRow).
func (c GemmConfig) emitRow(b *builder, off int) {
	if c.Halo {
		c.emitHaloRow(b, off)
		return
	}
	b.l("add.u32 %%q, %%px, %d;", off)
	b.l("setp.lt.u32 %%p3, %%q, %%M;")
}

// emitVecStores writes the warp's staged tile (warpPixels rows of
// 16·warpTiles bytes) to Y in 16-byte chunks: lane l takes chunk l % cpr of row l / cpr
// and every (32/cpr)-th row after it, cpr = warpTiles chunks a row.
func (c GemmConfig) emitVecStores(b *builder) {
	rs := c.storeRow()
	b.comment("the warp's own tile only: a warp barrier orders its stores and loads")
	b.l("bar.warp.sync 0xffffffff;")
	for _, row := range c.emitTileLane(b, nil) {
		b.l("ld.shared.v4.u32 {%%bf0, %%bf1, %%bf2, %%bf3}, [%%sdst+%d];", row*rs)
		c.emitRow(b, row)
		b.l("and.pred %%p4, %%p3, %%p5;")
		b.l("mul.wide.u32 %%rk, %%q, %%ldc;")
		b.l("add.u64 %%addr, %%gy, %%rk;")
		b.l("add.u64 %%addr, %%addr, %%cho0;")
		b.l("@%%p4 st.global.v4.u32 [%%addr], {%%bf0, %%bf1, %%bf2, %%bf3};")
	}
}

// f32Passes is the number of passes in which a float32 output tile
// (StoreVec with OutF32) is staged: each pass one warpTiles/passes share
// of the warp's channel tiles, f32Row bytes a pixel row. The fewest
// passes whose staging fits the whole shared memory (every byte of it is
// free once the K loop is done and, with ResidualTile, every warp has read
// its residual bytes); 0 if even one 16-channel tile a pass does not fit.
func (c GemmConfig) f32Passes() int {
	for p := 1; p <= c.warpTiles(); p *= 2 {
		if c.Threads()/32*c.warpPixels()*c.f32RowOf(p) <= c.SharedBytes() {
			return p
		}
	}
	return 0
}

// f32RowOf is the row stride of a warp's staged float32 tile in p passes:
// its channels' 4 bytes each plus 16, so that rows stay 16-byte aligned
// for the vector reads and the lanes of one element store (rows 2·tig
// apart, 8 channels each) fall in 32 distinct banks.
func (c GemmConfig) f32RowOf(p int) int { return 4*16*c.warpTiles()/p + 16 }

// emitF32Stores writes a float32 output tile (StoreVec with OutF32 and
// ResidualTile) from the accumulator registers, where the epilogue left
// each element's value, after every element: the warps' staging regions
// cover the stages and the residual tile, whose bytes every warp has read
// once past the block barrier. Without the residual tile the epilogue
// stages each pass as its elements are done instead (emitF32Pass).
func (c GemmConfig) emitF32Stores(b *builder) {
	passes := c.f32Passes()
	b.comment("float32 staging, %d pass(es) of %d channels: every warp is done with the stages and its residual bytes", passes, 16*c.warpTiles()/passes)
	b.l("bar.sync 0;")
	c.emitF32Region(b)
	for p := 0; p < passes; p++ {
		c.emitF32Lane(b, p)
		c.emitF32Pass(b, p)
	}
}

// emitF32Region sets %sdw to the warp's float32 staging region
// (warpPixels rows of f32RowOf(f32Passes()) bytes) and %sfe to the lane's
// first element in it: row 2·tig, channel groupID, as the accumulators.
func (c GemmConfig) emitF32Region(b *builder) {
	fr := c.f32RowOf(c.f32Passes())
	declare(b, ".b32", "%sfe", "%chv")
	b.comment("warp region wrp*%d; lane's first element: row 2*tig, channel groupID (%%sfe)", c.warpPixels()*fr)
	b.l("mul.lo.u32 %%sdw, %%wrp, %d;", c.warpPixels()*fr)
	b.l("add.u32 %%sdw, %%sdw, %%sbase;")
	b.l("mul.lo.u32 %%tmp, %%tig, %d;", 2*fr)
	b.l("shl.b32 %%tmp2, %%gid, 2;")
	b.l("add.u32 %%tmp, %%tmp, %%tmp2;")
	b.l("add.u32 %%sfe, %%sdw, %%tmp;")
}

// emitF32Lane sets up lane l's chunks of pass p's 16-byte stores: chunk
// l % cpr of local row l / cpr and of every (32/cpr)-th row after it, cpr
// chunks a row (%sdst in the staging region, %chv its first channel, the
// row base for emitRow).
func (c GemmConfig) emitF32Lane(b *builder, p int) {
	mi, passes := c.warpTiles(), c.f32Passes()
	cw := 16 * mi / passes
	fr, cpr := c.f32RowOf(passes), cw/4
	b.comment("pass %d, lane's chunks: chunk ln%%%d of rows ln/%d + %d*r (%%sdst), channel n0 + %d*wn + %d + 4*chunk (%%chv)", p, cpr, cpr, 32/cpr, 16*mi, p*cw)
	b.l("shr.u32 %%q, %%ln, %d;", log2(cpr))
	b.l("and.b32 %%tmp2, %%ln, %d;", cpr-1)
	b.l("mul.lo.u32 %%tmp, %%q, %d;", fr)
	b.l("add.u32 %%sdst, %%sdw, %%tmp;")
	b.l("shl.b32 %%tmp, %%tmp2, 4;")
	b.l("add.u32 %%sdst, %%sdst, %%tmp;")
	b.l("shl.b32 %%chv, %%tmp2, 2;")
	b.l("shl.b32 %%tmp, %%wn, %d;", log2(16*mi))
	b.l("add.u32 %%chv, %%chv, %%tmp;")
	b.l("add.u32 %%chv, %%chv, %%n0;")
	if p > 0 {
		b.l("add.u32 %%chv, %%chv, %d;", p*cw)
	}
	if c.Halo {
		c.emitHaloRows(b, "%q")
	} else {
		b.l("shl.b32 %%px, %%wm, %d;", log2(c.warpPixels()))
		b.l("add.u32 %%px, %%px, %%m0;")
		b.l("add.u32 %%px, %%px, %%q;")
	}
}

// emitF32Pass stages pass p's elements (channel tiles p·t … p·t+t-1, t =
// warpTiles/f32Passes) from their accumulator registers into the warp's
// region and writes them to Y as 16-byte chunks of output rows (lanes set
// up by emitF32Lane). Same values as the direct stores, bit for bit.
func (c GemmConfig) emitF32Pass(b *builder, p int) {
	mi, passes := c.warpTiles(), c.f32Passes()
	tiles := mi / passes
	fr, cpr := c.f32RowOf(passes), 4*tiles
	if p > 0 {
		b.comment("the warp's reads of pass %d are done before its region is overwritten", p-1)
		b.l("bar.warp.sync 0xffffffff;")
	}
	for i := p * tiles; i < (p+1)*tiles; i++ {
		for h := 0; h < 2; h++ {
			for j := 0; j < c.pixelTiles(); j++ {
				for e := 0; e < 2; e++ {
					off := (8*j+e)*fr + 4*(16*(i-p*tiles)+8*h)
					b.l("st.shared.b32 [%%sfe+%d], %s;", off, c.acc(i, j, 2*h+e))
				}
			}
		}
	}
	b.comment("the warp's own tile only: a warp barrier orders its stores and loads")
	b.l("bar.warp.sync 0xffffffff;")
	b.l("setp.lt.u32 %%p5, %%chv, %%N;")
	b.l("mul.wide.u32 %%cho0, %%chv, 4;")
	for row := 0; row < c.warpPixels(); row += 32 / cpr {
		b.l("ld.shared.v4.u32 {%%bf0, %%bf1, %%bf2, %%bf3}, [%%sdst+%d];", row*fr)
		c.emitRow(b, row)
		b.l("and.pred %%p4, %%p3, %%p5;")
		b.l("mul.wide.u32 %%rk, %%q, %%ldc;")
		b.l("shl.b64 %%rk, %%rk, 2;")
		b.l("add.u64 %%addr, %%gy, %%rk;")
		b.l("add.u64 %%addr, %%addr, %%cho0;")
		b.l("@%%p4 st.global.v4.u32 [%%addr], {%%bf0, %%bf1, %%bf2, %%bf3};")
	}
}

// emitTileLane sets up lane l's part of a 16-byte pass over the warp's
// staging region (%sdw; warpPixels rows of 16·warpTiles bytes, storeRow
// apart): chunk l % cpr of local row l / cpr and of every (32/cpr)-th
// row after it, cpr = warpTiles chunks a row. It sets %sdst to the
// chunk's place in the first row, %tmp2 to its channel n0 + 16·warpTiles·wn
// + 16·chunk and %p5 to channel < N, then runs adjust (nil: nothing; it
// may change %tmp2), then %cho0 = %tmp2 and the row base for emitRow. It
// returns the rows' offsets from the first.
func (c GemmConfig) emitTileLane(b *builder, adjust func()) []int {
	mi, rs := c.warpTiles(), c.storeRow()
	cpr := mi
	b.comment("lane: chunk ln%%%d of rows ln/%d + %d*r", cpr, cpr, 32/cpr)
	b.l("shr.u32 %%q, %%ln, %d;", log2(cpr)) // first row
	b.l("and.b32 %%tmp2, %%ln, %d;", cpr-1)  // chunk
	b.l("mul.lo.u32 %%tmp, %%q, %d;", rs)
	b.l("add.u32 %%sdst, %%sdw, %%tmp;")
	b.l("shl.b32 %%tmp, %%tmp2, 4;")
	b.l("add.u32 %%sdst, %%sdst, %%tmp;")
	b.comment("channel of the chunk: n0 + %d*wn + 16*chunk", 16*mi)
	b.l("shl.b32 %%tmp2, %%tmp2, 4;")
	b.l("shl.b32 %%tmp, %%wn, %d;", log2(16*mi))
	b.l("add.u32 %%tmp2, %%tmp2, %%tmp;")
	b.l("add.u32 %%tmp2, %%tmp2, %%n0;")
	b.l("setp.lt.u32 %%p5, %%tmp2, %%N;")
	if adjust != nil {
		adjust()
	}
	b.l("cvt.u64.u32 %%cho0, %%tmp2;")
	if c.Halo {
		c.emitHaloRows(b, "%q")
	} else {
		b.l("shl.b32 %%px, %%wm, %d;", log2(c.warpPixels()))
		b.l("add.u32 %%px, %%px, %%m0;")
		b.l("add.u32 %%px, %%px, %%q;")
	}
	var rows []int
	for r := 0; r < c.warpPixels()/(32/cpr); r++ {
		rows = append(rows, r*(32/cpr))
	}
	return rows
}

// declare writes one .reg declaration a name (parameterized names such
// as %acc<64> declare %acc0…%acc63).
func declare(b *builder, typ string, names ...string) {
	for _, n := range names {
		b.l(".reg %s %s;", typ, n)
	}
}

// log2 returns the base-2 logarithm of a power of two.
func log2(n int) int {
	k := 0
	for 1<<k < n {
		k++
	}
	if 1<<k != n {
		panic(fmt.Sprintf("kernels: %d is not a power of two", n))
	}
	return k
}

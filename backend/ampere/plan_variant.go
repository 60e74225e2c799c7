package ampere

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/backend/ampere/tuning"
)

// How the planner chooses a GEMM layer's kernel.
//
// Every GEMM variant computes the same bits (the GPU tests check each
// against the reference executor), so the choice is about speed only.
// `sqc tune` times every candidate of every layer (gemmCandidates) on the
// GPU and writes a tuning cache; PlanWith takes the cache's choice for a
// layer it has, and the heuristic (heuristicVariant) for the rest. A
// choice names the kernel (sparse or dense: a 2:4 weight can run on
// either, and runs dense packed dense where that measured faster) and the
// variant. The cache is the only input besides the graph, so the same
// graph and cache give the same engine on any machine.

// Where a GEMM step's variant came from (engine.Step.VariantSource).
const (
	SourceCache     = "cache"
	SourceHeuristic = "heuristic"
)

// PlanOptions are a plan's inputs besides the graph.
type PlanOptions struct {
	// Tuning is a tuning cache (sqc tune); nil plans every layer by the
	// heuristic.
	Tuning *tuning.Cache
	// GPU and Batch select the cache's entries (tuning.Cache.Target
	// resolves them from the cache and the user's flags).
	GPU   string
	Batch int
	// Warn, if set, receives what the cache could not be used for.
	Warn func(msg string)
	// OptBatch is the batch the heuristic chooses kernels for (layers
	// the cache does not decide): at most LatencyBatch, the latency
	// heuristic (heuristicVariantFor); 0 or more, the throughput one.
	OptBatch int
	// SmallBatch, if set, plans the graph a second time with these
	// options for batches up to SmallBatch.OptBatch and adds that plan to
	// the engine (engine.Plan; plan_smallbatch.go): the latency
	// heuristic's kernels for small batches in the same engine file as the
	// throughput ones.
	SmallBatch *PlanOptions
	// force plans the named nodes on the given kernels (sqc tune's timing
	// rounds), before the cache is asked.
	force map[string]tuning.Choice
}

// gemmLayer is what a GEMM layer's kernel choice depends on.
type gemmLayer struct {
	// sparse24: the weight passed pack.Check24, so mma.sp can run it.
	sparse24         bool
	residual, outF32 bool
	act              string // an f32 output's activation
	// m, n, k are the GEMM's sizes for one sample (m output pixels).
	m, n, k int
	// conv is an implicit-GEMM convolution's geometry; nil for a GEMM
	// on rows (QGemm, an im2col matrix, a 1×1 stride-1 convolution).
	conv *kernels.ConvShape
	// geometry is a QConv's tuning.ConvGeometry; "" for a QGemm.
	geometry string
}

// tuningLayer is l as a tuning cache keys it.
func (l gemmLayer) tuningLayer() tuning.Layer {
	out := "i8"
	if l.outF32 {
		out = "f32"
		if l.act != "" && l.act != "none" {
			out += "+" + l.act
		}
	}
	if l.residual {
		out += "+res"
	}
	return tuning.Layer{M: l.m, N: l.n, K: l.k, Conv: l.geometry, Out: out, Sparse24: l.sparse24}
}

// gemmVariant is a set of kernels.GemmConfig knobs that a layer may run
// with: a tile and pipeline (gemmTiles), or an option on top of one
// (gemmOptions).
type gemmVariant struct {
	name string
	// set sets the knobs on a config that has the layer's kernel and
	// epilogue.
	set func(c *kernels.GemmConfig)
	// fits says whether the variant can run l, and is worth timing on it.
	fits func(l gemmLayer) bool
}

func anyLayer(gemmLayer) bool { return true }

// gemmTiles are the tiles and pipelines a GEMM runs on: sqc tune times
// each that fits a layer, with and without each option that fits. A new
// kernel variant joins tuning (and the cache's vocabulary) by adding a row.
var gemmTiles = []gemmVariant{
	// Three stages, weights loaded to registers one step ahead.
	{"s3", func(c *kernels.GemmConfig) { c.Stages = 3 }, anyLayer},
	// Four stages, weights through shared memory with the activations.
	{"s4w", func(c *kernels.GemmConfig) { c.Stages, c.SharedWeights = 4, true }, anyLayer},
	// 64 channels a warp, 128 a block; three stages fit 48 KiB.
	{"n128-s3w", func(c *kernels.GemmConfig) { c.WideN, c.Stages, c.SharedWeights = true, 3, true },
		func(l gemmLayer) bool { return l.n >= 128 }},
	// 8 warps, 256 channels a block, stages in dynamic shared memory.
	{"n256-s4w", func(c *kernels.GemmConfig) { c.WideN, c.WideBlock, c.Stages, c.SharedWeights = true, true, 4, true },
		func(l gemmLayer) bool { return l.n >= 256 }},
	// The latency variants of the n128 block (backend/ampere/NOTES.md,
	// "latency and occupancy"): the next stage's copies after the step's
	// first products (lc); the block on 8 warps of 32 pixels, half the
	// registers a thread so two blocks fit an SM (m32); both; both with two
	// K steps of 64 a barrier (k128, offered only on m32-lc: on the 4-warp
	// tile its dense residual kernel spills).
	{"n128-s3w-lc", func(c *kernels.GemmConfig) { c.WideN, c.Stages, c.SharedWeights, c.LateCopy = true, 3, true, true }, wide128},
	{"n128-m32-s3w", func(c *kernels.GemmConfig) { c.WideN, c.SplitM, c.Stages, c.SharedWeights = true, true, 3, true }, wide128},
	{"n128-m32-s3w-lc", func(c *kernels.GemmConfig) {
		c.WideN, c.SplitM, c.Stages, c.SharedWeights, c.LateCopy = true, true, 3, true, true
	}, wide128},
	{"n128-m32-s3w-lc-k128", func(c *kernels.GemmConfig) {
		c.WideN, c.SplitM, c.Stages, c.SharedWeights, c.LateCopy, c.DoubleK = true, true, 3, true, true, true
	}, wide128},
	// The K step as one basic block (il: fragments, branch-free copies,
	// products; kernels.GemmConfig.Interleave), on the 4-warp and the
	// 8-warp tile: ptxas spreads the copies over the products' issue gaps.
	{"n128-s3w-il", func(c *kernels.GemmConfig) { c.WideN, c.Stages, c.SharedWeights, c.Interleave = true, 3, true, true }, wide128},
	{"n128-m32-s3w-il", func(c *kernels.GemmConfig) {
		c.WideN, c.SplitM, c.Stages, c.SharedWeights, c.Interleave = true, true, 3, true, true
	}, wide128},
	// ... and on the 4-warp tile two steps a loop iteration (u2).
	{"n128-s3w-il-u2", func(c *kernels.GemmConfig) {
		c.WideN, c.Stages, c.SharedWeights, c.Interleave, c.Unroll = true, 3, true, true, true
	}, wide128},
}

// Which wide tiles the throughput heuristic gives layers of 128 channels or
// more (heuristicVariantFor): the 2:4 spatial convolutions', and the other
// layers' (dense, 1×1, GEMMs); a layer whose kernels the tile does not take
// (takesTile) gets n128-s3w, and a halo layer haloTile (the halo kernel has
// its own K loop). TestHeuristicTileFlips checks that every setting plans.
//
// TestPerfMainLoop (H100 80GB HBM3, 2026-12-07, batch 256, int8 + relu, µs)
// on ResNet-34's 3×3 stride-1 layers, 2:4: the interleaved K step (il)
// against the m32-lc-k128 tile before it, layer2 86.1 vs 86.6, layer3 75.1
// vs 77.9, layer4 72.4 vs 79.8; il-u2 83.8, 71.2 and 81.4 (faster on two,
// slower on layer4). Dense, il against n128-s3w: 111.4 vs 109.9, 100.1 vs
// 96.1, 99.3 vs 120.5, and 8192³ 1570 vs 1421: mixed, so the dense tile
// stays.
var (
	sparseConvTile = "n128-s3w-il"
	wideTile       = "n128-s3w"
)

// haloTile is the pipeline a wide halo layer runs on.
const haloTile = "n128-s3w"

// wide128 says whether a layer fills the 128-channel block.
func wide128(l gemmLayer) bool { return l.n >= 128 }

// gemmOptions are knobs that combine with any tile; a variant's name is
// its tile's, then those of its options in this order.
var gemmOptions = []gemmVariant{
	// outputs staged through shared memory for 16-byte stores: int8 rows
	// (nOut apart) of 16-byte multiples, float32 rows of 4-element ones.
	{"v16", func(c *kernels.GemmConfig) { c.StoreVec = true }, func(l gemmLayer) bool {
		return l.n%16 == 0 || l.outF32 && l.n%4 == 0
	}},
	// the convolution's taps stepped without divisions.
	{"inc", func(c *kernels.GemmConfig) { c.ConvStep = true }, func(l gemmLayer) bool { return l.conv != nil && l.conv.C%64 == 0 }},
	// the halo-tile convolution (3×3 stride 1, C a multiple of 64): each
	// 64-channel slice of two 8×8 patches' input loaded once, the nine taps
	// read from shared memory. It steps its own taps, so no candidate has
	// both inc and halo. The heuristic takes it only where haloConv says.
	{"halo", func(c *kernels.GemmConfig) { c.Halo, c.ConvStep = true, false }, func(l gemmLayer) bool {
		return l.conv != nil && kernels.SupportsHalo(*l.conv)
	}},
	// the halo tile on 7-row patches (kernels.GemmConfig.Halo7; valid
	// only with halo), where they compute fewer pixel rows than 8-row
	// ones (halo7Saves). The throughput heuristic takes it where
	// halo7Rule says; sqc tune times it.
	{"h7", func(c *kernels.GemmConfig) { c.Halo7 = true }, func(l gemmLayer) bool {
		return l.conv != nil && kernels.SupportsHalo(*l.conv) && halo7Saves(*l.conv)
	}},
}

// halo7Saves says whether 7-row halo patches compute fewer output rows of
// an image than 8-row ones (the Tensor Core work of each patch column):
// 14, 7 and 28 rows (1.14× fewer), 13, 21, 63; not 56 (as many), 8, 15
// or 16 (more).
func halo7Saves(s kernels.ConvShape) bool {
	rows := func(c kernels.GemmConfig) int {
		return c.HaloPatchRows() * ((s.OH + c.HaloPatchRows() - 1) / c.HaloPatchRows())
	}
	return rows(kernels.GemmConfig{Halo: true, Halo7: true}) < rows(kernels.GemmConfig{Halo: true})
}

// splitK is the split-K option (kernels.GemmConfig.SplitK, token "sk",
// last in a variant's name): the K loop divided over the launch's grid z,
// the number of splits chosen by the runtime at Open (SplitKFor). It is
// not among gemmOptions: the throughput heuristic never takes it; the
// latency heuristic does, sqc tune times it at small batches
// (tuneCandidates), and a tuning cache may name it.
var splitK = gemmVariant{"sk", func(c *kernels.GemmConfig) { c.SplitK = true }, func(l gemmLayer) bool { return false }}

// haloRows is the halo kernel's split over its chunks' kernel rows
// (kernels.GemmConfig.HaloRows, token "tr"), only with split-K: a
// variant "…-halo-tr-sk".
var haloRows = gemmVariant{"tr", func(c *kernels.GemmConfig) { c.HaloRows = true }, func(l gemmLayer) bool { return false }}

// MaxSplitK bounds a step's splits: more add fix-up traffic (each split's
// slice written and read once) for little more parallelism.
const MaxSplitK = 16

// splitKUnits is the number of K units config c divides over its splits
// on l: K steps of 64, the DoubleK kernel's stages of two, or the halo
// kernel's 64-channel chunks.
func (l gemmLayer) splitKUnits(c kernels.GemmConfig) int {
	ch := 0
	if l.conv != nil {
		ch = l.conv.C
	}
	return c.SplitKUnits((l.k+kernels.GemmBK-1)/kernels.GemmBK, ch)
}

// minSplitSteps is the fewest K steps of 64 a split should have. On the
// H100 at batch 1 (ResNet-34, 2:4, the latency kernels) splitting fewer
// lost: 9 steps in 5 splits (layer1, 10.5 against 8.5 µs unsplit), 18 in
// 16 (14.3 against 11.5), 8 in 8 (the classifier, 11.2 against 6.8);
// 72 steps in 8 splits of 9 won (layer4's halo convolutions, 11.7
// against 18.5 µs, with the first fix-up).
//
// A variable only so that tests can plan split-K on the small graphs they
// build (testdata's mini ResNet has at most five K steps a layer).
var minSplitSteps = 4

// splitKMax is the most splits config c may divide l's K into: its K
// units (splitKUnits), at least minSplitSteps K steps a split, at most
// MaxSplitK. A halo chunk is nine steps (its taps).
func (l gemmLayer) splitKMax(c kernels.GemmConfig) int {
	steps := (l.k + kernels.GemmBK - 1) / kernels.GemmBK
	return max(1, min(l.splitKUnits(c), steps/minSplitSteps, MaxSplitK))
}

// SplitKMaxFor is splitKMax for a layer of reduction K (K = KH·KW·C for a
// convolution of C input channels; channels 0 for a GEMM): the most splits
// the planner records for config c, for the GPU benchmarks.
func SplitKMaxFor(c kernels.GemmConfig, k, channels int) int {
	l := gemmLayer{k: k}
	if channels > 0 {
		l.conv = &kernels.ConvShape{C: channels}
	}
	return l.splitKMax(c)
}

// splitKFits says whether split-K can divide candidate v's K on l
// (minSplits splits or more, splitKMax) and the kernels are valid with it.
func (l gemmLayer) splitKFits(v gemmCandidate) bool {
	if v.config(l, false).Validate() != nil || l.sparse24 && v.config(l, true).Validate() != nil {
		return false
	}
	return l.splitKMax(v.config(l, false)) >= minSplits
}

// takesTile says whether l's kernels are valid on the tile of gemmTiles
// named name, dense and (for a 2:4 layer) sparse: not every K loop takes
// every layer (the interleaved step copies whole 16-byte chunks, so not a
// convolution of 4 or 8 input channels).
func (l gemmLayer) takesTile(name string) bool {
	for _, t := range gemmTiles {
		if t.name == name {
			v := gemmCandidate{name: t.name, set: []func(*kernels.GemmConfig){t.set}}
			return v.config(l, false).Validate() == nil && (!l.sparse24 || v.config(l, true).Validate() == nil)
		}
	}
	return false
}

// base is l's kernel config before a variant: the kernel (sparse or
// dense), the epilogue and the convolution's copy piece.
func (l gemmLayer) base(sparse bool) kernels.GemmConfig {
	c := kernels.GemmConfig{Sparse: sparse, Residual: l.residual, OutF32: l.outF32}
	// The planner's residual rows are nOut apart (GemmParams.LDR): the
	// residual tile's 16-byte copies need that a multiple of 16.
	c.ResidualTile = residualTile && l.residual && l.n%16 == 0
	if l.outF32 {
		c.Act = l.act
	}
	if l.conv != nil {
		c.Conv, c.ConvPiece = true, kernels.ConvPiece(l.conv.C)
	}
	return c
}

// gemmCandidate is a named variant of a layer's kernel config.
type gemmCandidate struct {
	name string
	set  []func(c *kernels.GemmConfig)
}

// config returns the candidate's kernel config for l.
func (v gemmCandidate) config(l gemmLayer, sparse bool) kernels.GemmConfig {
	c := l.base(sparse)
	for _, set := range v.set {
		set(&c)
	}
	return c
}

// withSplitK is candidate v with split-K on top (its name gains "-sk"),
// with rows over the halo kernel's kernel rows (HaloRows: "-tr-sk").
func (v gemmCandidate) withSplitK(rows bool) gemmCandidate {
	set := append(v.set[:len(v.set):len(v.set)], splitK.set)
	name := v.name + "-" + splitK.name
	if rows {
		set = append(set, haloRows.set)
		name = v.name + "-" + haloRows.name + "-" + splitK.name
	}
	return gemmCandidate{name: name, set: set}
}

// tuneCandidates are the variants sqc tune times on l at batch: every
// candidate (gemmCandidates) and, at the latency heuristic's batches (at
// most LatencyBatch), each one's split-K twins where K divides into
// minSplits splits or more (splitKFits): "-sk", and for the halo kernel
// "-tr-sk" (its chunks' kernel rows split too). The runtime splits only
// a grid that leaves SMs idle, so at larger batches the twins would time
// the same kernel unsplit.
func tuneCandidates(l gemmLayer, batch int) []gemmCandidate {
	cands := gemmCandidates(l)
	if batch < 1 || batch > LatencyBatch {
		return cands
	}
	out := slices.Clone(cands)
	for _, c := range cands {
		for _, rows := range []bool{false, true} {
			if rows && !c.config(l, false).Halo {
				continue
			}
			if sk := c.withSplitK(rows); l.splitKFits(sk) {
				out = append(out, sk)
			}
		}
	}
	return out
}

// gemmCandidates lists the variants that can run l, the tiles in
// gemmTiles' order, each with every subset of the options that fit l
// (all of them first).
func gemmCandidates(l gemmLayer) []gemmCandidate {
	var opts []gemmVariant
	for _, o := range gemmOptions {
		if o.fits(l) {
			opts = append(opts, o)
		}
	}
	var out []gemmCandidate
	for _, t := range gemmTiles {
		if !t.fits(l) {
			continue
		}
		// Subsets of opts, from all of them down to none.
		for mask := (1 << len(opts)) - 1; mask >= 0; mask-- {
			v := gemmCandidate{name: t.name, set: []func(*kernels.GemmConfig){t.set}}
			for i, o := range opts {
				if mask&(1<<i) != 0 {
					v.name += "-" + o.name
					v.set = append(v.set, o.set)
				}
			}
			if v.config(l, false).Validate() != nil || l.sparse24 && v.config(l, true).Validate() != nil {
				continue
			}
			if strings.Contains(v.name+"-", "-inc-halo-") {
				continue // halo steps its own taps: the same kernel as without inc
			}
			out = append(out, v)
		}
	}
	return out
}

// GemmCandidates lists the kernel configs sqc tune would time for a plain
// GEMM layer of nOut output channels (no convolution options), the
// heuristic's first; the GPU benchmarks time them side by side. The
// convolution's flags (Conv, ConvPiece, ConvStep) are the caller's to set.
func GemmCandidates(sparse, residual, outF32 bool, act string, nOut int) []kernels.GemmConfig {
	l := gemmLayer{sparse24: true, residual: residual, outF32: outF32, act: act, n: nOut}
	first := heuristicVariant(l)
	var out []kernels.GemmConfig
	for _, c := range gemmCandidates(l) {
		cfg := c.config(l, sparse)
		if c.name == first {
			out = append([]kernels.GemmConfig{cfg}, out...)
		} else {
			out = append(out, cfg)
		}
	}
	return out
}

// HeuristicConvConfig is the kernel config the planner gives a QConv of
// geometry s (OH, OW filled in) and nOut output channels with int8 output
// and no tuning cache, for large batches: the GPU benchmarks time the
// kernels engines run with it. sparse says the weight is 2:4 (and runs
// mma.sp). A 1×1 stride-1 unpadded convolution on a multiple of 16
// channels gets the plain GEMM (Conv false), on the NHWC rows (lda = C),
// as the planner runs it.
func HeuristicConvConfig(sparse, residual bool, s kernels.ConvShape, nOut int) (kernels.GemmConfig, error) {
	l := gemmLayer{sparse24: sparse, residual: residual, n: nOut, conv: &s}
	if s.KH == 1 && s.KW == 1 && s.SH == 1 && s.SW == 1 && s.PH == 0 && s.PW == 0 && s.OH == s.H && s.OW == s.W && s.C%16 == 0 {
		l.conv = nil
	}
	name := heuristicVariant(l)
	for _, c := range gemmCandidates(l) {
		if c.name == name {
			return c.config(l, sparse), nil
		}
	}
	return kernels.GemmConfig{}, fmt.Errorf("the heuristic's variant %s is no candidate for a %d-channel convolution", name, nOut)
}

// LatencyBatch is the largest batch the latency heuristic is for: at batch
// 1 a ResNet layer has 49 to 3136 output pixels, too few blocks of the
// wide tiles for 132 SMs.
const LatencyBatch = 8

// heuristicVariant is the variant a layer runs without a tuning cache
// entry, for throughput (large batches): four stages with shared weights,
// the wide warp tile (n128) from 128 output channels, 16-byte stores where
// the output allows, and tap stepping where C is a multiple of 64; a 2:4
// convolution with a spatial kernel (3×3) and 128 channels or more runs
// sparseConvTile (the interleaved K step, n128-s3w-il), unless it runs the
// halo tile (haloConv). All from H100 measurements (backend/ampere/NOTES.md):
// on ResNet-34's 3×3 layers at batch 256 the interleaved step is 1.01–1.10×
// the m32-lc-k128 tile that had that place before on the 2:4 kernel, which
// was 0.98–1.21× the n128 tile's speed there and 0.85–0.90× on the dense
// kernel, which keeps n128; 1×1 convolutions gain nothing from it. The 8-warp tile
// (n256) wins on some shapes only, so only a measurement (the cache) picks
// it.
func heuristicVariant(l gemmLayer) string { return heuristicVariantFor(l, false) }

// heuristicVariantFor is heuristicVariant, or with latency the variant for
// small batches: the 4-warp tile (s4w) on every layer, the halo tile on
// every 3×3 stride-1 convolution it can run from 128 output channels, and
// the same stores and tap stepping. That is what sqc tune --batch 1 chose
// on an H100 for ResNet-34's sparse engine, layer by layer (1.27× less
// GEMM time than the throughput heuristic: 432 vs 551 µs; NOTES.md). On
// top of that, split-K (sk) on every layer whose K allows minSplits splits
// or more: at batch 1 these layers launch 4 to 16 blocks for a GPU of 100
// SMs or more, and the runtime splits a step only where its grid leaves
// SMs idle and then into minSplits or more (SplitKFor), so sk costs
// nothing where the grid is full. Layers whose halo kernel cannot split
// minSplits ways (layer3) follow latencyUnsplitHalo.
//
// Float32 outputs are not staged for 16-byte stores (v16): on the H100
// (TestPerfF32Out, ResNet's last f32 layers at batch 256, 2026-12-07) the
// staged kernels ran at 0.94–0.99× of the direct stores; sqc tune still
// times them.
func heuristicVariantFor(l gemmLayer, latency bool) string {
	conv3 := l.conv != nil && kernels.SupportsHalo(*l.conv)
	halo := conv3 && haloConv(l)
	rows := false // the halo kernel split over its chunks' kernel rows
	name := "s4w"
	switch {
	case latency:
		halo = conv3 && l.n >= latencyHaloMinChannels
		if halo && l.splitKMax(kernels.GemmConfig{Halo: true}) < minSplits {
			switch latencyUnsplitHalo {
			case haloSplitInc:
				halo = l.splitKMax(kernels.GemmConfig{ConvStep: true}) < minSplits
			case haloSplitRows:
				rows = l.splitKMax(kernels.GemmConfig{Halo: true, HaloRows: true}) >= minSplits
			}
		}
	case l.n >= 128 && halo:
		name = haloTile
	case l.n >= 128 && l.sparse24 && l.conv != nil && l.conv.KH*l.conv.KW > 1 && l.takesTile(sparseConvTile):
		name = sparseConvTile
	case l.n >= 128 && l.takesTile(wideTile):
		name = wideTile
	case l.n >= 128:
		name = "n128-s3w"
	}
	for _, o := range gemmOptions {
		if !o.fits(l) || o.name == "halo" && !halo || o.name == "inc" && halo || o.name == "v16" && l.outF32 || o.name == "h7" && (latency || !halo || !halo7Rule(l)) {
			continue
		}
		name += "-" + o.name
	}
	switch {
	case rows:
		name += "-" + haloRows.name + "-" + splitK.name
	case latency && l.splitKMax(kernels.GemmConfig{Halo: halo}) >= minSplits: // s4w: one K step a stage
		name += "-" + splitK.name
	}
	return name
}

// latencyHaloMinChannels is the fewest output channels of a 3×3 stride-1
// layer the latency heuristic runs on the halo kernel; below, the running
// column (inc). What sqc tune --batch 1 chose for ResNet-34 on an H100
// (layer1's 64 channels on inc); TestPerfSplitKCandidates times layer1's
// halo and inc kernels side by side at batch 1 to check it.
var latencyHaloMinChannels = 128

// What the latency heuristic runs on a 3×3 stride-1 layer of 128 channels
// or more whose halo kernel cannot split K minSplits ways (its splits are
// whole 64-channel chunks: ResNet-34's layer3 has four, layer2 two):
const (
	// haloUnsplit: the halo kernel unsplit (s4w-v16-halo).
	haloUnsplit = iota
	// haloSplitInc: the running-column kernel split-K (s4w-v16-inc-sk),
	// where its K steps allow minSplits splits (layer3: 36 steps, 9).
	haloSplitInc
	// haloSplitRows: the halo kernel split over its chunks' kernel rows
	// (s4w-v16-halo-tr-sk), where those allow minSplits splits (layer3:
	// 12 rows, 9 splits; layer2's 6 do not).
	haloSplitRows
)

// latencyUnsplitHalo is that rule. At batch 1 the halo kernel gives
// layer3 8 blocks on 132 SMs (12.6 µs a launch on the H100, the largest
// block of the batch-1 engine's time); either split gives it 72, for the
// split-K fix-up (about 4.5 µs a launch) and, on the running column,
// nine copies of each input pixel, with HaloRows three loads of each
// chunk's halo. TestPerfSplitKCandidates (gputest) on an H100
// (2026-12-07, 2:4, batch 1) measured the unsplit halo tile fastest on
// layer3: 12.64 µs, the chunk split (S=4) 12.80, halo rows (S=9) 14.08,
// the running column split 8 or 9 ways 13.89 and 14.46: with eight blocks
// the fix-up costs more than the splits gain.
var latencyUnsplitHalo = haloUnsplit

// gemmChoice is the kernel a GEMM layer runs and where the choice came
// from.
type gemmChoice struct {
	sparse  bool
	variant gemmCandidate
	source  string
}

// chooseGemm picks node's kernel: forced (tuning rounds), from the tuning
// cache, or by the heuristic.
func (p *planner) chooseGemm(node string, l gemmLayer) (gemmChoice, error) {
	cands := gemmCandidates(l)
	find := func(name string) (gemmCandidate, bool) {
		base, sk := strings.CutSuffix(name, "-"+splitK.name)
		rows := false
		if sk {
			base, rows = strings.CutSuffix(base, "-"+haloRows.name)
		}
		i := slices.IndexFunc(cands, func(c gemmCandidate) bool { return c.name == base })
		if i < 0 {
			return gemmCandidate{}, false
		}
		if !sk {
			return cands[i], true
		}
		// A candidate with split-K on top, where it can divide K (and
		// HaloRows only on the halo kernel).
		v := cands[i].withSplitK(rows)
		return v, l.splitKFits(v) && (!rows || v.config(l, false).Halo)
	}
	if c, ok := p.opts.force[node]; ok {
		v, found := find(c.Variant)
		if !found || c.Sparse && !l.sparse24 {
			return gemmChoice{}, fmt.Errorf("no candidate %s for this layer", c)
		}
		return gemmChoice{sparse: c.Sparse, variant: v, source: SourceCache}, nil
	}
	heuristic := func() (gemmChoice, error) {
		name := heuristicVariantFor(l, p.opts.OptBatch >= 1 && p.opts.OptBatch <= LatencyBatch)
		v, ok := find(name)
		if !ok {
			return gemmChoice{}, fmt.Errorf("the heuristic's variant %s is no candidate for this layer", name)
		}
		return gemmChoice{sparse: l.sparse24, variant: v, source: SourceHeuristic}, nil
	}
	cache := p.opts.Tuning
	if cache == nil {
		return heuristic()
	}
	tl := l.tuningLayer()
	e, ok := cache.Lookup(tuning.Key{GPU: p.opts.GPU, Batch: p.opts.Batch, Layer: tl})
	if !ok {
		for _, other := range cache.GPUs() {
			if other == p.opts.GPU {
				continue
			}
			for _, b := range cache.Batches(other) {
				if _, ok := cache.Lookup(tuning.Key{GPU: other, Batch: b, Layer: tl}); ok {
					p.otherGPU[other] = append(p.otherGPU[other], node)
					return heuristic()
				}
			}
		}
		return heuristic()
	}
	v, found := find(e.Use.Variant)
	if !found {
		names := make([]string, len(cands))
		for i, c := range cands {
			names[i] = c.name
		}
		return gemmChoice{}, &cacheError{fmt.Sprintf("%s:%d: variant %s cannot run this layer (gemm %dx%dx%d): want one of %s",
			cache.File, e.Line, e.Use.Variant, l.m, l.n, l.k, strings.Join(names, ", "))}
	}
	return gemmChoice{sparse: e.Use.Sparse, variant: v, source: SourceCache}, nil
}

// cacheError is a tuning cache entry the planner cannot follow: an error
// of the build, not a reason to run the node on a fallback.
type cacheError struct{ msg string }

func (e *cacheError) Error() string { return e.msg }

func kindName(sparse bool) string {
	if sparse {
		return "sparse"
	}
	return "dense"
}

// warnOtherGPU says which layers the cache has for other GPUs only: they
// ran by the heuristic.
func (p *planner) warnOtherGPU() {
	if p.opts.Warn == nil {
		return
	}
	var gpus []string
	for g := range p.otherGPU {
		gpus = append(gpus, g)
	}
	slices.Sort(gpus)
	for _, g := range gpus {
		nodes := p.otherGPU[g]
		target := fmt.Sprintf("%q", p.opts.GPU)
		if p.opts.Batch > 0 {
			target += fmt.Sprintf(" at batch %d", p.opts.Batch)
		}
		p.opts.Warn(fmt.Sprintf("tuning cache %s has %d layers (%s) measured on %q only, not on %s: they use the heuristic",
			p.opts.Tuning.File, len(nodes), strings.Join(nodes, ", "), g, target))
	}
}

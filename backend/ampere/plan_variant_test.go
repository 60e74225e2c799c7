package ampere

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/backend/ampere/tuning"
	"github.com/sqc-project/sqc/ir"
)

func candidateNames(l gemmLayer) []string {
	var names []string
	for _, c := range gemmCandidates(l) {
		names = append(names, c.name)
	}
	return names
}

func TestGemmCandidates(t *testing.T) {
	conv := &kernels.ConvShape{C: 256, H: 14, W: 14, OH: 14, OW: 14, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}
	wide := gemmLayer{sparse24: true, m: 196, n: 256, k: 2304, conv: conv}
	want := []string{
		"s3-v16-inc", "s3-inc", "s3-v16", "s3",
		"s4w-v16-halo-h7", "s4w-halo-h7", "s4w-v16-halo", "s4w-halo", "s4w-v16-inc", "s4w-inc", "s4w-v16", "s4w",
		"n128-s3w-v16-halo-h7", "n128-s3w-halo-h7", "n128-s3w-v16-halo", "n128-s3w-halo", "n128-s3w-v16-inc", "n128-s3w-inc", "n128-s3w-v16", "n128-s3w",
		"n256-s4w-v16-halo-h7", "n256-s4w-halo-h7", "n256-s4w-v16-halo", "n256-s4w-halo", "n256-s4w-v16-inc", "n256-s4w-inc", "n256-s4w-v16", "n256-s4w",
		"n128-s3w-lc-v16-inc", "n128-s3w-lc-inc", "n128-s3w-lc-v16", "n128-s3w-lc",
		"n128-m32-s3w-v16-inc", "n128-m32-s3w-inc", "n128-m32-s3w-v16", "n128-m32-s3w",
		"n128-m32-s3w-lc-v16-inc", "n128-m32-s3w-lc-inc", "n128-m32-s3w-lc-v16", "n128-m32-s3w-lc",
		"n128-m32-s3w-lc-k128-v16-inc", "n128-m32-s3w-lc-k128-inc", "n128-m32-s3w-lc-k128-v16", "n128-m32-s3w-lc-k128",
		"n128-s3w-il-v16-inc", "n128-s3w-il-inc", "n128-s3w-il-v16", "n128-s3w-il", // no halo: its own K loop
		"n128-m32-s3w-il-v16-inc", "n128-m32-s3w-il-inc", "n128-m32-s3w-il-v16", "n128-m32-s3w-il",
		"n128-s3w-il-u2-v16-inc", "n128-s3w-il-u2-inc", "n128-s3w-il-u2-v16", "n128-s3w-il-u2",
	}
	if got := candidateNames(wide); !slices.Equal(got, want) {
		t.Errorf("candidates of a 256-channel 3x3 conv:\n%v\nwant\n%v", got, want)
	}
	// An f32 output of 4·k channels has 16-byte stores too, a GEMM on
	// rows no tap stepping, 64 channels no wide tile; 10 f32 channels
	// (rows of 40 bytes) only the element stores.
	fc := gemmLayer{m: 1, n: 64, k: 512, outF32: true, act: "relu"}
	if got := candidateNames(fc); !slices.Equal(got, []string{"s3-v16", "s3", "s4w-v16", "s4w"}) {
		t.Errorf("candidates of a 64-channel f32 GEMM: %v", got)
	}
	fc10 := gemmLayer{m: 1, n: 10, k: 512, outF32: true}
	if got := candidateNames(fc10); !slices.Equal(got, []string{"s3", "s4w"}) {
		t.Errorf("candidates of a 10-channel f32 GEMM: %v", got)
	}
	// Every candidate is a valid kernel, sparse and dense, and the
	// heuristic's choice is one of them.
	for _, l := range []gemmLayer{wide, fc} {
		for _, c := range gemmCandidates(l) {
			for _, sparse := range []bool{false, true} {
				if err := c.config(l, sparse).Validate(); err != nil {
					t.Errorf("%s: %v", c.name, err)
				}
			}
		}
		if !slices.Contains(candidateNames(l), heuristicVariant(l)) {
			t.Errorf("heuristic %s is not a candidate of %+v", heuristicVariant(l), l)
		}
	}
	// A 3×3 stride-1 conv on a 14×14 image runs the halo tile on 7-row
	// patches (haloConv, halo7Rule), 2:4 or dense; a 2:4 1×1 conv the n128
	// tile.
	if h := heuristicVariant(wide); h != "n128-s3w-v16-halo-h7" {
		t.Errorf("heuristic of the 256-channel 2:4 conv: %s", h)
	}
	dense := wide
	dense.sparse24 = false
	if h := heuristicVariant(dense); h != "n128-s3w-v16-halo-h7" {
		t.Errorf("heuristic of the 256-channel dense conv: %s", h)
	}
	one := wide
	one.conv = &kernels.ConvShape{C: 256, H: 14, W: 14, OH: 14, OW: 14, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1}
	if h := heuristicVariant(one); h != "n128-s3w-v16-inc" {
		t.Errorf("heuristic of the 256-channel 2:4 1x1 conv: %s", h)
	}
	// For latency (small batches) every layer takes the 4-warp tile, and
	// a 3×3 stride-1 conv of 128 channels or more the halo tile, dense or
	// 2:4 and whatever its image size; each choice is a candidate.
	dense28 := dense
	dense28.conv = &kernels.ConvShape{C: 128, H: 28, W: 28, OH: 28, OW: 28, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}
	dense28.n = 128
	narrow := dense28
	narrow.n, narrow.conv = 64, &kernels.ConvShape{C: 64, H: 56, W: 56, OH: 56, OW: 56, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}
	// Split-K (sk) on top wherever K divides into minSplits splits or
	// more: a conv of K 2304 (36 steps) on the implicit GEMM, whatever its
	// geometry, layer4's 3×3 halo convolutions (512 channels: eight
	// 64-channel chunks); not a halo conv of 256 channels or fewer (four
	// chunks), a GEMM of K 512, a one-step GEMM (k = 64) or a halo conv of
	// one 64-channel chunk. Float32 outputs keep direct stores.
	oneStep := gemmLayer{m: 196, n: 64, k: 64}
	halo64 := dense28
	halo64.conv = &kernels.ConvShape{C: 64, H: 28, W: 28, OH: 28, OW: 28, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}
	halo64.k = 576
	layer4 := gemmLayer{m: 49, n: 512, k: 4608, sparse24: true,
		conv: &kernels.ConvShape{C: 512, H: 7, W: 7, OH: 7, OW: 7, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}}
	layer4s2 := gemmLayer{m: 49, n: 512, k: 2304, sparse24: true,
		conv: &kernels.ConvShape{C: 256, H: 14, W: 14, OH: 7, OW: 7, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1, DH: 1, DW: 1}}
	for _, c := range []struct {
		l    gemmLayer
		want string
	}{{wide, "s4w-v16-halo"}, {dense28, "s4w-v16-halo"}, {one, "s4w-v16-inc-sk"}, {narrow, "s4w-v16-inc-sk"}, {fc, "s4w"}, {fc10, "s4w"},
		{oneStep, "s4w-v16"}, {halo64, "s4w-v16-halo"}, {layer4, "s4w-v16-halo-sk"}, {layer4s2, "s4w-v16-inc-sk"}} {
		if h := heuristicVariantFor(c.l, true); h != c.want {
			t.Errorf("latency heuristic of %+v: %s, want %s", c.l, h, c.want)
		}
		if base, _ := strings.CutSuffix(c.want, "-sk"); !slices.Contains(candidateNames(c.l), base) {
			t.Errorf("latency heuristic %s is not a candidate of %+v", c.want, c.l)
		}
		if strings.Contains(heuristicVariantFor(c.l, false), "sk") {
			t.Errorf("throughput heuristic of %+v splits K: %s", c.l, heuristicVariantFor(c.l, false))
		}
	}
	if h := heuristicVariant(dense28); h != "n128-s3w-v16-halo-h7" {
		t.Errorf("throughput heuristic of a dense 28x28 conv: %s (7-row halo patches there)", h)
	}
}

// miniPlan plans the mini ResNet with opts and returns the engine and the
// planner (its GEMM layers).
func miniPlan(t *testing.T, opts PlanOptions) (*engine.Engine, *planner) {
	t.Helper()
	p, err := planGraph(loadMini(t), "test", nil, true, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p.e, p
}

func marshal(t *testing.T, e *engine.Engine) []byte {
	t.Helper()
	b, err := engine.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cacheFor returns a cache with an entry for every GEMM layer of pl, each
// choosing what pick returns (the heuristic's choice where it returns
// false).
func cacheFor(t *testing.T, pl *planner, gpu string, batch int, pick func(g plannedGemm) (tuning.Choice, bool)) *tuning.Cache {
	t.Helper()
	c := tuning.New("test.cache")
	for _, g := range pl.gemms {
		use, ok := pick(g)
		if !ok {
			use = tuning.Choice{Sparse: g.choice.sparse, Variant: g.choice.variant.name}
		}
		times := []tuning.Timing{{Choice: use, Us: 10}}
		if h := (tuning.Choice{Sparse: g.choice.sparse, Variant: g.choice.variant.name}); h != use {
			times = append(times, tuning.Timing{Choice: h, Us: 11})
		}
		if err := c.Put(tuning.Entry{Key: tuning.Key{GPU: gpu, Batch: batch, Layer: g.layer.tuningLayer()}, Use: use, Times: times}); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestPlanHeuristicVariants(t *testing.T) {
	e, _ := miniPlan(t, PlanOptions{})
	n := 0
	for _, s := range e.Steps {
		if !strings.HasPrefix(s.Kernel, "sqc_gemm") {
			if s.Variant != "" || s.VariantSource != "" {
				t.Errorf("%s (%s) has variant %q from %q", s.Node, s.Kernel, s.Variant, s.VariantSource)
			}
			continue
		}
		n++
		if s.VariantSource != SourceHeuristic || s.Variant == "" {
			t.Errorf("%s: variant %q from %q, want the heuristic's", s.Node, s.Variant, s.VariantSource)
		}
	}
	if n != 9 {
		t.Errorf("%d GEMM steps, want 9", n)
	}
	if s := findStep(t, e, "block1.2.conv", "sqc_gemm"); s.Variant != "s4w-v16" {
		t.Errorf("block1.2.conv: variant %s, want s4w-v16 (16 channels: no wide tile, no tap stepping)", s.Variant)
	}
}

// TestPlanObeysCache: a cache that chooses other variants, and the dense
// kernel for a 2:4 layer, changes exactly those steps; the layer run dense
// is packed dense with the same (2:4-valued) weights, so the engine's graph
// and CPU run are unchanged; the same cache gives the same bytes.
func TestPlanObeysCache(t *testing.T) {
	heur, pl := miniPlan(t, PlanOptions{})
	const gpu = "NVIDIA H100 80GB HBM3"
	pick := func(g plannedGemm) (tuning.Choice, bool) {
		// Each of the two has a shape of its own (block1.x and block2.x
		// share theirs, so they share a choice).
		switch g.node {
		case "block3.2.conv":
			return tuning.Choice{Sparse: false, Variant: g.choice.variant.name}, true
		case "block3.1.conv":
			return tuning.Choice{Sparse: true, Variant: "s3"}, true
		}
		return tuning.Choice{}, false
	}
	cache := cacheFor(t, pl, gpu, 256, pick)
	opts := PlanOptions{Tuning: cache, GPU: gpu, Batch: 256, Warn: func(m string) { t.Errorf("warning: %s", m) }}
	tuned, _ := miniPlan(t, opts)
	again, _ := miniPlan(t, opts)
	if !bytes.Equal(marshal(t, tuned), marshal(t, again)) {
		t.Fatal("the same graph and cache gave different engines")
	}
	if bytes.Equal(marshal(t, tuned), marshal(t, heur)) {
		t.Fatal("a cache that changes two choices gave the heuristic's engine")
	}
	for i, s := range tuned.Steps {
		h := heur.Steps[i]
		if !strings.HasPrefix(s.Kernel, "sqc_gemm") {
			continue
		}
		if s.VariantSource != SourceCache {
			t.Errorf("%s: source %q, want cache", s.Node, s.VariantSource)
		}
		switch s.Node {
		case "block3.2.conv":
			if s.Sparse || s.Kernel != strings.Replace(h.Kernel, "_sp24", "_dense", 1) || !strings.Contains(s.Note, "dense kernel faster") {
				t.Errorf("block3.2.conv: %s sparse %v (%s), want the dense kernel of %s", s.Kernel, s.Sparse, s.Note, h.Kernel)
			}
		case "block3.1.conv":
			if !s.Sparse || s.Variant != "s3" || s.Kernel != "sqc_gemm_conv_s8_sp24_i8" {
				t.Errorf("block3.1.conv: %s variant %s, want sqc_gemm_conv_s8_sp24_i8 (s3)", s.Kernel, s.Variant)
			}
		default:
			if s.Kernel != h.Kernel || s.Variant != h.Variant {
				t.Errorf("%s: %s, want the heuristic's %s (the cache chose it)", s.Node, s.Kernel, h.Kernel)
			}
		}
	}
	kinds := map[string]string{}
	for _, w := range tuned.Weights {
		kinds[w.Name] = w.Kind
	}
	if kinds["block3.2.conv/w"] != "dense" || kinds["block3.2.conv/e"] != "" || kinds["block3.1.conv/w"] != "sparse24" {
		t.Errorf("packed weights: block3.2.conv/w %q, /e %q, block3.1.conv/w %q; want dense, none, sparse24", kinds["block3.2.conv/w"], kinds["block3.2.conv/e"], kinds["block3.1.conv/w"])
	}
	if tuned.Graph != heur.Graph {
		t.Error("the engine's graph text changed with the kernel choice")
	}
	// The graph unpacked from the dense packing still claims 2:4 and
	// computes what the heuristic engine's graph does.
	g, err := Graph(tuned)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range g.Nodes {
		if n.Name == "block3.2.conv" && n.Inputs[1].Sparsity == nil {
			t.Error("block3.2.conv's weight lost its 2:4 claim")
		}
	}
	x := ir.NewTensor(ir.Float32, 2, 3, 32, 32)
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(i%89)/44 - 1
	}
	a, err := RunCPU(heur, []*ir.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	b, err := RunCPU(tuned, []*ir.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a[0].Float32s(), b[0].Float32s()) {
		t.Error("the tuned engine's CPU run differs from the heuristic one's")
	}
}

func TestPlanCacheOtherGPUAndBatch(t *testing.T) {
	_, pl := miniPlan(t, PlanOptions{})
	s3 := func(g plannedGemm) (tuning.Choice, bool) {
		return tuning.Choice{Sparse: g.choice.sparse, Variant: "s3"}, g.layer.outF32
	}
	cache := cacheFor(t, pl, "NVIDIA H200", 256, s3)
	var warnings []string
	opts := PlanOptions{Tuning: cache, GPU: "NVIDIA H100 80GB HBM3", Batch: 256, Warn: func(m string) { warnings = append(warnings, m) }}
	e, _ := miniPlan(t, opts)
	for _, s := range e.Steps {
		if strings.HasPrefix(s.Kernel, "sqc_gemm") && s.VariantSource != SourceHeuristic {
			t.Errorf("%s: source %s, want the heuristic (the cache is for another GPU)", s.Node, s.VariantSource)
		}
	}
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], `tuning cache test.cache has 9 layers (stem.conv, block1.1.conv,`) ||
		!strings.HasSuffix(warnings[0], `measured on "NVIDIA H200" only, not on "NVIDIA H100 80GB HBM3" at batch 256: they use the heuristic`) {
		t.Errorf("warnings: %q", warnings)
	}
	// Another batch of the same GPU: the heuristic, no warning.
	warnings = nil
	opts.GPU, opts.Batch = "NVIDIA H200", 1
	e, _ = miniPlan(t, opts)
	if s := findStep(t, e, "head.fc", "sqc_gemm"); s.VariantSource != SourceHeuristic || len(warnings) != 0 {
		t.Errorf("batch 1 of a batch-256 cache: head.fc from %s, warnings %q", s.VariantSource, warnings)
	}
	opts.Batch = 256
	e, _ = miniPlan(t, opts)
	if s := findStep(t, e, "head.fc", "sqc_gemm"); s.VariantSource != SourceCache || s.Variant != "s3" {
		t.Errorf("head.fc: %s from %s, want s3 from the cache", s.Variant, s.VariantSource)
	}
}

func TestPlanCacheVariantNoCandidate(t *testing.T) {
	_, pl := miniPlan(t, PlanOptions{})
	wide := func(g plannedGemm) (tuning.Choice, bool) {
		return tuning.Choice{Sparse: g.choice.sparse, Variant: "n256-s4w"}, g.node == "block3.1.conv"
	}
	cache := cacheFor(t, pl, "G", 8, wide)
	_, err := planGraph(loadMini(t), "test", nil, true, PlanOptions{Tuning: cache, GPU: "G", Batch: 8})
	want := `node "block3.1.conv" (QConv): test.cache:0: variant n256-s4w cannot run this layer (gemm 256x32x144): want one of s3-v16, s3, s4w-v16, s4w`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// TestResidualTileChoice: every candidate of a residual layer whose rows
// are 16-byte aligned (nOut, the planner's residual row stride, a
// multiple of 16) copies the residual tile; other widths, layers without
// a residual and residualTile off keep the byte loads.
func TestResidualTileChoice(t *testing.T) {
	conv := &kernels.ConvShape{C: 128, H: 28, W: 28, OH: 28, OW: 28, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}
	for _, tc := range []struct {
		l    gemmLayer
		want bool
	}{
		{gemmLayer{sparse24: true, residual: true, m: 784, n: 128, k: 1152, conv: conv}, true},
		{gemmLayer{sparse24: true, residual: true, m: 50, n: 1008, k: 512}, true},
		{gemmLayer{residual: true, outF32: true, act: "relu", m: 50, n: 48, k: 512}, true},
		{gemmLayer{residual: true, m: 50, n: 40, k: 512}, false},
		{gemmLayer{sparse24: true, m: 784, n: 128, k: 1152, conv: conv}, false},
	} {
		for _, c := range gemmCandidates(tc.l) {
			for _, sparse := range []bool{false, true} {
				cfg := c.config(tc.l, sparse)
				if cfg.ResidualTile != tc.want {
					t.Errorf("%s (n %d, residual %v): ResidualTile %v, want %v", cfg.Name(), tc.l.n, tc.l.residual, cfg.ResidualTile, tc.want)
				}
				prm := kernels.GemmParams{M: tc.l.m, N: tc.l.n, K: tc.l.k, NPad: (tc.l.n + cfg.BN() - 1) / cfg.BN() * cfg.BN(), KPad: (tc.l.k + 63) / 64 * 64,
					LDA: (tc.l.k + 15) / 16 * 16, LDR: tc.l.n, LDC: tc.l.n, QLo: -128, QHi: 127}
				if tc.l.conv != nil {
					prm.Conv = *tc.l.conv
				}
				if err := cfg.Check(prm); err != nil {
					t.Errorf("%s: %v", cfg.Name(), err)
				}
			}
		}
	}
	defer func(v bool) { residualTile = v }(residualTile)
	residualTile = false
	l := gemmLayer{sparse24: true, residual: true, m: 784, n: 128, k: 1152, conv: conv}
	for _, c := range gemmCandidates(l) {
		if c.config(l, true).ResidualTile {
			t.Errorf("%s: ResidualTile with residualTile off", c.name)
		}
	}
}

// TestHeuristicConvConfig: the exported heuristic gives the kernels the
// planner runs on ResNet-34's residual convolutions without a cache.
func TestHeuristicConvConfig(t *testing.T) {
	conv3 := func(c, hw int) kernels.ConvShape {
		return kernels.ConvShape{C: c, H: hw, W: hw, OH: hw, OW: hw, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}
	}
	for _, tc := range []struct {
		sparse bool
		s      kernels.ConvShape
		n      int
		want   string
	}{
		{false, conv3(64, 56), 64, "sqc_gemm_halo_s8_dense_res_i8_v16_rt_s4w"},
		{true, conv3(128, 28), 128, "sqc_gemm_halo_s8_sp24_res_i8_n128_v16_rt_s3w_h7"},
		{false, conv3(128, 28), 128, "sqc_gemm_halo_s8_dense_res_i8_n128_v16_rt_s3w_h7"},
		{true, conv3(256, 14), 256, "sqc_gemm_halo_s8_sp24_res_i8_n128_v16_rt_s3w_h7"},
		{false, conv3(256, 14), 256, "sqc_gemm_halo_s8_dense_res_i8_n128_v16_rt_s3w_h7"},
		// layer4: 8-row patches on the 2:4 kernel (halo7Rule), 7-row ones dense.
		{true, conv3(512, 7), 512, "sqc_gemm_halo_s8_sp24_res_i8_n128_v16_rt_s3w"},
		{false, conv3(512, 7), 512, "sqc_gemm_halo_s8_dense_res_i8_n128_v16_rt_s3w_h7"},
		// A stride-2 3×3 conv (no halo tile): the interleaved K step on the 2:4 kernel.
		{true, kernels.ConvShape{C: 128, H: 28, W: 28, OH: 14, OW: 14, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1, DH: 1, DW: 1}, 256, "sqc_gemm_conv_s8_sp24_res_i8_inc_n128_il_v16_rt_s3w"},
		// ResNet-50's conv3: a plain GEMM on the NHWC rows.
		{true, kernels.ConvShape{C: 128, H: 28, W: 28, OH: 28, OW: 28, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1}, 512, "sqc_gemm_s8_sp24_res_i8_n128_v16_rt_s3w"},
	} {
		c, err := HeuristicConvConfig(tc.sparse, true, tc.s, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if c.Name() != tc.want {
			t.Errorf("%v %dx%dx%d: %s, want %s", tc.sparse, tc.s.H, tc.s.W, tc.s.C, c.Name(), tc.want)
		}
	}
}

// TestHeuristicTileFlips: the throughput heuristic's wide tiles
// (sparseConvTile, wideTile) may be set to any wide tile, the interleaved
// K step's among them, and every layer still plans on one of its
// candidates: ResNet-34's convolutions (3×3 stride 1 on each image size,
// so with and without the halo tile; stride 2; 1×1 downsamples), 2:4 and
// dense, residual, and a float32 GEMM.
func TestHeuristicTileFlips(t *testing.T) {
	oldSparse, oldWide := sparseConvTile, wideTile
	defer func() { sparseConvTile, wideTile = oldSparse, oldWide }()
	conv := func(c, hw, k, s int) *kernels.ConvShape {
		o := (hw+2*(k/2)-k)/s + 1
		return &kernels.ConvShape{C: c, H: hw, W: hw, OH: o, OW: o, KH: k, KW: k, SH: s, SW: s, PH: k / 2, PW: k / 2, DH: 1, DW: 1}
	}
	var layers []gemmLayer
	for _, sp := range []bool{false, true} {
		for _, res := range []bool{false, true} {
			for _, cv := range []*kernels.ConvShape{conv(128, 28, 3, 1), conv(256, 14, 3, 1), conv(512, 7, 3, 1), conv(128, 56, 3, 2), conv(256, 28, 3, 2),
				conv(64, 56, 1, 2), conv(256, 14, 1, 1)} {
				layers = append(layers, gemmLayer{sparse24: sp, residual: res, m: cv.OH * cv.OW, n: 2 * cv.C, k: cv.KH * cv.KW * cv.C, conv: cv})
			}
		}
		layers = append(layers, gemmLayer{sparse24: sp, m: 1, n: 1024, k: 512, outF32: true, act: "relu"})
		// Few input channels (ConvPiece copies: a padded stem, 8
		// channels), which not every tile's K loop takes.
		for _, cv := range []*kernels.ConvShape{conv(4, 32, 7, 2), conv(8, 14, 3, 1)} {
			layers = append(layers, gemmLayer{sparse24: sp, m: cv.OH * cv.OW, n: 128, k: cv.KH * cv.KW * cv.C, conv: cv})
		}
	}
	tiles := []string{"n128-s3w", "n128-s3w-lc", "n128-m32-s3w", "n128-m32-s3w-lc", "n128-m32-s3w-lc-k128", "n128-s3w-il", "n128-m32-s3w-il", "n128-s3w-il-u2"}
	for _, sct := range tiles {
		for _, wt := range tiles {
			sparseConvTile, wideTile = sct, wt
			for _, l := range layers {
				if h := heuristicVariant(l); !slices.Contains(candidateNames(l), h) {
					t.Errorf("tiles %s / %s: the heuristic's %s is no candidate of %+v", sct, wt, h, l)
				}
			}
		}
	}
}

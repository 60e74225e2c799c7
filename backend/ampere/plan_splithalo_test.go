package ampere

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/backend/ampere/tuning"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
)

// TestLatencyUnsplitHalo: the latency heuristic runs ResNet-34's layer3
// 3×3 convolutions (256 channels, four halo chunks, 36 K steps) on the
// halo kernel unsplit under haloUnsplit, on the running-column kernel
// split nine ways under haloSplitInc, on the halo kernel split over its
// 12 chunk rows under haloSplitRows; layer4's (the halo kernel splits its
// eight chunks) and layer2's (18 steps, 6 chunk rows: four splits at most
// either way) keep their kernel under every rule; the throughput
// heuristic never changes.
func TestLatencyUnsplitHalo(t *testing.T) {
	conv3 := func(c, hw int) *kernels.ConvShape {
		return &kernels.ConvShape{C: c, H: hw, W: hw, OH: hw, OW: hw, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}
	}
	layer2 := gemmLayer{sparse24: true, m: 784, n: 128, k: 1152, conv: conv3(128, 28)}
	layer3 := gemmLayer{sparse24: true, m: 196, n: 256, k: 2304, conv: conv3(256, 14)}
	layer3res := layer3
	layer3res.residual = true
	layer4 := gemmLayer{sparse24: true, m: 49, n: 512, k: 4608, conv: conv3(512, 7)}
	cases := []struct {
		name string
		l    gemmLayer
		want [3]string // under haloUnsplit, haloSplitInc, haloSplitRows
	}{
		{"layer2", layer2, [3]string{"s4w-v16-halo", "s4w-v16-halo", "s4w-v16-halo"}},
		{"layer3", layer3, [3]string{"s4w-v16-halo", "s4w-v16-inc-sk", "s4w-v16-halo-tr-sk"}},
		{"layer3 +res", layer3res, [3]string{"s4w-v16-halo", "s4w-v16-inc-sk", "s4w-v16-halo-tr-sk"}},
		{"layer4", layer4, [3]string{"s4w-v16-halo-sk", "s4w-v16-halo-sk", "s4w-v16-halo-sk"}},
	}
	defer func(old int) { latencyUnsplitHalo = old }(latencyUnsplitHalo)
	for rule := haloUnsplit; rule <= haloSplitRows; rule++ {
		latencyUnsplitHalo = rule
		for _, c := range cases {
			got := heuristicVariantFor(c.l, true)
			if got != c.want[rule] {
				t.Errorf("rule %d, %s: latency heuristic %s, want %s", rule, c.name, got, c.want[rule])
			}
			if !slices.ContainsFunc(tuneCandidates(c.l, 1), func(v gemmCandidate) bool { return v.name == got }) {
				t.Errorf("rule %d, %s: %s is no candidate sqc tune times at batch 1", rule, c.name, got)
			}
			if got, thr := heuristicVariantFor(c.l, false), heuristicVariant(c.l); got != thr || strings.Contains(got, "sk") {
				t.Errorf("rule %d, %s: throughput heuristic %s", rule, c.name, got)
			}
		}
	}
	if got := layer3.splitKMax(kernels.GemmConfig{ConvStep: true}); got != 9 {
		t.Errorf("layer3's running-column kernel splits at most %d ways, want 9", got)
	}
	if got := layer3.splitKMax(kernels.GemmConfig{Halo: true, HaloRows: true}); got != 9 {
		t.Errorf("layer3's halo kernel splits its chunk rows at most %d ways, want 9", got)
	}
}

// splitHaloGraph is a quantize and a 3×3 stride-1 pad-1 QConv 64 → 128 on
// 7×7 (a shape both the halo and the running-column kernel run), 2:4
// along the input channels.
func splitHaloGraph() string {
	const c, n = 64, 128
	w := make([]string, n*c*9)
	for i := range w {
		if ch := i / 9 % c; ch%4 < 2 {
			w[i] = fmt.Sprint(i%7 - 3)
		} else {
			w[i] = "0"
		}
	}
	list := func(v string, k int) string { return strings.TrimSuffix(strings.Repeat(v+", ", k), ", ") }
	return fmt.Sprintf(`graph "g" (%%x: f32[N,%[1]d,7,7]) -> (%%y) {
  const %%sc: f32[] = [0.05]
  const %%zp: i8[] = [3]
  const %%w: i8[%[2]d,%[1]d,3,3] quant(axis=0, scale=[%[3]s], zp=[%[4]s]) = [%[5]s]
  const %%m: f32[%[2]d] = [%[6]s]
  const %%b: i32[%[2]d] = [%[4]s]
  %%q: i8[N,%[1]d,7,7] quant(scale=[0.05], zp=[3]) = QuantizeLinear "q" (%%x, %%sc, %%zp)
  %%y: i8[N,%[2]d,7,7] quant(scale=[0.1], zp=[-2]) = QConv "conv" (%%q, %%w, %%m, %%b) {activation = "relu", kernel_shape = [3, 3], pads = [1, 1, 1, 1], strides = [1, 1]}
}`, c, n, list("0.5", n), list("0", n), strings.Join(w, ", "), list("0.25", n))
}

// TestPlanLatencyUnsplitHalo plans a one-chunk 3×3 convolution for
// --opt-batch 1 with the split floors lowered (one K step a split, two
// splits; the halo kernel then still cannot split its one chunk, the
// running-column kernel splits its nine steps, HaloRows its three rows):
// the halo kernel unsplit under haloUnsplit; under haloSplitInc the
// running-column kernel with split-K, under haloSplitRows the halo
// kernel split over its rows, each launch carrying the splits' bound and
// the slice size. (Both kernels compute the same bits:
// TestSplitKSimulated in the PTX interpreter, TestSplitKBitExact on the
// GPU.)
func TestPlanLatencyUnsplitHalo(t *testing.T) {
	g, err := sqir.ParseAndVerify("g", []byte(splitHaloGraph()))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range g.Constants() {
		if v.Name == "w" {
			v.Sparsity = &ir.Sparsity{N: 2, M: 4, Axis: 1}
		}
	}
	oldSteps, oldSplits, oldRule := minSplitSteps, minSplits, latencyUnsplitHalo
	minSplitSteps, minSplits = 1, 2
	t.Cleanup(func() { minSplitSteps, minSplits, latencyUnsplitHalo = oldSteps, oldSplits, oldRule })
	opts := PlanOptions{OptBatch: 1}
	latencyUnsplitHalo = haloUnsplit
	off, err := PlanWith(g, "test", opts)
	if err != nil {
		t.Fatal(err)
	}
	if s := findStep(t, off, "conv", "sqc_gemm_halo_s8_sp24_i8_v16_s4w"); s.MaxSplitK != 0 || strings.HasSuffix(s.Kernel, "_sk") {
		t.Errorf("haloUnsplit: %s with max split %d, want the halo kernel unsplit", s.Kernel, s.MaxSplitK)
	}
	for _, c := range []struct {
		rule            int
		kernel, variant string
		maxSplit        uint32
		cfg             kernels.GemmConfig
	}{
		{haloSplitInc, "sqc_gemm_conv_s8_sp24_i8_inc_v16_s4w_sk", "s4w-v16-inc-sk", 9, kernels.GemmConfig{ConvStep: true}},
		{haloSplitRows, "sqc_gemm_halo_s8_sp24_i8_v16_s4w_tr_sk", "s4w-v16-halo-tr-sk", 3, kernels.GemmConfig{Halo: true, HaloRows: true}},
	} {
		latencyUnsplitHalo = c.rule
		e, err := PlanWith(g, "test", opts)
		if err != nil {
			t.Fatal(err)
		}
		s := findStep(t, e, "conv", c.kernel)
		cfg := c.cfg
		cfg.Sparse, cfg.Conv, cfg.Stages, cfg.SharedWeights, cfg.StoreVec, cfg.SplitK = true, true, 4, true, true, true
		if s.Kernel != c.kernel || s.MaxSplitK != c.maxSplit || s.SplitKSliceBytes != uint32(cfg.SplitKSliceBytes()) || s.Variant != c.variant || s.VariantSource != SourceHeuristic {
			t.Errorf("rule %d: %s (%s, %s), max split %d, slice %d bytes; want %s (%s), %d, %d", c.rule, s.Kernel, s.Variant, s.VariantSource, s.MaxSplitK, s.SplitKSliceBytes,
				c.kernel, c.variant, c.maxSplit, cfg.SplitKSliceBytes())
		}
	}
}

// TestTuneSplitKCandidates: at batch 1 sqc tune times each variant's
// split-K twins where K divides into minSplits splits (layer3's running
// column: yes; its halo kernel's four chunks: no, their 12 kernel rows:
// yes, but not on the wide halo tile, which split-K spills; layer4's halo
// kernel: yes), at batch 256 none; a tuning run whose fake timer makes a split
// kernel fastest writes it to the cache, and the engine planned from
// the cache runs it with its splits' bound.
func TestTuneSplitKCandidates(t *testing.T) {
	conv3 := func(c, hw int) *kernels.ConvShape {
		return &kernels.ConvShape{C: c, H: hw, W: hw, OH: hw, OW: hw, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}
	}
	names := func(cs []gemmCandidate) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.name)
		}
		return out
	}
	layer3 := gemmLayer{sparse24: true, m: 196, n: 256, k: 2304, conv: conv3(256, 14)}
	layer4 := gemmLayer{sparse24: true, m: 49, n: 512, k: 4608, conv: conv3(512, 7)}
	for _, c := range []struct {
		l        gemmLayer
		has, not []string
	}{
		{layer3, []string{"s4w-v16-inc-sk", "s4w-v16-halo", "n128-m32-s3w-lc-k128-v16-inc-sk", "s4w-v16-halo-tr-sk", "s4w-halo-tr-sk"},
			[]string{"s4w-v16-halo-sk", "n128-s3w-v16-halo-tr-sk", "s4w-v16-inc-tr-sk"}},
		{layer4, []string{"s4w-v16-halo-sk", "s4w-v16-inc-sk", "s4w-v16-halo-tr-sk"}, nil},
	} {
		got := names(tuneCandidates(c.l, 1))
		if n := len(gemmCandidates(c.l)); len(got) <= n {
			t.Errorf("%+v: %d candidates at batch 1, no split-K twin among them", c.l, len(got))
		}
		for _, h := range c.has {
			if !slices.Contains(got, h) {
				t.Errorf("%+v at batch 1: no candidate %s in %v", c.l, h, got)
			}
		}
		for _, h := range c.not {
			if slices.Contains(got, h) {
				t.Errorf("%+v at batch 1: candidate %s, which cannot split minSplits ways", c.l, h)
			}
		}
		for _, v := range tuneCandidates(c.l, 256) {
			if strings.HasSuffix(v.name, "-sk") {
				t.Errorf("%+v at batch 256: split-K candidate %s", c.l, v.name)
			}
		}
	}

	g, err := sqir.ParseAndVerify("g", []byte(splitHaloGraph()))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range g.Constants() {
		if v.Name == "w" {
			v.Sparsity = &ir.Sparsity{N: 2, M: 4, Axis: 1}
		}
	}
	oldSteps, oldSplits := minSplitSteps, minSplits
	minSplitSteps, minSplits = 1, 2
	t.Cleanup(func() { minSplitSteps, minSplits = oldSteps, oldSplits })
	lines, err := TuneCandidates(g, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "conv: sparse/s4w-v16-halo (heuristic) ") || !strings.Contains(lines[0], " sparse/s4w-v16-inc-sk ") {
		t.Errorf("candidates at batch 1: %q, want the latency heuristic first and the split running-column kernel", lines)
	}
	if lines, _ := TuneCandidates(g, 256); len(lines) != 1 || strings.Contains(lines[0], "-sk") {
		t.Errorf("candidates at batch 256: %q, want no split-K kernel", lines)
	}
	tu, err := newTuner(g, TuneOptions{Batch: 1, Iters: 1})
	if err != nil {
		t.Fatal(err)
	}
	res, err := tu.run("Fake GPU", func(e *engine.Engine) ([]float64, error) {
		ms := make([]float64, len(e.Steps))
		for i, s := range e.Steps {
			ms[i] = 0.010
			if s.Kernel == "sqc_gemm_conv_s8_sp24_i8_inc_v16_s4w_sk" {
				ms[i] = 0.005
			}
		}
		return ms, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := tuning.Choice{Sparse: true, Variant: "s4w-v16-inc-sk"}
	if len(res.Layers) != 1 || res.Layers[0].Entry.Use != want {
		t.Fatalf("tuned %+v, want %s chosen", res.Layers, want)
	}
	cache := tuning.New("fake")
	if err := cache.Put(res.Layers[0].Entry); err != nil {
		t.Fatal(err)
	}
	e, err := PlanWith(g, "test", PlanOptions{Tuning: cache, GPU: "Fake GPU", Batch: 1})
	if err != nil {
		t.Fatal(err)
	}
	if s := findStep(t, e, "conv", "sqc_gemm_conv_s8_sp24_i8_inc_v16_s4w_sk"); s.MaxSplitK != 9 || s.VariantSource != SourceCache {
		t.Errorf("planned from the cache: %s, max split %d, from %s", s.Kernel, s.MaxSplitK, s.VariantSource)
	}
}

// TestLatencyStemPixels: the stem's vector quantize (space-to-depth 2,
// pad-channels to 16, an even output width) runs two pixels a thread for
// throughput, and for --opt-batch 1 two or one as latencyStemPixels says.
func TestLatencyStemPixels(t *testing.T) {
	const text = `graph "stem" (%x: f32[N,3,16,12]) -> (%p) {
  const %sc: f32[] = [0.05]
  const %zp: i8[] = [-5]
  const %pads: i64[8] = [0, 0, 0, 0, 0, 4, 0, 0]
  %q: i8[N,3,16,12] quant(scale=[0.05], zp=[-5]) = QuantizeLinear "q" (%x, %sc, %zp)
  %s2d: i8[N,12,8,6] quant(scale=[0.05], zp=[-5]) = SpaceToDepth "s2d" (%q) {blocksize = 2}
  %p: i8[N,16,8,6] quant(scale=[0.05], zp=[-5]) = Pad "pad" (%s2d, %pads, %zp)
}`
	g, err := sqir.ParseAndVerify("stem", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	defer func(old int) { latencyStemPixels = old }(latencyStemPixels)
	for _, c := range []struct {
		optBatch, rule int
		kernel         string
		threads        uint64
	}{
		{0, 1, kernels.QuantizePixelVecKernel(16, 3, 2, 2), 24},
		{1, 2, kernels.QuantizePixelVecKernel(16, 3, 2, 2), 24},
		{1, 1, kernels.QuantizePixelVecKernel(16, 3, 2, 1), 48},
	} {
		latencyStemPixels = c.rule
		e, err := PlanWith(g, "test", PlanOptions{OptBatch: c.optBatch})
		if err != nil {
			t.Fatal(err)
		}
		if s := findStep(t, e, "q", "sqc_quantize_px16"); s.Kernel != c.kernel || s.WorkPerSample != c.threads {
			t.Errorf("opt-batch %d, rule %d: %s over %d threads a sample, want %s over %d", c.optBatch, c.rule, s.Kernel, s.WorkPerSample, c.kernel, c.threads)
		}
	}
}

// TestLayer3Caches: the two hand-written tuning caches that put ResNet-34's
// layer3 on a split kernel (bench/gpu/rn34-layer3-*.cache, for the GPU
// measurement) parse, key layer3's two shapes as the planner does (int8
// out, with and without the residual), and name a candidate the planner
// can run there at batch 1.
func TestLayer3Caches(t *testing.T) {
	conv := &kernels.ConvShape{C: 256, H: 14, W: 14, OH: 14, OW: 14, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}
	geometry := tuning.ConvGeometry(256, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1)
	for _, v := range []string{"inc-sk", "halo-tr-sk"} {
		path := filepath.Join("..", "..", "bench", "gpu", "rn34-layer3-"+v+".cache")
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		c, err := tuning.Parse(path, f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		gpus := c.GPUs()
		if len(gpus) != 1 {
			t.Fatalf("%s: GPUs %v, want one", path, gpus)
		}
		for _, res := range []bool{false, true} {
			l := gemmLayer{sparse24: true, residual: res, m: 196, n: 256, k: 2304, conv: conv, geometry: geometry}
			e, ok := c.Lookup(tuning.Key{GPU: gpus[0], Batch: 1, Layer: l.tuningLayer()})
			if !ok {
				t.Errorf("%s: no entry for %+v", path, l.tuningLayer())
				continue
			}
			want := tuning.Choice{Sparse: true, Variant: "s4w-v16-" + v}
			if e.Use != want || !slices.ContainsFunc(tuneCandidates(l, 1), func(c gemmCandidate) bool { return c.name == e.Use.Variant }) {
				t.Errorf("%s: layer3 (residual %v) uses %s, want %s among the candidates at batch 1", path, res, e.Use, want)
			}
		}
	}
}

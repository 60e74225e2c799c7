package ampere

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/backend/ampere/tuning"
)

// TestSplitKFor pins the runtime's rule: no split where the grid fills
// the SMs, else as many splits as fill them once, at most the step's
// max_split_k, and none where that is fewer than minSplits.
func TestSplitKFor(t *testing.T) {
	for _, c := range []struct{ blocks, sms, max, want int }{
		{4, 132, 16, 16},  // layer4 at batch 1: 4 tiles, 33 fit, 16 allowed
		{4, 132, 9, 9},    // a layer of 9 K units: max_split_k 9
		{16, 132, 16, 8},  // 132/16 = 8
		{50, 132, 16, 1},  // 132/50 = 2: fewer than minSplits, not worth the fix-up
		{30, 132, 16, 1},  // 132/30 = 4: likewise
		{16, 132, 7, 1},   // 7 allowed: likewise
		{67, 132, 16, 1},  // 132/67 = 1: no room for a second split
		{132, 132, 16, 1}, // a full wave
		{400, 132, 16, 1}, // several waves
		{4, 132, 1, 1},    // a step that cannot split
		{4, 132, 0, 1},    // not a split-K step
		{1, 108, 16, 16},  // A100
	} {
		if got := SplitKFor(c.blocks, c.sms, c.max); got != c.want {
			t.Errorf("SplitKFor(%d blocks, %d SMs, max %d) = %d, want %d", c.blocks, c.sms, c.max, got, c.want)
		}
	}
}

// splitEveryStep lets split-K take splits of one K step for the rest of
// the test, so that testdata's mini ResNet (3–5 K steps a layer) plans
// split-K steps.
func splitEveryStep(t *testing.T) {
	oldSteps, oldSplits := minSplitSteps, minSplits
	minSplitSteps, minSplits = 1, 2
	t.Cleanup(func() { minSplitSteps, minSplits = oldSteps, oldSplits })
}

// TestSplitKMax: the most splits a layer gets, on ResNet-34's layers at
// the latency heuristic's kernels: at least four K steps a split, at most
// the K units (a halo conv's 64-channel chunks) and MaxSplitK.
func TestSplitKMax(t *testing.T) {
	s4w := kernels.GemmConfig{Stages: 4, SharedWeights: true}
	halo := s4w
	halo.Conv, halo.Halo = true, true
	for _, c := range []struct {
		name string
		c, k int
		cfg  kernels.GemmConfig
		want int
	}{
		{"layer1 3x3 64 (9 steps)", 64, 576, s4w, 2},
		{"layer3.0.conv1 3x3 128 s2 (18 steps)", 128, 1152, s4w, 4},
		{"layer4.0.conv1 3x3 256 s2 (36 steps)", 256, 2304, s4w, 9},
		{"layer3 halo 256 (4 chunks)", 256, 2304, halo, 4},
		{"layer4 halo 512 (8 chunks)", 512, 4608, halo, 8},
		{"classifier 512 (8 steps)", 0, 512, s4w, 2},
		{"downsample 1x1 128 (2 steps)", 128, 128, s4w, 1},
		{"a 1x1 of 4096 (64 steps)", 4096, 4096, s4w, MaxSplitK},
	} {
		l := gemmLayer{k: c.k}
		if c.c > 0 {
			l.conv = &kernels.ConvShape{C: c.c}
		}
		if got := l.splitKMax(c.cfg); got != c.want {
			t.Errorf("%s: splitKMax = %d, want %d", c.name, got, c.want)
		}
		if got := SplitKMaxFor(c.cfg, c.k, c.c); got != c.want {
			t.Errorf("%s: SplitKMaxFor = %d, want %d", c.name, got, c.want)
		}
	}
}

// TestPlanSplitK: the latency heuristic (--opt-batch 1) plans split-K
// kernels with max_split_k = splitKMax (K units, four K steps a split, 16), the workspace and counter
// arguments last, deterministically; the throughput plan has none.
func TestPlanSplitK(t *testing.T) {
	splitEveryStep(t)
	e, pl := miniPlan(t, PlanOptions{OptBatch: 1})
	split := 0
	for i, s := range e.Steps {
		if !strings.HasPrefix(s.Kernel, "sqc_gemm") {
			if s.MaxSplitK != 0 {
				t.Errorf("%s (%s): max_split_k %d on a kernel that does not split", s.Node, s.Kernel, s.MaxSplitK)
			}
			continue
		}
		var g *plannedGemm
		for j := range pl.gemms {
			if pl.gemms[j].node == s.Node {
				g = &pl.gemms[j]
			}
		}
		if g == nil {
			t.Fatalf("step %d (%s): no planned GEMM", i, s.Node)
		}
		cfg := g.choice.variant.config(g.layer, g.choice.sparse)
		units := g.layer.splitKMax(cfg)
		if sk := strings.HasSuffix(s.Kernel, "_sk"); sk != (units >= 2) || sk != strings.HasSuffix(s.Variant, "-sk") {
			t.Errorf("%s: kernel %s, variant %s, %d splits at most: want split-K exactly where there are 2 or more", s.Node, s.Kernel, s.Variant, units)
		}
		if !cfg.SplitK {
			if s.MaxSplitK != 0 || s.SplitKSliceBytes != 0 {
				t.Errorf("%s: unsplit kernel with max_split_k %d, slice %d", s.Node, s.MaxSplitK, s.SplitKSliceBytes)
			}
			continue
		}
		split++
		if want := uint32(units); s.MaxSplitK != want {
			t.Errorf("%s: max_split_k %d, want %d", s.Node, s.MaxSplitK, want)
		}
		if s.SplitKSliceBytes != uint32(cfg.SplitKSliceBytes()) || s.SplitKSliceBytes == 0 {
			t.Errorf("%s: slice of %d bytes, want %d", s.Node, s.SplitKSliceBytes, cfg.SplitKSliceBytes())
		}
		n := len(s.Args)
		if n != len(cfg.ParamNames()) || n < 2 || s.Args[n-2].GetRuntime() != SplitKWorkspace || s.Args[n-1].GetRuntime() != SplitKCounters {
			t.Errorf("%s: %d arguments for %d parameters, want the workspace and counters last", s.Node, n, len(cfg.ParamNames()))
		}
	}
	if split == 0 {
		t.Fatal("the latency plan of the mini ResNet has no split-K step")
	}
	again, _ := miniPlan(t, PlanOptions{OptBatch: 1})
	if !bytes.Equal(marshal(t, e), marshal(t, again)) {
		t.Error("planning twice gives different engines")
	}
	thr, _ := miniPlan(t, PlanOptions{})
	for _, s := range thr.Steps {
		if s.MaxSplitK != 0 || strings.HasSuffix(s.Kernel, "_sk") {
			t.Errorf("throughput plan: %s runs %s with max_split_k %d", s.Node, s.Kernel, s.MaxSplitK)
		}
		for _, a := range s.Args {
			if _, ok := a.V.(*engine.Arg_Runtime); ok {
				t.Errorf("throughput plan: %s takes a runtime buffer", s.Node)
			}
		}
	}
}

// TestPlanCacheSplitK: a tuning cache may choose a split-K variant (the
// latency plan's, named in the cache) for a throughput build, and the
// step then splits; split-K does not fit a GEMM of one K step (chooseGemm
// then finds no such candidate).
func TestPlanCacheSplitK(t *testing.T) {
	splitEveryStep(t)
	_, lat := miniPlan(t, PlanOptions{OptBatch: 1})
	const gpu = "Test GPU"
	cache := cacheFor(t, lat, gpu, 1, func(g plannedGemm) (tuning.Choice, bool) { return tuning.Choice{}, false })
	e, _ := miniPlan(t, PlanOptions{Tuning: cache, GPU: gpu, Batch: 1, Warn: func(m string) { t.Errorf("warning: %s", m) }})
	split := 0
	for _, s := range e.Steps {
		if strings.HasSuffix(s.Variant, "-sk") {
			split++
			if s.VariantSource != SourceCache || !strings.HasSuffix(s.Kernel, "_sk") || s.MaxSplitK < 2 {
				t.Errorf("%s: variant %s from %s, kernel %s, max_split_k %d", s.Node, s.Variant, s.VariantSource, s.Kernel, s.MaxSplitK)
			}
		}
	}
	if split == 0 {
		t.Fatal("no step took the cache's split-K variant")
	}
	one := gemmLayer{m: 196, n: 64, k: 64}
	if _, ok := func() (gemmCandidate, bool) {
		for _, c := range gemmCandidates(one) {
			if c.name == "s4w" {
				v := gemmCandidate{name: "s4w-sk", set: append(c.set[:len(c.set):len(c.set)], splitK.set)}
				return v, one.splitKFits(v)
			}
		}
		return gemmCandidate{}, false
	}(); ok {
		t.Error("split-K fits a GEMM of one K step")
	}
}

// TestRuntimeSplits: at batch 1 the latency engine's split-K steps split
// (within max_split_k and one wave of 132 SMs), at batch 256 none does,
// nor with split-K off; the workspace holds the largest split step's
// slices and the counters the most tiles.
func TestRuntimeSplits(t *testing.T) {
	splitEveryStep(t)
	e, _ := miniPlan(t, PlanOptions{OptBatch: 1})
	const sms = 132
	for _, tc := range []struct {
		batch  int
		splitK bool
	}{{1, true}, {2, true}, {256, true}, {1, false}} {
		r := &Runtime{e: e, Batch: tc.batch, sms: sms, splitK: tc.splitK}
		split, wantWS, wantCnt := 0, 0, 0
		for _, s := range e.Steps {
			sp, tiles := r.splits(s)
			if s.MaxSplitK == 0 {
				if sp != 1 {
					t.Errorf("batch %d: %s (%s) splits %d ways without max_split_k", tc.batch, s.Node, s.Kernel, sp)
				}
				continue
			}
			wantCnt = max(wantCnt, tiles)
			if sp > 1 {
				split++
				wantWS = max(wantWS, tiles*int(s.SplitKSliceBytes))
			}
			if sp < 1 || sp > int(s.MaxSplitK) || sp > 1 && tiles*sp > sms {
				t.Errorf("batch %d: %s: %d splits of %d tiles, max_split_k %d", tc.batch, s.Node, sp, tiles, s.MaxSplitK)
			}
			if sp > 1 && !tc.splitK {
				t.Errorf("batch %d with split-K off: %s splits %d ways", tc.batch, s.Node, sp)
			}
		}
		if want := tc.splitK && tc.batch <= 2; (split > 0) != want {
			t.Errorf("batch %d, split-K %v: %d steps split", tc.batch, tc.splitK, split)
		}
		if ws, cnt := r.splitKSizes(); ws != wantWS || cnt != wantCnt || cnt == 0 {
			t.Errorf("batch %d: workspace %d bytes, %d counters; want %d, %d", tc.batch, ws, cnt, wantWS, wantCnt)
		}
	}
}

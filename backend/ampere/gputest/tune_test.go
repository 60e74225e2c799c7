package gputest

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/backend/ampere/tuning"
	"github.com/sqc-project/sqc/ir/sqir"
)

var miniGraph = flag.String("mini", "../testdata/resnet-mini-int8.sqir", "the example's lowered graph, for TestTuneResNetMini (relative to the test's directory: from the repository root, backend/ampere/testdata/resnet-mini-int8.sqir)")

// TestTuneResNetMini tunes the example's engine at batch 8: every layer
// shape gets an entry that lists every candidate timed and chooses the
// fastest; the engine planned with that cache takes every GEMM kernel from
// it and gives the reference executor's bits.
func TestTuneResNetMini(t *testing.T) {
	needGPU(t)
	src, err := os.ReadFile(*miniGraph)
	if err != nil {
		t.Fatal(err)
	}
	g, err := sqir.ParseAndVerify("mini", src)
	if err != nil {
		t.Fatal(err)
	}
	cands, err := ampere.TuneCandidates(g, 8)
	if err != nil {
		t.Fatal(err)
	}
	perNode := map[string]int{}
	for _, line := range cands {
		node, list, _ := strings.Cut(line, ": ")
		perNode[node] = len(strings.Fields(strings.ReplaceAll(list, " (heuristic)", "")))
	}
	res, err := ampere.Tune(g, ampere.TuneOptions{Batch: 8, Iters: 5, Warmup: 1, Log: func(m string) { t.Log(m) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.GPU == "" || len(res.Layers) != 7 {
		t.Fatalf("GPU %q, %d layer shapes, want a name and 7", res.GPU, len(res.Layers))
	}
	cache := tuning.New("mini.cache")
	for _, l := range res.Layers {
		e := l.Entry
		if len(e.Times) != perNode[l.Nodes[0]] {
			t.Errorf("%s: %d candidates timed, want %d", l.Nodes[0], len(e.Times), perNode[l.Nodes[0]])
		}
		for _, tm := range e.Times {
			if tm.Us < timeOfChoice(e, e.Use) {
				t.Errorf("%s: chose %s (%.1f µs) over %s (%.1f µs)", l.Nodes[0], e.Use, timeOfChoice(e, e.Use), tm.Choice, tm.Us)
			}
		}
		if err := cache.Put(e); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("tuned on %s at batch 8:\n%s", res.GPU, cacheText(t, cache))
	e, err := ampere.PlanWith(g, "test", ampere.PlanOptions{Tuning: cache, GPU: res.GPU, Batch: 8})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range e.Steps {
		if strings.HasPrefix(s.Kernel, "sqc_gemm") && s.VariantSource != ampere.SourceCache {
			t.Errorf("%s: %s from %s, want the cache", s.Node, s.Kernel, s.VariantSource)
		}
	}
	for _, batch := range []int{1, 3} {
		x := ampere.RandomInputs(g, batch)
		want, err := ampere.RunCPU(e, x)
		if err != nil {
			t.Fatal(err)
		}
		rt, err := ampere.Open(e, batch)
		if err != nil {
			t.Fatal(err)
		}
		got, err := rt.Run(x)
		rt.Close()
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			checkOutput(t, "tuned mini", i, batch, got[i], want[i], false)
		}
	}
}

func timeOfChoice(e tuning.Entry, c tuning.Choice) float64 {
	for _, t := range e.Times {
		if t.Choice == c {
			return t.Us
		}
	}
	return -1
}

func cacheText(t *testing.T, c *tuning.Cache) string {
	var b strings.Builder
	if err := c.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

package main

import (
	"testing"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/backend/ampere/tuning"
)

// TestSmallBatchPlanOptions: compile gives an engine planned for
// throughput the small-batch plan, which takes a cache's entries at its
// largest batch up to the plan's own for the engine's GPU, and nothing
// else gets one.
func TestSmallBatchPlanOptions(t *testing.T) {
	c := tuning.New("t.cache")
	for _, k := range []struct {
		gpu   string
		batch int
	}{{"H100", 1}, {"H100", 4}, {"H100", 16}, {"H100", 256}, {"H200", 8}} {
		d := tuning.Choice{Variant: "s4w"}
		if err := c.Put(tuning.Entry{Key: tuning.Key{GPU: k.gpu, Batch: k.batch, Layer: tuning.Layer{M: 1, N: 16, K: 64, Out: "f32"}}, Use: d, Times: []tuning.Timing{{Choice: d, Us: 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	on := &tuningFlags{smallBatchPlan: true}
	if o := on.withSmallBatchPlan("engine", ampere.PlanOptions{}, nil, ""); o.SmallBatch == nil || o.SmallBatch.OptBatch != ampere.LatencyBatch || o.SmallBatch.Tuning != nil {
		t.Errorf("no cache: small plan %+v, want the latency heuristic for batches up to %d", o.SmallBatch, ampere.LatencyBatch)
	}
	o := on.withSmallBatchPlan("engine", ampere.PlanOptions{Tuning: c, GPU: "H100", Batch: 256}, c, "H100")
	if s := o.SmallBatch; s == nil || s.Tuning != c || s.GPU != "H100" || s.Batch != 4 {
		t.Errorf("cache: small plan %+v, want the H100 entries at batch 4", s)
	}
	if o := on.withSmallBatchPlan("engine", ampere.PlanOptions{}, c, "H200"); o.SmallBatch == nil || o.SmallBatch.Batch != 8 {
		t.Errorf("cache for the H200: small plan %+v, want its batch-8 entries", o.SmallBatch)
	}
	for _, c := range []struct {
		flags *tuningFlags
		form  string
	}{{&tuningFlags{}, "engine"}, {&tuningFlags{smallBatchPlan: true, optBatch: 1}, "engine"}, {&tuningFlags{smallBatchPlan: true, optBatch: 256}, "engine"}, {on, "sqir"}} {
		if o := c.flags.withSmallBatchPlan(c.form, ampere.PlanOptions{}, nil, ""); o.SmallBatch != nil {
			t.Errorf("%+v, %s: a small-batch plan, want none", c.flags, c.form)
		}
	}
}

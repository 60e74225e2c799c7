package ampere

import (
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
)

// TestSmallBatchPlan plans a 2:4 3×3 convolution of 128 channels with the
// small-batch plan: the engine's own steps are the throughput
// heuristic's, its one plan (batches up to LatencyBatch) the latency
// heuristic's, the kernel list the union, and both plans compute the
// reference's bits. Planned alone, each is what PlanWith gives without
// the other (the plans do not leak into each other).
func TestSmallBatchPlan(t *testing.T) {
	g, err := sqir.ParseAndVerify("g", []byte(splitHaloGraph()))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range g.Constants() {
		if v.Name == "w" {
			v.Sparsity = &ir.Sparsity{N: 2, M: 4, Axis: 1}
		}
	}
	var warnings []string
	e, err := PlanWith(g, "test", PlanOptions{SmallBatch: DefaultSmallBatchPlan(), Warn: func(m string) { warnings = append(warnings, m) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}
	if len(e.Plans) != 1 || e.Plans[0].MaxBatch != LatencyBatch {
		t.Fatalf("%d plans (%v), want one for batches up to %d", len(e.Plans), e.Plans, LatencyBatch)
	}
	throughput, err := PlanWith(g, "test", PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	latency, err := PlanWith(g, "test", PlanOptions{OptBatch: LatencyBatch})
	if err != nil {
		t.Fatal(err)
	}
	if !equalMessages(e.Steps, throughput.Steps) {
		t.Error("the engine's own steps are not the throughput plan's")
	}
	if !equalMessages(e.Plans[0].Steps, latency.Steps) {
		t.Error("the small-batch plan's steps are not the latency plan's")
	}
	if !equalMessages(engine.ForBatch(e, 1).Kernels, latency.Kernels) || !equalMessages(engine.ForBatch(e, LatencyBatch+1).Kernels, throughput.Kernels) {
		t.Error("ForBatch's kernels are not the plan's own")
	}
	conv := func(e *engine.Engine) string { return findStep(t, e, "conv", "").Kernel }
	if a, b := conv(engine.ForBatch(e, 1)), conv(engine.ForBatch(e, 256)); a == b || !strings.Contains(a, "halo") {
		t.Errorf("conv: %s at batch 1 and %s at 256, want the latency heuristic's halo kernel and another", a, b)
	}
	for _, batch := range []int{1, 3, LatencyBatch + 1} {
		simulateEqualsRef(t, g, engine.ForBatch(e, batch), batch, 31, 32)
	}
	// The file: both plans, written and read back.
	back, err := engine.Unmarshal(marshal(t, e))
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Plans) != 1 || !equalMessages(back.Plans[0].Steps, latency.Steps) {
		t.Error("the plan did not survive the file")
	}
}

// TestSmallBatchPlanOnlyWhereItDiffers: the mini ResNet's layers are too
// narrow for the heuristics to differ, so its engine keeps one plan, byte
// for byte the engine planned without one.
func TestSmallBatchPlanOnlyWhereItDiffers(t *testing.T) {
	with, err := PlanWith(loadMini(t), "test", PlanOptions{SmallBatch: DefaultSmallBatchPlan()})
	if err != nil {
		t.Fatal(err)
	}
	without, _ := miniPlan(t, PlanOptions{})
	if string(marshal(t, with)) != string(marshal(t, without)) {
		t.Errorf("with the small-batch plan: %d plans; want the engine planned without it", len(with.Plans))
	}
}

// TestPlanConflict: the plans must agree on what the file holds once.
func TestPlanConflict(t *testing.T) {
	a, _ := miniPlan(t, PlanOptions{})
	for _, c := range []struct {
		change func(e *engine.Engine)
		want   string
	}{
		{func(e *engine.Engine) {}, ""},
		{func(e *engine.Engine) { e.Graph += " " }, "lowered graph differs"},
		{func(e *engine.Engine) { e.Buffers[0].ElemsPerSample++ }, "buffers differ"},
		{func(e *engine.Engine) { e.Weights[0].Data[0]++ }, "packed weights differ"},
		{func(e *engine.Engine) { e.Outputs = append(e.Outputs, "x") }, "inputs or outputs differ"},
		{func(e *engine.Engine) { e.Kernels[0].Ptx += "\n" }, "kernel " + a.Kernels[0].Name + " differs"},
	} {
		b, _ := miniPlan(t, PlanOptions{})
		c.change(b)
		if got := planConflict(a, b); got != c.want {
			t.Errorf("planConflict %q, want %q", got, c.want)
		}
	}
}

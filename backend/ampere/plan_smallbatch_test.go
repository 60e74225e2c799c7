package ampere

import (
	"fmt"
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

// TestPlanConflict: the plans must agree on what the file holds once
// (the weights: TestMergeWeights).
func TestPlanConflict(t *testing.T) {
	a, _ := miniPlan(t, PlanOptions{})
	for _, c := range []struct {
		change func(e *engine.Engine)
		want   string
	}{
		{func(e *engine.Engine) {}, ""},
		{func(e *engine.Engine) { e.Graph += " " }, "lowered graph differs"},
		{func(e *engine.Engine) { e.Buffers[0].ElemsPerSample++ }, "buffers differ"},
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

// TestMergeWeights: equal weights are shared, a weight packed for a wider
// tile (the other's data and zero tiles after it) serves both plans, and
// anything else is a conflict.
func TestMergeWeights(t *testing.T) {
	w := func(name, kind string, data ...byte) *engine.Weight {
		return &engine.Weight{Name: name, Kind: kind, Data: data}
	}
	a := []*engine.Weight{w("c/w", "dense", 1, 2, 0, 0), w("c/b", "bias", 5, 6), w("f", "f32", 7)}
	b := []*engine.Weight{w("c/w", "dense", 1, 2), w("c/b", "bias", 5, 6, 0, 0), w("f", "f32", 7)}
	m, why := mergeWeights(a, b)
	if why != "" || len(m) != 3 || len(m[0].Data) != 4 || len(m[1].Data) != 4 || m[2] != a[2] {
		t.Errorf("merge: %v, %q; want the longer packing of each and the shared f32 weight", m, why)
	}
	for _, c := range []struct {
		b    []*engine.Weight
		want string
	}{
		{[]*engine.Weight{w("c/w", "dense", 1, 3), a[1], a[2]}, "packed weight c/w differs"},
		{[]*engine.Weight{w("c/w", "sparse24", 1, 2, 0, 0), a[1], a[2]}, "packed weight c/w (sparse24) differs from c/w (dense)"},
		{a[:2], "packed weights differ (2 against 3)"},
	} {
		if _, why := mergeWeights(a, c.b); why != c.want {
			t.Errorf("mergeWeights: %q, want %q", why, c.want)
		}
	}
}

// qconvGraph is a quantize and one int8 convolution of c to n channels on
// hw×hw images with a k×k kernel (pad k/2), its weight 2:4 along the
// input channels.
func qconvGraph(c, n, hw, k int) string {
	w := make([]string, n*c*k*k)
	for i := range w {
		if ch := i / (k * k) % c; ch%4 < 2 {
			w[i] = fmt.Sprint(i%7 - 3)
		} else {
			w[i] = "0"
		}
	}
	list := func(v string, k int) string { return strings.TrimSuffix(strings.Repeat(v+", ", k), ", ") }
	return fmt.Sprintf(`graph "g" (%%x: f32[N,%[1]d,%[7]d,%[7]d]) -> (%%y) {
  const %%sc: f32[] = [0.05]
  const %%zp: i8[] = [3]
  const %%w: i8[%[2]d,%[1]d,%[8]d,%[8]d] quant(axis=0, scale=[%[3]s], zp=[%[4]s]) = [%[5]s]
  const %%m: f32[%[2]d] = [%[6]s]
  const %%b: i32[%[2]d] = [%[4]s]
  %%q: i8[N,%[1]d,%[7]d,%[7]d] quant(scale=[0.05], zp=[3]) = QuantizeLinear "q" (%%x, %%sc, %%zp)
  %%y: i8[N,%[2]d,%[7]d,%[7]d] quant(scale=[0.1], zp=[-2]) = QConv "conv" (%%q, %%w, %%m, %%b) {activation = "relu", kernel_shape = [%[8]d, %[8]d], pads = [%[9]d, %[9]d, %[9]d, %[9]d], strides = [1, 1]}
}`, c, n, list("0.5", n), list("0", n), strings.Join(w, ", "), list("0.25", n), hw, k, k/2)
}

// TestSmallBatchPlanWiderPacking: 160 output channels pad to 256 for the
// throughput plan's 128-channel block tile and to 192 for the latency
// plan's 64-channel one; the engine keeps the wider packing, which both
// plans read (the narrower as a prefix), and both compute the reference's
// bits, 2:4 and dense.
func TestSmallBatchPlanWiderPacking(t *testing.T) {
	for _, sparse := range []bool{true, false} {
		g, err := sqir.ParseAndVerify("g", []byte(qconvGraph(64, 160, 14, 3)))
		if err != nil {
			t.Fatal(err)
		}
		if sparse {
			for _, v := range g.Constants() {
				if v.Name == "w" {
					v.Sparsity = &ir.Sparsity{N: 2, M: 4, Axis: 1}
				}
			}
		}
		var warnings []string
		e, err := PlanWith(g, "test", PlanOptions{SmallBatch: DefaultSmallBatchPlan(), Warn: func(m string) { warnings = append(warnings, m) }})
		if err != nil {
			t.Fatal(err)
		}
		if len(warnings) > 0 || len(e.Plans) != 1 {
			t.Fatalf("sparse %v: %d plans, warnings %q; want the small-batch plan", sparse, len(e.Plans), warnings)
		}
		throughput, err := PlanWith(g, "test", PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		latency, err := PlanWith(g, "test", PlanOptions{OptBatch: LatencyBatch})
		if err != nil {
			t.Fatal(err)
		}
		size := func(e *engine.Engine) (n int) {
			for _, w := range e.Weights {
				n += len(w.Data)
			}
			return n
		}
		if size(e) != size(throughput) || size(latency) >= size(throughput) {
			t.Errorf("sparse %v: weights %d bytes, throughput plan %d, latency plan %d; want the throughput plan's wider packing", sparse, size(e), size(throughput), size(latency))
		}
		for _, batch := range []int{1, 3, LatencyBatch + 1} {
			simulateEqualsRef(t, g, engine.ForBatch(e, batch), batch, 41, 42)
		}
	}
}

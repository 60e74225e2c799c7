package ampere

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

var simEngine = flag.String("simengine", "", "an engine file (.sqe) for TestSimulateEngineFile")

// TestSimulateEngineFile runs an engine file's steps on the kernels' Go
// models (simulate) at batch 2 (a static-batch graph at its own) and
// compares every output with the reference executor on the engine's own
// graph, bit for bit: a planner
// change checked on a real model without a GPU, wherever each kernel the
// engine launches has a model. Skipped without -simengine, e.g.
//
//	go test ./backend/ampere -run TestSimulateEngineFile -simengine /tmp/swin_t-dense-int8.sqe
func TestSimulateEngineFile(t *testing.T) {
	if *simEngine == "" {
		t.Skip("no -simengine FILE")
	}
	file, err := engine.ReadFile(*simEngine)
	if err != nil {
		t.Fatal(err)
	}
	// Every plan the file holds, each at batch 2 (or the graph's static
	// batch): its own steps (the
	// plan for large batches), then each plan for small batches.
	plans := []*engine.Engine{engine.ForBatch(file, math.MaxInt32)}
	for _, p := range file.Plans {
		plans = append(plans, engine.ForBatch(file, int(p.MaxBatch)))
	}
	for i, e := range plans {
		name := "large batches"
		if i > 0 {
			name = fmt.Sprintf("batch up to %d", file.Plans[i-1].MaxBatch)
		}
		t.Run(name, func(t *testing.T) { simulateEngine(t, e) })
	}
}

// simulateEngine runs e's steps on the kernels' Go models at batch 2 (or
// the graph's static batch) against the reference executor on e's graph,
// and checks its stream plan.
func simulateEngine(t *testing.T, e *engine.Engine) {
	// The runtime's stream plan orders every two steps that touch one
	// buffer, one writing it.
	p := planStreams(e, DefaultStreams)
	checkPlan(t, e, p)
	t.Logf("%d steps on %d streams", len(e.Steps), p.streams)
	g, err := Graph(e)
	if err != nil {
		t.Fatal(err)
	}
	batch := 2
	// A static-batch graph (ShuffleNet's QDQ export: 1) runs its own.
	if len(g.Inputs) > 0 && len(g.Inputs[0].Type.Shape) > 0 && g.Inputs[0].Type.Shape[0].Known() {
		batch = int(g.Inputs[0].Type.Shape[0].Size)
	}
	ins, byName := randomGraphInputs(g, batch, rand.New(rand.NewPCG(17, 18)), 1)
	x, err := ref.New(g)
	if err != nil {
		t.Fatal(err)
	}
	// Every value the reference computes, to name the first step whose
	// output differs when an output does.
	values := map[string]*ir.Tensor{}
	want, err := x.RunObserved(ins, func(v *ir.Value, t *ir.Tensor) { values[v.Name] = t })
	if err != nil {
		t.Fatal(err)
	}
	got := simulate(t, g, e, batch, byName)
	differs := false
	defer func() {
		if differs {
			firstDifferingStep(t, g, e, batch, byName, values)
		}
	}()
	for i, v := range g.Outputs {
		if !equalBits(t, "output "+v.Name, got[v.Name], want[i]) {
			differs = true
		}
	}
	if !differs {
		t.Logf("%s: %d steps, %d outputs equal to the reference bit for bit at batch %d", *simEngine, len(e.Steps), len(g.Outputs), batch)
	}
}

// firstDifferingStep simulates e again with every step's output buffer
// that holds a graph value as an output, and reports the first step (in
// launch order) whose value differs from the reference's.
func firstDifferingStep(t *testing.T, g *ir.Graph, e *engine.Engine, batch int, inputs map[string]*ir.Tensor, values map[string]*ir.Tensor) {
	t.Helper()
	info := map[string]*engine.Buffer{}
	for _, b := range e.Buffers {
		info[b.Name] = b
	}
	var names []string
	step := map[string]string{}
	for _, s := range e.Steps {
		for _, a := range s.Args {
			b := a.GetBuffer()
			if b == "" || values[b] == nil || info[b] == nil || step[b] != "" {
				continue
			}
			if _, isInput := inputs[b]; isInput {
				continue
			}
			names = append(names, b)
			step[b] = s.Node + " (" + s.Kernel + ")"
		}
	}
	outputs := e.Outputs
	e.Outputs = names
	got := simulate(t, g, e, batch, inputs)
	e.Outputs = outputs
	for _, name := range names {
		gt, wt := got[name], values[name]
		if gt == nil || gt.Len() != wt.Len() {
			continue
		}
		if j := firstDiff(gt, wt); j >= 0 {
			t.Logf("first differing value: %s, written by %s: [%d] %v, want %v", name, step[name], j, gt.AsFloat64(j), wt.AsFloat64(j))
			return
		}
	}
	t.Logf("no step's output differs from the reference")
}

// TestSimulateResNetMini plans the mini INT8 ResNet (2:4 and dense
// implicit-GEMM convolutions, residuals, the im2col stem, the classifier)
// with the throughput heuristic and the latency one, and runs each plan on
// the kernels' Go models against the reference executor at batch 3, bit
// for bit: the planner's arguments, grids (the GEMM model computes only
// the rows the launch covers) and buffers, without a GPU. Its channels are
// too few for the halo tile; TestSimulateEngineFile takes full models.
func TestSimulateResNetMini(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts PlanOptions
	}{{"throughput", PlanOptions{}}, {"latency", PlanOptions{OptBatch: 1}}} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := miniPlan(t, tc.opts)
			simulateEqualsRef(t, loadMini(t), e, 3, 19, 20)
		})
	}
}

// sameValue reports whether two values have the same bits (NaNs of any
// payload alike).
func sameValue(g, w float64) bool {
	return math.Float64bits(g) == math.Float64bits(w) || g != g && w != w
}

// firstDiff returns the first index where got and want differ, or -1.
func firstDiff(got, want *ir.Tensor) int {
	for j := 0; j < want.Len(); j++ {
		if !sameValue(got.AsFloat64(j), want.AsFloat64(j)) {
			return j
		}
	}
	return -1
}

// equalBits reports whether got equals want bit for bit, failing the test
// with the first difference and the count where it does not.
func equalBits(t *testing.T, what string, got, want *ir.Tensor) bool {
	t.Helper()
	if got.DType != want.DType || got.Len() != want.Len() {
		t.Fatalf("%s: %v of %d, want %v of %d", what, got.DType, got.Len(), want.DType, want.Len())
	}
	first, bad := -1, 0
	for j := 0; j < want.Len(); j++ {
		if !sameValue(got.AsFloat64(j), want.AsFloat64(j)) {
			if first < 0 {
				first = j
			}
			bad++
		}
	}
	if bad == 0 {
		return true
	}
	t.Errorf("%s: %d of %d values differ, the first at [%d]: %v, want %v", what, bad, want.Len(), first, got.AsFloat64(first), want.AsFloat64(first))
	return false
}

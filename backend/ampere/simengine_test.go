package ampere

import (
	"flag"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

var simEngine = flag.String("simengine", "", "an engine file (.sqe) for TestSimulateEngineFile")

// TestSimulateEngineFile runs an engine file's steps on the kernels' Go
// models (simulate) at batch 2 and compares every output with the
// reference executor on the engine's own graph, bit for bit: a planner
// change checked on a real model without a GPU, wherever each kernel the
// engine launches has a model. Skipped without -simengine, e.g.
//
//	go test ./backend/ampere -run TestSimulateEngineFile -simengine /tmp/swin_t-dense-int8.sqe
func TestSimulateEngineFile(t *testing.T) {
	if *simEngine == "" {
		t.Skip("no -simengine FILE")
	}
	e, err := engine.ReadFile(*simEngine)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Graph(e)
	if err != nil {
		t.Fatal(err)
	}
	const batch = 2
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
		gt, wt := got[v.Name], want[i]
		if gt.DType != wt.DType || gt.Len() != wt.Len() {
			t.Fatalf("output %s: %v of %d, want %v of %d", v.Name, gt.DType, gt.Len(), wt.DType, wt.Len())
		}
		bad := 0
		for j := 0; j < wt.Len(); j++ {
			gv, wv := gt.AsFloat64(j), wt.AsFloat64(j)
			if math.Float64bits(gv) != math.Float64bits(wv) && !(gv != gv && wv != wv) {
				if bad < 3 {
					t.Errorf("output %s [%d]: %v, want %v", v.Name, j, gv, wv)
				}
				bad++
			}
		}
		if bad > 0 {
			t.Errorf("output %s: %d of %d values differ", v.Name, bad, wt.Len())
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
		for j := 0; j < wt.Len(); j++ {
			gv, wv := gt.AsFloat64(j), wt.AsFloat64(j)
			if math.Float64bits(gv) != math.Float64bits(wv) && !(gv != gv && wv != wv) {
				t.Logf("first differing value: %s, written by %s: [%d] %v, want %v", name, step[name], j, gv, wv)
				return
			}
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
			g := loadMini(t)
			e, _ := miniPlan(t, tc.opts)
			const batch = 3
			ins, byName := randomGraphInputs(g, batch, rand.New(rand.NewPCG(19, 20)), 1)
			want, err := ref.Run(g, ins...)
			if err != nil {
				t.Fatal(err)
			}
			got := simulate(t, g, e, batch, byName)
			for i, v := range g.Outputs {
				gt, wt := got[v.Name], want[i]
				if gt.Len() != wt.Len() {
					t.Fatalf("output %s: %d values, want %d", v.Name, gt.Len(), wt.Len())
				}
				for j := 0; j < wt.Len(); j++ {
					if gv, wv := gt.AsFloat64(j), wt.AsFloat64(j); math.Float64bits(gv) != math.Float64bits(wv) {
						t.Fatalf("output %s [%d]: %v, want %v", v.Name, j, gv, wv)
					}
				}
			}
		})
	}
}

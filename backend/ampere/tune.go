package ampere

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/sqc-project/sqc/backend/ampere/cuda"
	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/tuning"
	"github.com/sqc-project/sqc/ir"
)

// TuneOptions say how Tune measures.
type TuneOptions struct {
	// Batch is the batch the engine is timed at (the cache's key).
	Batch int
	// Iters and Warmup are the timed and untimed runs of each round.
	Iters, Warmup int
	// Jobs is how many kernels the driver compiles at once (0: one a CPU).
	Jobs int
	// Log, if set, receives a line a round and one for each candidate
	// that failed to load or run.
	Log func(msg string)
}

// TuneResult is what Tune measured.
type TuneResult struct {
	// GPU is the name of the GPU timed.
	GPU    string
	Layers []TunedLayer
}

// TunedLayer is one layer shape: its cache entry (the choice and every
// candidate's time), the nodes that have it and the heuristic's choice.
type TunedLayer struct {
	Entry     tuning.Entry
	Nodes     []string
	Heuristic tuning.Choice
}

// tuneLayer is one layer shape and the nodes that have it.
type tuneLayer struct {
	layer     gemmLayer
	nodes     []string
	heuristic tuning.Choice
	cands     []tuning.Choice
	// us holds each candidate's medians, one a node; failed is why a
	// candidate could not run.
	us     map[tuning.Choice][]float64
	failed map[tuning.Choice]string
}

// Tune measures, on GPU 0, every candidate kernel (tuneCandidates: the
// variants, and at batches up to LatencyBatch their split-K twins; sparse
// and dense for a 2:4 weight) of every GEMM layer of g, the lowered INT8
// graph, at opts.Batch, and returns one cache entry a layer shape, choosing
// the fastest. At those batches the heuristic it compares against is the
// latency one (sqc compile --opt-batch).
//
// It times the candidates in place, in the whole engine: round r plans
// g with each layer shape's r-th candidate (the heuristic's choice for
// shapes with fewer), runs it on random inputs with an event around every
// launch (ProfileSteps), and keeps each GEMM step's median. So a layer is
// timed with the L2 cache as the engine leaves it, on its real weights,
// and each round's outputs must be the heuristic engine's, bit for bit.
// Layers of one shape share a choice: their times are averaged. A round
// that fails to load or run is retried one layer shape at a time, and a
// candidate that fails alone is left out of the cache with its error
// logged.
func Tune(g *ir.Graph, opts TuneOptions) (*TuneResult, error) {
	if opts.Batch <= 0 || opts.Iters <= 0 || opts.Warmup < 0 {
		return nil, fmt.Errorf("tune: batch %d, %d iterations after %d warm-up: want batch and iterations > 0", opts.Batch, opts.Iters, opts.Warmup)
	}
	t, err := newTuner(g, opts)
	if err != nil {
		return nil, err
	}
	dev, err := cuda.GetDevice(0)
	if err != nil {
		return nil, err
	}
	gpu, err := dev.Name()
	if err != nil {
		return nil, err
	}
	kc, err := newKernelCache()
	if err != nil {
		return nil, err
	}
	defer kc.close()
	// Every candidate's kernel, compiled up front on all cores.
	start := time.Now()
	ptx := t.kernels()
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	kc.preload(ptx, jobs)
	t.logf("compiled %d candidate kernels in %.1f s", len(ptx), time.Since(start).Seconds())
	inputs := RandomInputs(g, opts.Batch)
	// The heuristic engine's outputs: every round's must be the same bits
	// (every variant computes the reference's), or its kernels are wrong.
	var want []*ir.Tensor
	runOnce := func(e *engine.Engine, timed bool) ([]float64, []*ir.Tensor, error) {
		rt, err := open(e, opts.Batch, kc, OpenOptions{})
		if err != nil {
			return nil, nil, err
		}
		defer rt.Close()
		if err := rt.Upload(inputs); err != nil {
			return nil, nil, err
		}
		var ms []float64
		if timed {
			ms, err = rt.ProfileSteps(opts.Iters, opts.Warmup)
		} else {
			err = rt.Enqueue()
		}
		if err != nil {
			return nil, nil, err
		}
		outs, err := rt.Download()
		return ms, outs, err
	}
	p, err := planGraph(g, "sqc tune", nil, true, tunePlanOptions(opts.Batch))
	if err != nil {
		return nil, err
	}
	if _, want, err = runOnce(p.e, false); err != nil {
		return nil, fmt.Errorf("tune: the heuristic engine: %w", err)
	}
	return t.run(gpu, func(e *engine.Engine) ([]float64, error) {
		ms, got, err := runOnce(e, true)
		if err != nil {
			return nil, err
		}
		for i := range want {
			if !sameBits(got[i], want[i]) {
				return nil, fmt.Errorf("output %d differs from the heuristic engine's: a kernel computes other bits", i)
			}
		}
		return ms, nil
	})
}

// sameBits reports whether two tensors hold the same elements, bit for
// bit.
func sameBits(a, b *ir.Tensor) bool {
	if a.DType != b.DType || !slices.Equal(a.Shape, b.Shape) {
		return false
	}
	switch x := a.Data.(type) {
	case []float32:
		y := b.Data.([]float32)
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				return false
			}
		}
		return true
	case []int8:
		return slices.Equal(x, b.Data.([]int8))
	}
	return false
}

// tuner holds a tuning run's layer shapes and what was measured.
type tuner struct {
	g      *ir.Graph
	opts   TuneOptions
	layers []*tuneLayer
}

// tunePlanOptions are the options tune plans with at batch: the latency
// heuristic (OptBatch) at the batches it is for, so that the heuristic a
// tuning run compares against, and that the layers a round does not
// force run on, are what sqc compile --opt-batch gives at that batch.
func tunePlanOptions(batch int) PlanOptions {
	if batch >= 1 && batch <= LatencyBatch {
		return PlanOptions{OptBatch: batch}
	}
	return PlanOptions{}
}

// newTuner plans g by the heuristic and groups its GEMM layers by shape,
// each with its candidates (tuneCandidates at opts.Batch): the sparse
// kernel's (2:4 weights), then the dense kernel's.
func newTuner(g *ir.Graph, opts TuneOptions) (*tuner, error) {
	p, err := planGraph(g, "sqc tune", nil, true, tunePlanOptions(opts.Batch))
	if err != nil {
		return nil, err
	}
	t := &tuner{g: g, opts: opts}
	byKey := map[tuning.Layer]*tuneLayer{}
	for _, pg := range p.gemms {
		k := pg.layer.tuningLayer()
		tl := byKey[k]
		if tl == nil {
			tl = &tuneLayer{layer: pg.layer, us: map[tuning.Choice][]float64{}, failed: map[tuning.Choice]string{},
				heuristic: tuning.Choice{Sparse: pg.choice.sparse, Variant: pg.choice.variant.name}}
			for _, sparse := range []bool{true, false} {
				if sparse && !pg.layer.sparse24 {
					continue
				}
				for _, c := range tuneCandidates(pg.layer, opts.Batch) {
					tl.cands = append(tl.cands, tuning.Choice{Sparse: sparse, Variant: c.name})
				}
			}
			byKey[k] = tl
			t.layers = append(t.layers, tl)
		}
		tl.nodes = append(tl.nodes, pg.node)
	}
	if len(t.layers) == 0 {
		return nil, fmt.Errorf("tune: the graph has no INT8 GEMM or convolution layer to tune")
	}
	return t, nil
}

func (t *tuner) logf(format string, args ...any) {
	if t.opts.Log != nil {
		t.opts.Log(fmt.Sprintf(format, args...))
	}
}

// kernels returns the PTX of every candidate's kernel, by name.
func (t *tuner) kernels() map[string]string {
	ptx := map[string]string{}
	for _, tl := range t.layers {
		vs := tuneCandidates(tl.layer, t.opts.Batch)
		for _, c := range tl.cands {
			i := slices.IndexFunc(vs, func(v gemmCandidate) bool { return v.name == c.Variant })
			cfg := vs[i].config(tl.layer, c.Sparse)
			if text, err := cfg.PTX(); err == nil {
				ptx[cfg.Name()] = text
			}
		}
	}
	return ptx
}

// engineTimer runs an engine and returns each step's median time in
// milliseconds, in the order of its steps.
type engineTimer func(e *engine.Engine) ([]float64, error)

// run times the rounds with timeEngine and returns the entries for gpu.
func (t *tuner) run(gpu string, timeEngine engineTimer) (*TuneResult, error) {
	rounds := 0
	for _, tl := range t.layers {
		rounds = max(rounds, len(tl.cands))
	}
	for r := 0; r < rounds; r++ {
		var active []*tuneLayer
		for _, tl := range t.layers {
			if r < len(tl.cands) {
				active = append(active, tl)
			}
		}
		if err := t.round(timeEngine, r, active); err != nil {
			t.logf("round %d of %d failed (%v); timing its %d layer shapes one at a time", r+1, rounds, err, len(active))
			for _, tl := range active {
				if err := t.round(timeEngine, r, []*tuneLayer{tl}); err != nil {
					tl.failed[tl.cands[r]] = err.Error()
					t.logf("layer %s, %s: %v", tl.nodes[0], tl.cands[r], err)
				}
			}
			continue
		}
		t.logf("round %d of %d: %d layer shapes timed", r+1, rounds, len(active))
	}
	res := &TuneResult{GPU: gpu}
	for _, tl := range t.layers {
		e := tuning.Entry{Key: tuning.Key{GPU: gpu, Batch: t.opts.Batch, Layer: tl.layer.tuningLayer()}}
		best := 0.0
		for _, c := range tl.cands {
			ts := tl.us[c]
			if len(ts) == 0 {
				continue
			}
			var sum float64
			for _, x := range ts {
				sum += x
			}
			us := sum / float64(len(ts))
			e.Times = append(e.Times, tuning.Timing{Choice: c, Us: us})
			if len(e.Times) == 1 || us < best {
				e.Use, best = c, us
			}
		}
		if len(e.Times) == 0 {
			return nil, fmt.Errorf("tune: no candidate of layer %s ran (%s)", strings.Join(tl.nodes, ", "), tl.failed[tl.cands[0]])
		}
		res.Layers = append(res.Layers, TunedLayer{Entry: e, Nodes: tl.nodes, Heuristic: tl.heuristic})
	}
	return res, nil
}

// round plans g with each active layer on its r-th candidate, times it
// and records the GEMM steps' medians. A layer whose step is missing (the
// candidate did not plan as a GEMM) makes the round fail.
func (t *tuner) round(timeEngine engineTimer, r int, active []*tuneLayer) error {
	force := map[string]tuning.Choice{}
	owner := map[string]*tuneLayer{}
	for _, tl := range active {
		for _, n := range tl.nodes {
			force[n], owner[n] = tl.cands[r], tl
		}
	}
	opts := tunePlanOptions(t.opts.Batch)
	opts.force = force
	p, err := planGraph(t.g, "sqc tune", nil, true, opts)
	if err != nil {
		return err
	}
	med, err := timeEngine(p.e)
	if err != nil {
		return err
	}
	if len(med) != len(p.e.Steps) {
		return fmt.Errorf("%d times for %d steps", len(med), len(p.e.Steps))
	}
	var timed []int // GEMM steps of forced nodes
	count := map[string]int{}
	for i, s := range p.e.Steps {
		if owner[s.Node] != nil && strings.HasPrefix(s.Kernel, "sqc_gemm") {
			timed = append(timed, i)
			count[s.Node]++
		}
	}
	for n := range force {
		if count[n] != 1 {
			return fmt.Errorf("node %s has %d GEMM steps, want 1", n, count[n])
		}
	}
	for _, i := range timed {
		tl := owner[p.e.Steps[i].Node]
		tl.us[tl.cands[r]] = append(tl.us[tl.cands[r]], med[i]*1000)
	}
	return nil
}

// RandomInputs returns standard normal f32 inputs of batch samples for
// g's inputs (fixed seed): what sqc bench and sqc tune run on.
func RandomInputs(g *ir.Graph, batch int) []*ir.Tensor {
	rng := rand.New(rand.NewPCG(1, 2))
	var in []*ir.Tensor
	for _, v := range g.Inputs {
		shape := []int{batch}
		for _, d := range v.Type.Shape[1:] {
			shape = append(shape, int(d.Size))
		}
		t := ir.NewTensor(ir.Float32, shape...)
		for i := range t.Float32s() {
			t.Float32s()[i] = float32(rng.NormFloat64())
		}
		in = append(in, t)
	}
	return in
}

// TuneCandidates lists, per GEMM node of g, the kernels Tune would time
// at batch (sparse/VARIANT and dense/VARIANT, the heuristic's first): what
// a tuning run will cost, without a GPU.
func TuneCandidates(g *ir.Graph, batch int) ([]string, error) {
	p, err := planGraph(g, "sqc tune", nil, true, tunePlanOptions(batch))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, pg := range p.gemms {
		h := tuning.Choice{Sparse: pg.choice.sparse, Variant: pg.choice.variant.name}
		names := []string{h.String() + " (heuristic)"}
		for _, sparse := range []bool{true, false} {
			if sparse && !pg.layer.sparse24 {
				continue
			}
			for _, c := range tuneCandidates(pg.layer, batch) {
				if ch := (tuning.Choice{Sparse: sparse, Variant: c.name}); ch != h {
					names = append(names, ch.String())
				}
			}
		}
		out = append(out, fmt.Sprintf("%s: %s", pg.node, strings.Join(names, " ")))
	}
	return out, nil
}

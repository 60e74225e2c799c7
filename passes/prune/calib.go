package prune

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/sqc-project/sqc/internal/dataset"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/dataopt"
	"github.com/sqc-project/sqc/passes/prune/layer"
	"github.com/sqc-project/sqc/passes/prune/sparsegpt"
)

// LayerStats is what the pass measured on one layer it pruned with
// SparseGPT.
type LayerStats struct {
	Layer string
	// Collect is the time spent running the calibration data through the
	// graph and accumulating the layer's Hessian; Solve the time of the
	// factorization and the weight updates.
	Collect, Solve time.Duration
	// Kept is the share of |w| the mask keeps (of the dense weights).
	Kept float64
	// ErrorSparseGPT and ErrorMagnitude are the squared output errors
	// ||W·X − W'·X||² over the calibration inputs, relative to ||W·X||²,
	// of the SparseGPT result and of a magnitude mask.
	ErrorSparseGPT, ErrorMagnitude float64
}

// OnLayer, when set, receives the statistics of every layer SparseGPT
// prunes, as it finishes it (benchmarks and reports read them; the pass's
// notes hold the deterministic part).
var OnLayer func(LayerStats)

// freeBatch is how many samples run at once when the graph's batch dim is
// free: one by one would waste the GEMM on tiny matrices.
const freeBatch = 32

// dataSpec builds the calibration data spec from the options.
func dataSpec(o passes.Options, g *ir.Graph) (dataset.Spec, error) {
	if o.String("data") == "" {
		return dataset.Spec{}, errors.New("method sparsegpt needs calibration data: set option data to a file or folder of samples")
	}
	spec, err := dataopt.Spec(o)
	if err != nil {
		return dataset.Spec{}, err
	}
	if spec.Batch == 0 && len(g.Inputs) > 0 {
		if s := g.Inputs[0].Type.Shape; s.Rank() > 0 && !s[0].Known() {
			spec.Batch = freeBatch
		}
	}
	spec.Inputs = dataset.InputsOf(g)
	return spec, nil
}

// gptOptions are the SparseGPT settings of a candidate.
func gptOptions(cd *cand) (sparsegpt.Options, error) {
	o := sparsegpt.Options{N: cd.n, M: cd.m, Damp: cd.opts.Float("damp"),
		BlockSize: int(cd.opts.Int("block-size")), MaxBlock: int(cd.opts.Int("hessian-block"))}
	if o.BlockSize%cd.m != 0 {
		return o, fmt.Errorf("layer %s: block-size %d is not a multiple of %d", cd.l.Node.Name, o.BlockSize, cd.m)
	}
	o.MaxBlock -= o.MaxBlock % cd.m
	if o.MaxBlock == 0 && cd.opts.Int("hessian-block") != 0 {
		o.MaxBlock = cd.m
	}
	return o, nil
}

// sparseGPT prunes the given layers with SparseGPT: in waves of layers
// whose inputs don't depend on a layer still to prune (with sequential),
// or all at once on the dense model's activations.
func (s *state) sparseGPT(todo []*cand, byConst map[*ir.Value][]*cand) error {
	spec, err := dataSpec(s.c.Options, s.g)
	if err != nil {
		return err
	}
	src, err := dataset.Open(spec)
	if err != nil {
		return fmt.Errorf("calibration data: %w", err)
	}
	defer src.Close()
	if src.Len() == 0 {
		return fmt.Errorf("calibration data %s holds no samples", spec.Path)
	}
	sequential := s.c.Options.Bool("sequential")
	start := time.Now()
	f, err := newFrontier(s.g, src)
	if err != nil {
		return err
	}
	task := s.c.Progress().Start("prune (sparsegpt)", "layers", len(todo))
	for len(todo) > 0 {
		wave, rest := s.wave(todo, sequential)
		if len(wave) == 0 {
			// Impossible in a graph whose nodes are in topological order,
			// which the verifier guarantees; refuse rather than loop.
			task.End(false)
			return fmt.Errorf("layers %s depend on each other: the graph is not in topological order", todo[0].l.Node.Name)
		}
		// Everything before the first layer still to prune runs with its
		// final weights: move the kept activations up to it.
		pos := s.positions()
		cut := len(s.g.Nodes)
		for _, cd := range todo {
			for _, o := range byConst[cd.l.Const] {
				cut = min(cut, pos[o.l.Node])
			}
		}
		if err := f.advance(cut); err != nil {
			task.End(false)
			return err
		}
		if err := s.pruneWave(f, wave, byConst); err != nil {
			task.End(false)
			return err
		}
		task.Add(len(wave))
		todo = rest
	}
	task.End(true)
	s.c.Count("sparsegpt milliseconds", int(time.Since(start).Milliseconds()))
	return nil
}

// positions maps each node to its index in the graph's node list.
func (s *state) positions() map[*ir.Node]int {
	pos := make(map[*ir.Node]int, len(s.g.Nodes))
	for i, n := range s.g.Nodes {
		pos[n] = i
	}
	return pos
}

// frontier keeps, for every calibration batch, the activations that cross
// a cut of the graph: the values the nodes before pos computed (or the
// graph inputs) that nodes from pos on read. Sequential SparseGPT prunes
// in waves, each calibrated on the outputs of the layers pruned before it;
// moving the frontier forward as layers are pruned runs each node once per
// batch in all, where running the graph from its inputs for every wave
// made ResNet-50's calibration some 20 forward passes (and most of
// SparseGPT's time). Memory: the widest cut's activations for all samples
// (ResNet-50 at 224×224: about 3 MiB a sample).
type frontier struct {
	g       *ir.Graph
	pos     int
	vals    []*ir.Value
	batches [][]*ir.Tensor
}

// newFrontier reads every batch of src, at the graph's inputs.
func newFrontier(g *ir.Graph, src dataset.Source) (*frontier, error) {
	f := &frontier{g: g, vals: g.Inputs}
	src.Reset()
	for {
		b, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("calibration data: %w", err)
		}
		f.batches = append(f.batches, b)
	}
	return f, nil
}

// live lists the non-constant values produced before node index cut (or
// graph inputs) that a node at cut or later reads, in a fixed order.
func (f *frontier) live(cut int) []*ir.Value {
	before := map[*ir.Value]bool{}
	for _, v := range f.g.Inputs {
		before[v] = true
	}
	for _, n := range f.g.Nodes[:cut] {
		for _, v := range n.Outputs {
			before[v] = true
		}
	}
	var out []*ir.Value
	seen := map[*ir.Value]bool{}
	for _, n := range f.g.Nodes[cut:] {
		for _, v := range n.Inputs {
			if v != nil && !v.IsConst() && before[v] && !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}

// sub is the graph of nodes [from, to) fed the frontier's values, with
// the given outputs.
func (f *frontier) sub(to int, outputs []*ir.Value) (*ref.Executor, error) {
	g := &ir.Graph{Name: f.g.Name, Inputs: f.vals, Nodes: f.g.Nodes[f.pos:to], Outputs: outputs}
	e, err := ref.New(g)
	if err != nil {
		return nil, fmt.Errorf("calibrating for sparsegpt: %w", err)
	}
	return e, nil
}

// advance runs the nodes from the frontier's position up to cut on every
// batch and keeps the values live there.
func (f *frontier) advance(cut int) error {
	if cut <= f.pos {
		return nil
	}
	next := f.live(cut)
	e, err := f.sub(cut, next)
	if err != nil {
		return err
	}
	for i, b := range f.batches {
		out, err := e.Run(b)
		if err != nil {
			return fmt.Errorf("calibrating for sparsegpt: batch %d: %w", i+1, err)
		}
		f.batches[i] = out
	}
	f.pos, f.vals = cut, next
	return nil
}

// wave splits todo into the layers whose inputs depend on none of todo's
// layers and the rest.
func (s *state) wave(todo []*cand, sequential bool) (wave, rest []*cand) {
	if !sequential {
		return todo, nil
	}
	pending := map[*ir.Node]bool{}
	for _, cd := range todo {
		pending[cd.l.Node] = true
	}
	dep := map[*ir.Value]bool{}
	for _, n := range s.g.Nodes {
		d := pending[n]
		for _, v := range n.Inputs {
			d = d || dep[v]
		}
		for _, v := range n.Outputs {
			dep[v] = d
		}
	}
	for _, cd := range todo {
		if dep[cd.l.Data] {
			rest = append(rest, cd)
		} else {
			wave = append(wave, cd)
		}
	}
	return wave, rest
}

// collector accumulates one layer's Hessian from its input activations.
type collector struct {
	cd   *cand
	h    *sparsegpt.Hessian
	geom *ir.ConvGeom
	o    sparsegpt.Options
}

func (k *collector) add(x *ir.Tensor) error {
	l := k.cd.l
	if l.Kind != layer.Conv {
		return k.h.AddMatrix(x, l.DataAxis)
	}
	if k.geom == nil || !sameInts(k.geom.In, x.Shape[2:]) {
		spatial := make([]ir.Dim, len(x.Shape)-2)
		for i, d := range x.Shape[2:] {
			spatial[i] = ir.D(int64(d))
		}
		g, err := ir.ResolveConvGeom(l.Node.Attrs, spatial, l.Const.Const.Shape[2:], false)
		if err != nil {
			return fmt.Errorf("layer %s: %v", l.Node.Name, err)
		}
		k.geom = g
	}
	return k.h.AddConv(x, k.geom)
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// pruneWave collects the input Hessians of the wave's layers, running
// the nodes from the frontier up to the last producer the wave needs on
// every batch (without moving the frontier), and prunes them.
func (s *state) pruneWave(f *frontier, wave []*cand, byConst map[*ir.Value][]*cand) error {
	t0 := time.Now()
	cols := map[*ir.Value][]*collector{}
	atFrontier := map[*ir.Value]int{}
	for i, v := range f.vals {
		atFrontier[v] = i
	}
	pos := s.positions()
	last := -1
	var all []*collector
	var outputs []*ir.Value
	for _, cd := range wave {
		o, err := gptOptions(cd)
		if err != nil {
			return err
		}
		k := &collector{cd: cd, o: o, h: sparsegpt.NewHessian(cd.l.Cols(), o.Spans(cd.l.Cols()))}
		all = append(all, k)
		v := cd.l.Data
		if _, ok := atFrontier[v]; !ok {
			p := s.producers[v]
			if p == nil || pos[p] < f.pos {
				return fmt.Errorf("layer %s: its input %s is not computed where sparsegpt expects it", cd.l.Node.Name, v.Name)
			}
			last = max(last, pos[p])
			if len(cols[v]) == 0 {
				outputs = append(outputs, v)
			}
		}
		cols[v] = append(cols[v], k)
	}
	var exec *ref.Executor
	if last >= 0 {
		var err error
		if exec, err = f.sub(last+1, outputs); err != nil {
			return err
		}
	}
	var addErr error
	for bi, batch := range f.batches {
		for v, i := range atFrontier {
			for _, k := range cols[v] {
				if err := k.add(batch[i]); err != nil {
					return fmt.Errorf("layer %s: %w", k.cd.l.Node.Name, err)
				}
			}
		}
		if exec == nil {
			continue
		}
		_, err := exec.RunObserved(batch, func(v *ir.Value, t *ir.Tensor) {
			for _, k := range cols[v] {
				if err := k.add(t); err != nil && addErr == nil {
					addErr = fmt.Errorf("layer %s: %w", k.cd.l.Node.Name, err)
				}
			}
		})
		if err != nil {
			return fmt.Errorf("calibrating for sparsegpt: batch %d: %w", bi+1, err)
		}
		if addErr != nil {
			return addErr
		}
	}
	collect := time.Since(t0) / time.Duration(len(all))
	for _, k := range all {
		if err := k.h.Flush(); err != nil {
			return err
		}
		t1 := time.Now()
		st, err := s.pruneLayer(k, byConst[k.cd.l.Const])
		if err != nil {
			return err
		}
		st.Collect, st.Solve = collect, time.Since(t1)
		if OnLayer != nil {
			OnLayer(st)
		}
		// A wide layer's Hessian and factorization leave a few hundred MB
		// behind (ResNet-50's last stage: 170 MB for H alone); collecting
		// them now, before the next layer allocates as much again, keeps
		// the heap near what is live instead of twice that. It costs a
		// few milliseconds: the heap is mostly float slices, nothing to scan.
		k.h = nil
		runtime.GC()
	}
	return nil
}

// pruneLayer runs SparseGPT on one layer with its collected Hessian.
func (s *state) pruneLayer(k *collector, group []*cand) (LayerStats, error) {
	cd, l := k.cd, k.cd.l
	st := LayerStats{Layer: l.Node.Name}
	if k.h.Rows == 0 {
		return st, fmt.Errorf("layer %s: the calibration data gave no input rows", l.Node.Name)
	}
	rows, ncols := l.Rows, l.Cols()
	w := l.Matrix()
	res, err := sparsegpt.Prune(w, rows, ncols, k.h.H, k.o)
	if err != nil {
		return st, fmt.Errorf("layer %s: sparsegpt: %w", l.Node.Name, err)
	}
	abs := l.Abs32()
	st.Kept = layer.Retained(abs, res.Keep)
	cd.after = st.Kept
	// The baseline: magnitude's mask, judged on the same inputs.
	mkeep := layer.MagnitudeMask(abs, rows, ncols, cd.n, cd.m)
	mag := make([]float64, len(w))
	for i, v := range w {
		if mkeep[i] {
			mag[i] = v
		}
	}
	spans := k.o.Spans(ncols)
	errs, err := sparsegpt.OutputErrors(w, [][]float64{nil, res.W, mag}, rows, ncols, k.h.H, spans)
	if err != nil {
		return st, fmt.Errorf("layer %s: %w", l.Node.Name, err)
	}
	base, eg, em := errs[0], errs[1], errs[2]
	if base > 0 {
		st.ErrorSparseGPT, st.ErrorMagnitude = eg/base, em/base
	}
	switch {
	case em > 0:
		cd.gptNote = fmt.Sprintf("output error %.2f× magnitude's", eg/em)
	default:
		cd.gptNote = "magnitude's mask loses nothing on the calibration data"
	}
	if res.Damp != k.o.Damp {
		cd.gptNote += fmt.Sprintf(", damping raised to %g", res.Damp)
	}
	t, err := l.NewData(res.W, res.Keep)
	if err != nil {
		return st, err
	}
	s.setWeight(cd, group, t)
	s.c.Count("weights zeroed", zeros(res.Keep))
	return st, nil
}

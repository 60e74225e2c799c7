package prune

import (
	"errors"
	"fmt"
	"io"
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
	task := s.c.Progress().Start("prune (sparsegpt)", "layers", len(todo))
	for len(todo) > 0 {
		wave, rest := s.wave(todo, sequential)
		if len(wave) == 0 {
			// Impossible in a graph whose nodes are in topological order,
			// which the verifier guarantees; refuse rather than loop.
			task.End(false)
			return fmt.Errorf("layers %s depend on each other: the graph is not in topological order", todo[0].l.Node.Name)
		}
		if err := s.pruneWave(src, wave, byConst); err != nil {
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

// pruneWave runs the calibration data through the graph once, collecting
// the input Hessians of the wave's layers, and prunes them.
func (s *state) pruneWave(src dataset.Source, wave []*cand, byConst map[*ir.Value][]*cand) error {
	t0 := time.Now()
	cols := map[*ir.Value][]*collector{}
	var fromInput []int // graph input index per layer reading one, else -1
	inputIdx := map[*ir.Value]int{}
	for i, v := range s.g.Inputs {
		inputIdx[v] = i
	}
	last := -1
	pos := map[*ir.Node]int{}
	for i, n := range s.g.Nodes {
		pos[n] = i
	}
	var all []*collector
	for _, cd := range wave {
		o, err := gptOptions(cd)
		if err != nil {
			return err
		}
		k := &collector{cd: cd, o: o, h: sparsegpt.NewHessian(cd.l.Cols(), o.Spans(cd.l.Cols()))}
		all = append(all, k)
		cols[cd.l.Data] = append(cols[cd.l.Data], k)
		if i, ok := inputIdx[cd.l.Data]; ok {
			fromInput = append(fromInput, i)
		} else {
			fromInput = append(fromInput, -1)
			if p := s.producers[cd.l.Data]; p != nil {
				last = max(last, pos[p])
			}
		}
	}
	// Run only the nodes up to the last producer the wave needs.
	var exec *ref.Executor
	if last >= 0 {
		sub := &ir.Graph{Name: s.g.Name, Inputs: s.g.Inputs, Nodes: s.g.Nodes[:last+1]}
		for v := range cols {
			if _, ok := inputIdx[v]; !ok {
				sub.Outputs = append(sub.Outputs, v)
			}
		}
		var err error
		if exec, err = ref.New(sub); err != nil {
			return fmt.Errorf("calibrating for sparsegpt: %w", err)
		}
	}
	src.Reset()
	var addErr error
	for {
		batch, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("calibration data: %w", err)
		}
		for i, k := range all {
			if j := fromInput[i]; j >= 0 {
				if err := k.add(batch[j]); err != nil {
					return fmt.Errorf("layer %s: %w", k.cd.l.Node.Name, err)
				}
			}
		}
		if exec == nil {
			continue
		}
		_, err = exec.RunObserved(batch, func(v *ir.Value, t *ir.Tensor) {
			for _, k := range cols[v] {
				if err := k.add(t); err != nil && addErr == nil {
					addErr = fmt.Errorf("layer %s: %w", k.cd.l.Node.Name, err)
				}
			}
		})
		if err != nil {
			return fmt.Errorf("calibrating for sparsegpt: %w", err)
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
	errs, err := sparsegpt.OutputErrors(w, [][]float64{make([]float64, len(w)), res.W, mag}, rows, ncols, k.h.H, spans)
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

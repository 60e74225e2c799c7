package calibrate

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/sqc-project/sqc/internal/dataset"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/dataopt"
)

// Value selections.
const (
	// ValuesAll calibrates every float value that is not a constant: graph
	// inputs and node outputs.
	ValuesAll = "all"
	// ValuesQuantizable calibrates the non-constant float inputs and the
	// outputs of the ops the INT8 backend quantizes: Conv, ConvTranspose,
	// Gemm, MatMul, FusedConv, FusedGemm and Add (the residual sums).
	ValuesQuantizable = "quantizable"
)

// DefaultPercentile is the percentile option's default, and the percentile
// auto tries when Config.Percentile is 0.
const DefaultPercentile = 99.99

// DefaultSamples is the default number of calibration samples.
const DefaultSamples = dataopt.DefaultSamples

// Pass is the calibrate analysis. Its result is a *Result.
var Pass = &passes.Pass{
	Name:     "calibrate",
	Doc:      "run the graph on calibration data with the reference executor and choose an int8 range for every activation",
	Analysis: true,
	Options: append(dataopt.Options("calibration data (empty: use the cache only)", true, 1), []passes.Option{
		{Name: "input-method", Kind: passes.String, Default: MethodMax, Enum: Methods,
			Doc: "calibrator of the graph inputs: their range is the preprocessing's, and clipping it (entropy cuts MNIST's strokes) costs accuracy"},
		{Name: "method", Kind: passes.String, Default: MethodAuto, Enum: Methods,
			Doc: "calibrator: auto (per value, whichever of the others costs least on held-out samples, see auto-error), entropy (TensorRT's KL divergence), max, percentile or mse"},
		{Name: "auto-samples", Kind: passes.Int, Default: int64(DefaultAutoSamples), Min: 1, Max: 1 << 20,
			Doc: "samples auto holds out of the histograms to measure each candidate range's error on (at most a quarter of the data)"},
		{Name: "auto-error", Kind: passes.String, Default: AutoErrorLayer, Enum: []string{AutoErrorLayer, AutoErrorOutput},
			Doc: "where auto measures a candidate's error: at the layers that read the value (about one forward pass per candidate) or at the network's outputs (one per value and candidate)"},
		{Name: "percentile", Kind: passes.Float, Default: DefaultPercentile, Min: 1e-9, Max: 100,
			Doc: "percentile of |x| the percentile method keeps"},
		{Name: "cache", Kind: passes.String, Default: "",
			Doc: "calibration cache file: read when it matches the graph, data and method, else (re)written after calibrating"},
		{Name: "values", Kind: passes.String, Default: ValuesAll, Enum: []string{ValuesAll, ValuesQuantizable},
			Doc: "which values to calibrate: all float activations, or those around the ops int8 kernels run"},
		{Name: "progress", Kind: passes.Bool, Default: true,
			Doc: "report progress to the tool running the pass (sqc: a bar on a terminal, a line every 10 s otherwise)"},
	}...),
	Run: run,
}

func init() { passes.Register(Pass) }

// Config is what Calibrate needs; the pass builds it from its options.
type Config struct {
	// Data says what to read; an empty Path means the cache must match.
	// Its Inputs are filled from the graph.
	Data dataset.Spec
	// Method is one of Methods; Percentile is used by MethodPercentile.
	Method string
	// InputMethod is the method for the graph inputs ("" means Method).
	// Their range is set by the preprocessing, not learnt, and the mass of
	// an image's histogram is its background: a divergence-minimising
	// threshold clips the content (on MNIST, entropy chose 0.66 for inputs
	// reaching 2.82 and top-1 fell from 99.16 % to 39.32 %), so the pass
	// defaults to max for them.
	InputMethod string
	// Percentile is the percentile method's parameter (auto's percentile
	// candidate; DefaultPercentile when 0 with auto).
	Percentile float64
	// Cache is the cache file's path, or empty.
	Cache string
	// Values is ValuesAll or ValuesQuantizable.
	Values string
	// Progress receives the samples done; nil reports nothing.
	Progress passes.Progress
	// Notes receives remarks that are not errors (a cache that did not
	// match and is replaced); nil prints none.
	Notes io.Writer
	// AutoNotes, when set, receives method auto's summary line (how many
	// values it searched, on how many held-out samples, in what time).
	AutoNotes io.Writer
	// AutoSamples is how many samples method auto holds out of the
	// histograms to measure output errors on (DefaultAutoSamples when 0;
	// at most a quarter of the data).
	AutoSamples int
	// AutoError is where auto measures a candidate's error:
	// AutoErrorLayer (the default) or AutoErrorOutput.
	AutoError string
}

// Output receives the pass's notes (a cache that did not match and is
// being replaced); io.Discard silences them.
var Output io.Writer = os.Stderr

func run(c *passes.Context) (any, error) {
	o := c.Options
	data, err := dataopt.Spec(o)
	if err != nil {
		return nil, err
	}
	cfg := Config{
		Data:        data,
		Method:      o.String("method"),
		InputMethod: o.String("input-method"),
		Percentile:  o.Float("percentile"),
		Cache:       o.String("cache"),
		Values:      o.String("values"),
		AutoSamples: int(o.Int("auto-samples")),
		AutoError:   o.String("auto-error"),
	}
	if o.Bool("progress") {
		cfg.Progress = c.Progress()
	}
	cfg.Notes = Output
	res, err := Calibrate(c.Graph, cfg)
	if err != nil {
		return nil, err
	}
	c.Count("values", len(res.Ranges))
	c.Count("samples", res.Samples)
	if res.FromCache {
		c.Count("cache hits", 1)
	}
	return res, nil
}

// Calibrate computes activation ranges for g: from the cache file when it
// matches, else by running the data through the reference executor.
func Calibrate(g *ir.Graph, cfg Config) (*Result, error) {
	if cfg.Method == "" {
		cfg.Method = MethodEntropy
	}
	if cfg.InputMethod == "" {
		cfg.InputMethod = cfg.Method
	}
	if cfg.Values == "" {
		cfg.Values = ValuesAll
	}
	// An empty histogram checks the method and percentile before any work.
	if _, err := Threshold(NewHistogram(), cfg.InputMethod, cfg.Percentile); err != nil {
		return nil, err
	}
	if _, err := Threshold(NewHistogram(), cfg.Method, cfg.Percentile); err != nil {
		return nil, err
	}
	auto := cfg.Method == MethodAuto || cfg.InputMethod == MethodAuto
	if auto && cfg.Percentile == 0 {
		cfg.Percentile = DefaultPercentile // auto's percentile candidate
	}
	if auto {
		// auto tries the percentile method too
		if _, err := Threshold(NewHistogram(), MethodPercentile, cfg.Percentile); err != nil {
			return nil, err
		}
		if cfg.AutoSamples == 0 {
			cfg.AutoSamples = DefaultAutoSamples
		}
		switch cfg.AutoError {
		case "":
			cfg.AutoError = AutoErrorLayer
		case AutoErrorLayer, AutoErrorOutput:
		default:
			return nil, fmt.Errorf("auto-error %q: want %s or %s", cfg.AutoError, AutoErrorLayer, AutoErrorOutput)
		}
	}
	selected, err := selectValues(g, cfg.Values)
	if err != nil {
		return nil, err
	}
	graphHash := GraphHash(g)
	var src dataset.Source
	dataHash := ""
	if cfg.Data.Path != "" {
		spec := cfg.Data
		spec.Inputs = dataset.InputsOf(g)
		if src, err = dataset.Open(spec); err != nil {
			return nil, err
		}
		defer src.Close()
		if dataHash, err = src.Hash(); err != nil {
			return nil, err
		}
	}
	if cfg.Cache != "" {
		cache, err := readCacheIfExists(cfg.Cache)
		switch {
		case err == nil:
			mismatch := cache.Mismatch(cfg.Cache, graphHash, dataHash, cfg.Method, cfg.InputMethod, cfg.Percentile)
			if mismatch == "" && cfg.Method == MethodAuto && cache.AutoError != cfg.AutoError {
				mismatch = fmt.Sprintf("calibration cache %s does not match: its auto ranges were measured at the %s, auto-error = %s was asked for", cfg.Cache, measureWhere[cache.AutoError], cfg.AutoError)
			}
			if mismatch == "" {
				for _, v := range selected {
					if _, ok := cache.Ranges[v.Name]; !ok {
						mismatch = fmt.Sprintf("calibration cache %s does not match: it has no range for value %q", cfg.Cache, v.Name)
						break
					}
				}
			}
			if mismatch == "" {
				return fromCache(cache, selected), nil
			}
			if src == nil {
				return nil, fmt.Errorf("%s; give calibration data (option data) to calibrate again", mismatch)
			}
			if cfg.Notes != nil {
				fmt.Fprintf(cfg.Notes, "calibrate: %s; calibrating again\n", mismatch)
			}
		case !errors.Is(err, errNoCache):
			return nil, err
		}
	}
	if src == nil {
		return nil, errors.New("no calibration data: set the data option (a .npy, .npz, .pb or IDX file, an image, or a folder of images or .pb files), or a cache file made for this graph")
	}
	progress := cfg.Progress
	if progress == nil {
		progress = passes.NoProgress
	}
	holdout := 0
	if auto {
		holdout = holdoutSize(cfg.AutoSamples, src.Len())
	}
	hists, samples, heldout, err := collect(g, src, selected, holdout, progress)
	if err != nil {
		return nil, err
	}
	// Data that is one constant everywhere (all zeros: a file written
	// before it was filled) gives every activation a meaningless range.
	for i, v := range selected {
		if h := hists[i]; g.IsInput(v) && h.N > 0 && h.Min == h.Max {
			return nil, fmt.Errorf("calibration data %s: graph input %s is %g everywhere in all %d samples (after preprocessing), so the ranges would mean nothing; check the data", cfg.Data.Path, v.Name, h.Min, samples)
		}
	}
	res := &Result{Method: cfg.Method, InputMethod: cfg.InputMethod, Ranges: make(map[string]Range, len(selected)), Samples: samples, GraphHash: graphHash, DataHash: dataHash}
	methods := make([]string, len(selected))
	for i, v := range selected {
		methods[i] = cfg.Method
		if g.IsInput(v) {
			methods[i] = cfg.InputMethod
		}
	}
	if cfg.Method == MethodPercentile || auto {
		res.Percentile = cfg.Percentile
	}
	if cfg.Method == MethodAuto {
		res.AutoError = cfg.AutoError
	}
	ranges := make([]Range, len(selected))
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				h := hists[i]
				t, _ := Threshold(h, methods[i], cfg.Percentile) // methods checked above
				rg := Range{Amax: t, Scale: ScaleFor(t), Method: methods[i]}
				if rg.Method == MethodAuto {
					rg.Method = MethodMSE // auto's choice where it does not search
				}
				if h.N > 0 {
					rg.Min, rg.Max = h.Min, h.Max
				}
				ranges[i] = rg
			}
		}()
	}
	for i := range selected {
		next <- i
	}
	close(next)
	wg.Wait()
	res.Histograms = make(map[string]*Histogram, len(selected))
	if auto {
		// auto's one-line summary (values searched, time) is for
		// benchmarks that ask for it (AutoNotes); --report lists each
		// choice, so a compile stays quiet.
		notes := cfg.AutoNotes
		if len(heldout) == 0 {
			// Too little data to hold any out: measure on the first batch.
			if heldout, err = firstBatch(src); err != nil {
				return nil, err
			}
		}
		targets := autoTargets(g, selected, cfg.Method, cfg.InputMethod)
		if err := chooseAuto(g, selected, targets, hists, heldout, cfg.Percentile, cfg.AutoError, ranges, notes); err != nil {
			return nil, err
		}
		res.heldout = heldout
	}
	for i, v := range selected {
		res.Ranges[v.Name] = ranges[i]
		res.Histograms[v.Name] = hists[i]
	}
	if cfg.Cache != "" {
		if err := WriteCache(cfg.Cache, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// fromCache builds a result from a matching cache, keeping the selected
// values only.
func fromCache(c *Cache, selected []*ir.Value) *Result {
	res := &Result{Method: c.Method, InputMethod: c.InputMethod, Percentile: c.Percentile, AutoError: c.AutoError, Ranges: make(map[string]Range, len(selected)), GraphHash: c.Graph, DataHash: c.Data, FromCache: true}
	for _, v := range selected {
		res.Ranges[v.Name] = c.Ranges[v.Name]
	}
	return res
}

// quantizableOps are the ops whose operands and results the quantize pass
// needs ranges for.
var quantizableOps = map[string]bool{
	"Conv": true, "ConvTranspose": true, "Gemm": true, "MatMul": true,
	"FusedConv": true, "FusedGemm": true, "Add": true,
}

// selectValues lists the values to calibrate, in graph order.
func selectValues(g *ir.Graph, which string) ([]*ir.Value, error) {
	var out []*ir.Value
	seen := map[*ir.Value]bool{}
	add := func(v *ir.Value) {
		if v != nil && !v.IsConst() && !seen[v] && (v.Type.DType == ir.Float32 || v.Type.DType == ir.Float64) {
			seen[v] = true
			out = append(out, v)
		}
	}
	switch which {
	case ValuesAll:
		for _, v := range g.Inputs {
			add(v)
		}
		for _, n := range g.Nodes {
			for _, v := range n.Outputs {
				add(v)
			}
		}
	case ValuesQuantizable:
		for _, n := range g.Nodes {
			if quantizableOps[n.Op] {
				for _, v := range n.Inputs {
					add(v)
				}
				for _, v := range n.Outputs {
					add(v)
				}
			}
		}
	default:
		return nil, fmt.Errorf("values %q: want %s or %s", which, ValuesAll, ValuesQuantizable)
	}
	return out, nil
}

// firstBatch reads the source's first batch again.
func firstBatch(src dataset.Source) ([][]*ir.Tensor, error) {
	src.Reset()
	b, err := src.Next()
	if err != nil {
		return nil, fmt.Errorf("reading the calibration data again: %w", err)
	}
	return [][]*ir.Tensor{b}, nil
}

// batchesInFlight is how many batches collect runs at once: the executor
// spreads a layer over the cores, but not its smaller steps (im2col, the
// epilogues, the histograms), which a second batch fills in. More would
// only hold more activations in memory.
const batchesInFlight = 2

// collect runs every batch through the executor and folds each selected
// value into its histogram. Memory: one histogram per value, whatever the
// number of samples. The batches that start in the last holdout samples
// (never the first batch) are not run but returned, for method auto to
// measure output errors on data the histograms did not see.
//
// Up to batchesInFlight batches run at once, each folding its values into
// the shared histograms under a lock per histogram: a histogram does not
// depend on the order its data arrives in (see Histogram), so neither do
// the ranges. An error is the one of the earliest failing batch, as if they
// had run one after another.
func collect(g *ir.Graph, src dataset.Source, selected []*ir.Value, holdout int, progress passes.Progress) (hists []*Histogram, samples int, heldout [][]*ir.Tensor, err error) {
	e, err := ref.New(g)
	if err != nil {
		return nil, 0, nil, err
	}
	index := make(map[*ir.Value]int, len(selected))
	hists = make([]*Histogram, len(selected))
	for i, v := range selected {
		index[v] = i
		hists[i] = NewHistogram()
	}
	locks := make([]sync.Mutex, len(selected))
	task := progress.Start("calibrate", "samples", src.Len())
	var (
		mu       sync.Mutex // guards firstErr, errBatch and task
		firstErr error
		errBatch int // batch number of firstErr
	)
	fail := func(batchNo int, err error) {
		mu.Lock()
		if firstErr == nil || batchNo < errBatch {
			firstErr, errBatch = err, batchNo
		}
		mu.Unlock()
	}
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return firstErr != nil
	}
	// runBatch folds one batch (number batchNo, from 1) into the
	// histograms; scratch is its worker's float64-to-float32 buffer.
	runBatch := func(batch []*ir.Tensor, batchNo int, scratch *[]float32) {
		var obsErr error
		observe := func(v *ir.Value, t *ir.Tensor) {
			i, ok := index[v]
			if !ok || obsErr != nil {
				return
			}
			var data []float32
			switch d := t.Data.(type) {
			case []float32:
				data = d
			case []float64:
				*scratch = (*scratch)[:0]
				for _, x := range d {
					*scratch = append(*scratch, float32(x))
				}
				data = *scratch
			default:
				return
			}
			locks[i].Lock()
			err := hists[i].Add(data)
			locks[i].Unlock()
			if err != nil {
				obsErr = fmt.Errorf("value %s, batch %d: %v", v.Name, batchNo, err)
			}
		}
		for k, v := range g.Inputs {
			observe(v, batch[k])
		}
		if obsErr == nil {
			if _, err := e.RunObserved(batch, observe); err != nil {
				obsErr = fmt.Errorf("running batch %d of the calibration data: %w", batchNo, err)
			}
		}
		if obsErr != nil {
			fail(batchNo, obsErr)
		}
	}
	type work struct {
		batch   []*ir.Tensor
		batchNo int
		n       int
	}
	queue := make(chan work)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), batchesInFlight) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var scratch []float32
			for w := range queue {
				runBatch(w.batch, w.batchNo, &scratch)
				mu.Lock()
				task.Add(w.n)
				mu.Unlock()
			}
		}()
	}
	// Reading and preprocessing (JPEG decoding, resizing) run one batch
	// ahead in their own goroutine, overlapping the executor; the source is
	// only ever used from that goroutine.
	type next struct {
		batch []*ir.Tensor
		err   error
	}
	ahead := make(chan next, 1)
	stop := make(chan struct{})
	defer func() {
		// Stop the reader and wait for it: the caller closes the source.
		close(stop)
		for range ahead {
		}
	}()
	go func() {
		defer close(ahead)
		src.Reset()
		for {
			b, err := src.Next()
			if err == io.EOF {
				return
			}
			select {
			case ahead <- next{b, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	batchNo := 0
	var readErr error
	for nb := range ahead {
		batch, err := nb.batch, nb.err
		if err != nil {
			readErr = err
			break
		}
		if failed() {
			break
		}
		n := 1
		if len(batch) > 0 && len(batch[0].Shape) > 0 {
			n = batch[0].Shape[0]
		}
		batchNo++
		if holdout > 0 && batchNo > 1 && samples >= src.Len()-holdout {
			heldout = append(heldout, batch)
			samples += n
			mu.Lock()
			task.Add(n)
			mu.Unlock()
			continue
		}
		queue <- work{batch, batchNo, n}
		samples += n
	}
	close(queue)
	wg.Wait()
	// A batch that failed comes before the reading error: run one after
	// another, it would have stopped the calibration first.
	if firstErr == nil {
		firstErr = readErr
	}
	if firstErr != nil {
		task.End(false)
		return nil, 0, nil, firstErr
	}
	task.End(true)
	return hists, samples, heldout, nil
}

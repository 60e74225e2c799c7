package calibrate

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sqc-project/sqc/internal/dataset"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/passes"
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

// DefaultSamples is the default number of calibration samples: TensorRT's
// guidance is about 500 images for ImageNet networks.
const DefaultSamples = 512

// Pass is the calibrate analysis. Its result is a *Result.
var Pass = &passes.Pass{
	Name:     "calibrate",
	Doc:      "run the graph on calibration data with the reference executor and choose an int8 range for every activation",
	Analysis: true,
	Options: []passes.Option{
		{Name: "data", Kind: passes.String, Default: "",
			Doc: "calibration data: a .npy, .npz, .pb or IDX file, an image, or a folder of images or .pb files (empty: use the cache only)"},
		{Name: "format", Kind: passes.String, Default: "auto", Enum: dataset.Formats,
			Doc: "format of the data; auto chooses from the path"},
		{Name: "samples", Kind: passes.Int, Default: int64(DefaultSamples), Min: 0, Max: 1 << 30,
			Doc: "number of samples to run (the first ones in sorted order); 0 runs them all"},
		{Name: "batch", Kind: passes.Int, Default: int64(0), Min: 0, Max: 1 << 16,
			Doc: "samples per run of the graph; 0 takes the graph's fixed batch dim, or 1"},
		{Name: "resize", Kind: passes.Int, Default: int64(0), Min: 0, Max: 1 << 16,
			Doc: "resize images so that the shorter side has this many pixels (PIL bilinear, as torchvision); 0 keeps the size"},
		{Name: "crop", Kind: passes.Int, Default: int64(0), Min: 0, Max: 1 << 16,
			Doc: "cut the central crop×crop square of each image; 0 keeps it whole"},
		{Name: "scale", Kind: passes.Float, Default: 1.0,
			Doc: "multiply every value by this first (0.00392156862745098 = 1/255 maps pixels to 0..1)"},
		{Name: "mean", Kind: passes.Strings, Default: []string{},
			Doc: "subtract after scaling: one number, or one per channel (0.485|0.456|0.406)"},
		{Name: "std", Kind: passes.Strings, Default: []string{},
			Doc: "divide after subtracting the mean: one number, or one per channel (0.229|0.224|0.225)"},
		{Name: "layout", Kind: passes.String, Default: dataset.NCHW, Enum: []string{dataset.NCHW, dataset.NHWC},
			Doc: "layout of image tensors (and the channel axis mean and std index for arrays)"},
		{Name: "channels", Kind: passes.String, Default: "auto", Enum: []string{"auto", dataset.RGB, dataset.BGR, dataset.Gray},
			Doc: "channel order of image tensors; auto follows the graph input (1 channel: gray, else rgb)"},
		{Name: "method", Kind: passes.String, Default: MethodEntropy, Enum: Methods,
			Doc: "calibrator: entropy (TensorRT's KL divergence), max, percentile or mse"},
		{Name: "percentile", Kind: passes.Float, Default: 99.99, Min: 1e-9, Max: 100,
			Doc: "percentile of |x| the percentile method keeps"},
		{Name: "cache", Kind: passes.String, Default: "",
			Doc: "calibration cache file: read when it matches the graph, data and method, else (re)written after calibrating"},
		{Name: "values", Kind: passes.String, Default: ValuesAll, Enum: []string{ValuesAll, ValuesQuantizable},
			Doc: "which values to calibrate: all float activations, or those around the ops int8 kernels run"},
		{Name: "progress", Kind: passes.Bool, Default: true,
			Doc: "report progress on standard error (a bar on a terminal, a line every 10 s otherwise)"},
	},
	Run: run,
}

func init() { passes.Register(Pass) }

// Config is what Calibrate needs; the pass builds it from its options.
type Config struct {
	// Data says what to read; an empty Path means the cache must match.
	// Its Inputs are filled from the graph.
	Data dataset.Spec
	// Method is one of Methods; Percentile is used by MethodPercentile.
	Method     string
	Percentile float64
	// Cache is the cache file's path, or empty.
	Cache string
	// Values is ValuesAll or ValuesQuantizable.
	Values string
	// Progress receives progress and notes; nil reports nothing.
	Progress io.Writer
}

func run(c *passes.Context) (any, error) {
	o := c.Options
	cfg := Config{
		Data: dataset.Spec{
			Path:   o.String("data"),
			Format: o.String("format"),
			Limit:  int(o.Int("samples")),
			Batch:  int(o.Int("batch")),
			Preprocess: dataset.Preprocess{
				Resize: int(o.Int("resize")),
				Crop:   int(o.Int("crop")),
				Scale:  float32(o.Float("scale")),
				Layout: o.String("layout"),
			},
		},
		Method:     o.String("method"),
		Percentile: o.Float("percentile"),
		Cache:      o.String("cache"),
		Values:     o.String("values"),
	}
	if ch := o.String("channels"); ch != "auto" {
		cfg.Data.Preprocess.Channels = ch
	}
	var err error
	if cfg.Data.Preprocess.Mean, err = parseFloats("mean", o.Strings("mean")); err != nil {
		return nil, err
	}
	if cfg.Data.Preprocess.Std, err = parseFloats("std", o.Strings("std")); err != nil {
		return nil, err
	}
	if o.Bool("progress") {
		cfg.Progress = Output
	}
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

// parseFloats reads a list option of numbers; an entry may itself hold
// several, separated by commas or spaces ("0.485, 0.456, 0.406").
func parseFloats(option string, items []string) ([]float32, error) {
	var out []float32
	for _, it := range items {
		for _, f := range strings.FieldsFunc(it, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			v, err := strconv.ParseFloat(f, 32)
			if err != nil {
				return nil, fmt.Errorf("option %s: %q is not a number", option, f)
			}
			out = append(out, float32(v))
		}
	}
	return out, nil
}

// Calibrate computes activation ranges for g: from the cache file when it
// matches, else by running the data through the reference executor.
func Calibrate(g *ir.Graph, cfg Config) (*Result, error) {
	if cfg.Method == "" {
		cfg.Method = MethodEntropy
	}
	if cfg.Values == "" {
		cfg.Values = ValuesAll
	}
	// An empty histogram checks the method and percentile before any work.
	if _, err := Threshold(NewHistogram(), cfg.Method, cfg.Percentile); err != nil {
		return nil, err
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
			mismatch := cache.Mismatch(cfg.Cache, graphHash, dataHash, cfg.Method, cfg.Percentile)
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
			note(cfg.Progress, "%s; calibrating again", mismatch)
		case !errors.Is(err, errNoCache):
			return nil, err
		}
	}
	if src == nil {
		return nil, errors.New("no calibration data: set the data option (a .npy, .npz, .pb or IDX file, an image, or a folder of images or .pb files), or a cache file made for this graph")
	}
	hists, samples, err := collect(g, src, selected, cfg.Progress)
	if err != nil {
		return nil, err
	}
	res := &Result{Method: cfg.Method, Ranges: make(map[string]Range, len(selected)), Samples: samples, GraphHash: graphHash, DataHash: dataHash}
	if cfg.Method == MethodPercentile {
		res.Percentile = cfg.Percentile
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
				t, _ := Threshold(h, cfg.Method, cfg.Percentile) // method checked above
				rg := Range{Amax: t, Scale: ScaleFor(t)}
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
	for i, v := range selected {
		res.Ranges[v.Name] = ranges[i]
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
	res := &Result{Method: c.Method, Percentile: c.Percentile, Ranges: make(map[string]Range, len(selected)), GraphHash: c.Graph, DataHash: c.Data, FromCache: true}
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

// collect runs every batch through the executor and folds each selected
// value into its histogram. Memory: one histogram per value, whatever the
// number of samples.
func collect(g *ir.Graph, src dataset.Source, selected []*ir.Value, out io.Writer) ([]*Histogram, int, error) {
	e, err := ref.New(g)
	if err != nil {
		return nil, 0, err
	}
	index := make(map[*ir.Value]int, len(selected))
	hists := make([]*Histogram, len(selected))
	for i, v := range selected {
		index[v] = i
		hists[i] = NewHistogram()
	}
	var obsErr error
	batchNo := 0
	var scratch []float32
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
			scratch = scratch[:0]
			for _, x := range d {
				scratch = append(scratch, float32(x))
			}
			data = scratch
		default:
			return
		}
		if err := hists[i].Add(data); err != nil {
			obsErr = fmt.Errorf("value %s, batch %d: %v", v.Name, batchNo+1, err)
		}
	}
	pr := newProgress(out, src.Len())
	samples := 0
	start := time.Now()
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
	for nb := range ahead {
		batch, err := nb.batch, nb.err
		if err != nil {
			pr.finish(false, "")
			return nil, 0, err
		}
		for k, v := range g.Inputs {
			observe(v, batch[k])
		}
		if obsErr == nil {
			if _, err := e.RunObserved(batch, observe); err != nil {
				pr.finish(false, "")
				return nil, 0, fmt.Errorf("running batch %d of the calibration data: %w", batchNo+1, err)
			}
		}
		if obsErr != nil {
			pr.finish(false, "")
			return nil, 0, obsErr
		}
		n := 1
		if len(batch) > 0 && len(batch[0].Shape) > 0 {
			n = batch[0].Shape[0]
		}
		samples += n
		batchNo++
		pr.add(n)
	}
	el := time.Since(start)
	pr.finish(true, fmt.Sprintf("calibrate: %d samples in %v (%.1f samples/s), %d values", samples, el.Round(time.Millisecond), float64(samples)/el.Seconds(), len(selected)))
	return hists, samples, nil
}

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/backend/ampere/cuda"
	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/tuning"
	"github.com/sqc-project/sqc/internal/atomicfile"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
)

func newTuneCmd() *cobra.Command {
	var (
		output, recipePath, calibData string
		batches                       []int
		iters, warmup, jobs           int
		dryRun                        bool
		data                          dataFlags
	)
	cmd := &cobra.Command{
		Use:   "tune MODEL.onnx|MODEL.sqir|ENGINE.sqe [--batch N]... -o CACHE",
		Short: "Time every GEMM kernel variant of each layer on the GPU and write a tuning cache",
		Long: `tune measures, on GPU 0, which kernel runs each GEMM and convolution layer
fastest, and writes what it found to a tuning cache that sqc compile
--tuning-cache reads. For every layer shape it times each candidate variant
(tile, pipeline stages, 16-byte stores, tap stepping) and, for a 2:4 weight,
both the sparse and the dense kernel, in place in the whole engine at each
--batch, on random inputs, with a CUDA event around every launch; the
cache keeps, per GPU, layer shape and batch, the fastest candidate and every
candidate's median time.

An engine (.sqe) is tuned as it is (its lowered graph; the kernels it
was planned with do not matter). A model is first compiled in memory as
sqc compile would, with -r (default: the built-in ` + defaultRecipe + `),
--calib-data and the preprocessing flags: give the same ones to the compile
that uses the cache. If CACHE exists, its entries of other keys are kept
and those of the same key replaced. --dry-run lists each layer's
candidates without a GPU.`,
		Example: `  sqc tune resnet34-sparse.sqe --batch 256 -o h100.cache
  sqc compile resnet34.onnx --calib-data calib.npy --tuning-cache h100.cache -o resnet34-tuned.sqe`,
		Args: oneArg("model (.onnx or .sqir) or engine (.sqe)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" && !dryRun {
				return fmt.Errorf("tune: want an output file (-o CACHE)")
			}
			for _, b := range batches {
				if b < 1 {
					return fmt.Errorf("tune: --batch %d, want at least 1", b)
				}
			}
			if iters < 1 || warmup < 0 {
				return fmt.Errorf("tune: --iters %d, --warmup %d: want iters > 0 and warmup >= 0", iters, warmup)
			}
			var cache *tuning.Cache
			if !dryRun {
				if err := atomicfile.CheckWritable(output); err != nil {
					return err
				}
				var err error
				if cache, err = readTuningCache(output, true); err != nil {
					return err
				}
			}
			g, err := tuneGraph(cmd, args[0], recipePath, calibData, &data)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if dryRun {
				for _, b := range batches {
					lines, err := ampere.TuneCandidates(g, b)
					if err != nil {
						return fmt.Errorf("%s: %w", args[0], err)
					}
					if len(batches) > 1 {
						fmt.Fprintf(w, "batch %d:\n", b)
					}
					for _, l := range lines {
						fmt.Fprintln(w, l)
					}
				}
				return nil
			}
			for _, b := range batches {
				opts := ampere.TuneOptions{Batch: b, Iters: iters, Warmup: warmup, Jobs: jobs}
				if !quiet(cmd) {
					opts.Log = func(msg string) { fmt.Fprintf(cmd.ErrOrStderr(), "sqc tune: batch %d: %s\n", b, msg) }
				}
				res, err := ampere.Tune(g, opts)
				if err != nil {
					if cuda.IsNoDevice(err) {
						return fmt.Errorf("tune: no CUDA GPU or driver here (%v)", err)
					}
					return fmt.Errorf("tune %s: %w", args[0], err)
				}
				for _, l := range res.Layers {
					if err := cache.Put(l.Entry); err != nil {
						return fmt.Errorf("tune: %w", err)
					}
				}
				if err := writeTuneTable(w, args[0], b, res); err != nil {
					return err
				}
			}
			return atomicfile.Write(output, cache.Write)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "", "the tuning cache `FILE` to write (entries of other keys in it are kept)")
	f.IntSliceVar(&batches, "batch", []int{1}, "the `N` samples a run to tune for (repeatable: one set of entries each)")
	f.IntVar(&iters, "iters", 20, "timed runs of the engine a candidate")
	f.IntVar(&warmup, "warmup", 3, "untimed runs first")
	f.IntVarP(&jobs, "jobs", "j", 0, "kernels the driver compiles at once before timing (default: one a CPU)")
	f.BoolVar(&dryRun, "dry-run", false, "list each GEMM layer's candidates (the heuristic's first) and stop; needs no GPU")
	f.StringVarP(&recipePath, "recipe", "r", "", "compile a model with the `RECIPE` first (default: the built-in "+defaultRecipe+")")
	f.StringVar(&calibData, "calib-data", "", "calibration data (`PATH`) for the recipe's data-reading steps")
	data.register(cmd)
	return cmd
}

// tuneGraph returns the lowered INT8 graph to tune: an engine's, or a
// model compiled in memory with the recipe as sqc compile would.
func tuneGraph(cmd *cobra.Command, path, recipePath, calibData string, data *dataFlags) (*ir.Graph, error) {
	if strings.EqualFold(filepath.Ext(path), ".sqe") {
		e, err := engine.ReadFile(path)
		if err != nil {
			return nil, err
		}
		g, err := ampere.Graph(e)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return g, nil
	}
	r, name, err := loadRecipe(recipePath)
	if err != nil {
		return nil, err
	}
	specs, err := r.Pipeline()
	if err != nil {
		return nil, err
	}
	if calibData != "" {
		setData(specs, calibData)
	}
	data.apply(cmd, specs)
	p, err := passes.Build(specs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	g, _, err := loadModel(path)
	if err != nil {
		return nil, err
	}
	if err := checkData(p, g, name); err != nil {
		return nil, err
	}
	if _, err := (&passes.Manager{Progress: newProgress(cmd)}).Run(g, p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// writeTuneTable prints, per layer shape, the heuristic's kernel and the
// one tuning chose, with their times, and the sums over the engine.
func writeTuneTable(w io.Writer, path string, batch int, res *ampere.TuneResult) error {
	fmt.Fprintf(w, "device: %s\n%s, batch %d: %d GEMM layer shapes, medians in µs (each shape's time is the mean over its layers)\n", res.GPU, path, batch, len(res.Layers))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYERS\tGEMM_MxNxK\tOUT\tWEIGHT\tHEURISTIC\tUS\tCHOSEN\tUS\tGAIN\tCANDIDATES")
	var heurSum, bestSum float64
	for _, l := range res.Layers {
		e := l.Entry
		heurUs, bestUs := 0.0, 0.0
		for _, t := range e.Times {
			if t.Choice == l.Heuristic {
				heurUs = t.Us
			}
			if t.Choice == e.Use {
				bestUs = t.Us
			}
		}
		n := float64(len(l.Nodes))
		heurSum += float64(heurUs * n)
		bestSum += float64(bestUs * n)
		weight := "dense"
		if e.Layer.Sparse24 {
			weight = "2:4"
		}
		names := l.Nodes[0]
		if len(l.Nodes) > 1 {
			names = fmt.Sprintf("%s (+%d)", names, len(l.Nodes)-1)
		}
		gain := "-"
		if heurUs > 0 {
			gain = fmt.Sprintf("%.2fx", heurUs/bestUs)
		}
		fmt.Fprintf(tw, "%s\t%dx%dx%d\t%s\t%s\t%s\t%.1f\t%s\t%.1f\t%s\t%d\n", names, e.Layer.M*batch, e.Layer.N, e.Layer.K, e.Layer.Out, weight,
			l.Heuristic, heurUs, e.Use, bestUs, gain, len(e.Times))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if heurSum > 0 {
		fmt.Fprintf(w, "sum over the engine's GEMM layers: heuristic %.1f µs, tuned %.1f µs (%.2fx)\n", heurSum, bestSum, heurSum/bestSum)
	}
	return nil
}

// readTuningCache reads the cache at path; a missing file is an empty
// cache when missingOK.
func readTuningCache(path string, missingOK bool) (*tuning.Cache, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && missingOK {
		return tuning.New(path), nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return tuning.Parse(path, f)
}

// tuningFlags are compile's flags that choose GEMM kernels from a tuning
// cache.
type tuningFlags struct {
	cache, gpu string
	batch      int
	// optBatch is the batch the heuristic chooses kernels for (0: the
	// throughput heuristic).
	optBatch int
	// smallBatchPlan adds the latency plan for small batches to an engine
	// planned for throughput (ampere.DefaultSmallBatchPlan).
	smallBatchPlan bool
}

func (t *tuningFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&t.cache, "tuning-cache", "", "choose each GEMM layer's kernel from the tuning cache `FILE` (sqc tune); layers it lacks use the heuristic")
	f.StringVar(&t.gpu, "tuning-gpu", "", "the GPU `NAME` whose cache entries to use (default: the cache's only GPU)")
	f.IntVar(&t.batch, "tuning-batch", 0, "the batch `N` whose cache entries to use (default: the cache's only batch for that GPU)")
	f.IntVar(&t.optBatch, "opt-batch", 0, fmt.Sprintf("the batch `N` the kernel heuristic chooses for, in layers no tuning cache decides: up to %d picks small tiles for latency (default: large batches, throughput); the engine then has that one plan", ampere.LatencyBatch))
	f.BoolVar(&t.smallBatchPlan, "small-batch-plan", true, fmt.Sprintf("give an engine planned for throughput a second plan, for batches up to %d, with the latency heuristic's kernels (--small-batch-plan=false: one plan, a smaller file)", ampere.LatencyBatch))
}

// planOptions reads the cache, if one was given, and resolves the GPU and
// batch its entries are used for.
func (t *tuningFlags) planOptions(form string) (ampere.PlanOptions, error) {
	if t.optBatch < 0 {
		return ampere.PlanOptions{}, fmt.Errorf("--opt-batch %d, want at least 1", t.optBatch)
	}
	if t.optBatch != 0 && form != "engine" {
		return ampere.PlanOptions{}, fmt.Errorf("--opt-batch chooses an engine's kernels, and the output is %s: want a .sqe output", formName(form))
	}
	if t.cache == "" {
		if t.gpu != "" || t.batch != 0 {
			return ampere.PlanOptions{}, fmt.Errorf("--tuning-gpu and --tuning-batch select a tuning cache's entries: want --tuning-cache too")
		}
		return t.withSmallBatchPlan(form, ampere.PlanOptions{OptBatch: t.optBatch}, nil, ""), nil
	}
	if form != "engine" {
		return ampere.PlanOptions{}, fmt.Errorf("--tuning-cache chooses an engine's kernels, and the output is %s: want a .sqe output", formName(form))
	}
	if t.batch < 0 {
		return ampere.PlanOptions{}, fmt.Errorf("--tuning-batch %d, want at least 1", t.batch)
	}
	c, err := readTuningCache(t.cache, false)
	if err != nil {
		return ampere.PlanOptions{}, err
	}
	gpu, batch, err := c.Target(t.gpu, t.batch)
	if err != nil {
		return ampere.PlanOptions{}, err
	}
	return t.withSmallBatchPlan(form, ampere.PlanOptions{Tuning: c, GPU: gpu, Batch: batch, OptBatch: t.optBatch}, c, gpu), nil
}

// withSmallBatchPlan adds the small-batch plan to opts where an engine is
// planned for throughput and --small-batch-plan is on. With a cache, the
// small plan takes the cache's entries for gpu at its largest batch up to
// the plan's own, if it has any; the latency heuristic otherwise.
func (t *tuningFlags) withSmallBatchPlan(form string, opts ampere.PlanOptions, c *tuning.Cache, gpu string) ampere.PlanOptions {
	if form != "engine" || t.optBatch != 0 || !t.smallBatchPlan {
		return opts
	}
	small := ampere.DefaultSmallBatchPlan()
	if c != nil {
		for _, b := range c.Batches(gpu) {
			if b <= small.OptBatch && b > small.Batch {
				small.Tuning, small.GPU, small.Batch = c, gpu, b
			}
		}
	}
	opts.SmallBatch = small
	return opts
}

// report says how the engine e used the cache; nil without one.
func (t *tuningFlags) report(opts ampere.PlanOptions, e *engine.Engine) *tuningJSON {
	if opts.Tuning == nil {
		return nil
	}
	r := &tuningJSON{Cache: t.cache, GPU: opts.GPU, Batch: opts.Batch}
	for _, s := range e.Steps {
		switch s.VariantSource {
		case ampere.SourceCache:
			r.FromCache++
		case ampere.SourceHeuristic:
			r.Heuristic++
		}
	}
	return r
}

// writeKernelReport prints each layer's GEMM kernel, its variant and
// where the choice came from (compile --report).
func writeKernelReport(w io.Writer, cr *compileReport) {
	header := false
	for _, l := range cr.Layers {
		if l.Variant == "" {
			continue
		}
		if !header {
			fmt.Fprintln(w, "report: GEMM kernel per layer (variant; chosen by the tuning cache or the heuristic)")
			header = true
		}
		fmt.Fprintf(w, "  %s: %s (%s; %s)\n", l.Name, l.Kernel, l.Variant, l.VariantSource)
	}
}

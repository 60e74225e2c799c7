package main

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/backend/ampere/cuda"
	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/internal/atomicfile"
	"github.com/sqc-project/sqc/internal/dataset"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

func newRunCmd() *cobra.Command {
	var (
		input, output string
		cpu, compare  bool
		asJSON        bool
		splitK        bool
		batch         int
		streams       int
	)
	cmd := &cobra.Command{
		Use:   "run ENGINE.sqe|MODEL.onnx|MODEL.sqir --input FILE [--output FILE.npy]",
		Short: "Run an engine on the GPU (or its graph, or any model, on the CPU with --cpu)",
		Long: `run loads an engine, reads one batch of --batch samples from --input (.npy,
.npz or ONNX TensorProto .pb files, NCHW f32) and runs it on GPU 0 through
the CUDA driver; --cpu runs the engine's lowered graph on the reference
executor instead, --compare runs both and checks that the outputs are
equal bit for bit. With --cpu, a model (.onnx or .sqir) runs on the
reference executor too. It prints each output's shape and, for 2-D outputs, the
arg max of every row; --output writes the first output as .npy.`,
		Args: oneArg("engine file (.sqe)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if streams < 1 {
				return fmt.Errorf("run: --streams %d, want at least 1", streams)
			}
			e, g, err := loadRunnable(args[0], cpu, compare)
			if err != nil {
				return err
			}
			if input == "" {
				return fmt.Errorf("run: want an input file (--input FILE.npy or .pb)")
			}
			switch ext := strings.ToLower(filepath.Ext(input)); ext {
			case ".onnx", ".sqir", ".sqe":
				return fmt.Errorf("run: --input %s is a model, want input data: a .npy, .npz or .pb file, or a folder of .pb files", input)
			}
			if batch < 1 {
				return fmt.Errorf("run: --batch %d, want at least 1", batch)
			}
			if output != "" {
				if err := atomicfile.CheckWritable(output); err != nil {
					return err
				}
			}
			src, err := dataset.Open(dataset.Spec{Path: input, Batch: batch, Inputs: dataset.InputsOf(g)})
			if err != nil {
				return err
			}
			defer src.Close()
			if n := src.Len(); n < batch {
				return fmt.Errorf("run: --batch %d, but %s holds %d samples (want --batch %d or less)", batch, input, n, n)
			}
			in, err := src.Next()
			if err == io.EOF {
				return fmt.Errorf("%s holds no samples", input)
			}
			if err != nil {
				return err // dataset's errors name the file and the sample
			}
			n := in[0].Shape[0]
			res := runResult{Engine: args[0], Input: input, Batch: n, Device: "cpu", Outputs: []runOutput{}}
			var outs, cpuOuts []*ir.Tensor
			if cpu || compare {
				if cpuOuts, err = ref.Run(g, in...); err != nil {
					return fmt.Errorf("%s: %w", args[0], err)
				}
				outs = cpuOuts
			}
			if !cpu {
				rt, err := ampere.OpenWith(e, n, ampere.OpenOptions{NoSplitK: !splitK, Streams: streams})
				if err != nil {
					if cuda.IsNoDevice(err) {
						return fmt.Errorf("run: no CUDA GPU or driver here (%v); use --cpu to run the engine's graph on the reference executor", err)
					}
					return fmt.Errorf("run: %w", err)
				}
				defer rt.Close()
				if outs, err = rt.Run(in); err != nil {
					return fmt.Errorf("run: %w", err)
				}
				res.Device = rt.Device
			}
			// With --json, the text goes nowhere and the document is
			// written at the end.
			w := cmd.OutOrStdout()
			if asJSON {
				w = io.Discard
			}
			if res.Device != "cpu" {
				fmt.Fprintf(w, "device: %s\n", res.Device)
			}
			for i, t := range outs {
				o := runOutput{Index: i, DType: t.DType.String(), Shape: t.Shape}
				if i < len(g.Outputs) {
					o.Name = g.Outputs[i].Name
				}
				fmt.Fprintf(w, "output %d: %v %v\n", i, t.DType, ir.ShapeOf(t.Shape...))
				if len(t.Shape) == 2 && t.DType == ir.Float32 {
					o.Argmax = argmax(t)
					fmt.Fprintf(w, "  argmax: %v\n", o.Argmax)
				}
				res.Outputs = append(res.Outputs, o)
			}
			if compare {
				// Outputs downstream of an approximate float kernel
				// (the float convolution, GEMM and batched MatMul, which
				// sum in their own order) may differ in the last bits:
				// those must agree within a relative 1e-5 and on every
				// row's arg max; everything else bit for bit.
				var approx []string
				for _, s := range engine.ForBatch(e, n).Steps {
					if kernels.ApproxKernels[s.Kernel] {
						approx = append(approx, s.Node)
					}
				}
				res.Compare = &runCompare{Exact: true}
				for i := range outs {
					d := diff(outs[i], cpuOuts[i])
					if d == "" {
						continue
					}
					if len(approx) == 0 || outs[i].DType != ir.Float32 {
						return fmt.Errorf("output %d: GPU and reference differ: %s", i, d)
					}
					rel := maxRelDiff(outs[i], cpuOuts[i])
					if rel > 1e-5 {
						return fmt.Errorf("output %d: GPU and reference differ by %.3g (relative above 1, absolute below; over 1e-5) after the approximate kernels of %v: %s", i, rel, approx, d)
					}
					if len(outs[i].Shape) == 2 && !slices.Equal(argmax(outs[i]), argmax(cpuOuts[i])) {
						return fmt.Errorf("output %d: the arg max differs from the reference's: %v against %v", i, argmax(outs[i]), argmax(cpuOuts[i]))
					}
					res.Compare.Exact = false
					res.Compare.MaxRelDiff = max(res.Compare.MaxRelDiff, rel)
					res.Compare.Approximate = approx
					fmt.Fprintf(w, "compare: output %d within 1e-5 (relative above 1, absolute below) of the reference and the same arg max, not bit for bit (approximate kernels: %s): %s\n", i, strings.Join(approx, ", "), d)
				}
				if res.Compare.Exact {
					fmt.Fprintf(w, "compare: GPU outputs equal the reference executor's bit for bit (%d outputs, batch %d)\n", len(outs), n)
				}
			}
			if output != "" {
				if err := atomicfile.Write(output, func(f io.Writer) error { return dataset.WriteNpy(f, outs[0]) }); err != nil {
					return err
				}
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&input, "input", "", "input `FILE` (.npy, .npz, .pb or a folder of .pb)")
	f.StringVarP(&output, "output", "o", "", "write the first output to `FILE` (.npy)")
	f.BoolVar(&cpu, "cpu", false, "run the engine's graph on the reference executor, no GPU")
	f.BoolVar(&compare, "compare", false, "run on the GPU and the reference executor and require equal outputs")
	f.IntVar(&batch, "batch", 1, "samples to read from the input")
	f.BoolVar(&asJSON, "json", false, "print the result as one JSON document")
	f.BoolVar(&splitK, "split-k", true, "let split-K steps divide K over more blocks where the grid leaves SMs idle (--split-k=false: run them unsplit)")
	f.IntVar(&streams, "streams", ampere.DefaultStreams, "run steps that depend on none of each other on up to N streams at once (--streams 1: every step in order on one)")
	return cmd
}

// runResult is `sqc run --json`.
type runResult struct {
	Engine string `json:"engine"`
	Input  string `json:"input"`
	Batch  int    `json:"batch"`
	// Device is the GPU's name, or "cpu" for --cpu.
	Device  string      `json:"device"`
	Outputs []runOutput `json:"outputs"`
	// Compare is set with --compare.
	Compare *runCompare `json:"compare,omitempty"`
}

type runOutput struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Shape []int  `json:"shape"`
	// Argmax holds each row's arg max, for 2-D float outputs.
	Argmax []int `json:"argmax,omitempty"`
}

type runCompare struct {
	// Exact is set when every output equals the reference bit for bit.
	Exact bool `json:"exact"`
	// MaxRelDiff is the largest difference of outputs downstream of
	// Approximate kernels (relative above 1, absolute below).
	MaxRelDiff  float64  `json:"max_rel_diff"`
	Approximate []string `json:"approximate_kernels,omitempty"`
}

// loadRunnable reads what sqc run runs: an engine and its graph, or, with
// --cpu, a model (.onnx or .sqir), whose engine is nil.
func loadRunnable(path string, cpu, compare bool) (*engine.Engine, *ir.Graph, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".onnx", ".sqir":
		if compare {
			return nil, nil, fmt.Errorf("run: --compare compares an engine on the GPU with its graph; %s is a model: compare models with sqc compare", path)
		}
		if !cpu {
			return nil, nil, fmt.Errorf("run: %s is a model, not an engine: run it on the reference executor with --cpu, or compile it to an engine first (sqc compile -o MODEL.sqe)", path)
		}
		g, err := loadGraph(path)
		return nil, g, err
	}
	e, err := engine.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	g, err := ampere.Graph(e)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return e, g, nil
}

func argmax(t *ir.Tensor) []int {
	rows, cols := t.Shape[0], t.Shape[1]
	out := make([]int, rows)
	v := t.Float32s()
	for r := 0; r < rows; r++ {
		for c := 1; c < cols; c++ {
			if v[r*cols+c] > v[r*cols+out[r]] {
				out[r] = c
			}
		}
	}
	return out
}

// maxRelDiff is the largest |a-b| / max(|b|, 1) over two f32 tensors of the
// same size (relative for large values, absolute below 1); any NaN mismatch
// counts as infinite.
func maxRelDiff(a, b *ir.Tensor) float64 {
	var worst float64
	for i, x := range a.Float32s() {
		y := b.Float32s()[i]
		if x != x || y != y {
			if (x != x) != (y != y) {
				return math.Inf(1)
			}
			continue
		}
		d := math.Abs(float64(x)-float64(y)) / math.Max(math.Abs(float64(y)), 1)
		worst = math.Max(worst, d)
	}
	return worst
}

// diff compares two tensors bit for bit and describes the first difference.
func diff(a, b *ir.Tensor) string {
	if a.DType != b.DType || a.Len() != b.Len() {
		return fmt.Sprintf("%v%v against %v%v", a.DType, a.Shape, b.DType, b.Shape)
	}
	bad, first := 0, -1
	for i := 0; i < a.Len(); i++ {
		var eq bool
		switch a.DType {
		case ir.Float32:
			eq = math.Float32bits(a.Float32s()[i]) == math.Float32bits(b.Float32s()[i])
		case ir.Int8:
			eq = a.Int8s()[i] == b.Int8s()[i]
		default:
			eq = a.AsFloat64(i) == b.AsFloat64(i)
		}
		if !eq {
			if first < 0 {
				first = i
			}
			bad++
		}
	}
	if bad == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d elements, first at %d: %v against %v", bad, a.Len(), first, a.AsFloat64(first), b.AsFloat64(first))
}

// engineReport is `sqc inspect ENGINE.sqe --json`; its field names are a
// public interface.
type engineReport struct {
	Engine   string `json:"engine"`
	Producer string `json:"producer"`
	Target   string `json:"target"`
	PTX      string `json:"ptx_version"`
	Kernels  int    `json:"kernels"`
	Weights  int64  `json:"weight_bytes"`
	// PTXBytes and GraphBytes are the sizes of the kernels' text and of
	// the lowered graph's .sqir text the engine carries.
	PTXBytes   int64 `json:"ptx_bytes"`
	GraphBytes int64 `json:"graph_bytes"`
	// Plans are the engine's plans for small batches (its own steps serve
	// the larger ones); Batch is inspect --batch, and Plan the one Layers
	// list: "" for the engine's own steps, else "batch ≤ N".
	Plans  []enginePlan  `json:"plans,omitempty"`
	Batch  int           `json:"batch,omitempty"`
	Plan   string        `json:"plan,omitempty"`
	Layers []engineLayer `json:"layers"`
}

type enginePlan struct {
	MaxBatch int `json:"max_batch"`
	Launches int `json:"launches"`
}

type engineLayer struct {
	Node      string `json:"node"`
	Op        string `json:"op"`
	Precision string `json:"precision"`
	Sparse    bool   `json:"sparse"`
	Kernel    string `json:"kernel"`
	Note      string `json:"note,omitempty"`
	// Variant is a GEMM kernel's tile and pipeline variant, and
	// VariantSource where the choice came from: "cache" (a tuning cache)
	// or "heuristic".
	Variant       string `json:"variant,omitempty"`
	VariantSource string `json:"variant_source,omitempty"`
	// MaxSplitK is a split-K step's most splits (the runtime picks how
	// many at Open); 0 for other steps.
	MaxSplitK int `json:"max_split_k,omitempty"`
	// Fallback is "gather" or "host" for a node on a fallback.
	Fallback string `json:"fallback,omitempty"`
	// Stream is the stream the launch runs on with the default
	// --streams (0 the runtime's own) and WaitsFor the launches (indices
	// into layers) on other streams it waits for first.
	Stream   int   `json:"stream"`
	WaitsFor []int `json:"waits_for,omitempty"`
}

// inspectEngine lists an engine's launches: one row a kernel launch, with
// the node it runs, precision, sparse or dense, and the kernel.
func inspectEngine(w io.Writer, path string, asJSON bool, batch int) error {
	if batch < 0 {
		return fmt.Errorf("inspect: --batch %d, want at least 1", batch)
	}
	file, err := engine.ReadFile(path)
	if err != nil {
		return err
	}
	// The rows: the plan a run of batch samples takes; without --batch,
	// the engine's own steps (the plan for large batches).
	e := engine.ForBatch(file, cmp.Or(batch, math.MaxInt32))
	r := engineReport{Engine: path, Producer: e.Producer, Target: e.GetTarget().GetArch(), PTX: e.GetTarget().GetPtxVersion(), Kernels: len(file.Kernels),
		Batch: batch, Plan: engine.PlanFor(file, batch)}
	for _, p := range file.Plans {
		r.Plans = append(r.Plans, enginePlan{MaxBatch: int(p.MaxBatch), Launches: len(p.Steps)})
	}
	// The header counts the file; the rows are the plan's.
	for _, wt := range file.Weights {
		r.Weights += int64(len(wt.Data))
	}
	for _, k := range file.Kernels {
		r.PTXBytes += int64(len(k.Ptx))
	}
	r.GraphBytes = int64(len(file.Graph))
	fallbacks := ampere.Fallbacks(e)
	how := map[string]string{}
	for _, f := range fallbacks {
		how[f.Node] = f.How
	}
	stream, waits, streams := ampere.StreamPlan(e, ampere.DefaultStreams)
	for i, s := range e.Steps {
		r.Layers = append(r.Layers, engineLayer{Node: s.Node, Op: s.Op, Precision: s.Precision, Sparse: s.Sparse, Kernel: s.Kernel, Note: s.Note,
			Variant: s.Variant, VariantSource: s.VariantSource, MaxSplitK: int(s.MaxSplitK), Fallback: how[s.Node],
			Stream: stream[i], WaitsFor: waits[i]})
	}
	if asJSON {
		return writeJSON(w, r)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "engine %s (%s, target %s, PTX %s): %d launches, %d kernels (%d bytes of PTX), %d bytes of weights, %d bytes of graph text\n", path, r.Producer, r.Target, r.PTX, len(r.Layers), r.Kernels, r.PTXBytes, r.Weights, r.GraphBytes)
	if len(r.Plans) > 0 {
		var plans []string
		for _, p := range r.Plans {
			plans = append(plans, fmt.Sprintf("batches up to %d: %d launches", p.MaxBatch, p.Launches))
		}
		shown := "larger batches (inspect --batch N lists the plan a batch of N runs)"
		if r.Plan != "" {
			shown = fmt.Sprintf("the plan for %s, which a batch of %d runs", r.Plan, batch)
		}
		fmt.Fprintf(tw, "plans: %s; larger batches: %d launches. The rows: %s\n", strings.Join(plans, "; "), len(file.Steps), shown)
	}
	if len(fallbacks) > 0 {
		fmt.Fprintf(tw, "fallbacks: %d nodes (%s); the NOTE column says why\n", len(fallbacks), ampere.FallbackSummary(fallbacks))
	}
	if streams > 1 {
		var side []string
		for _, l := range r.Layers {
			if l.Stream > 0 {
				side = append(side, fmt.Sprintf("%s (stream %d)", l.Node, l.Stream))
			}
		}
		fmt.Fprintf(tw, "streams: %d at run's and bench's default --streams %d; off the first stream: %s\n", streams, ampere.DefaultStreams, strings.Join(side, ", "))
	}
	fmt.Fprintln(tw, "NODE\tOP\tPRECISION\tSPARSITY\tKERNEL\tVARIANT\tNOTE")
	for _, l := range r.Layers {
		sp := "dense"
		if l.Sparse {
			sp = "2:4"
		}
		if !strings.HasPrefix(l.Kernel, "sqc_gemm") {
			sp = "-"
		}
		variant := "" // other kernels: blank, so that rows read as before
		if l.Variant != "" {
			variant = l.Variant + " (" + l.VariantSource + ")"
		}
		if l.MaxSplitK > 1 {
			variant += fmt.Sprintf(", split-K <= %d", l.MaxSplitK)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Node, l.Op, l.Precision, sp, l.Kernel, variant, l.Note)
	}
	return tw.Flush()
}

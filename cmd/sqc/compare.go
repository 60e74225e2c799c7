package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/internal/dataset"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/all"
)

// compareOptions are the flags of sqc compare.
type compareOptions struct {
	input     string
	batch     int
	seed      uint64
	bisect    bool
	threshold float64
	jsonOut   bool
	optA      bool
}

func newCompareCmd() *cobra.Command {
	var o compareOptions
	cmd := &cobra.Command{
		Use:   "compare A B [--input FILE] [--bisect]",
		Short: "Run two models (or a model and an engine's graph) on the same inputs and compare every matching tensor",
		Long: `compare runs two graphs on the reference executor with the same inputs and
reports, for each output and each intermediate tensor the two have in
common, how far B is from A. A and B are .onnx, .sqir or .sqe files (an
engine's lowered graph): typically the float model as A and what sqc
compile made of it as B.

Inputs come from --input (.npy, .npz or .pb files, as sqc run reads them;
--batch samples) or, without it, are drawn uniformly from [0, 1) with
--seed (Polygraphy's default range), the same for both graphs. An INT8
graph clips what lies outside its calibrated input range: compare on real
data (--input) for errors that mean something.

Tensors match by value name. Compiling folds BatchNormalization into the
conv before it and fuses bias, residual and activation into one node, whose
output keeps a name A gives an earlier tensor; so A first goes through the
default graph pipeline (sqc opt's, which keeps float semantics), after which
its names mean what B's do (--opt-a=false compares A as it is). A quantized value of B is compared by the real
numbers it stands for, (q - zero point) · scale, and a value that quantize
renamed X.q matches A's X. Per tensor it prints:

  max abs   the largest |B - A| over the elements
  rel       max abs divided by A's largest |value| (0.01 is 1 % of A's range)
  top-1     the share of samples whose largest element (over all but the
            batch dim: the top-1 class for logits) is at the same index

--bisect goes through B's tensors in the order B computes them and names
the first whose rel exceeds --threshold: the layer where B departs from A.
Every tensor is kept from one run of each graph, so this needs no repeated
runs. --json prints one JSON document instead.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := compareModels(args[0], args[1], &o)
			if err != nil {
				return err
			}
			if o.jsonOut {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			return writeCompare(cmd.OutOrStdout(), res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.input, "input", "", "input `FILE` (.npy, .npz, .pb or a folder of .pb); default: seeded random inputs")
	f.IntVar(&o.batch, "batch", 1, "samples per run")
	f.Uint64Var(&o.seed, "seed", 1, "seed of the random inputs")
	f.BoolVar(&o.bisect, "bisect", false, "name the first tensor of B whose rel error exceeds --threshold")
	f.Float64Var(&o.threshold, "threshold", 0.05, "the rel error (max abs error over A's largest |value|) --bisect accepts")
	f.BoolVar(&o.jsonOut, "json", false, "print the result as JSON")
	f.BoolVar(&o.optA, "opt-a", true, "run A through the default graph pipeline first, so that folded and fused tensors match B's")
	return cmd
}

// compareResult is what sqc compare reports; its JSON field names are a
// public interface.
type compareResult struct {
	A       string          `json:"a"`
	B       string          `json:"b"`
	Input   string          `json:"input"` // the file, or "random (seed S)"
	Batch   int             `json:"batch"`
	Tensors []tensorCompare `json:"tensors"` // in B's order; outputs last
	// Unmatched counts B's computed values with no counterpart in A.
	Unmatched int           `json:"unmatched"`
	Bisect    *bisectResult `json:"bisect,omitempty"`
}

// tensorCompare is one matched tensor.
type tensorCompare struct {
	Name   string  `json:"name"` // the value's name in B
	NameA  string  `json:"name_a,omitempty"`
	Node   string  `json:"node"` // B's node that computes it
	Op     string  `json:"op"`
	Output bool    `json:"output"`
	Shape  []int   `json:"shape"`
	MaxAbs float64 `json:"max_abs_error"`
	Rel    float64 `json:"rel_error"`
	Top1   float64 `json:"top1_agreement"` // a fraction of the samples
}

// bisectResult is --bisect's answer: the first tensor past the threshold
// (nil when none is), and the last one before it that stayed within.
type bisectResult struct {
	Threshold float64        `json:"threshold"`
	First     *tensorCompare `json:"first"`
	LastGood  *tensorCompare `json:"last_good,omitempty"`
}

func compareModels(pathA, pathB string, o *compareOptions) (*compareResult, error) {
	if o.batch < 1 {
		return nil, fmt.Errorf("compare: --batch %d, want at least 1", o.batch)
	}
	ga, err := loadAnyGraph(pathA)
	if err != nil {
		return nil, err
	}
	if o.optA {
		p, err := passes.Build(all.Specs(all.GraphPipeline))
		if err != nil {
			return nil, err
		}
		if _, err := (&passes.Manager{}).Run(ga, p); err != nil {
			return nil, fmt.Errorf("%s: %w", pathA, err)
		}
	}
	gb, err := loadAnyGraph(pathB)
	if err != nil {
		return nil, err
	}
	if len(ga.Inputs) != len(gb.Inputs) || len(ga.Outputs) != len(gb.Outputs) {
		return nil, fmt.Errorf("compare: %s has %d inputs and %d outputs, %s has %d and %d: want the same model before and after compiling",
			pathA, len(ga.Inputs), len(ga.Outputs), pathB, len(gb.Inputs), len(gb.Outputs))
	}
	if err := checkInputs(ga, gb); err != nil {
		return nil, err
	}
	res := &compareResult{A: pathA, B: pathB, Batch: o.batch}
	in, err := compareInputs(ga, o, res)
	if err != nil {
		return nil, err
	}
	match, unmatched := matchValues(ga, gb)
	res.Unmatched = unmatched
	outIndexB := map[*ir.Value]int{}
	for i, v := range gb.Outputs {
		outIndexB[v] = i
	}
	wantA := map[string]bool{}
	for _, a := range match {
		wantA[a] = true
	}
	kept := map[string]*realTensor{}
	ea, err := ref.New(ga)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pathA, err)
	}
	outsA, err := ea.RunObserved(in, func(v *ir.Value, t *ir.Tensor) {
		if wantA[v.Name] {
			if r := realValues(v, t); r != nil {
				kept[v.Name] = r
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pathA, err)
	}
	for i, v := range ga.Outputs {
		if kept[v.Name] == nil {
			kept[v.Name] = realValues(v, outsA[i])
		}
	}

	eb, err := ref.New(gb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pathB, err)
	}
	producer := map[*ir.Value]*ir.Node{}
	for _, n := range gb.Nodes {
		for _, v := range n.Outputs {
			producer[v] = n
		}
	}
	var outputs []tensorCompare
	_, err = eb.RunObserved(in, func(v *ir.Value, t *ir.Tensor) {
		nameA, ok := match[v.Name]
		a := kept[nameA]
		if !ok || a == nil {
			return
		}
		b := realValues(v, t)
		if b == nil || !slices.Equal(a.shape, b.shape) {
			return
		}
		n := producer[v]
		c := tensorCompare{Name: v.Name, Node: n.Name, Op: n.Op, Shape: b.shape}
		if nameA != v.Name {
			c.NameA = nameA
		}
		c.MaxAbs, c.Rel, c.Top1 = compareReal(a, b)
		if _, out := outIndexB[v]; out {
			c.Output = true
			outputs = append(outputs, c)
			return
		}
		res.Tensors = append(res.Tensors, c)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pathB, err)
	}
	res.Tensors = append(res.Tensors, outputs...)
	if o.bisect {
		res.Bisect = &bisectResult{Threshold: o.threshold}
		for i := range res.Tensors {
			c := &res.Tensors[i]
			if c.Rel > o.threshold {
				res.Bisect.First = c
				break
			}
			res.Bisect.LastGood = c
		}
	}
	return res, nil
}

// compareInputs reads --input, or draws seeded random inputs, for A's
// inputs; it records in res what they are.
func compareInputs(ga *ir.Graph, o *compareOptions, res *compareResult) ([]*ir.Tensor, error) {
	if o.input == "" {
		res.Input = fmt.Sprintf("random (seed %d)", o.seed)
		return randomInputs(ga, o.batch, o.seed)
	}
	res.Input = o.input
	src, err := dataset.Open(dataset.Spec{Path: o.input, Batch: o.batch, Inputs: dataset.InputsOf(ga)})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	in, err := src.Next()
	if err == io.EOF {
		return nil, fmt.Errorf("%s holds no samples", o.input)
	}
	if err != nil {
		return nil, err
	}
	res.Batch = in[0].Shape[0]
	return in, nil
}

// matchValues pairs the values B's nodes compute with A's, by name: B's
// outputs with A's in order, a value with A's of the same name, and a
// quantized X.q (quantize's name) with A's X. It returns B's name -> A's
// name, and how many of B's values have no counterpart.
func matchValues(ga, gb *ir.Graph) (map[string]string, int) {
	namesA := map[string]bool{}
	for _, n := range ga.Nodes {
		for _, v := range n.Outputs {
			if v != nil {
				namesA[v.Name] = true
			}
		}
	}
	outIndexB := map[*ir.Value]int{}
	for i, v := range gb.Outputs {
		outIndexB[v] = i
	}
	match := map[string]string{}
	unmatched := 0
	for _, n := range gb.Nodes {
		for _, v := range n.Outputs {
			if v == nil {
				continue
			}
			if i, ok := outIndexB[v]; ok {
				match[v.Name] = ga.Outputs[i].Name
			} else if namesA[v.Name] {
				match[v.Name] = v.Name
			} else if base, ok := strings.CutSuffix(v.Name, ".q"); ok && v.Quant != nil && namesA[base] {
				match[v.Name] = base
			} else {
				unmatched++
			}
		}
	}
	return match, unmatched
}

// loadAnyGraph reads a model (.onnx, .sqir) or an engine's graph (.sqe).
func loadAnyGraph(path string) (*ir.Graph, error) {
	if strings.ToLower(filepath.Ext(path)) != ".sqe" {
		return loadGraph(path)
	}
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

// randomInputs draws one tensor per graph input uniformly from [0, 1),
// symbolic dims taking the batch size.
func randomInputs(g *ir.Graph, batch int, seed uint64) ([]*ir.Tensor, error) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	ts := make([]*ir.Tensor, len(g.Inputs))
	for i, v := range g.Inputs {
		if v.Type.DType != ir.Float32 {
			return nil, fmt.Errorf("input %s is %v: random inputs are f32 only; give --input FILE", v.Name, v.Type)
		}
		dims := make([]int, v.Type.Shape.Rank())
		for j, d := range v.Type.Shape {
			dims[j] = int(d.Size)
			if !d.Known() {
				dims[j] = batch
			}
		}
		t := ir.NewTensor(ir.Float32, dims...)
		for k := range t.Float32s() {
			t.Float32s()[k] = rng.Float32()
		}
		ts[i] = t
	}
	return ts, nil
}

// checkInputs requires B's inputs to take what A's do. Layouts need no
// conversion: the reference executor keeps every tensor in logical order,
// whatever layout a value declares for the GPU.
func checkInputs(ga, gb *ir.Graph) error {
	for i, va := range ga.Inputs {
		vb := gb.Inputs[i]
		if va.Type.DType != vb.Type.DType || !va.Type.Shape.Equal(vb.Type.Shape) {
			return fmt.Errorf("compare: input %d is %s %v in A but %s %v in B: want the same inputs", i, va.Name, va.Type, vb.Name, vb.Type)
		}
	}
	return nil
}

// realTensor is a tensor's real values.
type realTensor struct {
	shape []int
	data  []float64
}

// realValues reads a float tensor, or a quantized one as the reals it
// stands for. It returns nil for other tensors (shapes, indices, an integer
// without scale).
func realValues(v *ir.Value, t *ir.Tensor) *realTensor {
	if t == nil {
		return nil
	}
	isFloat := t.DType == ir.Float32 || t.DType == ir.Float16 || t.DType == ir.Float64
	if !isFloat && v.Quant == nil {
		return nil
	}
	r := &realTensor{shape: append([]int(nil), t.Shape...), data: make([]float64, t.Len())}
	q := v.Quant
	stride := 1
	if q != nil && !q.PerTensor() {
		for _, d := range t.Shape[q.Axis+1:] {
			stride *= d
		}
	}
	for i := range r.data {
		x := t.AsFloat64(i)
		if q != nil {
			c := 0
			if !q.PerTensor() {
				c = (i / stride) % t.Shape[q.Axis]
			}
			x = (x - float64(q.ZeroPoint[c])) * float64(q.Scale[c])
		}
		r.data[i] = x
	}
	return r
}

// compareReal measures b against a: the largest absolute difference, that
// over a's largest magnitude, and the share of samples (dim 0) whose arg
// max over the remaining elements agrees. A NaN on one side only makes the
// errors infinite.
func compareReal(a, b *realTensor) (maxAbs, rel, top1 float64) {
	var scale float64
	for i, x := range a.data {
		y := b.data[i]
		if math.IsNaN(x) != math.IsNaN(y) {
			maxAbs = math.Inf(1)
		} else if !math.IsNaN(x) {
			maxAbs = math.Max(maxAbs, math.Abs(x-y))
		}
		scale = math.Max(scale, math.Abs(x))
	}
	switch {
	case maxAbs == 0:
		rel = 0
	case scale == 0:
		rel = math.Inf(1)
	default:
		rel = maxAbs / scale
	}
	samples := 1
	if len(a.shape) > 1 {
		samples = a.shape[0]
	}
	if samples == 0 || len(a.data) == 0 {
		return maxAbs, rel, 1
	}
	per := len(a.data) / samples
	agree := 0
	for s := 0; s < samples; s++ {
		if argmaxOf(a.data[s*per:(s+1)*per]) == argmaxOf(b.data[s*per:(s+1)*per]) {
			agree++
		}
	}
	return maxAbs, rel, float64(agree) / float64(samples)
}

func argmaxOf(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func writeCompare(w io.Writer, r *compareResult) error {
	fmt.Fprintf(w, "A %s\nB %s\ninput %s, batch %d\n\n", r.A, r.B, r.Input, r.Batch)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENSOR (B)\tNODE\tOP\tMAX ABS\tREL\tTOP-1")
	for _, c := range r.Tensors {
		name := c.Name
		if c.Output {
			name = "output " + name
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.4g\t%.4g\t%.0f%%\n", name, c.Node, c.Op, c.MaxAbs, c.Rel, 100*c.Top1)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d tensors matched by name, %d of B's values have no counterpart in A\n", len(r.Tensors), r.Unmatched)
	if b := r.Bisect; b != nil {
		switch {
		case b.First == nil:
			fmt.Fprintf(w, "bisect: every matched tensor stays within rel %g\n", b.Threshold)
		case b.LastGood == nil:
			fmt.Fprintf(w, "bisect: B departs from A at its first matched tensor, %s (node %s, %s): rel %.4g > %g\n", b.First.Name, b.First.Node, b.First.Op, b.First.Rel, b.Threshold)
		default:
			fmt.Fprintf(w, "bisect: B departs from A at %s (node %s, %s): rel %.4g > %g; the tensor before it, %s (node %s), is within (rel %.4g)\n",
				b.First.Name, b.First.Node, b.First.Op, b.First.Rel, b.Threshold, b.LastGood.Name, b.LastGood.Node, b.LastGood.Rel)
		}
	}
	return nil
}

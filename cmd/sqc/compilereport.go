package main

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/calibrate"
	"github.com/sqc-project/sqc/passes/prune"
)

// compileReport is what a compile did: `sqc compile --json` prints it, and
// the one-line summary on stderr is its short form. Field names are a public
// interface (README, "JSON output").
type compileReport struct {
	Model   string  `json:"model"`
	Recipe  string  `json:"recipe"`
	Output  string  `json:"output"`
	Form    string  `json:"form"` // "onnx", "sqir" or "engine"
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	// Layers are the nodes that compute dot products (Conv, Gemm, MatMul
	// and their fused and quantized forms), in graph order.
	Layers []compileLayer `json:"layers"`
	Totals layerTotals    `json:"totals"`
	// Calibration is how activation ranges were chosen; absent when the
	// pipeline did not calibrate.
	Calibration *calibrationJSON `json:"calibration,omitempty"`
	// Warnings are the warnings the compile printed (silent no-ops).
	Warnings []string `json:"warnings"`
	// Tuning says which tuning cache chose the engine's GEMM kernels;
	// absent without --tuning-cache.
	Tuning *tuningJSON `json:"tuning,omitempty"`
	// SmallBatchPlans lists the largest batch of each plan an engine has
	// besides its own steps (sqc compile's small-batch plan: [8]).
	SmallBatchPlans []int `json:"small_batch_plans,omitempty"`
}

// tuningJSON is how a compile used its tuning cache.
type tuningJSON struct {
	Cache string `json:"cache"`
	GPU   string `json:"gpu"`
	Batch int    `json:"batch"`
	// FromCache and Heuristic count the GEMM layers whose kernel came
	// from the cache and from the heuristic.
	FromCache int `json:"from_cache"`
	Heuristic int `json:"heuristic"`
}

type compileLayer struct {
	Name string `json:"name"`
	Op   string `json:"op"`
	// Precision is "int8" (int8 in and out), "int8->f32" (int8 in, float
	// out), "int8 (Q/DQ)" (quantized, not yet lowered to an int8 op) or
	// "f32".
	Precision string `json:"precision"`
	// Sparsity is "2:4" (the weight carries the claim the sparse kernels
	// read), another N:M a recipe asked for, or "dense"; Why is the prune pass's note ("2:4 (magnitude, kept
	// 69.8% of |w|)", "dense: first layer (first-layer = skip)") or what
	// the weights show when no prune step ran.
	Sparsity string `json:"sparsity"`
	Why      string `json:"why,omitempty"`
	// Input is the quantization of the layer's activation input.
	Input *activationJSON `json:"input,omitempty"`
	// Kernel and KernelNote are the engine's GEMM (or other) kernel for the
	// layer and why it was chosen; engines only.
	Kernel     string `json:"kernel,omitempty"`
	KernelNote string `json:"kernel_note,omitempty"`
	// Variant is a GEMM kernel's tile and pipeline variant and
	// VariantSource where it came from: "cache" (--tuning-cache) or
	// "heuristic"; engines only.
	Variant       string `json:"variant,omitempty"`
	VariantSource string `json:"variant_source,omitempty"`
	// Fallback is set when the engine runs the layer on a float fallback
	// kernel.
	Fallback bool `json:"fallback,omitempty"`
}

// activationJSON is the int8 quantization of one activation.
type activationJSON struct {
	Value string  `json:"value"`
	Scale float32 `json:"scale"`
	// Amax is the clipping threshold: [-amax, amax] maps onto [-127, 127].
	Amax float32 `json:"amax"`
	// Method is the calibrator that chose Amax, or "model" for scales the
	// model brought (QAT's Q/DQ).
	Method string `json:"method"`
	// Min and Max are the observed extremes, when calibration ran on data
	// (not from a cache).
	Min *float32 `json:"min,omitempty"`
	Max *float32 `json:"max,omitempty"`
}

type calibrationJSON struct {
	Method      string  `json:"method"`
	InputMethod string  `json:"input_method"`
	Percentile  float64 `json:"percentile,omitempty"`
	Samples     int     `json:"samples"`
	FromCache   bool    `json:"from_cache"`
	Values      int     `json:"values"`
}

type layerTotals struct {
	Layers int `json:"layers"`
	// Sparse counts the layers whose weight is 2:4 (other patterns run
	// dense).
	Sparse int `json:"sparse"`
	Int8   int `json:"int8"`
	Float  int `json:"float"`
	// Fallback counts layers on float fallback kernels; engines only.
	Fallback *int `json:"fallback,omitempty"`
}

// layerOps are the ops a compile report lists: those that compute dot
// products, in every form a pipeline leaves them.
var layerOps = map[string]bool{
	"Conv": true, "ConvTranspose": true, "Gemm": true, "MatMul": true, "FusedConv": true, "FusedGemm": true,
	"QConv": true, "QGemm": true, "ConvInteger": true, "QLinearConv": true, "MatMulInteger": true, "QLinearMatMul": true,
}

// newCompileReport describes the compiled graph g. rep is the pipeline's
// report (for the calibration result); e is the engine when one was
// written.
func newCompileReport(g *ir.Graph, rep *passes.Report, e *engine.Engine) *compileReport {
	r := &compileReport{Layers: []compileLayer{}, Warnings: []string{}}
	var cal *calibrate.Result
	if rep != nil {
		cal, _ = rep.Results[calibrate.Pass.Name].(*calibrate.Result)
	}
	if cal != nil {
		r.Calibration = &calibrationJSON{Method: cal.Method, InputMethod: cal.InputMethod, Percentile: cal.Percentile,
			Samples: cal.Samples, FromCache: cal.FromCache, Values: len(cal.Ranges)}
	}
	steps := map[string][]*engine.Step{}
	if e != nil {
		for _, s := range e.Steps {
			steps[s.Node] = append(steps[s.Node], s)
		}
		r.Totals.Fallback = new(int)
		for _, p := range e.Plans {
			r.SmallBatchPlans = append(r.SmallBatchPlans, int(p.MaxBatch))
		}
	}
	why := sparsityTexts(g)
	producers := g.Producers()
	inputNames := map[string]bool{}
	for _, v := range g.Inputs {
		inputNames[v.Name] = true
	}
	for _, n := range g.Nodes {
		if !layerOps[n.Op] {
			continue
		}
		l := compileLayer{Name: n.Name, Op: n.Op, Precision: precisionOf(n, producers), Sparsity: "dense", Why: why[n.Name]}
		if s := weightSparsity(n, producers); s != nil {
			l.Sparsity = fmt.Sprintf("%d:%d", s.N, s.M)
		}
		l.Input = activationOf(n.Input(0), producers, inputNames, cal)
		for _, s := range steps[n.Name] {
			// The GEMM is the layer's kernel; an im2col before it is not.
			if l.Kernel == "" || strings.HasPrefix(s.Kernel, "sqc_gemm") {
				l.Kernel, l.KernelNote = s.Kernel, s.Note
				l.Variant, l.VariantSource = s.Variant, s.VariantSource
			}
			l.Fallback = l.Fallback || strings.Contains(s.Note, "fallback")
		}
		r.Layers = append(r.Layers, l)
		r.Totals.Layers++
		if l.Sparsity == "2:4" {
			r.Totals.Sparse++
		}
		if strings.HasPrefix(l.Precision, "int8") {
			r.Totals.Int8++
		} else {
			r.Totals.Float++
		}
		if l.Fallback {
			*r.Totals.Fallback++
		}
	}
	return r
}

// sparsityTexts maps layer names to what the prune pass noted, or, for
// layers without a note, to what their weights show.
func sparsityTexts(g *ir.Graph) map[string]string {
	texts := map[string]string{}
	for _, n := range g.Nodes {
		if note, ok := n.Notes[prune.NoteKey]; ok {
			texts[n.Name] = note
		}
	}
	for _, d := range prune.Detect(g, 2, 4) {
		if _, ok := texts[d.Node]; !ok {
			texts[d.Node] = d.Text
		}
	}
	return texts
}

// precisionOf says in which precision a layer computes.
func precisionOf(n *ir.Node, producers map[*ir.Value]*ir.Node) string {
	switch n.Op {
	case "QConv", "QGemm", "QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger":
		if out := n.Outputs[0]; out != nil && out.Type.DType == ir.Float32 {
			return "int8->f32"
		}
		return "int8"
	}
	dq := func(v *ir.Value) bool { p := producers[v]; return p != nil && p.Op == "DequantizeLinear" }
	if dq(n.Input(0)) && dq(n.Input(1)) {
		return "int8 (Q/DQ)"
	}
	return "f32"
}

// weightSparsity returns the N:M claim of a layer's weight, looking through
// a DequantizeLinear (quantize moves the claim to the int8 weight).
func weightSparsity(n *ir.Node, producers map[*ir.Value]*ir.Node) *ir.Sparsity {
	w := n.Input(1)
	if w == nil {
		return nil
	}
	if p := producers[w]; p != nil && p.Op == "DequantizeLinear" {
		w = p.Input(0)
	}
	if w == nil {
		return nil
	}
	return w.Sparsity
}

// activationOf describes the quantization of a layer's input x, with the
// calibrated range it came from where cal has one.
func activationOf(x *ir.Value, producers map[*ir.Value]*ir.Node, graphInputs map[string]bool, cal *calibrate.Result) *activationJSON {
	if x == nil {
		return nil
	}
	q := x.Quant
	// A Q/DQ layer reads the DequantizeLinear's float output; the
	// quantization is on the QuantizeLinear's.
	if p := producers[x]; q == nil && p != nil && p.Op == "DequantizeLinear" && p.Input(0) != nil {
		q = p.Input(0).Quant
	}
	if q == nil || len(q.Scale) != 1 {
		return nil
	}
	a := &activationJSON{Value: x.Name, Scale: q.Scale[0], Amax: 127 * q.Scale[0], Method: "model"}
	if cal == nil {
		return a
	}
	// The float value the int8 one stands for: the input of the
	// QuantizeLinear that made it, or, for an int8 layer's output, the
	// name quantize gave it ("x.q" for x), looking through pad-channels'
	// Pad and space-to-depth's SpaceToDepth in front of a stem (they move
	// the codes, not their scale).
	origin := ""
	for v, hops := x, 0; v != nil && hops < 5 && origin == ""; hops++ {
		for _, name := range []string{v.Name, strings.TrimSuffix(v.Name, ".q")} {
			if _, ok := cal.Ranges[name]; ok && origin == "" {
				origin = name
			}
		}
		p := producers[v]
		moved := p != nil && (p.Op == "Pad" && strings.HasSuffix(p.Name, "/pad_channels") ||
			p.Op == "SpaceToDepth" && strings.HasSuffix(p.Name, "/space_to_depth"))
		if p == nil || (p.Op != "QuantizeLinear" && p.Op != "DequantizeLinear" && !moved) {
			break
		}
		v = p.Input(0)
	}
	if origin == "" {
		return a
	}
	rg := cal.Ranges[origin]
	a.Value, a.Method = origin, cal.Method
	if graphInputs[origin] {
		a.Method = cal.InputMethod
	}
	if rg.Method != "" {
		// The calibrator that chose this range: method auto's choice.
		a.Method = rg.Method
	}
	if !cal.FromCache && !math.IsInf(float64(rg.Min), 0) {
		a.Min, a.Max = &rg.Min, &rg.Max
	}
	return a
}

// summary is the one line a successful compile prints on stderr.
func (r *compileReport) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s, %s, %d layers (%d 2:4 sparse, %d INT8, %d float", r.Output, formName(r.Form), formatBytes(r.Bytes), r.Totals.Layers, r.Totals.Sparse, r.Totals.Int8, r.Totals.Float)
	if r.Totals.Fallback != nil {
		fmt.Fprintf(&b, ", %d on float fallback kernels", *r.Totals.Fallback)
	}
	b.WriteString(")")
	if t := r.Tuning; t != nil {
		fmt.Fprintf(&b, ", GEMM kernels: %d from the tuning cache, %d by the heuristic", t.FromCache, t.Heuristic)
	}
	for _, m := range r.SmallBatchPlans {
		fmt.Fprintf(&b, ", a second plan for batches up to %d", m)
	}
	fmt.Fprintf(&b, ", compiled in %s", formatSeconds(r.Seconds))
	return b.String()
}

func formName(form string) string {
	switch form {
	case "onnx":
		return "ONNX"
	case "sqir":
		return "sqc IR text"
	}
	return form
}

// formatBytes writes a size in B, KiB, MiB or GiB with three digits.
func formatBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.3g %s", v, units[i])
}

func formatSeconds(s float64) string {
	if s < 10 {
		return fmt.Sprintf("%.2f s", s)
	}
	return fmt.Sprintf("%.1f s", s)
}

// since is the time from start in seconds, rounded to milliseconds.
func since(start time.Time) float64 {
	return math.Round(time.Since(start).Seconds()*1000) / 1000
}

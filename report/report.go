// Package report writes the visual compile report: one self-contained HTML
// page (inline CSS and SVG, no script, nothing fetched when it is viewed)
// that shows a compiled graph as a diagram coloured by precision and
// sparsity, a table of its layers (MACs, 2:4 or dense and why, INT8 scales,
// GPU kernel), the calibration histogram of each quantized tensor with the
// range every calibrator would pick from it, and the accuracy sqc eval
// measured. sqc compile --report-html and sqc report write it.
package report

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes/calibrate"
	"github.com/sqc-project/sqc/passes/prune"
)

// Page is what a report shows. Graph is required; the rest is shown when
// present.
type Page struct {
	// Title names the subject, typically the output file.
	Title string
	// Facts are short "key: value" lines under the title (model, recipe).
	Facts [][2]string
	// Graph is the graph the report describes (a compiled one, or an
	// engine's lowered graph). Its symbolic dims should be bound (batch 1)
	// for MACs to be counted.
	Graph *ir.Graph
	// Engine, when the graph is an engine's, gives each layer's kernels.
	Engine *engine.Engine
	// Calibration is the calibrate step's result, with histograms when it
	// was computed in this process (not read from a cache).
	Calibration *calibrate.Result
	// Accuracy is what sqc eval measured, if given.
	Accuracy *Accuracy
}

// Accuracy is sqc eval's result: top-1 (and top-5) in percent per model.
type Accuracy struct {
	Images, Classes int
	Rows            []AccuracyRow
}

// AccuracyRow is one model's score; Top5 is nil when not measured.
type AccuracyRow struct {
	Name string
	Top1 float64
	Top5 *float64
}

// Precision classes, which the diagram and table colour.
const (
	classInt8     = "int8"     // runs on int8 data (QConv, QGemm, int8 data movement)
	classConvert  = "convert"  // quantize, dequantize, layout changes
	classFloat    = "float"    // float work in a float graph
	classFallback = "fallback" // a weighted layer left in float in an INT8 graph
)

// layer is one row of the table and one box of the diagram.
type layer struct {
	node      *ir.Node
	macs      int64
	precision string // as shown: "int8", "int8→f32", "f32"
	class     string
	sparse    bool
	sparsity  string // "2:4 (...)" or "dense: why"; "" when not a candidate
	scales    string
	kernels   []string
	notes     []string // engine notes
}

// layers classifies every node of the page's graph.
func (p *Page) layers() []*layer {
	g := p.Graph
	steps := map[string][]*engine.Step{}
	if p.Engine != nil {
		for _, s := range p.Engine.Steps {
			steps[s.Node] = append(steps[s.Node], s)
		}
	}
	quantized := false
	for _, n := range g.Nodes {
		if isInt8Op(n) {
			quantized = true
			break
		}
	}
	// A graph no prune step annotated (a model as exported) shows what its
	// weights are, as sqc inspect does.
	detected := map[*ir.Node]prune.Detected{}
	annotated := false
	for _, n := range g.Nodes {
		if _, ok := n.Notes[prune.NoteKey]; ok {
			annotated = true
			break
		}
	}
	if !annotated {
		byName := map[string]*ir.Node{}
		for _, n := range g.Nodes {
			byName[n.Name] = n
		}
		for _, d := range prune.Detect(g, 2, 4) {
			if n := byName[d.Node]; n != nil {
				detected[n] = d
			}
		}
	}
	var out []*layer
	for _, n := range g.Nodes {
		l := &layer{node: n, macs: ir.MACs(n)}
		if d, ok := detected[n]; ok {
			l.sparsity, l.sparse = d.Text, d.Sparse
		}
		l.precision, l.class = precisionOf(n, quantized)
		for _, s := range steps[n.Name] {
			l.kernels = append(l.kernels, s.Kernel)
			if s.Note != "" {
				l.notes = append(l.notes, s.Note)
			}
			if s.Precision != "" {
				l.precision = strings.ReplaceAll(s.Precision, "->", "→")
			}
			l.sparse = l.sparse || s.Sparse
		}
		if note, ok := n.Notes[prune.NoteKey]; ok {
			l.sparsity = note
			l.sparse = l.sparse || strings.HasPrefix(note, "2:4")
		}
		if w := n.Input(1); w != nil && w.Sparsity != nil {
			l.sparse = true
			if l.sparsity == "" {
				l.sparsity = "2:4 (claimed by the weight)"
			}
		}
		if p, ok := n.Notes[prune.PermuteNoteKey]; ok {
			l.sparsity += " [permute: " + p + "]"
		}
		l.scales = scalesOf(n)
		out = append(out, l)
	}
	return out
}

func isInt8Op(n *ir.Node) bool {
	switch n.Op {
	case "QConv", "QGemm", "ConvInteger", "MatMulInteger", "QLinearConv", "QLinearMatMul":
		return true
	}
	return false
}

// precisionOf says what a node computes on, from its types.
func precisionOf(n *ir.Node, quantizedGraph bool) (shown, class string) {
	in, out := ir.Float32, ir.Float32
	if x := n.Input(0); x != nil {
		in = x.Type.DType
	}
	if len(n.Outputs) > 0 && n.Outputs[0] != nil {
		out = n.Outputs[0].Type.DType
	}
	switch {
	case n.Op == "QuantizeLinear" || n.Op == "DequantizeLinear" || n.Op == "Relayout":
		return short(in) + "→" + short(out), classConvert
	case isInt8Op(n) || in == ir.Int8 || in == ir.Uint8:
		if in == out {
			return short(out), classInt8
		}
		return short(in) + "→" + short(out), classInt8
	case quantizedGraph && ir.MACs(n) != 0:
		return short(out), classFallback
	}
	return short(out), classFloat
}

// short names a dtype as engines name precisions: int8, f32.
func short(d ir.DType) string {
	switch d {
	case ir.Int8:
		return "int8"
	case ir.Uint8:
		return "uint8"
	}
	return d.String()
}

// scalesOf summarises the quantization of a node's activation input, weight
// and output: "in 0.0079 · w 0.0012…0.0051 (16 ch) · out 0.027".
func scalesOf(n *ir.Node) string {
	var parts []string
	add := func(what string, v *ir.Value) {
		if v == nil || v.Quant == nil || len(v.Quant.Scale) == 0 {
			return
		}
		s := v.Quant.Scale
		if len(s) == 1 {
			parts = append(parts, fmt.Sprintf("%s %.3g", what, s[0]))
			return
		}
		lo, hi := s[0], s[0]
		for _, x := range s {
			lo, hi = min(lo, x), max(hi, x)
		}
		parts = append(parts, fmt.Sprintf("%s %.3g…%.3g (%d ch)", what, lo, hi, len(s)))
	}
	add("in", n.Input(0))
	if isInt8Op(n) {
		add("w", n.Input(1))
	}
	if len(n.Outputs) > 0 {
		add("out", n.Outputs[0])
	}
	return strings.Join(parts, " · ")
}

// histogramEntry is one calibrated tensor the page draws.
type histogramEntry struct {
	name   string // the calibrated (float) value
	shown  string // the quantized value it became, when renamed
	hist   *calibrate.Histogram
	chosen calibrate.Range
	picks  []pick
}

// pick is what one calibrator chooses from a histogram.
type pick struct {
	method string
	amax   float32
}

// histograms lists the quantized tensors' histograms in graph order: each
// value with quantization parameters whose float original (the same name,
// or the name before quantize's ".q") was calibrated. A graph with no
// quantized value shows every calibrated one.
func (p *Page) histograms() []histogramEntry {
	c := p.Calibration
	if c == nil || c.Histograms == nil {
		return nil
	}
	pct := c.Percentile
	if pct == 0 {
		pct = 99.99
	}
	entry := func(name, shown string) histogramEntry {
		h := c.Histograms[name]
		e := histogramEntry{name: name, shown: shown, hist: h, chosen: c.Ranges[name]}
		for _, m := range []string{calibrate.MethodMax, calibrate.MethodPercentile, calibrate.MethodEntropy, calibrate.MethodMSE} {
			t, err := calibrate.Threshold(h, m, pct)
			if err == nil {
				e.picks = append(e.picks, pick{method: m, amax: t})
			}
		}
		return e
	}
	var out []histogramEntry
	seen := map[string]bool{}
	visit := func(v *ir.Value) {
		if v == nil || v.Quant == nil || v.IsConst() {
			return
		}
		name := v.Name
		if c.Histograms[name] == nil {
			name = strings.TrimSuffix(name, ".q")
		}
		if c.Histograms[name] == nil || seen[name] {
			return
		}
		seen[name] = true
		shown := ""
		if name != v.Name {
			shown = v.Name
		}
		out = append(out, entry(name, shown))
	}
	for _, n := range p.Graph.Nodes {
		for _, v := range n.Outputs {
			visit(v)
		}
	}
	if len(out) > 0 {
		return out
	}
	names := make([]string, 0, len(c.Histograms))
	for n := range c.Histograms {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, entry(n, ""))
	}
	return out
}

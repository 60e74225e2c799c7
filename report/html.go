package report

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"strings"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref/fmath"
	"github.com/sqc-project/sqc/passes/calibrate"
)

// Write writes the page as one self-contained HTML document.
func Write(w io.Writer, p *Page) error {
	if p.Graph == nil {
		return fmt.Errorf("report: no graph to report")
	}
	bw := bufio.NewWriter(w)
	layers := p.layers()
	hists := p.histograms()
	e := html.EscapeString

	fmt.Fprintf(bw, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>sqc report: %s</title>\n<style>%s</style>\n</head>\n<body>\n", e(p.Title), css)
	fmt.Fprintf(bw, "<h1>sqc report: %s</h1>\n<table class=\"facts\">\n", e(p.Title))
	for _, f := range p.Facts {
		fmt.Fprintf(bw, "<tr><th>%s</th><td>%s</td></tr>\n", e(f[0]), e(f[1]))
	}
	fmt.Fprint(bw, "</table>\n")
	writeSummary(bw, layers)
	if a := p.Accuracy; a != nil {
		writeAccuracy(bw, a)
	}

	fmt.Fprint(bw, "<h2 id=\"graph\">Graph</h2>\n")
	fmt.Fprint(bw, legend)
	bw.WriteString(graphSVG(p.Graph, layers))

	fmt.Fprint(bw, "\n<h2 id=\"layers\">Layers</h2>\n<div class=\"scroll\"><table class=\"layers\">\n<thead><tr><th>#</th><th>node</th><th>op</th><th>precision</th><th>MACs</th><th>2:4 or dense, and why</th><th>INT8 scales</th><th>kernel</th></tr></thead>\n<tbody>\n")
	for i, l := range layers {
		kernel := strings.Join(l.kernels, ", ")
		if len(l.notes) > 0 {
			kernel += " (" + strings.Join(l.notes, "; ") + ")"
		}
		if kernel == "" {
			kernel = "–"
		}
		fmt.Fprintf(bw, "<tr class=\"%s\"><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td class=\"num\">%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
			l.class, i, e(l.node.Name), e(l.node.Op), e(l.precision), macsText(l.macs), e(l.sparsity), e(l.scales), e(kernel))
	}
	fmt.Fprint(bw, "</tbody>\n</table></div>\n")

	fmt.Fprint(bw, "<h2 id=\"calibration\">Calibration</h2>\n")
	switch {
	case p.Calibration == nil:
		fmt.Fprint(bw, "<p class=\"note\">No calibration ran for this report: histograms are drawn when sqc compile --report-html (or sqc report MODEL with --calib-data) calibrates.</p>\n")
	case len(hists) == 0:
		fmt.Fprint(bw, "<p class=\"note\">The calibration ranges came from a cache file, which keeps no histograms: compile without the cache to see them.</p>\n")
	default:
		c := p.Calibration
		fmt.Fprintf(bw, "<p>%d samples; the recipe's calibrator: <b>%s</b> (graph inputs: %s). Each histogram is of |x| (log-scale counts); the lines mark the range each calibrator would pick, the thick one the range used.</p>\n",
			c.Samples, e(c.Method), e(c.InputMethod))
		fmt.Fprint(bw, "<div class=\"hists\">\n")
		for _, h := range hists {
			writeHistogram(bw, h)
		}
		fmt.Fprint(bw, "</div>\n")
	}
	fmt.Fprint(bw, "</body>\n</html>\n")
	return bw.Flush()
}

func writeSummary(w io.Writer, layers []*layer) {
	count := map[string]int{}
	var macs, sparseMACs int64
	candidates, sparse := 0, 0
	for _, l := range layers {
		count[l.class]++
		if l.macs > 0 {
			macs += l.macs
			if l.sparse {
				sparseMACs += l.macs
			}
		}
		if l.sparsity != "" {
			candidates++
			if l.sparse {
				sparse++
			}
		}
	}
	fmt.Fprintf(w, "<p class=\"summary\" id=\"summary\">%d nodes: <span class=\"int8\">%d int8</span>, <span class=\"convert\">%d conversions</span>, <span class=\"float\">%d float</span>, <span class=\"fallback\">%d float fallback</span>. ",
		len(layers), count[classInt8], count[classConvert], count[classFloat], count[classFallback])
	fmt.Fprintf(w, "2:4 sparse: %d of %d candidate layers", sparse, candidates)
	if macs > 0 {
		fmt.Fprintf(w, ", %.1f %% of %s MACs (batch 1)", 100*float64(sparseMACs)/float64(macs), macsText(macs))
	}
	fmt.Fprint(w, ".</p>\n")
}

func writeAccuracy(w io.Writer, a *Accuracy) {
	fmt.Fprintf(w, "<h2 id=\"accuracy\">Accuracy (sqc eval)</h2>\n<table class=\"acc\"><tr><th>model</th><th>top-1</th><th>top-5</th></tr>\n")
	for _, r := range a.Rows {
		top5 := "–"
		if r.Top5 != nil {
			top5 = fmt.Sprintf("%.2f %%", *r.Top5)
		}
		fmt.Fprintf(w, "<tr><td>%s</td><td class=\"num\">%.2f %%</td><td class=\"num\">%s</td></tr>\n", html.EscapeString(r.Name), r.Top1, top5)
	}
	fmt.Fprintf(w, "</table>\n<p>%d images, %d classes.</p>\n", a.Images, a.Classes)
}

// macsText writes a MAC count with thousands separators; "?" when unknown.
func macsText(m int64) string {
	if m < 0 {
		return "?"
	}
	s := fmt.Sprint(m)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Diagram geometry, in SVG user units.
const (
	boxW, boxH = 200, 40
	gapX, gapY = 100, 30
	margin     = 10
	sideRoom   = 90 // right of the last column, for edges that skip rows
)

// graphSVG draws the graph top to bottom: each node in the row after the
// latest of its producers (graph inputs form row 0), edges as curves from a
// producer's bottom to a consumer's top.
func graphSVG(g *ir.Graph, layers []*layer) string {
	producer := map[*ir.Value]int{} // value -> box index
	type box struct {
		x, y  int
		label string
		sub   string
		title string
		class string
		thick bool
	}
	var boxes []box
	row := []int{}
	perRow := map[int]int{}
	place := func(r int) (int, int) {
		col := perRow[r]
		perRow[r]++
		return margin + col*(boxW+gapX), margin + r*(boxH+gapY)
	}
	for _, v := range g.Inputs {
		x, y := place(0)
		producer[v] = len(boxes)
		row = append(row, 0)
		boxes = append(boxes, box{x: x, y: y, label: v.Name, sub: "input " + v.Type.String(), title: "graph input " + v.Name + ": " + v.Type.String(), class: "input"})
	}
	var edges [][2]int
	for i, n := range g.Nodes {
		l := layers[i]
		r := 0
		if len(g.Inputs) > 0 {
			r = 1
		}
		var from []int
		for _, v := range n.Inputs {
			if b, ok := producer[v]; ok && v != nil {
				r = max(r, row[b]+1)
				from = append(from, b)
			}
		}
		x, y := place(r)
		idx := len(boxes)
		sub := n.Op
		if l.sparse {
			sub += " · 2:4"
		}
		sub += " · " + l.precision
		title := fmt.Sprintf("%s (%s)\nprecision: %s\nMACs: %s", n.Name, n.Op, l.precision, macsText(l.macs))
		if l.sparsity != "" {
			title += "\n" + l.sparsity
		}
		if l.scales != "" {
			title += "\nscales: " + l.scales
		}
		if len(l.kernels) > 0 {
			title += "\nkernel: " + strings.Join(l.kernels, ", ")
		}
		boxes = append(boxes, box{x: x, y: y, label: n.Name, sub: sub, title: title, class: l.class, thick: l.sparse})
		row = append(row, r)
		for _, f := range from {
			edges = append(edges, [2]int{f, idx})
		}
		for _, v := range n.Outputs {
			if v != nil {
				producer[v] = idx
			}
		}
	}
	width, height := 0, 0
	for _, b := range boxes {
		width, height = max(width, b.x+boxW+sideRoom), max(height, b.y+boxH+margin)
	}
	var s strings.Builder
	fmt.Fprintf(&s, "<svg class=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"graph diagram\">\n", width, height, width, height)
	s.WriteString("<defs><marker id=\"arrow\" viewBox=\"0 0 8 8\" refX=\"7\" refY=\"4\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0 0 L8 4 L0 8 z\" fill=\"#888\"/></marker></defs>\n")
	s.WriteString("<g class=\"edges\">\n")
	for _, e := range edges {
		a, b := boxes[e[0]], boxes[e[1]]
		if span := row[e[1]] - row[e[0]]; span > 1 {
			// An edge that skips rows (a residual) would run behind the
			// boxes between: it leaves and enters on the right instead,
			// bulging further the more rows it skips.
			bulge := min(24+10*span, sideRoom-8)
			x1, y1 := a.x+boxW, a.y+boxH/2
			x2, y2 := b.x+boxW, b.y+boxH/2
			fmt.Fprintf(&s, "<path d=\"M%d %d C%d %d %d %d %d %d\" marker-end=\"url(#arrow)\"/>\n", x1, y1, x1+bulge, y1, x2+bulge, y2, x2+2, y2)
			continue
		}
		x1, y1 := a.x+boxW/2, a.y+boxH
		x2, y2 := b.x+boxW/2, b.y
		mid := (y1 + y2) / 2
		fmt.Fprintf(&s, "<path d=\"M%d %d C%d %d %d %d %d %d\" marker-end=\"url(#arrow)\"/>\n", x1, y1, x1, mid, x2, mid, x2, y2-1)
	}
	s.WriteString("</g>\n")
	for _, b := range boxes {
		cls := "node " + b.class
		if b.thick {
			cls += " sparse"
		}
		fmt.Fprintf(&s, "<g class=\"%s\"><title>%s</title><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"5\"/>", cls, html.EscapeString(b.title), b.x, b.y, boxW, boxH)
		fmt.Fprintf(&s, "<text x=\"%d\" y=\"%d\" class=\"name\">%s</text><text x=\"%d\" y=\"%d\" class=\"sub\">%s</text></g>\n",
			b.x+8, b.y+16, html.EscapeString(clip(b.label, 28)), b.x+8, b.y+32, html.EscapeString(clip(b.sub, 32)))
	}
	s.WriteString("</svg>\n")
	return s.String()
}

// clip shortens s to n runes with an ellipsis.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// Histogram geometry.
const (
	histW, histH = 460, 150
	histBars     = 115
	histPadL     = 8
	histPadB     = 20
)

// pickColours are the calibrators' line colours, in the legend too.
var pickColours = map[string]string{
	calibrate.MethodMax:        "#d62728",
	calibrate.MethodPercentile: "#9467bd",
	calibrate.MethodEntropy:    "#2ca02c",
	calibrate.MethodMSE:        "#ff7f0e",
}

// writeHistogram draws one value's |x| histogram, regrouped into histBars
// bars up to a little past the largest pick, with a line per calibrator.
func writeHistogram(w io.Writer, h histogramEntry) {
	e := html.EscapeString
	title := h.name
	if h.shown != "" {
		title += " → " + h.shown
	}
	fmt.Fprintf(w, "<figure class=\"hist\" data-value=\"%s\"><figcaption>%s</figcaption>\n", e(h.name), e(title))
	hist := h.hist
	top := float64(hist.Amax)
	for _, p := range h.picks {
		top = math.Max(top, float64(p.amax))
	}
	if hist.Range == 0 || top == 0 {
		fmt.Fprintf(w, "<p class=\"note\">every value was zero (%d elements)</p></figure>\n", hist.N)
		return
	}
	top *= 1.04
	bars := make([]float64, histBars)
	bw := hist.BinWidth()
	for j, c := range hist.Counts {
		if c == 0 {
			continue
		}
		x := (float64(j) + 0.5) * bw
		b := int(x / top * histBars)
		if b >= histBars {
			b = histBars - 1
		}
		bars[b] += float64(c)
	}
	peak := 0.0
	for _, c := range bars {
		peak = math.Max(peak, fmath.Log1p(c))
	}
	plotW, plotH := float64(histW-2*histPadL), float64(histH-histPadB-4)
	xOf := func(v float64) float64 { return histPadL + float64(v/top*plotW) }
	fmt.Fprintf(w, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"histogram of %s\">\n", histW, histH, histW, histH, e(h.name))
	barW := plotW / histBars
	for i, c := range bars {
		if c == 0 {
			continue
		}
		bh := float64(fmath.Log1p(c) / peak * plotH)
		fmt.Fprintf(w, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\"/>", histPadL+float64(float64(i)*barW), 4+plotH-bh, barW, bh)
	}
	fmt.Fprintf(w, "\n<line class=\"axis\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n", histPadL, 4+plotH, histW-histPadL, 4+plotH)
	fmt.Fprintf(w, "<text class=\"tick\" x=\"%d\" y=\"%d\">0</text><text class=\"tick\" x=\"%d\" y=\"%d\" text-anchor=\"end\">%.3g</text>\n", histPadL, histH-4, histW-histPadL, histH-4, top)
	for _, p := range h.picks {
		cls := "pick"
		if p.amax == h.chosen.Amax {
			cls += " chosen"
		}
		x := xOf(float64(p.amax))
		fmt.Fprintf(w, "<line class=\"%s\" stroke=\"%s\" x1=\"%.1f\" y1=\"4\" x2=\"%.1f\" y2=\"%.1f\"><title>%s: %.4g</title></line>\n", cls, pickColours[p.method], x, x, 4+plotH, p.method, p.amax)
	}
	fmt.Fprint(w, "</svg>\n<ul class=\"picks\">")
	for _, p := range h.picks {
		mark := ""
		if p.amax == h.chosen.Amax {
			mark = " ✓"
		}
		fmt.Fprintf(w, "<li><span class=\"swatch\" style=\"background:%s\"></span>%s %.4g%s</li>", pickColours[p.method], p.method, p.amax, mark)
	}
	fmt.Fprintf(w, "</ul>\n<p class=\"range\">min %.4g, max %.4g; range used ±%.4g (scale %.4g)</p></figure>\n", hist.Min, hist.Max, h.chosen.Amax, h.chosen.Scale)
}

const legend = `<p class="legend"><span class="swatch int8"></span>int8 <span class="swatch convert"></span>quantize, dequantize, layout <span class="swatch float"></span>float <span class="swatch fallback"></span>float fallback (a weighted layer left in float in an INT8 graph) <span class="swatch sparse-key"></span>thick border: 2:4 sparse weights. Hover a box for its details.</p>
`

const css = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 8px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
table{border-collapse:collapse}th,td{padding:3px 8px;text-align:left;vertical-align:top}
.facts th{color:#666;font-weight:normal}
.scroll{overflow-x:auto}.layers{font-size:13px}.layers td:nth-child(6){min-width:16em}.layers td:nth-child(7){min-width:14em}.layers td:nth-child(8){min-width:18em}.layers th{background:#f3f3f3;position:sticky;top:0}.layers td{border-top:1px solid #eee}
.num{text-align:right;font-variant-numeric:tabular-nums}
tr.int8 td:nth-child(4){color:#1f5fa8;font-weight:600}tr.fallback td:nth-child(4){color:#b22;font-weight:600}
.swatch{display:inline-block;width:12px;height:12px;border:1px solid #888;margin:0 4px 0 10px;vertical-align:-1px}
.swatch.int8,span.int8{background:#bcd7f5}.swatch.convert,span.convert{background:#e4e4e4}.swatch.float,span.float{background:#fde2b8}.swatch.fallback,span.fallback{background:#f6b3b3}
.swatch.sparse-key{border:3px solid #14622e;background:#fff}
span.int8,span.convert,span.float,span.fallback{padding:0 4px;border-radius:3px}
svg.graph{display:block;max-width:100%;height:auto;border:1px solid #eee}
svg.graph .edges path{fill:none;stroke:#999;stroke-width:1.2}
svg.graph rect{stroke:#777;stroke-width:1}
svg.graph .int8 rect{fill:#bcd7f5}svg.graph .convert rect{fill:#e4e4e4}svg.graph .float rect{fill:#fde2b8}
svg.graph .fallback rect{fill:#f6b3b3}svg.graph .input rect{fill:#fff;stroke-dasharray:4 3}
svg.graph .sparse rect{stroke:#14622e;stroke-width:3.5}
svg.graph text{font:12px system-ui,sans-serif;fill:#111}svg.graph text.sub{font-size:11px;fill:#444}
.hists{display:flex;flex-wrap:wrap;gap:12px}
figure.hist{margin:0;border:1px solid #e4e4e4;padding:8px;width:470px}
figure.hist figcaption{font-weight:600;font-size:13px;word-break:break-all}
figure.hist .bar{fill:#6b8fb5}figure.hist .axis{stroke:#555}
figure.hist .pick{stroke-width:1.5;stroke-dasharray:4 2}figure.hist .pick.chosen{stroke-width:3;stroke-dasharray:none}
figure.hist .tick{font:10px system-ui,sans-serif;fill:#555}
.picks{display:flex;flex-wrap:wrap;gap:2px 14px;list-style:none;margin:2px 0 0;padding:0;font-size:12px}.picks .swatch{margin-left:0}.range{font-size:12px;color:#555;margin:2px 0 0}
.note{color:#666;font-style:italic}
`

package passes

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
)

// Manager runs pipelines. The zero value runs passes with no verification,
// printing or timing.
type Manager struct {
	// VerifyEach runs ir.Verify before the first pass and after every pass
	// (tests always set it).
	VerifyEach bool
	// PrintBefore and PrintAfter name passes whose input or output IR is
	// printed to IROut; "all" matches every pass.
	PrintBefore, PrintAfter []string
	// IROut receives printed IR (default: nothing is printed).
	IROut io.Writer
	// IRPrint are the options of the IR printed to IROut (large constants
	// elided, say).
	IRPrint sqir.PrintOptions
	// Progress receives the progress passes report (default: none is
	// shown).
	Progress Progress
}

// Timing is how long one step took.
type Timing struct {
	Pass     string
	Duration time.Duration
	// Analysis is set for analyses run on demand for a later step.
	Analysis bool
}

// Report is what a run measured: per-step timings and statistics.
type Report struct {
	Timings []Timing
	// Stats maps pass name to its counters, summed over its steps.
	Stats map[string]map[string]int
	// Results maps the name of each analysis placed in the pipeline to the
	// result of its last step (calibrate's ranges and histograms, for the
	// compile report).
	Results map[string]any
}

type run struct {
	m      *Manager
	g      *ir.Graph
	cache  map[*Pass]any
	report *Report
}

// Run runs the pipeline over g, changing g in place.
func (m *Manager) Run(g *ir.Graph, p *Pipeline) (*Report, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	r := &run{m: m, g: g, cache: map[*Pass]any{}, report: &Report{Stats: map[string]map[string]int{}, Results: map[string]any{}}}
	if m.VerifyEach {
		if err := ir.Verify(g); err != nil {
			return r.report, fmt.Errorf("the input graph does not verify:\n%w", err)
		}
	}
	for i, s := range p.Steps {
		if m.matches(m.PrintBefore, s.Pass.Name) {
			r.print(fmt.Sprintf("IR before %s (step %d)", s.Pass.Name, i+1))
		}
		c := &Context{Graph: g, Pass: s.Pass, Options: s.Options, overrides: s.Overrides, m: r}
		start := time.Now()
		res, err := s.Pass.Run(c)
		r.report.Timings = append(r.report.Timings, Timing{Pass: s.Pass.Name, Duration: time.Since(start)})
		if err != nil {
			return r.report, fmt.Errorf("pass %s: %w", s.Pass.Name, err)
		}
		if s.Pass.Analysis && !c.changed {
			// An analysis placed in the pipeline runs with the options the
			// pipeline gives it; later passes that require it read this
			// result rather than one computed with defaults.
			r.cache[s.Pass] = res
			r.report.Results[s.Pass.Name] = res
		}
		if c.changed {
			if s.Pass.Analysis {
				return r.report, fmt.Errorf("analysis %s changed the graph", s.Pass.Name)
			}
			clear(r.cache)
		}
		r.addStats(s.Pass.Name, c.stats)
		if m.VerifyEach {
			if err := ir.Verify(g); err != nil {
				return r.report, fmt.Errorf("after pass %s the graph does not verify:\n%w", s.Pass.Name, err)
			}
		}
		if m.matches(m.PrintAfter, s.Pass.Name) {
			r.print(fmt.Sprintf("IR after %s (step %d)", s.Pass.Name, i+1))
		}
	}
	return r.report, nil
}

// RunSpec parses a pipeline in the command-line form ("a,b{k=v}"), builds
// it and runs it over g.
func (m *Manager) RunSpec(g *ir.Graph, spec string) (*Report, error) {
	specs, err := ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	p, err := Build(specs)
	if err != nil {
		return nil, err
	}
	return m.Run(g, p)
}

// analysis returns a cached result or runs the analysis now.
func (r *run) analysis(a *Pass) (any, error) {
	if res, ok := r.cache[a]; ok {
		return res, nil
	}
	opts, err := resolveOptions(a, nil)
	if err != nil {
		return nil, err
	}
	c := &Context{Graph: r.g, Pass: a, Options: opts, m: r}
	start := time.Now()
	res, err := a.Run(c)
	r.report.Timings = append(r.report.Timings, Timing{Pass: a.Name, Duration: time.Since(start), Analysis: true})
	if err != nil {
		return nil, fmt.Errorf("analysis %s: %w", a.Name, err)
	}
	if c.changed {
		return nil, fmt.Errorf("analysis %s changed the graph", a.Name)
	}
	r.addStats(a.Name, c.stats)
	r.cache[a] = res
	r.report.Results[a.Name] = res
	return res, nil
}

func (r *run) addStats(pass string, stats map[string]int) {
	if len(stats) == 0 {
		return
	}
	m := r.report.Stats[pass]
	if m == nil {
		m = map[string]int{}
		r.report.Stats[pass] = m
	}
	for k, v := range stats {
		m[k] += v
	}
}

func (m *Manager) matches(names []string, pass string) bool {
	if m.IROut == nil {
		return false
	}
	for _, n := range names {
		if n == "all" || n == pass {
			return true
		}
	}
	return false
}

func (r *run) print(title string) {
	fmt.Fprintf(r.m.IROut, "// ----- %s -----\n", title)
	if err := sqir.PrintWith(r.m.IROut, r.g, r.m.IRPrint); err != nil {
		fmt.Fprintf(r.m.IROut, "// (cannot print: %v)\n", err)
	}
}

// WriteTimes writes the --time-passes table: one row per pass (steps of the
// same pass summed), slowest first, with its share of the total.
func (rep *Report) WriteTimes(w io.Writer) error {
	type row struct {
		name  string
		d     time.Duration
		runs  int
		stats string
	}
	byName := map[string]*row{}
	var total time.Duration
	for _, t := range rep.Timings {
		name := t.Pass
		if t.Analysis {
			name += " (analysis)"
		}
		r := byName[name]
		if r == nil {
			r = &row{name: name}
			byName[name] = r
		}
		r.d += t.Duration
		r.runs++
		total += t.Duration
	}
	rows := make([]*row, 0, len(byName))
	for _, r := range byName {
		var parts []string
		for k, v := range rep.Stats[strings.TrimSuffix(r.name, " (analysis)")] {
			parts = append(parts, fmt.Sprintf("%s=%d", k, v))
		}
		sort.Strings(parts)
		r.stats = strings.Join(parts, " ")
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].d != rows[j].d {
			return rows[i].d > rows[j].d
		}
		return rows[i].name < rows[j].name
	})
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "      time\t share\t runs\tpass\tstatistics")
	for _, r := range rows {
		share := 0.0
		if total > 0 {
			share = 100 * float64(r.d) / float64(total)
		}
		fmt.Fprintf(tw, "%10s\t%5.1f%%\t%5d\t%s\t%s\n", fmtDur(r.d), share, r.runs, r.name, r.stats)
	}
	fmt.Fprintf(tw, "%10s\t%5.1f%%\t%5d\t%s\t\n", fmtDur(total), 100.0, len(rep.Timings), "total")
	return tw.Flush()
}

func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.3fms", float64(d.Microseconds())/1000)
}

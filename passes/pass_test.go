package passes

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// Test passes, registered in this test binary only.
var (
	countAnalysis = &Pass{Name: "count-nodes", Doc: "counts nodes", Analysis: true,
		Run: func(c *Context) (any, error) { analysisRuns++; return len(c.Graph.Nodes), nil }}
	analysisRuns int

	dropRelu = &Pass{Name: "drop-relu", Doc: "removes the last relu",
		Requires: []*Pass{countAnalysis},
		Run: func(c *Context) (any, error) {
			if _, err := c.ResultOf(countAnalysis); err != nil {
				return nil, err
			}
			g := c.Graph
			for i := len(g.Nodes) - 1; i >= 0; i-- {
				n := g.Nodes[i]
				if n.Op == "Relu" {
					// Rewire readers of the relu to its input.
					for _, m := range g.Nodes {
						for j, v := range m.Inputs {
							if v == n.Outputs[0] {
								m.Inputs[j] = n.Inputs[0]
							}
						}
					}
					for j, v := range g.Outputs {
						if v == n.Outputs[0] {
							g.Outputs[j] = n.Inputs[0]
						}
					}
					g.Nodes = append(g.Nodes[:i], g.Nodes[i+1:]...)
					c.Changed()
					c.Count("nodes removed", 1)
					return nil, nil
				}
			}
			return nil, nil
		}}
	needsDrop = &Pass{Name: "needs-drop", Doc: "must run after drop-relu", Requires: []*Pass{dropRelu, countAnalysis},
		Options: []Option{
			{Name: "factor", Doc: "a number", Kind: Float, Default: 1.0, Min: 0, Max: 10},
			{Name: "mode", Doc: "a mode", Kind: String, Default: "fast", Enum: []string{"fast", "exact"}},
			{Name: "n", Doc: "a count", Kind: Int, Default: int64(4), Min: 0, Max: 1 << 30},
			{Name: "on", Doc: "a switch", Kind: Bool, Default: false},
		},
		Run: func(c *Context) (any, error) { _, err := c.ResultOf(countAnalysis); return nil, err }}
	breaker = &Pass{Name: "breaker", Doc: "renames a value into a clash",
		Run: func(c *Context) (any, error) {
			c.Graph.Nodes[0].Outputs[0].Name = c.Graph.Inputs[0].Name
			c.Changed()
			return nil, nil
		}}
)

func init() {
	for _, p := range []*Pass{countAnalysis, dropRelu, needsDrop, breaker} {
		Register(p)
	}
}

func chain() *ir.Graph {
	x := &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, 1, 4)}
	a := &ir.Value{Name: "a", Type: ir.TensorType(ir.Float32, 1, 4)}
	b := &ir.Value{Name: "b", Type: ir.TensorType(ir.Float32, 1, 4)}
	return &ir.Graph{Name: "g", Inputs: []*ir.Value{x}, Outputs: []*ir.Value{b}, Nodes: []*ir.Node{
		{Name: "r1", Op: "Relu", Inputs: []*ir.Value{x}, Outputs: []*ir.Value{a}},
		{Name: "r2", Op: "Relu", Inputs: []*ir.Value{a}, Outputs: []*ir.Value{b}},
	}}
}

func mustBuild(t *testing.T, spec string) *Pipeline {
	t.Helper()
	specs, err := ParseSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(specs)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunAndCache(t *testing.T) {
	analysisRuns = 0
	g := chain()
	m := &Manager{VerifyEach: true}
	rep, err := m.Run(g, mustBuild(t, "drop-relu,needs-drop{factor=2.5;mode=exact}"))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 1 || g.Outputs[0].Name != "a" {
		t.Fatalf("drop-relu did not remove r2: %d nodes, output %s", len(g.Nodes), g.Outputs[0].Name)
	}
	// drop-relu changed the graph, so needs-drop recomputes the analysis.
	if analysisRuns != 2 {
		t.Errorf("analysis ran %d times, want 2", analysisRuns)
	}
	if rep.Stats["drop-relu"]["nodes removed"] != 1 {
		t.Errorf("stats = %v", rep.Stats)
	}
	var buf bytes.Buffer
	if err := rep.WriteTimes(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"drop-relu", "count-nodes (analysis)", "nodes removed=1", "total"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("time table lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestCacheKeptWhenUnchanged(t *testing.T) {
	analysisRuns = 0
	g := chain()
	// Two needs-drop steps in a row after one drop-relu: the second reuses the cached result.
	if _, err := (&Manager{}).Run(g, mustBuild(t, "drop-relu,needs-drop,needs-drop")); err != nil {
		t.Fatal(err)
	}
	if analysisRuns != 2 {
		t.Errorf("analysis ran %d times, want 2 (once before drop-relu, once after)", analysisRuns)
	}
}

func TestVerifyEachCatchesBrokenPass(t *testing.T) {
	_, err := (&Manager{VerifyEach: true}).Run(chain(), mustBuild(t, "breaker"))
	if err == nil || !strings.Contains(err.Error(), "after pass breaker the graph does not verify") {
		t.Fatalf("got %v", err)
	}
}

func TestBuildErrors(t *testing.T) {
	cases := []struct{ spec, want string }{
		{"drop-relu,needs-dorp", `unknown pass "needs-dorp" (did you mean "needs-drop"?)`},
		{"needs-drop", `step 1 (needs-drop) requires drop-relu to run before it, but drop-relu is not in the pipeline`},
		{"needs-drop,drop-relu", `but drop-relu comes after it (step 2)`},
		{"drop-relu,needs-drop{factor=11}", `pass needs-drop, option factor: 11 is out of range [0, 10]`},
		{"drop-relu,needs-drop{mode=exactt}", `"exactt" is not one of fast, exact (did you mean "exact"?)`},
		{"drop-relu,needs-drop{n=x}", `pass needs-drop, option n: "x" is not an integer`},
		{"drop-relu,needs-drop{on=maybe}", `"maybe" is not a bool`},
		{"drop-relu,needs-drop{fator=1}", `pass needs-drop has no option "fator" (did you mean "factor"?)`},
	}
	for _, c := range cases {
		specs, err := ParseSpec(c.spec)
		if err == nil {
			_, err = Build(specs)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.spec, err, c.want)
		}
	}
}

func TestCycle(t *testing.T) {
	a := &Pass{Name: "a", Doc: "a", Run: func(*Context) (any, error) { return nil, nil }}
	b := &Pass{Name: "b", Doc: "b", Requires: []*Pass{a}, Run: a.Run}
	a.Requires = []*Pass{b}
	err := (&Pipeline{Steps: []Step{{Pass: a}}}).Validate()
	if err == nil || !strings.Contains(err.Error(), "requirement cycle: a -> b -> a") {
		t.Fatalf("got %v", err)
	}
}

func TestParseSpecErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"a,,b":     "empty pass name",
		"a{x=1":    "missing '}'",
		"a{x}":     `option "x" of a: want key=value`,
		"a{x=1} b": `want ',' after a`,
	} {
		if _, err := ParseSpec(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", spec, err, want)
		}
	}
}

func TestUndeclaredAnalysis(t *testing.T) {
	p := &Pass{Name: "sneaky", Doc: "reads an analysis it does not require",
		Run: func(c *Context) (any, error) { _, err := c.ResultOf(countAnalysis); return nil, err }}
	_, err := (&Manager{}).Run(chain(), &Pipeline{Steps: []Step{{Pass: p}}})
	if err == nil || !strings.Contains(err.Error(), "without listing it in Requires") {
		t.Fatalf("got %v", err)
	}
}

var (
	configured = &Pass{Name: "configured-analysis", Doc: "returns its option", Analysis: true,
		Options: []Option{{Name: "v", Doc: "the value", Kind: Int, Default: int64(1)}},
		Run:     func(c *Context) (any, error) { return c.Options.Int("v"), nil }}
	reader = &Pass{Name: "reads-configured", Doc: "records the analysis result", Requires: []*Pass{configured},
		Run: func(c *Context) (any, error) {
			v, err := c.ResultOf(configured)
			readValue = v
			return nil, err
		}}
	readValue any
)

func init() { Register(configured); Register(reader) }

// An analysis placed in the pipeline with options is the one later passes read.
func TestAnalysisStepResultIsUsed(t *testing.T) {
	if _, err := (&Manager{}).Run(chain(), mustBuild(t, "configured-analysis{v=7},reads-configured")); err != nil {
		t.Fatal(err)
	}
	if readValue != int64(7) {
		t.Errorf("reader saw %v, want the step's 7", readValue)
	}
	if _, err := (&Manager{}).Run(chain(), mustBuild(t, "reads-configured")); err != nil {
		t.Fatal(err)
	}
	if readValue != int64(1) {
		t.Errorf("reader saw %v, want the default 1 when the analysis is not a step", readValue)
	}
}

// The report keeps each analysis's result, whether it ran as a step or on
// demand, so that tools can show what it found.
func TestReportKeepsAnalysisResults(t *testing.T) {
	rep, err := (&Manager{}).Run(chain(), mustBuild(t, "configured-analysis{v=7},reads-configured"))
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Results["configured-analysis"]; got != int64(7) {
		t.Errorf("Results[configured-analysis] = %v, want the step's 7", got)
	}
	rep, err = (&Manager{}).Run(chain(), mustBuild(t, "reads-configured"))
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Results["configured-analysis"]; got != int64(1) {
		t.Errorf("Results[configured-analysis] = %v, want 1 from the run on demand", got)
	}
	if _, ok := rep.Results["reads-configured"]; ok {
		t.Error("a transformation's result is in Results")
	}
}

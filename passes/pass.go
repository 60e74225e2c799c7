// Package passes is sqc's pass manager: it builds a pipeline of graph passes
// from names and options, checks the pipeline before anything runs, and runs
// it over an ir.Graph with optional verification, IR printing and timing.
//
// A pass is a value, in the style of golang.org/x/tools/go/analysis: a Name,
// a Doc, the passes it Requires, an options schema, and a Run function. Two
// kinds exist:
//
//   - an analysis (Analysis: true) computes a result from the graph and never
//     changes it. A pass that lists an analysis in Requires gets its result
//     from Context.ResultOf; the manager runs the analysis on demand and caches
//     the result until a transformation changes the graph.
//   - a transformation changes the graph. A transformation listed in another
//     pass's Requires must appear earlier in the pipeline: it is an ordering
//     constraint, and the manager reports a pipeline that breaks it.
//
// Built-in passes register themselves (Register) from their own packages;
// the pipeline refers to passes by name.
package passes

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sqc-project/sqc/ir"
)

// Pass is one graph analysis or transformation.
type Pass struct {
	// Name is the pass's name in pipelines and recipes: lower case, words
	// joined by '-' ("fold-batchnorm").
	Name string
	// Doc says what the pass does: a lower-case phrase, no final period.
	Doc string
	// Requires lists analyses whose results Run reads and transformations
	// that must have run earlier in the pipeline.
	Requires []*Pass
	// Options is the schema of the pass's options.
	Options []Option
	// Analysis marks a pass that only computes a result.
	Analysis bool
	// Run does the work. A transformation returns a nil result and reports
	// whether it changed the graph through Context.Changed.
	Run func(c *Context) (result any, err error)
}

// OptionKind is the type of a pass option.
type OptionKind int

// The option kinds.
const (
	Bool OptionKind = iota + 1
	Int
	Float
	String
	Strings
	// RatioKind options hold a Ratio (2:4).
	RatioKind
	// SelectorKind options hold a Selector of nodes.
	SelectorKind
)

func (k OptionKind) String() string {
	switch k {
	case Bool:
		return "bool"
	case Int:
		return "int"
	case Float:
		return "float"
	case String:
		return "string"
	case Strings:
		return "list of strings"
	case RatioKind:
		return "ratio"
	case SelectorKind:
		return "selector"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Option declares one option of a pass.
type Option struct {
	Name string
	Doc  string
	Kind OptionKind
	// Default is the value when the pipeline does not set one: bool, int64,
	// float64, string, []string, Ratio or Selector according to Kind.
	Default any
	// Min and Max bound Int and Float options when Max > Min.
	Min, Max float64
	// Enum, when set, lists the allowed values of a String option.
	Enum []string
	// Required marks an option that has no default and that every pipeline
	// running the pass must set (the calibration data of a calibrating
	// pass: no value would be a sensible guess). Default is then nil.
	Required bool
}

// Options are the values of a pass's options, by name, after defaults.
type Options map[string]any

// Bool returns a bool option.
func (o Options) Bool(name string) bool { v, _ := o[name].(bool); return v }

// Int returns an int option.
func (o Options) Int(name string) int64 { v, _ := o[name].(int64); return v }

// Float returns a float option.
func (o Options) Float(name string) float64 { v, _ := o[name].(float64); return v }

// String returns a string option.
func (o Options) String(name string) string { v, _ := o[name].(string); return v }

// Strings returns a list option.
func (o Options) Strings(name string) []string { v, _ := o[name].([]string); return v }

var registry = map[string]*Pass{}

// Register makes a pass available to pipelines by name. It panics on a
// duplicate or malformed pass: registration happens at init, and such a pass
// is a programming error, not a user's.
func Register(p *Pass) {
	if err := checkPass(p); err != nil {
		panic("passes: " + err.Error())
	}
	if _, dup := registry[p.Name]; dup {
		panic("passes: pass " + p.Name + " registered twice")
	}
	registry[p.Name] = p
}

func checkPass(p *Pass) error {
	switch {
	case p.Name == "":
		return fmt.Errorf("a pass has no name")
	case p.Doc == "":
		return fmt.Errorf("pass %s has no doc", p.Name)
	case p.Run == nil:
		return fmt.Errorf("pass %s has no Run", p.Name)
	case strings.ToLower(p.Name) != p.Name || strings.ContainsAny(p.Name, " _,="):
		return fmt.Errorf("pass name %q: want lower-case words joined by '-'", p.Name)
	}
	seen := map[string]bool{}
	for _, o := range p.Options {
		if o.Name == "" || o.Doc == "" {
			return fmt.Errorf("pass %s: every option needs a name and a doc", p.Name)
		}
		if seen[o.Name] {
			return fmt.Errorf("pass %s: option %s declared twice", p.Name, o.Name)
		}
		seen[o.Name] = true
		if o.Required && o.Default == nil {
			continue // nothing to check: the pipeline supplies the value
		}
		if err := checkValue(o, o.Default); err != nil {
			return fmt.Errorf("pass %s: default of option %s: %v", p.Name, o.Name, err)
		}
	}
	return nil
}

// Lookup returns a registered pass, or nil.
func Lookup(name string) *Pass { return registry[name] }

// All returns every registered pass sorted by name.
func All() []*Pass {
	out := make([]*Pass, 0, len(registry))
	for _, p := range registry {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Context is what a pass's Run sees.
type Context struct {
	Graph   *ir.Graph
	Pass    *Pass
	Options Options

	m         *run
	overrides []Override
	changed   bool
	stats     map[string]int
}

// ResultOf returns the result of an analysis the pass Requires, running it
// first if no valid cached result exists.
func (c *Context) ResultOf(a *Pass) (any, error) {
	if !a.Analysis {
		return nil, fmt.Errorf("pass %s: %s is not an analysis", c.Pass.Name, a.Name)
	}
	listed := false
	for _, r := range c.Pass.Requires {
		listed = listed || r == a
	}
	if !listed {
		return nil, fmt.Errorf("pass %s reads analysis %s without listing it in Requires", c.Pass.Name, a.Name)
	}
	return c.m.analysis(a)
}

// Changed records that the pass modified the graph, which drops cached analyses.
func (c *Context) Changed() { c.changed = true }

// Count adds n to a named statistic of this pass ("nodes removed",
// "weights changed"); the manager reports them.
func (c *Context) Count(stat string, n int) {
	if c.stats == nil {
		c.stats = map[string]int{}
	}
	c.stats[stat] += n
}

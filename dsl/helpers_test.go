package dsl

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sqc-project/sqc/passes"
	_ "github.com/sqc-project/sqc/passes/all" // the built-in passes are the steps
)

// Test passes, registered in this test binary only: options of every kind,
// an ordering constraint and a required option, which no built-in pass has
// yet.
var (
	testPrep  = &passes.Pass{Name: "test-prep", Doc: "a transformation others require", Run: noop}
	testOrder = &passes.Pass{Name: "test-order", Doc: "requires test-prep before it", Requires: []*passes.Pass{testPrep}, Run: noop}
	testPrune = &passes.Pass{Name: "test-prune", Doc: "has options of every kind", Run: noop,
		Options: []passes.Option{
			{Name: "pattern", Doc: "sparsity", Kind: passes.RatioKind, Default: passes.Ratio{N: 2, M: 4}},
			{Name: "method", Doc: "how", Kind: passes.String, Default: "magnitude", Enum: []string{"magnitude", "sparsegpt"}},
			{Name: "skip", Doc: "layers left alone", Kind: passes.SelectorKind, Default: passes.Selector{}},
			{Name: "damp", Doc: "a fraction", Kind: passes.Float, Default: 0.01, Min: 0, Max: 1},
			{Name: "samples", Doc: "a count", Kind: passes.Int, Default: int64(128), Min: 1, Max: 4096},
			{Name: "verbose", Doc: "a switch", Kind: passes.Bool, Default: false},
			{Name: "tags", Doc: "words", Kind: passes.Strings, Default: []string{}},
			{Name: "note", Doc: "free text", Kind: passes.String, Default: ""},
		}}
	testCalibrate = &passes.Pass{Name: "test-calibrate", Doc: "needs data", Run: noop,
		Options: []passes.Option{
			{Name: "data", Doc: "calibration data", Kind: passes.String, Required: true},
			{Name: "samples", Doc: "a count", Kind: passes.Int, Default: int64(512), Min: 1, Max: 1 << 20},
		}}
)

func noop(*passes.Context) (any, error) { return nil, nil }

func init() {
	for _, p := range []*passes.Pass{testPrep, testOrder, testPrune, testCalibrate} {
		passes.Register(p)
	}
}

// dump writes a recipe's AST without positions, to compare two parses.
func dump(r *Recipe) string {
	var b strings.Builder
	for _, s := range r.Stmts {
		fmt.Fprintf(&b, "stmt %q doc=%q comment=%q", s.Name, s.Doc, s.Comment)
		if s.Arg != nil {
			b.WriteString(" arg=" + dumpValue(s.Arg))
		}
		if s.Block != nil {
			b.WriteString(" " + dumpBlock(s.Block))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "end=%q\n", r.EndComments)
	return b.String()
}

func dumpBlock(bl *Block) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{oneline=%v", bl.OneLine)
	for _, it := range bl.Items {
		fmt.Fprintf(&b, " item %q doc=%q comment=%q value=%s", it.Key, it.Doc, it.Comment, dumpValue(it.Value))
		if it.Block != nil {
			b.WriteString(" " + dumpBlock(it.Block))
		}
		b.WriteString(";")
	}
	fmt.Fprintf(&b, " end=%q}", bl.EndComments)
	return b.String()
}

func dumpValue(v *Value) string {
	s := fmt.Sprintf("%v:%q", v.Kind, v.Text)
	if len(v.Elems) > 0 {
		parts := make([]string, len(v.Elems))
		for i, e := range v.Elems {
			parts[i] = dumpValue(e)
		}
		s += "(" + strings.Join(parts, " ") + ")"
	}
	return s
}

// specText writes specs with their typed values, selectors by String.
func specText(specs []passes.StepSpec) string {
	var b strings.Builder
	for _, s := range specs {
		fmt.Fprintf(&b, "%s %s", s.Name, optText(s.Options))
		for _, o := range s.Overrides {
			fmt.Fprintf(&b, " [%s %s]", o.Select, optText(o.Options))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func optText(o map[string]any) string {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%#v", k, o[k])
		if s, ok := o[k].(passes.Selector); ok {
			parts[i] = fmt.Sprintf("%s=sel(%s)", k, s)
		}
	}
	return "{" + strings.Join(parts, " ") + "}"
}

package dsl

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/plugins"
)

// WritePipeline writes a built pipeline as a flat recipe: the target (when
// not ""), then one line per step with the final value of every option,
// defaults included, in the order the pass declares them, and the step's
// per-layer blocks. It is what `sqc recipe pipeline` and
// `sqc compile --dry-run` print. The output is itself a recipe, with no
// base, that checks and builds the same pipeline; a plugin's pass is
// written as a plugin step naming the plugin's absolute path (and its
// pinned sha256).
func WritePipeline(w io.Writer, target string, p *passes.Pipeline) error {
	r := &Recipe{}
	if target != "" {
		r.Stmts = append(r.Stmts, &Stmt{Name: kwTarget, Arg: &Value{Kind: WordValue, Text: target}})
	}
	for _, s := range p.Steps {
		st := &Stmt{Name: s.Pass.Name}
		var items []*Item
		if pl := plugins.Of(s.Pass); pl != nil {
			// A plugin's pass is written as the plugin step that loads it,
			// so that the output checks without the command line that
			// loaded the plugin.
			st = &Stmt{Name: kwPlugin, Arg: &Value{Kind: StringValue, Text: pl.Path()}}
			if sum := pl.SHA256(); sum != "" {
				items = append(items, &Item{Key: kwSHA256, Value: &Value{Kind: StringValue, Text: sum}})
			}
		}
		for _, o := range s.Pass.Options {
			if v, ok := s.Options[o.Name]; ok && v != nil {
				items = append(items, &Item{Key: o.Name, Value: valueOf(v)})
			}
		}
		for _, ov := range s.Overrides {
			b := &Block{OneLine: true}
			for _, o := range s.Pass.Options {
				if v, ok := ov.Options[o.Name]; ok {
					b.Items = append(b.Items, &Item{Key: o.Name, Value: valueOf(v)})
				}
			}
			items = append(items, &Item{Key: kwLayers, Value: valueOf(ov.Select), Block: b})
		}
		if len(items) > 0 {
			st.Block = &Block{OneLine: true, Items: items}
		}
		r.Stmts = append(r.Stmts, st)
	}
	_, err := w.Write(Format(r))
	return err
}

// valueOf writes a typed option value (passes.Options) as a recipe value.
func valueOf(v any) *Value {
	switch x := v.(type) {
	case bool:
		return &Value{Kind: WordValue, Text: strconv.FormatBool(x)}
	case int64:
		return &Value{Kind: IntValue, Text: strconv.FormatInt(x, 10)}
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEnN") { // keep it a float literal; nN: NaN and Inf have none
			s += ".0"
		}
		return &Value{Kind: FloatValue, Text: s}
	case string:
		return word(x)
	case []string:
		l := &Value{Kind: ListValue}
		for _, e := range x {
			l.Elems = append(l.Elems, word(e))
		}
		return l
	case passes.Ratio:
		return &Value{Kind: RatioValue, Text: x.String()}
	case passes.Selector:
		if len(x.Patterns) == 1 {
			return patternValue(x.Patterns[0])
		}
		l := &Value{Kind: ListValue}
		for _, p := range x.Patterns {
			l.Elems = append(l.Elems, patternValue(p))
		}
		return l
	}
	return &Value{Kind: StringValue, Text: fmt.Sprint(v)}
}

// word writes a string bare when the lexer reads it back as one word.
func word(s string) *Value {
	if isWord(s) {
		return &Value{Kind: WordValue, Text: s}
	}
	return &Value{Kind: StringValue, Text: s}
}

// patternValue writes name("glob"), op("glob"), /re/ (names) or op(/re/).
func patternValue(p passes.Pattern) *Value {
	if p.Glob != "" {
		return &Value{Kind: CallValue, Text: p.Field, Elems: []*Value{{Kind: StringValue, Text: p.Glob}}}
	}
	re := &Value{Kind: RegexpValue, Text: p.Regexp}
	if p.Field == "name" {
		return re
	}
	return &Value{Kind: CallValue, Text: p.Field, Elems: []*Value{re}}
}

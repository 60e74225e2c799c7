package main

import (
	"encoding/json"
	"io"

	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/plugins"
)

// The --json forms of the commands print one JSON document on stdout. Their
// field names are a public interface, documented in the README ("JSON
// output"): add fields, never rename or remove one.

// writeJSON writes v as one indented JSON document and a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "int8->f32" stays readable
	return enc.Encode(v)
}

// pipelineJSON is a resolved pipeline: `sqc recipe pipeline --json` and
// `sqc compile --dry-run --json`.
type pipelineJSON struct {
	Target string     `json:"target,omitempty"`
	Steps  []stepJSON `json:"steps"`
}

type stepJSON struct {
	Pass string `json:"pass"`
	// Plugin is the path of the plugin that serves the pass, if one does.
	Plugin string `json:"plugin,omitempty"`
	// Options holds every option's final value, defaults included.
	Options map[string]any `json:"options"`
	// Layers are the per-layer overrides, in the recipe's order.
	Layers []layerOverrideJSON `json:"layers,omitempty"`
}

type layerOverrideJSON struct {
	Select  string         `json:"select"`
	Options map[string]any `json:"options"`
}

func newPipelineJSON(target string, p *passes.Pipeline) pipelineJSON {
	out := pipelineJSON{Target: target, Steps: []stepJSON{}}
	for _, s := range p.Steps {
		st := stepJSON{Pass: s.Pass.Name, Options: jsonOptions(s.Options)}
		if pl := plugins.Of(s.Pass); pl != nil {
			st.Plugin = pl.Path()
		}
		for _, ov := range s.Overrides {
			st.Layers = append(st.Layers, layerOverrideJSON{Select: ov.Select.String(), Options: jsonOptions(ov.Options)})
		}
		out.Steps = append(out.Steps, st)
	}
	return out
}

// jsonOptions converts typed option values to JSON's: ratios ("2:4") and
// selectors (in the command-line form, "name:stem.*|op:Gemm") become
// strings, the rest stay.
func jsonOptions(o passes.Options) map[string]any {
	out := make(map[string]any, len(o))
	for k, v := range o {
		out[k] = jsonValue(v)
	}
	return out
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case passes.Ratio:
		return x.String()
	case passes.Selector:
		return x.String()
	case []string:
		if x == nil {
			return []string{}
		}
	}
	return v
}

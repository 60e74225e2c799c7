package wire

import (
	"fmt"
	"math"

	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/plugins/internal/wirepb"
)

var kinds = map[passes.OptionKind]wirepb.OptionKind{
	passes.Bool:         wirepb.OptionKind_OPTION_KIND_BOOL,
	passes.Int:          wirepb.OptionKind_OPTION_KIND_INT,
	passes.Float:        wirepb.OptionKind_OPTION_KIND_FLOAT,
	passes.String:       wirepb.OptionKind_OPTION_KIND_STRING,
	passes.Strings:      wirepb.OptionKind_OPTION_KIND_STRINGS,
	passes.RatioKind:    wirepb.OptionKind_OPTION_KIND_RATIO,
	passes.SelectorKind: wirepb.OptionKind_OPTION_KIND_SELECTOR,
}

// OptionToDecl encodes an option's declaration.
func OptionToDecl(o passes.Option) (*wirepb.OptionDecl, error) {
	k, ok := kinds[o.Kind]
	if !ok {
		return nil, fmt.Errorf("option %s: unknown kind %v", o.Name, o.Kind)
	}
	d := &wirepb.OptionDecl{Name: o.Name, Doc: o.Doc, Kind: k, Min: o.Min, Max: o.Max, Enum: o.Enum, Required: o.Required}
	if o.Default != nil {
		v, err := ValueToProto(o.Default)
		if err != nil {
			return nil, fmt.Errorf("option %s: default: %v", o.Name, err)
		}
		d.Default = v
	}
	return d, nil
}

// DeclToOption decodes an option's declaration. It checks the encoding
// only; whether the declaration makes sense is the host's to judge.
func DeclToOption(d *wirepb.OptionDecl) (passes.Option, error) {
	o := passes.Option{Name: d.GetName(), Doc: d.GetDoc(), Min: d.GetMin(), Max: d.GetMax(),
		Enum: append([]string(nil), d.GetEnum()...), Required: d.GetRequired()}
	for k, pk := range kinds {
		if pk == d.GetKind() {
			o.Kind = k
		}
	}
	if o.Kind == 0 {
		return o, fmt.Errorf("option %q: unknown kind %v", o.Name, d.GetKind())
	}
	if d.Default != nil {
		v, err := ValueFromProto(d.Default)
		if err != nil {
			return o, fmt.Errorf("option %q: default: %v", o.Name, err)
		}
		o.Default = v
	}
	return o, nil
}

// ValueToProto encodes an option value: bool, int64, float64, string,
// []string, passes.Ratio or passes.Selector.
func ValueToProto(v any) (*wirepb.OptionValue, error) {
	switch x := v.(type) {
	case bool:
		return &wirepb.OptionValue{Value: &wirepb.OptionValue_Bool{Bool: x}}, nil
	case int64:
		return &wirepb.OptionValue{Value: &wirepb.OptionValue_Int{Int: x}}, nil
	case float64:
		return &wirepb.OptionValue{Value: &wirepb.OptionValue_Float{Float: x}}, nil
	case string:
		return &wirepb.OptionValue{Value: &wirepb.OptionValue_String_{String_: x}}, nil
	case []string:
		return &wirepb.OptionValue{Value: &wirepb.OptionValue_Strings{Strings: &wirepb.StringList{Values: x}}}, nil
	case passes.Ratio:
		return &wirepb.OptionValue{Value: &wirepb.OptionValue_Ratio{Ratio: &wirepb.Ratio{N: int64(x.N), M: int64(x.M)}}}, nil
	case passes.Selector:
		s := &wirepb.Selector{}
		for _, p := range x.Patterns {
			s.Patterns = append(s.Patterns, &wirepb.Pattern{Field: p.Field, Glob: p.Glob, Regexp: p.Regexp})
		}
		return &wirepb.OptionValue{Value: &wirepb.OptionValue_Selector{Selector: s}}, nil
	}
	return nil, fmt.Errorf("option values of type %T cannot be sent", v)
}

// ValueFromProto decodes an option value; selector patterns are compiled
// (and so checked) here.
func ValueFromProto(p *wirepb.OptionValue) (any, error) {
	switch x := p.GetValue().(type) {
	case *wirepb.OptionValue_Bool:
		return x.Bool, nil
	case *wirepb.OptionValue_Int:
		return x.Int, nil
	case *wirepb.OptionValue_Float:
		return x.Float, nil
	case *wirepb.OptionValue_String_:
		return x.String_, nil
	case *wirepb.OptionValue_Strings:
		return append([]string{}, x.Strings.GetValues()...), nil
	case *wirepb.OptionValue_Ratio:
		n, m := x.Ratio.GetN(), x.Ratio.GetM()
		if n < 0 || m <= 0 || n > m || m > math.MaxInt32 {
			return nil, fmt.Errorf("ratio %d:%d: want 0 <= N <= M and M > 0", n, m)
		}
		return passes.Ratio{N: int(n), M: int(m)}, nil
	case *wirepb.OptionValue_Selector:
		var sel passes.Selector
		for _, pp := range x.Selector.GetPatterns() {
			pat, err := passes.NewPattern(pp.GetField(), pp.GetGlob(), pp.GetRegexp())
			if err != nil {
				return nil, err
			}
			sel.Patterns = append(sel.Patterns, pat)
		}
		return sel, nil
	}
	return nil, fmt.Errorf("an empty option value")
}

// OptionsToProto encodes a pass's option values; nil values (a required
// option not set) are left out.
func OptionsToProto(opts passes.Options) (map[string]*wirepb.OptionValue, error) {
	out := make(map[string]*wirepb.OptionValue, len(opts))
	for k, v := range opts {
		if v == nil {
			continue
		}
		pv, err := ValueToProto(v)
		if err != nil {
			return nil, fmt.Errorf("option %s: %v", k, err)
		}
		out[k] = pv
	}
	return out, nil
}

// OptionsFromProto decodes option values.
func OptionsFromProto(m map[string]*wirepb.OptionValue) (passes.Options, error) {
	out := make(passes.Options, len(m))
	for k, pv := range m {
		v, err := ValueFromProto(pv)
		if err != nil {
			return nil, fmt.Errorf("option %s: %v", k, err)
		}
		out[k] = v
	}
	return out, nil
}

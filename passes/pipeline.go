package passes

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Step is one pass of a pipeline with its option values (defaults applied)
// and per-layer overrides.
type Step struct {
	Pass      *Pass
	Options   Options
	Overrides []Override
}

// Pipeline is an ordered list of steps that Validate has accepted.
type Pipeline struct {
	Steps []Step
}

// StepSpec names a pass and the option values a user wrote for it, as text
// (from a command line) or as typed values (from a recipe): bool, int64,
// float64, string, []string, Ratio, Selector.
type StepSpec struct {
	Name    string
	Options map[string]any
	// Overrides are per-layer option values: each applies to the nodes its
	// selector matches.
	Overrides []OverrideSpec
}

// OverrideSpec is an Override as written, before its values are checked.
type OverrideSpec struct {
	Select  Selector
	Options map[string]any
}

// ParseSpec reads a comma-separated pipeline in the command-line form
// "fold-constants,dce,pad-channels{multiple=4}": pass names, each with
// optional {key=value;key=value} options.
func ParseSpec(s string) ([]StepSpec, error) {
	var specs []StepSpec
	rest := strings.TrimSpace(s)
	for rest != "" {
		end := strings.IndexAny(rest, ",{")
		name := rest
		if end >= 0 {
			name = rest[:end]
		}
		spec := StepSpec{Name: strings.TrimSpace(name), Options: map[string]any{}}
		if spec.Name == "" {
			return nil, fmt.Errorf("pipeline %q: empty pass name", s)
		}
		rest = rest[len(name):]
		if strings.HasPrefix(rest, "{") {
			close := strings.IndexByte(rest, '}')
			if close < 0 {
				return nil, fmt.Errorf("pipeline %q: options of %s: missing '}'", s, spec.Name)
			}
			for _, kv := range strings.Split(rest[1:close], ";") {
				if strings.TrimSpace(kv) == "" {
					continue
				}
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return nil, fmt.Errorf("pipeline %q: option %q of %s: want key=value", s, kv, spec.Name)
				}
				spec.Options[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
			rest = rest[close+1:]
		}
		rest = strings.TrimSpace(rest)
		if rest != "" {
			if rest[0] != ',' {
				return nil, fmt.Errorf("pipeline %q: want ',' after %s, found %q", s, spec.Name, rest)
			}
			rest = strings.TrimSpace(rest[1:])
		}
		specs = append(specs, spec)
	}
	return specs, nil
}

// Build resolves specs against the registry and validates the result. It
// reports every problem it finds, not just the first.
func Build(specs []StepSpec) (*Pipeline, error) {
	var errs []error
	p := &Pipeline{}
	for _, s := range specs {
		pass := Lookup(s.Name)
		if pass == nil {
			errs = append(errs, fmt.Errorf("unknown pass %q%s", s.Name, suggest(s.Name, passNames())))
			continue
		}
		opts, err := resolveOptions(pass, s.Options)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		step := Step{Pass: pass, Options: opts}
		for _, o := range s.Overrides {
			vals, err := checkOptions(pass, o.Options)
			if err != nil {
				// Each error of the override gets the prefix, not just the first line.
				for _, e := range unjoin(err) {
					errs = append(errs, fmt.Errorf("override for %s: %w", o.Select, e))
				}
				continue
			}
			step.Overrides = append(step.Overrides, Override{Select: o.Select, Options: vals})
		}
		p.Steps = append(p.Steps, step)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// Validate checks what must hold before anything runs: every pass named and
// documented, no cycle among requirements, and every transformation a step
// requires placed before it.
func (p *Pipeline) Validate() error {
	var errs []error
	for _, s := range p.Steps {
		if err := checkPass(s.Pass); err != nil {
			errs = append(errs, err)
		}
		if err := checkCycles(s.Pass, nil); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	ran := map[*Pass]int{}
	for i, s := range p.Steps {
		for _, r := range s.Pass.Requires {
			if r.Analysis {
				continue
			}
			if _, ok := ran[r]; !ok {
				where := "is not in the pipeline"
				for j := i + 1; j < len(p.Steps); j++ {
					if p.Steps[j].Pass == r {
						where = fmt.Sprintf("comes after it (step %d)", j+1)
					}
				}
				errs = append(errs, fmt.Errorf("step %d (%s) requires %s to run before it, but %s %s", i+1, s.Pass.Name, r.Name, r.Name, where))
			}
		}
		ran[s.Pass] = i
	}
	return errors.Join(errs...)
}

// checkCycles walks Requires depth-first; path holds the passes on the way.
func checkCycles(p *Pass, path []*Pass) error {
	for i, q := range path {
		if q == p {
			names := []string{}
			for _, r := range path[i:] {
				names = append(names, r.Name)
			}
			return fmt.Errorf("requirement cycle: %s -> %s", strings.Join(names, " -> "), p.Name)
		}
	}
	path = append(path, p)
	for _, r := range p.Requires {
		if err := checkCycles(r, path); err != nil {
			return err
		}
	}
	return nil
}

// resolveOptions checks user values against the schema, converts text, and
// fills defaults.
func resolveOptions(p *Pass, given map[string]any) (Options, error) {
	opts := Options{}
	for _, o := range p.Options {
		opts[o.Name] = o.Default
	}
	vals, err := checkOptions(p, given)
	for k, v := range vals {
		opts[k] = v
	}
	if missing := MissingOptions(p, given); len(missing) > 0 {
		err = errors.Join(err, fmt.Errorf("pass %s needs option %s (it has no default)", p.Name, strings.Join(missing, ", ")))
	}
	return opts, err
}

// unjoin splits an errors.Join result into its errors.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// checkOptions checks and converts the given values only (no defaults).
func checkOptions(p *Pass, given map[string]any) (Options, error) {
	opts := Options{}
	var errs []error
	// In name order, so that several errors always read the same.
	names := make([]string, 0, len(given))
	for name := range given {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := given[name]
		var decl *Option
		for i := range p.Options {
			if p.Options[i].Name == name {
				decl = &p.Options[i]
			}
		}
		if decl == nil {
			names := make([]string, len(p.Options))
			for i, o := range p.Options {
				names[i] = o.Name
			}
			errs = append(errs, fmt.Errorf("pass %s has no option %q%s", p.Name, name, suggest(name, names)))
			continue
		}
		val, err := convert(*decl, v)
		if err == nil {
			err = checkValue(*decl, val)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("pass %s, option %s: %v", p.Name, name, err))
			continue
		}
		opts[name] = val
	}
	return opts, errors.Join(errs...)
}

// convert turns a command-line string into the option's type; typed values
// (from a recipe) pass through, with ints accepted where floats are wanted.
func convert(o Option, v any) (any, error) {
	s, isText := v.(string)
	switch o.Kind {
	case Bool:
		if isText {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return nil, fmt.Errorf("%q is not a bool (want true or false)", s)
			}
			return b, nil
		}
	case Int:
		if isText {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not an integer", s)
			}
			return n, nil
		}
	case Float:
		if isText {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not a number", s)
			}
			return f, nil
		}
		if n, ok := v.(int64); ok {
			return float64(n), nil
		}
	case Strings:
		if isText {
			if s == "" {
				return []string{}, nil
			}
			return strings.Split(s, "|"), nil
		}
	case RatioKind:
		if isText {
			return ParseRatio(s)
		}
	case SelectorKind:
		if isText {
			return ParseSelector(s)
		}
	}
	return v, nil
}

func checkValue(o Option, v any) error {
	switch o.Kind {
	case Bool:
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("got %v, want a bool", describe(v))
		}
	case Int:
		n, ok := v.(int64)
		if !ok {
			return fmt.Errorf("got %v, want an integer", describe(v))
		}
		if o.Max > o.Min && (float64(n) < o.Min || float64(n) > o.Max) {
			// Integer bounds as integers: [0, 1073741824], not 1.073741824e+09.
			return fmt.Errorf("%d is out of range [%s, %s]", n, strconv.FormatFloat(o.Min, 'f', -1, 64), strconv.FormatFloat(o.Max, 'f', -1, 64))
		}
	case Float:
		f, ok := v.(float64)
		if !ok || math.IsNaN(f) {
			return fmt.Errorf("got %v, want a number", describe(v))
		}
		if o.Max > o.Min && (f < o.Min || f > o.Max) {
			return fmt.Errorf("%v is out of range [%s, %s]", f, formatBound(o.Min), formatBound(o.Max))
		}
	case String:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("got %v, want a string", describe(v))
		}
		if len(o.Enum) > 0 {
			for _, e := range o.Enum {
				if e == s {
					return nil
				}
			}
			return fmt.Errorf("%q is not one of %s%s", s, strings.Join(o.Enum, ", "), suggest(s, o.Enum))
		}
	case Strings:
		if _, ok := v.([]string); !ok {
			return fmt.Errorf("got %v, want a list of strings", describe(v))
		}
	case RatioKind:
		r, ok := v.(Ratio)
		if !ok {
			return fmt.Errorf("got %v, want a ratio such as 2:4", describe(v))
		}
		return r.check()
	case SelectorKind:
		if _, ok := v.(Selector); !ok {
			return fmt.Errorf("got %v, want a layer selector", describe(v))
		}
	default:
		return fmt.Errorf("unknown option kind %v", o.Kind)
	}
	return nil
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case bool:
		return fmt.Sprintf("bool %v", v)
	case int64:
		return fmt.Sprintf("integer %v", v)
	case float64:
		return fmt.Sprintf("number %v", v)
	case string:
		return fmt.Sprintf("string %q", v)
	case []string:
		return fmt.Sprintf("list %q", v)
	case Ratio:
		return fmt.Sprintf("ratio %v", v)
	case Selector:
		return fmt.Sprintf("selector %v", v)
	}
	return fmt.Sprintf("%T", v)
}

func passNames() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	return names
}

// suggest returns ` (did you mean "x"?)` for the nearest candidate within a
// small edit distance, or "".
func suggest(word string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := editDistance(word, c); d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	if best != "" && bestD <= max(2, len(word)/3) {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// editDistance is the Levenshtein distance between two strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// formatBound writes a range bound plainly (1073741824, 0.001) unless it is
// very large or small, where %g's exponent reads better.
func formatBound(v float64) string {
	if a := math.Abs(v); a != 0 && (a >= 1e15 || a < 1e-6) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

package passes

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/sqc-project/sqc/ir"
)

// Ratio is an N:M value such as the 2:4 of structured sparsity.
type Ratio struct{ N, M int }

func (r Ratio) String() string { return fmt.Sprintf("%d:%d", r.N, r.M) }

// ParseRatio reads "N:M" with 0 <= N <= M, M > 0.
func ParseRatio(s string) (Ratio, error) {
	a, b, ok := strings.Cut(s, ":")
	n, err1 := strconv.Atoi(strings.TrimSpace(a))
	m, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil {
		return Ratio{}, fmt.Errorf("%q is not a ratio (want N:M, as in 2:4)", s)
	}
	r := Ratio{n, m}
	if err := r.check(); err != nil {
		return Ratio{}, err
	}
	return r, nil
}

func (r Ratio) check() error {
	if r.M <= 0 || r.N < 0 || r.N > r.M {
		return fmt.Errorf("ratio %v: want 0 <= N <= M and M > 0", r)
	}
	return nil
}

// Selector picks nodes by name or op type. It matches a node when any of
// its patterns does; the zero Selector matches nothing.
type Selector struct {
	Patterns []Pattern
}

// Pattern is one way of picking nodes.
type Pattern struct {
	// Field is what the pattern looks at: "name" or "op".
	Field string
	// Glob, when set, is a shell pattern (path.Match syntax: * ? [...]),
	// matched against the whole field.
	Glob string
	// Regexp, when set, is a regular expression that must match somewhere
	// in the field (anchor it with ^ and $ to match the whole).
	Regexp string

	re *regexp.Regexp
}

// NewPattern builds a pattern, checking its syntax.
func NewPattern(field, glob, re string) (Pattern, error) {
	p := Pattern{Field: field, Glob: glob, Regexp: re}
	if field != "name" && field != "op" {
		return p, fmt.Errorf("selector field %q: want name or op", field)
	}
	if (glob == "") == (re == "") {
		return p, fmt.Errorf("a selector pattern needs exactly one of a glob or a regular expression")
	}
	if glob != "" {
		if _, err := path.Match(glob, ""); err != nil {
			return p, fmt.Errorf("bad glob %q: %v", glob, err)
		}
	} else {
		var err error
		if p.re, err = regexp.Compile(re); err != nil {
			return p, fmt.Errorf("bad regular expression /%s/: %v", re, err)
		}
	}
	return p, nil
}

// Match reports whether the pattern picks n.
func (p Pattern) Match(n *ir.Node) bool {
	field := n.Name
	if p.Field == "op" {
		field = n.Op
	}
	if p.Glob != "" {
		ok, _ := path.Match(p.Glob, field)
		return ok
	}
	re := p.re
	if re == nil {
		re = regexp.MustCompile(p.Regexp) // built by hand, not NewPattern; checked there
	}
	return re.MatchString(field)
}

// String writes the pattern in the command-line form: name:glob, op:glob,
// name~regexp or op~regexp.
func (p Pattern) String() string {
	if p.Glob != "" {
		return p.Field + ":" + p.Glob
	}
	return p.Field + "~" + p.Regexp
}

// Match reports whether any pattern picks n.
func (s Selector) Match(n *ir.Node) bool {
	for _, p := range s.Patterns {
		if p.Match(n) {
			return true
		}
	}
	return false
}

// String writes the selector in the command-line form, patterns joined by '|'.
func (s Selector) String() string {
	parts := make([]string, len(s.Patterns))
	for i, p := range s.Patterns {
		parts[i] = p.String()
	}
	return strings.Join(parts, "|")
}

// ParseSelector reads the command-line form: patterns joined by '|', each
// `name:GLOB`, `op:GLOB`, `name~REGEXP` or `op~REGEXP`; a bare GLOB means
// name:GLOB.
func ParseSelector(s string) (Selector, error) {
	var sel Selector
	if strings.TrimSpace(s) == "" {
		return sel, nil
	}
	for _, part := range strings.Split(s, "|") {
		part = strings.TrimSpace(part)
		field, rest := "name", part
		var p Pattern
		var err error
		switch {
		case strings.HasPrefix(part, "name~"), strings.HasPrefix(part, "op~"):
			field, rest, _ = strings.Cut(part, "~")
			p, err = NewPattern(field, "", rest)
		default:
			if f, r, ok := strings.Cut(part, ":"); ok && (f == "name" || f == "op") {
				field, rest = f, r
			}
			p, err = NewPattern(field, rest, "")
		}
		if err != nil {
			return sel, err
		}
		sel.Patterns = append(sel.Patterns, p)
	}
	return sel, nil
}

// Override gives some nodes option values of their own: a recipe's
// per-layer settings ("prune, but not the layers matching layer4.*").
type Override struct {
	Select  Selector
	Options Options
}

// OptionsFor returns the options that apply to node n: the step's, with the
// values of every override whose selector matches n laid over them in
// order (a later override wins).
func (c *Context) OptionsFor(n *ir.Node) Options {
	if len(c.overrides) == 0 {
		return c.Options
	}
	var merged Options
	for _, o := range c.overrides {
		if !o.Select.Match(n) {
			continue
		}
		if merged == nil {
			merged = Options{}
			for k, v := range c.Options {
				merged[k] = v
			}
		}
		for k, v := range o.Options {
			merged[k] = v
		}
	}
	if merged == nil {
		return c.Options
	}
	return merged
}

// Ratio returns a ratio option.
func (o Options) Ratio(name string) Ratio { v, _ := o[name].(Ratio); return v }

// Selector returns a selector option.
func (o Options) Selector(name string) Selector { v, _ := o[name].(Selector); return v }

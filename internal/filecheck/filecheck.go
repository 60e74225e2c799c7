// Package filecheck is a small FileCheck in the style of LLVM's: a test file
// carries its expectations as comment lines, and Check matches a tool's
// output against them. sqc's pass tests are .sqir files whose `// RUN:` line
// names the pipeline and whose `// CHECK` lines say what the result must hold.
//
// Directives (each on a line of its own after "//"):
//
//	CHECK: text        the next match of text, anywhere after the previous match
//	CHECK-NEXT: text   a match on the line right after the previous match
//	CHECK-SAME: text   a match on the same line as the previous match, after it
//	CHECK-NOT: text    text does not occur between the previous match and the next
//	CHECK-LABEL: text  like CHECK; marks the start of a section for readers
//	CHECK-EMPTY:       the next line is empty
//
// In a pattern, {{re}} is a regular expression, [[NAME:re]] matches re and
// binds NAME to what it matched, and [[NAME]] matches the bound text. Other
// text matches literally; runs of spaces match any run of horizontal space.
package filecheck

import (
	"fmt"
	"regexp"
	"strings"
)

// Kind is a directive's kind.
type Kind int

// The directive kinds.
const (
	Check Kind = iota
	Next
	Same
	Not
	Label
	Empty
)

var kindNames = map[string]Kind{"CHECK": Check, "CHECK-NEXT": Next, "CHECK-SAME": Same, "CHECK-NOT": Not, "CHECK-LABEL": Label, "CHECK-EMPTY": Empty}

// Directive is one CHECK line of a test file.
type Directive struct {
	Kind    Kind
	Pattern string
	Line    int // 1-based line in the test file
}

// Test is what a test file says: its RUN lines and its directives.
type Test struct {
	Name       string
	Run        []string
	Directives []Directive
}

var directiveRE = regexp.MustCompile(`^\s*//\s*(RUN|CHECK(?:-[A-Z]+)?):(.*)$`)

// ParseTest reads the RUN and CHECK lines of a test file.
func ParseTest(name string, src string) (*Test, error) {
	t := &Test{Name: name}
	for i, line := range strings.Split(src, "\n") {
		m := directiveRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		text := strings.TrimSpace(m[2])
		if m[1] == "RUN" {
			t.Run = append(t.Run, text)
			continue
		}
		k, ok := kindNames[m[1]]
		if !ok {
			return nil, fmt.Errorf("%s:%d: unknown directive %s (want CHECK, CHECK-NEXT, CHECK-SAME, CHECK-NOT, CHECK-LABEL or CHECK-EMPTY)", name, i+1, m[1])
		}
		if text == "" && k != Empty {
			return nil, fmt.Errorf("%s:%d: %s has an empty pattern", name, i+1, m[1])
		}
		if (k == Next || k == Same || k == Empty) && len(t.Directives) == 0 {
			return nil, fmt.Errorf("%s:%d: %s cannot be the first directive", name, i+1, m[1])
		}
		t.Directives = append(t.Directives, Directive{Kind: k, Pattern: text, Line: i + 1})
	}
	if len(t.Directives) == 0 {
		return nil, fmt.Errorf("%s: no CHECK directives", name)
	}
	return t, nil
}

// matcher is a compiled pattern; variables are substituted at match time.
type matcher struct {
	parts []part
}

type part struct {
	literal string // literal text (spaces already collapsed), or
	re      string // a regular expression, or
	define  string // a variable definition [[NAME:re]] (re in re), or
	use     string // a variable use [[NAME]]
}

var spaceRE = regexp.MustCompile(`[ \t]+`)

var tokenRE = regexp.MustCompile(`\{\{(.*?)\}\}|\[\[([A-Za-z_][A-Za-z0-9_]*)(?::(.*?))?\]\]`)

func compile(p string) (*matcher, error) {
	m := &matcher{}
	last := 0
	for _, loc := range tokenRE.FindAllStringSubmatchIndex(p, -1) {
		if loc[0] > last {
			m.parts = append(m.parts, part{literal: p[last:loc[0]]})
		}
		switch {
		case loc[2] >= 0:
			re := p[loc[2]:loc[3]]
			if _, err := regexp.Compile(re); err != nil {
				return nil, fmt.Errorf("bad regular expression {{%s}}: %v", re, err)
			}
			m.parts = append(m.parts, part{re: re})
		case loc[6] >= 0:
			re := p[loc[6]:loc[7]]
			if _, err := regexp.Compile(re); err != nil {
				return nil, fmt.Errorf("bad regular expression in [[%s:%s]]: %v", p[loc[4]:loc[5]], re, err)
			}
			m.parts = append(m.parts, part{define: p[loc[4]:loc[5]], re: re})
		default:
			m.parts = append(m.parts, part{use: p[loc[4]:loc[5]]})
		}
		last = loc[1]
	}
	if last < len(p) {
		m.parts = append(m.parts, part{literal: p[last:]})
	}
	return m, nil
}

// regexp builds the pattern's regular expression with the current variable
// bindings; defined variables become named groups.
func (m *matcher) regexp(vars map[string]string) (*regexp.Regexp, []string, error) {
	var b strings.Builder
	var defs []string
	for _, p := range m.parts {
		switch {
		case p.define != "":
			b.WriteString("(" + p.re + ")")
			defs = append(defs, p.define)
		case p.re != "":
			b.WriteString("(?:" + p.re + ")")
		case p.use != "":
			v, ok := vars[p.use]
			if !ok {
				return nil, nil, fmt.Errorf("variable [[%s]] is used before it is defined", p.use)
			}
			b.WriteString(regexp.QuoteMeta(v))
		default:
			// Runs of spaces match any run of horizontal space.
			for i, f := range spaceRE.Split(p.literal, -1) {
				if i > 0 {
					b.WriteString(`[ \t]+`)
				}
				b.WriteString(regexp.QuoteMeta(f))
			}
		}
	}
	re, err := regexp.Compile(b.String())
	return re, defs, err
}

// Check matches output against the test's directives and returns nil, or an
// error that names the directive's line, quotes the pattern and shows where in
// the output the search was.
func (t *Test) Check(output string) error {
	lines := strings.Split(output, "\n")
	vars := map[string]string{}
	// pos is the position just after the previous match: line index and column.
	line, col := 0, 0
	var pendingNot []Directive
	for _, d := range t.Directives {
		m, err := compile(d.Pattern)
		if err != nil {
			return fmt.Errorf("%s:%d: %v", t.Name, d.Line, err)
		}
		re, defs, err := m.regexp(vars)
		if err != nil {
			return fmt.Errorf("%s:%d: %v", t.Name, d.Line, err)
		}
		if d.Kind == Not {
			pendingNot = append(pendingNot, d)
			continue
		}
		var mLine, mStart, mEnd int
		var sub []string
		found := false
		switch d.Kind {
		case Check, Label:
			for l := line; l < len(lines) && !found; l++ {
				from := 0
				if l == line {
					from = col
				}
				if loc := re.FindStringSubmatchIndex(lines[l][from:]); loc != nil {
					mLine, mStart, mEnd, found = l, from+loc[0], from+loc[1], true
					sub = submatches(lines[l][from:], loc)
				}
			}
		case Next, Empty:
			l := line + 1
			if l < len(lines) {
				if d.Kind == Empty {
					found = strings.TrimSpace(lines[l]) == ""
					mLine, mStart, mEnd = l, 0, 0
				} else if loc := re.FindStringSubmatchIndex(lines[l]); loc != nil {
					mLine, mStart, mEnd, found = l, loc[0], loc[1], true
					sub = submatches(lines[l], loc)
				}
			}
		case Same:
			if line < len(lines) {
				if loc := re.FindStringSubmatchIndex(lines[line][col:]); loc != nil {
					mLine, mStart, mEnd, found = line, col+loc[0], col+loc[1], true
					sub = submatches(lines[line][col:], loc)
				}
			}
		}
		if !found {
			return fmt.Errorf("%s:%d: %s: no match for %q\nsearched from output line %d: %s", t.Name, d.Line, kindName(d.Kind), d.Pattern, line+1, excerpt(lines, line))
		}
		// CHECK-NOTs since the previous match must not occur before this one.
		if err := checkNots(t.Name, pendingNot, lines, line, col, mLine, mStart, vars); err != nil {
			return err
		}
		pendingNot = nil
		for i, name := range defs {
			vars[name] = sub[i]
		}
		line, col = mLine, mEnd
	}
	return checkNots(t.Name, pendingNot, lines, line, col, len(lines), 0, vars)
}

func submatches(s string, loc []int) []string {
	var out []string
	for i := 2; i+1 < len(loc); i += 2 {
		if loc[i] >= 0 {
			out = append(out, s[loc[i]:loc[i+1]])
		} else {
			out = append(out, "")
		}
	}
	return out
}

// checkNots searches the region from (l0,c0) up to (l1,c1) for forbidden text.
func checkNots(name string, nots []Directive, lines []string, l0, c0, l1, c1 int, vars map[string]string) error {
	for _, d := range nots {
		m, err := compile(d.Pattern)
		if err != nil {
			return fmt.Errorf("%s:%d: %v", name, d.Line, err)
		}
		re, _, err := m.regexp(vars)
		if err != nil {
			return fmt.Errorf("%s:%d: %v", name, d.Line, err)
		}
		for l := l0; l <= l1 && l < len(lines); l++ {
			s := lines[l]
			from, to := 0, len(s)
			if l == l0 {
				from = min(c0, len(s))
			}
			if l == l1 {
				to = min(c1, len(s))
			}
			if from <= to && re.MatchString(s[from:to]) {
				return fmt.Errorf("%s:%d: CHECK-NOT: %q occurs at output line %d: %s", name, d.Line, d.Pattern, l+1, s)
			}
		}
	}
	return nil
}

func kindName(k Kind) string {
	for n, v := range kindNames {
		if v == k {
			return n
		}
	}
	return "CHECK"
}

func excerpt(lines []string, from int) string {
	end := min(from+3, len(lines))
	if from >= end {
		return "(end of output)"
	}
	return strings.Join(lines[from:end], "\n")
}

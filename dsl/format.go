package dsl

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Format writes a recipe in canonical form, keeping its comments and its
// paragraphs (runs of blank lines become one):
//
//   - one statement a line; blocks open on the statement's line, their items
//     one a line indented by two spaces, '}' on a line of its own; a block
//     written on one line with options only stays on one line, its options
//     separated by "; " ("calibrate { method = entropy; samples = 512 }");
//   - the '=' of consecutive options lines up, and so do the comments at the
//     end of consecutive lines (gofmt's rule: a comment line, a blank line or
//     a multi-line item ends the run);
//   - values are written back as they were (numbers as typed, strings
//     re-quoted with Go's escapes), lists as [a, b].
//
// Formatting its own output changes nothing, and the output parses back to
// the same recipe.
func Format(r *Recipe) []byte {
	var p printer
	lines := make([]line, len(r.Stmts))
	for i, s := range r.Stmts {
		lines[i] = line{doc: s.Doc, comment: s.Comment, text: p.stmtText(s, 0)}
	}
	p.lines(lines, 0)
	p.doc(r.EndComments, 0)
	return p.buf.Bytes()
}

type printer struct {
	buf bytes.Buffer
}

// line is one statement or item, rendered (text may span lines) before
// comments are aligned.
type line struct {
	doc     []string
	comment string
	// key is set for an option, whose '=' aligns with its neighbours';
	// text then holds what follows the key.
	key  string
	text string
}

func (l line) multiLine() bool { return strings.Contains(l.text, "\n") }

// lines writes statements or items at an indent, aligning keys and comments
// within runs.
func (p *printer) lines(ls []line, indent int) {
	// Pad keys: a run is consecutive options, broken by a comment line, a
	// blank line or anything that is not an option.
	for i := 0; i < len(ls); {
		j := i
		width := 0
		for j < len(ls) && ls[j].key != "" && (j == i || len(ls[j].doc) == 0) {
			width = max(width, utf8.RuneCountInString(ls[j].key))
			j++
		}
		for k := i; k < j; k++ {
			ls[k].text = ls[k].key + strings.Repeat(" ", width-utf8.RuneCountInString(ls[k].key)) + " = " + ls[k].text
			ls[k].key = ""
		}
		if j == i {
			j++
		}
		i = j
	}
	// Align trailing comments over runs of one-line nodes that have one.
	for i := 0; i < len(ls); {
		j := i
		width := 0
		for j < len(ls) && ls[j].comment != "" && !ls[j].multiLine() && (j == i || len(ls[j].doc) == 0) {
			width = max(width, utf8.RuneCountInString(ls[j].text))
			j++
		}
		for k := i; k < j; k++ {
			ls[k].text += strings.Repeat(" ", width-utf8.RuneCountInString(ls[k].text)+1) + ls[k].comment
			ls[k].comment = ""
		}
		if j == i {
			j++
		}
		i = j
	}
	for _, l := range ls {
		p.doc(l.doc, indent)
		p.indent(indent)
		p.buf.WriteString(l.text)
		if l.comment != "" {
			p.buf.WriteString(" " + l.comment)
		}
		p.buf.WriteByte('\n')
	}
}

func (p *printer) doc(doc []string, indent int) {
	for _, d := range doc {
		if d != "" {
			p.indent(indent)
			p.buf.WriteString(d)
		}
		p.buf.WriteByte('\n')
	}
}

func (p *printer) indent(n int) {
	for range n {
		p.buf.WriteString("  ")
	}
}

// stmtText renders a statement; lines after the first carry their own
// indentation.
func (p *printer) stmtText(s *Stmt, indent int) string {
	var b strings.Builder
	b.WriteString(s.Name)
	if s.Arg != nil {
		b.WriteString(" " + valueText(s.Arg))
	}
	if s.Block != nil {
		b.WriteString(" " + p.blockText(s.Block, indent))
	}
	return b.String()
}

func (p *printer) blockText(bl *Block, indent int) string {
	if bl.OneLine {
		if len(bl.Items) == 0 {
			return "{}"
		}
		parts := make([]string, len(bl.Items))
		for i, it := range bl.Items {
			parts[i] = p.itemText(it, indent)
		}
		return "{ " + strings.Join(parts, "; ") + " }"
	}
	var sub printer
	ls := make([]line, len(bl.Items))
	for i, it := range bl.Items {
		ls[i] = line{doc: it.Doc, comment: it.Comment}
		if it.IsOverride() {
			ls[i].text = sub.itemText(it, indent+1)
		} else {
			ls[i].key, ls[i].text = it.Key, valueText(it.Value)
		}
	}
	sub.lines(ls, indent+1)
	sub.doc(bl.EndComments, indent+1)
	var b strings.Builder
	b.WriteString("{\n")
	b.Write(sub.buf.Bytes())
	for range indent {
		b.WriteString("  ")
	}
	b.WriteString("}")
	return b.String()
}

func (p *printer) itemText(it *Item, indent int) string {
	if it.IsOverride() {
		return it.Key + " " + valueText(it.Value) + " " + p.blockText(it.Block, indent)
	}
	return it.Key + " = " + valueText(it.Value)
}

// valueText writes a value in canonical form.
func valueText(v *Value) string {
	switch v.Kind {
	case StringValue:
		return strconv.Quote(v.Text)
	case RegexpValue:
		return "/" + escapeRegexp(v.Text) + "/"
	case CallValue, ListValue:
		parts := make([]string, len(v.Elems))
		for i, e := range v.Elems {
			parts[i] = valueText(e)
		}
		if v.Kind == CallValue {
			return v.Text + "(" + strings.Join(parts, ", ") + ")"
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return v.Text
}

// escapeRegexp writes a regular expression for /.../: a '/' that is not
// escaped gets a backslash, a new line becomes \n (the same expression to
// package regexp). Text that came from a recipe is returned unchanged.
func escapeRegexp(re string) string {
	var b strings.Builder
	for i := 0; i < len(re); i++ {
		switch c := re[i]; {
		case c == '\\' && i+1 < len(re) && re[i+1] != '\n':
			b.WriteByte(c)
			i++
			b.WriteByte(re[i])
		case c == '\\':
			b.WriteString(`\\`)
		case c == '/':
			b.WriteString(`\/`)
		case c == '\n':
			b.WriteString(`\n`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// wordRE is the lexer's Ident: what may be written without quotes.
var wordRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.\-]*$`)

// isWord reports whether s can be written as a bare word.
func isWord(s string) bool { return wordRE.MatchString(s) }

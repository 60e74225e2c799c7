package sqir

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/sqc-project/sqc/ir"
)

// Print writes g in the textual form. The output depends only on the graph,
// so equal graphs print byte-identical text. It returns an error, before
// writing anything, for a graph the form cannot express so that it parses
// back equal: a value without a name, two values of one name, a value
// defined twice or not at all, a constant whose data does not match its
// type, a malformed dim, dtype or attribute.
func Print(w io.Writer, g *ir.Graph) error { return PrintWith(w, g, PrintOptions{}) }

// PrintOptions change how PrintWith writes a graph.
type PrintOptions struct {
	// ElideBytes, when > 0, writes the data of every constant of more than
	// this many bytes as elided "N bytes, sha256 HEX" (the first 16 hex
	// digits of the SHA-256 of its little-endian bytes), for reading: a
	// ResNet-50 prints in kilobytes instead of 140 MB. Such text does not
	// load: the parser refuses an elided constant, naming it.
	ElideBytes int
	// External names constants whose data is kept elsewhere: for v with
	// ok, the text holds `= external "key"` instead of the data, and only
	// ParseWith with a resolver for the keys reads it back. An engine
	// does this for weights it already holds packed.
	External func(v *ir.Value) (key string, ok bool)
}

// PrintWith is Print with options.
func PrintWith(w io.Writer, g *ir.Graph, o PrintOptions) error {
	if g == nil {
		return fmt.Errorf("sqir: cannot print a nil graph")
	}
	if err := checkPrintable(g); err != nil {
		return fmt.Errorf("sqir: cannot print graph %q: %w", g.Name, err)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	p := &printer{w: bw, opts: o}
	p.graph(g)
	if p.err != nil {
		return p.err
	}
	return bw.Flush()
}

// Format returns g's textual form, or a line "// sqir: <error>" where
// Print fails, so that it can go straight into a log or a test message.
func Format(g *ir.Graph) string {
	var b strings.Builder
	b.Grow(sizeHint(g))
	if err := Print(&b, g); err != nil {
		return "// " + err.Error() + "\n"
	}
	return b.String()
}

// sizeHint estimates the printed size of g, dominated by its blobs, so
// that Format grows its buffer once instead of copying 100 MB repeatedly.
func sizeHint(g *ir.Graph) int {
	if g == nil {
		return 0
	}
	n := 256 + 128*len(g.Nodes)
	seen := map[*ir.Value]bool{}
	add := func(v *ir.Value) {
		if t := v.Const; t != nil && !seen[v] && t.Check() == nil {
			seen[v] = true
			n += 64 + base64.StdEncoding.EncodedLen(t.Len()*t.DType.Size())
		}
	}
	// Not g.Constants: the graph may be malformed (a nil node) here.
	for _, nd := range g.Nodes {
		if nd != nil {
			for _, v := range nd.Inputs {
				if v != nil {
					add(v)
				}
			}
		}
	}
	for _, v := range g.Outputs {
		if v != nil {
			add(v)
		}
	}
	return n
}

// checkPrintable finds what Print cannot write faithfully.
func checkPrintable(g *ir.Graph) error {
	names := map[string]*ir.Value{}
	defined := map[*ir.Value]bool{}
	define := func(v *ir.Value, what string) error {
		if v.Name == "" {
			return fmt.Errorf("%s has no name", what)
		}
		if defined[v] {
			return fmt.Errorf("%s: value %%%s is defined twice", what, v.Name)
		}
		if other, ok := names[v.Name]; ok && other != v {
			return fmt.Errorf("%s: two values are named %%%s", what, v.Name)
		}
		names[v.Name] = v
		defined[v] = true
		return checkValue(v)
	}
	for i, v := range g.Inputs {
		what := fmt.Sprintf("graph input %d", i)
		if v == nil {
			return fmt.Errorf("%s is nil", what)
		}
		if v.IsConst() {
			return fmt.Errorf("graph input %%%s is a constant", v.Name)
		}
		if err := define(v, what); err != nil {
			return err
		}
	}
	for i, n := range g.Nodes {
		if n == nil {
			return fmt.Errorf("node %d is nil", i) // before g.Constants, which would crash
		}
	}
	for _, v := range g.Constants() {
		if defined[v] {
			continue // a constant graph input, reported above
		}
		if err := define(v, "a constant"); err != nil {
			return err
		}
	}
	for _, n := range g.Nodes {
		where := fmt.Sprintf("node %q (%s)", n.Name, n.Op)
		for j, v := range n.Outputs {
			if v == nil {
				return fmt.Errorf("%s: output %d is nil", where, j)
			}
			if v.IsConst() {
				return fmt.Errorf("%s: output %%%s is a constant", where, v.Name)
			}
			if err := define(v, fmt.Sprintf("%s output %d", where, j)); err != nil {
				return err
			}
		}
		for _, k := range n.Attrs.Names() {
			if kind := n.Attrs[k].Kind; kind < ir.AttrInt || kind > ir.AttrStrings {
				return fmt.Errorf("%s: attribute %q has invalid kind %d", where, k, kind)
			}
		}
	}
	// Uses are checked once every definition is known, since the form
	// allows a use before its definition.
	for _, n := range g.Nodes {
		for j, v := range n.Inputs {
			if v != nil && !defined[v] {
				return fmt.Errorf("node %q (%s): input %d %%%s is not a graph input, a constant or a node output", n.Name, n.Op, j, v.Name)
			}
		}
	}
	for i, v := range g.Outputs {
		if v == nil {
			return fmt.Errorf("graph output %d is nil", i)
		}
		if !defined[v] {
			return fmt.Errorf("graph output %d %%%s is not a graph input, a constant or a node output", i, v.Name)
		}
	}
	return nil
}

// checkValue checks a value's type and, for a constant, its data.
func checkValue(v *ir.Value) error {
	t := v.Type
	if t.DType > ir.Bool {
		return fmt.Errorf("value %%%s has invalid dtype %d", v.Name, uint8(t.DType))
	}
	for i, d := range t.Shape {
		if d.Size < -1 || (d.Size >= 0 && d.Sym != "") {
			return fmt.Errorf("value %%%s: dim %d is {Size: %d, Sym: %q}, want a size >= 0, or -1 with an optional symbol", v.Name, i, d.Size, d.Sym)
		}
	}
	c := v.Const
	if c == nil {
		return nil
	}
	if err := c.Check(); err != nil {
		return fmt.Errorf("constant %%%s: %v", v.Name, err)
	}
	if c.DType != t.DType || len(c.Shape) != len(t.Shape) {
		return fmt.Errorf("constant %%%s: declared %v, data is %v%v", v.Name, t, c.DType, ir.ShapeOf(c.Shape...))
	}
	for i, d := range t.Shape {
		if d.Size != int64(c.Shape[i]) || d.Sym != "" {
			return fmt.Errorf("constant %%%s: declared %v, data is %v%v", v.Name, t, c.DType, ir.ShapeOf(c.Shape...))
		}
	}
	return nil
}

// printer writes into a buffer it reuses per line and records the first
// write error.
type printer struct {
	w    *bufio.Writer
	buf  []byte
	err  error
	opts PrintOptions
}

func (p *printer) flushLine() {
	if p.err == nil {
		_, p.err = p.w.Write(p.buf)
	}
	p.buf = p.buf[:0]
}

func (p *printer) graph(g *ir.Graph) {
	b := append(p.buf, "graph "...)
	b = strconv.AppendQuote(b, g.Name)
	b = append(b, " ("...)
	for i, v := range g.Inputs {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendDef(b, v)
	}
	b = append(b, ") -> ("...)
	for i, v := range g.Outputs {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendValue(b, v.Name)
	}
	p.buf = append(b, ") {\n"...)
	p.flushLine()
	for _, c := range g.Constants() {
		p.constant(c)
	}
	for _, n := range g.Nodes {
		p.node(n)
	}
	p.buf = append(p.buf, "}\n"...)
	p.flushLine()
}

func (p *printer) constant(v *ir.Value) {
	b := append(p.buf, "  const "...)
	b = appendDef(b, v)
	b = append(b, " = "...)
	if p.opts.External != nil {
		if key, ok := p.opts.External(v); ok {
			b = append(b, "external "...)
			p.buf = append(strconv.AppendQuote(b, key), '\n')
			p.flushLine()
			return
		}
	}
	t := v.Const
	n := t.Len()
	if n <= maxListElems {
		b = append(b, '[')
		for i := 0; i < n; i++ {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendElem(b, t, i)
		}
		p.buf = append(b, "]\n"...)
		p.flushLine()
		return
	}
	if bytes := n * t.DType.Size(); p.opts.ElideBytes > 0 && bytes > p.opts.ElideBytes {
		h := sha256.New()
		h.Write(ir.AppendLE(nil, t.Data, 0, n))
		b = fmt.Appendf(b, "%s \"%d bytes, sha256 %x\"\n", elidedWord, bytes, h.Sum(nil)[:8])
		p.buf = b
		p.flushLine()
		return
	}
	p.buf = append(b, `base64"`...)
	p.flushLine()
	p.blob(t.Data, n, t.DType.Size())
	p.buf = append(p.buf, "\"\n"...)
	p.flushLine()
}

// elidedWord starts the data of a constant PrintWith elided.
const elidedWord = "elided"

// blob writes the base64 of the data's little-endian bytes in chunks that
// are a multiple of 3 bytes (so the chunks' encodings concatenate) and of
// every element size.
func (p *printer) blob(data any, n, size int) {
	const chunkBytes = 3 * 8 * 4096
	per := chunkBytes / size
	raw := make([]byte, 0, chunkBytes)
	enc := make([]byte, base64.StdEncoding.EncodedLen(chunkBytes))
	for from := 0; from < n && p.err == nil; from += per {
		to := min(from+per, n)
		raw = ir.AppendLE(raw[:0], data, from, to)
		m := base64.StdEncoding.EncodedLen(len(raw))
		base64.StdEncoding.Encode(enc[:m], raw)
		_, p.err = p.w.Write(enc[:m])
	}
}

func (p *printer) node(n *ir.Node) {
	b := append(p.buf, "  "...)
	for i, v := range n.Outputs {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendDef(b, v)
	}
	if len(n.Outputs) > 0 {
		b = append(b, " = "...)
	}
	if isIdent(n.Op) && n.Op != "const" && n.Op != "notes" {
		b = append(b, n.Op...)
	} else {
		b = strconv.AppendQuote(b, n.Op)
	}
	b = append(b, ' ')
	b = strconv.AppendQuote(b, n.Name)
	b = append(b, " ("...)
	for i, v := range n.Inputs {
		if i > 0 {
			b = append(b, ", "...)
		}
		if v == nil {
			b = append(b, '_')
		} else {
			b = appendValue(b, v.Name)
		}
	}
	b = append(b, ')')
	if len(n.Attrs) > 0 {
		b = append(b, " {"...)
		for i, k := range n.Attrs.Names() {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendName(b, k)
			b = append(b, " = "...)
			b = appendAttr(b, n.Attrs[k])
		}
		b = append(b, '}')
	}
	if len(n.Notes) > 0 {
		b = append(b, " notes {"...)
		keys := make([]string, 0, len(n.Notes))
		for k := range n.Notes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendName(b, k)
			b = append(b, " = "...)
			b = strconv.AppendQuote(b, n.Notes[k])
		}
		b = append(b, '}')
	}
	p.buf = append(b, '\n')
	p.flushLine()
}

// appendName writes an identifier bare and anything else quoted.
func appendName(b []byte, s string) []byte {
	if isIdent(s) {
		return append(b, s...)
	}
	return strconv.AppendQuote(b, s)
}

func appendValue(b []byte, name string) []byte {
	return appendName(append(b, '%'), name)
}

// appendDef writes "%name: type [quant(...)] [sparsity N:M@axis]".
func appendDef(b []byte, v *ir.Value) []byte {
	b = appendValue(b, v.Name)
	b = append(b, ": "...)
	if v.Type.DType == ir.InvalidDType {
		b = append(b, '?')
	} else {
		b = append(b, v.Type.DType.String()...)
	}
	b = append(b, '[')
	for i, d := range v.Type.Shape {
		if i > 0 {
			b = append(b, ',')
		}
		switch {
		case d.Known():
			b = strconv.AppendInt(b, d.Size, 10)
		case d.Sym != "":
			b = appendName(b, d.Sym)
		default:
			b = append(b, '?')
		}
	}
	b = append(b, ']')
	if l := v.Type.Layout; l != "" {
		b = append(b, '{')
		b = appendName(b, string(l))
		b = append(b, '}')
	}
	if q := v.Quant; q != nil {
		b = append(b, " quant("...)
		if q.Axis != -1 {
			b = append(b, "axis="...)
			b = strconv.AppendInt(b, int64(q.Axis), 10)
			b = append(b, ", "...)
		}
		b = append(b, "scale=["...)
		for i, s := range q.Scale {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendF32(b, s)
		}
		b = append(b, "], zp=["...)
		for i, z := range q.ZeroPoint {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = strconv.AppendInt(b, int64(z), 10)
		}
		b = append(b, "])"...)
	}
	if s := v.Sparsity; s != nil {
		b = append(b, " sparsity "...)
		b = strconv.AppendInt(b, int64(s.N), 10)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(s.M), 10)
		b = append(b, '@')
		b = strconv.AppendInt(b, int64(s.Axis), 10)
	}
	return b
}

// appendAttr writes an attribute value, with a kind suffix where the value
// alone would read back as another kind.
func appendAttr(b []byte, a ir.Attr) []byte {
	switch a.Kind {
	case ir.AttrInt:
		return strconv.AppendInt(b, a.Int, 10)
	case ir.AttrFloat:
		b, hex := appendFloatAttr(b, a.Float)
		if hex {
			b = append(b, " : float"...)
		}
		return b
	case ir.AttrString:
		return strconv.AppendQuote(b, a.String)
	case ir.AttrInts:
		b = append(b, '[')
		for i, v := range a.Ints {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = strconv.AppendInt(b, v, 10)
		}
		b = append(b, ']')
		if len(a.Ints) == 0 {
			b = append(b, " : ints"...)
		}
		return b
	case ir.AttrFloats:
		b = append(b, '[')
		anyHex := false
		for i, v := range a.Floats {
			if i > 0 {
				b = append(b, ", "...)
			}
			var hex bool
			b, hex = appendFloatAttr(b, v)
			anyHex = anyHex || hex
		}
		b = append(b, ']')
		if len(a.Floats) == 0 || anyHex {
			b = append(b, " : floats"...)
		}
		return b
	case ir.AttrStrings:
		b = append(b, '[')
		for i, v := range a.Strings {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = strconv.AppendQuote(b, v)
		}
		b = append(b, ']')
		if len(a.Strings) == 0 {
			b = append(b, " : strings"...)
		}
		return b
	}
	return b // unreachable: checkPrintable rejects other kinds
}

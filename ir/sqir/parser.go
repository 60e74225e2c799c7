package sqir

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os"
	"slices"
	"strconv"

	"github.com/sqc-project/sqc/ir"
)

// Parse reads a graph in the textual form. filename is used in error
// messages only. Parse does not verify the graph (its ops may be unknown to
// the verifier); see ParseAndVerify.
func Parse(filename string, src []byte) (g *ir.Graph, err error) {
	return ParseWith(filename, src, ParseOptions{})
}

// ParseOptions adjusts Parse.
type ParseOptions struct {
	// External supplies the data of a constant written `= external
	// "key"` (see PrintOptions.External): v is the constant, its type
	// set; the tensor returned must match it. Without External such a
	// constant is an error: the text alone does not hold the graph.
	External func(key string, v *ir.Value) (*ir.Tensor, error)
}

// ParseWith is Parse with options.
func ParseWith(filename string, src []byte, opt ParseOptions) (g *ir.Graph, err error) {
	p := &parser{file: filename, lx: lexer{src: src}, defs: map[string]def{}, external: opt.External}
	defer func() {
		if r := recover(); r != nil {
			se, ok := r.(*syntaxError)
			if !ok {
				panic(r)
			}
			line, col := lineCol(src, se.pos)
			g, err = nil, fmt.Errorf("%s:%d:%d: %s", filename, line, col, se.msg)
		}
	}()
	p.next()
	g = p.graph()
	return g, nil
}

// ParseFile reads and parses a .sqir file.
func ParseFile(path string) (*ir.Graph, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, src)
}

// ParseAndVerify parses a graph and runs ir.Verify on it.
func ParseAndVerify(filename string, src []byte) (*ir.Graph, error) {
	g, err := Parse(filename, src)
	if err != nil {
		return nil, err
	}
	if err := ir.Verify(g); err != nil {
		return nil, fmt.Errorf("%s: graph %q does not verify: %w", filename, g.Name, err)
	}
	return g, nil
}

// def is a defined name: its value and where it was defined.
type def struct {
	v   *ir.Value
	pos int
}

// use is a reference to be resolved once every definition is known.
type use struct {
	slot *(*ir.Value)
	name string
	pos  int
}

// parser is a recursive-descent parser over the lexer's tokens. Errors
// panic with a *syntaxError, which Parse recovers: the grammar is nested
// enough that threading errors through every production would hide it.
type parser struct {
	file string
	lx   lexer
	tok  token
	defs map[string]def
	uses []use
	// external resolves `= external "key"` data (ParseOptions.External).
	external func(key string, v *ir.Value) (*ir.Tensor, error)
}

func (p *parser) fail(pos int, format string, args ...any) {
	panic(&syntaxError{pos: pos, msg: fmt.Sprintf(format, args...)})
}

func (p *parser) next() {
	t, err := p.lx.next()
	if err != nil {
		panic(err)
	}
	p.tok = t
}

func (p *parser) isPunct(s string) bool { return p.tok.kind == tPunct && p.tok.text == s }
func (p *parser) isIdent(s string) bool { return p.tok.kind == tIdent && p.tok.text == s }

// expect consumes the punctuation s or fails saying what it was for.
func (p *parser) expect(s, context string) {
	if !p.isPunct(s) {
		p.fail(p.tok.pos, "expected '%s' %s, found %s", s, context, describe(p.tok))
	}
	p.next()
}

// name reads an identifier or a quoted string.
func (p *parser) name(what string) (string, int) {
	t := p.tok
	if t.kind != tIdent && t.kind != tString {
		p.fail(t.pos, "expected %s, found %s", what, describe(t))
	}
	p.next()
	return t.text, t.pos
}

func (p *parser) graph() *ir.Graph {
	if !p.isIdent("graph") {
		p.fail(p.tok.pos, "expected 'graph', found %s", describe(p.tok))
	}
	p.next()
	if p.tok.kind != tString {
		p.fail(p.tok.pos, "expected the graph's name as a quoted string, found %s", describe(p.tok))
	}
	g := &ir.Graph{Name: p.tok.text}
	p.next()
	p.expect("(", "to open the graph's inputs")
	for !p.isPunct(")") {
		if len(g.Inputs) > 0 {
			p.expect(",", "or ')' after a graph input")
		}
		g.Inputs = append(g.Inputs, p.definition("graph input"))
	}
	p.next()
	p.expect("->", "after the graph's inputs")
	p.expect("(", "to open the graph's outputs")
	var outNames []token
	for !p.isPunct(")") {
		if len(outNames) > 0 {
			p.expect(",", "or ')' after a graph output")
		}
		if p.tok.kind != tValue {
			p.fail(p.tok.pos, "expected a graph output (%%name), found %s", describe(p.tok))
		}
		outNames = append(outNames, p.tok)
		p.next()
	}
	p.next()
	g.Outputs = make([]*ir.Value, len(outNames))
	for i, t := range outNames {
		p.uses = append(p.uses, use{&g.Outputs[i], t.text, t.pos})
	}
	p.expect("{", "to open the graph's body")
	for !p.isPunct("}") {
		if p.tok.kind == tEOF {
			p.fail(p.tok.pos, "expected '}' to close the graph's body, found end of file")
		}
		if p.isIdent("const") {
			p.constant()
			continue
		}
		g.Nodes = append(g.Nodes, p.node())
	}
	p.next()
	if p.tok.kind != tEOF {
		p.fail(p.tok.pos, "expected end of file after the graph, found %s", describe(p.tok))
	}
	for _, u := range p.uses {
		d, ok := p.defs[u.name]
		if !ok {
			p.fail(u.pos, "undefined value %%%s", u.name)
		}
		*u.slot = d.v
	}
	return g
}

// definition reads "%name: type" and defines the name.
func (p *parser) definition(what string) *ir.Value {
	t := p.tok
	if t.kind != tValue {
		p.fail(t.pos, "expected a %s (%%name: type), found %s", what, describe(t))
	}
	if d, dup := p.defs[t.text]; dup {
		line, col := lineCol(p.lx.src, d.pos)
		p.fail(t.pos, "duplicate definition of %%%s (first defined at %d:%d)", t.text, line, col)
	}
	p.next()
	p.expect(":", "after value name")
	v := &ir.Value{Name: t.text}
	p.valueType(v)
	p.defs[t.text] = def{v, t.pos}
	return v
}

// valueType reads a type and the optional quant and sparsity clauses.
func (p *parser) valueType(v *ir.Value) {
	switch {
	case p.isPunct("?"):
		p.next()
	case p.tok.kind == tIdent:
		dt, err := ir.ParseDType(p.tok.text)
		if err != nil {
			p.fail(p.tok.pos, "%v", err)
		}
		v.Type.DType = dt
		p.next()
	default:
		p.fail(p.tok.pos, "expected a dtype (f32, i8 ...) or '?', found %s", describe(p.tok))
	}
	p.expect("[", "to open the shape")
	v.Type.Shape = ir.Shape{}
	for !p.isPunct("]") {
		if len(v.Type.Shape) > 0 {
			p.expect(",", "or ']' in the shape")
		}
		v.Type.Shape = append(v.Type.Shape, p.dim())
	}
	p.next()
	if p.isPunct("{") {
		p.next()
		l, pos := p.name("a layout name")
		if l == "" {
			p.fail(pos, "empty layout (leave out the braces for the default layout)")
		}
		v.Type.Layout = ir.Layout(l)
		p.expect("}", "after the layout")
	}
	if p.isIdent("quant") {
		p.next()
		v.Quant = p.quant()
	}
	if p.isIdent("sparsity") {
		p.next()
		s := &ir.Sparsity{}
		s.N = p.intValue("sparsity N")
		p.expect(":", "between N and M of sparsity N:M@axis")
		s.M = p.intValue("sparsity M")
		p.expect("@", "before the axis of sparsity N:M@axis")
		s.Axis = p.intValue("sparsity axis")
		v.Sparsity = s
	}
}

func (p *parser) dim() ir.Dim {
	t := p.tok
	switch {
	case t.kind == tNumber:
		n, err := parseInt(t.text, 64)
		if err != nil || n < 0 {
			p.fail(t.pos, "malformed dim %q, want a size >= 0, a symbol or '?'", t.text)
		}
		p.next()
		return ir.D(n)
	case t.kind == tIdent || t.kind == tString:
		if t.text == "" {
			p.fail(t.pos, "empty symbolic dim (write '?' for an unknown dim)")
		}
		p.next()
		return ir.SymDim(t.text)
	case p.isPunct("?"):
		p.next()
		return ir.UnknownDim
	}
	p.fail(t.pos, "expected a dim (a size, a symbol or '?'), found %s", describe(t))
	return ir.Dim{}
}

// intValue reads a Go int.
func (p *parser) intValue(what string) int {
	t := p.tok
	if t.kind != tNumber {
		p.fail(t.pos, "expected an integer for %s, found %s", what, describe(t))
	}
	v, err := parseInt(t.text, strconv.IntSize)
	if err != nil {
		p.fail(t.pos, "%s", numberError(err, t.text, what))
	}
	p.next()
	return int(v)
}

func (p *parser) quant() *ir.QuantParams {
	q := &ir.QuantParams{Axis: -1}
	p.expect("(", "after quant")
	seen := map[string]bool{}
	for !p.isPunct(")") {
		if len(seen) > 0 {
			p.expect(",", "or ')' in quant(...)")
		}
		field, pos := p.tok.text, p.tok.pos
		if p.tok.kind != tIdent || (field != "axis" && field != "scale" && field != "zp") {
			p.fail(pos, "expected axis, scale or zp in quant(...), found %s", describe(p.tok))
		}
		if seen[field] {
			p.fail(pos, "quant field %s given twice", field)
		}
		seen[field] = true
		p.next()
		p.expect("=", "after "+field)
		switch field {
		case "axis":
			q.Axis = p.intValue("the quant axis")
		case "scale":
			p.expect("[", "to open the scales")
			q.Scale = []float32{}
			for !p.isPunct("]") {
				if len(q.Scale) > 0 {
					p.expect(",", "or ']' between scales")
				}
				t := p.tok
				if t.kind != tNumber && t.kind != tIdent {
					p.fail(t.pos, "expected a scale, found %s", describe(t))
				}
				b, err := parseFloatBits(t.text, ir.Float32)
				if err != nil {
					p.fail(t.pos, "%s", numberError(err, t.text, "f32"))
				}
				q.Scale = append(q.Scale, math.Float32frombits(uint32(b)))
				p.next()
			}
			p.next()
		case "zp":
			p.expect("[", "to open the zero points")
			q.ZeroPoint = []int32{}
			for !p.isPunct("]") {
				if len(q.ZeroPoint) > 0 {
					p.expect(",", "or ']' between zero points")
				}
				t := p.tok
				if t.kind != tNumber {
					p.fail(t.pos, "expected a zero point, found %s", describe(t))
				}
				z, err := parseInt(t.text, 32)
				if err != nil {
					p.fail(t.pos, "%s", numberError(err, t.text, "i32"))
				}
				q.ZeroPoint = append(q.ZeroPoint, int32(z))
				p.next()
			}
			p.next()
		}
	}
	p.next()
	return q
}

// constant reads "const %name: type = data".
func (p *parser) constant() {
	p.next()
	namePos := p.tok.pos
	v := p.definition("constant")
	dt := v.Type.DType
	if dt == ir.InvalidDType {
		p.fail(namePos, "constant %%%s needs a dtype", v.Name)
	}
	dims, ok := v.Type.Shape.Ints()
	if !ok {
		p.fail(namePos, "constant %%%s has shape %v, want a static shape", v.Name, v.Type.Shape)
	}
	n, ok := numElements(dims)
	if !ok {
		p.fail(namePos, "constant %%%s: shape %v has too many elements", v.Name, v.Type.Shape)
	}
	p.expect("=", "before the constant's data")
	t := &ir.Tensor{DType: dt, Shape: dims}
	switch {
	case p.tok.kind == tBlob:
		t.Data = p.blob(v, n)
	case p.isPunct("["):
		t.Data = p.list(v, n)
	case p.isIdent("external"):
		v.Const = p.externalData(v, t)
		return
	case p.isIdent(elidedWord):
		p.fail(p.tok.pos, "constant %%%s: its data was elided when the graph was printed, so this text cannot be loaded as a model (print it with sqc opt --full-constants, or write it with -o)", v.Name)
	default:
		p.fail(p.tok.pos, "expected the constant's data ([...], hex\"...\", base64\"...\" or external \"key\"), found %s", describe(p.tok))
	}
	v.Const = t
}

// externalData reads `external "key"` and asks the resolver for the data,
// which must match the declared type.
func (p *parser) externalData(v *ir.Value, want *ir.Tensor) *ir.Tensor {
	p.next()
	if p.tok.kind != tString {
		p.fail(p.tok.pos, "constant %%%s: expected the external data's key, a string, after external; found %s", v.Name, describe(p.tok))
	}
	key, pos := p.tok.text, p.tok.pos
	p.next()
	if p.external == nil {
		p.fail(pos, "constant %%%s: its data is held outside the text (external %q); read it with what wrote it (an engine's graph through the engine)", v.Name, key)
	}
	t, err := p.external(key, v)
	if err != nil {
		p.fail(pos, "constant %%%s: external data %q: %v", v.Name, key, err)
	}
	if t == nil || t.DType != want.DType || !slices.Equal(t.Shape, want.Shape) || t.Check() != nil {
		got := "nothing"
		if t != nil {
			got = fmt.Sprintf("%v%v", t.DType, ir.ShapeOf(t.Shape...))
		}
		p.fail(pos, "constant %%%s: external data %q is %s, want %v%v", v.Name, key, got, want.DType, ir.ShapeOf(want.Shape...))
	}
	return t
}

// maxElems bounds a constant's element count so that its size in bytes
// fits an int on every platform Go supports with 64-bit ints.
const maxElems = 1 << 56

// numElements multiplies dims, failing beyond maxElems.
func numElements(dims []int) (int, bool) {
	n := 1
	for _, d := range dims {
		if d == 0 {
			return 0, true
		}
	}
	for _, d := range dims {
		hi, lo := bits.Mul64(uint64(n), uint64(d))
		if hi != 0 || lo > maxElems {
			return 0, false
		}
		n = int(lo)
	}
	return n, true
}

// list reads "[e, e, ...]" with exactly n elements of v's dtype.
func (p *parser) list(v *ir.Value, n int) any {
	dt := v.Type.DType
	open := p.tok.pos
	p.next()
	// Grow the storage as elements arrive rather than trusting the declared
	// shape, so a huge declared shape with a short list costs nothing.
	var toks []token
	for !p.isPunct("]") {
		if len(toks) > 0 {
			p.expect(",", "or ']' between elements")
		}
		if len(toks) == n {
			p.fail(p.tok.pos, "constant %%%s: more than %d elements for %v", v.Name, n, v.Type)
		}
		toks = append(toks, p.tok)
		p.next()
	}
	p.next()
	if len(toks) != n {
		p.fail(open, "constant %%%s: %d elements, want %d for %v", v.Name, len(toks), n, v.Type)
	}
	data := ir.MakeData(dt, n)
	for i, t := range toks {
		if msg := setElem(data, dt, i, t); msg != "" {
			p.fail(t.pos, "%s", msg)
		}
	}
	return data
}

// blob decodes hex or base64 data straight into n elements of v's dtype,
// in chunks, so that no second copy of a large constant is made.
func (p *parser) blob(v *ir.Value, n int) any {
	t := p.tok
	dt := v.Type.DType
	size := dt.Size()
	want := n * size
	body := p.lx.src[t.bodyStart:t.bodyEnd]
	var got int
	isHex := t.text == "hex"
	if isHex {
		got = len(body) / 2
		if len(body)%2 != 0 {
			p.fail(t.pos, "constant %%%s: hex data has an odd number of digits", v.Name)
		}
	} else {
		got = base64.StdEncoding.DecodedLen(len(body))
		if len(body)%4 != 0 {
			p.fail(t.pos, "constant %%%s: base64 data has %d characters, want a multiple of 4", v.Name, len(body))
		}
		if len(body) > 0 && body[len(body)-1] == '=' {
			got--
			if len(body) > 1 && body[len(body)-2] == '=' {
				got--
			}
		}
	}
	if got != want {
		p.fail(t.pos, "constant %%%s: %s data holds %d bytes, want %d (%d elements of %v)", v.Name, t.text, got, want, n, dt)
	}
	data := ir.MakeData(dt, n)
	// A chunk is a multiple of 3 bytes (4 base64 characters) and of every
	// element size.
	const chunkBytes = 3 * 8 * 4096
	buf := make([]byte, chunkBytes)
	for off := 0; off < want; off += chunkBytes {
		m := min(chunkBytes, want-off)
		var err error
		var bad int // offset in body of the bad character
		if isHex {
			_, err = hex.Decode(buf[:m], body[2*off:2*(off+m)])
			var ie hex.InvalidByteError
			if errors.As(err, &ie) {
				bad = 2*off + indexInvalidHex(body[2*off:2*(off+m)])
			}
		} else {
			src := body[off/3*4 : min(len(body), (off+m+2)/3*4)]
			var k int
			k, err = base64.StdEncoding.Decode(buf, src)
			var ce base64.CorruptInputError
			if errors.As(err, &ce) {
				bad = off/3*4 + int(ce)
			} else if err == nil && k != m {
				err, bad = errors.New("padding"), off/3*4+k/3*4
			}
		}
		if err != nil {
			p.fail(t.bodyStart+bad, "constant %%%s: malformed %s data", v.Name, t.text)
		}
		if err := ir.PutLE(data, off/size, buf[:m]); err != nil {
			p.fail(t.pos, "constant %%%s: %v", v.Name, err)
		}
	}
	p.next()
	return data
}

func indexInvalidHex(b []byte) int {
	for i, c := range b {
		if !(isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return i
		}
	}
	return 0
}

// node reads "[%out: type, ... =] Op "name" (operands) [{attrs}]".
func (p *parser) node() *ir.Node {
	n := &ir.Node{}
	if p.tok.kind == tValue {
		for {
			n.Outputs = append(n.Outputs, p.definition("node output"))
			if p.isPunct("=") {
				p.next()
				break
			}
			p.expect(",", "or '=' after a node output")
		}
	}
	if p.tok.kind != tIdent && p.tok.kind != tString {
		p.fail(p.tok.pos, "expected an op name, found %s", describe(p.tok))
	}
	n.Op = p.tok.text
	p.next()
	if p.tok.kind != tString {
		p.fail(p.tok.pos, "expected the node's name as a quoted string after op %s, found %s", n.Op, describe(p.tok))
	}
	n.Name = p.tok.text
	p.next()
	p.expect("(", "to open the node's operands")
	var operands []token
	for !p.isPunct(")") {
		if len(operands) > 0 {
			p.expect(",", "or ')' between operands")
		}
		if p.tok.kind != tValue && !p.isIdent("_") {
			p.fail(p.tok.pos, "expected an operand (%%name, or _ for an absent input), found %s", describe(p.tok))
		}
		operands = append(operands, p.tok)
		p.next()
	}
	p.next()
	n.Inputs = make([]*ir.Value, len(operands))
	for i, t := range operands {
		if t.kind == tValue {
			p.uses = append(p.uses, use{&n.Inputs[i], t.text, t.pos})
		}
	}
	if p.isPunct("{") {
		p.next()
		n.Attrs = ir.Attrs{}
		for !p.isPunct("}") {
			if len(n.Attrs) > 0 {
				p.expect(",", "or '}' between attributes")
			}
			name, pos := p.name("an attribute name")
			if _, dup := n.Attrs[name]; dup {
				p.fail(pos, "attribute %q given twice", name)
			}
			p.expect("=", "after attribute "+strconv.Quote(name))
			n.Attrs[name] = p.attr(name)
		}
		p.next()
		if len(n.Attrs) == 0 {
			n.Attrs = nil
		}
	}
	if p.isIdent("notes") {
		p.next()
		p.expect("{", "after notes")
		for !p.isPunct("}") {
			if len(n.Notes) > 0 {
				p.expect(",", "or '}' between notes")
			}
			key, pos := p.name("a note's name")
			if _, dup := n.Notes[key]; dup {
				p.fail(pos, "note %q given twice", key)
			}
			p.expect("=", "after note "+strconv.Quote(key))
			if p.tok.kind != tString {
				p.fail(p.tok.pos, "expected a string for note %q, found %s", key, describe(p.tok))
			}
			n.Note(key, p.tok.text)
			p.next()
		}
		p.next()
	}
	return n
}

var kinds = map[string]ir.AttrKind{"int": ir.AttrInt, "float": ir.AttrFloat, "string": ir.AttrString,
	"ints": ir.AttrInts, "floats": ir.AttrFloats, "strings": ir.AttrStrings}

// attr reads an attribute value and its optional ": kind".
func (p *parser) attr(name string) ir.Attr {
	start := p.tok.pos
	var elems []token
	list := p.isPunct("[")
	if list {
		p.next()
		for !p.isPunct("]") {
			if len(elems) > 0 {
				p.expect(",", "or ']' between list elements")
			}
			elems = append(elems, p.attrElem(name))
		}
		p.next()
	} else {
		elems = append(elems, p.attrElem(name))
	}
	// The kind: written, or inferred from the elements.
	var kind ir.AttrKind
	if p.isPunct(":") {
		p.next()
		k, ok := kinds[p.tok.text]
		if p.tok.kind != tIdent || !ok {
			p.fail(p.tok.pos, "expected an attribute kind (int, float, string, ints, floats or strings), found %s", describe(p.tok))
		}
		if list && k < ir.AttrInts {
			p.fail(p.tok.pos, "attribute %q: kind %v does not fit a list", name, k)
		}
		if !list && k >= ir.AttrInts {
			p.fail(p.tok.pos, "attribute %q: kind %v does not fit a single value", name, k)
		}
		kind = k
		p.next()
	} else {
		strs, nums, floats := 0, 0, 0
		for _, t := range elems {
			if t.kind == tString {
				strs++
			} else {
				nums++
				if floatLooking(t.text) {
					floats++
				}
			}
		}
		switch {
		case list && len(elems) == 0:
			p.fail(start, "attribute %q: an empty list needs its kind, e.g. [] : ints", name)
		case strs > 0:
			kind = ir.AttrString
		case floats > 0:
			kind = ir.AttrFloat
		default:
			kind = ir.AttrInt
		}
		if list {
			kind += ir.AttrInts - ir.AttrInt
		}
	}
	a := ir.Attr{Kind: kind}
	elemKind := kind
	if list {
		elemKind -= ir.AttrInts - ir.AttrInt
	}
	for _, t := range elems {
		switch elemKind {
		case ir.AttrString:
			if t.kind != tString {
				p.fail(t.pos, "attribute %q: expected a string, found %s", name, describe(t))
			}
			a.String = t.text
			a.Strings = append(a.Strings, t.text)
		case ir.AttrInt:
			if t.kind == tString {
				p.fail(t.pos, "attribute %q: expected an integer, found %s", name, describe(t))
			}
			v, err := parseInt(t.text, 64)
			if err != nil {
				p.fail(t.pos, "attribute %q: %s", name, numberError(err, t.text, "int"))
			}
			a.Int = v
			a.Ints = append(a.Ints, v)
		case ir.AttrFloat:
			if t.kind == tString {
				p.fail(t.pos, "attribute %q: expected a float, found %s", name, describe(t))
			}
			b, err := parseFloatBits(t.text, ir.Float32)
			if err != nil {
				p.fail(t.pos, "attribute %q: %s", name, numberError(err, t.text, "float"))
			}
			f := math.Float32frombits(uint32(b))
			a.Float = f
			a.Floats = append(a.Floats, f)
		}
	}
	// Keep only the field of the kind, as the ir constructors do.
	switch kind {
	case ir.AttrInt:
		a.Ints = nil
	case ir.AttrFloat:
		a.Floats = nil
	case ir.AttrString:
		a.Strings = nil
	case ir.AttrInts:
		a.Int, a.Ints = 0, orEmpty(a.Ints)
	case ir.AttrFloats:
		a.Float, a.Floats = 0, orEmpty(a.Floats)
	case ir.AttrStrings:
		a.String, a.Strings = "", orEmpty(a.Strings)
	}
	return a
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// attrElem reads one number, inf, nan or string of an attribute value.
func (p *parser) attrElem(name string) token {
	t := p.tok
	if t.kind == tNumber || t.kind == tString || t.kind == tIdent && (t.text == "inf" || t.text == "nan") {
		p.next()
		return t
	}
	p.fail(t.pos, "expected a value for attribute %q (a number, a string or a list), found %s", name, describe(t))
	return t
}

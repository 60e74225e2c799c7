package dsl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// The grammar is deliberately loose: a statement is any word with an
// optional argument and block, an item any key with a value or a selector
// and block. Which words are keywords, steps and options, and which values
// fit which options, is Check's business: it knows the pass registry and
// can say `unknown step "quantise" (did you mean "quantize"?)` where a
// grammar of keywords could only say which token it did not expect.

var recipeLexer = lexer.MustSimple([]lexer.SimpleRule{
	{Name: "Comment", Pattern: `(?:#|//)[^\n]*`},
	{Name: "Regexp", Pattern: `/(?:\\[^\n]|[^/\\\n])+/`},
	{Name: "String", Pattern: `"(?:\\[^\n]|[^"\\\n])*"`},
	{Name: "Ratio", Pattern: `\d+:\d+`},
	{Name: "Number", Pattern: `-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?`},
	{Name: "Ident", Pattern: `[A-Za-z_][A-Za-z0-9_.\-]*`},
	{Name: "Punct", Pattern: `[{}\[\](),=;]`},
	{Name: "Newline", Pattern: `\n`},
	{Name: "Whitespace", Pattern: `[ \t\r]+`},
})

// gFile and the types below are the participle grammar. Statements and
// items are separated by new lines or ';'. The grammar takes separators and
// statements in any order and convert checks that two statements on a line
// have a ';' between them: participle cannot end an item "before '}'"
// without a lookahead that does not consume, which it rejects.
type gFile struct {
	Entries []*gEntry `parser:"@@*"`
}

type gEntry struct {
	Pos  lexer.Position
	Sep  bool   `parser:"  @( Newline | ';' )"`
	Stmt *gStmt `parser:"| @@"`
}

type gStmt struct {
	Pos   lexer.Position
	Name  string  `parser:"@Ident"`
	Arg   *gValue `parser:"@@?"`
	Block *gBlock `parser:"@@?"`
}

type gBlock struct {
	Pos     lexer.Position
	Entries []*gItemEntry `parser:"'{' @@*"`
	Close   bool          `parser:"@'}'"`
	EndPos  lexer.Position
}

type gItemEntry struct {
	Pos  lexer.Position
	Sep  bool   `parser:"  @( Newline | ';' )"`
	Item *gItem `parser:"| @@"`
}

// gItem leaves the parts after the key optional, although an item needs
// them: participle gives up on an alternative that fails one token in
// without reporting where, so "a = }" would be blamed on "a". convert
// reports the missing part at the right token instead.
type gItem struct {
	Pos    lexer.Position
	Key    string  `parser:"@Ident"`
	Eq     bool    `parser:"( @'='"`
	Value  *gValue `parser:"  @@?"`
	Select *gValue `parser:"| @@"`
	Block  *gBlock `parser:"  @@? )?"`
	EndPos lexer.Position
}

type gValue struct {
	Pos    lexer.Position
	String *string `parser:"  @String"`
	Ratio  *string `parser:"| @Ratio"`
	Number *string `parser:"| @Number"`
	Regexp *string `parser:"| @Regexp"`
	Call   *gCall  `parser:"| @@"`
	Word   *string `parser:"| @Ident"`
	List   *gList  `parser:"| @@"`
	EndPos lexer.Position
}

type gCall struct {
	Name string    `parser:"@Ident '('"`
	Args []*gValue `parser:"( @@ ( ',' @@ )* )? ')'"`
}

// gList takes commas and elements in any order; convert checks that they
// alternate, so that a missing comma gets a message of its own.
type gList struct {
	Entries []*gListEntry `parser:"'[' ( Newline | @@ )* ']'"`
}

type gListEntry struct {
	Pos   lexer.Position
	Comma bool    `parser:"  @','"`
	Value *gValue `parser:"| @@"`
}

var (
	whitespaceType = recipeLexer.Symbols()["Whitespace"]
	commentType    = recipeLexer.Symbols()["Comment"]
)

var parser = participle.MustBuild[gFile](
	participle.Lexer(recipeLexer),
	participle.Elide("Comment", "Whitespace"),
)

// maxSize bounds a recipe file: recipes are a page of text, and the bound
// keeps a stray binary file from costing time.
const maxSize = 1 << 20

// maxDepth bounds the nesting of blocks, lists and calls: a recipe needs
// three levels, and the bound keeps the recursive parser's stack small.
const maxDepth = 64

// ParseFile reads and parses a recipe file (syntax only; see Check).
func ParseFile(path string) (*Recipe, error) {
	src, err := readRecipe(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, src)
}

// readRecipe reads a recipe file, refusing what cannot be one: a directory,
// a device or pipe (reading /dev/zero would never end) or a file over
// maxSize.
func readRecipe(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	src, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, err
	}
	if len(src) > maxSize {
		return nil, fmt.Errorf("%s is too large for a recipe (more than 1 MiB)", path)
	}
	return src, nil
}

// Parse parses a recipe's source text (syntax only; see Check). filename is
// used in positions and to resolve a base recipe. The error is an ErrorList.
func Parse(filename string, src []byte) (*Recipe, error) {
	if len(src) > maxSize {
		return nil, ErrorList{{Pos: Pos{Filename: filename, Line: 1, Col: 1}, Msg: "file too large for a recipe (more than 1 MiB)"}}
	}
	if i := bytes.IndexByte(src, 0); i >= 0 {
		return nil, ErrorList{{Pos: posAt(filename, src, i), Msg: "a recipe is text; found a NUL byte"}}
	}
	tokens, err := parser.Lex(filename, bytes.NewReader(src))
	if err != nil {
		return nil, ErrorList{syntaxError(filename, src, err)}
	}
	depth := 0
	for _, t := range tokens {
		switch t.Value {
		case "{", "[", "(":
			if depth++; depth > maxDepth {
				return nil, ErrorList{{Pos: convPos(t.Pos), Msg: fmt.Sprintf("blocks and lists nest deeper than %d levels", maxDepth)}}
			}
		case "}", "]", ")":
			depth--
		}
	}
	g, err := parser.ParseBytes(filename, src)
	if err != nil {
		return nil, ErrorList{syntaxError(filename, src, err)}
	}
	c := &converter{filename: filename, tokens: tokens}
	r := &Recipe{Filename: filename, src: src}
	sep := true
	for _, e := range g.Entries {
		switch {
		case e.Sep:
			sep = true
		case !sep:
			c.errs.errorf(convPos(e.Pos), "unexpected %q after a statement on the same line; start a new line or put ';' between them", e.Stmt.Name)
			fallthrough
		default:
			r.Stmts = append(r.Stmts, c.stmt(e.Stmt))
			sep = false
		}
	}
	if len(c.errs) > 0 {
		return nil, c.errs.sort()
	}
	attachComments(r, tokens)
	return r, nil
}

// syntaxError turns a lexer or participle error into a positioned Error
// with a message in the recipe's own terms.
func syntaxError(filename string, src []byte, err error) *Error {
	var perr participle.Error
	if !errors.As(err, &perr) {
		return &Error{Pos: Pos{Filename: filename, Line: 1, Col: 1}, Msg: err.Error()}
	}
	pos := convPos(perr.Position())
	msg := perr.Message()
	var unexpected *participle.UnexpectedTokenError
	switch {
	case errors.As(err, &unexpected):
		msg = "unexpected " + describeToken(unexpected.Unexpected)
		if hint := expectHint(unexpected.Unexpected, perr.Message()); hint != "" {
			msg += "; " + hint
		}
	case strings.HasPrefix(msg, "lexer: invalid input text"):
		rest := src[min(pos.Offset, len(src)):]
		switch {
		case bytes.HasPrefix(rest, []byte(`"`)):
			msg = "unterminated string (a string ends with \" on the same line)"
		case bytes.HasPrefix(rest, []byte(`/`)):
			msg = "unterminated regular expression (write /regexp/ on one line)"
		default:
			r, _ := utf8.DecodeRune(rest)
			msg = "unexpected character " + strconv.QuoteRune(r)
		}
	}
	return &Error{Pos: pos, Msg: msg}
}

// describeToken names a token for a message: `"}"`, `"foo"`, `number 3`,
// `end of line`.
func describeToken(t lexer.Token) string {
	if t.EOF() {
		return "end of file"
	}
	switch t.Value {
	case "\n":
		return "end of line"
	case "{", "}", "[", "]", "(", ")", ",", "=", ";":
		return strconv.Quote(t.Value)
	}
	switch t.Type {
	case recipeLexer.Symbols()["String"]:
		return "string " + t.Value
	case recipeLexer.Symbols()["Number"]:
		return "number " + t.Value
	case recipeLexer.Symbols()["Ratio"]:
		return "ratio " + t.Value
	case recipeLexer.Symbols()["Regexp"]:
		return "regular expression " + t.Value
	}
	return strconv.Quote(t.Value)
}

// expectHint says what was wanted where an unexpected token stood, from
// participle's "(expected ...)" when it is simple enough to read, and for
// a few common slips.
func expectHint(t lexer.Token, msg string) string {
	if t.Value == "=" {
		return "options (key = value) go inside a step's braces: step { key = value }"
	}
	_, exp, ok := strings.Cut(msg, " (expected ")
	exp = strings.TrimSuffix(exp, ")")
	switch {
	case !ok:
		return ""
	case strings.HasPrefix(exp, "GValue"):
		return "want a value"
	case len(exp) == 3 && exp[0] == '"' && exp[2] == '"':
		return "want " + exp
	}
	return ""
}

func convPos(p lexer.Position) Pos {
	return Pos{Filename: p.Filename, Line: p.Line, Col: p.Column, Offset: p.Offset}
}

// posAt computes the position of byte offset off in src.
func posAt(filename string, src []byte, off int) Pos {
	p := lexer.Position{Filename: filename, Line: 1, Column: 1}
	p.Advance(string(src[:off]))
	return convPos(p)
}

// converter turns the grammar's structs into the AST, checking what the
// loose grammar let through: string escapes and list commas.
type converter struct {
	filename string
	tokens   []lexer.Token
	errs     ErrorList
}

// nextToken returns the first token at or after p that the parser reads
// (not a space or a comment).
func (c *converter) nextToken(p lexer.Position) lexer.Token {
	i := sort.Search(len(c.tokens), func(i int) bool { return c.tokens[i].Pos.Offset >= p.Offset })
	for ; i < len(c.tokens); i++ {
		if t := c.tokens[i]; t.Type != whitespaceType && t.Type != commentType {
			return t
		}
	}
	return lexer.Token{Type: lexer.EOF, Pos: p}
}

func (c *converter) next(p lexer.Position) Pos { return convPos(c.nextToken(p).Pos) }

func (c *converter) describeNext(p lexer.Position) string { return describeToken(c.nextToken(p)) }

// describeValue names a value from the grammar for a message.
func describeValue(v *gValue) string {
	switch {
	case v.Word != nil:
		return "word " + *v.Word
	case v.String != nil:
		return "string " + *v.String
	case v.Number != nil:
		return "number " + *v.Number
	case v.Ratio != nil:
		return "ratio " + *v.Ratio
	case v.Regexp != nil:
		return "regular expression " + *v.Regexp
	case v.Call != nil:
		return "selector " + v.Call.Name + "(...)"
	}
	return "list"
}

func (c *converter) stmt(s *gStmt) *Stmt {
	st := &Stmt{Pos: convPos(s.Pos), Name: s.Name}
	st.End = st.Pos
	st.End.Col += len(s.Name)
	st.End.Offset += len(s.Name)
	if s.Arg != nil {
		st.Arg = c.value(s.Arg)
		st.End = st.Arg.End
	}
	if s.Block != nil {
		st.Block = c.block(s.Block)
		st.End = st.Block.End
	}
	return st
}

func (c *converter) block(b *gBlock) *Block {
	bl := &Block{Pos: convPos(b.Pos), End: convPos(b.EndPos)}
	onlyOptions := true
	sep := true
	for _, e := range b.Entries {
		if e.Sep {
			sep = true
			continue
		}
		if !sep {
			c.errs.errorf(convPos(e.Pos), "unexpected %q after an item on the same line; start a new line or put ';' between them", e.Item.Key)
		}
		sep = false
		it := e.Item
		item := &Item{Pos: convPos(it.Pos), Key: it.Key}
		switch {
		case it.Eq && it.Value == nil:
			c.errs.errorf(c.next(it.EndPos), "unexpected %s; want a value after \"=\"", c.describeNext(it.EndPos))
			continue
		case it.Eq:
			item.Value = c.value(it.Value)
			item.End = item.Value.End
		case it.Select == nil:
			c.errs.errorf(c.next(it.EndPos), "unexpected %s; want \"=\" and a value after %q", c.describeNext(it.EndPos), it.Key)
			continue
		case it.Block == nil && it.Key != kwLayers:
			c.errs.errorf(convPos(it.Select.Pos), "unexpected %s; want \"=\" between %q and its value", describeValue(it.Select), it.Key)
			continue
		case it.Block == nil:
			c.errs.errorf(c.next(it.EndPos), "unexpected %s; want \"{\" and the options for these layers", c.describeNext(it.EndPos))
			continue
		default:
			item.Value = c.value(it.Select)
			item.Block = c.block(it.Block)
			item.End = item.Block.End
			onlyOptions = false
		}
		bl.Items = append(bl.Items, item)
	}
	// Comments inside are attached later; attachComments clears OneLine
	// where it finds one.
	bl.OneLine = onlyOptions && (len(bl.Items) == 0 || bl.Pos.Line == bl.End.Line)
	return bl
}

func (c *converter) value(g *gValue) *Value {
	v := &Value{Pos: convPos(g.Pos), End: convPos(g.EndPos)}
	switch {
	case g.String != nil:
		v.Kind = StringValue
		s, err := strconv.Unquote(*g.String)
		if err != nil {
			c.errs.errorf(v.Pos, "invalid string %s: bad escape (strings use Go's escapes: \\\" \\\\ \\n \\t \\u00e9)", *g.String)
		}
		v.Text = s
	case g.Ratio != nil:
		v.Kind, v.Text = RatioValue, *g.Ratio
	case g.Number != nil:
		v.Kind, v.Text = IntValue, *g.Number
		if strings.ContainsAny(v.Text, ".eE") {
			v.Kind = FloatValue
		}
	case g.Regexp != nil:
		v.Kind, v.Text = RegexpValue, (*g.Regexp)[1:len(*g.Regexp)-1]
	case g.Call != nil:
		v.Kind, v.Text = CallValue, g.Call.Name
		for _, a := range g.Call.Args {
			v.Elems = append(v.Elems, c.value(a))
		}
	case g.Word != nil:
		v.Kind, v.Text = WordValue, *g.Word
	case g.List != nil:
		v.Kind = ListValue
		c.list(v, g.List)
	}
	return v
}

// list checks that elements and commas alternate (a trailing comma is
// allowed) and keeps the elements.
func (c *converter) list(v *Value, l *gList) {
	wantValue := true
	for _, e := range l.Entries {
		switch {
		case e.Comma && wantValue:
			c.errs.errorf(convPos(e.Pos), `unexpected ","; want a list element`)
		case e.Comma:
			wantValue = true
		case !wantValue:
			c.errs.errorf(convPos(e.Pos), `missing "," between list elements`)
			fallthrough
		default:
			v.Elems = append(v.Elems, c.value(e.Value))
			wantValue = false
		}
	}
}

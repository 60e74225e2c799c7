package sqir

import (
	"bytes"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// tokKind classifies a token.
type tokKind uint8

const (
	tEOF    tokKind = iota
	tIdent          // [A-Za-z_][A-Za-z0-9_.]*
	tNumber         // starts with a digit, or a sign and a digit, '.' or letter (-inf)
	tString         // a quoted string; text is its unquoted value
	tValue          // %name or %"name"; text is the name
	tBlob           // hex"..." or base64"..."; text is "hex" or "base64", body the data
	tPunct          // ( ) [ ] { } , : = @ ? and ->
)

// token is one lexeme. pos and end are byte offsets into the source.
type token struct {
	kind      tokKind
	pos, end  int
	text      string
	bodyStart int // tBlob: offset of the first data character
	bodyEnd   int // tBlob: offset of the closing quote
}

// lexer splits the source into tokens. It never copies a blob: a blob token
// points into the source, so a 100 MB constant is scanned once, by
// bytes.IndexByte, and decoded straight into its tensor.
type lexer struct {
	src []byte
	off int
}

// syntaxError is a parse error at a byte offset; Parse turns it into
// file:line:col.
type syntaxError struct {
	pos int
	msg string
}

func (l *lexer) errorf(pos int, format string, args ...any) *syntaxError {
	return &syntaxError{pos: pos, msg: fmt.Sprintf(format, args...)}
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isIdentChar(c byte) bool {
	return isLetter(c) || isDigit(c) || c == '.'
}

// isIdent reports whether s can be written without quotes.
func isIdent(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdentChar(s[i]) {
			return false
		}
	}
	return true
}

// skip passes over white space and comments.
func (l *lexer) skip() {
	for l.off < len(l.src) {
		switch c := l.src[l.off]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			l.off++
		case c == '/' && l.off+1 < len(l.src) && l.src[l.off+1] == '/':
			if i := bytes.IndexByte(l.src[l.off:], '\n'); i >= 0 {
				l.off += i + 1
			} else {
				l.off = len(l.src)
			}
		default:
			return
		}
	}
}

// next returns the next token.
func (l *lexer) next() (token, *syntaxError) {
	l.skip()
	start := l.off
	if start >= len(l.src) {
		return token{kind: tEOF, pos: start, end: start}, nil
	}
	src := l.src
	c := src[start]
	switch {
	case isLetter(c):
		l.off++
		for l.off < len(src) && isIdentChar(src[l.off]) {
			l.off++
		}
		text := string(src[start:l.off])
		if (text == "hex" || text == "base64") && l.off < len(src) && src[l.off] == '"' {
			return l.blob(start, text)
		}
		return token{kind: tIdent, pos: start, end: l.off, text: text}, nil
	case isDigit(c) || (c == '-' || c == '+') && start+1 < len(src) && (isIdentChar(src[start+1])):
		return l.number(start), nil
	case c == '"':
		s, err := l.str()
		if err != nil {
			return token{}, err
		}
		return token{kind: tString, pos: start, end: l.off, text: s}, nil
	case c == '%':
		l.off++
		if l.off < len(src) && src[l.off] == '"' {
			s, err := l.str()
			if err != nil {
				return token{}, err
			}
			if s == "" {
				return token{}, l.errorf(start, "empty value name")
			}
			return token{kind: tValue, pos: start, end: l.off, text: s}, nil
		}
		for l.off < len(src) && isIdentChar(src[l.off]) {
			l.off++
		}
		if l.off == start+1 {
			return token{}, l.errorf(start, "expected a name after '%%', found %s", l.describeAt(l.off))
		}
		return token{kind: tValue, pos: start, end: l.off, text: string(src[start+1 : l.off])}, nil
	case c == '-' && start+1 < len(src) && src[start+1] == '>':
		l.off += 2
		return token{kind: tPunct, pos: start, end: l.off, text: "->"}, nil
	}
	switch c {
	case '(', ')', '[', ']', '{', '}', ',', ':', '=', '@', '?':
		l.off++
		return token{kind: tPunct, pos: start, end: l.off, text: string(c)}, nil
	}
	return token{}, l.errorf(start, "unexpected character %s", describeChar(src[start:]))
}

// number scans a numeric literal loosely (letters, digits, '.', and a sign
// after an exponent letter); the parser converts it and reports a malformed
// one with its position.
func (l *lexer) number(start int) token {
	src := l.src
	l.off = start + 1
	for l.off < len(src) {
		c := src[l.off]
		if isIdentChar(c) {
			l.off++
			continue
		}
		if (c == '+' || c == '-') && l.off+1 < len(src) && isDigit(src[l.off+1]) {
			if p := src[l.off-1]; p == 'e' || p == 'E' || p == 'p' || p == 'P' {
				l.off++
				continue
			}
		}
		break
	}
	return token{kind: tNumber, pos: start, end: l.off, text: string(src[start:l.off])}
}

// str scans a double-quoted string at l.off and returns its value.
func (l *lexer) str() (string, *syntaxError) {
	src := l.src
	start := l.off
	escaped := false
	for i := start + 1; i < len(src); i++ {
		switch src[i] {
		case '\\':
			escaped = true
			i++
		case '\n':
			return "", l.errorf(start, "newline in string")
		case '"':
			l.off = i + 1
			if !utf8.Valid(src[start+1 : i]) {
				return "", l.errorf(start, "string is not valid UTF-8 (write other bytes as \\x escapes)")
			}
			if !escaped {
				return string(src[start+1 : i]), nil
			}
			s, err := strconv.Unquote(string(src[start:l.off]))
			if err != nil {
				return "", l.errorf(start, "malformed string %s: bad escape or character", src[start:l.off])
			}
			return s, nil
		}
	}
	return "", l.errorf(start, "string not terminated")
}

// blob scans hex"..." or base64"..." whose opening quote is at l.off.
func (l *lexer) blob(start int, kind string) (token, *syntaxError) {
	body := l.off + 1
	i := bytes.IndexByte(l.src[body:], '"')
	if i < 0 {
		return token{}, l.errorf(start, "%s data not terminated", kind)
	}
	if j := bytes.IndexByte(l.src[body:body+i], '\n'); j >= 0 {
		return token{}, l.errorf(body+j, "newline in %s data", kind)
	}
	l.off = body + i + 1
	return token{kind: tBlob, pos: start, end: l.off, text: kind, bodyStart: body, bodyEnd: body + i}, nil
}

// describeAt describes what starts at offset off, for "found ..." messages.
func (l *lexer) describeAt(off int) string {
	if off >= len(l.src) {
		return "end of file"
	}
	r, _ := utf8.DecodeRune(l.src[off:])
	if r == utf8.RuneError {
		return fmt.Sprintf("byte %#02x", l.src[off])
	}
	return strconv.Quote(string(r))
}

func describeChar(b []byte) string {
	r, _ := utf8.DecodeRune(b)
	if r == utf8.RuneError {
		return fmt.Sprintf("byte %#02x", b[0])
	}
	return strconv.QuoteRune(r)
}

// describe names a token for "found ..." messages.
func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of file"
	case tString:
		s := strconv.Quote(t.text)
		if len(s) > 40 {
			s = s[:36] + `..."`
		}
		return "string " + s
	case tValue:
		return strconv.Quote("%" + t.text)
	case tBlob:
		return t.text + " data"
	}
	s := t.text
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return strconv.Quote(s)
}

// lineCol converts a byte offset into a 1-based line and byte column. It is
// only called for errors, so it scans.
func lineCol(src []byte, off int) (line, col int) {
	if off > len(src) {
		off = len(src)
	}
	line = 1 + bytes.Count(src[:off], []byte{'\n'})
	col = off - (bytes.LastIndexByte(src[:off], '\n') + 1) + 1
	return line, col
}

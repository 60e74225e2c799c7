package dsl

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a recipe file. Line and Col count from 1; Col counts
// characters (runes), Offset bytes from the start of the file.
type Pos struct {
	Filename          string
	Line, Col, Offset int
}

// String writes FILE:LINE:COL (LINE:COL without a file name).
func (p Pos) String() string {
	if p.Filename == "" {
		return fmt.Sprintf("%d:%d", p.Line, p.Col)
	}
	return fmt.Sprintf("%s:%d:%d", p.Filename, p.Line, p.Col)
}

// before orders positions: by file name, then offset.
func (p Pos) before(q Pos) bool {
	if p.Filename != q.Filename {
		return p.Filename < q.Filename
	}
	return p.Offset < q.Offset
}

// Recipe is a parsed recipe file: its statements in source order, with the
// comments and blank lines that Format keeps. Check interprets it.
type Recipe struct {
	// Filename is the name the recipe was parsed under; Check resolves a
	// base recipe relative to its directory.
	Filename string
	// Stmts are the top-level statements: target, base, plugin and steps.
	Stmts []*Stmt
	// EndComments are the comment lines after the last statement ("" for a
	// blank line between them).
	EndComments []string

	src     []byte
	builtin bool      // an embedded recipe (package recipes)
	checked *resolved // set by a successful Check
}

// Stmt is one top-level statement: a keyword or step name, an optional
// argument and an optional block.
//
//	target sm_80                  Name "target", Arg sm_80
//	base "graph.sqr"              Name "base", Arg "graph.sqr"
//	prune { pattern = 2:4 }       Name "prune", Block
//	plugin "./p" { k = v }        Name "plugin", Arg "./p", Block
type Stmt struct {
	Pos, End Pos
	Name     string
	Arg      *Value // nil when absent
	Block    *Block // nil when absent
	// Doc holds the comment lines before the statement, "" standing for a
	// blank line; Comment is the comment at the end of its last line.
	Doc     []string
	Comment string
}

// Block is a brace-enclosed list of options and per-layer overrides.
type Block struct {
	Pos, End Pos // of '{' and just after '}'
	Items    []*Item
	// EndComments are the comment lines between the last item and '}'.
	EndComments []string
	// OneLine records a block written on one line with options only; Format
	// keeps it on one line ("calibrate { method = entropy; samples = 512 }").
	// An empty block without comments always has OneLine set.
	OneLine bool
}

// Item is an option (key = value) or, when Block is set, a per-layer
// override: `layers SELECTOR { options }`, with Key "layers" and the
// selector in Value.
type Item struct {
	Pos, End Pos
	Key      string
	Value    *Value
	Block    *Block // set for an override
	Doc      []string
	Comment  string
}

// IsOverride reports whether the item is a `layers SELECTOR { ... }` block.
func (it *Item) IsOverride() bool { return it.Block != nil }

// ValueKind says what a Value holds.
type ValueKind int

// The kinds of values.
const (
	// WordValue is a bare identifier: sparsegpt, per-channel, sm_80, true.
	WordValue ValueKind = iota + 1
	// StringValue is a double-quoted string (Go escapes).
	StringValue
	// IntValue is an integer literal; FloatValue a number with a '.' or an
	// exponent. Text holds the literal as written.
	IntValue
	FloatValue
	// RatioValue is N:M, as in 2:4.
	RatioValue
	// RegexpValue is /regexp/; Text holds what is between the slashes.
	RegexpValue
	// CallValue is a function-style selector: name("layer4.*"), op("Conv").
	CallValue
	// ListValue is [a, b, ...].
	ListValue
)

func (k ValueKind) String() string {
	switch k {
	case WordValue:
		return "word"
	case StringValue:
		return "string"
	case IntValue:
		return "integer"
	case FloatValue:
		return "number"
	case RatioValue:
		return "ratio"
	case RegexpValue:
		return "regular expression"
	case CallValue:
		return "selector"
	case ListValue:
		return "list"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Value is an option value or a statement's argument, as written.
type Value struct {
	Pos, End Pos
	Kind     ValueKind
	// Text is the word, the decoded string, the number or ratio as written,
	// the regexp between its slashes, or the function name of a call.
	Text string
	// Elems are a list's elements or a call's arguments.
	Elems []*Value
}

// Error is one problem in a recipe, at a position.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// ErrorList is every problem found in a recipe, sorted by position. It is
// the error type that Parse, Check and Pipeline return.
type ErrorList []*Error

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// sort orders the list by position, keeping the order of errors at the same
// position, and drops exact duplicates (a base shared by two paths).
func (l ErrorList) sort() ErrorList {
	sort.SliceStable(l, func(i, j int) bool { return l[i].Pos.before(l[j].Pos) })
	out := l[:0]
	for i, e := range l {
		if i > 0 && e.Pos == l[i-1].Pos && e.Msg == l[i-1].Msg {
			continue
		}
		out = append(out, e)
	}
	return out
}

// errorf appends a positioned error.
func (l *ErrorList) errorf(pos Pos, format string, args ...any) {
	*l = append(*l, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

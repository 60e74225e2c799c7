package dsl

import (
	"sort"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// Comments are not in the grammar (the parser elides them); they are
// attached afterwards, by position, to the statement or item they belong
// to, so that Format can write them back:
//
//   - a comment on the line where a statement or item ends, after it, is
//     that node's Comment;
//   - any other comment belongs to the Doc of the next statement or item of
//     the same block (or of the file), or to the block's (the file's)
//     EndComments when none follows.
//
// Blank lines between a node, its comments and the next node are kept as
// "" entries (runs of blank lines count as one; none at the start or end of
// a block or file), so that Format keeps the paragraphs of a recipe.

type comment struct {
	pos  Pos
	text string
}

// node is what comments attach to: a statement or an item.
type node struct {
	pos, end Pos
	block    *Block
	doc      *[]string
	trailing *string
}

func attachComments(r *Recipe, tokens []lexer.Token) {
	commentType := recipeLexer.Symbols()["Comment"]
	var cs []comment
	for _, t := range tokens {
		if t.Type == commentType {
			cs = append(cs, comment{pos: convPos(t.Pos), text: strings.TrimRight(t.Value, " \t\r")})
		}
	}
	nodes := make([]node, len(r.Stmts))
	for i, s := range r.Stmts {
		nodes[i] = node{pos: s.Pos, end: s.End, block: s.Block, doc: &s.Doc, trailing: &s.Comment}
	}
	attach(nodes, cs, 0, &r.EndComments)
}

func blockNodes(b *Block) []node {
	nodes := make([]node, len(b.Items))
	for i, it := range b.Items {
		nodes[i] = node{pos: it.Pos, end: it.End, block: it.Block, doc: &it.Doc, trailing: &it.Comment}
	}
	return nodes
}

// attach distributes the comments of one container (the file or a block)
// among its nodes; openLine is the line of the container's '{' (0 for the
// file), end receives the comments after the last node.
func attach(nodes []node, cs []comment, openLine int, end *[]string) {
	// Nodes are in source order and do not overlap, so each comment finds
	// its place by binary search: the last node starting before it (whose
	// block may hold it) and the last node ending before it.
	inner := make([][]comment, len(nodes))
	var own []comment
	for _, c := range cs {
		i := sort.Search(len(nodes), func(i int) bool { return nodes[i].pos.Offset > c.pos.Offset }) - 1
		if i >= 0 && nodes[i].block != nil && nodes[i].block.Pos.Offset < c.pos.Offset && c.pos.Offset < nodes[i].block.End.Offset {
			inner[i] = append(inner[i], c)
		} else {
			own = append(own, c)
		}
	}
	for i, n := range nodes {
		if n.block != nil {
			if len(inner[i]) > 0 {
				n.block.OneLine = false
			}
			attach(blockNodes(n.block), inner[i], n.block.Pos.Line, &n.block.EndComments)
		}
	}

	// The rest are trailing comments or lead the next node.
	pending := make([][]comment, len(nodes)+1)
	for _, c := range own {
		last := sort.Search(len(nodes), func(i int) bool { return nodes[i].end.Offset > c.pos.Offset }) - 1
		if last >= 0 && nodes[last].end.Line == c.pos.Line && *nodes[last].trailing == "" {
			*nodes[last].trailing = c.text
			continue
		}
		next := sort.Search(len(nodes), func(i int) bool { return nodes[i].pos.Offset > c.pos.Offset })
		pending[next] = append(pending[next], c)
	}

	lastLine := openLine
	for i, n := range nodes {
		doc, l := paragraph(pending[i], lastLine)
		if n.pos.Line > l+1 {
			doc = append(doc, "")
		}
		if i == 0 && len(doc) > 0 && doc[0] == "" {
			doc = doc[1:]
		}
		if len(doc) > 0 {
			*n.doc = doc
		}
		lastLine = max(l, n.end.Line)
	}
	doc, _ := paragraph(pending[len(nodes)], lastLine)
	if len(nodes) == 0 && len(doc) > 0 && doc[0] == "" {
		doc = doc[1:]
	}
	if len(doc) > 0 {
		*end = doc
	}
}

// paragraph lists comment lines with "" for a gap of blank lines before
// each, starting after line last; it returns the line it reached.
func paragraph(cs []comment, last int) ([]string, int) {
	var doc []string
	for _, c := range cs {
		if c.pos.Line > last+1 {
			doc = append(doc, "")
		}
		doc = append(doc, c.text)
		last = max(last, c.pos.Line)
	}
	return doc, last
}

// Package simplify removes ops that compute nothing at inference time:
// Identity, and Dropout (which ONNX defines as the identity outside
// training; its optional mask output, when something reads it, keeps the
// node).
//
// Removing such a node makes its readers read its input. When its output is
// a graph output the output's name must survive (callers bind results by
// name), so the producer of the input is given that name instead, provided
// the input is an ordinary intermediate value; otherwise the node stays.
package simplify

import (
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
)

// Pass is the identity-removal pass.
var Pass = &passes.Pass{
	Name: "remove-identity",
	Doc:  "remove Identity and inference-time Dropout nodes",
	Run:  run,
}

func init() { passes.Register(Pass) }

func run(c *passes.Context) (any, error) {
	g := c.Graph
	users := g.Users()
	removed := 0
	nodes := g.Nodes[:0]
	for _, n := range g.Nodes {
		if !removable(n, users) || !forward(g, n) {
			nodes = append(nodes, n)
			continue
		}
		removed++
	}
	clear(g.Nodes[len(nodes):])
	g.Nodes = nodes
	if removed > 0 {
		c.Changed()
		c.Count("nodes removed", removed)
	}
	return nil, nil
}

func removable(n *ir.Node, users map[*ir.Value][]*ir.Node) bool {
	switch n.Op {
	case "Identity":
		return true
	case "Dropout":
		// A training-mode input that is not a constant false can't be proven off.
		if tm := n.Input(2); tm != nil && (!tm.IsConst() || tm.Const.AsFloat64(0) != 0) {
			return false
		}
		return len(n.Outputs) < 2 || len(users[n.Outputs[1]]) == 0
	}
	return false
}

// forward rewires the readers of n's output to n's input; it reports false
// when it can't without losing a graph output's name.
func forward(g *ir.Graph, n *ir.Node) bool {
	in, out := n.Inputs[0], n.Outputs[0]
	if g.IsOutput(out) {
		if in.IsConst() || g.IsInput(in) || g.IsOutput(in) {
			return false
		}
		in.Name = out.Name
	}
	g.ReplaceUses(out, in)
	return true
}

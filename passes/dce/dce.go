// Package dce removes nodes whose results nothing uses.
//
// A node is dead when none of its outputs is read by a live node or is a
// graph output. Walking the nodes backwards finds every dead node in one
// sweep, because the order is topological. Constants need no separate
// removal: a graph holds only the constants its nodes and outputs read.
package dce

import (
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
)

// Pass is the dead-code elimination pass.
var Pass = &passes.Pass{
	Name: "dce",
	Doc:  "remove nodes whose outputs nothing reads",
	Run:  run,
}

func init() { passes.Register(Pass) }

func run(c *passes.Context) (any, error) {
	if removed := Eliminate(c.Graph); removed > 0 {
		c.Changed()
		c.Count("nodes removed", removed)
	}
	return nil, nil
}

// Eliminate removes the dead nodes of g and returns how many it removed.
func Eliminate(g *ir.Graph) int {
	live := map[*ir.Value]bool{}
	for _, v := range g.Outputs {
		live[v] = true
	}
	keep := make([]bool, len(g.Nodes))
	removed := 0
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		for _, v := range n.Outputs {
			keep[i] = keep[i] || live[v]
		}
		if !keep[i] {
			removed++
			continue
		}
		for _, v := range n.Inputs {
			if v != nil {
				live[v] = true
			}
		}
	}
	if removed == 0 {
		return 0
	}
	nodes := g.Nodes[:0]
	for i, n := range g.Nodes {
		if keep[i] {
			nodes = append(nodes, n)
		}
	}
	clear(g.Nodes[len(nodes):])
	g.Nodes = nodes
	return removed
}

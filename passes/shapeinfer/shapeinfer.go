// Package shapeinfer infers every value's static type from the graph inputs
// and constants, using each op's schema (ir.OpSchema.Infer): the same rule
// the reference executor applies at run time.
package shapeinfer

import (
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
)

// Pass is the shape-inference pass.
var Pass = &passes.Pass{
	Name: "infer-shapes",
	Doc:  "infer the dtype and shape of every value from the graph inputs and constants",
	Run: func(c *passes.Context) (any, error) {
		changed := 0
		for _, n := range c.Graph.Nodes {
			before := make([]ir.Type, len(n.Outputs))
			for i, v := range n.Outputs {
				before[i] = v.Type
			}
			if err := ir.InferNode(n); err != nil {
				return nil, err
			}
			for i, v := range n.Outputs {
				if !v.Type.Equal(before[i]) {
					changed++
				}
			}
		}
		if changed > 0 {
			c.Changed()
			c.Count("types refined", changed)
		}
		return nil, nil
	},
}

func init() { passes.Register(Pass) }

package ampere

import (
	"fmt"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// foldConstantNodes returns g with every node whose inputs are all
// constants replaced by its outputs as constants (in graph order, so
// chains of them fold too); g itself is not changed. The INT8 pipeline
// leaves such nodes behind where a layer stays float: a MatMul's weight
// quantized and dequantized again (DequantizeLinear of an i8 constant).
// The planner's buffers hold batch samples, which a constant has not, so
// it is computed once here rather than on every run.
func foldConstantNodes(g *ir.Graph) (*ir.Graph, error) {
	consts := map[*ir.Value]*ir.Value{}
	var nodes []*ir.Node
	changed := false
	for _, n := range g.Nodes {
		c := n
		for i, v := range n.Inputs {
			if k := consts[v]; k != nil {
				if c == n {
					cp := *n
					cp.Inputs = append([]*ir.Value(nil), n.Inputs...)
					c = &cp
				}
				c.Inputs[i] = k
			}
		}
		if !allConstant(c) || hasGraphOutput(g, c) {
			nodes = append(nodes, c)
			changed = changed || c != n
			continue
		}
		var outs []*ir.Value
		for _, v := range c.Outputs {
			if v != nil {
				outs = append(outs, v)
			}
		}
		res, err := ref.Run(&ir.Graph{Name: c.Name, Nodes: []*ir.Node{c}, Outputs: outs})
		if err != nil {
			return nil, fmt.Errorf("node %q (%s) reads only constants, but computing it failed: %w", c.Name, c.Op, err)
		}
		for i, v := range outs {
			k := ir.NewConst(v.Name, res[i])
			k.Quant, k.Sparsity = v.Quant, v.Sparsity
			consts[v] = k
		}
		changed = true
	}
	if !changed {
		return g, nil
	}
	out := *g
	out.Nodes = nodes
	return &out, nil
}

// allConstant reports whether n reads at least one value and only
// constants.
func allConstant(n *ir.Node) bool {
	read := false
	for _, v := range n.Inputs {
		if v == nil {
			continue
		}
		if !v.IsConst() {
			return false
		}
		read = true
	}
	return read
}

// hasGraphOutput reports whether one of n's outputs is a graph output
// (which must stay a computed value).
func hasGraphOutput(g *ir.Graph, n *ir.Node) bool {
	for _, v := range n.Outputs {
		if v != nil && g.IsOutput(v) {
			return true
		}
	}
	return false
}

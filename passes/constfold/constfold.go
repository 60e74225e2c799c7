// Package constfold evaluates, at compile time, every node whose inputs are
// all known, and replaces its outputs with constants.
//
// "Known" means constant, or, for Shape, an input whose shape is static: the
// Shape → Gather → Unsqueeze → Concat → Reshape chains that PyTorch exports
// for flatten read only the shape of an activation, and fold away once the
// shape is static. Values are computed by the reference executor, so folding
// computes exactly what running the graph would.
//
// Quantize/Dequantize nodes are kept by default: a DequantizeLinear of an
// int8 weight is how a QAT model says "this weight is int8", which the
// quantization passes read; folding it into a float constant would lose that.
// Outputs larger than the max-elements option are not folded either (an
// Expand or a Tile of a constant would otherwise inflate the model).
//
// What stays computed only because the batch is symbolic is not folded, with
// one exception: a Gather along axis 0 of a 1-D tensor whose indices, however
// they follow the batch, are provably every element in order becomes a
// Reshape of that tensor (PyTorch's dynamo exporter writes as_strided so;
// gatherview.go says how the indices are proved and what is relied on).
package constfold

import (
	"fmt"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/passes"
)

// Pass is the constant-folding pass.
var Pass = &passes.Pass{
	Name: "fold-constants",
	Doc:  "evaluate nodes whose inputs are all constant (and Shape of static shapes) at compile time, and make Gathers of every element in order Reshapes",
	Options: []passes.Option{
		{Name: "keep-qdq", Doc: "keep QuantizeLinear/DequantizeLinear nodes even when their inputs are constant", Kind: passes.Bool, Default: true},
		{Name: "max-elements", Doc: "fold a node only if its outputs hold at most this many elements in all", Kind: passes.Int, Default: int64(1 << 24), Min: 0, Max: 1 << 40},
	},
	Run: run,
}

func init() { passes.Register(Pass) }

func run(c *passes.Context) (any, error) {
	g := c.Graph
	keepQDQ := c.Options.Bool("keep-qdq")
	limit := c.Options.Int("max-elements")
	folded := 0
	nodes := g.Nodes[:0]
	for _, n := range g.Nodes {
		consts, err := fold(n, keepQDQ, limit)
		if err != nil {
			return nil, err
		}
		if consts == nil {
			nodes = append(nodes, n)
			continue
		}
		for i, out := range n.Outputs {
			// The value keeps its identity (readers and graph outputs stay
			// wired); it becomes a constant.
			out.Const = consts[i]
			out.Type = ir.Type{DType: consts[i].DType, Shape: ir.ShapeOf(consts[i].Shape...), Layout: out.Type.Layout}
		}
		folded++
	}
	clear(g.Nodes[len(nodes):])
	g.Nodes = nodes
	if folded > 0 {
		c.Changed()
		c.Count("nodes folded", folded)
	}
	// After folding, so that indices a static batch makes constant are
	// taken as constants.
	reshapes, err := gathersAsReshapes(g)
	if err != nil {
		return nil, err
	}
	if reshapes > 0 {
		c.Changed()
		c.Count("gathers made reshapes", reshapes)
	}
	return nil, nil
}

// fold returns the values of n's outputs, or nil when n can't be folded.
func fold(n *ir.Node, keepQDQ bool, limit int64) ([]*ir.Tensor, error) {
	if keepQDQ && (n.Op == "QuantizeLinear" || n.Op == "DequantizeLinear") {
		return nil, nil
	}
	if n.Op == "Shape" {
		return foldShape(n)
	}
	if !ref.Supports(n.Op) {
		return nil, nil
	}
	var size int64
	for _, v := range n.Outputs {
		if e := v.Type.Shape.NumElements(); e >= 0 {
			size += e
		}
	}
	if size > limit {
		return nil, nil
	}
	// Run the node alone: a graph with no inputs whose operands are all constants.
	inputs := make([]*ir.Value, len(n.Inputs))
	for i, v := range n.Inputs {
		if v == nil {
			continue
		}
		if !v.IsConst() {
			return nil, nil
		}
		inputs[i] = v
	}
	outs := make([]*ir.Value, len(n.Outputs))
	for i, v := range n.Outputs {
		outs[i] = &ir.Value{Name: v.Name, Type: v.Type}
	}
	single := &ir.Graph{Name: n.Name, Outputs: outs, Nodes: []*ir.Node{{Name: n.Name, Op: n.Op, Inputs: inputs, Outputs: outs, Attrs: n.Attrs}}}
	res, err := ref.Run(single)
	if err != nil {
		return nil, fmt.Errorf("folding %s: %w", n.Name, err)
	}
	return res, nil
}

// foldShape computes Shape (with its start/end attributes) from a static shape.
func foldShape(n *ir.Node) ([]*ir.Tensor, error) {
	in := n.Inputs[0]
	dims, ok := in.Type.Shape.Ints()
	if !ok {
		return nil, nil
	}
	rank := len(dims)
	clamp := func(a int64) int {
		if a < 0 {
			a += int64(rank)
		}
		return int(max(0, min(a, int64(rank))))
	}
	start := clamp(n.Attrs.Int("start", 0))
	end := clamp(n.Attrs.Int("end", int64(rank)))
	vals := []int64{}
	for i := start; i < end; i++ {
		vals = append(vals, int64(dims[i]))
	}
	return []*ir.Tensor{ir.FromInt64(vals, len(vals))}, nil
}

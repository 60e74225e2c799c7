// Command fold-identity is an example sqc plugin that rewrites the graph: it
// removes arithmetic by an identity constant, Mul or Div by ones and Add or
// Sub of zeros, which exporters leave behind (a scale folded to 1, a bias of
// 0, a normalisation with mean 0 and std 1).
//
// A node is removed only when it computes its other input exactly: the
// constant is all ones (Mul, Div) or all zeros (Add, Sub), and broadcasting
// it changes neither the shape nor the dtype of the other input, nor its
// quantization. x + 0 differs from x only in the sign of a zero (-0 + 0 is
// +0), which nothing downstream distinguishes. When the node's output is a
// graph output, the value it would read instead takes the output's name, if
// that value is an intermediate one; otherwise the node stays.
//
// Build it and run it before the graph passes:
//
//	go build -o fold-identity ./plugins/examples/fold-identity
//	sqc opt --plugin ./fold-identity --passes='fold-identity,infer-shapes,dce' model.onnx
package main

import (
	"context"
	"fmt"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/plugins/sqcplugin"
)

// foldable maps each op to the constant that makes it an identity, and
// whether that constant may be its first operand.
var foldable = map[string]struct {
	identity    float64
	commutative bool
}{
	"Mul": {1, true},
	"Div": {1, false},
	"Add": {0, true},
	"Sub": {0, false},
}

func main() {
	sqcplugin.Serve(&sqcplugin.Pass{
		Name: "fold-identity",
		Doc:  "remove Mul and Div by ones and Add and Sub of zeros",
		Options: []sqcplugin.Option{
			{Name: "ops", Doc: "the ops to fold: any of Mul, Div, Add, Sub", Default: []string{"Mul", "Div", "Add", "Sub"}},
			{Name: "keep", Doc: "nodes to leave in place", Default: sqcplugin.Selector{}},
		},
		Run: run,
	})
}

func run(ctx context.Context, g *ir.Graph, opts sqcplugin.Options) error {
	outputs := map[*ir.Value]bool{}
	for _, v := range g.Outputs {
		outputs[v] = true
	}
	inputs := map[*ir.Value]bool{}
	for _, v := range g.Inputs {
		inputs[v] = true
	}
	kept := g.Nodes[:0]
	for _, n := range g.Nodes {
		o := opts.For(n)
		ok, err := enabled(n.Op, o.Strings("ops"))
		if err != nil {
			return fmt.Errorf("node %s: %v", n.Name, err)
		}
		x := identityOperand(n)
		if !ok || x == nil || o.Selector("keep").Match(n) || !forward(g, n.Outputs[0], x, outputs, inputs) {
			kept = append(kept, n)
			continue
		}
		sqcplugin.Count(ctx, "nodes removed", 1)
	}
	clear(g.Nodes[len(kept):])
	g.Nodes = kept
	return nil
}

// enabled reports whether the ops option lists op, checking the option.
func enabled(op string, ops []string) (bool, error) {
	on := false
	for _, o := range ops {
		if _, ok := foldable[o]; !ok {
			return false, fmt.Errorf("option ops: unknown op %q (want Mul, Div, Add or Sub)", o)
		}
		on = on || o == op
	}
	return on, nil
}

// identityOperand returns the operand n passes through unchanged, or nil.
func identityOperand(n *ir.Node) *ir.Value {
	f, ok := foldable[n.Op]
	if !ok || len(n.Inputs) != 2 || len(n.Outputs) != 1 || n.Outputs[0] == nil {
		return nil
	}
	y := n.Outputs[0]
	for i, c := range n.Inputs {
		x := n.Inputs[1-i]
		if c == nil || x == nil || !c.IsConst() || (i == 0 && !f.commutative) {
			continue
		}
		if x.Type.Equal(y.Type) && x.Quant.Equal(y.Quant) && all(c.Const, f.identity) {
			return x
		}
	}
	return nil
}

// all reports whether every element of t equals v.
func all(t *ir.Tensor, v float64) bool {
	if !t.DType.IsFloat() && !t.DType.IsInteger() {
		return false
	}
	for i := range t.Len() {
		if t.AsFloat64(i) != v {
			return false
		}
	}
	return true
}

// forward makes y's readers read x instead. A graph output keeps its name:
// x takes it, when x is an intermediate value; otherwise nothing changes
// and forward reports false.
func forward(g *ir.Graph, y, x *ir.Value, outputs, inputs map[*ir.Value]bool) bool {
	if outputs[y] {
		if x.IsConst() || inputs[x] || outputs[x] {
			return false
		}
		x.Name = y.Name
		outputs[x] = true
		delete(outputs, y)
	}
	g.ReplaceUses(y, x)
	return true
}

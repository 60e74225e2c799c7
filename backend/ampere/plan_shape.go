package ampere

import (
	"fmt"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// shapeOnly reports whether n only computes a shape: its outputs are
// integer tensors (not int8 data) that only other shape-only nodes read,
// or a Reshape as its shape. PyTorch's x.view(x.size(0), -1) exports as
// Shape→Gather→Unsqueeze→Concat→Reshape, which folds away only when the
// batch is static; with a symbolic batch the types still give every dim
// but the batch, so the Reshape is a view whatever the batch (a buffer's
// size is per sample) and the chain needs no GPU work.
func (p *planner) shapeOnly(n *ir.Node) bool {
	if len(n.Outputs) == 0 {
		return false
	}
	for _, v := range n.Outputs {
		if v == nil {
			continue
		}
		if dt := v.Type.DType; dt != ir.Int64 && dt != ir.Int32 || p.g.IsOutput(v) {
			return false
		}
		for _, u := range p.users[v] {
			if u.Op == "Reshape" && len(u.Inputs) > 1 && u.Inputs[1] == v && u.Inputs[0] != v {
				continue
			}
			if !p.shapeOnly(u) {
				return false
			}
		}
	}
	return true
}

// batchScaledShape gives the per-sample shape of a Reshape whose shape is
// computed by a shape-only chain from the batch (the output's type has
// unknown dims): the chain and the Reshape's shape rule run at batch 1
// and 2; the output must then be [batch, the same dims] both times, which
// makes the Reshape a view of its input at every batch.
func (p *planner) batchScaledShape(n *ir.Node) ([]int64, error) {
	sv := n.Inputs[1]
	chain, roots := p.shapeChain(sv)
	var sample []int64
	for _, batch := range []int{1, 2} {
		var tin []*ir.Tensor
		for _, v := range roots {
			b := p.bufs[v]
			if b == nil {
				return nil, fmt.Errorf("the shape %s is computed from %s, which is not on the GPU", sv.Name, v.Name)
			}
			tin = append(tin, ir.NewTensor(v.Type.DType, append([]int{batch}, intsOf(b.SampleShape)...)...))
		}
		res, err := ref.Run(&ir.Graph{Name: n.Name, Inputs: roots, Nodes: chain, Outputs: []*ir.Value{sv}}, tin...)
		if err != nil {
			return nil, fmt.Errorf("evaluating the shape %s at batch %d: %w", sv.Name, batch, err)
		}
		x := p.bufs[n.Inputs[0]]
		xt := ir.Type{DType: n.Inputs[0].Type.DType, Shape: ir.Shape{ir.D(int64(batch))}}
		for _, d := range x.SampleShape {
			xt.Shape = append(xt.Shape, ir.D(d))
		}
		out, err := ir.InferTypes(n, []ir.Type{xt, res[0].Type()}, []*ir.Tensor{nil, res[0]})
		if err != nil {
			return nil, fmt.Errorf("reshaping at batch %d: %w", batch, err)
		}
		dims, ok := out[0].Shape.Ints()
		if !ok || len(dims) == 0 || dims[0] != batch {
			return nil, fmt.Errorf("at batch %d the shape %s gives %v, want the batch first", batch, sv.Name, out[0].Shape)
		}
		got := make([]int64, len(dims)-1)
		for i, d := range dims[1:] {
			got[i] = int64(d)
		}
		if sample != nil && fmt.Sprint(sample) != fmt.Sprint(got) {
			return nil, fmt.Errorf("the shape %s gives %v a sample at batch 1 and %v at batch 2, want the same", sv.Name, sample, got)
		}
		sample = got
	}
	return sample, nil
}

// shapeChain returns the shape-only nodes v is computed by, in graph
// order, and the values they read that are computed elsewhere (the
// tensors whose shapes they take).
func (p *planner) shapeChain(v *ir.Value) ([]*ir.Node, []*ir.Value) {
	producers := p.g.Producers()
	in := map[*ir.Node]bool{}
	var roots []*ir.Value
	seenRoot := map[*ir.Value]bool{}
	var walk func(v *ir.Value)
	walk = func(v *ir.Value) {
		if v == nil || v.IsConst() {
			return
		}
		n := producers[v]
		if n == nil || !p.shapeOnly(n) {
			if !seenRoot[v] {
				seenRoot[v] = true
				roots = append(roots, v)
			}
			return
		}
		if in[n] {
			return
		}
		in[n] = true
		for _, u := range n.Inputs {
			walk(u)
		}
	}
	walk(v)
	var chain []*ir.Node
	for _, n := range p.g.Nodes {
		if in[n] {
			chain = append(chain, n)
		}
	}
	return chain, roots
}

package permute

import (
	"fmt"
	"slices"

	"github.com/sqc-project/sqc/ir"
)

// Apply permutes the domain's channels: new channel i is old channel
// perm[i] in every value of the domain, which it achieves by permuting the
// producers' filters and biases, the consumers' weights along their
// reduction, and every per-channel constant in between. The graph computes
// the same function afterwards (to float rounding: a consumer sums its
// products in another order).
//
// A constant read only by the edited inputs is replaced by its permuted
// copy under the same name; one that something else reads too is left as
// it is and the edited inputs get a new constant.
func (d *Domain) Apply(perm []int) error {
	if err := checkPerm(perm, d.Channels); err != nil {
		return err
	}
	type use struct {
		node *ir.Node
		slot int
	}
	// A constant can be permuted along several axes: the weight of a layer
	// that both reads and writes the domain's channels (input and output
	// channels).
	uses := map[*ir.Value][]use{}
	axes := map[*ir.Value][]int{}
	var order []*ir.Value
	seen := map[use]bool{}
	for _, e := range d.edits {
		v := e.node.Inputs[e.slot]
		if v == nil || !v.IsConst() {
			return fmt.Errorf("node %s: input %d is not a constant", e.node.Name, e.slot)
		}
		if _, ok := axes[v]; !ok {
			order = append(order, v)
		}
		u := use{e.node, e.slot}
		if !seen[u] {
			seen[u] = true
			uses[v] = append(uses[v], u)
		}
		if !slices.Contains(axes[v], e.axis) {
			axes[v] = append(axes[v], e.axis)
		}
	}
	// Check everything before changing anything.
	for _, v := range order {
		for _, a := range axes[v] {
			if len(v.Const.Shape) <= a || v.Const.Shape[a] != d.Channels {
				return fmt.Errorf("constant %q has shape %v, want %d entries on axis %d", v.Name, v.Const.Shape, d.Channels, a)
			}
			if sp := v.Sparsity; sp != nil && sp.Axis == a {
				return fmt.Errorf("constant %q claims sparsity %v along the permuted axis", v.Name, sp)
			}
		}
	}
	for _, v := range order {
		t := v.Const
		for _, a := range axes[v] {
			var err error
			if t, err = permuteAxis(t, a, perm); err != nil {
				return fmt.Errorf("constant %q: %v", v.Name, err)
			}
		}
		if len(uses[v]) == d.uses(v) {
			v.Const = t
			continue
		}
		nv := ir.NewConst(d.idx.fresh(v.Name+".perm"), t)
		nv.Type.Layout = v.Type.Layout
		nv.Quant = v.Quant
		if v.Sparsity != nil {
			sp := *v.Sparsity
			nv.Sparsity = &sp
		}
		for _, u := range uses[v] {
			u.node.Inputs[u.slot] = nv
			d.idx.users[nv] = append(d.idx.users[nv], u.node)
			d.idx.dropUser(v, u.node)
		}
	}
	return nil
}

// uses counts the input slots and graph outputs that read v.
func (d *Domain) uses(v *ir.Value) int {
	n := 0
	seen := map[*ir.Node]bool{}
	for _, u := range d.idx.users[v] {
		if seen[u] {
			continue // Users lists a node once per slot
		}
		seen[u] = true
		for _, in := range u.Inputs {
			if in == v {
				n++
			}
		}
	}
	for _, o := range d.idx.g.Outputs {
		if o == v {
			n++
		}
	}
	return n
}

// dropUser removes one occurrence of node from v's users.
func (x *Index) dropUser(v *ir.Value, node *ir.Node) {
	us := x.users[v]
	for i, u := range us {
		if u == node {
			x.users[v] = append(us[:i:i], us[i+1:]...)
			return
		}
	}
}

func checkPerm(perm []int, n int) error {
	if len(perm) != n {
		return fmt.Errorf("permutation of %d channels, want %d", len(perm), n)
	}
	seen := make([]bool, n)
	for _, p := range perm {
		if p < 0 || p >= n || seen[p] {
			return fmt.Errorf("%v is not a permutation of 0..%d", perm, n-1)
		}
		seen[p] = true
	}
	return nil
}

// permuteAxis returns a copy of t with index i of axis taken from index
// perm[i].
func permuteAxis(t *ir.Tensor, axis int, perm []int) (*ir.Tensor, error) {
	outer := ir.NumElements(t.Shape[:axis])
	inner := ir.NumElements(t.Shape[axis+1:])
	c := t.Shape[axis]
	out := ir.NewTensor(t.DType, t.Shape...)
	switch s := t.Data.(type) {
	case []float32:
		permuteSlice(out.Data.([]float32), s, outer, c, inner, perm)
	case []float64:
		permuteSlice(out.Data.([]float64), s, outer, c, inner, perm)
	case []uint16:
		permuteSlice(out.Data.([]uint16), s, outer, c, inner, perm)
	case []int8:
		permuteSlice(out.Data.([]int8), s, outer, c, inner, perm)
	case []uint8:
		permuteSlice(out.Data.([]uint8), s, outer, c, inner, perm)
	case []int16:
		permuteSlice(out.Data.([]int16), s, outer, c, inner, perm)
	case []int32:
		permuteSlice(out.Data.([]int32), s, outer, c, inner, perm)
	case []int64:
		permuteSlice(out.Data.([]int64), s, outer, c, inner, perm)
	default:
		return nil, fmt.Errorf("cannot permute a %v tensor", t.DType)
	}
	return out, nil
}

func permuteSlice[T any](dst, src []T, outer, c, inner int, perm []int) {
	for o := range outer {
		for i, p := range perm {
			copy(dst[(o*c+i)*inner:(o*c+i+1)*inner], src[(o*c+p)*inner:(o*c+p+1)*inner])
		}
	}
}

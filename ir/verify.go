package ir

import (
	"errors"
	"fmt"
	"math"
)

// Verify checks a graph's invariants and returns every violation it finds
// (joined), each naming the node or value at fault:
//
//   - every node's op is registered, its arity and attributes match the schema;
//   - every input is a graph input, a constant or the output of an earlier
//     node (so the node order is topological and there is no cycle);
//   - every value has one definition and value names are unique;
//   - re-running shape inference agrees with the recorded output types;
//   - constants hold data of their declared type;
//   - quantization parameters fit the value they describe;
//   - a sparsity claim on a constant holds for its data.
func Verify(g *Graph) error {
	var errs []error
	fail := func(format string, args ...any) {
		if len(errs) < 50 {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	defined := map[*Value]bool{}
	names := map[string]*Value{}
	claim := func(v *Value, what string) {
		if v.Name == "" {
			fail("%s has no name", what)
		} else if other, dup := names[v.Name]; dup && other != v {
			fail("%s: value name %q is used by two values", what, v.Name)
		}
		names[v.Name] = v
	}
	for i, v := range g.Inputs {
		if v == nil {
			fail("graph input %d is nil", i)
			continue
		}
		if v.IsConst() {
			fail("graph input %q is a constant", v.Name)
		}
		if defined[v] {
			fail("graph input %q is listed twice", v.Name)
		}
		defined[v] = true
		claim(v, fmt.Sprintf("graph input %q", v.Name))
		verifyValue(v, fail)
	}
	for _, c := range g.Constants() {
		claim(c, fmt.Sprintf("constant %q", c.Name))
		verifyValue(c, fail)
	}
	for _, n := range g.Nodes {
		where := fmt.Sprintf("node %s (%s)", n.Name, n.Op)
		if n.Name == "" {
			fail("a %s node has no name", n.Op)
		}
		ok := true
		for i, v := range n.Inputs {
			if v == nil || v.IsConst() {
				continue
			}
			if !defined[v] {
				fail("%s: input %d %q is not defined before the node (no producer, or a cycle)", where, i, v.Name)
				ok = false
			}
		}
		for i, v := range n.Outputs {
			if v == nil {
				fail("%s: output %d is nil", where, i)
				ok = false
				continue
			}
			if v.IsConst() {
				fail("%s: output %q is a constant", where, v.Name)
			}
			if defined[v] {
				fail("%s: output %q is defined twice", where, v.Name)
			}
			defined[v] = true
			claim(v, where+" output")
			verifyValue(v, fail)
		}
		if !ok {
			continue
		}
		in := make([]Type, len(n.Inputs))
		consts := make([]*Tensor, len(n.Inputs))
		for i, v := range n.Inputs {
			if v != nil {
				in[i], consts[i] = v.Type, v.Const
			}
		}
		out, err := InferTypes(n, in, consts)
		if err != nil {
			fail("%v", err)
			continue
		}
		for i, t := range out {
			if i >= len(n.Outputs) || n.Outputs[i] == nil {
				continue
			}
			if got := n.Outputs[i].Type; !compatible(got, t) {
				fail("%s: output %q has type %v, but its inputs give %v", where, n.Outputs[i].Name, got, t)
			}
		}
	}
	for i, v := range g.Outputs {
		switch {
		case v == nil:
			fail("graph output %d is nil", i)
		case !v.IsConst() && !defined[v]:
			fail("graph output %q is not produced by any node or input", v.Name)
		}
	}
	return errors.Join(errs...)
}

// compatible reports whether a recorded type agrees with an inferred one:
// same dtype and rank, and equal dims wherever both the recorded and the
// inferred dim are known or symbolic.
func compatible(recorded, inferred Type) bool {
	if inferred.DType != InvalidDType && recorded.DType != inferred.DType {
		return false
	}
	if inferred.Shape == nil && inferred.DType == InvalidDType {
		return true
	}
	if len(recorded.Shape) != len(inferred.Shape) {
		return false
	}
	for i, d := range inferred.Shape {
		r := recorded.Shape[i]
		if r == UnknownDim {
			continue // a less refined type is not a contradiction
		}
		if (d.Known() || d.Sym != "") && r != d {
			return false
		}
	}
	return true
}

func verifyValue(v *Value, fail func(string, ...any)) {
	if v.Const != nil {
		if err := v.Const.Check(); err != nil {
			fail("constant %q: %v", v.Name, err)
			return
		}
		if !v.Type.Equal(Type{DType: v.Const.DType, Shape: ShapeOf(v.Const.Shape...), Layout: v.Type.Layout}) {
			fail("constant %q: declared %v, data is %v%v", v.Name, v.Type, v.Const.DType, ShapeOf(v.Const.Shape...))
			return
		}
	}
	if q := v.Quant; q != nil {
		verifyQuant(v, q, fail)
	}
	if s := v.Sparsity; s != nil {
		verifySparsity(v, s, fail)
	}
}

func verifyQuant(v *Value, q *QuantParams, fail func(string, ...any)) {
	if !v.Type.DType.IsInteger() {
		fail("value %q: quantization parameters on a %v value, want an integer dtype", v.Name, v.Type.DType)
	}
	if len(q.Scale) == 0 || len(q.Scale) != len(q.ZeroPoint) {
		fail("value %q: %d scales and %d zero points, want the same non-zero number", v.Name, len(q.Scale), len(q.ZeroPoint))
		return
	}
	for i, s := range q.Scale {
		if !(s > 0) || math.IsInf(float64(s), 0) {
			fail("value %q: scale[%d] = %v, want a finite positive number", v.Name, i, s)
			return
		}
	}
	if q.Axis < 0 {
		if len(q.Scale) != 1 {
			fail("value %q: per-tensor quantization with %d scales, want 1", v.Name, len(q.Scale))
		}
		return
	}
	if q.Axis >= v.Type.Shape.Rank() {
		fail("value %q: quantization axis %d out of range for %v", v.Name, q.Axis, v.Type)
		return
	}
	if d := v.Type.Shape[q.Axis]; d.Known() && d.Size != int64(len(q.Scale)) {
		fail("value %q: %d scales along axis %d of size %d", v.Name, len(q.Scale), q.Axis, d.Size)
	}
}

func verifySparsity(v *Value, s *Sparsity, fail func(string, ...any)) {
	if s.M <= 0 || s.N < 0 || s.N > s.M {
		fail("value %q: sparsity %v, want 0 <= N <= M and M > 0", v.Name, s)
		return
	}
	rank := v.Type.Shape.Rank()
	if s.Axis < 0 || s.Axis >= rank {
		fail("value %q: sparsity axis %d out of range for %v", v.Name, s.Axis, v.Type)
		return
	}
	t := v.Const
	if t == nil {
		return
	}
	dims := t.Shape
	if dims[s.Axis]%s.M != 0 {
		fail("value %q: sparsity %v: axis %d has size %d, want a multiple of %d", v.Name, s, s.Axis, dims[s.Axis], s.M)
		return
	}
	// Walk every group of M along the axis and count its non-zeros.
	strides := Strides(dims)
	stride := strides[s.Axis]
	outer := NumElements(dims[:s.Axis])
	axisLen := dims[s.Axis]
	for o := 0; o < outer; o++ {
		for g := 0; g < axisLen; g += s.M {
			for in := 0; in < stride; in++ {
				base := o*axisLen*stride + g*stride + in
				nz := 0
				for k := 0; k < s.M; k++ {
					if t.AsFloat64(base+k*stride) != 0 {
						nz++
					}
				}
				if nz > s.N {
					idx := unravel(base, dims)
					fail("value %q: claims %d:%d sparsity along axis %d, but the group starting at %v has %d non-zeros", v.Name, s.N, s.M, s.Axis, idx, nz)
					return
				}
			}
		}
	}
}

func unravel(i int, dims []int) []int {
	idx := make([]int, len(dims))
	for k := len(dims) - 1; k >= 0; k-- {
		if dims[k] > 0 {
			idx[k] = i % dims[k]
			i /= dims[k]
		}
	}
	return idx
}

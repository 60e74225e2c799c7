package prune

import (
	"fmt"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes/prune/layer"
)

// Padding the reduction: a layer whose reduction length C is not a
// multiple of M reads its input through a constant-mode Pad that appends
// C'−C zero channels and gets a weight with C'−C zero inputs appended. The
// extra products are 0·0, so the layer computes what it did; its N:M
// groups now tile the reduction, the last one holding the padding. A conv's
// Pad is named "<conv>/pad_channels", as the pad-channels pass names its
// own, which then finds nothing more to pad.

// padKey names an activation padded along axis to size.
type padKey struct {
	v          *ir.Value
	axis, size int
}

// padBlocker says why a layer's reduction can't be padded, or "".
func (s *state) padBlocker(cd *cand) string {
	l := cd.l
	switch {
	case !cd.opts.Bool("pad"):
		return "pad = false"
	case l.Quant != nil:
		return "a quantized weight is not padded"
	}
	shape := l.Data.Type.Shape
	if l.DataAxis >= shape.Rank() || !shape[l.DataAxis].Known() {
		return "the input's channel count is unknown"
	}
	if int(shape[l.DataAxis].Size) != l.In {
		return fmt.Sprintf("the input has %v channels and the weight %d", shape[l.DataAxis], l.In)
	}
	return ""
}

func roundUp(n, m int) int { return (n + m - 1) / m * m }

// pad pads the reduction of every live layer that needs it.
func (s *state) pad() error {
	weights := map[padKey]*ir.Value{}
	changed := false
	for _, cd := range s.live() {
		l := cd.l
		if l.In%cd.m == 0 {
			continue
		}
		size := roundUp(l.In, cd.m)
		n := l.Node
		name := n.Name + "/pad_reduction"
		if l.Kind == layer.Conv {
			name = n.Name + "/pad_channels"
		}
		px, err := s.padActivation(n, l.Data, l.DataAxis, size, name)
		if err != nil {
			return err
		}
		key := padKey{l.Const, l.Axis, size}
		pw := weights[key]
		if pw == nil {
			t, err := padAxis(l.Const.Const, l.Axis, size)
			if err != nil {
				return fmt.Errorf("layer %s: %v", n.Name, err)
			}
			pw = ir.NewConst(s.fresh(l.Const.Name+".padded"), t)
			pw.Type.Layout = l.Const.Type.Layout
			weights[key] = pw
		}
		n.Inputs[0], n.Inputs[1] = px, pw
		if err := ir.InferNode(n); err != nil {
			return fmt.Errorf("layer %s after padding its reduction: %v", n.Name, err)
		}
		cd.padded = fmt.Sprintf("%s padded %d→%d", reductionWord(l), l.In, size)
		s.c.Count("layers padded", 1)
		changed = true
	}
	if !changed {
		return nil
	}
	nodes := make([]*ir.Node, 0, len(s.g.Nodes)+len(s.inserted))
	for _, n := range s.g.Nodes {
		nodes = append(nodes, s.inserted[n]...)
		nodes = append(nodes, n)
	}
	s.g.Nodes = nodes
	s.inserted = map[*ir.Node][]*ir.Node{}
	s.index()
	for _, cd := range s.live() {
		if err := s.refresh(cd); err != nil {
			return err
		}
	}
	return nil
}

// padActivation returns v padded with zeros along axis to size, through a
// Pad placed before reader (once per value, axis and size).
func (s *state) padActivation(reader *ir.Node, v *ir.Value, axis, size int, name string) (*ir.Value, error) {
	key := padKey{v, axis, size}
	if p, ok := s.padded[key]; ok {
		return p, nil
	}
	r := v.Type.Shape.Rank()
	pads := make([]int64, 2*r)
	pads[r+axis] = int64(size) - v.Type.Shape[axis].Size
	out := &ir.Value{Name: s.fresh(v.Name + ".padded"), Type: ir.Type{Layout: v.Type.Layout}}
	p := &ir.Node{Name: name, Op: "Pad",
		Inputs:  []*ir.Value{v, ir.NewConst(s.fresh(name+".pads"), ir.FromInt64(pads, len(pads)))},
		Outputs: []*ir.Value{out},
		Attrs:   ir.Attrs{"mode": ir.StringAttr("constant")}}
	if err := ir.InferNode(p); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	s.inserted[reader] = append(s.inserted[reader], p)
	s.padded[key] = out
	return out, nil
}

// padAxis returns a copy of a float32 tensor with zeros appended along
// axis up to size.
func padAxis(t *ir.Tensor, axis, size int) (*ir.Tensor, error) {
	if t.DType != ir.Float32 {
		return nil, fmt.Errorf("weight is %v, want f32 to pad", t.DType)
	}
	shape := append([]int(nil), t.Shape...)
	c := shape[axis]
	shape[axis] = size
	out := ir.NewTensor(ir.Float32, shape...)
	src, dst := t.Float32s(), out.Float32s()
	outer := ir.NumElements(t.Shape[:axis])
	inner := ir.NumElements(t.Shape[axis+1:])
	for o := range outer {
		copy(dst[o*size*inner:o*size*inner+c*inner], src[o*c*inner:(o+1)*c*inner])
	}
	return out, nil
}

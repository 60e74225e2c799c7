package onnxexport

// Decomposers of the ops package ir defines that ONNX does not have.

import (
	"fmt"

	"github.com/sqc-project/sqc/ir"
)

func init() {
	RegisterDecomposer("FusedConv", func(e Emitter, n *ir.Node) error { return decomposeFused(e, n, "Conv") })
	RegisterDecomposer("FusedGemm", func(e Emitter, n *ir.Node) error { return decomposeFused(e, n, "Gemm") })
	RegisterDecomposer("Relayout", decomposeRelayout)
}

// decomposeFused writes FusedConv as Conv [→ Add R] [→ Relu | Clip], and
// FusedGemm likewise from Gemm: the chain the fuse-epilogue pass formed the
// node from. The reference kernels define the fused op as exactly that
// chain evaluated in float32 (the product, then + R, then the activation),
// so the decomposition computes the same bits.
func decomposeFused(e Emitter, n *ir.Node, base string) error {
	act, _, _, err := ir.FusedActivation(n.Attrs)
	if err != nil {
		return err
	}
	if len(n.Outputs) != 1 || n.Input(0) == nil || n.Input(1) == nil {
		return fmt.Errorf("want inputs X and W (and optional bias and residual) and one output")
	}
	out := n.Outputs[0]
	attrs := ir.Attrs{}
	for k, v := range n.Attrs {
		switch k {
		case "activation", "clip_min", "clip_max":
		default:
			attrs[k] = v
		}
	}
	ins := []*ir.Value{n.Input(0), n.Input(1)}
	if b := n.Input(2); b != nil {
		ins = append(ins, b)
	}
	residual := n.Input(3)
	// Each stage writes a temporary, except the last, which writes the
	// fused node's output under its own name.
	stages := 1
	if residual != nil {
		stages++
	}
	if act != ir.ActNone {
		stages++
	}
	next := func(suffix string) *ir.Value {
		stages--
		if stages == 0 {
			return out
		}
		return e.Temp(out.Name+"/"+suffix, out.Type)
	}
	y := next(base)
	if err := e.Node(base, ins, []*ir.Value{y}, attrs); err != nil {
		return err
	}
	if residual != nil {
		sum := next("residual")
		if err := e.Node("Add", []*ir.Value{y, residual}, []*ir.Value{sum}, nil); err != nil {
			return err
		}
		y = sum
	}
	switch act {
	case ir.ActRelu:
		return e.Node("Relu", []*ir.Value{y}, []*ir.Value{next("relu")}, nil)
	case ir.ActClip:
		// An absent bound is an absent Clip input, which ONNX reads as
		// ±inf, the fused op's meaning too.
		clipIns := []*ir.Value{y, nil, nil}
		for i, name := range []string{"clip_min", "clip_max"} {
			if !n.Attrs.Has(name) {
				continue
			}
			t, err := scalar(out.Type.DType, n.Attrs.Float(name, 0))
			if err != nil {
				return fmt.Errorf("attribute %s: %v", name, err)
			}
			clipIns[i+1] = e.Const(out.Name+"/"+name, t)
		}
		return e.Node("Clip", clipIns, []*ir.Value{next("clip")}, nil)
	}
	return nil
}

// scalar makes a rank-0 tensor of a float dtype holding v (Clip's bounds
// have the clipped value's type).
func scalar(dt ir.DType, v float32) (*ir.Tensor, error) {
	if !dt.IsFloat() {
		return nil, fmt.Errorf("the output is %v, want a float type", dt)
	}
	t := ir.NewTensor(dt)
	switch d := t.Data.(type) {
	case []float32:
		d[0] = v
	case []float64:
		d[0] = float64(v)
	case []uint16:
		if dt == ir.BFloat16 {
			d[0] = ir.Float32ToBFloat16(v)
		} else {
			d[0] = ir.Float32ToHalf(v)
		}
	}
	return t, nil
}

// decomposeRelayout drops a Relayout: it is the identity on the logical
// values ONNX describes (layouts only say how the backend stores them), so
// its readers read its input directly. A graph output must keep its name,
// so there it becomes an Identity.
func decomposeRelayout(e Emitter, n *ir.Node) error {
	if len(n.Inputs) != 1 || len(n.Outputs) != 1 || n.Inputs[0] == nil {
		return fmt.Errorf("want one input and one output")
	}
	if e.IsGraphOutput(n.Outputs[0]) {
		return e.Node("Identity", n.Inputs, n.Outputs, nil)
	}
	return e.Alias(n.Outputs[0], n.Inputs[0])
}

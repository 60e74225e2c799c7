package ir

// This file counts the work and the parameters of nodes, for `sqc inspect`
// and for anything that ranks layers by cost (which layers are worth making
// sparse, where the time will go).

// MACs returns the number of multiply-accumulates a node performs: the
// multiplications of its dot products, the usual measure of a CNN's work
// (one MAC is two FLOPs).
//
// Only the ops whose work is dot products are counted; every other op
// returns 0, so a graph's total is the sum over its nodes:
//
//   - Conv, ConvInteger, QLinearConv: N·K·O1·…·Ok · (C/group)·k1·…·kk, that
//     is, every output element (N·K·O1…Ok) is a dot product as long as the
//     weight's per-output-channel slice W[k] (C/group · k1 … kk). Padding
//     is counted as if it held data, as libraries compute it.
//   - ConvTranspose: N·C·D1·…·Dk · (K/group)·k1·…·kk: every input element
//     is scattered through a weight slice W[c] of (K/group)·k1…kk.
//   - FusedConv and QConv (sqc's fused and INT8 convolutions, weight at
//     input 1) count as Conv; FusedGemm as Gemm, QGemm as a MatMul of its rows.
//   - Gemm: M·N·K, with K read from A after transA.
//   - MatMul, MatMulInteger, QLinearMatMul: elements of the output times K
//     (A's last dim), so batch and broadcast dims are included: a
//     [B,M,K]×[K,N] product counts B·M·N·K.
//
// MACs returns -1 when the count depends on a dim that is not known
// (a symbolic batch "N", or types not yet inferred) or the node is malformed.
// -1 rather than 0 so that "no work" and "unknown work" stay apart; bind the
// symbolic dims and infer shapes again to get a number.
func MACs(n *Node) int64 {
	if n == nil {
		return 0
	}
	switch n.Op {
	case "Conv", "ConvInteger", "FusedConv", "QConv":
		return convMACs(n, 1, false)
	case "QLinearConv":
		return convMACs(n, 3, false)
	case "ConvTranspose":
		return convMACs(n, 1, true)
	case "QGemm":
		// A is [M,K] or a batch of rows [...,K]: one K-long dot product
		// per output element either way.
		a, y := n.Input(0), output(n, 0)
		if a == nil || y == nil || a.Type.Shape.Rank() < 2 {
			return -1
		}
		return times(y.Type.Shape.NumElements(), a.Type.Shape[a.Type.Shape.Rank()-1])
	case "Gemm", "FusedGemm":
		a, y := n.Input(0), output(n, 0)
		if a == nil || y == nil || a.Type.Shape.Rank() != 2 {
			return -1
		}
		k := a.Type.Shape[1]
		if n.Attrs.Int("transA", 0) != 0 {
			k = a.Type.Shape[0]
		}
		return times(y.Type.Shape.NumElements(), k)
	case "MatMul", "MatMulInteger", "QLinearMatMul":
		a, y := n.Input(0), output(n, 0)
		if a == nil || y == nil || a.Type.Shape.Rank() < 1 {
			return -1
		}
		return times(y.Type.Shape.NumElements(), a.Type.Shape[a.Type.Shape.Rank()-1])
	}
	return 0
}

// convMACs counts a convolution whose weight is input w. A forward
// convolution computes one dot product per output element; a transposed one
// scatters every input element, so it counts per input element instead.
// Either way the dot product is as long as the weight divided by its first
// dim (K for Conv, C for ConvTranspose).
func convMACs(n *Node, w int, transposed bool) int64 {
	wv, x, y := n.Input(w), n.Input(0), output(n, 0)
	if wv == nil || x == nil || y == nil || wv.Type.Shape.Rank() < 2 {
		return -1
	}
	slice := wv.Type.Shape[1:].NumElements()
	if slice < 0 {
		return -1
	}
	per := y.Type.Shape.NumElements()
	if transposed {
		per = x.Type.Shape.NumElements()
	}
	if per < 0 {
		return -1
	}
	return per * slice
}

// output returns output i if it exists and has been typed.
func output(n *Node, i int) *Value {
	if i >= len(n.Outputs) || n.Outputs[i] == nil || n.Outputs[i].Type.DType == InvalidDType {
		return nil
	}
	return n.Outputs[i]
}

// times multiplies an element count by a dim, -1 if either is unknown.
func times(elems int64, d Dim) int64 {
	if elems < 0 || !d.Known() {
		return -1
	}
	return elems * d.Size
}

// Params returns the number of parameters a node holds: the elements of its
// constant inputs (weights, biases, BatchNormalization statistics,
// quantization scales and zero points). Int64 constants are left out: in
// ONNX (and so in the IR) they are shapes, axes, pads and indices, operands
// that steer an op rather than learned values. A constant the node reads
// twice is counted once.
func Params(n *Node) int64 {
	if n == nil {
		return 0
	}
	return countParams(n.Inputs, map[*Value]bool{})
}

func countParams(vs []*Value, seen map[*Value]bool) int64 {
	var p int64
	for _, v := range vs {
		if !v.IsConst() || v.Const.DType == Int64 || seen[v] {
			continue
		}
		seen[v] = true
		p += int64(v.Const.Len())
	}
	return p
}

// Cost sums MACs and Params over a group of nodes: the IR nodes one ONNX node
// lowered to, or a whole graph's nodes. MACs is -1 if any node's count is
// unknown; a constant that several nodes of the group read is counted once,
// so a graph's parameter count does not grow when a weight is shared.
func Cost(nodes []*Node) (macs, params int64) {
	seen := map[*Value]bool{}
	for _, n := range nodes {
		if n == nil {
			continue
		}
		m := MACs(n)
		switch {
		case m < 0 || macs < 0:
			macs = -1
		default:
			macs += m
		}
		params += countParams(n.Inputs, seen)
	}
	return macs, params
}

package onnxexport

// Decomposers of sqc's quantized ops QConv and QGemm (ir/ops_qint8.go).

import (
	"fmt"

	"github.com/sqc-project/sqc/ir"
)

func init() {
	RegisterDecomposer("QConv", func(e Emitter, n *ir.Node) error { return decomposeQuantized(e, n, true) })
	RegisterDecomposer("QGemm", func(e Emitter, n *ir.Node) error { return decomposeQuantized(e, n, false) })
}

// decomposeQuantized writes a QConv or QGemm in the standard QDQ form that
// ONNX Runtime (and TensorRT) recognise and run as an INT8 layer:
//
//	DequantizeLinear(X), DequantizeLinear(W), DequantizeLinear(B)
//	  → Conv (Gemm with transB = 1: W is [N,K]; for a QGemm over a batch
//	    of rows [...,K], MatMul by W as [K,N], then Add of the bias)
//	  → [Add DequantizeLinear(R)]
//	  → [Relu | Clip] → [QuantizeLinear to the output's parameters]
//
// The scales and zero points come from the values' quantization parameters
// (X, W, R and the output); the int32 bias is dequantized with scale
// float32(sx·sw[k]), the unit it is in. In real numbers this is what the
// quantized op computes; the QDQ graph evaluates it in float32 where the op
// accumulates exactly in int32 and rounds once, so a runtime that runs the
// float graph may land one step away where a value is within float
// rounding of a half-way point. A runtime that fuses the pattern into
// QLinearConv computes the op's own arithmetic.
func decomposeQuantized(e Emitter, n *ir.Node, conv bool) error {
	if len(n.Outputs) != 1 || n.Input(0) == nil || n.Input(1) == nil {
		return fmt.Errorf("want inputs X, W and M (and optional B, R and MR) and one output")
	}
	act, clipMin, clipMax, err := ir.FusedActivation(n.Attrs)
	if err != nil {
		return err
	}
	x, w, out := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	if act, err = quantizedActivation(act, clipMin, clipMax, out); err != nil {
		return err
	}
	if x.Quant == nil || len(x.Quant.Scale) != 1 {
		return fmt.Errorf("input %s carries no per-tensor quantization parameters", x.Name)
	}
	if w.Quant == nil {
		return fmt.Errorf("weight %s carries no quantization parameters", w.Name)
	}
	if w.Type.Shape.Rank() < 2 || !w.Type.Shape[0].Known() {
		return fmt.Errorf("weight %s has shape %v, want a known output-channel count first", w.Name, w.Type.Shape)
	}
	channels := int(w.Type.Shape[0].Size)
	dq := func(v *ir.Value, q *ir.QuantParams, what string) (*ir.Value, error) {
		if q == nil {
			return nil, fmt.Errorf("%s %s carries no quantization parameters", what, v.Name)
		}
		ins, attrs, err := qdqParams(e, v, q, v.Type.DType)
		if err != nil {
			return nil, err
		}
		y := e.Temp(v.Name+"/dequantized", ir.Type{DType: ir.Float32, Shape: v.Type.Shape.Clone()})
		return y, e.Node("DequantizeLinear", append([]*ir.Value{v}, ins...), []*ir.Value{y}, attrs)
	}
	// A QGemm over a batch of rows [...,K] is a MatMul by the [K,N]
	// weight (ONNX's Gemm takes matrices only), its bias an Add.
	rows := !conv && x.Type.Shape.Rank() > 2
	if rows {
		if w, err = transposedWeight(e, w); err != nil {
			return err
		}
	}
	xd, err := dq(x, x.Quant, "input")
	if err != nil {
		return err
	}
	wd, err := dq(w, w.Quant, "weight")
	if err != nil {
		return err
	}
	ins := []*ir.Value{xd, wd}
	var bias *ir.Value
	if b := n.Input(3); b != nil {
		// B is int32 in units of float32(sx·sw[k]).
		bq := &ir.QuantParams{Axis: 0}
		for k := 0; k < channels; k++ {
			sw := w.Quant.Scale[min(k, len(w.Quant.Scale)-1)]
			bq.Scale = append(bq.Scale, float32(x.Quant.Scale[0]*sw))
			bq.ZeroPoint = append(bq.ZeroPoint, 0)
		}
		bd, err := dq(b, bq, "bias")
		if err != nil {
			return err
		}
		if rows {
			bias = bd
		} else {
			ins = append(ins, bd)
		}
	}
	residual := n.Input(4)
	stages := 1
	if bias != nil {
		stages++
	}
	if residual != nil {
		stages++
	}
	if act != ir.ActNone {
		stages++
	}
	if out.Type.DType != ir.Float32 {
		stages++ // the final QuantizeLinear
	}
	floatType := ir.Type{DType: ir.Float32, Shape: out.Type.Shape.Clone()}
	next := func(suffix string) *ir.Value {
		stages--
		if stages == 0 {
			return out
		}
		return e.Temp(out.Name+"/"+suffix, floatType)
	}
	op, attrs := "Gemm", ir.Attrs{"transB": ir.IntAttr(1)}
	if rows {
		op, attrs = "MatMul", nil
	}
	if conv {
		op, attrs = "Conv", ir.Attrs{}
		for k, v := range n.Attrs {
			switch k {
			case "activation", "clip_min", "clip_max":
			default:
				attrs[k] = v
			}
		}
	}
	y := next(op)
	if err := e.Node(op, ins, []*ir.Value{y}, attrs); err != nil {
		return err
	}
	if bias != nil {
		sum := next("bias")
		if err := e.Node("Add", []*ir.Value{y, bias}, []*ir.Value{sum}, nil); err != nil {
			return err
		}
		y = sum
	}
	if residual != nil {
		rd, err := dq(residual, residual.Quant, "residual")
		if err != nil {
			return err
		}
		sum := next("residual")
		if err := e.Node("Add", []*ir.Value{y, rd}, []*ir.Value{sum}, nil); err != nil {
			return err
		}
		y = sum
	}
	switch act {
	case ir.ActRelu:
		r := next("relu")
		if err := e.Node("Relu", []*ir.Value{y}, []*ir.Value{r}, nil); err != nil {
			return err
		}
		y = r
	case ir.ActClip:
		clipIns := []*ir.Value{y, nil, nil}
		for i, name := range []string{"clip_min", "clip_max"} {
			if n.Attrs.Has(name) {
				clipIns[i+1] = e.Const(out.Name+"/"+name, ir.FromFloat32([]float32{n.Attrs.Float(name, 0)}))
			}
		}
		c := next("clip")
		if err := e.Node("Clip", clipIns, []*ir.Value{c}, nil); err != nil {
			return err
		}
		y = c
	}
	if out.Type.DType == ir.Float32 {
		return nil
	}
	if out.Quant == nil {
		return fmt.Errorf("output %s is %v but carries no quantization parameters", out.Name, out.Type.DType)
	}
	qins, qattrs, err := qdqParams(e, out, out.Quant, out.Type.DType)
	if err != nil {
		return err
	}
	return e.Node("QuantizeLinear", append([]*ir.Value{y}, qins...), []*ir.Value{next("quantize")}, qattrs)
}

// quantizedActivation is the activation the QDQ form writes in front of
// the output's QuantizeLinear: the weakest of none, Relu and the op's own
// that clamps to the same int8 range. QuantizeLinear saturates, so an int8
// output's activation only sets the range [lo, hi] the integers are clamped
// to (ir.QActivationRange), and any activation with the same range gives the
// same integers. Writing the weakest keeps the graph within what runtimes
// fuse exactly: ONNX Runtime (1.30, graph optimizations at extended or
// all) removes a Clip in front of a QuantizeLinear when its bounds lie
// within FLT_EPSILON (an absolute 1.19e-7) of the quantized range's, so
// with an output scale below about 9.3e-10 (128·scale under that epsilon)
// it drops a Relu6's Clip(0, 6) and lets negative values through, where
// the same range written as Relu is kept. A float output keeps its
// activation.
func quantizedActivation(act string, clipMin, clipMax float32, out *ir.Value) (string, error) {
	q := out.Quant
	if out.Type.DType != ir.Int8 || act == ir.ActNone || q == nil || len(q.Scale) != 1 || len(q.ZeroPoint) != 1 {
		return act, nil
	}
	s, z := q.Scale[0], q.ZeroPoint[0]
	lo, hi, err := ir.QActivationRange(act, clipMin, clipMax, s, z)
	if err != nil {
		return "", err
	}
	if lo == -128 && hi == 127 {
		return ir.ActNone, nil
	}
	if rlo, rhi, _ := ir.QActivationRange(ir.ActRelu, 0, 0, s, z); lo == rlo && hi == rhi {
		return ir.ActRelu, nil
	}
	return act, nil
}

// qdqParams writes the scale and zero-point constants of quantization
// parameters q for a tensor v of dtype dt, and the axis attribute a
// per-axis QuantizeLinear or DequantizeLinear needs.
func qdqParams(e Emitter, v *ir.Value, q *ir.QuantParams, dt ir.DType) ([]*ir.Value, ir.Attrs, error) {
	if len(q.Scale) == 0 || len(q.Scale) != len(q.ZeroPoint) {
		return nil, nil, fmt.Errorf("%s: %d scales and %d zero points", v.Name, len(q.Scale), len(q.ZeroPoint))
	}
	var shape []int
	var attrs ir.Attrs
	if !q.PerTensor() {
		shape = []int{len(q.Scale)}
		attrs = ir.Attrs{"axis": ir.IntAttr(int64(q.Axis))}
	} else if len(q.Scale) != 1 {
		return nil, nil, fmt.Errorf("%s: %d per-tensor scales, want 1", v.Name, len(q.Scale))
	}
	zp := ir.NewTensor(dt, shape...)
	for i, z := range q.ZeroPoint {
		switch d := zp.Data.(type) {
		case []int8:
			d[i] = int8(z)
		case []uint8:
			d[i] = uint8(z)
		case []int32:
			d[i] = z
		default:
			return nil, nil, fmt.Errorf("%s is %v, want i8, u8 or i32", v.Name, dt)
		}
	}
	s := e.Const(v.Name+"/scale", ir.FromFloat32(append([]float32(nil), q.Scale...), shape...))
	z := e.Const(v.Name+"/zero_point", zp)
	return []*ir.Value{s, z}, attrs, nil
}

// transposedWeight returns a QGemm's constant int8 weight [N,K] as the
// [K,N] matrix a MatMul reads, its per-channel quantization moved to axis
// 1 with it.
func transposedWeight(e Emitter, w *ir.Value) (*ir.Value, error) {
	if !w.IsConst() || w.Const.DType != ir.Int8 || len(w.Const.Shape) != 2 {
		return nil, fmt.Errorf("weight %s must be a 2-d int8 constant for a QGemm over a batch of rows", w.Name)
	}
	nOut, k := w.Const.Shape[0], w.Const.Shape[1]
	src, dst := w.Const.Int8s(), make([]int8, nOut*k)
	for j := 0; j < nOut; j++ {
		for i := 0; i < k; i++ {
			dst[i*nOut+j] = src[j*k+i]
		}
	}
	t := &ir.Tensor{DType: ir.Int8, Shape: []int{k, nOut}, Data: dst}
	c := e.Const(w.Name+"/kn", t)
	q := *w.Quant
	if !q.PerTensor() {
		q.Axis = 1
	}
	c.Quant = &q
	return c, nil
}

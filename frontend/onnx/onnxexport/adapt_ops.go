package onnxexport

// Adapters of the frontend op set added for issue 12 (ConstantOfShape,
// GroupNormalization, Resize); the Reduce ops share adaptReduce.

import (
	"fmt"

	"github.com/sqc-project/sqc/frontend/onnx/internal/codec"
	"github.com/sqc-project/sqc/frontend/onnx/internal/onnxpb"
	"github.com/sqc-project/sqc/ir"
)

// ConstantOfShape: the IR takes the fill value as an optional second input
// (IR attributes hold no tensors); ONNX as the tensor attribute "value",
// so it must be a constant.
func adaptConstantOfShape(w *writer, n stdNode) error {
	v := n.in(1)
	if v == nil {
		return w.emit(n.op, n.ins[:1], n.outs, n.attrs)
	}
	if !v.IsConst() || v.Const.Len() != 1 {
		return fmt.Errorf("ConstantOfShape: value input %q is not a one-element constant; ONNX takes the value as a tensor attribute", v.Name)
	}
	code, ok := codec.DTypeToONNX(v.Const.DType)
	if !ok {
		return fmt.Errorf("ConstantOfShape: value %q is %v, which has no ONNX element type", v.Name, v.Const.DType)
	}
	if err := w.emit(n.op, n.ins[:1], n.outs, n.attrs); err != nil {
		return err
	}
	node := w.gp.Node[len(w.gp.Node)-1]
	node.Attribute = append(node.Attribute, &onnxpb.AttributeProto{Name: "value", Type: onnxpb.AttributeProto_TENSOR,
		T: &onnxpb.TensorProto{DataType: code, Dims: []int64{1}, RawData: codec.RawBytes(v.Const)}})
	return nil
}

// GroupNormalization-18 scaled each group by one value, GroupNormalization-21
// (the IR's form) each channel. Before 21 the per-channel scale and bias
// must be constant and equal within each group, and are written per group.
func adaptGroupNorm(w *writer, n stdNode) error {
	if w.opset >= 21 {
		return w.emit(n.op, n.ins, n.outs, n.attrs)
	}
	g := n.attrs.Int("num_groups", 0)
	ins := append([]*ir.Value{}, n.ins...)
	for i, name := range []string{1: "scale", 2: "bias"} {
		if i == 0 {
			continue
		}
		v := n.in(i)
		if v == nil || !v.IsConst() || g < 1 || v.Const.Len()%int(g) != 0 {
			return needs(w, 21, "GroupNormalization with a computed "+name)
		}
		per := v.Const.Len() / int(g)
		vals := make([]float32, g)
		for k := range vals {
			vals[k] = float32(v.Const.AsFloat64(k * per))
			for j := 1; j < per; j++ {
				if v.Const.AsFloat64(k*per+j) != v.Const.AsFloat64(k*per) {
					return needs(w, 21, fmt.Sprintf("GroupNormalization with a %s that differs within a group", name))
				}
			}
		}
		if v.Const.DType != ir.Float32 {
			return needs(w, 21, "GroupNormalization of "+v.Const.DType.String())
		}
		ins[i] = w.Const(v.Name+"/per_group", ir.FromFloat32(vals, len(vals)))
	}
	return w.emit(n.op, ins, n.outs, n.attrs)
}

// Resize-18 added antialias, axes and keep_aspect_ratio_policy, Resize-19
// half_pixel_symmetric. Their defaults are dropped before 18; other values
// need the opset.
func adaptResize(w *writer, n stdNode) error {
	attrs := n.attrs
	if w.opset < 18 {
		if attrs.Has("axes") {
			return needs(w, 18, "Resize with axes")
		}
		if attrs.String("keep_aspect_ratio_policy", "stretch") != "stretch" {
			return needs(w, 18, "Resize with keep_aspect_ratio_policy")
		}
		attrs = n.without("antialias", "keep_aspect_ratio_policy")
	}
	if w.opset < 19 && attrs.String("coordinate_transformation_mode", "") == "half_pixel_symmetric" {
		return needs(w, 19, "Resize with half_pixel_symmetric")
	}
	return w.emit(n.op, n.ins, n.outs, attrs)
}

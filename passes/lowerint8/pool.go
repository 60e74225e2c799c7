package lowerint8

import (
	"github.com/sqc-project/sqc/ir"
)

// lowerPools turns Q(AveragePool(DQ(x))) and Q(GlobalAveragePool(DQ(x))),
// with per-tensor int8 parameters on both sides, into an int8 average: a
// depthwise QConv (group C) whose K = kh·kw weights are all 1 with the
// per-tensor scale float32(1/K). QConv's arithmetic then defines the int8
// average pool's rounding exactly:
//
//	acc = Σ (x − zx)                      int32, exact
//	y   = sat(rne(float32(acc) · M) + zy)  M = float32(float32(sx·float32(1/K)) / sy)
//
// which is the average of the dequantized inputs quantized with the output's
// parameters, up to the rounding of M (TensorRT keeps average pooling in
// int8 the same way; ONNX Runtime's QLinearAveragePool differs from it by at
// most one code on rare ties). Padding taps read zx, that is real 0, so an
// AveragePool with padding lowers only with count_include_pad = 1 (its
// divisor is then K everywhere), and ceil_mode must be 0.
func lowerPools(e *editor) (int, error) {
	count := 0
	for _, n := range append([]*ir.Node(nil), e.g.Nodes...) {
		if e.removed[n] || (n.Op != "AveragePool" && n.Op != "GlobalAveragePool") || len(n.Outputs) != 1 {
			continue
		}
		d, px := e.dqParams(n.Inputs[0])
		if d == nil || px.dt != ir.Int8 {
			continue
		}
		q := e.soleUser(n.Outputs[0])
		if q == nil || q.Op != "QuantizeLinear" || e.g.IsOutput(q.Outputs[0]) {
			continue
		}
		py := nodeParams(q)
		if py == nil || !py.perTensor() || py.dt != ir.Int8 {
			continue
		}
		shape := n.Inputs[0].Type.Shape
		if shape.Rank() != 4 || !shape[1].Known() || !shape[2].Known() || !shape[3].Known() {
			continue
		}
		c := int(shape[1].Size)
		attrs := ir.Attrs{"group": ir.IntAttr(int64(c))}
		var kh, kw int
		if n.Op == "GlobalAveragePool" {
			kh, kw = int(shape[2].Size), int(shape[3].Size)
		} else {
			ks := n.Attrs.Ints("kernel_shape")
			if len(ks) != 2 || n.Attrs.Int("ceil_mode", 0) != 0 || n.Attrs.String("auto_pad", "NOTSET") != "NOTSET" {
				continue
			}
			padded := false
			for _, p := range n.Attrs.Ints("pads") {
				padded = padded || p != 0
			}
			if padded && n.Attrs.Int("count_include_pad", 0) != 1 {
				continue
			}
			kh, kw = int(ks[0]), int(ks[1])
			for _, k := range []string{"strides", "pads", "dilations"} {
				if a, ok := n.Attrs[k]; ok {
					attrs[k] = a
				}
			}
		}
		attrs["kernel_shape"] = ir.IntsAttr(int64(kh), int64(kw))
		k := kh * kw
		ones := ir.NewTensor(ir.Int8, c, 1, kh, kw)
		for i := range ones.Int8s() {
			ones.Int8s()[i] = 1
		}
		sw := float32(1 / float64(k))
		w := e.constant(n.Name+".ones", ones)
		w.Quant = &ir.QuantParams{Scale: []float32{sw}, ZeroPoint: []int32{0}, Axis: -1}
		sws := make([]float32, c)
		for i := range sws {
			sws[i] = sw
		}
		m := e.constant(n.Name+".multiplier", ir.FromFloat32(ir.QOutputMultipliers(px.scale[0], sws, c, py.scale[0]), c))
		x := d.Inputs[0]
		if x.Quant == nil {
			x.Quant = px.quant()
		} else if !x.Quant.Equal(px.quant()) {
			continue
		}
		out := q.Outputs[0]
		out.Quant = py.quant()
		name, notes := n.Name, n.Notes
		e.remove(q)
		e.remove(n)
		f := e.add(name, "QConv", []*ir.Value{x, w, m}, []*ir.Value{out}, attrs)
		for key, v := range notes {
			f.Note(key, v)
		}
		f.Note("int8", "int8 average pool: a depthwise QConv with weights 1 of scale 1/K")
		count++
	}
	return count, nil
}

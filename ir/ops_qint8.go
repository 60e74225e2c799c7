package ir

// sqc's own quantized ops, QConv and QGemm: an INT8 convolution or matrix
// product with its whole epilogue (int32 bias, per-output-channel
// requantization, an optional int8 residual with its own scale, an optional
// activation) in one node, which the lower-int8 pass forms from Q/DQ
// patterns and which the GPU backend runs as one Tensor Core kernel.
//
// Inputs, in order: X (or A), W, M, and the optional B, R and MR. The
// quantization parameters are not inputs: they live on the values, as
// ir.Value.Quant. X (and R) are int8 per tensor {s, z}; W is an int8
// constant quantized symmetrically (zero points 0) per output channel (axis
// 0) or per tensor; the output is int8 per tensor {sy, zy} when its value
// carries Quant, and float32 when it carries none (a layer whose result
// leaves the quantized region, a classifier's logits). What the epilogue
// multiplies by is an input, M, computed once at compile time, so that the
// reference executor and the GPU read the same float32 bits:
//
//	M[k]  = float32(float32(sx·sw[k]) / sy)     (int8 output)
//	M[k]  = float32(sx·sw[k])                   (float32 output)
//	MR    = float32(sr / sy)  or  sr            (the residual's multiplier)
//
// The schemas check that M and MR agree with the values' Quant, so a pass
// that changes a scale without the multiplier breaks verification, not
// accuracy. The exact arithmetic (ir/ref/qint8.go implements it, the GPU
// must match it bit for bit) is, per output element of channel k:
//
//	acc = Σ (x − zx)·w + B[k]                   int32, exact (wraps like s32)
//	y   = float32(acc) · M[k]                   one float32 multiply, rounded
//	y   = y + float32(r − zr) · MR              if R: product rounded, then sum rounded (no FMA)
//	q   = sat(rne(y) + zy)  to [lo, hi]         int8 output
//
// where rne rounds half to even and [lo, hi] is [−128, 127] narrowed by the
// activation: relu raises lo to zy (the code of real 0), clip narrows it to
// [Q(clip_min), Q(clip_max)] with Q the QuantizeLinear of the bound
// (sat(rne(bound / sy) + zy), one float32 division). Because quantization
// is monotone, Q(relu(v)) = max(Q(v), zy) and Q(clip(v)) = clamp(Q(v),
// Q(min), Q(max)): the activation in the quantized domain is exactly the
// float activation followed by QuantizeLinear. With a float32 output the
// activation is applied to y itself (max(y, 0), min(max(y, clip_min),
// clip_max)). Without R and activation, QConv is bit for bit ONNX's
// QLinearConv with the same scales, zero points and bias.

import (
	"fmt"
	"math"
)

func init() {
	convAttrs := map[string]AttrKind{}
	for k, v := range nnConvAttrs {
		convAttrs[k] = v
	}
	gemmAttrs := map[string]AttrKind{}
	for k, v := range fusedActAttrs {
		convAttrs[k] = v
		gemmAttrs[k] = v
	}
	Register(&OpSchema{Name: "QConv",
		Doc: "int8 convolution with fused requantization: inputs X (i8, N×C×D1…, per-tensor quant), " +
			"W (i8 M×C/group×K1…, symmetric per-channel or per-tensor quant), M (f32 [M] multipliers), " +
			"optional B (i32 [M], scale sx·sw[k]), optional R (i8 residual of the output's shape, per-tensor quant) and MR (f32 scalar); " +
			"acc = Σ(x−zx)·w + B in int32; y = float32(acc)·M[k] [+ float32(r−zr)·MR], each operation rounded to nearest even " +
			"(no fused multiply-add); output i8 = sat(rne(y)+zy) clamped by the activation (relu: at zy; clip: at the quantized bounds) " +
			"when the output value has quant, else f32 y after the activation",
		MinInputs: 3, MaxInputs: 6, MinOutputs: 1, MaxOutputs: 1,
		Attrs: convAttrs, Infer: inferQConv})
	Register(&OpSchema{Name: "QGemm",
		Doc: "int8 matrix product with fused requantization: inputs A (i8 [M,K], or [...,K] of rank 3 or more: a batch of rows, " +
			"per-tensor quant), W (i8 [N,K], " +
			"output channels first, symmetric per-channel or per-tensor quant), M (f32 [N] multipliers), optional B (i32 [N]), " +
			"optional R (i8 of the output's shape, per-tensor quant) and MR (f32 scalar); Y is A's shape with K replaced by N, " +
			"each row i of A (all dims but the last flattened) giving Y[i,j] = act(float32(Σk (a[i,k]−za)·w[j,k] + B[j])·M[j] " +
			"[+ float32(r−zr)·MR]) with QConv's exact arithmetic, i8 when the output value has quant, else f32",
		MinInputs: 3, MaxInputs: 6, MinOutputs: 1, MaxOutputs: 1,
		Attrs: gemmAttrs, Infer: inferQGemm})
}

// QMultiplier returns the requantization multiplier of an int8 output:
// float32(float32(sx·sw) / sy), each operation rounded to float32 in that
// order (ONNX Runtime's QLinearConv computes it so; ir/ref's
// RequantMultiplier is the same function).
func QMultiplier(sx, sw, sy float32) float32 {
	return float32(float32(sx*sw) / sy)
}

// QResidualMultiplier returns the multiplier of a residual quantized with
// scale sr added to an int8 output of scale sy: float32(sr / sy).
func QResidualMultiplier(sr, sy float32) float32 { return float32(sr / sy) }

// QOutputMultipliers returns the M input of a QConv or QGemm: one multiplier
// per output channel for input scale sx, weight scales sw (one, or one per
// channel) and output scale sy; sy = 0 selects a float32 output, whose
// multiplier is float32(sx·sw[k]).
func QOutputMultipliers(sx float32, sw []float32, channels int, sy float32) []float32 {
	m := make([]float32, channels)
	for k := range m {
		s := sw[min(k, len(sw)-1)]
		if sy == 0 {
			m[k] = float32(sx * s)
		} else {
			m[k] = QMultiplier(sx, s, sy)
		}
	}
	return m
}

// qOpQuant returns the Quant of node input or output v (nil when v is nil).
func qOpQuant(v *Value) *QuantParams {
	if v == nil {
		return nil
	}
	return v.Quant
}

// qPerTensor checks that value v (input name what) is int8 and carries
// per-tensor quantization parameters with a zero point in int8's range.
func qPerTensor(c *InferContext, i int, what string) (*QuantParams, error) {
	if t := c.In[i].DType; t != Int8 {
		return nil, c.Errorf("%s is %v, want i8", what, t)
	}
	q := qOpQuant(c.Node.Input(i))
	if q == nil {
		return nil, c.Errorf("%s carries no quantization parameters, want a per-tensor scale and zero point", what)
	}
	if !q.PerTensor() || len(q.Scale) != 1 || len(q.ZeroPoint) != 1 {
		return nil, c.Errorf("%s is quantized with %d scales along axis %d, want one per-tensor scale", what, len(q.Scale), q.Axis)
	}
	if z := q.ZeroPoint[0]; z < -128 || z > 127 {
		return nil, c.Errorf("%s has zero point %d, want -128..127", what, z)
	}
	return q, nil
}

// qWeightScales checks the weight input 1 (int8, symmetric, per tensor or per
// output channel along axis 0 of channels entries) and returns its scales.
func qWeightScales(c *InferContext, channels Dim) ([]float32, error) {
	if t := c.In[1].DType; t != Int8 {
		return nil, c.Errorf("weight W is %v, want i8", t)
	}
	q := qOpQuant(c.Node.Input(1))
	if q == nil {
		return nil, c.Errorf("weight W carries no quantization parameters, want symmetric per-channel (axis 0) or per-tensor scales")
	}
	for _, z := range q.ZeroPoint {
		if z != 0 {
			return nil, c.Errorf("weight W has zero point %d, want 0 (symmetric quantization)", z)
		}
	}
	switch {
	case q.PerTensor():
		if len(q.Scale) != 1 {
			return nil, c.Errorf("weight W has %d per-tensor scales, want 1", len(q.Scale))
		}
	case q.Axis != 0:
		return nil, c.Errorf("weight W is quantized along axis %d, want 0 (the output channels) or per tensor", q.Axis)
	case channels.Known() && int64(len(q.Scale)) != channels.Size:
		return nil, c.Errorf("weight W has %d scales, want %d (one per output channel)", len(q.Scale), channels.Size)
	}
	return q.Scale, nil
}

// qEpilogue checks the inputs every quantized op shares, M (2), B (3), R (4)
// and MR (5), against the output type out (whose channel dim is
// out.Shape[chAxis]) and the input and weight scales, and returns the
// output dtype: i8 when the output value carries Quant, f32 otherwise.
func qEpilogue(c *InferContext, out Shape, chAxis int, sx float32, sw []float32) (DType, error) {
	act, lo, hi, err := FusedActivation(c.Attrs())
	if err != nil {
		return InvalidDType, c.Errorf("%v", err)
	}
	channels := out[chAxis]
	if c.Has(3) {
		b := c.In[3]
		if b.DType != Int32 {
			return InvalidDType, c.Errorf("bias B is %v, want i32 (in units of sx·sw[k])", b.DType)
		}
		if b.Shape.Rank() != 1 || (b.Shape[0].Known() && channels.Known() && b.Shape[0].Size != channels.Size) {
			return InvalidDType, c.Errorf("bias B has shape %v, want [%v] (one per output channel)", b.Shape, channels)
		}
	}
	mt := c.In[2]
	if mt.DType != Float32 || mt.Shape.Rank() != 1 || (mt.Shape[0].Known() && channels.Known() && mt.Shape[0].Size != channels.Size) {
		return InvalidDType, c.Errorf("multiplier M is %v, want f32[%v] (one per output channel)", mt, channels)
	}
	outDT := Float32
	var sy float32
	yq := qOpQuant(c.Node.Outputs[0])
	if yq != nil {
		if !yq.PerTensor() || len(yq.Scale) != 1 || len(yq.ZeroPoint) != 1 {
			return InvalidDType, c.Errorf("output is quantized with %d scales along axis %d, want one per-tensor scale", len(yq.Scale), yq.Axis)
		}
		if z := yq.ZeroPoint[0]; z < -128 || z > 127 {
			return InvalidDType, c.Errorf("output has zero point %d, want -128..127", z)
		}
		outDT, sy = Int8, yq.Scale[0]
		if act == ActClip && lo > hi {
			return InvalidDType, c.Errorf("clip bounds [%v, %v] are empty", lo, hi)
		}
	}
	if m := c.Const(2); m != nil && channels.Known() && len(sw) > 0 && sx > 0 && (sy > 0 || outDT == Float32) {
		want := QOutputMultipliers(sx, sw, int(channels.Size), sy)
		got, ok := m.Data.([]float32)
		if ok && len(got) == len(want) {
			for k := range want {
				if got[k] != want[k] {
					return InvalidDType, c.Errorf("multiplier M[%d] is %v, want %v from the scales (sx %v, sw %v, sy %v)", k, got[k], want[k], sx, sw[min(k, len(sw)-1)], sy)
				}
			}
		}
	}
	hasR, hasMR := c.Has(4), c.Has(5)
	if hasR != hasMR {
		return InvalidDType, c.Errorf("residual R and its multiplier MR must come together")
	}
	if hasR {
		rq, err := qPerTensor(c, 4, "residual R")
		if err != nil {
			return InvalidDType, err
		}
		r := c.In[4]
		if r.Shape.Rank() != out.Rank() {
			return InvalidDType, c.Errorf("residual R has shape %v, want the output's shape %v (no broadcasting)", r.Shape, out)
		}
		for k, d := range r.Shape {
			o := out[k]
			if (d.Known() && o.Known() && d.Size != o.Size) || (d.Sym != "" && o.Sym != "" && d.Sym != o.Sym) {
				return InvalidDType, c.Errorf("residual R has shape %v, want the output's shape %v (no broadcasting)", r.Shape, out)
			}
		}
		mr := c.In[5]
		if mr.DType != Float32 || mr.Shape.NumElements() != 1 || mr.Shape.Rank() > 1 {
			return InvalidDType, c.Errorf("residual multiplier MR is %v, want an f32 scalar", mr)
		}
		if m := c.Const(5); m != nil {
			want := rq.Scale[0]
			if outDT == Int8 {
				want = QResidualMultiplier(rq.Scale[0], sy)
			}
			if got := m.Data.([]float32)[0]; got != want {
				return InvalidDType, c.Errorf("residual multiplier MR is %v, want %v from the scales (sr %v, sy %v)", got, want, rq.Scale[0], sy)
			}
		}
	}
	return outDT, nil
}

func inferQConv(c *InferContext) error {
	xq, err := qPerTensor(c, 0, "input X")
	if err != nil {
		return err
	}
	out, err := InferConvShape(c, c.In[0].Shape, c.In[1].Shape)
	if err != nil {
		return err
	}
	sw, err := qWeightScales(c, out[1])
	if err != nil {
		return err
	}
	dt, err := qEpilogue(c, out, 1, xq.Scale[0], sw)
	if err != nil {
		return err
	}
	c.SetOut(0, Type{DType: dt, Shape: out})
	return nil
}

func inferQGemm(c *InferContext) error {
	aq, err := qPerTensor(c, 0, "input A")
	if err != nil {
		return err
	}
	a, w := c.In[0].Shape, c.In[1].Shape
	if a.Rank() < 2 {
		return c.Errorf("input A has shape %v, want a matrix [M,K] or a batch of rows [...,K] (rank 2 or more)", a)
	}
	if w.Rank() != 2 {
		return c.Errorf("weight W has shape %v, want a 2-d matrix [N,K] (output channels first)", w)
	}
	k := a[a.Rank()-1]
	if k.Known() && w[1].Known() && k.Size != w[1].Size {
		return c.Errorf("A is %v and W %v: inner dims differ (W is [N,K])", a, w)
	}
	// The leading dims of A only count rows: Y is A's shape with K replaced
	// by N, and each row is computed exactly as a row of the 2-d product.
	out := append(a[:a.Rank()-1:a.Rank()-1], w[0])
	sw, err := qWeightScales(c, w[0])
	if err != nil {
		return err
	}
	dt, err := qEpilogue(c, out, out.Rank()-1, aq.Scale[0], sw)
	if err != nil {
		return err
	}
	c.SetOut(0, Type{DType: dt, Shape: out})
	return nil
}

// QActivationRange returns the integer range [lo, hi] an int8 output of a
// QConv or QGemm is clamped to: [−128, 127] narrowed by the activation
// (relu: lo = zy; clip: the QuantizeLinear of each bound, sat(rne(b / sy) +
// zy)). The reference kernels and the backend both use it.
func QActivationRange(act string, clipMin, clipMax, sy float32, zy int32) (lo, hi int32, err error) {
	lo, hi = -128, 127
	switch act {
	case ActNone:
	case ActRelu:
		lo = max(lo, zy)
	case ActClip:
		lo = max(lo, qQuantizeBound(clipMin, sy, zy))
		hi = min(hi, qQuantizeBound(clipMax, sy, zy))
	default:
		return 0, 0, fmt.Errorf("activation %q: want %q, %q or %q", act, ActNone, ActRelu, ActClip)
	}
	return lo, hi, nil
}

// qQuantizeBound is QuantizeLinear of one float32 to int8: sat(rne(b / s) +
// z), with ±inf saturating.
func qQuantizeBound(b, s float32, z int32) int32 {
	v := float64(b / s)
	r := math.RoundToEven(v)
	r += float64(z)
	switch {
	case r != r:
		return z
	case r <= -128:
		return -128
	case r >= 127:
		return 127
	}
	return int32(r)
}

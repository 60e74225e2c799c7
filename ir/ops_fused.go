package ir

// sqc's own fused ops: a convolution or a Gemm together with its epilogue
// (bias, an optional residual addition and an optional activation), which
// the fuse-epilogue pass forms from ONNX op chains so that the backend runs
// each as one kernel: the epilogue is applied to the accumulators in
// registers instead of making three more round trips through memory.
//
// Their exact arithmetic is defined by the reference kernels in ir/ref
// (fused.go): the convolution or Gemm is computed exactly as the Conv or
// Gemm kernel computes it (bias included), then, in one pass over the
// output, Y = act(Y + R). So a fused node computes bit for bit what the
// unfused chain Conv → Add → Relu computes in float32.

import (
	"fmt"
	"math"
)

// The activations a fused op can apply, the values of its activation
// attribute.
const (
	// ActNone applies no activation: Y = acc + R.
	ActNone = "none"
	// ActRelu is max(y, 0) (NaN stays NaN, as Relu's reference does).
	ActRelu = "relu"
	// ActClip is min(max(y, clip_min), clip_max), ONNX Clip's rule: an
	// absent clip_min is −inf, an absent clip_max +inf, clip_min > clip_max
	// gives clip_max everywhere, NaN stays NaN. Relu6 is clip 0..6.
	ActClip = "clip"
)

// fusedActAttrs are the epilogue attributes both fused ops accept.
var fusedActAttrs = map[string]AttrKind{"activation": AttrString, "clip_min": AttrFloat, "clip_max": AttrFloat}

func init() {
	convAttrs := map[string]AttrKind{}
	for k, v := range nnConvAttrs {
		convAttrs[k] = v
	}
	gemmAttrs := map[string]AttrKind{"alpha": AttrFloat, "beta": AttrFloat, "transA": AttrInt, "transB": AttrInt}
	for k, v := range fusedActAttrs {
		convAttrs[k] = v
		gemmAttrs[k] = v
	}
	Register(&OpSchema{Name: "FusedConv",
		Doc: "act(conv(X, W) + B + R): Conv of X (N×C×D1…) with W (M×C/group×K1…) and optional bias B (M), " +
			"plus an optional residual R of the output's exact shape, then activation " +
			"none | relu (max(y, 0)) | clip (min(max(y, clip_min), clip_max)); computed in float32, " +
			"the convolution exactly as Conv computes it, then the residual added, then the activation",
		MinInputs: 2, MaxInputs: 4, MinOutputs: 1, MaxOutputs: 1,
		Attrs: convAttrs, Infer: inferFusedConv})
	Register(&OpSchema{Name: "FusedGemm",
		Doc: "act(alpha·op(A)·op(B) + beta·C + R): Gemm of 2-d A and B (transposed when transA/transB) with " +
			"optional C broadcast to the result, plus an optional residual R of the result's exact shape, then " +
			"activation none | relu (max(y, 0)) | clip (min(max(y, clip_min), clip_max)); float types only, " +
			"the product exactly as Gemm computes it, then the residual added, then the activation",
		MinInputs: 2, MaxInputs: 4, MinOutputs: 1, MaxOutputs: 1,
		Attrs: gemmAttrs, Infer: inferFusedGemm})
}

// FusedActivation reads and checks the epilogue attributes of a fused node:
// the activation's name and, for ActClip, its bounds (−inf and +inf when
// absent). The schemas and the kernels both use it, so the two agree on
// what the attributes mean.
func FusedActivation(a Attrs) (act string, lo, hi float32, err error) {
	act = a.String("activation", ActNone)
	lo, hi = float32(math.Inf(-1)), float32(math.Inf(1))
	switch act {
	case ActNone, ActRelu:
		for _, name := range []string{"clip_min", "clip_max"} {
			if a.Has(name) {
				return "", 0, 0, fmt.Errorf("attribute %s is set with activation %q, want activation %q", name, act, ActClip)
			}
		}
	case ActClip:
		lo = a.Float("clip_min", lo)
		hi = a.Float("clip_max", hi)
		if lo != lo || hi != hi {
			return "", 0, 0, fmt.Errorf("clip bounds [%v, %v] hold NaN, want numbers", lo, hi)
		}
	default:
		return "", 0, 0, fmt.Errorf("activation %q: want %q, %q or %q", act, ActNone, ActRelu, ActClip)
	}
	return act, lo, hi, nil
}

// fusedResidual checks the optional residual input i against the output
// type: the same dtype and exactly the same shape (the fused kernel adds
// it element by element; it never broadcasts). Dims that are unknown on
// either side are left to the run-time check.
func fusedResidual(c *InferContext, i int, out Type) error {
	if !c.Has(i) {
		return nil
	}
	r := c.In[i]
	if r.DType != out.DType {
		return c.Errorf("residual R is %v, want %v like the output", r.DType, out.DType)
	}
	if r.Shape.Rank() != out.Shape.Rank() {
		return c.Errorf("residual R has shape %v, want the output's shape %v (no broadcasting)", r.Shape, out.Shape)
	}
	for k, d := range r.Shape {
		o := out.Shape[k]
		if (d.Known() && o.Known() && d.Size != o.Size) || (d.Sym != "" && o.Sym != "" && d.Sym != o.Sym) {
			return c.Errorf("residual R has shape %v, want the output's shape %v (no broadcasting)", r.Shape, out.Shape)
		}
	}
	return nil
}

func inferFusedConv(c *InferContext) error {
	if _, _, _, err := FusedActivation(c.Attrs()); err != nil {
		return c.Errorf("%v", err)
	}
	// Conv's rule reads inputs 0 to 2 only; the residual is checked here.
	if err := inferConv(c); err != nil {
		return err
	}
	return fusedResidual(c, 3, c.Out[0])
}

func inferFusedGemm(c *InferContext) error {
	if _, _, _, err := FusedActivation(c.Attrs()); err != nil {
		return c.Errorf("%v", err)
	}
	if d := c.In[0].DType; !d.IsFloat() {
		return c.Errorf("A is %v, want a float type", d)
	}
	if err := inferGemm(c); err != nil {
		return err
	}
	return fusedResidual(c, 3, c.Out[0])
}

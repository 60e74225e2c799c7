package ir

// Resize, with ONNX semantics at opset 19: inputs X, optional roi, scales
// and sizes (an empty scales or sizes tensor counts as absent, as opset 11
// writes them); attributes axes, coordinate_transformation_mode, cubic_coeff_a,
// exclude_outside, extrapolation_value, keep_aspect_ratio_policy, mode and
// nearest_mode. Antialiasing (opset 18's antialias=1) is not supported. The
// frontend lowers Resize-10 and Upsample into this form. Its arithmetic is in
// package ir/ref (resize.go).

import (
	"fmt"
	"math"
)

func init() {
	Register(&OpSchema{Name: "Resize",
		Doc:       "resizes X by scales or to sizes along axes (all by default) by nearest, linear or cubic interpolation",
		MinInputs: 1, MaxInputs: 4, MinOutputs: 1, MaxOutputs: 1,
		Attrs: map[string]AttrKind{
			"antialias": AttrInt, "axes": AttrInts, "coordinate_transformation_mode": AttrString,
			"cubic_coeff_a": AttrFloat, "exclude_outside": AttrInt, "extrapolation_value": AttrFloat,
			"keep_aspect_ratio_policy": AttrString, "mode": AttrString, "nearest_mode": AttrString,
		},
		Infer: inferResize})
}

// ResizeAxis is how Resize treats one dim of its input: the output size and
// the scale (output over input) its coordinate transformation divides by.
type ResizeAxis struct {
	Out   int64
	Scale float64
}

// CheckResizeAttrs checks Resize's string attributes and antialias.
func CheckResizeAttrs(a Attrs) error {
	checks := []struct {
		name, def string
		allowed   []string
	}{
		{"mode", "nearest", []string{"nearest", "linear", "cubic"}},
		{"coordinate_transformation_mode", "half_pixel", []string{"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"}},
		{"nearest_mode", "round_prefer_floor", []string{"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}},
		{"keep_aspect_ratio_policy", "stretch", []string{"stretch", "not_larger", "not_smaller"}},
	}
	for _, c := range checks {
		v := a.String(c.name, c.def)
		ok := false
		for _, w := range c.allowed {
			ok = ok || v == w
		}
		if !ok {
			return fmt.Errorf("attribute %s is %q, want one of %v", c.name, v, c.allowed)
		}
	}
	if a.Int("antialias", 0) != 0 {
		return fmt.Errorf("attribute antialias is 1: antialiased resizing is not supported, want 0")
	}
	return nil
}

// ResolveResize returns, for every dim of an input of the given shape, its
// output size and scale, from the values of scales or sizes (nil or empty
// when absent) and the axes and keep_aspect_ratio_policy attributes. Dims
// the axes do not list keep their size with scale 1.
func ResolveResize(in []int, scales []float64, sizes []int64, a Attrs) ([]ResizeAxis, error) {
	r := len(in)
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	if a.Has("axes") {
		var err error
		if axes, err = tNormAxes(a.Ints("axes"), r); err != nil {
			return nil, fmt.Errorf("attribute axes: %v", err)
		}
	}
	res := make([]ResizeAxis, r)
	for i, d := range in {
		res[i] = ResizeAxis{Out: int64(d), Scale: 1}
	}
	switch {
	case len(scales) > 0 && len(sizes) > 0:
		return nil, fmt.Errorf("both scales and sizes are given, want one of them")
	case len(scales) > 0:
		if len(scales) != len(axes) {
			return nil, fmt.Errorf("scales has %d values, want %d (one per resized axis)", len(scales), len(axes))
		}
		for i, ax := range axes {
			s := scales[i]
			if !(s > 0) || math.IsInf(s, 0) {
				return nil, fmt.Errorf("scales[%d] is %v, want a finite value > 0", i, s)
			}
			res[ax] = ResizeAxis{Out: int64(math.Floor(float64(in[ax]) * s)), Scale: s}
		}
	case len(sizes) > 0:
		if len(sizes) != len(axes) {
			return nil, fmt.Errorf("sizes has %d values, want %d (one per resized axis)", len(sizes), len(axes))
		}
		policy := a.String("keep_aspect_ratio_policy", "stretch")
		common := 0.0
		for i, ax := range axes {
			if sizes[i] < 0 {
				return nil, fmt.Errorf("sizes[%d] is %d, want a size >= 0", i, sizes[i])
			}
			s := float64(sizes[i]) / float64(in[ax])
			switch {
			case i == 0:
				common = s
			case policy == "not_larger":
				common = min(common, s)
			case policy == "not_smaller":
				common = max(common, s)
			}
		}
		for i, ax := range axes {
			out, scale := sizes[i], float64(sizes[i])/float64(in[ax])
			if policy != "stretch" {
				// Every axis takes the common scale, for its size and for
				// the coordinate transformation alike.
				out, scale = int64(math.Round(common*float64(in[ax]))), common
			}
			res[ax] = ResizeAxis{Out: out, Scale: scale}
		}
	default:
		return nil, fmt.Errorf("neither scales nor sizes is given, want one of them")
	}
	return res, nil
}

// resizeFloats returns the known value of float input i, or nil.
func resizeFloats(c *InferContext, i int) ([]float64, bool) {
	if !c.Has(i) {
		return nil, true
	}
	t := c.Const(i)
	if t == nil {
		return nil, c.In[i].Shape.NumElements() == 0
	}
	v := make([]float64, t.Len())
	for k := range v {
		v[k] = t.AsFloat64(k)
	}
	return v, true
}

func inferResize(c *InferContext) error {
	x := c.In[0]
	if err := CheckResizeAttrs(c.Attrs()); err != nil {
		return c.Errorf("%v", err)
	}
	if c.Has(2) && !c.In[2].DType.IsFloat() {
		return c.Errorf("input scales is %v, want f32", c.In[2].DType)
	}
	if c.Has(3) {
		if err := tCheckIndexInput(c, 3, "sizes", false); err != nil {
			return err
		}
	}
	scales, scalesKnown := resizeFloats(c, 2)
	var sizes []int64
	sizesKnown := true
	if c.Has(3) {
		sizes, sizesKnown = tConstInts(c, 3)
		if !sizesKnown && c.In[3].Shape.NumElements() == 0 {
			sizes, sizesKnown = nil, true
		}
	}
	sizeDims := c.shapeValueOf(3)
	dims, static := x.Shape.Ints()
	if !scalesKnown || !sizesKnown || !static {
		// Some dims, or the scales or sizes, are not known here: each
		// resized axis gets what can be told of it, the others keep theirs.
		out := x.Shape.Clone()
		axes := make([]int, len(out))
		for i := range axes {
			axes[i] = i
		}
		if c.Attrs().Has("axes") {
			ax, err := tNormAxes(c.Attrs().Ints("axes"), len(out))
			if err != nil {
				return c.Errorf("attribute axes: %v", err)
			}
			axes = ax
		}
		stretch := c.Attrs().String("keep_aspect_ratio_policy", "stretch") == "stretch"
		for k, i := range axes {
			switch {
			case scalesKnown && len(scales) == len(axes) && scales[k] == 1:
			case scalesKnown && len(scales) == len(axes) && out[i].Known():
				out[i] = D(int64(math.Floor(float64(out[i].Size) * scales[k])))
			case sizesKnown && len(sizes) == len(axes) && stretch:
				out[i] = D(sizes[k])
			case !sizesKnown && len(sizeDims) == len(axes) && stretch:
				// Sizes computed from shapes: their dims, sizes or symbols.
				out[i] = shapeFromValue(sizeDims)[k]
			default:
				out[i] = UnknownDim
			}
		}
		c.SetOut(0, Type{DType: x.DType, Shape: out})
		return nil
	}
	axes, err := ResolveResize(dims, scales, sizes, c.Attrs())
	if err != nil {
		return c.Errorf("%v (input X %v)", err, x.Shape)
	}
	out := make(Shape, len(axes))
	for i, a := range axes {
		out[i] = D(a.Out)
	}
	c.SetOut(0, Type{DType: x.DType, Shape: out})
	return nil
}

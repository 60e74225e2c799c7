package ir

// Relayout, sqc's own op for changing a value's physical memory order.
//
// Shapes in the IR are always logical (N×C×H×W for an activation): the
// Layout of a value's type only tells the backend how to store it. The
// assign-layout pass (passes/layout) marks the activations of the
// convolutional part of a model NHWC, and where such a value meets an op that
// reads memory order (Reshape, Flatten, a graph output ...) it inserts a
// Relayout to the default layout. Relayout is therefore the identity on the
// logical values, and its reference kernel (ir/ref/layout.go) is a copy; on
// the GPU it is a transpose of the stored data.

import "fmt"

func init() {
	Register(&OpSchema{Name: "Relayout",
		Doc: "the input unchanged, stored in the layout named by attribute to " +
			"(\"\" is row-major logical order; otherwise one distinct letter per dim, as NHWC or OHWI)",
		MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
		Attrs: map[string]AttrKind{"to": AttrString},
		Infer: inferRelayout})
}

// CheckLayout reports whether layout l can describe a value of the given
// rank: the default layout "" always can; any other layout names each dim
// once, with one distinct upper-case letter per dim ("NHWC" for rank 4).
func CheckLayout(l Layout, rank int) error {
	if l == "" {
		return nil
	}
	if len(l) != rank {
		return fmt.Errorf("layout %q has %d letters, want %d (one per dim)", l, len(l), rank)
	}
	seen := map[rune]bool{}
	for _, r := range l {
		if r < 'A' || r > 'Z' {
			return fmt.Errorf("layout %q: %q is not an upper-case letter", l, r)
		}
		if seen[r] {
			return fmt.Errorf("layout %q names dim %c twice", l, r)
		}
		seen[r] = true
	}
	return nil
}

// inferRelayout gives the output the input's dtype and shape and the layout
// of attribute to, which must be present (a Relayout without a target says
// nothing) and fit the input's rank.
func inferRelayout(c *InferContext) error {
	a, ok := c.Attrs()["to"]
	if !ok {
		return c.Errorf("attribute to is missing, want the output layout (\"\" for row-major)")
	}
	x := c.In[0]
	if x.DType == InvalidDType {
		return c.Errorf("input has no dtype, want an inferred type")
	}
	to := Layout(a.String)
	if err := CheckLayout(to, x.Shape.Rank()); err != nil {
		return c.Errorf("attribute to: %v for input of shape %v", err, x.Shape)
	}
	c.SetOut(0, Type{DType: x.DType, Shape: x.Shape.Clone(), Layout: to})
	return nil
}

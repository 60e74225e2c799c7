package ir

// Elementwise and activation ops: the binary arithmetic ops with numpy
// broadcasting, PRelu, the unary activations, Clip, and Softmax/LogSoftmax,
// with ONNX semantics at the newest opset.
//
// The schemas check the ONNX type constraints (Add on bool is rejected here,
// not in a kernel) because the reference kernels and the backend both rely on
// them; their exact arithmetic is defined by the kernels in package ir/ref
// (elementwise.go, elementwise_unary.go, elementwise_softmax.go).

import "fmt"

func init() {
	for _, op := range []struct{ name, doc string }{
		{"Add", "elementwise sum with numpy broadcasting"},
		{"Sub", "elementwise difference with numpy broadcasting"},
		{"Mul", "elementwise product with numpy broadcasting"},
		{"Div", "elementwise quotient with numpy broadcasting (integer division truncates toward zero)"},
	} {
		Register(&OpSchema{Name: op.name, Doc: op.doc, MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1, Infer: inferBinarySameType})
	}
	Register(&OpSchema{Name: "PRelu", Doc: "x where x >= 0, else slope*x, slope broadcast to x (unidirectionally)",
		MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1, Infer: inferPRelu})

	unary := []struct {
		name, doc string
		attrs     map[string]AttrKind
		ok        func(DType) bool
		want      string
	}{
		{"Relu", "max(x, 0)", nil, ewReluType, "a float type or a signed integer type"},
		{"LeakyRelu", "x where x >= 0, else alpha*x (alpha default 0.01)", map[string]AttrKind{"alpha": AttrFloat}, DType.IsFloat, "a float type"},
		{"Sigmoid", "1 / (1 + exp(-x))", nil, DType.IsFloat, "a float type"},
		{"HardSigmoid", "max(0, min(1, alpha*x + beta)) (alpha 0.2, beta 0.5)", map[string]AttrKind{"alpha": AttrFloat, "beta": AttrFloat}, DType.IsFloat, "a float type"},
		{"HardSwish", "x * max(0, min(1, x/6 + 1/2))", nil, DType.IsFloat, "a float type"},
		{"Tanh", "hyperbolic tangent", nil, DType.IsFloat, "a float type"},
		{"Identity", "the input unchanged", nil, nil, ""},
	}
	for _, op := range unary {
		infer := inferSameAsInput0
		if op.ok != nil {
			ok, want := op.ok, op.want
			infer = func(c *InferContext) error {
				if err := ewCheckDType(c, 0, "input X", ok, want); err != nil {
					return err
				}
				return inferSameAsInput0(c)
			}
		}
		Register(&OpSchema{Name: op.name, Doc: op.doc, MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1, Attrs: op.attrs, Infer: infer})
	}
	Register(&OpSchema{Name: "Clip", Doc: "min(max(x, min), max); min and max are optional scalar inputs of x's dtype (min > max gives max)",
		MinInputs: 1, MaxInputs: 3, MinOutputs: 1, MaxOutputs: 1, Infer: inferClip})
	Register(&OpSchema{Name: "Softmax", Doc: "exp(x) / sum(exp(x)) along axis (default -1), computed stably",
		MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1, Attrs: map[string]AttrKind{"axis": AttrInt}, Infer: inferSoftmax})
	Register(&OpSchema{Name: "LogSoftmax", Doc: "x - log(sum(exp(x))) along axis (default -1), computed stably",
		MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1, Attrs: map[string]AttrKind{"axis": AttrInt}, Infer: inferSoftmax})
}

// ewNumeric is ONNX's "all numeric types" constraint: every integer and
// float type, not bool.
func ewNumeric(d DType) bool { return d.IsFloat() || d.IsInteger() }

// ewReluType is Relu's constraint since opset 14: floats and the signed
// integers.
func ewReluType(d DType) bool {
	switch d {
	case Int8, Int16, Int32, Int64:
		return true
	}
	return d.IsFloat()
}

// ewPReluType is PRelu's constraint since opset 16: floats and the 32/64-bit
// integers.
func ewPReluType(d DType) bool {
	switch d {
	case Int32, Int64, Uint32, Uint64:
		return true
	}
	return d.IsFloat()
}

// ewCheckDType fails unless input i's dtype satisfies ok; what names the
// input as the ONNX documentation does ("input X").
func ewCheckDType(c *InferContext, i int, what string, ok func(DType) bool, want string) error {
	if d := c.In[i].DType; !ok(d) {
		return c.Errorf("%s is %v, want %s", what, d, want)
	}
	return nil
}

// inferSameAsInput0 gives the output input 0's dtype and shape.
func inferSameAsInput0(c *InferContext) error {
	c.SetOut(0, Type{DType: c.In[0].DType, Shape: c.In[0].Shape.Clone()})
	return nil
}

// inferBinarySameType is the rule of Add, Sub, Mul and Div: two numeric
// inputs of one dtype, broadcast multidirectionally.
func inferBinarySameType(c *InferContext) error {
	a, b := c.In[0], c.In[1]
	if a.DType != b.DType {
		return c.Errorf("inputs A and B are %v and %v, want the same dtype", a.DType, b.DType)
	}
	if err := ewCheckDType(c, 0, "input A", ewNumeric, "a numeric type"); err != nil {
		return err
	}
	s, err := BroadcastShapes(a.Shape, b.Shape)
	if err != nil {
		return c.Errorf("%v", err)
	}
	c.SetOut(0, Type{DType: a.DType, Shape: s})
	return nil
}

// inferPRelu checks that slope broadcasts to X without changing X's shape
// (ONNX's unidirectional broadcasting): the output is X's type.
func inferPRelu(c *InferContext) error {
	x, slope := c.In[0], c.In[1]
	if err := ewCheckDType(c, 0, "input X", ewPReluType, "a float type or a 32/64-bit integer type"); err != nil {
		return err
	}
	if slope.DType != x.DType {
		return c.Errorf("slope is %v and X is %v, want the same dtype", slope.DType, x.DType)
	}
	if err := ewUnidirectional(slope.Shape, x.Shape); err != nil {
		return c.Errorf("slope %v", err)
	}
	return inferSameAsInput0(c)
}

// ewUnidirectional checks that shape s broadcasts to t without changing t:
// s has no more dims, and each of its trailing-aligned dims is 1 or t's dim.
// Unknown or symbolic dims pass (the run-time shapes are checked again).
func ewUnidirectional(s, t Shape) error {
	if len(s) > len(t) {
		return fmt.Errorf("shape %v has more dims than %v, want it to broadcast to %v", s, t, t)
	}
	off := len(t) - len(s)
	for i, d := range s {
		td := t[off+i]
		switch {
		case d.Known() && d.Size == 1:
		case d == td:
		case d.Known() && td.Known():
			return fmt.Errorf("shape %v does not broadcast to %v (dim %d: %d vs %d)", s, t, off+i, d.Size, td.Size)
		}
	}
	return nil
}

// inferClip checks the optional min and max inputs: scalars (one element)
// of X's dtype.
func inferClip(c *InferContext) error {
	if err := ewCheckDType(c, 0, "input X", ewNumeric, "a numeric type"); err != nil {
		return err
	}
	for i, name := range []string{1: "min", 2: "max"} {
		if i == 0 || !c.Has(i) {
			continue
		}
		t := c.In[i]
		if t.DType != c.In[0].DType {
			return c.Errorf("%s is %v and X is %v, want the same dtype", name, t.DType, c.In[0].DType)
		}
		if n := t.Shape.NumElements(); n >= 0 && n != 1 {
			return c.Errorf("%s has shape %v, want a scalar", name, t.Shape)
		}
	}
	return inferSameAsInput0(c)
}

// inferSoftmax checks the axis of Softmax and LogSoftmax (opset 13: a single
// axis, default -1).
func inferSoftmax(c *InferContext) error {
	if err := ewCheckDType(c, 0, "input", DType.IsFloat, "a float type"); err != nil {
		return err
	}
	axis := c.Attrs().Int("axis", -1)
	if _, err := NormAxis(axis, c.In[0].Shape.Rank()); err != nil {
		return c.Errorf("attribute axis: %v", err)
	}
	return inferSameAsInput0(c)
}

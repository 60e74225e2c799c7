package ir

// Elementwise ops: one output with the broadcast shape of the inputs.

func init() {
	for _, op := range []struct{ name, doc string }{
		{"Add", "elementwise sum with numpy broadcasting"},
		{"Sub", "elementwise difference with numpy broadcasting"},
		{"Mul", "elementwise product with numpy broadcasting"},
		{"Div", "elementwise quotient with numpy broadcasting (integer division truncates)"},
	} {
		Register(&OpSchema{Name: op.name, Doc: op.doc, MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1, Infer: inferBinarySameType})
	}
	Register(&OpSchema{Name: "PRelu", Doc: "x where x >= 0, else slope*x, slope broadcast to x",
		MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1, Infer: inferBinarySameType})

	unary := []struct {
		name, doc string
		attrs     map[string]AttrKind
	}{
		{"Relu", "max(x, 0)", nil},
		{"LeakyRelu", "x where x >= 0, else alpha*x (alpha default 0.01)", map[string]AttrKind{"alpha": AttrFloat}},
		{"Sigmoid", "1 / (1 + exp(-x))", nil},
		{"HardSigmoid", "max(0, min(1, alpha*x + beta)) (alpha 0.2, beta 0.5)", map[string]AttrKind{"alpha": AttrFloat, "beta": AttrFloat}},
		{"HardSwish", "x * max(0, min(1, x/6 + 1/2))", nil},
		{"Tanh", "hyperbolic tangent", nil},
		{"Identity", "the input unchanged", nil},
	}
	for _, op := range unary {
		Register(&OpSchema{Name: op.name, Doc: op.doc, MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1, Attrs: op.attrs, Infer: inferSameAsInput0})
	}
	Register(&OpSchema{Name: "Clip", Doc: "min(max(x, lo), hi); lo and hi are optional scalar inputs",
		MinInputs: 1, MaxInputs: 3, MinOutputs: 1, MaxOutputs: 1, Infer: inferSameAsInput0})
}

func inferSameAsInput0(c *InferContext) error {
	c.SetOut(0, Type{DType: c.In[0].DType, Shape: c.In[0].Shape.Clone()})
	return nil
}

func inferBinarySameType(c *InferContext) error {
	a, b := c.In[0], c.In[1]
	if a.DType != b.DType {
		return c.Errorf("inputs are %v and %v, want the same dtype", a.DType, b.DType)
	}
	s, err := BroadcastShapes(a.Shape, b.Shape)
	if err != nil {
		return c.Errorf("%v", err)
	}
	c.SetOut(0, Type{DType: a.DType, Shape: s})
	return nil
}

package ir

// Math ops beyond the activations of ops_elementwise.go: the unary math
// functions (Exp, Log, Sqrt, Erf, rounding, Elu/Selu/Softplus/Mish/Gelu),
// the variadic Min/Max/Sum/Mean, Mod, Pow, the comparisons (whose output is bool),
// the logical ops and Where, with ONNX semantics at the newest opset. Their
// arithmetic is defined by package ir/ref (elementwise_math.go).

func init() {
	floatUnary := []struct {
		name, doc string
		attrs     map[string]AttrKind
	}{
		{"Exp", "e raised to x", nil},
		{"Log", "natural logarithm", nil},
		{"Sqrt", "square root (NaN below 0)", nil},
		{"Reciprocal", "1 / x", nil},
		{"Erf", "the error function", nil},
		{"Floor", "the largest integer not above x", nil},
		{"Ceil", "the smallest integer not below x", nil},
		{"Round", "x rounded to the nearest integer, halves to even", nil},
		{"Elu", "x where x >= 0, else alpha*(exp(x)-1) (alpha 1)", map[string]AttrKind{"alpha": AttrFloat}},
		{"Selu", "gamma*x where x > 0, else gamma*alpha*(exp(x)-1) (alpha 1.67326, gamma 1.0507)", map[string]AttrKind{"alpha": AttrFloat, "gamma": AttrFloat}},
		{"Softplus", "log(exp(x) + 1), computed without overflow", nil},
		{"Mish", "x * tanh(softplus(x))", nil},
		{"Gelu", "0.5*x*(1+erf(x/sqrt(2))), or its tanh approximation when approximate is \"tanh\"", map[string]AttrKind{"approximate": AttrString}},
		{"Softsign", "x / (1 + |x|)", nil},
		{"ThresholdedRelu", "x where x > alpha (1), else 0", map[string]AttrKind{"alpha": AttrFloat}},
		{"Celu", "max(0, x) + min(0, alpha*(exp(x/alpha)-1)) (alpha 1)", map[string]AttrKind{"alpha": AttrFloat}},
		{"Sin", "sine", nil}, {"Cos", "cosine", nil}, {"Tan", "tangent", nil},
		{"Asin", "arcsine", nil}, {"Acos", "arccosine", nil}, {"Atan", "arctangent", nil},
		{"Sinh", "hyperbolic sine", nil}, {"Cosh", "hyperbolic cosine", nil},
		{"Asinh", "inverse hyperbolic sine", nil}, {"Acosh", "inverse hyperbolic cosine", nil}, {"Atanh", "inverse hyperbolic tangent", nil},
	}
	for _, op := range floatUnary {
		Register(&OpSchema{Name: op.name, Doc: op.doc, MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1, Attrs: op.attrs,
			Infer: unaryOfType(DType.IsFloat, "a float type")})
	}
	Register(&OpSchema{Name: "Neg", Doc: "-x", MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
		Infer: unaryOfType(mSigned, "a float type or a signed integer type")})
	Register(&OpSchema{Name: "Abs", Doc: "|x|", MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
		Infer: unaryOfType(ewNumeric, "a numeric type")})
	Register(&OpSchema{Name: "Sign", Doc: "-1, 0 or 1 by the sign of x (NaN stays NaN)", MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
		Infer: unaryOfType(ewNumeric, "a numeric type")})
	Register(&OpSchema{Name: "Shrink", Doc: "x-bias where x > lambd, x+bias where x < -lambd, else 0 (bias 0, lambd 0.5)",
		MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1, Attrs: map[string]AttrKind{"bias": AttrFloat, "lambd": AttrFloat},
		Infer: unaryOfType(ewNumeric, "a numeric type")})
	Register(&OpSchema{Name: "IsNaN", Doc: "whether x is NaN, as bool", MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
		Infer: unaryToBool})
	Register(&OpSchema{Name: "IsInf", Doc: "whether x is an infinity (either, or the signs detect_negative/detect_positive select), as bool",
		MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1, Attrs: map[string]AttrKind{"detect_negative": AttrInt, "detect_positive": AttrInt},
		Infer: unaryToBool})
	Register(&OpSchema{Name: "Size", Doc: "the number of elements of the input, as an i64 scalar", MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
		Infer: func(c *InferContext) error { c.SetOut(0, Type{DType: Int64, Shape: Shape{}}); return nil }})
	Register(&OpSchema{Name: "Not", Doc: "logical negation of a bool tensor", MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
		Infer: unaryOfType(mBool, "bool")})

	for _, op := range []struct{ name, doc string }{
		{"Min", "elementwise minimum of the inputs with numpy broadcasting (NaN wins)"},
		{"Max", "elementwise maximum of the inputs with numpy broadcasting (NaN wins)"},
		{"Sum", "elementwise sum of the inputs with numpy broadcasting"},
		{"Mean", "elementwise mean of the inputs with numpy broadcasting"},
	} {
		Register(&OpSchema{Name: op.name, Doc: op.doc, MinInputs: 1, MaxInputs: -1, MinOutputs: 1, MaxOutputs: 1, Infer: inferVariadic})
	}
	Register(&OpSchema{Name: "Mod", Doc: "remainder of a / b with numpy broadcasting: the sign of b (fmod 0, integers only) or of a (fmod 1, C's fmod)",
		MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1, Attrs: map[string]AttrKind{"fmod": AttrInt}, Infer: inferMod})
	Register(&OpSchema{Name: "Pow", Doc: "x raised to y with numpy broadcasting; the output has x's dtype",
		MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1, Infer: inferPow})
	for _, op := range []struct{ name, doc string }{
		{"Equal", "a == b, elementwise with numpy broadcasting, as bool"},
		{"Less", "a < b, elementwise with numpy broadcasting, as bool"},
		{"Greater", "a > b, elementwise with numpy broadcasting, as bool"},
		{"LessOrEqual", "a <= b, elementwise with numpy broadcasting, as bool"},
		{"GreaterOrEqual", "a >= b, elementwise with numpy broadcasting, as bool"},
	} {
		Register(&OpSchema{Name: op.name, Doc: op.doc, MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1, Infer: inferCompare})
	}
	for _, op := range []struct{ name, doc string }{
		{"And", "logical and of two bool tensors with numpy broadcasting"},
		{"Or", "logical or of two bool tensors with numpy broadcasting"},
		{"Xor", "logical exclusive or of two bool tensors with numpy broadcasting"},
	} {
		Register(&OpSchema{Name: op.name, Doc: op.doc, MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1, Infer: inferLogical})
	}
	Register(&OpSchema{Name: "Where", Doc: "x where condition is true, else y; all three broadcast together",
		MinInputs: 3, MaxInputs: 3, MinOutputs: 1, MaxOutputs: 1, Infer: inferWhere})
}

// mSigned is Neg's constraint: floats and the signed integers.
func mSigned(d DType) bool {
	switch d {
	case Int8, Int16, Int32, Int64:
		return true
	}
	return d.IsFloat()
}

func mBool(d DType) bool { return d == Bool }

// unaryOfType is the Infer of a unary op whose input must satisfy ok: the
// output is the input's type.
func unaryOfType(ok func(DType) bool, want string) func(c *InferContext) error {
	return func(c *InferContext) error {
		if err := ewCheckDType(c, 0, "input X", ok, want); err != nil {
			return err
		}
		return inferSameAsInput0(c)
	}
}

// broadcastAll broadcasts the shapes of inputs from..to-1 together.
func broadcastAll(c *InferContext, from, to int) (Shape, error) {
	s := c.In[from].Shape.Clone()
	for i := from + 1; i < to; i++ {
		var err error
		if s, err = BroadcastShapes(s, c.In[i].Shape); err != nil {
			return nil, c.Errorf("input %d: %v", i, err)
		}
	}
	return s, nil
}

// inferVariadic is the rule of Min, Max, Sum and Mean: numeric inputs of
// one dtype, all broadcast together.
func inferVariadic(c *InferContext) error {
	d := c.In[0].DType
	for i := range c.In {
		if !c.Has(i) {
			return c.Errorf("input %d is missing, want every input", i)
		}
		if c.In[i].DType != d {
			return c.Errorf("input %d is %v and input 0 is %v, want the same dtype", i, c.In[i].DType, d)
		}
	}
	if err := ewCheckDType(c, 0, "input 0", ewNumeric, "a numeric type"); err != nil {
		return err
	}
	s, err := broadcastAll(c, 0, len(c.In))
	if err != nil {
		return err
	}
	c.SetOut(0, Type{DType: d, Shape: s})
	return nil
}

func inferMod(c *InferContext) error {
	if err := inferBinarySameType(c); err != nil {
		return err
	}
	if f := c.Attrs().Int("fmod", 0); f != 0 && f != 1 {
		return c.Errorf("attribute fmod is %d, want 0 or 1", f)
	} else if f == 0 && c.In[0].DType.IsFloat() {
		return c.Errorf("inputs are %v with fmod=0, want fmod=1 for floats", c.In[0].DType)
	}
	return nil
}

// inferPow: X and Y may have different numeric dtypes (opset 12); the output
// is X's.
func inferPow(c *InferContext) error {
	if err := ewCheckDType(c, 0, "input X", ewNumeric, "a numeric type"); err != nil {
		return err
	}
	if err := ewCheckDType(c, 1, "input Y", ewNumeric, "a numeric type"); err != nil {
		return err
	}
	s, err := broadcastAll(c, 0, 2)
	if err != nil {
		return err
	}
	c.SetOut(0, Type{DType: c.In[0].DType, Shape: s})
	return nil
}

// inferCompare: A and B of one dtype (bool too, for Equal), broadcast; the
// output is bool.
func inferCompare(c *InferContext) error {
	a, b := c.In[0], c.In[1]
	if a.DType != b.DType {
		return c.Errorf("inputs A and B are %v and %v, want the same dtype", a.DType, b.DType)
	}
	ok := ewNumeric
	want := "a numeric type"
	if c.Node.Op == "Equal" {
		ok = func(d DType) bool { return d == Bool || ewNumeric(d) }
		want = "a numeric type or bool"
	}
	if err := ewCheckDType(c, 0, "input A", ok, want); err != nil {
		return err
	}
	s, err := broadcastAll(c, 0, 2)
	if err != nil {
		return err
	}
	c.SetOut(0, Type{DType: Bool, Shape: s})
	return nil
}

func inferLogical(c *InferContext) error {
	for i, name := range []string{"A", "B"} {
		if err := ewCheckDType(c, i, "input "+name, mBool, "bool"); err != nil {
			return err
		}
	}
	s, err := broadcastAll(c, 0, 2)
	if err != nil {
		return err
	}
	c.SetOut(0, Type{DType: Bool, Shape: s})
	return nil
}

func inferWhere(c *InferContext) error {
	if err := ewCheckDType(c, 0, "input condition", mBool, "bool"); err != nil {
		return err
	}
	if c.In[1].DType != c.In[2].DType {
		return c.Errorf("inputs X and Y are %v and %v, want the same dtype", c.In[1].DType, c.In[2].DType)
	}
	s, err := broadcastAll(c, 0, 3)
	if err != nil {
		return err
	}
	c.SetOut(0, Type{DType: c.In[1].DType, Shape: s})
	return nil
}

// unaryToBool is the rule of IsNaN and IsInf: a float input, a bool output
// of its shape.
func unaryToBool(c *InferContext) error {
	if err := ewCheckDType(c, 0, "input X", DType.IsFloat, "a float type"); err != nil {
		return err
	}
	c.SetOut(0, Type{DType: Bool, Shape: c.In[0].Shape.Clone()})
	return nil
}

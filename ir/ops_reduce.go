package ir

// The Reduce ops other than ReduceMean (ops_tensor.go), ArgMax/ArgMin and TopK,
// with ONNX semantics at opset 18: axes is an optional i64 input, every dim
// when it is absent or empty (unless noop_with_empty_axes). Their
// arithmetic is in package ir/ref (tensor_reduce.go).

func init() {
	reduceAttrs := map[string]AttrKind{"keepdims": AttrInt, "noop_with_empty_axes": AttrInt}
	for _, op := range []struct {
		name, doc string
		ok        func(DType) bool
		want      string
	}{
		{"ReduceSum", "the sum over the listed axes", ewReduceMeanType, "a float type or a 32/64-bit integer type"},
		{"ReduceProd", "the product over the listed axes", ewReduceMeanType, "a float type or a 32/64-bit integer type"},
		{"ReduceMax", "the maximum over the listed axes (-inf, or the type's lowest value, over none)", ewNumeric, "a numeric type"},
		{"ReduceMin", "the minimum over the listed axes (+inf, or the type's highest value, over none)", ewNumeric, "a numeric type"},
		{"ReduceL1", "the sum of absolute values over the listed axes", ewReduceMeanType, "a float type or a 32/64-bit integer type"},
		{"ReduceL2", "the square root of the sum of squares over the listed axes", ewReduceMeanType, "a float type or a 32/64-bit integer type"},
		{"ReduceSumSquare", "the sum of squares over the listed axes", ewReduceMeanType, "a float type or a 32/64-bit integer type"},
		{"ReduceLogSum", "the log of the sum over the listed axes", ewReduceMeanType, "a float type or a 32/64-bit integer type"},
		{"ReduceLogSumExp", "log(sum(exp(x))) over the listed axes, computed stably", ewReduceMeanType, "a float type or a 32/64-bit integer type"},
	} {
		ok, want := op.ok, op.want
		Register(&OpSchema{Name: op.name, Doc: op.doc + " (all when absent, unless noop_with_empty_axes), keeping them as 1s when keepdims",
			MinInputs: 1, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1, Attrs: reduceAttrs,
			Infer: func(c *InferContext) error { return inferReduce(c, ok, want, c.In[0].DType) }})
	}
	argAttrs := map[string]AttrKind{"axis": AttrInt, "keepdims": AttrInt, "select_last_index": AttrInt}
	Register(&OpSchema{Name: "ArgMax", Doc: "the i64 index of the maximum along axis (the first, or the last when select_last_index)",
		MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1, Attrs: argAttrs, Infer: inferArg})
	Register(&OpSchema{Name: "TopK", Doc: "the K largest (or, with largest=0, smallest) elements along axis (default -1) and their i64 indices; equal values keep index order",
		MinInputs: 2, MaxInputs: 2, MinOutputs: 2, MaxOutputs: 2,
		Attrs: map[string]AttrKind{"axis": AttrInt, "largest": AttrInt, "sorted": AttrInt}, Infer: inferTopK})
	Register(&OpSchema{Name: "ArgMin", Doc: "the i64 index of the minimum along axis (the first, or the last when select_last_index)",
		MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1, Attrs: argAttrs, Infer: inferArg})
}

func inferArg(c *InferContext) error {
	in := c.In[0]
	if err := ewCheckDType(c, 0, "input data", ewNumeric, "a numeric type"); err != nil {
		return err
	}
	axis, err := NormAxis(c.Attrs().Int("axis", 0), in.Shape.Rank())
	if err != nil {
		return c.Errorf("attribute axis: %v (data has shape %v)", err, in.Shape)
	}
	out := Shape{}
	for i, d := range in.Shape {
		switch {
		case i != axis:
			out = append(out, d)
		case c.Attrs().Int("keepdims", 1) != 0:
			out = append(out, D(1))
		}
	}
	c.SetOut(0, Type{DType: Int64, Shape: out})
	return nil
}

func inferTopK(c *InferContext) error {
	in := c.In[0]
	if err := ewCheckDType(c, 0, "input X", ewNumeric, "a numeric type"); err != nil {
		return err
	}
	if err := tCheckIndexInput(c, 1, "K", false); err != nil {
		return err
	}
	axis, err := NormAxis(c.Attrs().Int("axis", -1), in.Shape.Rank())
	if err != nil {
		return c.Errorf("attribute axis: %v (X has shape %v)", err, in.Shape)
	}
	out := in.Shape.Clone()
	out[axis] = UnknownDim
	if k, ok := tConstInts(c, 1); ok {
		if len(k) != 1 || k[0] < 0 {
			return c.Errorf("input K is %v, want one count >= 0", k)
		}
		if d := in.Shape[axis]; d.Known() && k[0] > d.Size {
			return c.Errorf("input K is %d, but axis %d of X %v has only %d elements", k[0], axis, in.Shape, d.Size)
		}
		out[axis] = D(k[0])
	}
	c.SetOut(0, Type{DType: in.DType, Shape: out})
	c.SetOut(1, Type{DType: Int64, Shape: out.Clone()})
	return nil
}

package ir

// The normalization ops computed from the input's own statistics:
// InstanceNormalization, LayerNormalization and GroupNormalization (at
// opset 21: scale and bias per channel; the frontend rewrites opset 18's
// per-group form). Their arithmetic is in package ir/ref (nn_norm.go).

func init() {
	Register(&OpSchema{Name: "InstanceNormalization",
		Doc:       "normalizes each channel of each image of X (N×C×D1…) over its spatial dims, then scale (C) and bias B (C)",
		MinInputs: 3, MaxInputs: 3, MinOutputs: 1, MaxOutputs: 1,
		Attrs: map[string]AttrKind{"epsilon": AttrFloat}, Infer: inferInstanceNorm})
	Register(&OpSchema{Name: "LayerNormalization",
		Doc:       "normalizes X over its dims from axis (default -1) on, then scale and optional B broadcast to them; optional Mean and InvStdDev outputs",
		MinInputs: 2, MaxInputs: 3, MinOutputs: 1, MaxOutputs: 3,
		Attrs: map[string]AttrKind{"axis": AttrInt, "epsilon": AttrFloat, "stash_type": AttrInt}, Infer: inferLayerNorm})
	Register(&OpSchema{Name: "GroupNormalization",
		Doc:       "normalizes each of num_groups channel groups of each image of X (N×C×D1…), then scale (C) and bias (C)",
		MinInputs: 3, MaxInputs: 3, MinOutputs: 1, MaxOutputs: 1,
		Attrs: map[string]AttrKind{"epsilon": AttrFloat, "num_groups": AttrInt, "stash_type": AttrInt}, Infer: inferGroupNorm})
}

// normChannels checks X (N×C×…, float) and the per-channel scale and bias
// inputs 1 and 2.
func normChannels(c *InferContext) error {
	x := c.In[0]
	if err := ewCheckDType(c, 0, "input X", DType.IsFloat, "a float type"); err != nil {
		return err
	}
	if x.Shape.Rank() < 2 {
		return c.Errorf("input X has shape %v, want N×C×…", x.Shape)
	}
	ch := x.Shape[1]
	for i, name := range []string{1: "scale", 2: "bias"} {
		if i == 0 {
			continue
		}
		t := c.In[i]
		if t.DType != x.DType {
			return c.Errorf("input %s is %v and X %v, want the same dtype", name, t.DType, x.DType)
		}
		if t.Shape.Rank() != 1 || (ch.Known() && t.Shape[0].Known() && t.Shape[0] != ch) {
			return c.Errorf("input %s has shape %v, want [%v] (X's channels)", name, t.Shape, ch)
		}
	}
	return nil
}

func inferInstanceNorm(c *InferContext) error {
	if err := normChannels(c); err != nil {
		return err
	}
	return inferSameAsInput0(c)
}

func inferGroupNorm(c *InferContext) error {
	if err := normChannels(c); err != nil {
		return err
	}
	g := c.Attrs().Int("num_groups", 0)
	if g < 1 {
		return c.Errorf("attribute num_groups is %d, want a count >= 1", g)
	}
	if ch := c.In[0].Shape[1]; ch.Known() && ch.Size%g != 0 {
		return c.Errorf("input X has %d channels, want a multiple of num_groups %d", ch.Size, g)
	}
	return inferSameAsInput0(c)
}

func inferLayerNorm(c *InferContext) error {
	x := c.In[0]
	if err := ewCheckDType(c, 0, "input X", DType.IsFloat, "a float type"); err != nil {
		return err
	}
	axis, err := NormAxis(c.Attrs().Int("axis", -1), x.Shape.Rank())
	if err != nil {
		return c.Errorf("attribute axis: %v (X has shape %v)", err, x.Shape)
	}
	if st := c.Attrs().Int("stash_type", 1); st != 1 {
		return c.Errorf("attribute stash_type is %d, want 1 (float32 statistics)", st)
	}
	for i, name := range []string{1: "Scale", 2: "B"} {
		if i == 0 || !c.Has(i) {
			continue
		}
		t := c.In[i]
		if t.DType != x.DType {
			return c.Errorf("input %s is %v and X %v, want the same dtype", name, t.DType, x.DType)
		}
		if err := ewUnidirectional(t.Shape, x.Shape); err != nil {
			return c.Errorf("input %s: %v", name, err)
		}
	}
	stat := x.Shape.Clone()
	for i := axis; i < len(stat); i++ {
		stat[i] = D(1)
	}
	c.SetOut(0, Type{DType: x.DType, Shape: x.Shape.Clone()})
	c.SetOut(1, Type{DType: Float32, Shape: stat})
	c.SetOut(2, Type{DType: Float32, Shape: stat.Clone()})
	return nil
}

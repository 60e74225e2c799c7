package ir

// Ops that make or rearrange tensors by index: Expand, Tile,
// ConstantOfShape, Range, DepthToSpace, SpaceToDepth, ScatterND, GatherElements
// and NonMaxSuppression,
// with ONNX semantics at the newest opset, except that ConstantOfShape takes
// its fill value as an optional second input (a one-element tensor; ONNX has
// it as a tensor attribute, which IR attributes cannot hold).
//
// As in ops_tensor.go, an output shape that depends on an input's value is
// computed when that value is known, and otherwise keeps what the input
// types still say.

import (
	"fmt"
	"math"
	"sort"
)

func init() {
	Register(&OpSchema{Name: "Expand", Doc: "the input broadcast (numpy rules, both ways) with the i64 shape input",
		MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1, Infer: inferExpand})
	Register(&OpSchema{Name: "Tile", Doc: "the input repeated repeats[i] times along each axis i",
		MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1, Infer: inferTile})
	Register(&OpSchema{Name: "ConstantOfShape", Doc: "a tensor of the i64 shape input filled with the one-element value input (f32 0 when absent)",
		MinInputs: 1, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1, Infer: inferConstantOfShape})
	Register(&OpSchema{Name: "Range", Doc: "start, start+delta, ... up to but not including limit (three scalars of one dtype)",
		MinInputs: 3, MaxInputs: 3, MinOutputs: 1, MaxOutputs: 1, Infer: inferRange})
	Register(&OpSchema{Name: "DepthToSpace", Doc: "moves blocks of blocksize² channels of N×C×H×W into space (mode DCR, default, or CRD)",
		MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
		Attrs: map[string]AttrKind{"blocksize": AttrInt, "mode": AttrString}, Infer: inferDepthToSpace})
	Register(&OpSchema{Name: "SpaceToDepth", Doc: "moves blocksize×blocksize spatial blocks of N×C×H×W into channels",
		MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
		Attrs: map[string]AttrKind{"blocksize": AttrInt}, Infer: inferSpaceToDepth})
	Register(&OpSchema{Name: "ScatterND", Doc: "a copy of data with the slices that indices (…×k) address replaced by (or, with reduction, combined with) updates",
		MinInputs: 3, MaxInputs: 3, MinOutputs: 1, MaxOutputs: 1, Attrs: map[string]AttrKind{"reduction": AttrString}, Infer: inferScatterND})
	Register(&OpSchema{Name: "NonMaxSuppression", Doc: "greedy non-maximum suppression of boxes by class: the [batch, class, box] i64 triples kept",
		MinInputs: 2, MaxInputs: 5, MinOutputs: 1, MaxOutputs: 1, Attrs: map[string]AttrKind{"center_point_box": AttrInt}, Infer: inferNMS})
	Register(&OpSchema{Name: "GatherElements", Doc: "output[i][j]… = data at the indices' value along axis and i, j… elsewhere; the output has the indices' shape",
		MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1, Attrs: map[string]AttrKind{"axis": AttrInt}, Infer: inferGatherElements})
}

func inferExpand(c *InferContext) error {
	in := c.In[0]
	if err := tCheckIndexInput(c, 1, "shape", false); err != nil {
		return err
	}
	vals, ok := tConstInts(c, 1)
	if !ok {
		if sv := c.shapeValueOf(1); sv != nil {
			if out, err := BroadcastShapes(in.Shape, shapeFromValue(sv)); err == nil {
				c.SetOut(0, Type{DType: in.DType, Shape: out})
				return nil
			}
		}
		if n := tLen(c, 1); n >= 0 {
			c.SetOut(0, Type{DType: in.DType, Shape: tUnknown(max(n, in.Shape.Rank()))})
		} else {
			c.SetOut(0, Type{DType: in.DType, Shape: tRecorded(c, 0)})
		}
		return nil
	}
	want := make(Shape, len(vals))
	for i, v := range vals {
		if v < 0 {
			return c.Errorf("input shape %v: entry %d is %d, want a size >= 0", vals, i, v)
		}
		want[i] = D(v)
	}
	out, err := BroadcastShapes(in.Shape, want)
	if err != nil {
		return c.Errorf("input shape %v: %v", vals, err)
	}
	c.SetOut(0, Type{DType: in.DType, Shape: out})
	return nil
}

func inferTile(c *InferContext) error {
	in := c.In[0]
	if err := tCheckIndexInput(c, 1, "repeats", false); err != nil {
		return err
	}
	r := in.Shape.Rank()
	if n := tLen(c, 1); n >= 0 && n != r {
		return c.Errorf("input repeats has %d entries, want %d (the input's rank)", n, r)
	}
	reps, ok := tConstInts(c, 1)
	if !ok {
		c.SetOut(0, Type{DType: in.DType, Shape: tUnknown(r)})
		return nil
	}
	if len(reps) != r {
		return c.Errorf("input repeats has %d entries, want %d (the input's rank)", len(reps), r)
	}
	out := make(Shape, r)
	for i, d := range in.Shape {
		switch {
		case reps[i] < 0:
			return c.Errorf("input repeats %v: entry %d is negative, want a count >= 0", reps, i)
		case reps[i] == 1:
			out[i] = d
		case d.Known():
			out[i] = D(d.Size * reps[i])
		default:
			out[i] = UnknownDim
		}
	}
	c.SetOut(0, Type{DType: in.DType, Shape: out})
	return nil
}

func inferConstantOfShape(c *InferContext) error {
	if err := tCheckIndexInput(c, 0, "input", false); err != nil {
		return err
	}
	dt := Float32
	if c.Has(1) {
		v := c.In[1]
		if n := v.Shape.NumElements(); n >= 0 && n != 1 {
			return c.Errorf("input value has shape %v, want one element", v.Shape)
		}
		dt = v.DType
	}
	vals, ok := tConstInts(c, 0)
	if !ok {
		if sv := c.shapeValueOf(0); sv != nil {
			c.SetOut(0, Type{DType: dt, Shape: shapeFromValue(sv)})
			return nil
		}
		if n := tLen(c, 0); n >= 0 {
			c.SetOut(0, Type{DType: dt, Shape: tUnknown(n)})
		} else {
			c.SetOut(0, Type{DType: dt, Shape: tRecorded(c, 0)})
		}
		return nil
	}
	out := make(Shape, len(vals))
	for i, v := range vals {
		if v < 0 {
			return c.Errorf("input shape %v: entry %d is %d, want a size >= 0", vals, i, v)
		}
		out[i] = D(v)
	}
	c.SetOut(0, Type{DType: dt, Shape: out})
	return nil
}

// RangeLen is the number of elements Range makes: max(ceil((limit-start)/delta), 0).
func RangeLen(start, limit, delta float64) (int64, bool) {
	if delta == 0 {
		return 0, false
	}
	n := math.Ceil((limit - start) / delta)
	if math.IsNaN(n) || n > math.MaxInt32 {
		return 0, false
	}
	return int64(max(n, 0)), true
}

func inferRange(c *InferContext) error {
	dt := c.In[0].DType
	for i, name := range []string{"start", "limit", "delta"} {
		t := c.In[i]
		if t.DType != dt {
			return c.Errorf("input %s is %v and start %v, want the same dtype", name, t.DType, dt)
		}
		if n := t.Shape.NumElements(); n >= 0 && n != 1 {
			return c.Errorf("input %s has shape %v, want a scalar", name, t.Shape)
		}
	}
	switch dt {
	case Float32, Float64, Int16, Int32, Int64:
	default:
		return c.Errorf("inputs are %v, want f32, f64, i16, i32 or i64", dt)
	}
	if c.Const(0) == nil || c.Const(1) == nil || c.Const(2) == nil {
		out := Shape{UnknownDim}
		a, b, d := c.shapeValueOf(0), c.shapeValueOf(1), c.shapeValueOf(2)
		if len(a) == 1 && len(b) == 1 && len(d) == 1 && a[0].Known && b[0].Known && d[0].Known {
			if n, ok := RangeLen(float64(a[0].Val), float64(b[0].Val), float64(d[0].Val)); ok {
				out = Shape{D(n)}
			}
		}
		c.SetOut(0, Type{DType: dt, Shape: out})
		return nil
	}
	n, ok := RangeLen(c.Const(0).AsFloat64(0), c.Const(1).AsFloat64(0), c.Const(2).AsFloat64(0))
	if !ok {
		return c.Errorf("range from %v to %v by %v has no finite length, want a non-zero delta", c.Const(0).AsFloat64(0), c.Const(1).AsFloat64(0), c.Const(2).AsFloat64(0))
	}
	c.SetOut(0, Type{DType: dt, Shape: Shape{D(n)}})
	return nil
}

// blockDims checks a 4-D input and the blocksize attribute of DepthToSpace
// and SpaceToDepth.
func blockDims(c *InferContext) (Shape, int64, error) {
	in := c.In[0].Shape
	if in.Rank() != 4 {
		return nil, 0, c.Errorf("input has shape %v, want N×C×H×W", in)
	}
	b := c.Attrs().Int("blocksize", 0)
	if b < 1 {
		return nil, 0, c.Errorf("attribute blocksize is %d, want a size >= 1", b)
	}
	return in, b, nil
}

func scaleDim(d Dim, mul, div int64) Dim {
	if !d.Known() {
		return UnknownDim
	}
	return D(d.Size * mul / div)
}

func inferDepthToSpace(c *InferContext) error {
	in, b, err := blockDims(c)
	if err != nil {
		return err
	}
	if m := c.Attrs().String("mode", "DCR"); m != "DCR" && m != "CRD" {
		return c.Errorf("attribute mode is %q, want DCR or CRD", m)
	}
	if ch := in[1]; ch.Known() && ch.Size%(b*b) != 0 {
		return c.Errorf("input has %d channels, want a multiple of blocksize² = %d", ch.Size, b*b)
	}
	c.SetOut(0, Type{DType: c.In[0].DType, Shape: Shape{in[0], scaleDim(in[1], 1, b*b), scaleDim(in[2], b, 1), scaleDim(in[3], b, 1)}})
	return nil
}

func inferSpaceToDepth(c *InferContext) error {
	in, b, err := blockDims(c)
	if err != nil {
		return err
	}
	for _, i := range []int{2, 3} {
		if d := in[i]; d.Known() && d.Size%b != 0 {
			return c.Errorf("input %v: dim %d is %d, want a multiple of blocksize %d", in, i, d.Size, b)
		}
	}
	c.SetOut(0, Type{DType: c.In[0].DType, Shape: Shape{in[0], scaleDim(in[1], b*b, 1), scaleDim(in[2], 1, b), scaleDim(in[3], 1, b)}})
	return nil
}

func inferGatherElements(c *InferContext) error {
	data, idx := c.In[0], c.In[1]
	if idx.DType != Int32 && idx.DType != Int64 {
		return c.Errorf("input indices is %v, want i32 or i64", idx.DType)
	}
	if data.Shape.Rank() != idx.Shape.Rank() {
		return c.Errorf("data has shape %v and indices %v, want the same rank", data.Shape, idx.Shape)
	}
	if _, err := NormAxis(c.Attrs().Int("axis", 0), data.Shape.Rank()); err != nil {
		return c.Errorf("attribute axis: %v (data has shape %v)", err, data.Shape)
	}
	c.SetOut(0, Type{DType: data.DType, Shape: idx.Shape.Clone()})
	return nil
}

func inferScatterND(c *InferContext) error {
	data, idx, upd := c.In[0], c.In[1], c.In[2]
	if idx.DType != Int64 {
		return c.Errorf("input indices is %v, want i64", idx.DType)
	}
	if upd.DType != data.DType {
		return c.Errorf("input updates is %v and data %v, want the same dtype", upd.DType, data.DType)
	}
	switch r := c.Attrs().String("reduction", "none"); r {
	case "none", "add", "mul", "max", "min":
	default:
		return c.Errorf("attribute reduction is %q, want none, add, mul, max or min", r)
	}
	q := idx.Shape.Rank()
	if q < 1 {
		return c.Errorf("input indices is a scalar, want at least 1 dim")
	}
	if k := idx.Shape[q-1]; k.Known() {
		if k.Size > int64(data.Shape.Rank()) {
			return c.Errorf("indices %v address %d dims of data %v, which has %d", idx.Shape, k.Size, data.Shape, data.Shape.Rank())
		}
		want := append(idx.Shape[:q-1].Clone(), data.Shape[k.Size:]...)
		if upd.Shape.Rank() != want.Rank() {
			return c.Errorf("input updates has shape %v, want %v", upd.Shape, want)
		}
		for i, d := range want {
			if u := upd.Shape[i]; d.Known() && u.Known() && d.Size != u.Size {
				return c.Errorf("input updates has shape %v, want %v", upd.Shape, want)
			}
		}
	}
	return inferSameAsInput0(c)
}

func inferNMS(c *InferContext) error {
	boxes, scores := c.In[0], c.In[1]
	if boxes.DType != Float32 || scores.DType != Float32 {
		return c.Errorf("boxes and scores are %v and %v, want f32", boxes.DType, scores.DType)
	}
	if boxes.Shape.Rank() != 3 || scores.Shape.Rank() != 3 {
		return c.Errorf("boxes %v and scores %v, want [batch, boxes, 4] and [batch, classes, boxes]", boxes.Shape, scores.Shape)
	}
	if d := boxes.Shape[2]; d.Known() && d.Size != 4 {
		return c.Errorf("boxes has shape %v, want 4 coordinates a box", boxes.Shape)
	}
	out := Shape{UnknownDim, D(3)}
	if c.Const(0) != nil && c.Const(1) != nil && (!c.Has(2) || c.Const(2) != nil) && (!c.Has(3) || c.Const(3) != nil) && (!c.Has(4) || c.Const(4) != nil) {
		// Every input known (always at run time): the count is the
		// number of boxes kept.
		opt := func(i int) *Tensor {
			if c.Has(i) {
				return c.Const(i)
			}
			return nil
		}
		kept, err := NonMaxSuppress(c.Const(0), c.Const(1), opt(2), opt(3), opt(4), c.Attrs().Int("center_point_box", 0) != 0)
		if err != nil {
			return c.Errorf("%v", err)
		}
		out[0] = D(int64(len(kept) / 3))
	}
	c.SetOut(0, Type{DType: Int64, Shape: out})
	return nil
}

// NonMaxSuppress is ONNX's greedy NonMaxSuppression, which both shape
// inference (the output's length is the number of boxes kept) and the
// reference kernel run: for each batch and class,
// the boxes scoring above score_threshold, best first (equal scores in box
// order), each kept unless its IoU with a kept box exceeds iou_threshold,
// at most max_output_boxes_per_class of them (0 or absent keeps none).
// It returns the kept [batch, class, box] triples, flattened.
func NonMaxSuppress(boxesT, scoresT, maxOutT, iouT, scoreT *Tensor, center bool) ([]int64, error) {
	boxes, scores := boxesT.Float32s(), scoresT.Float32s()
	batches, classes, count := scoresT.Shape[0], scoresT.Shape[1], scoresT.Shape[2]
	if boxesT.Shape[0] != batches || boxesT.Shape[1] != count {
		return nil, fmt.Errorf("boxes %v and scores %v disagree, want [batch, boxes, 4] and [batch, classes, boxes]", boxesT.Shape, scoresT.Shape)
	}
	present := func(t *Tensor) bool { return t != nil && t.Len() > 0 }
	maxOut := int64(0)
	if present(maxOutT) {
		maxOut = maxOutT.AsInt64(0)
	}
	iouMax, scoreMin, hasScoreMin := float32(0), float32(0), false
	if present(iouT) {
		iouMax = float32(iouT.AsFloat64(0))
	}
	if present(scoreT) {
		scoreMin, hasScoreMin = float32(scoreT.AsFloat64(0)), true
	}
	corners := func(b int) (y1, x1, y2, x2 float32) {
		v := boxes[b*4 : b*4+4]
		if center {
			return v[1] - float32(v[3]/2), v[0] - float32(v[2]/2), v[1] + float32(v[3]/2), v[0] + float32(v[2]/2)
		}
		return min(v[0], v[2]), min(v[1], v[3]), max(v[0], v[2]), max(v[1], v[3])
	}
	iou := func(a, b int) float32 {
		ay1, ax1, ay2, ax2 := corners(a)
		by1, bx1, by2, bx2 := corners(b)
		ih, iw := min(ay2, by2)-max(ay1, by1), min(ax2, bx2)-max(ax1, bx1)
		if ih <= 0 || iw <= 0 {
			return 0
		}
		inter := float32(ih * iw)
		union := float32((ay2-ay1)*(ax2-ax1)) + float32((by2-by1)*(bx2-bx1)) - inter
		if union <= 0 {
			return 0
		}
		return inter / union
	}
	var kept []int64
	for b := 0; b < batches; b++ {
		for c := 0; c < classes; c++ {
			sc := scores[(b*classes+c)*count : (b*classes+c+1)*count]
			var cand []int
			for i, s := range sc {
				if !hasScoreMin || s > scoreMin {
					cand = append(cand, i)
				}
			}
			sort.SliceStable(cand, func(i, j int) bool { return sc[cand[i]] > sc[cand[j]] })
			var sel []int
			for _, i := range cand {
				if int64(len(sel)) >= maxOut {
					break
				}
				ok := true
				for _, j := range sel {
					if iou(b*count+i, b*count+j) > iouMax {
						ok = false
						break
					}
				}
				if ok {
					sel = append(sel, i)
					kept = append(kept, int64(b), int64(c), int64(i))
				}
			}
		}
	}
	return kept, nil
}

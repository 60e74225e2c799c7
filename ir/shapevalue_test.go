package ir

import "testing"

// svGraph builds nodes one by one with static inference, as the frontend
// does, so shape values flow from node to node.
type svGraph struct {
	t     *testing.T
	count int
}

func (g *svGraph) node(op string, attrs Attrs, ins ...*Value) *Value {
	g.t.Helper()
	g.count++
	out := &Value{Name: op + string(rune('a'+g.count))}
	if attrs == nil {
		attrs = Attrs{}
	}
	n := &Node{Name: out.Name, Op: op, Inputs: ins, Outputs: []*Value{out}, Attrs: attrs}
	if err := InferNode(n); err != nil {
		g.t.Fatalf("%s: %v", op, err)
	}
	return out
}

func svConst(v ...int64) *Value { return NewConst("c", FromInt64(v, len(v))) }
func svScalar(v int64) *Value   { return NewConst("s", FromInt64([]int64{v})) }
func svShape(s string) Shape    { return tsShape(s) }
func svIn(name, s string) *Value {
	return &Value{Name: name, Type: Type{DType: Float32, Shape: svShape(s)}}
}

// TestShapeValues follows the shape computations torch.onnx writes for a
// symbolic batch and checks that the shapes they feed stay known.
func TestShapeValues(t *testing.T) {
	g := &svGraph{t: t}
	x := svIn("x", "N,768,14,14")

	// x.flatten(2): Shape → Gather(0) → Unsqueeze → Concat(·, [768, -1]) → Reshape.
	n := g.node("Unsqueeze", nil, g.node("Gather", nil, g.node("Shape", nil, x), svScalar(0)), svConst(0))
	shape := g.node("Concat", Attrs{"axis": IntAttr(0)}, n, svConst(768, -1))
	y := g.node("Reshape", nil, x, shape)
	if !y.Type.Shape.Equal(svShape("N,768,196")) {
		t.Errorf("reshape by a computed shape: %v, want [N,768,196]", y.Type.Shape)
	}

	// expand(n, -1, -1): Where(Equal(s, -1), ones, s) with s = [N, -1, -1].
	s := g.node("Concat", Attrs{"axis": IntAttr(0)}, n, svConst(-1, -1))
	ones := g.node("ConstantOfShape", nil, g.node("Shape", nil, s), NewConst("one", FromInt64([]int64{1}, 1)))
	minus := g.node("Mul", nil, ones, svScalar(-1))
	w := g.node("Where", nil, g.node("Equal", nil, s, minus), g.node("ConstantOfShape", nil, g.node("Shape", nil, s), NewConst("one", FromInt64([]int64{1}, 1))), s)
	e := g.node("Expand", nil, svIn("token", "1,1,768"), w)
	if !e.Type.Shape.Equal(svShape("N,1,768")) {
		t.Errorf("expand by where(equal(s, -1), 1, s): %v, want [N,1,768]", e.Type.Shape)
	}

	// F.interpolate(size=input.shape[-2:]): sizes = Concat(Shape(feat)[:2], Shape(input)[2:]).
	feat := svIn("feat", "N,21,28,28")
	img := svIn("img", "N,3,224,224")
	head := g.node("Slice", nil, g.node("Shape", nil, feat), svConst(0), svConst(2))
	tail := g.node("Slice", nil, g.node("Shape", nil, img), svConst(2), svConst(4))
	sizes := g.node("Concat", Attrs{"axis": IntAttr(0)}, head, tail)
	r := g.node("Resize", Attrs{"mode": StringAttr("linear")}, feat, nil, nil, sizes)
	if !r.Type.Shape.Equal(svShape("N,21,224,224")) {
		t.Errorf("resize to computed sizes: %v, want [N,21,224,224]", r.Type.Shape)
	}

	// Swin's pads: (7 - W % 7) % 7 per side, through a [4,2] Reshape, a
	// reversing Slice, a Transpose and a flattening Reshape.
	h := svIn("h", "N,54,54,96")
	wdim := g.node("Gather", nil, g.node("Shape", nil, h), svScalar(2))
	pad := g.node("Mod", nil, g.node("Sub", nil, svScalar(7), g.node("Mod", nil, wdim, svScalar(7))), svScalar(7))
	pads6 := g.node("Concat", Attrs{"axis": IntAttr(0)}, svConst(0, 0, 0), g.node("Unsqueeze", nil, pad, svConst(0)), svConst(0), g.node("Unsqueeze", nil, pad, svConst(0)))
	pads8 := g.node("Concat", Attrs{"axis": IntAttr(0)}, pads6, svConst(0, 0))
	rev := g.node("Slice", nil, g.node("Reshape", nil, pads8, svConst(-1, 2)), svConst(-1), svConst(-1<<62), svConst(0), svConst(-1))
	flat := g.node("Reshape", nil, g.node("Transpose", Attrs{"perm": IntsAttr(1, 0)}, rev), svConst(-1))
	p := g.node("Pad", nil, h, flat)
	if !p.Type.Shape.Equal(svShape("N,56,56,96")) {
		t.Errorf("pad by computed pads %v: %v, want [N,56,56,96]", flat.ShapeValue, p.Type.Shape)
	}

	// torch 2's unflatten(-1, (3, 768)) of MHA's packed projection [197, N, 2304]:
	// Concat(Shape[0 : 2 % 3], [3, 768], Shape[2 % 3 + 1 :]), the last piece empty.
	qkv := svIn("qkv", "197,N,2304")
	qs := g.node("Shape", nil, qkv)
	last := g.node("Mod", nil, svConst(2), svConst(3))
	lead := g.node("Slice", nil, qs, svConst(0), g.node("Reshape", nil, last, svConst(1)))
	after := g.node("Slice", nil, qs, g.node("Reshape", nil, g.node("Add", nil, last, svConst(1)), svConst(1)), svConst(1<<62))
	if got := after.Type.Shape; !got.Equal(svShape("0")) {
		t.Fatalf("slice past the last dim: %v, want [0]", got)
	}
	unflat := g.node("Reshape", nil, qkv, g.node("Concat", Attrs{"axis": IntAttr(0)}, lead, svConst(3, 768), after))
	if !unflat.Type.Shape.Equal(svShape("197,N,3,768")) {
		t.Errorf("unflatten by a shape with an empty piece: %v, want [197,N,3,768]", unflat.Type.Shape)
	}

	// A product with the batch is not a dim the IR can name: unknown, not wrong.
	bh := g.node("Mul", nil, g.node("Gather", nil, g.node("Shape", nil, x), svScalar(0)), svScalar(12))
	q := g.node("Reshape", nil, x, g.node("Concat", Attrs{"axis": IntAttr(0)}, g.node("Unsqueeze", nil, bh, svConst(0)), svConst(64, -1)))
	if !q.Type.Shape.Equal(svShape("?,64,?")) {
		t.Errorf("reshape by N*12: %v, want [?,64,?]", q.Type.Shape)
	}
}

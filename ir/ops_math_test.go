package ir

import "testing"

// TestNewOpsStaticInfer checks the shape rules of the ops added for
// torch.onnx's and tf2onnx's exports where the conformance suite cannot:
// symbolic batch dims, inputs whose values are not known when compiling,
// and the errors that name what was expected.
func TestNewOpsStaticInfer(t *testing.T) {
	f := func(s string) Type { return tsType(Float32, s) }
	i64 := func(s string) Type { return tsType(Int64, s) }
	b := func(s string) Type { return tsType(Bool, s) }
	for _, c := range []struct {
		what   string
		op     string
		attrs  Attrs
		in     []Type
		consts []*Tensor
		want   Type
	}{
		{"erf keeps a symbol", "Erf", nil, []Type{f("N,3")}, nil, f("N,3")},
		{"max of three", "Max", nil, []Type{f("N,1,4"), f("3,1"), f("4")}, nil, f("N,3,4")},
		{"pow of mixed dtypes", "Pow", nil, []Type{f("N,4"), tsType(Int64, "")}, nil, f("N,4")},
		{"equal is bool", "Equal", nil, []Type{i64("N,1"), i64("5")}, nil, b("N,5")},
		{"where broadcasts three", "Where", nil, []Type{b("1,5"), f("N,1"), f("")}, nil, f("N,5")},
		{"expand by a known shape", "Expand", nil, []Type{f("N,1,4"), i64("3")}, []*Tensor{nil, tsI64(1, 3, 1)}, f("N,3,4")},
		{"expand by a computed shape", "Expand", nil, []Type{f("4"), i64("3")}, nil, f("?,?,?")},
		{"tile", "Tile", nil, []Type{f("N,2,3"), i64("3")}, []*Tensor{nil, tsI64(1, 2, 3)}, f("N,4,9")},
		{"constant of a computed shape", "ConstantOfShape", nil, []Type{i64("2"), i64("1")}, nil, i64("?,?")},
		{"range of computed bounds", "Range", nil, []Type{i64(""), i64(""), i64("")}, nil, i64("?")},
		{"range", "Range", nil, []Type{f(""), f(""), f("")}, []*Tensor{FromFloat32([]float32{1}), FromFloat32([]float32{2}), FromFloat32([]float32{0.3})}, f("4")},
		{"reduce with computed axes", "ReduceSum", Attrs{"keepdims": IntAttr(0)}, []Type{f("N,3,4"), i64("1")}, nil, f("?,?")},
		{"reduce keepdims", "ReduceL2", nil, []Type{f("N,3,4"), i64("2")}, []*Tensor{nil, tsI64(1, -1)}, f("N,1,1")},
		{"argmax", "ArgMax", Attrs{"axis": IntAttr(-1), "keepdims": IntAttr(0)}, []Type{f("N,10")}, nil, i64("N")},
		{"depth to space", "DepthToSpace", Attrs{"blocksize": IntAttr(2)}, []Type{f("N,8,3,5")}, nil, f("N,2,6,10")},
		{"space to depth", "SpaceToDepth", Attrs{"blocksize": IntAttr(2)}, []Type{f("N,3,4,6")}, nil, f("N,12,2,3")},
		{"resize by known scales keeps the batch", "Resize", Attrs{"mode": StringAttr("linear")}, []Type{f("N,3,4,5"), {}, f("4")},
			[]*Tensor{nil, nil, FromFloat32([]float32{1, 1, 2, 1.5}, 4)}, f("N,3,8,7")},
		{"resize to computed sizes", "Resize", nil, []Type{f("N,3,4,5"), {}, {}, i64("4")}, nil, f("?,?,?,?")},
		{"resize to known sizes", "Resize", nil, []Type{f("N,3,4,5"), {}, {}, i64("4")}, []*Tensor{nil, nil, nil, tsI64(2, 3, 9, 9)}, f("2,3,9,9")},
		{"layer norm", "LayerNormalization", Attrs{"axis": IntAttr(-2)}, []Type{f("N,6,5"), f("6,5")}, nil, f("N,6,5")},
		{"group norm", "GroupNormalization", Attrs{"num_groups": IntAttr(2)}, []Type{f("N,4,3"), f("4"), f("4")}, nil, f("N,4,3")},
		{"gather elements", "GatherElements", Attrs{"axis": IntAttr(1)}, []Type{f("N,5"), i64("N,2")}, nil, f("N,2")},
		{"scatter nd", "ScatterND", nil, []Type{f("4,5"), i64("2,1"), f("2,5")}, nil, f("4,5")},
	} {
		got, err := tsInfer(c.op, c.attrs, 1, c.in, c.consts...)
		tsWant(t, c.what, got, err, c.want)
	}
	for _, c := range []struct {
		what   string
		op     string
		attrs  Attrs
		in     []Type
		consts []*Tensor
		parts  []string
	}{
		{"exp of an integer", "Exp", nil, []Type{i64("3")}, nil, []string{"n1 (Exp)", "want a float type"}},
		{"where of a float condition", "Where", nil, []Type{f("3"), f("3"), f("3")}, nil, []string{"condition", "want bool"}},
		{"mod of floats without fmod", "Mod", nil, []Type{f("3"), f("3")}, nil, []string{"want fmod=1"}},
		{"tile with too few repeats", "Tile", nil, []Type{f("2,3"), i64("1")}, nil, []string{"repeats has 1 entries", "want 2"}},
		{"depth to space of 6 channels", "DepthToSpace", Attrs{"blocksize": IntAttr(2)}, []Type{f("N,6,3,5")}, nil, []string{"6 channels", "multiple of blocksize"}},
		{"resize antialias", "Resize", Attrs{"antialias": IntAttr(1)}, []Type{f("1,3,4,5"), {}, f("4")}, nil, []string{"antialias"}},
		{"resize by scales and sizes", "Resize", nil, []Type{f("1,3,4,5"), {}, f("4"), i64("4")},
			[]*Tensor{nil, nil, FromFloat32([]float32{1, 1, 2, 2}, 4), tsI64(1, 3, 8, 10)}, []string{"both scales and sizes"}},
		{"group norm of 5 channels in 2 groups", "GroupNormalization", Attrs{"num_groups": IntAttr(2)}, []Type{f("N,5,3"), f("5"), f("5")}, nil, []string{"multiple of num_groups"}},
		{"layer norm stash_type 0", "LayerNormalization", Attrs{"stash_type": IntAttr(0)}, []Type{f("N,5"), f("5")}, nil, []string{"stash_type"}},
		{"range by 0", "Range", nil, []Type{i64(""), i64(""), i64("")}, []*Tensor{FromInt64([]int64{1}), FromInt64([]int64{5}), FromInt64([]int64{0})}, []string{"non-zero delta"}},
	} {
		_, err := tsInfer(c.op, c.attrs, 1, c.in, c.consts...)
		tsWantErr(t, c.what, err, c.parts...)
	}
}

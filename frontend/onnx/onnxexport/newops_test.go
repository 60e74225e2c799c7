package onnxexport_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx/onnxexport"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// opCase is a small graph of the ops the frontend gained for the CNN,
// segmentation and transformer exports of torch.onnx and tf2onnx, written at
// one opset. Several of these ops are newer than libonnx-testdata 1.12
// (Mish-18, GroupNormalization-18/21, Gelu-20), so ONNX Runtime is their
// peer (TestONNXRuntime runs every case); the others check the exporter's
// older forms (Reduce axes as attributes, ConstantOfShape's tensor
// attribute, per-group GroupNormalization) and the frontend's reading of them.
type opCase struct {
	name  string
	opset int64
	g     *ir.Graph
}

func opCases(t *testing.T) []opCase {
	var cases []opCase
	add := func(name string, opsets []int64, build func(b *builder, x *ir.Value) []*ir.Value) {
		b := newBuilder(t, name)
		x := b.input("x", ir.Float32, ir.SymDim("N"), ir.D(4), ir.D(6), ir.D(5))
		b.output(build(b, x)...)
		g := b.graph()
		for _, o := range opsets {
			cases = append(cases, opCase{name: fmt.Sprintf("%s-opset%d", name, o), opset: o, g: g})
		}
	}
	seq := func(n int, shape ...int) *ir.Tensor {
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(i%7)*0.29 - 0.8
		}
		return f32s(shape, d...)
	}
	add("gelu", []int64{20, 21}, func(b *builder, x *ir.Value) []*ir.Value {
		return []*ir.Value{
			b.one("Gelu", []*ir.Value{x}, nil),
			b.one("Gelu", []*ir.Value{x}, ir.Attrs{"approximate": ir.StringAttr("tanh")}),
		}
	})
	add("mish-softplus-elu-selu", []int64{18}, func(b *builder, x *ir.Value) []*ir.Value {
		return []*ir.Value{
			b.one("Mish", []*ir.Value{x}, nil),
			b.one("Softplus", []*ir.Value{x}, nil),
			b.one("Elu", []*ir.Value{x}, ir.Attrs{"alpha": ir.FloatAttr(0.7)}),
			b.one("Selu", []*ir.Value{x}, nil),
		}
	})
	// Per-group scale and bias: the exporter writes them per group before 21.
	gscale := constant("gscale", f32s([]int{4}, 0.5, 0.5, -2, -2))
	gbias := constant("gbias", f32s([]int{4}, 0.1, 0.1, 0.3, 0.3))
	add("groupnorm", []int64{18, 21}, func(b *builder, x *ir.Value) []*ir.Value {
		return []*ir.Value{b.one("GroupNormalization", []*ir.Value{x, gscale, gbias},
			ir.Attrs{"num_groups": ir.IntAttr(2), "epsilon": ir.FloatAttr(1e-3)})}
	})
	add("groupnorm-per-channel", []int64{21}, func(b *builder, x *ir.Value) []*ir.Value {
		return []*ir.Value{b.one("GroupNormalization", []*ir.Value{x, constant("cs", seq(4, 4)), constant("cb", seq(4, 4))},
			ir.Attrs{"num_groups": ir.IntAttr(2)})}
	})
	add("layernorm-instancenorm", []int64{17}, func(b *builder, x *ir.Value) []*ir.Value {
		ln := b.node("LayerNormalization", []*ir.Value{x, constant("ls", seq(30, 6, 5)), constant("lb", seq(30, 6, 5))},
			ir.Attrs{"axis": ir.IntAttr(-2)}, 3)
		in := b.one("InstanceNormalization", []*ir.Value{x, constant("is", seq(4, 4)), constant("ib", seq(4, 4))}, nil)
		return append(ln, in)
	})
	add("math", []int64{13, 21}, func(b *builder, x *ir.Value) []*ir.Value {
		e := b.one("Exp", []*ir.Value{x}, nil)
		two := constant("two", f32s(nil, 2))
		return []*ir.Value{
			b.one("Log", []*ir.Value{e}, nil),
			b.one("Sqrt", []*ir.Value{e}, nil),
			b.one("Erf", []*ir.Value{x}, nil),
			b.one("Pow", []*ir.Value{x, two}, nil),
			b.one("Reciprocal", []*ir.Value{e}, nil),
			b.one("Abs", []*ir.Value{b.one("Neg", []*ir.Value{x}, nil)}, nil),
			b.one("Round", []*ir.Value{b.one("Mul", []*ir.Value{x, constant("ten", f32s(nil, 10))}, nil)}, nil),
			b.one("Floor", []*ir.Value{x}, nil),
			b.one("Ceil", []*ir.Value{x}, nil),
			b.one("Max", []*ir.Value{x, constant("m", seq(5, 5)), e}, nil),
			b.one("Min", []*ir.Value{x, constant("m2", seq(6, 6, 1))}, nil),
			b.one("Sum", []*ir.Value{x, e, two}, nil),
			b.one("Where", []*ir.Value{b.one("Greater", []*ir.Value{x, constant("z", f32s(nil, 0))}, nil), x, two}, nil),
			b.one("Cast", []*ir.Value{b.one("Equal", []*ir.Value{b.one("Floor", []*ir.Value{e}, nil), constant("one", f32s(nil, 1))}, nil)}, ir.Attrs{"to": ir.IntAttr(1)}),
		}
	})
	add("reduce", []int64{13, 18}, func(b *builder, x *ir.Value) []*ir.Value {
		axes := constant("axes", i64s(1, -1))
		var outs []*ir.Value
		for _, op := range []string{"ReduceSum", "ReduceMax", "ReduceMin", "ReduceL2", "ReduceL1", "ReduceProd", "ReduceSumSquare", "ReduceLogSumExp"} {
			outs = append(outs, b.one(op, []*ir.Value{x, axes}, ir.Attrs{"keepdims": ir.IntAttr(0)}))
		}
		outs = append(outs, b.one("Cast", []*ir.Value{b.one("ArgMax", []*ir.Value{x}, ir.Attrs{"axis": ir.IntAttr(2)})}, ir.Attrs{"to": ir.IntAttr(1)}))
		return outs
	})
	add("shape-ops", []int64{13, 21}, func(b *builder, x *ir.Value) []*ir.Value {
		fill := b.one("ConstantOfShape", []*ir.Value{constant("cshape", i64s(2, 3)), constant("cval", f32s([]int{1}, 0.25))}, nil)
		rng := b.one("Range", []*ir.Value{constant("r0", f32s(nil, 0.5)), constant("r1", f32s(nil, 3)), constant("r2", f32s(nil, 0.75))}, nil)
		exp := b.one("Expand", []*ir.Value{constant("e", seq(5, 5)), b.one("Shape", []*ir.Value{x}, nil)}, nil)
		tile := b.one("Tile", []*ir.Value{x, constant("reps", i64s(1, 2, 1, 3))}, nil)
		d2s := b.one("DepthToSpace", []*ir.Value{x}, ir.Attrs{"blocksize": ir.IntAttr(2), "mode": ir.StringAttr("CRD")})
		s2d := b.one("SpaceToDepth", []*ir.Value{b.one("DepthToSpace", []*ir.Value{x}, ir.Attrs{"blocksize": ir.IntAttr(2)})}, ir.Attrs{"blocksize": ir.IntAttr(2)})
		idx := &ir.Tensor{DType: ir.Int64, Shape: []int{1, 4, 2, 5}, Data: make([]int64, 40)}
		for i := range idx.Data.([]int64) {
			idx.Data.([]int64)[i] = int64(i*7%6) - 3
		}
		ge := b.one("GatherElements", []*ir.Value{x, constant("gidx", idx)}, ir.Attrs{"axis": ir.IntAttr(2)})
		return []*ir.Value{fill, rng, exp, tile, d2s, s2d, ge}
	})
	add("resize", []int64{13, 19}, func(b *builder, x *ir.Value) []*ir.Value {
		scales := constant("scales", f32s([]int{4}, 1, 1, 2, 1.5))
		sizes := constant("sizes", i64s(2, 4, 9, 7))
		return []*ir.Value{
			b.one("Resize", []*ir.Value{x, nil, scales}, ir.Attrs{"mode": ir.StringAttr("nearest")}),
			b.one("Resize", []*ir.Value{x, nil, scales}, ir.Attrs{"mode": ir.StringAttr("linear"), "coordinate_transformation_mode": ir.StringAttr("align_corners")}),
			b.one("Resize", []*ir.Value{x, nil, nil, sizes}, ir.Attrs{"mode": ir.StringAttr("linear"), "coordinate_transformation_mode": ir.StringAttr("pytorch_half_pixel")}),
			b.one("Resize", []*ir.Value{x, nil, nil, sizes}, ir.Attrs{"mode": ir.StringAttr("cubic"), "nearest_mode": ir.StringAttr("floor")}),
			b.one("Resize", []*ir.Value{x, nil, scales}, ir.Attrs{"mode": ir.StringAttr("nearest"), "coordinate_transformation_mode": ir.StringAttr("asymmetric"), "nearest_mode": ir.StringAttr("floor")}),
		}
	})
	add("resize-opset19-forms", []int64{19}, func(b *builder, x *ir.Value) []*ir.Value {
		scales := constant("hscales", f32s([]int{4}, 1, 1, 1.7, 0.6))
		sizes := constant("asizes", i64s(9, 7))
		return []*ir.Value{
			b.one("Resize", []*ir.Value{x, nil, scales}, ir.Attrs{"mode": ir.StringAttr("linear"), "coordinate_transformation_mode": ir.StringAttr("half_pixel_symmetric")}),
			b.one("Resize", []*ir.Value{x, nil, nil, sizes}, ir.Attrs{"mode": ir.StringAttr("linear"), "axes": ir.IntsAttr(2, 3), "keep_aspect_ratio_policy": ir.StringAttr("not_larger")}),
			b.one("Resize", []*ir.Value{x, nil, nil, sizes}, ir.Attrs{"mode": ir.StringAttr("nearest"), "axes": ir.IntsAttr(2, 3), "keep_aspect_ratio_policy": ir.StringAttr("not_smaller"), "nearest_mode": ir.StringAttr("round_prefer_ceil")}),
		}
	})
	return cases
}

// TestOpCasesRoundTrip exports each case at its opset, reads the file back
// through the frontend, and checks that the reference executor computes the
// same outputs from both graphs: the exporter's older forms and the
// frontend's lowering of them agree.
func TestOpCasesRoundTrip(t *testing.T) {
	for _, c := range opCases(t) {
		t.Run(c.name, func(t *testing.T) {
			g2 := reimport(t, c.g, onnxexport.Options{Opset: c.opset})
			in := randomInputs(t, c.g, 7)
			want, err := ref.Run(c.g, in...)
			if err != nil {
				t.Fatalf("reference run: %v", err)
			}
			got, err := ref.Run(g2, in...)
			if err != nil {
				t.Fatalf("reference run of the re-imported graph: %v", err)
			}
			for i := range want {
				if rel, at := maxRelDiff(want[i], got[i]); rel > 1e-6 {
					t.Errorf("output %d differs after the round trip by %.3g at element %d (%v vs %v)", i, rel, at, got[i].AsFloat64(at), want[i].AsFloat64(at))
				}
			}
		})
	}
}

// TestOpCasesOlderOpsetErrors checks the forms that have no exact older
// spelling: the exporter names the opset they need.
func TestOpCasesOlderOpsetErrors(t *testing.T) {
	for _, c := range opCases(t) {
		if c.name != "gelu-opset20" && c.name != "groupnorm-per-channel-opset21" {
			continue
		}
		_, err := onnxexport.Encode(c.g, onnxexport.Options{Opset: 18})
		want := map[string]string{"gelu-opset20": "Gelu needs opset 20", "groupnorm-per-channel-opset21": "needs opset 21"}[c.name]
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s at opset 18: error %v, want one saying %q", c.name, err, want)
		}
	}
}

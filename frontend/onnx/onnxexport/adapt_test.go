package onnxexport_test

import (
	"strings"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx/onnxexport"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// adaptCase is a graph of newest-form nodes exported at an older opset.
type adaptCase struct {
	name  string
	opset int64
	build func(b *builder)
	in    []*ir.Tensor
	// want is the exported node lines, as nodeSummary writes them.
	want string
	// tol is the relative tolerance against the reference executor; 0
	// asks for identical bits.
	tol float64
	// absent lists attributes no node may keep (beyond newerAttrs).
	absent []string
}

// newerAttrs are attributes of the cases' ops with the opset that
// introduced them.
var newerAttrs = map[string]int64{
	"num_outputs": 18, "noop_with_empty_axes": 18, "start": 15, "end": 15, "allowzero": 14,
	"dilations": 19, "saturate": 19, "block_size": 21, "output_dtype": 21,
}

func adaptCases() []adaptCase {
	x2345 := func(b *builder) *ir.Value {
		return b.input("x", ir.Float32, ir.SymDim("N"), ir.D(3), ir.D(4), ir.D(5))
	}
	seq := func(n int, shape ...int) *ir.Tensor {
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(i%11)*0.37 - 1.9
		}
		return f32s(shape, d...)
	}
	xin := []*ir.Tensor{seq(2*3*4*5, 2, 3, 4, 5)}
	return []adaptCase{
		{name: "Shape start/end becomes Slice", opset: 13, in: xin,
			build: func(b *builder) {
				b.output(b.one("Shape", []*ir.Value{x2345(b)}, ir.Attrs{"start": ir.IntAttr(1), "end": ir.IntAttr(-1)}))
			},
			want: "Shape_0: Shape(x)->Shape_0_out0/full\nShape_0/Slice: Slice(Shape_0_out0/full,Shape_0_out0/starts,Shape_0_out0/ends,Shape_0_out0/axes)->Shape_0_out0\n"},
		{name: "Shape start/end kept at 15", opset: 15, in: xin,
			build: func(b *builder) {
				b.output(b.one("Shape", []*ir.Value{x2345(b)}, ir.Attrs{"start": ir.IntAttr(1), "end": ir.IntAttr(-1)}))
			},
			want: "Shape_0: Shape(x)->Shape_0_out0\n"},
		{name: "uneven num_outputs becomes split sizes", opset: 13, in: xin,
			build: func(b *builder) {
				b.output(b.node("Split", []*ir.Value{x2345(b)}, ir.Attrs{"axis": ir.IntAttr(3), "num_outputs": ir.IntAttr(3)}, 3)...)
			},
			want: "Split_0: Split(x,Split_0_out0/split)->Split_0_out0,Split_0_out1,Split_0_out2\n"},
		{name: "even num_outputs dropped", opset: 17, in: xin,
			build: func(b *builder) {
				b.output(b.node("Split", []*ir.Value{x2345(b)}, ir.Attrs{"axis": ir.IntAttr(2), "num_outputs": ir.IntAttr(2)}, 2)...)
			},
			want: "Split_0: Split(x)->Split_0_out0,Split_0_out1\n"},
		{name: "ReduceMean axes input becomes attribute", opset: 13, in: xin,
			build: func(b *builder) {
				x := x2345(b)
				b.output(b.one("ReduceMean", []*ir.Value{x, constant("axes", i64s(1, -1))}, ir.Attrs{"keepdims": ir.IntAttr(0)}))
				b.output(b.one("ReduceMean", []*ir.Value{x}, ir.Attrs{"noop_with_empty_axes": ir.IntAttr(1)}))
				b.output(b.one("ReduceMean", []*ir.Value{x}, nil))
			},
			want: "ReduceMean_0: ReduceMean(x)->ReduceMean_0_out0\nReduceMean_1: Identity(x)->ReduceMean_1_out0\nReduceMean_2: ReduceMean(x)->ReduceMean_2_out0\n"},
		{name: "ReduceMean axes input kept at 18", opset: 18, in: xin,
			build: func(b *builder) {
				b.output(b.one("ReduceMean", []*ir.Value{x2345(b), constant("axes", i64s(1, -1))}, nil))
			},
			want: "ReduceMean_0: ReduceMean(x,axes)->ReduceMean_0_out0\n"},
		{name: "HardSwish becomes HardSigmoid times x", opset: 13, in: xin, tol: 1e-6,
			build: func(b *builder) { b.output(b.one("HardSwish", []*ir.Value{x2345(b)}, nil)) },
			want:  "HardSwish_0: HardSigmoid(x)->HardSwish_0_out0/gate\nHardSwish_0/Mul: Mul(x,HardSwish_0_out0/gate)->HardSwish_0_out0\n"},
		{name: "QuantizeLinear output_dtype becomes a zero point", opset: 13, in: xin,
			build: func(b *builder) {
				b.output(b.one("QuantizeLinear", []*ir.Value{x2345(b), constant("s", f32s([]int{3}, 0.05, 0.1, 0.02))},
					ir.Attrs{"axis": ir.IntAttr(1), "output_dtype": ir.IntAttr(3), "saturate": ir.IntAttr(1), "block_size": ir.IntAttr(0)}))
			},
			want: "QuantizeLinear_0: QuantizeLinear(x,s,QuantizeLinear_0_out0/zero_point)->QuantizeLinear_0_out0\n"},
		{name: "attributes newer than opset 21 that state the default are dropped", opset: 21, in: xin,
			absent: []string{"precision", "output_dtype"},
			build: func(b *builder) {
				q := b.one("QuantizeLinear", []*ir.Value{x2345(b), constant("s", f32s(nil, 0.05))}, ir.Attrs{"precision": ir.IntAttr(1)})
				b.output(b.one("DequantizeLinear", []*ir.Value{q, constant("s2", f32s(nil, 0.05))}, ir.Attrs{"output_dtype": ir.IntAttr(1)}))
			},
			want: "QuantizeLinear_0: QuantizeLinear(x,s)->QuantizeLinear_0_out0\nDequantizeLinear_1: DequantizeLinear(QuantizeLinear_0_out0,s2)->DequantizeLinear_1_out0\n"},
		{name: "Pad axes input becomes full pads", opset: 13, in: xin,
			build: func(b *builder) {
				b.output(b.one("Pad", []*ir.Value{x2345(b), constant("pads", i64s(1, 0, 2, -1)), nil, constant("axes", i64s(-1, 1))},
					ir.Attrs{"mode": ir.StringAttr("edge")}))
			},
			want: "Pad_0: Pad(x,Pad_0_out0/pads)->Pad_0_out0\n"},
		{name: "defaults that older opsets lack are dropped", opset: 13, in: xin,
			build: func(b *builder) {
				x := x2345(b)
				r := b.one("Reshape", []*ir.Value{x, constant("shape", i64s(0, 12, 5))}, ir.Attrs{"allowzero": ir.IntAttr(0)})
				p := b.one("AveragePool", []*ir.Value{x}, ir.Attrs{"kernel_shape": ir.IntsAttr(2, 2), "dilations": ir.IntsAttr(1, 1)})
				c := b.one("Cast", []*ir.Value{x}, ir.Attrs{"to": ir.IntAttr(6), "saturate": ir.IntAttr(1)})
				b.output(r, p, c)
			},
			want: "Reshape_0: Reshape(x,shape)->Reshape_0_out0\nAveragePool_1: AveragePool(x)->AveragePool_1_out0\nCast_2: Cast(x)->Cast_2_out0\n"},
	}
}

// TestOlderOpsets exports nodes in their newest form at opsets that predate
// it. Each case states the node lines the older opset must get, and the
// re-imported graph must compute what the original does on the reference
// executor (bit for bit, but for HardSwish, whose opset-13 form multiplies
// by 1/6 instead of dividing by 6).
func TestOlderOpsets(t *testing.T) {
	for _, c := range adaptCases() {
		t.Run(c.name, func(t *testing.T) {
			b := newBuilder(t, "adapt")
			c.build(b)
			g := b.graph()
			data, err := onnxexport.Encode(g, onnxexport.Options{Opset: c.opset})
			if err != nil {
				t.Fatal(err)
			}
			m := decodeModel(t, data)
			if got := nodeSummary(m.GetGraph()); got != c.want {
				t.Errorf("nodes at opset %d:\n%s\nwant:\n%s", c.opset, got, c.want)
			}
			// No attribute newer than the opset may remain.
			for _, n := range m.GetGraph().GetNode() {
				for _, a := range n.GetAttribute() {
					if since, ok := newerAttrs[a.GetName()]; ok && since > c.opset {
						t.Errorf("node %s keeps attribute %s (opset %d) at opset %d", n.GetName(), a.GetName(), since, c.opset)
					}
					for _, name := range c.absent {
						if a.GetName() == name {
							t.Errorf("node %s keeps attribute %s", n.GetName(), name)
						}
					}
				}
			}
			want, err := ref.Run(g, c.in...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ref.Run(reimport(t, g, onnxexport.Options{Opset: c.opset}), c.in...)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if c.tol > 0 {
					if d, at := maxRelDiff(want[i], got[i]); d > c.tol {
						t.Errorf("output %d differs by %.3g at %d", i, d, at)
					}
				} else if msg := sameBits(want[i], got[i]); msg != "" {
					t.Errorf("output %d: %s", i, msg)
				}
			}
		})
	}
}

// TestOlderOpsetRefusals checks nodes that have no exact older form.
func TestOlderOpsetRefusals(t *testing.T) {
	cases := []struct {
		name  string
		opset int64
		build func(b *builder)
		want  []string
	}{
		{"computed ReduceMean axes", 17, func(b *builder) {
			x := b.input("x", ir.Float32, ir.D(2), ir.D(3))
			axes := b.input("axes", ir.Int64, ir.D(1))
			b.output(b.one("ReduceMean", []*ir.Value{x, axes}, nil))
		}, []string{`node "ReduceMean_0"`, "needs opset 18", "exporting opset 17"}},
		{"Pad wrap", 18, func(b *builder) {
			x := b.input("x", ir.Float32, ir.D(2), ir.D(3))
			b.output(b.one("Pad", []*ir.Value{x, constant("pads", i64s(0, 1, 0, 1))}, ir.Attrs{"mode": ir.StringAttr("wrap")}))
		}, []string{`node "Pad_0"`, "mode wrap needs opset 19"}},
		{"int16 quantization", 20, func(b *builder) {
			x := b.input("x", ir.Float32, ir.D(4))
			zp := constant("zp", &ir.Tensor{DType: ir.Int16, Shape: []int{}, Data: []int16{0}})
			b.output(b.one("QuantizeLinear", []*ir.Value{x, constant("s", f32s(nil, 0.5)), zp}, nil))
		}, []string{`node "QuantizeLinear_0"`, "i16", "needs opset 21"}},
		{"AveragePool dilations", 18, func(b *builder) {
			x := b.input("x", ir.Float32, ir.D(1), ir.D(1), ir.D(5), ir.D(5))
			b.output(b.one("AveragePool", []*ir.Value{x}, ir.Attrs{"kernel_shape": ir.IntsAttr(2, 2), "dilations": ir.IntsAttr(2, 2)}))
		}, []string{`node "AveragePool_0"`, "dilations [2 2] needs opset 19"}},
		{"Reshape allowzero with a zero", 13, func(b *builder) {
			x := b.input("x", ir.Float32, ir.D(0), ir.D(3))
			b.output(b.one("Reshape", []*ir.Value{x, constant("shape", i64s(3, 0))}, ir.Attrs{"allowzero": ir.IntAttr(1)}))
		}, []string{`node "Reshape_0"`, "allowzero=1", "needs opset 14"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBuilder(t, "refuse")
			c.build(b)
			_, err := onnxexport.Encode(b.graph(), onnxexport.Options{Opset: c.opset})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

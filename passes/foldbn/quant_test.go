package foldbn

import (
	"math/rand/v2"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// quantConvBN builds x → Conv(x, DequantizeLinear(q, scale, 0)) →
// BatchNormalization → Tanh, a QAT export's layer (half of q zero), with a
// gamma of either sign, so that some channels fold with a negative factor.
// With minInt8 channel 0 holds −128 and its factor is negative.
func quantConvBN(r *rand.Rand, perTensor bool, minInt8 bool) (*ir.Graph, []*ir.Tensor) {
	c, m := 8, 6
	x := &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, 2, c, 5, 5)}
	q := ir.NewTensor(ir.Int8, m, c, 3, 3)
	for i := range q.Int8s() {
		if i%4 < 2 {
			q.Int8s()[i] = int8(r.IntN(255) - 127)
		}
	}
	if minInt8 {
		q.Int8s()[0] = -128
	}
	qv := ir.NewConst("q", q)
	scale := ir.NewTensor(ir.Float32, m)
	for i := range scale.Float32s() {
		scale.Float32s()[i] = float32(0.001 + 0.01*r.Float64())
	}
	attrs := ir.Attrs{"axis": ir.IntAttr(0)}
	if perTensor {
		scale = ir.FromFloat32([]float32{0.004})
		attrs = ir.Attrs{}
	}
	w := &ir.Value{Name: "w"}
	dq := &ir.Node{Name: "dq", Op: "DequantizeLinear", Inputs: []*ir.Value{qv, ir.NewConst("s", scale), ir.NewConst("z", ir.NewTensor(ir.Int8, scale.Len()))},
		Outputs: []*ir.Value{w}, Attrs: attrs}
	bn := bnParams(r, "bn", m)
	bn[0].Const.Float32s()[0] = 1.25
	bn[0].Const.Float32s()[1] = -0.8
	if minInt8 {
		bn[0].Const.Float32s()[0] = -1.25
	}
	g := oneNodeBN("Conv", ir.Attrs{"pads": ir.IntsAttr(1, 1, 1, 1)}, x, []*ir.Value{w}, bn, 1e-5)
	g.Nodes = append([]*ir.Node{dq}, g.Nodes...)
	return g, []*ir.Tensor{randTensor(r, -1, 1, 2, c, 5, 5)}
}

// TestFoldIntoQuantizedWeight checks the QAT fold: the BatchNormalization
// goes, the int8 weights keep their magnitudes (negated in the channels
// whose factor is negative), the scale becomes per channel and positive,
// and the graph computes what it did to 1e-4; a channel with −128 and a
// negative factor is left unfolded with its reason.
func TestFoldIntoQuantizedWeight(t *testing.T) {
	for _, perTensor := range []bool{false, true} {
		r := rand.New(rand.NewPCG(3, 4))
		before, in := quantConvBN(r, perTensor, false)
		r = rand.New(rand.NewPCG(3, 4))
		after, _ := quantConvBN(r, perTensor, false)
		for _, g := range []*ir.Graph{before, after} {
			if err := ir.InferShapes(g); err != nil {
				t.Fatal(err)
			}
		}
		stats := runPass(t, after)
		if stats["batchnorms folded"] != 1 {
			t.Fatalf("per-tensor %v: stats %v, want one fold", perTensor, stats)
		}
		dq := after.Nodes[0]
		if dq.Op != "DequantizeLinear" || dq.Attrs.Int("axis", 1) != 0 {
			t.Fatalf("first node %s %v, want the weight's DequantizeLinear on axis 0", dq.Op, dq.Attrs)
		}
		oldQ, newQ := before.Nodes[0].Inputs[0].Const.Int8s(), dq.Inputs[0].Const.Int8s()
		gamma := before.Nodes[2].Inputs[1].Const.Float32s()
		inner := len(oldQ) / len(gamma)
		for i := range oldQ {
			want := oldQ[i]
			if gamma[i/inner] < 0 {
				want = -want
			}
			if newQ[i] != want {
				t.Fatalf("per-tensor %v: weight %d is %d, want %d", perTensor, i, newQ[i], want)
			}
		}
		for k, s := range dq.Inputs[1].Const.Float32s() {
			if !(s > 0) {
				t.Errorf("per-tensor %v: scale[%d] = %v, want > 0", perTensor, k, s)
			}
		}
		compareRuns(t, before, after, in)
	}
	r := rand.New(rand.NewPCG(5, 6))
	g, _ := quantConvBN(r, false, true)
	if err := ir.InferShapes(g); err != nil {
		t.Fatal(err)
	}
	if stats := runPass(t, g); stats[whyQuantNeg] != 1 {
		t.Errorf("stats %v, want the -128 refusal", stats)
	}
}

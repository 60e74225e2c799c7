package foldbn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/passes"
)

// runPass runs fold-batchnorm with verification and returns its statistics.
func runPass(t *testing.T, g *ir.Graph) map[string]int {
	t.Helper()
	p, err := passes.Build([]passes.StepSpec{{Name: Pass.Name}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := (&passes.Manager{VerifyEach: true}).Run(g, p)
	if err != nil {
		t.Fatal(err)
	}
	return rep.Stats[Pass.Name]
}

func randTensor(r *rand.Rand, lo, hi float64, shape ...int) *ir.Tensor {
	d := make([]float32, ir.NumElements(shape))
	for i := range d {
		d[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return ir.FromFloat32(d, shape...)
}

// bnParams returns random normalization constants for c channels: scale
// of either sign, variance in [0.1, 2).
func bnParams(r *rand.Rand, prefix string, c int) []*ir.Value {
	return []*ir.Value{
		ir.NewConst(prefix+"_scale", randTensor(r, -2, 2, c)),
		ir.NewConst(prefix+"_bias", randTensor(r, -1, 1, c)),
		ir.NewConst(prefix+"_mean", randTensor(r, -1, 1, c)),
		ir.NewConst(prefix+"_var", randTensor(r, 0.1, 2, c)),
	}
}

// producerBN builds x → op(x, w, b) → BatchNormalization → Sigmoid; build
// is called twice with equal seeds to get two identical graphs.
type caseSpec struct {
	name  string
	build func(r *rand.Rand) (*ir.Graph, []*ir.Tensor)
}

func oneNodeBN(op string, attrs ir.Attrs, x *ir.Value, consts []*ir.Value, bn []*ir.Value, eps float32) *ir.Graph {
	y := &ir.Value{Name: "y"}
	n := &ir.Value{Name: "n"}
	out := &ir.Value{Name: "out"}
	return &ir.Graph{Name: "g", Inputs: []*ir.Value{x}, Outputs: []*ir.Value{out}, Nodes: []*ir.Node{
		{Name: "p", Op: op, Inputs: append([]*ir.Value{x}, consts...), Outputs: []*ir.Value{y}, Attrs: attrs},
		{Name: "bn", Op: "BatchNormalization", Inputs: append([]*ir.Value{y}, bn...), Outputs: []*ir.Value{n}, Attrs: ir.Attrs{"epsilon": ir.FloatAttr(eps)}},
		{Name: "sig", Op: "Tanh", Inputs: []*ir.Value{n}, Outputs: []*ir.Value{out}},
	}}
}

// TestFoldMatchesUnfolded builds Conv, ConvTranspose and Gemm layers with
// random weights and normalization statistics, and checks that the folded
// graph computes what the original does (the reference executor runs both)
// to 1e-4 relative, and that no BatchNormalization is left.
func TestFoldMatchesUnfolded(t *testing.T) {
	cases := []caseSpec{}
	for _, group := range []int{1, 2} {
		for _, bias := range []bool{false, true} {
			cases = append(cases, caseSpec{fmt.Sprintf("conv g%d bias=%v", group, bias), func(r *rand.Rand) (*ir.Graph, []*ir.Tensor) {
				c, m := 4, 6
				x := &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, 2, c, 7, 7)}
				consts := []*ir.Value{ir.NewConst("w", randTensor(r, -1, 1, m, c/group, 3, 3))}
				if bias {
					consts = append(consts, ir.NewConst("b", randTensor(r, -1, 1, m)))
				}
				attrs := ir.Attrs{"group": ir.IntAttr(int64(group)), "strides": ir.IntsAttr(2, 2), "pads": ir.IntsAttr(1, 1, 1, 1)}
				g := oneNodeBN("Conv", attrs, x, consts, bnParams(r, "bn", m), 1e-5)
				return g, []*ir.Tensor{randTensor(r, -1, 1, 2, c, 7, 7)}
			}})
			cases = append(cases, caseSpec{fmt.Sprintf("convtranspose g%d bias=%v", group, bias), func(r *rand.Rand) (*ir.Graph, []*ir.Tensor) {
				c, mg := 4, 3
				x := &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, 1, c, 5, 5)}
				consts := []*ir.Value{ir.NewConst("w", randTensor(r, -1, 1, c, mg, 3, 3))}
				if bias {
					consts = append(consts, ir.NewConst("b", randTensor(r, -1, 1, mg*group)))
				}
				attrs := ir.Attrs{"group": ir.IntAttr(int64(group)), "strides": ir.IntsAttr(2, 2)}
				g := oneNodeBN("ConvTranspose", attrs, x, consts, bnParams(r, "bn", mg*group), 1e-3)
				return g, []*ir.Tensor{randTensor(r, -1, 1, 1, c, 5, 5)}
			}})
		}
	}
	for _, transB := range []int64{0, 1} {
		for _, cshape := range [][]int{nil, {}, {5}, {1, 5}, {3, 1}, {3, 5}} {
			cases = append(cases, caseSpec{fmt.Sprintf("gemm transB=%d C%v", transB, cshape), func(r *rand.Rand) (*ir.Graph, []*ir.Tensor) {
				m, k, n := 3, 4, 5
				x := &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, m, k)}
				wshape := []int{k, n}
				if transB == 1 {
					wshape = []int{n, k}
				}
				consts := []*ir.Value{ir.NewConst("w", randTensor(r, -1, 1, wshape...))}
				if cshape != nil {
					consts = append(consts, ir.NewConst("c", randTensor(r, -1, 1, cshape...)))
				}
				attrs := ir.Attrs{"transB": ir.IntAttr(transB), "alpha": ir.FloatAttr(0.75), "beta": ir.FloatAttr(-1.5)}
				g := oneNodeBN("Gemm", attrs, x, consts, bnParams(r, "bn", n), 1e-5)
				return g, []*ir.Tensor{randTensor(r, -1, 1, m, k)}
			}})
		}
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, in := c.build(rand.New(rand.NewPCG(uint64(i), 7)))
			after, _ := c.build(rand.New(rand.NewPCG(uint64(i), 7)))
			if err := ir.InferShapes(before); err != nil {
				t.Fatal(err)
			}
			if err := ir.InferShapes(after); err != nil {
				t.Fatal(err)
			}
			stats := runPass(t, after)
			if stats["batchnorms folded"] != 1 {
				t.Fatalf("stats %v, want one batchnorm folded", stats)
			}
			for _, n := range after.Nodes {
				if n.Op == "BatchNormalization" {
					t.Fatalf("a BatchNormalization is left")
				}
			}
			compareRuns(t, before, after, in)
		})
	}
}

// compareRuns runs both graphs and checks every output element to 1e-4
// relative (to the element, or to the output's mean magnitude for
// elements near zero, where relative error means nothing).
func compareRuns(t *testing.T, before, after *ir.Graph, in []*ir.Tensor) {
	t.Helper()
	want, err := ref.Run(before, in...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ref.Run(after, in...)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		w, g := want[i].Float32s(), got[i].Float32s()
		if len(w) != len(g) {
			t.Fatalf("output %d: %d elements, want %d", i, len(g), len(w))
		}
		mean := 0.0
		for _, v := range w {
			mean += math.Abs(float64(v)) / float64(len(w))
		}
		for j := range w {
			tol := 1e-4 * max(math.Abs(float64(w[j])), mean)
			if d := math.Abs(float64(g[j]) - float64(w[j])); !(d <= tol) {
				t.Fatalf("output %d[%d] = %v, want %v (difference %g > %g)", i, j, g[j], w[j], d, tol)
			}
		}
	}
}

// TestFoldReasons checks the statistics of normalizations that stay.
func TestFoldReasons(t *testing.T) {
	x := &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, 1, 2, 3, 3)}
	s := &ir.Value{Name: "s", Type: ir.TensorType(ir.Float32, 2)}
	wIn := &ir.Value{Name: "win", Type: ir.TensorType(ir.Float32, 2, 2, 1, 1)}
	w := ir.NewConst("w", ir.FromFloat32([]float32{1, 2, 3, 4}, 2, 2, 1, 1))
	one := ir.NewConst("one", ir.FromFloat32([]float32{1, 1}, 2))
	zero := ir.NewConst("zero", ir.FromFloat32([]float32{0, 0}, 2))
	negVar := ir.NewConst("negvar", ir.FromFloat32([]float32{1, -2}, 2))
	v := func(name string) *ir.Value { return &ir.Value{Name: name} }
	node := func(name, op string, out *ir.Value, in ...*ir.Value) *ir.Node {
		return &ir.Node{Name: name, Op: op, Inputs: in, Outputs: []*ir.Value{out}}
	}
	c1, c2, c3, c4, c5, r6 := v("c1"), v("c2"), v("c3"), v("c4"), v("c5"), v("r6")
	outs := []*ir.Value{v("o1"), v("o2"), v("o3"), v("o4"), v("o5"), v("o6"), v("u1")}
	g := &ir.Graph{Name: "g", Inputs: []*ir.Value{x, s, wIn}, Nodes: []*ir.Node{
		node("conv1", "Conv", c1, x, w),
		node("bn1", "BatchNormalization", outs[0], c1, one, zero, zero, one),
		node("use1", "Relu", outs[6], c1), // a second reader of c1
		node("conv2", "Conv", c2, x, w),
		node("bn2", "BatchNormalization", outs[1], c2, one, zero, zero, one),
		node("conv3", "Conv", c3, x, w),
		node("bn3", "BatchNormalization", outs[2], c3, s, zero, zero, one),
		node("conv4", "Conv", c4, x, wIn),
		node("bn4", "BatchNormalization", outs[3], c4, one, zero, zero, one),
		node("conv5", "Conv", c5, x, w),
		node("bn5", "BatchNormalization", outs[4], c5, one, zero, zero, negVar),
		node("relu6", "Relu", r6, x),
		node("bn6", "BatchNormalization", outs[5], r6, one, zero, zero, one),
	}}
	g.Outputs = append(append([]*ir.Value{}, outs...), c2)
	if err := ir.InferShapes(g); err != nil {
		t.Fatal(err)
	}
	stats := runPass(t, g)
	want := map[string]int{whyShared: 1, whyGraphOut: 1, whyParams: 1, whyWeight: 1, whyNonFinite: 1, whyProducer: 1}
	if fmt.Sprint(stats) != fmt.Sprint(want) {
		t.Errorf("stats\n%v\nwant\n%v", stats, want)
	}
	if len(g.Nodes) != 13 {
		t.Errorf("%d nodes left, want all 13", len(g.Nodes))
	}
}

// TestFoldSharedWeightUntouched checks that folding never writes into a
// constant's tensor: the original data stays, even when the tensor is held
// elsewhere (another graph built from the same weights).
func TestFoldSharedWeightUntouched(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	wt := randTensor(r, -1, 1, 3, 2, 1, 1)
	orig := append([]float32{}, wt.Float32s()...)
	x := &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, 1, 2, 2, 2)}
	g := oneNodeBN("Conv", nil, x, []*ir.Value{ir.NewConst("w", wt)}, bnParams(r, "bn", 3), 1e-5)
	if err := ir.InferShapes(g); err != nil {
		t.Fatal(err)
	}
	runPass(t, g)
	if fmt.Sprint(wt.Float32s()) != fmt.Sprint(orig) {
		t.Errorf("the original weight tensor changed")
	}
	if w := g.Nodes[0].Inputs[1]; w.Const == wt || w.Name != "w" {
		t.Errorf("conv weight is %q (same tensor: %v), want a new constant named w", w.Name, w.Const == wt)
	}
}

// TestFoldIntoNamedOutput checks that a normalization whose output is a
// graph output hands its name to the producer's output, and that readers
// of it read the producer.
func TestFoldIntoNamedOutput(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x := &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, 1, 2, 2, 2)}
	g := oneNodeBN("Conv", nil, x, []*ir.Value{ir.NewConst("w", randTensor(r, -1, 1, 3, 2, 1, 1))}, bnParams(r, "bn", 3), 1e-5)
	n := g.Nodes[1].Outputs[0]
	g.Outputs = append(g.Outputs, n)
	if err := ir.InferShapes(g); err != nil {
		t.Fatal(err)
	}
	runPass(t, g)
	conv := g.Nodes[0]
	if conv.Outputs[0].Name != "n" || g.Outputs[1] != conv.Outputs[0] || g.Nodes[1].Inputs[0] != conv.Outputs[0] {
		t.Errorf("conv output %q, graph output %q, tanh reads %q; want all the conv's output named n",
			conv.Outputs[0].Name, g.Outputs[1].Name, g.Nodes[1].Inputs[0].Name)
	}
}

package padchannels_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/ir/sqir"
	_ "github.com/sqc-project/sqc/passes/all"
	"github.com/sqc-project/sqc/passes/passtest"
)

// randomInputs makes one f32 tensor per graph input, uniform in [-2, 2).
func randomInputs(t *testing.T, g *ir.Graph, r *rand.Rand) []*ir.Tensor {
	t.Helper()
	var ins []*ir.Tensor
	for _, v := range g.Inputs {
		dims, ok := v.Type.Shape.Ints()
		if !ok || v.Type.DType != ir.Float32 {
			t.Fatalf("input %q is %v; the test feeds static f32 inputs only", v.Name, v.Type)
		}
		x := ir.NewTensor(ir.Float32, dims...)
		for i := range x.Float32s() {
			x.Float32s()[i] = float32(r.Float64()*4 - 2)
		}
		ins = append(ins, x)
	}
	return ins
}

// sameValues compares outputs up to float32 rounding: |a-b| <= 1e-5·max(1,
// |a|). Padding adds only 0·0 products, but the reference GEMM chooses its
// kernel and blocking by matrix size, so a padded convolution may sum its
// (unchanged) non-zero products in another order or with fused
// multiply-adds and round differently in the last bits (measured: at most
// 1.3e-6 relative over 1000 random convolutions; input-channel padding alone
// is bit-exact in 231 of 232). TestRandomConvs checks the padded results
// against an exact float64 convolution instead.
func sameValues(t *testing.T, what string, want, got []*ir.Tensor) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%s: %d outputs, want %d", what, len(got), len(want))
	}
	for i := range want {
		if !ir.ShapeOf(want[i].Shape...).Equal(ir.ShapeOf(got[i].Shape...)) {
			t.Fatalf("%s: output %d has shape %v, want %v", what, i, got[i].Shape, want[i].Shape)
		}
		for j := 0; j < want[i].Len(); j++ {
			a, b := want[i].AsFloat64(j), got[i].AsFloat64(j)
			if math.Abs(a-b) > 1e-5*math.Max(1, math.Abs(a)) || math.IsNaN(a) != math.IsNaN(b) {
				t.Fatalf("%s: output %d element %d is %v, want %v", what, i, j, b, a)
			}
		}
	}
}

// TestTestdataComputesTheSame runs every .sqir test of this package on the
// reference executor before and after its pipeline.
func TestTestdataComputesTheSame(t *testing.T) {
	files, err := filepath.Glob("testdata/*.sqir")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			test, err := passtest.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			g := test.Graph
			ins := randomInputs(t, g, rand.New(rand.NewPCG(1, 2)))
			want, err := ref.Run(g, ins...)
			if err != nil {
				t.Fatal(err)
			}
			passtest.Run(t, g, test.Pipeline)
			got, err := ref.Run(g, ins...)
			if err != nil {
				t.Fatal(err)
			}
			sameValues(t, f, want, got)
		})
	}
}

// randomConvGraph builds x → conv → y with random geometry: C input and K
// output channels, kernel, stride, dilation and padding, with or without
// bias; as a FusedConv it may add a residual and apply relu or clip.
func randomConvGraph(r *rand.Rand) (*ir.Graph, string) {
	C, K := 1+r.IntN(9), 1+r.IntN(9)
	kh, kw := 1+r.IntN(3), 1+r.IntN(3)
	sh, sw := 1+r.IntN(2), 1+r.IntN(2)
	dh, dw := 1+r.IntN(2), 1+r.IntN(2)
	ph, pw := r.IntN(2), r.IntN(2)
	H, W := (kh-1)*dh+1+r.IntN(6), (kw-1)*dw+1+r.IntN(6)
	N := 1 + r.IntN(2)
	randT := func(shape ...int) *ir.Tensor {
		t := ir.NewTensor(ir.Float32, shape...)
		for i := range t.Float32s() {
			t.Float32s()[i] = float32(r.Float64()*2 - 1)
		}
		return t
	}
	x := &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, N, C, H, W)}
	w := ir.NewConst("w", randT(K, C, kh, kw))
	inputs := []*ir.Value{x, w}
	if r.IntN(2) == 0 {
		inputs = append(inputs, ir.NewConst("b", randT(K)))
	}
	attrs := ir.Attrs{
		"strides":   ir.IntsAttr(int64(sh), int64(sw)),
		"dilations": ir.IntsAttr(int64(dh), int64(dw)),
		"pads":      ir.IntsAttr(int64(ph), int64(pw), int64(ph), int64(pw)),
	}
	op := "Conv"
	g := &ir.Graph{Name: "conv", Inputs: []*ir.Value{x}}
	y := &ir.Value{Name: "y"}
	n := &ir.Node{Name: "conv", Op: op, Inputs: inputs, Outputs: []*ir.Value{y}, Attrs: attrs}
	if r.IntN(2) == 0 {
		n.Op = "FusedConv"
		switch r.IntN(3) {
		case 1:
			attrs["activation"] = ir.StringAttr("relu")
		case 2:
			attrs["activation"] = ir.StringAttr("clip")
			attrs["clip_min"] = ir.FloatAttr(-0.5)
			attrs["clip_max"] = ir.FloatAttr(0.75)
		}
		if r.IntN(2) == 0 {
			// The residual must have the output's shape; infer it first.
			if err := ir.InferNode(n); err == nil {
				res := &ir.Value{Name: "res", Type: y.Type}
				g.Inputs = append(g.Inputs, res)
				if len(n.Inputs) == 2 {
					n.Inputs = append(n.Inputs, nil)
				}
				n.Inputs = append(n.Inputs, res)
			}
		}
	}
	g.Nodes = []*ir.Node{n}
	g.Outputs = []*ir.Value{y}
	return g, fmt.Sprintf("%s C=%d K=%d kernel=%dx%d stride=%dx%d dilation=%dx%d pads=%d,%d input=%dx%d", n.Op, C, K, kh, kw, sh, sw, dh, dw, ph, pw, H, W)
}

// exactConv computes a 2-d Conv/FusedConv node in float64, directly from
// its definition, and for each output the float32 rounding-error bound
// γ·Σ|terms| of a sum of the node's kN products, its bias and residual.
func exactConv(n *ir.Node, ins []*ir.Tensor) (exact, bound []float64) {
	x := ins[0]
	w := n.Inputs[1].Const
	N, C, H, W := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	K, R, S := w.Shape[0], w.Shape[2], w.Shape[3]
	st, dl, pd := n.Attrs.Ints("strides"), n.Attrs.Ints("dilations"), n.Attrs.Ints("pads")
	OH := (H+int(pd[0]+pd[2])-(R-1)*int(dl[0])-1)/int(st[0]) + 1
	OW := (W+int(pd[1]+pd[3])-(S-1)*int(dl[1])-1)/int(st[1]) + 1
	act, lo, hi, _ := ir.FusedActivation(n.Attrs)
	gamma := float64(C*R*S+3) * math.Ldexp(1, -23)
	for b := 0; b < N; b++ {
		for k := 0; k < K; k++ {
			for oy := 0; oy < OH; oy++ {
				for ox := 0; ox < OW; ox++ {
					sum, abs := 0.0, 0.0
					if bv := n.Input(2); bv != nil {
						sum, abs = bv.Const.AsFloat64(k), math.Abs(bv.Const.AsFloat64(k))
					}
					for c := 0; c < C; c++ {
						for r := 0; r < R; r++ {
							for q := 0; q < S; q++ {
								iy := oy*int(st[0]) - int(pd[0]) + r*int(dl[0])
								ix := ox*int(st[1]) - int(pd[1]) + q*int(dl[1])
								if iy < 0 || iy >= H || ix < 0 || ix >= W {
									continue
								}
								p := w.AsFloat64(((k*C+c)*R+r)*S+q) * x.AsFloat64(((b*C+c)*H+iy)*W+ix)
								sum += p
								abs += math.Abs(p)
							}
						}
					}
					if n.Op == "FusedConv" && n.Input(3) != nil {
						rv := ins[1].AsFloat64(((b*K+k)*OH+oy)*OW + ox)
						sum += rv
						abs += math.Abs(rv)
					}
					switch act {
					case ir.ActRelu:
						sum = math.Max(sum, 0)
					case ir.ActClip:
						sum = math.Min(math.Max(sum, float64(lo)), float64(hi))
					}
					exact = append(exact, sum)
					bound = append(bound, gamma*abs+1e-30)
				}
			}
		}
	}
	return exact, bound
}

// TestRandomConvs pads many random convolutions to random multiples and
// checks on the reference executor that the outputs keep their shape and,
// before and after padding alike, are within float32 rounding of the exact
// convolution (computed independently in float64).
func TestRandomConvs(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 1))
	padded := 0
	for i := 0; i < 300; i++ {
		g, desc := randomConvGraph(r)
		if err := ir.InferShapes(g); err != nil {
			t.Fatalf("%s: %v", desc, err)
		}
		in, out := 1+r.IntN(8), 1+r.IntN(8)
		desc += fmt.Sprintf(", multiple %d, out-multiple %d", in, out)
		ins := randomInputs(t, g, r)
		exact, bound := exactConv(g.Nodes[0], ins)
		before, err := ref.Run(g, ins...)
		if err != nil {
			t.Fatalf("%s: %v", desc, err)
		}
		rep := passtest.Run(t, g, fmt.Sprintf("pad-channels{multiple=%d;out-multiple=%d}", in, out))
		padded += rep.Stats["pad-channels"]["convs padded: input channels"] + rep.Stats["pad-channels"]["convs padded: output channels"]
		after, err := ref.Run(g, ins...)
		if err != nil {
			t.Fatalf("%s: %v", desc, err)
		}
		if !ir.ShapeOf(after[0].Shape...).Equal(ir.ShapeOf(before[0].Shape...)) || after[0].Len() != len(exact) {
			t.Fatalf("%s: output shape %v after padding, want %v", desc, after[0].Shape, before[0].Shape)
		}
		for j, e := range exact {
			for _, res := range []struct {
				what string
				v    float64
			}{{"before", before[0].AsFloat64(j)}, {"after", after[0].AsFloat64(j)}} {
				if math.Abs(res.v-e) > bound[j] {
					t.Fatalf("%s: element %d %s padding is %v, exact %v (bound %g)", desc, j, res.what, res.v, e, bound[j])
				}
			}
		}
		// Every conv now has channel counts of the requested multiples.
		for _, n := range g.Nodes {
			if n.Op == "Conv" || n.Op == "FusedConv" {
				wd, _ := n.Inputs[1].Type.Shape.Ints()
				if wd[1]%in != 0 || wd[0]%out != 0 {
					t.Fatalf("%s: weight %v after padding", desc, wd)
				}
			}
		}
	}
	if padded < 200 {
		t.Errorf("only %d of 300 random convs were padded; the test exercises too little", padded)
	}
}

// TestStatistics checks the counts the pass reports, including the reason
// a grouped conv is left alone.
func TestStatistics(t *testing.T) {
	g, err := sqir.ParseFile("testdata/grouped.sqir")
	if err != nil {
		t.Fatal(err)
	}
	rep := passtest.Run(t, g, "pad-channels")
	want := map[string]int{
		"convs padded: input channels":          1,
		"input channels added":                  2,
		"convs left alone: grouped (group > 1)": 1,
	}
	got := rep.Stats["pad-channels"]
	for k, v := range want {
		if got[k] != v {
			t.Errorf("statistic %q = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("statistics %v, want exactly %v", got, want)
	}
}

// TestSharedConstantUntouched checks that padding a weight never modifies
// the original constant, which another reader (here a graph output) sees,
// and that the padded copy holds the original values and zeros.
func TestSharedConstantUntouched(t *testing.T) {
	g, err := sqir.Parse("t.sqir", []byte(`graph "g" (%x: f32[1,3,2,2]) -> (%y, %w) {
  const %w: f32[2,3,1,1] = [1, 2, 3, 4, 5, 6]
  const %b: f32[2] = [7, 8]
  %y: f32[1,2,2,2] = Conv "c" (%x, %w, %b)
}`))
	if err != nil {
		t.Fatal(err)
	}
	w := g.Outputs[1]
	passtest.Run(t, g, "pad-channels{out-multiple=4}")
	if got := w.Const.Float32s(); len(got) != 6 || got[5] != 6 || w.Type.Shape.String() != "[2,3,1,1]" {
		t.Fatalf("the original weight changed: %v %v", w.Type, got)
	}
	var conv *ir.Node
	for _, n := range g.Nodes {
		if n.Op == "Conv" {
			conv = n
		}
	}
	pw, pb := conv.Inputs[1], conv.Inputs[2]
	wantW := []float32{1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if pw.Type.Shape.String() != "[4,4,1,1]" || fmt.Sprint(pw.Const.Float32s()) != fmt.Sprint(wantW) {
		t.Errorf("padded weight %v = %v, want [4,4,1,1] %v", pw.Type, pw.Const.Float32s(), wantW)
	}
	if fmt.Sprint(pb.Const.Float32s()) != "[7 8 0 0]" {
		t.Errorf("padded bias = %v, want [7 8 0 0]", pb.Const.Float32s())
	}
	if g.Outputs[0].Name != "y" || g.Outputs[0].Type.Shape.String() != "[1,2,2,2]" {
		t.Errorf("output is %q %v, want y f32[1,2,2,2]", g.Outputs[0].Name, g.Outputs[0].Type)
	}
}

// TestNonConstantWeight pads a weight that is a graph input (no constant to
// copy) with a Pad node; the result computes the same.
func TestNonConstantWeight(t *testing.T) {
	g, err := sqir.Parse("t.sqir", []byte(`graph "g" (%x: f32[1,3,3,3], %w: f32[5,3,2,2]) -> (%y) {
  %y: f32[1,5,2,2] = Conv "c" (%x, %w)
}`))
	if err != nil {
		t.Fatal(err)
	}
	ins := randomInputs(t, g, rand.New(rand.NewPCG(5, 6)))
	want, err := ref.Run(g, ins...)
	if err != nil {
		t.Fatal(err)
	}
	passtest.Run(t, g, "pad-channels{multiple=4;out-multiple=8}")
	ops := []string{}
	for _, n := range g.Nodes {
		ops = append(ops, n.Op+" "+n.Name)
	}
	if want := "[Pad c/pad_channels Pad c/pad_weight Conv c Slice c/slice_channels]"; fmt.Sprint(ops) != want {
		t.Errorf("nodes %v, want %s", ops, want)
	}
	got, err := ref.Run(g, ins...)
	if err != nil {
		t.Fatal(err)
	}
	sameValues(t, "graph-input weight", want, got)
}

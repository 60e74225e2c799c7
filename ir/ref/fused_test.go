package ref

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// fusedGraph builds a graph of the given nodes whose non-constant inputs
// are graph inputs named in feeds order; values are made on first mention.
type fusedGraph struct {
	g     *ir.Graph
	vals  map[string]*ir.Value
	feeds []*ir.Tensor
}

func newFusedGraph() *fusedGraph {
	return &fusedGraph{g: &ir.Graph{Name: "t"}, vals: map[string]*ir.Value{}}
}

// input adds a graph input holding t.
func (b *fusedGraph) input(name string, t *ir.Tensor) {
	v := &ir.Value{Name: name, Type: t.Type()}
	b.vals[name] = v
	b.g.Inputs = append(b.g.Inputs, v)
	b.feeds = append(b.feeds, t)
}

// node adds a node; "" in ins is an absent input; its one output is named out.
func (b *fusedGraph) node(op, out string, attrs ir.Attrs, ins ...string) {
	n := &ir.Node{Name: out + "_node", Op: op, Attrs: attrs}
	for _, s := range ins {
		if s == "" {
			n.Inputs = append(n.Inputs, nil)
			continue
		}
		v, ok := b.vals[s]
		if !ok {
			panic("test graph: no value " + s)
		}
		n.Inputs = append(n.Inputs, v)
	}
	v := &ir.Value{Name: out}
	b.vals[out] = v
	n.Outputs = []*ir.Value{v}
	b.g.Nodes = append(b.g.Nodes, n)
}

// run infers shapes and runs the graph with out as its output.
func (b *fusedGraph) run(t *testing.T, out string) *ir.Tensor {
	t.Helper()
	b.g.Outputs = []*ir.Value{b.vals[out]}
	if err := ir.InferShapes(b.g); err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(b.g); err != nil {
		t.Fatal(err)
	}
	res, err := Run(b.g, b.feeds...)
	if err != nil {
		t.Fatal(err)
	}
	return res[0]
}

func fusedRand(r *rand.Rand, shape ...int) *ir.Tensor {
	d := make([]float32, ir.NumElements(shape))
	for i := range d {
		d[i] = float32(r.Float64()*4 - 2)
	}
	return ir.FromFloat32(d, shape...)
}

// TestFusedConvHandComputed checks a 1×1 convolution's epilogue against
// values worked out by hand: y = act(w·x + b + r).
func TestFusedConvHandComputed(t *testing.T) {
	x := ir.FromFloat32([]float32{1, -2, 3, -4}, 1, 1, 2, 2)
	w := ir.FromFloat32([]float32{2, -1}, 2, 1, 1, 1) // two output channels
	bias := ir.FromFloat32([]float32{1, 0.5}, 2)
	res := ir.FromFloat32([]float32{0, 0, 0, 10, 1, 1, 1, 1}, 1, 2, 2, 2)
	// conv + b: ch0 = 2x+1 = [3, -3, 7, -7]; ch1 = -x+0.5 = [-0.5, 2.5, -2.5, 4.5]
	// + r:      ch0 = [3, -3, 7, 3];      ch1 = [0.5, 3.5, -1.5, 5.5]
	cases := []struct {
		attrs ir.Attrs
		want  []float32
	}{
		{ir.Attrs{"activation": ir.StringAttr("none")}, []float32{3, -3, 7, 3, 0.5, 3.5, -1.5, 5.5}},
		{nil, []float32{3, -3, 7, 3, 0.5, 3.5, -1.5, 5.5}},
		{ir.Attrs{"activation": ir.StringAttr("relu")}, []float32{3, 0, 7, 3, 0.5, 3.5, 0, 5.5}},
		{ir.Attrs{"activation": ir.StringAttr("clip"), "clip_min": ir.FloatAttr(0), "clip_max": ir.FloatAttr(6)}, []float32{3, 0, 6, 3, 0.5, 3.5, 0, 5.5}},
		{ir.Attrs{"activation": ir.StringAttr("clip"), "clip_max": ir.FloatAttr(1)}, []float32{1, -3, 1, 1, 0.5, 1, -1.5, 1}},
		// min > max gives max everywhere, as Clip does.
		{ir.Attrs{"activation": ir.StringAttr("clip"), "clip_min": ir.FloatAttr(2), "clip_max": ir.FloatAttr(1)}, []float32{1, 1, 1, 1, 1, 1, 1, 1}},
	}
	for i, c := range cases {
		b := newFusedGraph()
		b.input("x", x)
		b.input("w", w)
		b.input("b", bias)
		b.input("r", res)
		b.node("FusedConv", "y", c.attrs, "x", "w", "b", "r")
		got := b.run(t, "y").Float32s()
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("case %d (%v): got %v, want %v", i, c.attrs, got, c.want)
		}
	}
}

// TestFusedConvMatchesChain checks, on random convolutions (strides,
// padding, groups, with and without bias and residual), that FusedConv
// equals Conv → Add → activation run as separate nodes, bit for bit: the
// kernel reuses Conv's and adds the same numbers in the same order.
func TestFusedConvMatchesChain(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	acts := []ir.Attrs{
		{"activation": ir.StringAttr("none")},
		{"activation": ir.StringAttr("relu")},
		{"activation": ir.StringAttr("clip"), "clip_min": ir.FloatAttr(0), "clip_max": ir.FloatAttr(6)},
		{"activation": ir.StringAttr("clip"), "clip_min": ir.FloatAttr(-0.5), "clip_max": ir.FloatAttr(0.75)},
	}
	for i := range 24 {
		group := 1 + r.IntN(2)
		c, m := group*(1+r.IntN(3)), group*(1+r.IntN(4))
		k := 1 + 2*r.IntN(2)
		stride := 1 + r.IntN(2)
		pad := r.IntN(k/2 + 1)
		h := 5 + r.IntN(6)
		convAttrs := ir.Attrs{"group": ir.IntAttr(int64(group)), "strides": ir.IntsAttr(int64(stride), int64(stride)),
			"pads": ir.IntsAttr(int64(pad), int64(pad), int64(pad), int64(pad))}
		act := acts[i%len(acts)]
		withBias, withRes := i%3 != 0, i%2 == 0
		o := (h+2*pad-k)/stride + 1
		x, w := fusedRand(r, 2, c, h, h), fusedRand(r, m, c/group, k, k)
		bias, res := fusedRand(r, m), fusedRand(r, 2, m, o, o)

		chain := newFusedGraph()
		chain.input("x", x)
		chain.input("w", w)
		bname, rname := "", ""
		if withBias {
			chain.input("b", bias)
			bname = "b"
		}
		chain.node("Conv", "c", convAttrs, "x", "w", bname)
		last := "c"
		if withRes {
			chain.input("r", res)
			chain.node("Add", "s", nil, "c", "r")
			last, rname = "s", "r"
		}
		switch act["activation"].String {
		case "relu":
			chain.node("Relu", "y", nil, last)
			last = "y"
		case "clip":
			chain.vals["lo"] = ir.NewConst("lo", ir.FromFloat32([]float32{act.Float("clip_min", 0)}))
			chain.vals["hi"] = ir.NewConst("hi", ir.FromFloat32([]float32{act.Float("clip_max", 0)}))
			chain.node("Clip", "y", nil, last, "lo", "hi")
			last = "y"
		}
		want := chain.run(t, last).Float32s()

		fused := newFusedGraph()
		fused.input("x", x)
		fused.input("w", w)
		if withBias {
			fused.input("b", bias)
		}
		if withRes {
			fused.input("r", res)
		}
		attrs := ir.Attrs{}
		for k, v := range convAttrs {
			attrs[k] = v
		}
		for k, v := range act {
			attrs[k] = v
		}
		fused.node("FusedConv", "y", attrs, "x", "w", bname, rname)
		got := fused.run(t, "y").Float32s()
		if len(got) != len(want) {
			t.Fatalf("case %d: %d outputs, want %d", i, len(got), len(want))
		}
		for j := range got {
			if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
				t.Fatalf("case %d (g%d c%d m%d k%d s%d p%d bias %v res %v %v): y[%d] = %v, chain gives %v",
					i, group, c, m, k, stride, pad, withBias, withRes, act, j, got[j], want[j])
			}
		}
	}
}

// TestFusedGemmHandComputed checks FusedGemm's arithmetic, transposes,
// alpha, beta, a broadcast C, the residual and the activations on a 2×2
// product, in f32 and f64.
func TestFusedGemmHandComputed(t *testing.T) {
	// op(A) = Aᵀ = [[1, 3], [2, 4]], op(B) = B = [[1, 0], [1, -1]]:
	// A'B' = [[4, -3], [6, -4]]; alpha 2 → [[8, -6], [12, -8]];
	// beta 0.5 · C (C = [2, 4] per column) → + [1, 2] = [[9, -4], [13, -6]];
	// + R [[0, 5], [-20, 1]] = [[9, 1], [-7, -5]].
	a := []float64{1, 2, 3, 4}
	bm := []float64{1, 0, 1, -1}
	c := []float64{2, 4}
	res := []float64{0, 5, -20, 1}
	attrs := ir.Attrs{"transA": ir.IntAttr(1), "alpha": ir.FloatAttr(2), "beta": ir.FloatAttr(0.5)}
	for _, dt := range []ir.DType{ir.Float32, ir.Float64} {
		for _, tc := range []struct {
			act  ir.Attrs
			want string
		}{
			{ir.Attrs{"activation": ir.StringAttr("none")}, "[9 1 -7 -5]"},
			{ir.Attrs{"activation": ir.StringAttr("relu")}, "[9 1 0 0]"},
			{ir.Attrs{"activation": ir.StringAttr("clip"), "clip_min": ir.FloatAttr(-6), "clip_max": ir.FloatAttr(6)}, "[6 1 -6 -5]"},
		} {
			all := ir.Attrs{}
			for k, v := range attrs {
				all[k] = v
			}
			for k, v := range tc.act {
				all[k] = v
			}
			g := newFusedGraph()
			g.input("a", fusedTensor(dt, a, 2, 2))
			g.input("b", fusedTensor(dt, bm, 2, 2))
			g.input("c", fusedTensor(dt, c, 2))
			g.input("r", fusedTensor(dt, res, 2, 2))
			g.node("FusedGemm", "y", all, "a", "b", "c", "r")
			out := g.run(t, "y")
			var got string
			if dt == ir.Float32 {
				got = fmt.Sprint(out.Float32s())
			} else {
				got = fmt.Sprint(out.Data.([]float64))
			}
			if got != tc.want {
				t.Errorf("%v %v: got %s, want %s", dt, tc.act["activation"].String, got, tc.want)
			}
		}
	}
}

func fusedTensor(dt ir.DType, v []float64, shape ...int) *ir.Tensor {
	t := ir.NewTensor(dt, shape...)
	for i, x := range v {
		switch d := t.Data.(type) {
		case []float32:
			d[i] = float32(x)
		case []float64:
			d[i] = x
		case []uint16:
			d[i] = ir.Float32ToHalf(float32(x))
		}
	}
	return t
}

// TestFusedHalf checks that an f16 FusedConv computes in float32 and
// rounds once: 1×1 conv, 1·0.1 + 0.2 with relu, where f16(0.1) + f16(0.2)
// computed in f32 is 0.2999878 and rounds to f16 0.2998.
func TestFusedHalf(t *testing.T) {
	g := newFusedGraph()
	g.input("x", fusedTensor(ir.Float16, []float64{1, -1}, 1, 1, 1, 2))
	g.input("w", fusedTensor(ir.Float16, []float64{0.1}, 1, 1, 1, 1))
	g.input("r", fusedTensor(ir.Float16, []float64{0.2, 0.05}, 1, 1, 1, 2))
	g.node("FusedConv", "y", ir.Attrs{"activation": ir.StringAttr("relu")}, "x", "w", "", "r")
	out := g.run(t, "y")
	if out.DType != ir.Float16 {
		t.Fatalf("output is %v, want f16", out.DType)
	}
	d := out.Data.([]uint16)
	want0 := ir.Float32ToHalf(ir.HalfToFloat32(ir.Float32ToHalf(0.1)) + ir.HalfToFloat32(ir.Float32ToHalf(0.2)))
	if d[0] != want0 || d[1] != 0 {
		t.Errorf("got %v %v, want %v 0", ir.HalfToFloat32(d[0]), ir.HalfToFloat32(d[1]), ir.HalfToFloat32(want0))
	}
}

// TestFusedErrors checks the schemas' and kernels' refusals.
func TestFusedErrors(t *testing.T) {
	f := func(d ...int) ir.Type { return ir.TensorType(ir.Float32, d...) }
	cases := []struct {
		op    string
		attrs ir.Attrs
		in    []ir.Type
		want  string
	}{
		{"FusedConv", ir.Attrs{"activation": ir.StringAttr("gelu")}, []ir.Type{f(1, 2, 3, 3), f(4, 2, 1, 1)}, `activation "gelu": want "none", "relu" or "clip"`},
		{"FusedConv", ir.Attrs{"activation": ir.StringAttr("relu"), "clip_max": ir.FloatAttr(6)}, []ir.Type{f(1, 2, 3, 3), f(4, 2, 1, 1)}, `attribute clip_max is set with activation "relu"`},
		{"FusedConv", ir.Attrs{"activation": ir.StringAttr("clip"), "clip_min": ir.FloatAttr(float32(math.NaN()))}, []ir.Type{f(1, 2, 3, 3), f(4, 2, 1, 1)}, "hold NaN"},
		{"FusedConv", nil, []ir.Type{f(1, 2, 3, 3), f(4, 2, 1, 1), {}, f(1, 4, 1, 1)}, "residual R has shape [1,4,1,1], want the output's shape [1,4,3,3] (no broadcasting)"},
		{"FusedConv", nil, []ir.Type{f(1, 2, 3, 3), f(4, 2, 1, 1), {}, f(4, 3, 3)}, "residual R has shape [4,3,3]"},
		{"FusedConv", nil, []ir.Type{f(1, 2, 3, 3), f(4, 2, 1, 1), {}, ir.TensorType(ir.Float16, 1, 4, 3, 3)}, "residual R is f16, want f32"},
		{"FusedConv", nil, []ir.Type{f(1, 2, 3, 3), f(4, 3, 1, 1)}, "weight has 3 input channels per group"},
		{"FusedGemm", nil, []ir.Type{ir.TensorType(ir.Int32, 2, 3), ir.TensorType(ir.Int32, 3, 4)}, "A is i32, want a float type"},
		{"FusedGemm", nil, []ir.Type{f(2, 3), f(3, 4), f(4), f(1, 4)}, "residual R has shape [1,4], want the output's shape [2,4]"},
		{"FusedGemm", ir.Attrs{"group": ir.IntAttr(1)}, []ir.Type{f(2, 3), f(3, 4)}, `unknown attribute "group"`},
	}
	for _, c := range cases {
		n := &ir.Node{Name: "f1", Op: c.op, Attrs: c.attrs, Outputs: []*ir.Value{{Name: "y"}}}
		for range c.in {
			n.Inputs = append(n.Inputs, &ir.Value{Name: "v"})
		}
		_, err := ir.InferTypes(n, c.in, make([]*ir.Tensor, len(c.in)))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "f1 ("+c.op+")") {
			t.Errorf("%s %v: error %v, want one naming f1 and containing %q", c.op, c.in, err, c.want)
		}
	}
	// The run-time shapes are checked again: an unknown dim
	// passes the static check but must agree when the graph runs.
	g := newFusedGraph()
	x := &ir.Value{Name: "x", Type: ir.Type{DType: ir.Float32, Shape: ir.Shape{ir.SymDim("N"), ir.D(1), ir.D(2), ir.D(2)}}}
	res := &ir.Value{Name: "r", Type: ir.Type{DType: ir.Float32, Shape: ir.Shape{ir.UnknownDim, ir.D(1), ir.D(2), ir.D(2)}}}
	w := ir.NewConst("w", ir.FromFloat32([]float32{1}, 1, 1, 1, 1))
	g.g.Inputs = []*ir.Value{x, res}
	y := &ir.Value{Name: "y"}
	g.g.Nodes = []*ir.Node{{Name: "fc", Op: "FusedConv", Inputs: []*ir.Value{x, w, nil, res}, Outputs: []*ir.Value{y}}}
	g.g.Outputs = []*ir.Value{y}
	if err := ir.InferShapes(g.g); err != nil {
		t.Fatal(err)
	}
	_, err := Run(g.g, ir.NewTensor(ir.Float32, 1, 1, 2, 2), ir.NewTensor(ir.Float32, 2, 1, 2, 2))
	if err == nil || !strings.Contains(err.Error(), "fc (FusedConv): residual R has shape [2,1,2,2], want the output's shape [1,1,2,2]") {
		t.Errorf("mismatched residual at run time: error %v", err)
	}
}

// TestFusedKernelChecksResidual calls the kernels directly (as a backend
// test harness might, without the schema) with a residual of the wrong
// shape: an error, not a panic or a silent broadcast.
func TestFusedKernelChecksResidual(t *testing.T) {
	x := ir.NewTensor(ir.Float32, 1, 1, 2, 2)
	w := ir.FromFloat32([]float32{1}, 1, 1, 1, 1)
	y := ir.NewTensor(ir.Float32, 1, 1, 2, 2)
	n := &ir.Node{Name: "fc", Op: "FusedConv"}
	err := kernels["FusedConv"](n, []*ir.Tensor{x, w, nil, ir.NewTensor(ir.Float32, 1, 1, 4)}, []*ir.Tensor{y})
	if err == nil || !strings.Contains(err.Error(), "residual R has shape [1 1 4], want the output's shape [1 1 2 2]") {
		t.Errorf("FusedConv: error %v", err)
	}
	a, b, yg := ir.NewTensor(ir.Float32, 2, 3), ir.NewTensor(ir.Float32, 3, 2), ir.NewTensor(ir.Float32, 2, 2)
	err = kernels["FusedGemm"](&ir.Node{Name: "fg", Op: "FusedGemm"}, []*ir.Tensor{a, b, nil, ir.NewTensor(ir.Float32, 2)}, []*ir.Tensor{yg})
	if err == nil || !strings.Contains(err.Error(), "residual R has shape [2], want the output's shape [2 2]") {
		t.Errorf("FusedGemm: error %v", err)
	}
}

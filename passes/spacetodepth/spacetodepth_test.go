package spacetodepth_test

import (
	"bytes"
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

// randomInputs makes one f32 tensor per graph input, uniform in [-lim, lim);
// a symbolic dim (the batch) is 2.
func randomInputs(t *testing.T, g *ir.Graph, r *rand.Rand, lim float64) []*ir.Tensor {
	t.Helper()
	var ins []*ir.Tensor
	for _, v := range g.Inputs {
		if v.Type.DType != ir.Float32 {
			t.Fatalf("input %q is %v; the test feeds f32 inputs only", v.Name, v.Type)
		}
		dims := make([]int, v.Type.Shape.Rank())
		for i, d := range v.Type.Shape {
			dims[i] = 2
			if d.Known() {
				dims[i] = int(d.Size)
			}
		}
		x := ir.NewTensor(ir.Float32, dims...)
		for i := range x.Float32s() {
			x.Float32s()[i] = float32((r.Float64()*2 - 1) * lim)
		}
		ins = append(ins, x)
	}
	return ins
}

// sameBits requires every output to be identical, bit for bit: the rewrite
// adds only zero products to exact int32 sums.
func sameBits(t *testing.T, what string, want, got []*ir.Tensor) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%s: %d outputs, want %d", what, len(got), len(want))
	}
	for i := range want {
		if want[i].DType != got[i].DType || !ir.ShapeOf(want[i].Shape...).Equal(ir.ShapeOf(got[i].Shape...)) {
			t.Fatalf("%s: output %d is %v%v, want %v%v", what, i, got[i].DType, got[i].Shape, want[i].DType, want[i].Shape)
		}
		for j := 0; j < want[i].Len(); j++ {
			a, b := want[i].AsFloat64(j), got[i].AsFloat64(j)
			if want[i].DType == ir.Float32 {
				a, b = float64(math.Float32bits(want[i].Float32s()[j])), float64(math.Float32bits(got[i].Float32s()[j]))
			}
			if a != b {
				t.Fatalf("%s: output %d element %d is %v, want %v (bits)", what, i, j, got[i].AsFloat64(j), want[i].AsFloat64(j))
			}
		}
	}
}

// TestTestdataComputesTheSame runs every .sqir test of this package on the
// reference executor before and after its pipeline and requires the same
// output bits.
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
			ins := randomInputs(t, g, rand.New(rand.NewPCG(1, 2)), 8)
			want, err := ref.Run(g, ins...)
			if err != nil {
				t.Fatal(err)
			}
			passtest.Run(t, g, test.Pipeline)
			got, err := ref.Run(g, ins...)
			if err != nil {
				t.Fatal(err)
			}
			sameBits(t, f, want, got)
		})
	}
}

// randomQConv builds x → QuantizeLinear → QConv → y with a random geometry
// the pass rewrites: kernel 1..7 per axis, stride 2..4, pads 0..K−1 on each
// side (or auto_pad), 1..4 input channels, a static or symbolic batch, input sizes multiples of the
// stride, random int8 weights, a non-zero input zero point, with or without
// bias, residual and activation, and an int8 or float output.
func randomQConv(r *rand.Rand) (*ir.Graph, string) {
	kh, kw := 1+r.IntN(7), 1+r.IntN(7)
	s := 2 + r.IntN(3)
	C, M, N := 1+r.IntN(4), 1+r.IntN(5), 1+r.IntN(2)
	pads := []int64{int64(r.IntN(kh)), int64(r.IntN(kw)), int64(r.IntN(kh)), int64(r.IntN(kw))}
	size := func(k int, p0, p1 int64) int {
		for {
			if n := s * (1 + r.IntN(5)); n+int(p0+p1) >= k {
				return n
			}
		}
	}
	H, W := size(kh, pads[0], pads[2]), size(kw, pads[1], pads[3])
	attrs := ir.Attrs{"strides": ir.IntsAttr(int64(s), int64(s))}
	padDesc := fmt.Sprint(pads)
	switch r.IntN(5) {
	case 0:
		ap := []string{"SAME_UPPER", "SAME_LOWER", "VALID"}[r.IntN(3)]
		attrs["auto_pad"] = ir.StringAttr(ap)
		padDesc = ap
		if ap == "VALID" {
			H, W = size(kh, 0, 0), size(kw, 0, 0)
		}
	default:
		attrs["pads"] = ir.IntsAttr(pads...)
	}
	if r.IntN(3) == 0 {
		attrs["kernel_shape"] = ir.IntsAttr(int64(kh), int64(kw))
	}
	if r.IntN(4) == 0 {
		attrs["dilations"] = ir.IntsAttr(1, 1)
	}
	act := []string{"", "relu", "clip"}[r.IntN(3)]
	switch act {
	case "relu":
		attrs["activation"] = ir.StringAttr("relu")
	case "clip":
		attrs["activation"] = ir.StringAttr("clip")
		attrs["clip_min"] = ir.FloatAttr(-3)
		attrs["clip_max"] = ir.FloatAttr(2.5)
	}

	sx := float32(0.05 + r.Float64()*0.1)
	zx := int32(r.IntN(201) - 100)
	for zx == 0 {
		zx = int32(r.IntN(201) - 100)
	}
	x := &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, N, C, H, W)}
	batch := fmt.Sprint(N)
	if r.IntN(3) == 0 {
		x.Type.Shape[0], batch = ir.SymDim("N"), "N (2)" // as exported models have it
	}
	xq := &ir.Value{Name: "xq", Quant: &ir.QuantParams{Scale: []float32{sx}, ZeroPoint: []int32{zx}, Axis: -1}}
	g := &ir.Graph{Name: "qconv", Inputs: []*ir.Value{x}}
	quantize := func(name string, in, out *ir.Value, scale float32, zp int32) *ir.Node {
		return &ir.Node{Name: name, Op: "QuantizeLinear", Inputs: []*ir.Value{in,
			ir.NewConst(name+".scale", &ir.Tensor{DType: ir.Float32, Shape: []int{}, Data: []float32{scale}}),
			ir.NewConst(name+".zero_point", &ir.Tensor{DType: ir.Int8, Shape: []int{}, Data: []int8{int8(zp)}})},
			Outputs: []*ir.Value{out}}
	}
	g.Nodes = append(g.Nodes, quantize("q_x", x, xq, sx, zx))

	w := ir.NewTensor(ir.Int8, M, C, kh, kw)
	for i := range w.Int8s() {
		w.Int8s()[i] = int8(r.IntN(255) - 127)
	}
	sw := make([]float32, M)
	for k := range sw {
		sw[k] = float32(0.01 + r.Float64()*0.02)
	}
	wv := ir.NewConst("w", w)
	wv.Quant = &ir.QuantParams{Scale: sw, ZeroPoint: make([]int32, M), Axis: 0}
	// An output scale that keeps most sums inside int8's range: a sum of
	// n products of about 60·70 spreads over ±√n·4000.
	n := float64(C * kh * kw)
	sy := float32(0)
	y := &ir.Value{Name: "y"}
	if r.IntN(4) != 0 {
		sy = float32(float64(sx) * 0.02 * math.Sqrt(n) * 4000 / 60)
		y.Quant = &ir.QuantParams{Scale: []float32{sy}, ZeroPoint: []int32{int32(r.IntN(41) - 20)}, Axis: -1}
	}
	mul := ir.QOutputMultipliers(sx, sw, M, sy)
	inputs := []*ir.Value{xq, wv, ir.NewConst("m", ir.FromFloat32(mul, M))}
	bias := r.IntN(2) == 0
	if bias {
		b := ir.NewTensor(ir.Int32, M)
		for k := range b.Int32s() {
			b.Int32s()[k] = int32(r.IntN(40001) - 20000)
		}
		inputs = append(inputs, ir.NewConst("b", b))
	}
	conv := &ir.Node{Name: "conv", Op: "QConv", Inputs: inputs, Outputs: []*ir.Value{y}, Attrs: attrs}
	residual := r.IntN(3) == 0
	if residual {
		// The residual has the output's shape: infer it first.
		for _, n := range []*ir.Node{g.Nodes[0], conv} {
			if err := ir.InferNode(n); err != nil {
				panic(fmt.Sprintf("%s: %v", n.Name, err))
			}
		}
		if !bias {
			conv.Inputs = append(conv.Inputs, nil)
		}
		sr, zr := float32(0.1), int32(r.IntN(21)-10)
		rf := &ir.Value{Name: "res", Type: ir.Type{DType: ir.Float32, Shape: y.Type.Shape.Clone()}}
		rq := &ir.Value{Name: "resq", Quant: &ir.QuantParams{Scale: []float32{sr}, ZeroPoint: []int32{zr}, Axis: -1}}
		g.Inputs = append(g.Inputs, rf)
		g.Nodes = append(g.Nodes, quantize("q_res", rf, rq, sr, zr))
		mr := sr
		if sy != 0 {
			mr = ir.QResidualMultiplier(sr, sy)
		}
		conv.Inputs = append(conv.Inputs, rq, ir.NewConst("mr", &ir.Tensor{DType: ir.Float32, Shape: []int{}, Data: []float32{mr}}))
	}
	g.Nodes = append(g.Nodes, conv)
	g.Outputs = []*ir.Value{y}
	out := "f32"
	if sy != 0 {
		out = "i8"
	}
	return g, fmt.Sprintf("N=%s C=%d M=%d kernel=%dx%d stride=%d pads=%s input=%dx%d zx=%d bias=%v residual=%v activation=%q output=%s",
		batch, C, M, kh, kw, s, padDesc, H, W, zx, bias, residual, act, out)
}

// TestRandomQConvs rewrites many random strided QConvs and requires the
// reference executor's outputs to stay the same, bit for bit, and the
// rewritten conv to have stride 1 on s²·C channels of a SpaceToDepth.
func TestRandomQConvs(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 7))
	// What the int8 outputs hold, over all convs: the comparison means
	// little if the random scales saturate most of them.
	codes, saturated, total := map[int8]bool{}, 0, 0
	for i := 0; i < 400; i++ {
		g, desc := randomQConv(r)
		if err := ir.InferShapes(g); err != nil {
			t.Fatalf("%s: %v", desc, err)
		}
		ins := randomInputs(t, g, r, 10)
		before, err := ref.Run(g, ins...)
		if err != nil {
			t.Fatalf("%s: %v", desc, err)
		}
		rep := passtest.Run(t, g, "space-to-depth")
		if got := rep.Stats["space-to-depth"]["convs rewritten"]; got != 1 {
			t.Fatalf("%s: %d convs rewritten, want 1 (statistics %v)", desc, got, rep.Stats["space-to-depth"])
		}
		after, err := ref.Run(g, ins...)
		if err != nil {
			t.Fatalf("%s: %v", desc, err)
		}
		sameBits(t, desc, before, after)
		conv := g.Nodes[len(g.Nodes)-1]
		s2d := g.Nodes[len(g.Nodes)-2]
		if conv.Op != "QConv" || s2d.Op != "SpaceToDepth" || conv.Inputs[0] != s2d.Outputs[0] ||
			conv.Attrs.Ints("strides") != nil || conv.Attrs.String("auto_pad", "") != "" {
			t.Fatalf("%s: after the pass the graph ends %s %s %v", desc, s2d.Op, conv.Op, conv.Attrs)
		}
		if y := after[0]; y.DType == ir.Int8 {
			for _, v := range y.Int8s() {
				codes[v] = true
				if v == -128 || v == 127 {
					saturated++
				}
			}
			total += y.Len()
		}
	}
	if len(codes) < 200 || saturated*10 > total {
		t.Errorf("int8 outputs hold %d distinct codes, %d of %d saturated: want at least 200 codes and at most 10 %% saturated", len(codes), saturated, total)
	}
}

// TestStatistics checks that every conv of left_alone.sqir that must stay is
// counted under its reason, and that max-channels widens what is rewritten.
func TestStatistics(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want map[string]int
	}{
		{"space-to-depth", map[string]int{
			"convs rewritten":                                           2,
			"convs left alone: stride below 2":                          1,
			"convs left alone: unequal strides":                         1,
			"convs left alone: dilated":                                 1,
			"convs left alone: grouped (group > 1)":                     1,
			"convs left alone: more input channels than max-channels":   1,
			"convs left alone: input size not a multiple of the stride": 1,
			"convs left alone: sparse weight":                           1,
		}},
		{"space-to-depth{max-channels=2}", map[string]int{
			"convs left alone: stride below 2":                          1,
			"convs left alone: unequal strides":                         1,
			"convs left alone: dilated":                                 1,
			"convs left alone: grouped (group > 1)":                     1,
			"convs left alone: more input channels than max-channels":   5,
			"convs left alone: input size not a multiple of the stride": 0,
			"convs left alone: sparse weight":                           0,
		}},
		{"space-to-depth{max-channels=8}", map[string]int{
			"convs rewritten":                                           3,
			"convs left alone: stride below 2":                          1,
			"convs left alone: unequal strides":                         1,
			"convs left alone: dilated":                                 1,
			"convs left alone: grouped (group > 1)":                     1,
			"convs left alone: input size not a multiple of the stride": 1,
			"convs left alone: sparse weight":                           1,
		}},
	} {
		g, err := sqir.ParseFile("testdata/left_alone.sqir")
		if err != nil {
			t.Fatal(err)
		}
		ins := randomInputs(t, g, rand.New(rand.NewPCG(3, 4)), 8)
		before, err := ref.Run(g, ins...)
		if err != nil {
			t.Fatal(err)
		}
		got := passtest.Run(t, g, tc.spec).Stats["space-to-depth"]
		nonzero := 0
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: statistic %q = %d, want %d (all: %v)", tc.spec, k, got[k], v, got)
			}
			if v != 0 {
				nonzero++
			}
		}
		if len(got) != nonzero {
			t.Errorf("%s: statistics %v, want exactly %v", tc.spec, got, tc.want)
		}
		after, err := ref.Run(g, ins...)
		if err != nil {
			t.Fatal(err)
		}
		sameBits(t, tc.spec, before, after)
	}
}

// TestRoundTrip prints the rewritten stem (an int8 SpaceToDepth whose
// output carries the input's quantization), parses it back and requires an
// equal graph that verifies and computes the same bits.
func TestRoundTrip(t *testing.T) {
	test, err := passtest.Load("testdata/resnet_stem.sqir")
	if err != nil {
		t.Fatal(err)
	}
	g := test.Graph
	passtest.Run(t, g, "space-to-depth")
	var text bytes.Buffer
	if err := sqir.Print(&text, g); err != nil {
		t.Fatal(err)
	}
	back, err := sqir.Parse("printed.sqir", text.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, text.String())
	}
	if err := ir.Verify(back); err != nil {
		t.Fatal(err)
	}
	if err := ir.Equal(g, back); err != nil {
		t.Fatal(err)
	}
	var s2d *ir.Value
	for _, n := range back.Nodes {
		if n.Op == "SpaceToDepth" {
			s2d = n.Outputs[0]
		}
	}
	if s2d == nil || s2d.Type.DType != ir.Int8 || s2d.Quant == nil || s2d.Quant.ZeroPoint[0] != -3 {
		t.Fatalf("parsed SpaceToDepth output %+v, want i8 with the input's quantization (zero point -3)", s2d)
	}
	ins := randomInputs(t, g, rand.New(rand.NewPCG(9, 9)), 8)
	want, err := ref.Run(g, ins...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ref.Run(back, ins...)
	if err != nil {
		t.Fatal(err)
	}
	sameBits(t, "parsed graph", want, got)
}

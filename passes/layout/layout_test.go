package layout_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/internal/zoo"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/ir/sqir"
	"github.com/sqc-project/sqc/passes"
	_ "github.com/sqc-project/sqc/passes/all"
	"github.com/sqc-project/sqc/passes/passtest"
)

// randomInputs makes one tensor per graph input, uniform in [-2, 2) for
// floats, with symbolic dims set to 2.
func randomInputs(t *testing.T, g *ir.Graph, seed uint64) []*ir.Tensor {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	var ins []*ir.Tensor
	for _, v := range g.Inputs {
		dims := make([]int, v.Type.Shape.Rank())
		for i, d := range v.Type.Shape {
			dims[i] = 2
			if d.Known() {
				dims[i] = int(d.Size)
			}
		}
		if v.Type.DType != ir.Float32 {
			t.Fatalf("input %q is %v; the test feeds f32 only", v.Name, v.Type.DType)
		}
		x := ir.NewTensor(ir.Float32, dims...)
		for i := range x.Float32s() {
			x.Float32s()[i] = float32(r.Float64()*4 - 2)
		}
		ins = append(ins, x)
	}
	return ins
}

// sameBits compares two output lists exactly: every element the same bits,
// except that +0 and -0 count as equal (a sum that gains zero terms may
// change the sign of a zero, never its value).
func sameBits(t *testing.T, what string, want, got []*ir.Tensor) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%s: %d outputs, want %d", what, len(got), len(want))
	}
	for i := range want {
		if !ir.ShapeOf(want[i].Shape...).Equal(ir.ShapeOf(got[i].Shape...)) || want[i].DType != got[i].DType {
			t.Fatalf("%s: output %d is %v%v, want %v%v", what, i, got[i].DType, got[i].Shape, want[i].DType, want[i].Shape)
		}
		for j := 0; j < want[i].Len(); j++ {
			a, b := want[i].AsFloat64(j), got[i].AsFloat64(j)
			if a != b && !(math.IsNaN(a) && math.IsNaN(b)) {
				t.Fatalf("%s: output %d element %d is %v, want %v", what, i, j, b, a)
			}
		}
	}
}

// closeValues compares outputs up to float32 rounding (1e-5 relative):
// pad-channels adds only 0·0 products to a convolution, but the reference
// GEMM picks its kernel and blocking by matrix size, so a padded conv may
// round differently in the last bits.
func closeValues(t *testing.T, what string, want, got []*ir.Tensor) {
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

// padThenLayout runs pad-channels then assign-layout on g, checking on the
// reference executor that the first keeps the outputs (up to rounding) and
// the second keeps them bit for bit. It returns the report of both.
func padThenLayout(t *testing.T, g *ir.Graph, what string, seed uint64) *passes.Report {
	t.Helper()
	ins := randomInputs(t, g, seed)
	want, err := ref.Run(g, ins...)
	if err != nil {
		t.Fatal(err)
	}
	rep := passtest.Run(t, g, "pad-channels")
	padded, err := ref.Run(g, ins...)
	if err != nil {
		t.Fatal(err)
	}
	closeValues(t, what+" after pad-channels", want, padded)
	rep2 := passtest.Run(t, g, "assign-layout")
	got, err := ref.Run(g, ins...)
	if err != nil {
		t.Fatal(err)
	}
	sameBits(t, what+" after assign-layout", padded, got)
	for k, v := range rep2.Stats {
		rep.Stats[k] = v
	}
	return rep
}

// TestTestdataComputesTheSame runs every .sqir test of this package on the
// reference executor before and after its pipeline: layouts never change
// what a graph computes.
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
			ins := randomInputs(t, g, 1)
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

// resnet imports a small torchvision-style ResNet-18 (8 channels in the
// stem, 32×32 images, batch 2) and runs the float pipeline before the
// layout passes on it.
func resnet(t *testing.T) *ir.Graph {
	t.Helper()
	b, err := zoo.ResNet(zoo.ResNetConfig{Depth: 18, Width: 8, Size: 32, Classes: 10, Batch: 2, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "resnet18.onnx")
	if err := b.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	g, err := onnx.Import(path)
	if err != nil {
		t.Fatal(err)
	}
	spec := "infer-shapes,remove-identity,fold-constants,dce"
	// Fold BN and fuse epilogues when those passes are linked in, so the
	// layout passes see FusedConv as in the default pipeline.
	for _, name := range []string{"fold-batchnorm", "fuse-epilogue"} {
		if passes.Lookup(name) != nil {
			spec += "," + name
		}
	}
	passtest.Run(t, g, spec)
	return g
}

// TestResNet checks the two passes on a whole ResNet-18: the outputs stay
// the same; the first conv's 3 input channels are padded to 4;
// every conv-family op reads NHWC data and OHWI weights; and only two
// conversions remain, the input's to NHWC and the pooled features' back
// before Flatten.
func TestResNet(t *testing.T) {
	g := resnet(t)
	rep := padThenLayout(t, g, "resnet18", 2)

	producers := g.Producers()
	var relayouts []*ir.Node
	convs := 0
	for _, n := range g.Nodes {
		switch n.Op {
		case "Relayout":
			relayouts = append(relayouts, n)
		case "Conv", "FusedConv":
			convs++
			x, w := n.Inputs[0], n.Inputs[1]
			if x.Type.Layout != "NHWC" || w.Type.Layout != "OHWI" || n.Outputs[0].Type.Layout != "NHWC" {
				t.Errorf("%s reads %v and %v and writes %v, want NHWC, OHWI and NHWC", n.Name, x.Type, w.Type, n.Outputs[0].Type)
			}
			if c := x.Type.Shape[1].Size; c%4 != 0 {
				t.Errorf("%s reads %d channels, want a multiple of 4", n.Name, c)
			}
		}
	}
	if convs != 20 {
		t.Errorf("%d convolutions, want ResNet-18's 20", convs)
	}
	if len(relayouts) != 2 {
		t.Fatalf("%d Relayouts, want 2 (after the input, before Flatten): %v", len(relayouts), relayouts)
	}
	if in := relayouts[0].Inputs[0]; !g.IsInput(in) || relayouts[0].Attrs.String("to", "") != "NHWC" {
		t.Errorf("first Relayout reads %q to %q, want the graph input to NHWC", in.Name, relayouts[0].Attrs.String("to", ""))
	}
	if p := producers[relayouts[1].Inputs[0]]; p == nil || p.Op != "GlobalAveragePool" {
		t.Errorf("second Relayout reads %q, want the GlobalAveragePool's output", relayouts[1].Inputs[0].Name)
	}
	if n := rep.Stats["pad-channels"]["convs padded: input channels"]; n != 1 {
		t.Errorf("pad-channels padded %d convs, want 1 (the stem)", n)
	}
	if n := rep.Stats["assign-layout"]["relayouts inserted"]; n != 2 {
		t.Errorf("statistic relayouts inserted = %d, want 2", n)
	}
	if n := rep.Stats["assign-layout"]["weights OHWI"]; n != convs {
		t.Errorf("statistic weights OHWI = %d, want %d", n, convs)
	}
}

// TestIdempotent runs assign-layout twice on the ResNet: the second run
// finds nothing to do, so the printed graph does not change.
func TestIdempotent(t *testing.T) {
	g := resnet(t)
	passtest.Run(t, g, "pad-channels,assign-layout")
	var once, twice bytes.Buffer
	if err := sqir.Print(&once, g); err != nil {
		t.Fatal(err)
	}
	rep := passtest.Run(t, g, "assign-layout")
	if err := sqir.Print(&twice, g); err != nil {
		t.Fatal(err)
	}
	if once.String() != twice.String() {
		t.Error("a second assign-layout changed the graph")
	}
	if n := rep.Stats["assign-layout"]["relayouts inserted"]; n != 0 {
		t.Errorf("second run inserted %d Relayouts, want 0", n)
	}
}

// TestConstantCopies checks that a constant read in two layouts is never
// shared: the OHWI copy has data of its own, equal to the original's, and
// the original keeps its layout; a constant read only as a weight is
// re-annotated in place, under its own name.
func TestConstantCopies(t *testing.T) {
	g, err := sqir.Parse("t.sqir", []byte(`graph "g" (%x: f32[1,2,2,2]) -> (%y, %w, %z) {
  const %w: f32[2,2,1,1] = [1, 2, 3, 4]
  const %v: f32[2,2,1,1] = [5, 6, 7, 8]
  %y: f32[1,2,2,2] = Conv "c" (%x, %w)
  %z: f32[1,2,2,2] = Conv "d" (%x, %v)
}`))
	if err != nil {
		t.Fatal(err)
	}
	w, v := g.Outputs[1], g.Nodes[1].Inputs[1]
	passtest.Run(t, g, "assign-layout")
	cw := g.Nodes[1].Inputs[1] // after the input's Relayout
	if cw == w || cw.Const == w.Const {
		t.Fatal("the conv reads the graph output's constant, want a copy with its own data")
	}
	if cw.Type.Layout != "OHWI" || w.Type.Layout != "" || cw.Name == w.Name {
		t.Errorf("copy %q is %v and original %q is %v, want OHWI and the default layout", cw.Name, cw.Type, w.Name, w.Type)
	}
	for i, x := range w.Const.Float32s() {
		if cw.Const.Float32s()[i] != x {
			t.Fatalf("copy differs from the original at %d", i)
		}
	}
	cv := g.Nodes[2].Inputs[1]
	if cv.Name != "v" || cv.Type.Layout != "OHWI" || cv.Const != v.Const {
		t.Errorf("weight v became %q %v, want v re-annotated OHWI in place", cv.Name, cv.Type)
	}
}

// TestOptionErrors checks that unsupported layouts are refused before
// anything runs, naming the option and the allowed values.
func TestOptionErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"assign-layout{layout=NCHW}":           `"NCHW" is not one of NHWC`,
		"assign-layout{weight-layout=HWIO}":    `"HWIO" is not one of OHWI, OIHW`,
		"assign-layout{input-layout=nhwc}":     `"nhwc" is not one of keep, NHWC`,
		"assign-layout{layuot=NHWC}":           `did you mean "layout"`,
		"pad-channels{multiple=0}":             `out of range`,
		"pad-channels{out-multiple=x}":         `"x" is not an integer`,
		"pad-channels{multiple=4;out-multipl}": `want key=value`,
	} {
		specs, err := passes.ParseSpec(spec)
		if err == nil {
			_, err = passes.Build(specs)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %s", spec, err, want)
		}
	}
}

package plugins

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/internal/zoo"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
)

// twoConvs builds x -> conv "a" -> Relu -> conv "b" -> y with 1×1 convs
// over 8 channels. a's weight has, in every group of 4 input channels, two
// weights of ±1 and two of ±0.001: its 2:4 magnitude mask drops almost
// nothing. b's weights are all ±1: its mask drops half of every group.
func twoConvs() *ir.Graph {
	weight := func(name string, small float32) *ir.Value {
		w := make([]float32, 8*8)
		for k := range 8 {
			for c := range 8 {
				v := float32(1)
				if (k+c)%4 >= 2 {
					v = small
				}
				if (k*7+c*3)%5 < 2 {
					v = -v
				}
				w[k*8+c] = v
			}
		}
		return ir.NewConst(name, ir.FromFloat32(w, 8, 8, 1, 1))
	}
	typ := ir.TensorType(ir.Float32, 1, 8, 4, 4)
	x := &ir.Value{Name: "x", Type: typ}
	a := &ir.Value{Name: "a_out", Type: typ}
	r := &ir.Value{Name: "r", Type: typ}
	y := &ir.Value{Name: "y", Type: typ}
	k := ir.Attrs{"kernel_shape": ir.IntsAttr(1, 1)}
	return &ir.Graph{Name: "two", Inputs: []*ir.Value{x}, Outputs: []*ir.Value{y}, Nodes: []*ir.Node{
		{Name: "a", Op: "Conv", Inputs: []*ir.Value{x, weight("wa", 0.001), nil}, Outputs: []*ir.Value{a}, Attrs: k},
		{Name: "relu", Op: "Relu", Inputs: []*ir.Value{a}, Outputs: []*ir.Value{r}},
		{Name: "b", Op: "Conv", Inputs: []*ir.Value{r, weight("wb", 1), nil}, Outputs: []*ir.Value{y}, Attrs: k},
	}}
}

var errRE = regexp.MustCompile(`output error ([0-9.]+)%`)

// noteError reads the output error a sensitivity-prune note gives.
func noteError(t *testing.T, n *ir.Node) float64 {
	t.Helper()
	m := errRE.FindStringSubmatch(n.Notes["sparsity"])
	if m == nil {
		t.Fatalf("%s: note %q gives no output error", n.Name, n.Notes["sparsity"])
	}
	f, _ := strconv.ParseFloat(m[1], 64)
	return f / 100
}

func TestSensitivityPrune(t *testing.T) {
	p, err := Load(bin("sensitivity-prune"), testConfig())
	if err != nil {
		t.Fatal(err)
	}
	build := func(specs ...passes.StepSpec) *passes.Pipeline {
		t.Helper()
		pl, err := passes.Build(withTestTimeouts(specs...))
		if err != nil {
			t.Fatal(err)
		}
		return pl
	}
	step := passes.StepSpec{Name: p.Pass().Name, Options: map[string]any{"max-error": 0.05}}
	g := twoConvs()
	rep, err := (&passes.Manager{VerifyEach: true}).Run(g, build(step))
	if err != nil {
		t.Fatal(err)
	}
	a, b := g.Nodes[0], g.Nodes[2]
	wa, wb := a.Inputs[1], b.Inputs[1]
	if !strings.HasPrefix(a.Notes["sparsity"], "2:4 (sensitivity-prune: output error ") || wa.Sparsity == nil || *wa.Sparsity != (ir.Sparsity{N: 2, M: 4, Axis: 1}) {
		t.Errorf("a: note %q, claim %v; want a pruned 2:4 along axis 1", a.Notes["sparsity"], wa.Sparsity)
	}
	if e := noteError(t, a); e > 0.01 {
		t.Errorf("a: output error %v, want under 1%% (only weights of 0.001 dropped)", e)
	}
	for i, v := range wa.Const.Float32s() {
		if big := v == 1 || v == -1; (v == 0) == big || (v != 0 && !big) {
			t.Fatalf("a: weight %d is %v after pruning, want ±1 kept and ±0.001 zeroed", i, v)
		}
	}
	if !strings.HasPrefix(b.Notes["sparsity"], "dense: output error ") || !strings.HasSuffix(b.Notes["sparsity"], "> max-error 5.00% (sensitivity-prune)") || wb.Sparsity != nil {
		t.Errorf("b: note %q, claim %v; want b dense", b.Notes["sparsity"], wb.Sparsity)
	}
	// Dropping 4 of 8 equal magnitudes from each output's sum leaves an
	// error near 1/sqrt(2) of it.
	if e := noteError(t, b); e < 0.3 || e > 1.2 {
		t.Errorf("b: output error %v, want about 0.7", e)
	}
	for _, v := range wb.Const.Float32s() {
		if v != 1 && v != -1 {
			t.Fatalf("b: weight changed to %v", v)
		}
	}
	if st := rep.Stats[p.Pass().Name]; st["layers pruned"] != 1 || st["layers dense"] != 1 {
		t.Errorf("statistics %v, want 1 layer pruned and 1 dense", st)
	}

	// A per-layer value reaches the plugin: b may now lose more.
	sel, err := passes.ParseSelector("name:b")
	if err != nil {
		t.Fatal(err)
	}
	step.Overrides = []passes.OverrideSpec{{Select: sel, Options: map[string]any{"max-error": 2.0}}}
	g = twoConvs()
	if _, err := (&passes.Manager{VerifyEach: true}).Run(g, build(step)); err != nil {
		t.Fatal(err)
	}
	if b := g.Nodes[2]; b.Inputs[1].Sparsity == nil || !strings.HasPrefix(b.Notes["sparsity"], "2:4 (") {
		t.Errorf("b with max-error 2: note %q, want it pruned", b.Notes["sparsity"])
	}

	// Before the built-in prune pass: prune keeps the plugin's mask as an
	// existing one, and decides the other layers by its own rules.
	g = twoConvs()
	step.Overrides = nil
	prune := passes.StepSpec{Name: "prune", Options: map[string]any{"min-out-channels": int64(0), "out-channel-multiple": int64(1), "first-layer": "prune", "last-layer": "prune"}}
	wantA := append([]float32(nil), g.Nodes[0].Inputs[1].Const.Float32s()...)
	if _, err := (&passes.Manager{VerifyEach: true}).Run(g, build(step, prune)); err != nil {
		t.Fatal(err)
	}
	if got := g.Nodes[0].Notes["sparsity"]; got != "2:4 (existing mask)" {
		t.Errorf("a after prune: note %q, want 2:4 (existing mask)", got)
	}
	if got := g.Nodes[2].Notes["sparsity"]; !strings.HasPrefix(got, "2:4 (magnitude") {
		t.Errorf("b after prune: note %q, want prune's magnitude mask", got)
	}
	for i, v := range g.Nodes[0].Inputs[1].Const.Float32s() {
		if w := wantA[i]; (w == 1 || w == -1) != (v == w) {
			t.Fatalf("a after prune: weight %d is %v, want the plugin's mask kept (was %v)", i, v, w)
		}
	}
}

// TestSensitivityPruneResNet runs the plugin on a real architecture after
// the graph passes: fused convs, a residual structure, a Gemm classifier.
func TestSensitivityPruneResNet(t *testing.T) {
	p, err := Load(bin("sensitivity-prune"), testConfig())
	if err != nil {
		t.Fatal(err)
	}
	b, err := zoo.ResNet(zoo.ResNetConfig{Depth: 18, Width: 8, Size: 32, Classes: 16, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Decode(data, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	g, err := m.Lower()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := runSteps(g, fmt.Sprintf("infer-shapes,fold-batchnorm,fuse-epilogue,%s{max-error=0.5;samples=1}", p.Pass().Name))
	if err != nil {
		t.Fatal(err)
	}
	sparse, dense := 0, 0
	for _, n := range g.Nodes {
		note := n.Notes["sparsity"]
		switch {
		case strings.HasPrefix(note, "2:4 (sensitivity-prune"):
			sparse++
			if n.Inputs[1].Sparsity == nil {
				t.Errorf("%s: note %q but no claim", n.Name, note)
			}
		case strings.HasPrefix(note, "dense: "):
			dense++
			t.Logf("%s: %s", n.Name, note)
		}
	}
	st := rep.Stats[p.Pass().Name]
	t.Logf("%d layers 2:4, %d dense; statistics %v", sparse, dense, st)
	if sparse == 0 || dense == 0 || int64(sparse) != int64(st["layers pruned"]) {
		t.Errorf("%d layers sparse and %d dense (statistics %v), want some of each", sparse, dense, st)
	}
}

// TestDropNotes runs the minimal plugin of the documentation.
func TestDropNotes(t *testing.T) {
	p, err := Load(bin("drop-notes"), testConfig())
	if err != nil {
		t.Fatal(err)
	}
	g := parse(t, `graph "g" (%x: f32[2]) -> (%z) {
  %y: f32[2] = Relu "a" (%x) notes {permute = "not permuted", sparsity = "dense: why"}
  %z: f32[2] = Relu "b" (%y) notes {padded = "3→4"}
}
`)
	rep, err := runSteps(g, p.Pass().Name)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := g.Nodes[0].Notes, g.Nodes[1].Notes; len(a) != 1 || a["sparsity"] != "dense: why" || len(b) != 0 {
		t.Errorf("notes after drop-notes: %v and %v, want only a's sparsity note", a, b)
	}
	if got := rep.Stats["drop-notes"]["notes removed"]; got != 2 {
		t.Errorf("notes removed = %d, want 2", got)
	}
	if _, err := runSteps(g, "drop-notes{keep=}"); err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes[0].Notes) != 0 {
		t.Errorf("with keep empty: notes %v remain", g.Nodes[0].Notes)
	}
}

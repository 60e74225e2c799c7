package prune_test

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/prune"
)

const allLayers = "min-out-channels=0;out-channel-multiple=1;first-layer=prune;last-layer=prune"

func parse(t *testing.T, src string) *ir.Graph {
	t.Helper()
	g, err := sqir.ParseAndVerify("test.sqir", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestRequireExisting: a weight that is not already 2:4 is an error that
// names the layer, the weight and the first offending group; one that is
// passes unchanged. A single extra non-zero is enough to fail.
func TestRequireExisting(t *testing.T) {
	src := `graph "g" (%x: f32[1,8,1,2]) -> (%y, %z) {
  const %ok: f32[1,8,1,2] = [1, 0, 0, 2, 3, 0, 0, 4, 0, 5, 6, 0, 0, 7, 8, 0]
  const %bad: f32[1,8,1,2] = [1, 0, 0, 2, 3, 0, 0, 4, 0, 5, 6, 0, 0, 7, 8, 9]
  %y: f32[1,1,1,1] = Conv "good_layer" (%x, %ok) {kernel_shape = [1, 2]}
  %z: f32[1,1,1,1] = Conv "bad_layer" (%x, %bad) {kernel_shape = [1, 2]}
}`
	g := parse(t, src)
	_, err := runPipeline(g, "prune{"+allLayers+";require-existing=true}")
	if err == nil {
		t.Fatal("no error")
	}
	// W[0, c, 0, s] = bad[2c + s]: at s = 1, channels 4..7 hold 5 0 7 9.
	msg := err.Error()
	for _, want := range []string{`layer bad_layer (Conv)`, `weight "bad"`, `not 2:4 along input channels`,
		`has 3 non-zeros at output channel 0, input channels 4..7 at kernel position [0 1]`, "require-existing"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "good_layer") {
		t.Errorf("error %q names the layer that is 2:4", msg)
	}
}

// TestExistingMaskKept: without require-existing, a 2:4 weight keeps its
// exact values and the other weight is pruned by magnitude; one extra
// non-zero makes a weight "not existing".
func TestExistingMaskKept(t *testing.T) {
	src := `graph "g" (%x: f32[1,4,1,1]) -> (%y, %z) {
  const %ok: f32[2,4,1,1] = [0.001, 0, 0, 0.002, 0, 9, 8, 0]
  const %bad: f32[2,4,1,1] = [0.001, 0, 0.5, 0.002, 0, 9, 8, 0]
  %y: f32[1,2,1,1] = Conv "a" (%x, %ok)
  %z: f32[1,2,1,1] = Conv "b" (%x, %bad)
}`
	g := parse(t, src)
	if _, err := runPipeline(g, "prune{"+allLayers+"}"); err != nil {
		t.Fatal(err)
	}
	a, b := node(t, g, "a"), node(t, g, "b")
	if got := a.Notes["sparsity"]; got != "2:4 (existing mask)" {
		t.Errorf("a: note %q", got)
	}
	if got := a.Inputs[1].Const.Float32s(); got[0] != 0.001 || got[3] != 0.002 {
		t.Errorf("a: existing weight changed to %v", got)
	}
	if got := b.Inputs[1].Const.Float32s(); got[0] != 0 || got[2] != 0.5 || got[3] != 0.002 {
		t.Errorf("b: magnitude mask gave %v, want [0 0 0.5 0.002 ...]", got)
	}
	if c := claims(g); c["ok"] != (ir.Sparsity{N: 2, M: 4, Axis: 1}) || c["bad"] != (ir.Sparsity{N: 2, M: 4, Axis: 1}) {
		t.Errorf("claims %v", c)
	}
}

// TestMethodExisting: method existing claims the weight that already
// follows 2:4, keeps the other dense with its reason, and changes no
// weight.
func TestMethodExisting(t *testing.T) {
	src := `graph "g" (%x: f32[1,4,1,1]) -> (%y, %z) {
  const %ok: f32[2,4,1,1] = [0.001, 0, 0, 0.002, 0, 9, 8, 0]
  const %bad: f32[2,4,1,1] = [0.001, 0, 0.5, 0.002, 0, 9, 8, 0]
  %y: f32[1,2,1,1] = Conv "a" (%x, %ok)
  %z: f32[1,2,1,1] = Conv "b" (%x, %bad)
}`
	g := parse(t, src)
	if _, err := runPipeline(g, "prune{"+allLayers+";method=existing}"); err != nil {
		t.Fatal(err)
	}
	a, b := node(t, g, "a"), node(t, g, "b")
	if got := a.Notes["sparsity"]; got != "2:4 (existing mask)" {
		t.Errorf("a: note %q", got)
	}
	if got := b.Notes["sparsity"]; got != "dense: weights do not follow 2:4 and method existing changes none" {
		t.Errorf("b: note %q", got)
	}
	if got := b.Inputs[1].Const.Float32s(); got[0] != 0.001 || got[2] != 0.5 || got[3] != 0.002 {
		t.Errorf("b: weight changed to %v", got)
	}
	if c := claims(g); c["ok"] != (ir.Sparsity{N: 2, M: 4, Axis: 1}) || c["bad"] != (ir.Sparsity{}) {
		t.Errorf("claims %v, want ok only", c)
	}
}

// TestErrors: option mistakes give errors that say what is wrong.
func TestErrors(t *testing.T) {
	src := `graph "g" (%x: f32[1,4,1,1]) -> (%y) {
  const %w: f32[1,4,1,1] = [1, 2, 3, 4]
  %y: f32[1,1,1,1] = Conv "c" (%x, %w)
}`
	for _, tc := range []struct{ pipeline, want string }{
		{"prune{" + allLayers + ";method=sparsegpt}", "method sparsegpt needs calibration data: set option data"},
		{"prune{" + allLayers + ";method=sparsegpt;data=/nonexistent/x.npy}", "/nonexistent/x.npy"},
		{"prune{" + allLayers + ";method=sparsegpt;data=x.npy;mean=abc}", `option mean: "abc" is not a number`},
		{"prune{method=obs}", `"obs" is not one of magnitude, sparsegpt, auto, existing`},
		{"prune{pattern=5:4}", "ratio 5:4"},
		{"prune{first-layer=maybe}", `"maybe" is not one of skip, prune`},
	} {
		g := parse(t, src)
		_, err := runPipeline(g, tc.pipeline)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.pipeline, err, tc.want)
		}
	}
}

// TestOtherPatterns: 1:4 and 2:8 work the same way and claim what they did.
func TestOtherPatterns(t *testing.T) {
	src := `graph "g" (%x: f32[1,8,1,1]) -> (%y) {
  const %w: f32[1,8,1,1] = [1, 5, 3, 2, 8, 4, 6, 7]
  %y: f32[1,1,1,1] = Conv "c" (%x, %w)
}`
	for _, tc := range []struct {
		pattern string
		want    []float32
	}{
		{"1:4", []float32{0, 5, 0, 0, 8, 0, 0, 0}},
		{"2:8", []float32{0, 0, 0, 0, 8, 0, 0, 7}},
	} {
		g := parse(t, src)
		if _, err := runPipeline(g, "prune{"+allLayers+";pattern="+tc.pattern+"}"); err != nil {
			t.Fatal(err)
		}
		w := node(t, g, "c").Inputs[1]
		for i, v := range w.Const.Float32s() {
			if v != tc.want[i] {
				t.Fatalf("%s: weight %v, want %v", tc.pattern, w.Const.Float32s(), tc.want)
			}
		}
		r, _ := passes.ParseRatio(tc.pattern)
		if w.Sparsity == nil || w.Sparsity.N != r.N || w.Sparsity.M != r.M {
			t.Errorf("%s: claim %v", tc.pattern, w.Sparsity)
		}
	}
}

// TestMaskSurvives runs prune and then the passes that rewrite weights
// afterwards; the manager verifies every claim against the data after
// each step, and at the end every pruned layer's weight (as the node reads
// it, through a DequantizeLinear or a fused op) still claims 2:4.
//
// Test hook for the quantization passes: a row whose passes are not
// registered yet is skipped, so adding the Q/DQ insertion pass to
// passes/all enables its row.
func TestMaskSurvives(t *testing.T) {
	qdq := `graph "g" (%x: f32[1,8,4,4]) -> (%y) {
  const %s: f32[] = [0.05]
  const %zp: i8[] = [0]
  const %wq: i8[8,8,1,1] = base64"` + int8Weights(64) + `"
  const %ws: f32[8] = [0.01, 0.02, 0.01, 0.02, 0.01, 0.02, 0.01, 0.02]
  const %wz: i8[8] = [0, 0, 0, 0, 0, 0, 0, 0]
  %xq: i8[1,8,4,4] = QuantizeLinear "q_x" (%x, %s, %zp)
  %xd: f32[1,8,4,4] = DequantizeLinear "dq_x" (%xq, %s, %zp)
  %w: f32[8,8,1,1] = DequantizeLinear "dq_w" (%wq, %ws, %wz) {axis = 0}
  %c: f32[1,8,4,4] = Conv "conv" (%xd, %w)
  %r: f32[1,8,4,4] = Relu "relu" (%c)
  %rq: i8[1,8,4,4] = QuantizeLinear "q_r" (%r, %s, %zp)
  %y: f32[1,8,4,4] = DequantizeLinear "dq_r" (%rq, %s, %zp)
}`
	float := `graph "g" (%x: f32[1,6,4,4]) -> (%y) {
  const %w1: f32[8,6,3,3] = base64"` + floatWeights(8*6*9) + `"
  const %w2: f32[8,8,1,1] = base64"` + floatWeights(64) + `"
  const %g: f32[8] = [1, -2, 0.5, 1, 1, 1, 3, 1]
  const %b: f32[8] = [0, 0, 0, 0, 1, 1, 1, 1]
  const %m: f32[8] = [0, 0, 0, 0, 0, 0, 0, 0]
  const %v: f32[8] = [1, 1, 1, 1, 1, 1, 1, 1]
  %c1: f32[1,8,4,4] = Conv "conv1" (%x, %w1) {pads = [1, 1, 1, 1]}
  %n: f32[1,8,4,4] = BatchNormalization "bn" (%c1, %g, %b, %m, %v)
  %r: f32[1,8,4,4] = Relu "relu" (%n)
  %c2: f32[1,8,4,4] = Conv "conv2" (%r, %w2)
  %y: f32[1,8,4,4] = Add "res" (%c2, %r)
}`
	for _, tc := range []struct {
		name, src, pipeline string
		pruned              []string
	}{
		{"float", float, "prune{" + allLayers + "},fold-batchnorm,fuse-epilogue,pad-channels{multiple=8;out-multiple=16},assign-layout", []string{"conv1", "conv2"}},
		{"float-permuted", float, "prune{" + allLayers + ";permute=true},fold-batchnorm,fuse-epilogue,pad-channels{out-multiple=16}", []string{"conv1", "conv2"}},
		{"qat", qdq, "prune{" + allLayers + "},lower-int8", []string{"conv"}},
		{"qat-layout", qdq, "prune{" + allLayers + "},lower-int8,assign-layout", []string{"conv"}},
		// Post-training quantization after pruning: the Q/DQ insertion pass
		// must carry the claim from the float weight to its int8 data.
		{"ptq", float, "prune{" + allLayers + "},fold-batchnorm,calibrate{data=DATA;progress=false;method=max},quantize,lower-int8", []string{"conv1", "conv2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			specs, err := passes.ParseSpec(tc.pipeline)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range specs {
				if passes.Lookup(s.Name) == nil {
					t.Skipf("pass %s is not registered yet", s.Name)
				}
			}
			g := parse(t, tc.src)
			pipeline := tc.pipeline
			if strings.Contains(pipeline, "DATA") {
				rng := rand.New(rand.NewPCG(9, 9))
				data := writeNpy(t, t.TempDir(), "x.npy", randInput(rng, 16, 6, 4, 4))
				pipeline = strings.ReplaceAll(pipeline, "DATA", data)
			}
			if _, err := runPipeline(g, pipeline); err != nil {
				t.Fatal(err)
			}
			producers := g.Producers()
			for _, name := range tc.pruned {
				n := node(t, g, name)
				if !strings.HasPrefix(n.Notes["sparsity"], "2:4 (") {
					t.Errorf("%s (%s): sparsity note %q", name, n.Op, n.Notes["sparsity"])
				}
				w := n.Inputs[1]
				for !w.IsConst() && producers[w] != nil {
					w = producers[w].Inputs[0] // through DequantizeLinear, Relayout, Pad
				}
				if w.Sparsity == nil || w.Sparsity.N != 2 || w.Sparsity.M != 4 {
					t.Errorf("%s (%s): weight %s claims %v, want 2:4", name, n.Op, w.Name, w.Sparsity)
				}
			}
		})
	}
}

// floatWeights and int8Weights make base64 data for sqir literals.
func floatWeights(n int) string {
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(rng.NormFloat64())
	}
	return b64(ir.FromFloat32(d, n))
}

func int8Weights(n int) string {
	rng := rand.New(rand.NewPCG(uint64(n), 2))
	t := ir.NewTensor(ir.Int8, n)
	for i := range t.Int8s() {
		t.Int8s()[i] = int8(rng.IntN(255) - 127)
	}
	return b64(t)
}

// b64 prints a tensor through sqir and cuts out its base64 blob.
func b64(t *ir.Tensor) string {
	g := &ir.Graph{Name: "b", Outputs: []*ir.Value{ir.NewConst("c", t)}}
	var sb strings.Builder
	if err := sqir.Print(&sb, g); err != nil {
		panic(err)
	}
	s := sb.String()
	i := strings.Index(s, `base64"`) + len(`base64"`)
	j := strings.Index(s[i:], `"`)
	return s[i : i+j]
}

// TestSummary: the per-layer lines inspect and the compile report print.
func TestSummary(t *testing.T) {
	g, _ := domainNet(t)
	if _, err := runPipeline(g, "prune{min-out-channels=16;out-channel-multiple=16;last-layer=prune;permute=true}"); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(prune.Summary(g), "\n")
	want := `conv1: dense: first layer (first-layer = skip)
conv2: 2:4 (magnitude, kept {{kept}}% of |w|, {{kept}}% without permutation) [permute: 16 channels, 1 layer: kept {{kept}}% → {{kept}}% of |w| ({{n}} swaps)]
conv3: dense: 8 output channels, want at least 16 (min-out-channels)
fc: dense: 10 output channels, want at least 16 (min-out-channels)`
	re := regexp.MustCompile(`[0-9]+\.[0-9]`)
	got = re.ReplaceAllString(got, "{{kept}}")
	got = regexp.MustCompile(`\(\d+ swaps`).ReplaceAllString(got, "({{n}} swaps")
	if got != want {
		t.Errorf("summary:\n%s\nwant:\n%s", got, want)
	}
}

// TestDetect: what inspect shows for a model without notes: the pruned
// layers are found 2:4 from their data alone, the others dense with the
// first offending group.
func TestDetect(t *testing.T) {
	g, _ := domainNet(t)
	if _, err := runPipeline(g, "prune{min-out-channels=16;out-channel-multiple=16}"); err != nil {
		t.Fatal(err)
	}
	for n := range g.Nodes {
		g.Nodes[n].Notes = nil // as after an ONNX round trip
	}
	var got []string
	for _, d := range prune.Detect(g, 2, 4) {
		got = append(got, d.Node+": "+d.Text)
	}
	want := []string{
		"conv1: dense: 4 non-zeros at output channel 0, input channels 0..3 at kernel position [0 0]",
		"conv2: 2:4 (weights follow the pattern)",
		"conv3: dense: 4 non-zeros at output channel 0, input channels 0..3 at kernel position [0 0]",
		"fc: dense: 4 non-zeros at output 0, inputs 0..3",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Detect:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

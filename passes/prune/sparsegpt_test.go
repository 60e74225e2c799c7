package prune_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes/prune"
)

// smoothImages returns n images whose neighbouring pixels and channels are
// correlated (a blurred random field plus a per-image colour), as natural
// inputs are; SparseGPT's compensation feeds on those correlations.
func smoothImages(rng *rand.Rand, n, c, h, w int) *ir.Tensor {
	t := ir.NewTensor(ir.Float32, n, c, h, w)
	d := t.Float32s()
	for i := range n {
		base := make([]float64, (h+2)*(w+2))
		for j := range base {
			base[j] = rng.NormFloat64()
		}
		for ch := range c {
			tint := rng.NormFloat64()
			for y := range h {
				for x := range w {
					s := 0.0
					for dy := range 3 {
						for dx := range 3 {
							s += base[(y+dy)*(w+2)+x+dx]
						}
					}
					d[((i*c+ch)*h+y)*w+x] = float32(s/3 + 0.5*tint + 0.3*rng.NormFloat64())
				}
			}
		}
	}
	return t
}

// gptNet is conv 8→16 (3×3) → Relu → conv 16→16 (1×1) → Relu → GAP →
// Flatten → Gemm 16→8, with a free batch dim.
func gptNet(t *testing.T) *ir.Graph {
	x := &ir.Value{Name: "x", Type: ir.Type{DType: ir.Float32, Shape: ir.Shape{ir.SymDim("N"), ir.D(8), ir.D(6), ir.D(6)}}}
	b := newBuilder(t, 11, x)
	a := b.op("conv1", "Conv", ir.Attrs{"pads": ir.IntsAttr(1, 1, 1, 1)}, x, b.rand(16, 8, 3, 3), b.rand(16))
	r := b.op("relu1", "Relu", nil, a)
	c := b.op("conv2", "Conv", nil, r, b.rand(16, 16, 1, 1))
	r2 := b.op("relu2", "Relu", nil, c)
	p := b.op("gap", "GlobalAveragePool", nil, r2)
	f := b.op("flatten", "Flatten", nil, p)
	y := b.op("fc", "Gemm", ir.Attrs{"transB": ir.IntAttr(1)}, f, b.rand(8, 16), b.rand(8))
	return b.done(y)
}

// TestSparseGPTPass: method = sparsegpt prunes every layer 2:4 (claims
// verified), notes how its output error compares with magnitude's, and the
// pruned network's outputs are closer to the dense network's than those of
// the magnitude-pruned one, on the calibration images and on others.
func TestSparseGPTPass(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 21))
	calib := smoothImages(rng, 128, 8, 6, 6)
	held := smoothImages(rng, 64, 8, 6, 6)
	path := writeNpy(t, t.TempDir(), "calib.npy", calib)

	dense := gptNet(t)
	want := []*ir.Tensor{runGraph(t, dense, calib)[0], runGraph(t, dense, held)[0]}

	mag := gptNet(t)
	if _, err := runPipeline(mag, "prune{"+allLayers+"}"); err != nil {
		t.Fatal(err)
	}
	var stats []prune.LayerStats
	prune.OnLayer = func(s prune.LayerStats) { stats = append(stats, s) }
	defer func() { prune.OnLayer = nil }()
	for _, sequential := range []bool{true, false} {
		stats = nil
		gpt := gptNet(t)
		opts := allLayers + ";method=sparsegpt;data=" + path + ";samples=128"
		if !sequential {
			opts += ";sequential=false"
		}
		if _, err := runPipeline(gpt, "prune{"+opts+"}"); err != nil {
			t.Fatal(err)
		}
		if c := claims(gpt); len(c) != 3 {
			t.Errorf("claims %v, want the three weights", c)
		}
		for _, name := range []string{"conv1", "conv2", "fc"} {
			note := node(t, gpt, name).Notes["sparsity"]
			if !strings.HasPrefix(note, "2:4 (sparsegpt, kept ") || !strings.Contains(note, "× magnitude's") {
				t.Errorf("%s: note %q", name, note)
			}
		}
		if len(stats) != 3 {
			t.Fatalf("%d layer statistics, want 3", len(stats))
		}
		for _, s := range stats {
			if !(s.ErrorSparseGPT < s.ErrorMagnitude) {
				t.Errorf("%s: relative output error %.4f, magnitude %.4f", s.Layer, s.ErrorSparseGPT, s.ErrorMagnitude)
			}
		}
		for i, x := range []*ir.Tensor{calib, held} {
			eg := sqDiff(runGraph(t, gpt, x)[0], want[i])
			em := sqDiff(runGraph(t, mag, x)[0], want[i])
			t.Logf("sequential=%v, %s: network output error sparsegpt %.3f, magnitude %.3f", sequential, []string{"calibration", "held-out"}[i], eg, em)
			if eg >= 0.8*em {
				t.Errorf("sequential=%v: sparsegpt's output error %.3f is not well below magnitude's %.3f", sequential, eg, em)
			}
		}
	}
}

// TestSparseGPTExistingUntouched: with sparsegpt, a weight that is already
// 2:4 keeps its values (no update), the others are pruned.
func TestSparseGPTExistingUntouched(t *testing.T) {
	g := gptNet(t)
	w2 := node(t, g, "conv2").Inputs[1].Const.Float32s()
	for i := range w2 {
		if i%4 >= 2 {
			w2[i] = 0
		}
	}
	orig := append([]float32(nil), w2...)
	rng := rand.New(rand.NewPCG(3, 3))
	path := writeNpy(t, t.TempDir(), "calib.npy", smoothImages(rng, 32, 8, 6, 6))
	if _, err := runPipeline(g, "prune{"+allLayers+";method=sparsegpt;data="+path+"}"); err != nil {
		t.Fatal(err)
	}
	n := node(t, g, "conv2")
	if n.Notes["sparsity"] != "2:4 (existing mask)" {
		t.Errorf("conv2: note %q", n.Notes["sparsity"])
	}
	for i, v := range n.Inputs[1].Const.Float32s() {
		if v != orig[i] {
			t.Fatalf("conv2's existing 2:4 weight changed at %d: %v, was %v", i, v, orig[i])
		}
	}
}

// TestAutoMethod: method = auto runs SparseGPT when data is given and
// magnitude masks without, and each layer's note says which ran and why.
func TestAutoMethod(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	path := writeNpy(t, t.TempDir(), "calib.npy", smoothImages(rng, 32, 8, 6, 6))
	for _, c := range []struct{ opts, want string }{
		{allLayers + ";method=auto;data=" + path + ";samples=32", "sparsegpt, chosen by auto as calibration data was given"},
		{allLayers + ";method=auto", "magnitude, chosen by auto without calibration data"},
	} {
		g := gptNet(t)
		if _, err := runPipeline(g, "prune{"+c.opts+"}"); err != nil {
			t.Fatal(err)
		}
		lines := prune.Summary(g)
		if len(lines) != 3 {
			t.Fatalf("%s: %d layers noted, want 3: %q", c.opts, len(lines), lines)
		}
		for _, l := range lines {
			if !strings.Contains(l, "2:4 ("+c.want+", kept") {
				t.Errorf("%s: note %q, want %q", c.opts, l, c.want)
			}
		}
	}
}

// TestKeepDense: keep-dense = 1 gives the layer whose pruning alone costs
// the output most its dense weight back (no sparsity claim, no zeros
// added) and says why; max-output-error keeps all or none of them dense at
// the extremes; without data it is an error.
func TestKeepDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	path := writeNpy(t, t.TempDir(), "calib.npy", smoothImages(rng, 32, 8, 6, 6))
	base := allLayers + ";method=sparsegpt;data=" + path + ";samples=32"
	count := func(g *ir.Graph) (dense, sparse int, worst string) {
		for _, n := range g.Nodes {
			note := n.Notes[prune.NoteKey]
			switch {
			case strings.HasPrefix(note, "dense: kept for accuracy:"):
				dense++
				worst = n.Name
			case strings.HasPrefix(note, "2:4 ("):
				if !strings.Contains(note, "network output error") {
					t.Errorf("%s: %q, want its measured output error", n.Name, note)
				}
				sparse++
			}
		}
		return dense, sparse, worst
	}
	dense := gptNet(t)
	g := gptNet(t)
	if _, err := runPipeline(g, "prune{"+base+";keep-dense=1}"); err != nil {
		t.Fatal(err)
	}
	d, sp, worst := count(g)
	if d != 1 || sp != 2 {
		t.Fatalf("keep-dense=1: %d dense, %d sparse; notes %q", d, sp, prune.Summary(g))
	}
	for i, n := range g.Nodes {
		if n.Name != worst {
			continue
		}
		w := n.Inputs[1]
		if w.Sparsity != nil || !slices.Equal(w.Const.Float32s(), dense.Nodes[i].Inputs[1].Const.Float32s()) {
			t.Errorf("%s: weight not given back dense (claim %v)", worst, w.Sparsity)
		}
	}
	for _, c := range []struct {
		target        string
		dense, sparse int
	}{{"1e9", 0, 3}, {"1e-12", 3, 0}} {
		g := gptNet(t)
		if _, err := runPipeline(g, "prune{"+base+";max-output-error="+c.target+"}"); err != nil {
			t.Fatal(err)
		}
		if d, sp, _ := count(g); d != c.dense || sp != c.sparse {
			t.Errorf("max-output-error=%s: %d dense, %d sparse; want %d and %d", c.target, d, sp, c.dense, c.sparse)
		}
	}
	if _, err := runPipeline(gptNet(t), "prune{"+allLayers+";keep-dense=1}"); err == nil || !strings.Contains(err.Error(), "set option data") {
		t.Errorf("without data: got %v", err)
	}
}

// TestPruneSensitivity: sensitivity alone notes every pruned layer's
// network output error and keeps them all 2:4; without data it measures
// nothing and is no error.
func TestPruneSensitivity(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	path := writeNpy(t, t.TempDir(), "calib.npy", smoothImages(rng, 32, 8, 6, 6))
	g := gptNet(t)
	if _, err := runPipeline(g, "prune{"+allLayers+";method=sparsegpt;data="+path+";samples=32;sensitivity=true}"); err != nil {
		t.Fatal(err)
	}
	lines := prune.Summary(g)
	if len(lines) != 3 {
		t.Fatalf("%d layers noted, want 3: %q", len(lines), lines)
	}
	for _, l := range lines {
		if !strings.Contains(l, ": 2:4 (") || !strings.Contains(l, "network output error") {
			t.Errorf("note %q, want a 2:4 layer with its network output error", l)
		}
	}
	g = gptNet(t)
	if _, err := runPipeline(g, "prune{"+allLayers+";sensitivity=true}"); err != nil {
		t.Fatal(err)
	}
	for _, l := range prune.Summary(g) {
		if strings.Contains(l, "network output error") {
			t.Errorf("measured without data: %q", l)
		}
	}
}

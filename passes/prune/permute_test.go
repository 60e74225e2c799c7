package prune_test

import (
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/prune/permute"
)

// domainNet builds a network whose middle channels (16 of them) form one
// domain: conv1 → BatchNormalization → Relu → MaxPool → p; conv2(p) + a
// per-channel constant + p (residual) → Relu → f; f feeds a 3×3 conv3 and
// GlobalAveragePool → Flatten → Gemm. So p's channels are produced by
// conv1 and conv2 (conv2 reads and writes them) and read by conv2, conv3
// and the Gemm.
func domainNet(t *testing.T) (*ir.Graph, *ir.Value) {
	x := &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, 2, 8, 6, 6)}
	b := newBuilder(t, 1, x)
	pad1 := ir.Attrs{"pads": ir.IntsAttr(1, 1, 1, 1)}
	a := b.op("conv1", "Conv", pad1, x, b.rand(16, 8, 3, 3), b.rand(16))
	bn := b.op("bn", "BatchNormalization", nil, a, b.between(0.5, 2, 16), b.rand(16), b.rand(16), b.between(0.5, 2, 16))
	r := b.op("relu1", "Relu", nil, bn)
	p := b.op("pool", "MaxPool", ir.Attrs{"kernel_shape": ir.IntsAttr(2, 2), "strides": ir.IntsAttr(2, 2)}, r)
	c := b.op("conv2", "Conv", nil, p, b.rand(16, 16, 1, 1), b.rand(16))
	d := b.op("bias", "Add", nil, c, b.rand(16, 1, 1))
	s := b.op("scale", "Mul", nil, d, b.between(1, 2, 1))
	e := b.op("res", "Add", nil, s, p)
	f := b.op("relu2", "Relu", nil, e)
	y1 := b.op("conv3", "Conv", pad1, f, b.rand(8, 16, 3, 3))
	h := b.op("gap", "GlobalAveragePool", nil, f)
	fl := b.op("flatten", "Flatten", nil, h)
	y2 := b.op("fc", "Gemm", ir.Attrs{"transB": ir.IntAttr(1)}, fl, b.rand(10, 16), b.rand(10))
	return b.done(y1, y2), p
}

func names(ns []*ir.Node) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Name)
	}
	sort.Strings(out)
	return out
}

// TestDomain: the walk finds the producers and consumers of the channels.
func TestDomain(t *testing.T) {
	g, p := domainNet(t)
	d, err := permute.Find(permute.NewIndex(g), p, 1)
	if err != nil {
		t.Fatal(err)
	}
	var cons []*ir.Node
	for _, l := range d.Consumers {
		cons = append(cons, l.Node)
	}
	if got := strings.Join(names(cons), " "); got != "conv2 conv3 fc" {
		t.Errorf("consumers %s, want conv2 conv3 fc", got)
	}
	if got := strings.Join(names(d.Producers), " "); got != "conv1 conv2" {
		t.Errorf("producers %s, want conv1 conv2", got)
	}
	if d.Channels != 16 {
		t.Errorf("%d channels, want 16", d.Channels)
	}
}

// TestPermutationKeepsFunction: permuting a domain's channels at random
// leaves the outputs unchanged (to float rounding), on the network as
// built and after fold-batchnorm and fuse-epilogue have turned it into
// FusedConv (with a residual input) and FusedGemm.
func TestPermutationKeepsFunction(t *testing.T) {
	for _, pipeline := range []string{"", "fold-batchnorm,fuse-epilogue"} {
		g, _ := domainNet(t)
		if pipeline != "" {
			if _, err := runPipeline(g, pipeline); err != nil {
				t.Fatal(err)
			}
		}
		rng := rand.New(rand.NewPCG(5, 5))
		x := randInput(rng, 2, 8, 6, 6)
		before := runGraph(t, g, x)
		// The value conv2 (or its fused form) reads.
		var v *ir.Value
		for _, n := range g.Nodes {
			if n.Name == "conv2" {
				v = n.Inputs[0]
			}
		}
		d, err := permute.Find(permute.NewIndex(g), v, 1)
		if err != nil {
			t.Fatalf("%q: %v", pipeline, err)
		}
		perm := rng.Perm(d.Channels)
		w1 := node(t, g, "conv1").Inputs[1].Const.Clone()
		if err := d.Apply(perm); err != nil {
			t.Fatal(err)
		}
		// The permutation did something: conv1's filters moved.
		if sqDiff(w1, node(t, g, "conv1").Inputs[1].Const) == 0 {
			t.Errorf("pipeline %q: conv1's weight is unchanged", pipeline)
		}
		if err := ir.Verify(g); err != nil {
			t.Fatal(err)
		}
		after := runGraph(t, g, x)
		for i := range before {
			if diff := maxRelDiff(before[i], after[i]); diff > 1e-5 {
				t.Errorf("pipeline %q: output %d changed by %.2g (relative)", pipeline, i, diff)
			}
		}
	}
}

// TestPermutationSharedConstant: a per-channel constant that a node outside
// the domain also reads is copied, not permuted in place, so the other
// reader keeps its function.
func TestPermutationSharedConstant(t *testing.T) {
	x := &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, 1, 4, 2, 2)}
	z := &ir.Value{Name: "z", Type: ir.TensorType(ir.Float32, 1, 4, 2, 2)}
	b := newBuilder(t, 2, x, z)
	shared := b.rand(4, 1, 1)
	a := b.op("conv1", "Conv", nil, x, b.rand(4, 4, 1, 1))
	s := b.op("shift", "Add", nil, a, shared)
	y := b.op("conv2", "Conv", nil, s, b.rand(4, 4, 1, 1))
	other := b.op("other", "Add", nil, z, shared)
	g := b.done(y, other)
	rng := rand.New(rand.NewPCG(1, 1))
	in := []*ir.Tensor{randInput(rng, 1, 4, 2, 2), randInput(rng, 1, 4, 2, 2)}
	before := runGraph(t, g, in...)
	d, err := permute.Find(permute.NewIndex(g), s, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Apply([]int{3, 1, 0, 2}); err != nil {
		t.Fatal(err)
	}
	after := runGraph(t, g, in...)
	for i := range before {
		if diff := maxRelDiff(before[i], after[i]); diff > 1e-6 {
			t.Errorf("output %d changed by %.2g", i, diff)
		}
	}
	if node(t, g, "shift").Inputs[1] == shared {
		t.Error("the shared constant was permuted in place or not at all")
	}
}

// TestDomainBlocked: channels that reach something that is not per
// channel, or the graph's inputs or outputs, can't be permuted, and the
// error says where.
func TestDomainBlocked(t *testing.T) {
	x := &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, 1, 4, 2, 2)}
	b := newBuilder(t, 3, x)
	a := b.op("conv1", "Conv", nil, x, b.rand(4, 4, 1, 1))
	r := b.op("relu", "Relu", nil, a)
	cat := b.op("cat", "Concat", ir.Attrs{"axis": ir.IntAttr(1)}, r, r)
	y := b.op("conv2", "Conv", nil, r, b.rand(4, 4, 1, 1))
	out := b.op("conv3", "Conv", nil, y, b.rand(4, 4, 1, 1))
	g := b.done(cat, out, y)
	idx := permute.NewIndex(g)
	for _, tc := range []struct {
		v    *ir.Value
		want string
	}{
		{r, `channels reach Concat "cat"`},
		{x, `channels reach graph input "x"`},
		{y, `channels reach graph output "conv2.out"`},
	} {
		_, err := permute.Find(idx, tc.v, 1)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("domain of %s: error %v, want one containing %q", tc.v.Name, err, tc.want)
		}
	}
}

// TestPrunePermute: with permute, the pass permutes the domain, notes the
// kept share before and after for each layer, keeps more magnitude than
// without, and the network with permuted (unpruned) channels is the same
// function, which the kept-share comparison relies on.
func TestPrunePermute(t *testing.T) {
	g, _ := domainNet(t)
	opts := "min-out-channels=0;out-channel-multiple=1;first-layer=prune;last-layer=prune"
	if _, err := runPipeline(g, "prune{"+opts+";permute=true}"); err != nil {
		t.Fatal(err)
	}
	plain, _ := domainNet(t)
	if _, err := runPipeline(plain, "prune{"+opts+"}"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"conv2", "conv3", "fc"} {
		n := node(t, g, name)
		note, pnote := n.Notes["sparsity"], n.Notes["permute"]
		if !strings.Contains(note, "without permutation") || !strings.Contains(pnote, "16 channels, 3 layers: kept") {
			t.Errorf("%s: notes %q / %q, want the kept share with and without permutation", name, note, pnote)
		}
		t.Logf("%s: %s [%s]; without permute: %s", name, note, pnote, node(t, plain, name).Notes["sparsity"])
	}
	// conv1 reads the graph input: not permuted, and says so.
	if p := node(t, g, "conv1").Notes["permute"]; !strings.Contains(p, `not permuted: channels reach graph input "x"`) {
		t.Errorf("conv1: permute note %q", p)
	}
}

// TestPermutationMLP: the same through fully connected layers: a Gemm with
// transB (B is N×K), one without, a MatMul and a FusedGemm produce and
// consume the permuted features, with biases of shape [N] and [1,N].
func TestPermutationMLP(t *testing.T) {
	x := &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, 3, 12)}
	for _, fused := range []bool{false, true} {
		b := newBuilder(t, 8, x)
		h1 := b.op("fc1", "Gemm", ir.Attrs{"transB": ir.IntAttr(1)}, x, b.rand(8, 12), b.rand(8))
		r1 := b.op("relu1", "Relu", nil, h1)
		h2 := b.op("fc2", "Gemm", nil, r1, b.rand(8, 8), b.rand(1, 8))
		r2 := b.op("relu2", "Relu", nil, h2)
		h3 := b.op("fc3", "MatMul", nil, r2, b.rand(8, 8))
		y := b.op("fc4", "Gemm", ir.Attrs{"transB": ir.IntAttr(1)}, h3, b.rand(5, 8), b.rand(5))
		g := b.done(y)
		if fused {
			if _, err := runPipeline(g, "fuse-epilogue"); err != nil {
				t.Fatal(err)
			}
		}
		in := randInput(rand.New(rand.NewPCG(2, 3)), 3, 12)
		want := runGraph(t, g, in)
		idx := permute.NewIndex(g)
		for _, name := range []string{"fc2", "fc3", "fc4"} {
			d, err := permute.Find(idx, node(t, g, name).Inputs[0], 1)
			if err != nil {
				t.Fatalf("fused=%v, %s: %v", fused, name, err)
			}
			if err := d.Apply([]int{7, 2, 5, 0, 1, 6, 3, 4}); err != nil {
				t.Fatal(err)
			}
		}
		if err := ir.Verify(g); err != nil {
			t.Fatal(err)
		}
		if d := maxRelDiff(want[0], runGraph(t, g, in)[0]); d > 1e-5 {
			t.Errorf("fused=%v: output changed by %.2g", fused, d)
		}
	}
}

// progressCounter is a passes.Progress that sums what each task reports.
type progressCounter struct {
	mu     sync.Mutex
	totals map[string]int
	done   map[string]int
	ended  map[string]bool
}

type counterTask struct {
	c    *progressCounter
	what string
}

func (c *progressCounter) Start(what, unit string, total int) passes.Task {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.totals[what+" ("+unit+")"] = total
	return counterTask{c, what + " (" + unit + ")"}
}

func (t counterTask) Add(n int) { t.c.mu.Lock(); t.c.done[t.what] += n; t.c.mu.Unlock() }
func (t counterTask) End(ok bool) {
	t.c.mu.Lock()
	t.c.ended[t.what] = ok
	t.c.mu.Unlock()
}

// The permutation search reports its progress, one unit per channel
// domain, to the manager's Progress.
func TestPermuteProgress(t *testing.T) {
	g, _ := domainNet(t)
	pc := &progressCounter{totals: map[string]int{}, done: map[string]int{}, ended: map[string]bool{}}
	m := &passes.Manager{Progress: pc}
	if _, err := m.RunSpec(g, "prune{min-out-channels=0;out-channel-multiple=1;first-layer=prune;last-layer=prune;permute=true}"); err != nil {
		t.Fatal(err)
	}
	const key = "prune (permutation search) (channel domains)"
	if pc.totals[key] == 0 || pc.done[key] != pc.totals[key] || !pc.ended[key] {
		t.Errorf("started %v, done %v, ended %v", pc.totals, pc.done, pc.ended)
	}
}

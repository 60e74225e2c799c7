package fuse_test

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/internal/zoo"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/passes"
	_ "github.com/sqc-project/sqc/passes/foldbn"
	"github.com/sqc-project/sqc/passes/fuse"
	"github.com/sqc-project/sqc/passes/passtest"
)

// builder makes small float32 graphs with random weights.
type builder struct {
	g *ir.Graph
	r *rand.Rand
	n int
}

func (b *builder) rand(lo, hi float64, shape ...int) *ir.Tensor {
	d := make([]float32, ir.NumElements(shape))
	for i := range d {
		d[i] = float32(lo + (hi-lo)*b.r.Float64())
	}
	return ir.FromFloat32(d, shape...)
}

func (b *builder) konst(lo, hi float64, shape ...int) *ir.Value {
	b.n++
	return ir.NewConst("k"+strconv.Itoa(b.n), b.rand(lo, hi, shape...))
}

// node appends a node and infers its output type.
func (b *builder) node(op string, attrs ir.Attrs, in ...*ir.Value) *ir.Value {
	b.n++
	out := &ir.Value{Name: strings.ToLower(op) + strconv.Itoa(b.n)}
	n := &ir.Node{Name: "n" + strconv.Itoa(b.n), Op: op, Inputs: in, Outputs: []*ir.Value{out}, Attrs: attrs}
	b.g.Nodes = append(b.g.Nodes, n)
	if err := ir.InferNode(n); err != nil {
		panic(err)
	}
	return out
}

func (b *builder) conv(x *ir.Value, cin, cout, k, stride int) *ir.Value {
	p := int64(k / 2)
	bound := math.Sqrt(6 / float64(cin*k*k))
	return b.node("Conv", ir.Attrs{"strides": ir.IntsAttr(int64(stride), int64(stride)), "pads": ir.IntsAttr(p, p, p, p)},
		x, b.konst(-bound, bound, cout, cin, k, k))
}

func (b *builder) bn(x *ir.Value, c int) *ir.Value {
	return b.node("BatchNormalization", ir.Attrs{"epsilon": ir.FloatAttr(1e-5)}, x,
		b.konst(0.5, 1.5, c), b.konst(-0.2, 0.2, c), b.konst(-0.2, 0.2, c), b.konst(0.3, 1.5, c))
}

func (b *builder) relu(x *ir.Value) *ir.Value { return b.node("Relu", nil, x) }

// resnetGraph is a small ResNet-style network touching every pattern: a
// stem conv+bn+relu, a basic block with an identity shortcut, a
// downsampling block (two convs meet at the Add), a conv with a
// per-channel bias Add and Relu6, and a classifier head of Gemm+BN+Relu
// and MatMul + bias + residual + Clip.
func resnetGraph(seed uint64) *ir.Graph {
	b := &builder{g: &ir.Graph{Name: "resnet"}, r: rand.New(rand.NewPCG(seed, 99))}
	x := &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, 2, 3, 12, 12)}
	b.g.Inputs = []*ir.Value{x}
	y := b.relu(b.bn(b.conv(x, 3, 8, 3, 1), 8))
	// identity block
	z := b.relu(b.bn(b.conv(y, 8, 8, 3, 1), 8))
	z = b.bn(b.conv(z, 8, 8, 3, 1), 8)
	y = b.relu(b.node("Add", nil, z, y))
	// downsampling block
	z = b.relu(b.bn(b.conv(y, 8, 16, 3, 2), 16))
	z = b.bn(b.conv(z, 16, 16, 3, 1), 16)
	s := b.bn(b.conv(y, 8, 16, 1, 2), 16)
	y = b.relu(b.node("Add", nil, z, s))
	// conv + per-channel bias + Relu6
	z = b.node("Add", nil, b.conv(y, 16, 16, 1, 1), b.konst(-0.5, 0.5, 1, 16, 1, 1))
	y = b.node("Clip", nil, z, ir.NewConst("zero", ir.FromFloat32([]float32{0})), ir.NewConst("six", ir.FromFloat32([]float32{6})))
	// head
	f := b.node("Flatten", ir.Attrs{"axis": ir.IntAttr(1)}, b.node("GlobalAveragePool", nil, y))
	h := b.node("Gemm", ir.Attrs{"transB": ir.IntAttr(1)}, f, b.konst(-0.5, 0.5, 12, 16), b.konst(-0.5, 0.5, 12))
	h = b.relu(b.bn(h, 12))
	o := b.node("MatMul", nil, h, b.konst(-0.5, 0.5, 12, 16))
	o = b.node("Add", nil, o, b.konst(-0.5, 0.5, 16))
	o = b.node("Add", nil, f, o)
	o = b.node("Clip", nil, o, ir.NewConst("lo", ir.FromFloat32([]float32{-1})), ir.NewConst("hi", ir.FromFloat32([]float32{2.5})))
	b.g.Outputs = []*ir.Value{o}
	return b.g
}

func opCounts(g *ir.Graph) map[string]int {
	m := map[string]int{}
	for _, n := range g.Nodes {
		m[n.Op]++
	}
	return m
}

// compareRuns runs both graphs on inputs and checks every output element
// to 1e-4 relative (to the element, or to the output's mean magnitude for
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
		if mean == 0 {
			t.Fatalf("output %d is all zeros: the test checks nothing", i)
		}
		for j := range w {
			tol := 1e-4 * max(math.Abs(float64(w[j])), mean)
			if d := math.Abs(float64(g[j]) - float64(w[j])); !(d <= tol) {
				t.Fatalf("output %d[%d] = %v, want %v (difference %g > %g)", i, j, g[j], w[j], d, tol)
			}
		}
	}
}

func randomInput(seed uint64, shape ...int) *ir.Tensor {
	r := rand.New(rand.NewPCG(seed, 1))
	d := make([]float32, ir.NumElements(shape))
	for i := range d {
		d[i] = float32(2*r.Float64() - 1)
	}
	return ir.FromFloat32(d, shape...)
}

// TestResNetStyleGraph runs the hand-built network before and after
// fold-batchnorm,fuse-epilogue: the outputs agree, and every BatchNorm,
// Add, Relu and Clip has gone into a fused node.
func TestResNetStyleGraph(t *testing.T) {
	before, after := resnetGraph(1), resnetGraph(1)
	rep := passtest.Run(t, after, "fold-batchnorm,fuse-epilogue")
	ops := opCounts(after)
	for _, op := range []string{"BatchNormalization", "Add", "Relu", "Clip", "MatMul", "Gemm"} {
		if ops[op] != 0 {
			t.Errorf("%d %s nodes left after fusion: %v", ops[op], op, ops)
		}
	}
	// Seven convs: the downsampling block's 1×1 projection stays a Conv
	// (it is the residual of the deeper main-path conv2), the rest fuse.
	if ops["FusedConv"] != 6 || ops["Conv"] != 1 || ops["FusedGemm"] != 2 {
		t.Errorf("ops %v, want 6 FusedConv, 1 Conv, 2 FusedGemm", ops)
	}
	st := rep.Stats["fuse-epilogue"]
	if st["nodes fused"] != 8 || st["residual adds fused"] != 3 || st["bias adds fused"] != 2 || st["activations fused"] != 8 {
		t.Errorf("fuse-epilogue stats %v", st)
	}
	if rep.Stats["fold-batchnorm"]["batchnorms folded"] != 7 {
		t.Errorf("fold-batchnorm stats %v", rep.Stats["fold-batchnorm"])
	}
	compareRuns(t, before, after, []*ir.Tensor{randomInput(7, 2, 3, 12, 12)})

	// A second run finds nothing more to do and leaves the graph as it is.
	again := resnetGraph(1)
	passtest.Run(t, again, "fold-batchnorm,fuse-epilogue")
	rep = passtest.Run(t, again, "fuse-epilogue")
	if n := rep.Stats["fuse-epilogue"]["nodes fused"]; n != 0 {
		t.Errorf("a second fuse-epilogue fused %d more nodes", n)
	}
	if err := ir.Equal(again, after); err != nil {
		t.Errorf("a second fuse-epilogue changed the graph: %v", err)
	}
}

// TestFusedNodeExtends checks that a FusedConv without an activation
// absorbs a following Add and Relu on a later run (the pass can be rerun
// after other rewrites), and that the result computes the same.
func TestFusedNodeExtends(t *testing.T) {
	build := func() *ir.Graph {
		b := &builder{g: &ir.Graph{Name: "g"}, r: rand.New(rand.NewPCG(3, 3))}
		x := &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, 1, 4, 5, 5)}
		b.g.Inputs = []*ir.Value{x}
		c := b.node("FusedConv", ir.Attrs{"activation": ir.StringAttr("none"), "pads": ir.IntsAttr(1, 1, 1, 1)}, x, b.konst(-1, 1, 4, 4, 3, 3), b.konst(-1, 1, 4))
		y := b.relu(b.node("Add", nil, x, c))
		b.g.Outputs = []*ir.Value{y}
		return b.g
	}
	before, after := build(), build()
	passtest.Run(t, after, "fuse-epilogue")
	if len(after.Nodes) != 1 || after.Nodes[0].Op != "FusedConv" || after.Nodes[0].Attrs.String("activation", "") != "relu" || after.Nodes[0].Input(3) != after.Inputs[0] {
		t.Fatalf("want one FusedConv with activation relu and residual x, got %v nodes, first %s %v", len(after.Nodes), after.Nodes[0].Op, after.Nodes[0].Attrs)
	}
	compareRuns(t, before, after, []*ir.Tensor{randomInput(2, 1, 4, 5, 5)})
}

// TestZooResNets imports torchvision-style ResNets (as PyTorch exports
// them) and checks the same contract on real architectures: every
// BatchNormalization folds, every Relu and residual Add fuses, and the
// outputs agree.
func TestZooResNets(t *testing.T) {
	for _, c := range []zoo.ResNetConfig{
		{Depth: 18, Width: 8, Size: 32, Classes: 10, Seed: 1, Batch: 2},
		{Depth: 50, Width: 4, Size: 32, Classes: 10, Seed: 2, Batch: 1},
	} {
		b, err := zoo.ResNet(c)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "m.onnx")
		if err := b.WriteFile(path); err != nil {
			t.Fatal(err)
		}
		before, err := onnx.Import(path)
		if err != nil {
			t.Fatal(err)
		}
		after, err := onnx.Import(path)
		if err != nil {
			t.Fatal(err)
		}
		passtest.Run(t, after, "fold-batchnorm,fuse-epilogue")
		ops := opCounts(after)
		if ops["BatchNormalization"]+ops["Relu"]+ops["Add"] != 0 || ops["FusedConv"] == 0 {
			t.Errorf("resnet%d: ops after fusion %v, want no BatchNormalization, Relu or Add", c.Depth, ops)
		}
		compareRuns(t, before, after, []*ir.Tensor{randomInput(5, c.Batch, 3, c.Size, c.Size)})
	}
}

// TestPassIsRegistered guards the pass's name, which recipes use.
func TestPassIsRegistered(t *testing.T) {
	if passes.Lookup("fuse-epilogue") != fuse.Pass {
		t.Fatal("fuse-epilogue is not registered")
	}
}

package ampere

import (
	"slices"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
)

// TestBatchPlaceIndex checks the buffer offset of every logical element
// for each kind of place against the definition written out per case,
// and that toStorage undoes toLogical.
func TestBatchPlaceIndex(t *testing.T) {
	const n = 3
	cases := []struct {
		name   string
		place  batchPlace
		sample []int64
		// offset of logical element (i, j, k) of a rank-3 tensor.
		want func(i, j, k int) int
	}{
		// [L=2, N, C=4]: sample n is [2, 4].
		{"batch moved to dim 1", batchPlace{1, 1, 1}, []int64{2, 4}, func(l, b, c int) int { return b*8 + l*4 + c }},
		// [2, N·2, 3] (index b·2 + h): sample b is [2, 2, 3].
		{"batch outermost in dim 1", batchPlace{1, 1, 2}, []int64{2, 2, 3}, func(l, x, d int) int { return x/2*12 + l*6 + x%2*3 + d }},
		// [2·N, 3, 1] (index l·N + b): sample b is [2, 3, 1].
		{"batch innermost in dim 0", batchPlace{0, 2, 1}, []int64{2, 3, 1}, func(x, c, z int) int { return x%n*6 + x/n*3 + c + z }},
		{"first dim", firstDim, []int64{2, 5}, func(b, i, j int) int { return b*10 + i*5 + j }},
	}
	for _, c := range cases {
		shape := c.place.logicalShape(c.sample, n)
		if len(shape) != 3 {
			t.Fatalf("%s: logical shape %v, want rank 3", c.name, shape)
		}
		idx := c.place.storageIndex(c.sample, n)
		li := 0
		for i := 0; i < shape[0]; i++ {
			for j := 0; j < shape[1]; j++ {
				for k := 0; k < shape[2]; k++ {
					if got, want := idx[li], c.want(i, j, k); got != int64(want) {
						t.Fatalf("%s: element (%d,%d,%d) at %d, want %d", c.name, i, j, k, got, want)
					}
					li++
				}
			}
		}
		buf := ir.NewTensor(ir.Float32, len(idx))
		for i := range buf.Float32s() {
			buf.Float32s()[i] = float32(i)
		}
		back := c.place.toStorage(c.place.toLogical(buf, c.sample, n), c.sample, n)
		if !slices.Equal(back.Float32s(), buf.Float32s()) {
			t.Errorf("%s: toStorage(toLogical(x)) is not x", c.name)
		}
	}
}

// TestFoldConstantNodes checks that a float MatMul's weight that the INT8
// pipeline quantized and dequantized again is one constant in the plan
// (no host step computes it every run) and in the engine's graph.
func TestFoldConstantNodes(t *testing.T) {
	src := `graph "g" (%x: f32[N,4]) -> (%y) {
  const %wq: i8[4,2] = [1, -2, 3, 4, -5, 6, 7, 8]
  const %s: f32[] = [0.5]
  const %z: i8[] = [0]
  %w: f32[4,2] = DequantizeLinear "wdq" (%wq, %s, %z)
  %y: f32[N,2] = MatMul "mm" (%x, %w)
}`
	g, e := planText(t, src)
	for _, s := range e.Steps {
		if s.Node == "wdq" {
			t.Errorf("the weight's DequantizeLinear runs (%s), want it folded", s.Kernel)
		}
	}
	if strings.Contains(e.Graph, "DequantizeLinear") {
		t.Errorf("engine graph still dequantizes:\n%s", e.Graph)
	}
	if g.Nodes[0].Op != "DequantizeLinear" {
		t.Errorf("Plan changed the caller's graph")
	}
}

// TestMovedBatchElementwise checks that a Relu and a per-tensor
// QuantizeLinear/DequantizeLinear of a value whose batch is dim 1 run on
// their kernels, their outputs keeping the input's place, and that the
// transposes around them are views.
func TestMovedBatchElementwise(t *testing.T) {
	src := `graph "g" (%x: f32[N,5,8]) -> (%y) {
  const %s: f32[] = [0.25]
  const %z: i8[] = [0]
  %t: f32[5,N,8] = Transpose "t0" (%x) {perm = [1, 0, 2]}
  %r: f32[5,N,8] = Relu "relu" (%t)
  %q: i8[5,N,8] = QuantizeLinear "q" (%r, %s, %z)
  %d: f32[5,N,8] = DequantizeLinear "dq" (%q, %s, %z)
  %y: f32[N,5,8] = Transpose "t1" (%d) {perm = [1, 0, 2]}
}`
	_, e := planText(t, src)
	for node, how := range map[string]string{"t0": "view", "relu": "kernel", "q": "kernel", "dq": "kernel", "t1": "view"} {
		if got := ranOn(e, node); got != how {
			t.Errorf("node %s runs on %q, want %q", node, got, how)
		}
	}
	for _, b := range e.Buffers {
		if (b.Name == "r" || b.Name == "q" || b.Name == "d") && (b.Layout != LayoutFlat || !slices.Equal(b.SampleShape, []int64{5, 8})) {
			t.Errorf("buffer %s: %s %v, want flat [5 8] a sample", b.Name, b.Layout, b.SampleShape)
		}
	}
}

// TestMovedBatchMixingOps checks that ops which would mix samples of a
// moved batch stay on the host and say why: a Softmax over the batch's
// dim, and an Add of operands whose batches are at different places (the
// rows of [N·5, 4] and of [5·N, 4]).
func TestMovedBatchMixingOps(t *testing.T) {
	for _, c := range []struct{ body, node, why string }{
		{`(%x: f32[N,5,4]) -> (%y) {
  %t: f32[5,N,4] = Transpose "t0" (%x) {perm = [1, 0, 2]}
  %s: f32[5,N,4] = Softmax "sm" (%t) {axis = 1}
  %y: f32[N,5,4] = Transpose "t1" (%s) {perm = [1, 0, 2]}
}`, "sm", "would mix samples"},
		{`(%x: f32[N,5,4]) -> (%y) {
  const %i0: i64[1] = [0]
  const %i1: i64[1] = [1]
  const %c4: i64[1] = [4]
  const %c5: i64[1] = [5]
  %t: f32[5,N,4] = Transpose "t0" (%x) {perm = [1, 0, 2]}
  %s: i64[3] = Shape "shape" (%x)
  %n: i64[1] = Gather "gn" (%s, %i0) {axis = 0}
  %n5: i64[1] = Mul "n5" (%n, %c5)
  %shp: i64[2] = Concat "cs" (%n5, %c4) {axis = 0}
  %r1: f32[?,4] = Reshape "r1" (%x, %shp)
  %r2: f32[?,4] = Reshape "r2" (%t, %shp)
  %a: f32[?,4] = Add "add" (%r1, %r2)
  %shp2: i64[3] = Concat "cs2" (%n, %c5, %c4) {axis = 0}
  %y: f32[N,5,4] = Reshape "back" (%a, %shp2)
}`, "add", "do not pair"},
	} {
		g, err := sqir.ParseAndVerify("g", []byte(`graph "g" `+c.body))
		if err != nil {
			t.Fatal(err)
		}
		wantFallback(t, g, c.node, "host", c.why)
	}
}

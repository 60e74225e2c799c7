package ampere

import (
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir/sqir"
)

// shapeChainGraph is x.view(x.size(0), -1) as PyTorch exports it with a
// symbolic batch: the Reshape's output type has no known dims.
const shapeChainGraph = `graph "g" (%x: f32[N,4,3,5]) -> (%y) {
  const %i0: i64[] = [0]
  const %ax: i64[1] = [0]
  const %m1: i64[1] = [-1]
  const %w: f32[60,2] = [` + "%s" + `]
  %s: i64[4] = Shape "shape" (%x)
  %b: i64[] = Gather "gather" (%s, %i0) {axis = 0}
  %u: i64[1] = Unsqueeze "unsq" (%b, %ax)
  %sh: i64[2] = Concat "cat" (%u, %m1) {axis = 0}
  %f: f32[?,?] = Reshape "flatten" (%x, %sh)
  %y: f32[N,2] = MatMul "fc" (%f, %w)
}`

// TestPlanShapeChain checks that the chain plans as a view of the input
// with 60 elements a sample and no launch, and that a chain whose result
// folds the batch into another dim (a Reshape to [2N, -1]) is refused by
// name.
func TestPlanShapeChain(t *testing.T) {
	w := strings.TrimSuffix(strings.Repeat("0.5, ", 120), ", ")
	src := strings.Replace(shapeChainGraph, "%s", w, 1)
	_, e := planText(t, src)
	for _, s := range e.Steps {
		if s.Node != "fc" {
			t.Errorf("step for %s (%s): the shape chain should need no launch", s.Node, s.Kernel)
		}
	}
	for _, b := range e.Buffers {
		if b.Name == "f" && (b.AliasOf != "x" || b.ElemsPerSample != 60 || len(b.SampleShape) != 1 || b.SampleShape[0] != 60) {
			t.Errorf("flatten's buffer: %+v, want a view of x with 60 elements a sample", b)
		}
	}
	if len(Fallbacks(e)) != 0 {
		t.Errorf("fallbacks %v, want none", Fallbacks(e))
	}
	// [2N, -1]: the batch is not the first dim of the result.
	bad := strings.Replace(src, `%sh: i64[2] = Concat "cat" (%u, %m1) {axis = 0}`, `const %two: i64[1] = [2]
  %u2: i64[1] = Mul "twice" (%u, %two)
  %sh: i64[2] = Concat "cat" (%u2, %m1) {axis = 0}`, 1)
	g2, err := sqir.ParseAndVerify("g", []byte(bad))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Plan(g2, "test"); err == nil || !strings.Contains(err.Error(), "want the batch first") {
		t.Errorf("a shape that does not follow the batch: err %v", err)
	}
}

// TestShapeOperandsOfTheBatch checks how shape values are taken: one that
// is the same at every batch becomes a constant in the engine's graph (and
// its Shape node goes), and a node computed from one that follows the batch
// is refused by name when its samples differ (a Range up to the batch).
func TestShapeOperandsOfTheBatch(t *testing.T) {
	src := `graph "g" (%x: f32[N,4,3]) -> (%y, %z) {
  const %i0: i64[1] = [0]
  const %i2: i64[1] = [2]
  %s: i64[3] = Shape "shape" (%x)
  %k: i64[1] = Gather "gk" (%s, %i2) {axis = 0}
  %y: f32[N,4,3] = Slice "sl" (%x, %i0, %k, %i2)
  const %i0s: i64[] = [0]
  const %f0: f32[] = [0]
  const %f1: f32[] = [1]
  %n: i64[] = Gather "gn" (%s, %i0s) {axis = 0}
  %nf: f32[] = Cast "cast" (%n) {to = 1}
  %z: f32[?] = Range "fill" (%f0, %nf, %f1)
}`
	g, err := sqir.ParseAndVerify("g", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Plan(g, "test")
	if err == nil || !strings.Contains(err.Error(), `node "fill"`) || !strings.Contains(err.Error(), "differs between samples") {
		t.Errorf("Range up to the batch: err %v, want it refused by name", err)
	}
	// Without the fill, the slice's end (3 at every batch) is a constant
	// and no Shape node is left in the engine's graph.
	ok := strings.Replace(strings.Replace(src, `, %z)`, `)`, 1), `  %z: f32[?] = Range "fill" (%f0, %nf, %f1)
`, "", 1)
	g, err = sqir.ParseAndVerify("g", []byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Plan(g, "test")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.Graph, "Shape") || !strings.Contains(e.Graph, "k.static") {
		t.Errorf("engine graph:\n%s\nwant the slice's end as the constant k.static and no Shape", e.Graph)
	}
	if _, err := sqir.ParseAndVerify("engine", []byte(e.Graph)); err != nil {
		t.Errorf("the engine's graph does not verify: %v", err)
	}
}

// TestResizeSizesOfTheBatch: a Resize whose sizes follow the batch in their
// first element plans (TestHostFreePlans runs one against the reference);
// one whose height follows the batch is refused by name.
func TestResizeSizesOfTheBatch(t *testing.T) {
	src := `graph "g" (%x: f32[N,3,5,4]) -> (%y) {
  %s: i64[4] = Shape "shape" (%x)
  const %st: i64[1] = [0]
  const %en: i64[1] = [2]
  const %one: i64[1] = [1]
  %nc: i64[2] = Slice "nc" (%s, %st, %en)
  %n: i64[1] = Slice "n" (%s, %st, %one)
  const %w: i64[1] = [9]
  %sz: i64[4] = Concat "sizes" (%nc, %n, %w) {axis = 0}
  %y: f32[?,?,?,?] = Resize "up" (%x, _, _, %sz) {mode = "nearest"}
}`
	g, err := sqir.ParseAndVerify("g", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Plan(g, "test"); err == nil || !strings.Contains(err.Error(), `"up"`) || !strings.Contains(err.Error(), "want the same dims after the batch") {
		t.Errorf("a height that follows the batch: err %v, want it refused by name", err)
	}
}

// TestRangeOfAStaticDim: a Range up to a dim that is the same at every
// batch (torch.roll's index as the dynamo exporter writes it: Range over the
// rolled dim, Add, Mod, then a Gather) plans with no launch but the
// Gather's, and the engine rolls the dim as the reference does. In "typed"
// the dim is in the types and folds before planning; in "untyped" it comes
// from a Reshape to a computed shape (Swin-T's windows), so only the
// planner knows it and takes the Range as a shape value at plan time.
func TestRangeOfAStaticDim(t *testing.T) {
	const roll = `
  const %i2: i64[] = [2]
  const %z: i64[] = [0]
  const %one: i64[] = [1]
  const %sh: i64[] = [3]
  %s: i64[3] = Shape "shape" (%f)
  %n: i64[] = Gather "gn" (%s, %i2) {axis = 0}
  %r: i64[?] = Range "arange" (%z, %n, %one)
  %a: i64[?] = Add "shift" (%r, %sh)
  %m: i64[?] = Mod "wrap" (%a, %n)
  %y: f32[N,4,80] = Gather "roll" (%f, %m) {axis = 2}
}`
	for _, tc := range []struct{ name, src string }{
		{"typed", `graph "g" (%x: f32[N,4,80]) -> (%y) {
  %f: f32[N,4,80] = Identity "view" (%x)` + roll},
		{"untyped", `graph "g" (%x: f32[N,4,80]) -> (%y) {
  const %i0: i64[1] = [0]
  const %i1: i64[1] = [1]
  const %rest: i64[2] = [4, 80]
  %s0: i64[3] = Shape "shape0" (%x)
  %b: i64[1] = Slice "batch" (%s0, %i0, %i1)
  %to: i64[3] = Concat "to" (%b, %rest) {axis = 0}
  %f: f32[N,?,?] = Reshape "view" (%x, %to)` + roll},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, e := planText(t, tc.src)
			for _, s := range e.Steps {
				if s.Node != "roll" && s.Node != "view" {
					t.Errorf("step for %s (%s): only the Gather should launch", s.Node, s.Kernel)
				}
			}
			simulateEqualsRef(t, g, e, 3, 5, 6)
		})
	}
}

// asStrided is torch's as_strided(p, [N, A, B], [S, sa, sb]) as the dynamo
// exporter writes it: the offsets of the inner dims a constant (one
// iteration of its loop each, folded), the batch's a Range up to the batch
// times its stride, added with broadcasting, then a Gather of the
// flattened input. %inner and the batch stride are the test's.
const asStrided = `
  const %i0: i64[] = [0]
  const %z: i64[] = [0]
  const %one: i64[] = [1]
  const %axes: i64[2] = [1, 2]
  const %flat: i64[1] = [-1]
  %s: i64[3] = Shape "shape" (%p)
  %n: i64[] = Gather "batch" (%s, %i0) {axis = 0}
  %r: i64[?] = Range "arange" (%z, %n, %one)
  %rs: i64[?] = Mul "stride" (%r, %bs)
  %ru: i64[?,1,1] = Unsqueeze "unsq" (%rs, %axes)
  %idx: i64[?,?,?] = Add "index" (%ru, %inner)
  %at: i64[?,?,?] = Add "offset" (%idx, %z)
  %f: f32[?] = Reshape "flatten" (%p, %flat)
  %y: f32[N,4,3] = Gather "strided" (%f, %at) {axis = 0}
}`

// TestAsStridedOfTheBatch: the index of a strided view (the dynamo
// exporter's as_strided, which stopped Swin-T's build at its Range up to
// the batch: an i64 tensor the GPU runtime cannot hold) is index
// arithmetic the planner evaluates at the gather's probe batch, so no node
// but the Gather launches: a transposing view is one gather launch, an
// identity one a view with none, and both equal the reference at several
// batches. A view whose samples read another sample's elements is refused
// by name.
func TestAsStridedOfTheBatch(t *testing.T) {
	const head = `graph "g" (%x: f32[N,3,4]) -> (%y) {
  %p: f32[N,3,4] = Relu "act" (%x)
`
	// y[n, a, b] = x[n, b, a]: offsets a + 4b.
	transpose := head + `  const %bs: i64[] = [12]
  const %inner: i64[1,4,3] = [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]` + asStrided
	// y[n, a, b] = flat sample n's element 3a + b: a view of x.
	identity := head + `  const %bs: i64[] = [12]
  const %inner: i64[1,4,3] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]` + asStrided
	for _, tc := range []struct {
		name, src string
		launches  int
	}{{"transpose", transpose, 2}, {"identity", identity, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			g, e := planText(t, tc.src)
			if len(e.Steps) != tc.launches {
				for _, s := range e.Steps {
					t.Logf("step %s (%s): %s", s.Node, s.Kernel, s.Note)
				}
				t.Errorf("%d launches, want %d (the Relu%s)", len(e.Steps), tc.launches, map[bool]string{true: " and the Gather", false: ", the Gather a view"}[tc.launches == 2])
			}
			if fb := Fallbacks(e); len(fb) != 0 {
				t.Errorf("fallbacks %v, want none", fb)
			}
			for _, batch := range []int{1, 3, 5} {
				simulateEqualsRef(t, g, e, batch, 7, uint64(batch))
			}
		})
	}
	// A batch stride of 6 makes sample 1 read sample 0's second half.
	crossing := strings.Replace(transpose, "const %bs: i64[] = [12]", "const %bs: i64[] = [6]", 1)
	g, err := sqir.ParseAndVerify("g", []byte(crossing))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Plan(g, "test"); err == nil || !strings.Contains(err.Error(), "strided") {
		t.Errorf("a view across samples: err %v, want it refused naming the Gather", err)
	}
}

// TestAsStridedDynamoForm is TestAsStridedOfTheBatch's transposing view in
// the form torch's exporter library writes as_strided before any folding
// of the batch's iteration: the size a shape value built from Shape, the
// inner dims' indices expanded to it, and the batch's offsets reshaped to
// [N, 1, 1] by a shape computed through float (Cast, Concat with float
// ones, Cast back). It plans with one gather launch besides the Relu and
// equals the reference at several batches.
func TestAsStridedDynamoForm(t *testing.T) {
	src := `graph "g" (%x: f32[N,3,4]) -> (%y) {
  %p: f32[N,3,4] = Relu "act" (%x)
  const %i0: i64[1] = [0]
  const %i1: i64[1] = [1]
  const %z: i64[] = [0]
  const %one: i64[] = [1]
  const %inner: i64[2] = [4, 3]
  const %bs: i64[1] = [12]
  const %ones: f32[2] = [1, 1]
  const %prev: i64[4,3] = [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]
  const %flat: i64[1] = [-1]
  %s: i64[3] = Shape "shape" (%p)
  %n1: i64[1] = Slice "batch" (%s, %i0, %i1)
  %size: i64[3] = Concat "size" (%n1, %inner) {axis = 0}
  %dim0: i64[1] = Gather "size_dim_0" (%size, %i0) {axis = 0}
  %ex: i64[?,?,?] = Expand "expand" (%prev, %size)
  %n: i64[] = Squeeze "scalar" (%dim0)
  %r: i64[?] = Range "arange" (%z, %n, %one)
  %rs: i64[?] = Mul "stride" (%r, %bs)
  %nf: f32[1] = Cast "to_float" (%dim0) {to = 1}
  %shf: f32[3] = Concat "shape_f" (%nf, %ones) {axis = 0}
  %sh: i64[3] = Cast "to_int" (%shf) {to = 7}
  %add: i64[?,?,?] = Reshape "add_value" (%rs, %sh)
  %idx: i64[?,?,?] = Add "index" (%ex, %add)
  %at: i64[?,?,?] = Add "offset" (%idx, %z)
  %f: f32[?] = Reshape "flatten" (%p, %flat)
  %y: f32[N,4,3] = Gather "strided" (%f, %at) {axis = 0}
}`
	g, e := planText(t, src)
	if len(e.Steps) != 2 {
		for _, s := range e.Steps {
			t.Logf("step %s (%s): %s", s.Node, s.Kernel, s.Note)
		}
		t.Errorf("%d launches, want 2 (the Relu and the Gather)", len(e.Steps))
	}
	if fb := Fallbacks(e); len(fb) != 0 {
		t.Errorf("fallbacks %v, want none", fb)
	}
	for _, batch := range []int{1, 2, 5} {
		simulateEqualsRef(t, g, e, batch, 9, uint64(batch))
	}
}

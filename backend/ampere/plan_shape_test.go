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
// does not scale with the batch (a Reshape to [2, -1]) is refused by name.
func TestPlanShapeChain(t *testing.T) {
	w := strings.TrimSuffix(strings.Repeat("0.5, ", 120), ", ")
	src := strings.Replace(shapeChainGraph, "%s", w, 1)
	g, err := sqir.ParseAndVerify("g", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Plan(g, "test")
	if err != nil {
		t.Fatal(err)
	}
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
	// [2, -1]: the "batch" of the result is 2 at every batch.
	bad := strings.Replace(src, `%sh: i64[2] = Concat "cat" (%u, %m1) {axis = 0}`, `const %two: i64[1] = [2]
  %sh: i64[2] = Concat "cat" (%two, %m1) {axis = 0}`, 1)
	g2, err := sqir.ParseAndVerify("g", []byte(bad))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Plan(g2, "test"); err == nil || !strings.Contains(err.Error(), "want the batch first") {
		t.Errorf("a shape that does not follow the batch: err %v", err)
	}
}

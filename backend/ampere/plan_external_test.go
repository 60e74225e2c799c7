package ampere

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
)

// floatList is n distinct float literals for a sqir constant.
func floatList(n int, scale float64) string {
	vals := make([]string, n)
	for i := range vals {
		vals[i] = fmt.Sprint(float64(i%17-8) * scale)
	}
	return strings.Join(vals, ", ")
}

// TestFloatWeightsOnce: a float convolution's weight (kept as ONNX holds
// it) and a row MatMul's weight (kept transposed) are written once, as
// engine weights the graph's text refers to, and Graph reads them back
// equal to the constants; a constant no kernel holds as it is stays in the
// text.
func TestFloatWeightsOnce(t *testing.T) {
	src := `(%a: f32[N,4,5,5]) -> (%y, %z) {
  const %w: f32[6,4,3,3] = [` + floatList(216, 0.01) + `]
  const %b: f32[6] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
  const %m: f32[5,7] = [` + floatList(35, 0.02) + `]
  %y: f32[N,6,5,5] = Conv "conv" (%a, %w, %b) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]}
  %z: f32[N,4,5,7] = MatMul "mm" (%a, %m)
}`
	g, err := sqir.ParseAndVerify("g", []byte(`graph "g" `+src))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Plan(g, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`external "` + externalF32, `external "` + externalF32T} {
		if !strings.Contains(e.Graph, want) {
			t.Errorf("engine graph has no %s reference:\n%s", want, e.Graph)
		}
	}
	if strings.Contains(e.Graph, floatList(216, 0.01)[:40]) {
		t.Error("the convolution's weight is still written out in the graph's text")
	}
	back, err := Graph(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"w", "b", "m"} {
		var orig, got *ir.Value
		for _, v := range g.Constants() {
			if v.Name == name {
				orig = v
			}
		}
		for _, v := range back.Constants() {
			if v.Name == name {
				got = v
			}
		}
		if orig == nil || got == nil {
			t.Fatalf("constant %s: original %v, read back %v", name, orig, got)
		}
		if !slices.Equal(orig.Const.Float32s(), got.Const.Float32s()) || !slices.Equal(orig.Const.Shape, got.Const.Shape) {
			t.Errorf("constant %s read back differs", name)
		}
	}
}

// TestFloatWeightErrors: a reference to a missing or wrongly sized weight
// is an error naming it, not a panic.
func TestFloatWeightErrors(t *testing.T) {
	g, err := sqir.ParseAndVerify("g", []byte(`graph "g" (%a: f32[N,2]) -> (%y) {
  const %c: f32[2,3] = [1, 2, 3, 4, 5, 6]
  %y: f32[N,3] = MatMul "mm" (%a, %c)
}`))
	if err != nil {
		t.Fatal(err)
	}
	v := g.Constants()[0]
	if _, ok, err := floatWeight(nil, externalF32+"gone", v); !ok || err == nil || !strings.Contains(err.Error(), "gone") {
		t.Errorf("missing weight: ok %v, err %v", ok, err)
	}
	if _, ok, _ := floatWeight(nil, "mm", v); ok {
		t.Error("a packed GEMM key taken for a float reference")
	}
}

package quantize_test

import (
	"os"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/dsl"
	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
	_ "github.com/sqc-project/sqc/passes/all"
	"github.com/sqc-project/sqc/passes/quantize"
)

// compileBurn compiles mnist_burn with dense-int8.sqr, calibrated on 256
// MNIST training digits, and the quantize options given.
func compileBurn(t *testing.T, quantizeOpts string) *ir.Graph {
	t.Helper()
	model := "../../../shared/models/mnist_burn_pytorch_bn.onnx"
	data := "../../../shared/data/mnist/train-images-idx3-ubyte.gz"
	if _, err := os.Stat(model); err != nil {
		t.Skip("no ../shared")
	}
	g, err := onnx.Import(model)
	if err != nil {
		t.Fatal(err)
	}
	src := `base "dense-int8.sqr"
calibrate { data = "` + data + `"; samples = 256; scale = 0.00392156862745098; mean = [0.1307]; std = [0.3081]; progress = false }
quantize { ` + quantizeOpts + ` }
`
	r, err := dsl.Parse("burn.sqr", []byte(src))
	if err == nil {
		err = r.Check()
	}
	if err != nil {
		t.Fatal(err)
	}
	specs, err := r.Pipeline()
	if err != nil {
		t.Fatal(err)
	}
	p, err := passes.Build(specs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&passes.Manager{}).Run(g, p); err != nil {
		t.Fatal(err)
	}
	return g
}

// notes returns each layer's sensitivity note by node name.
func notes(g *ir.Graph) map[string]string {
	out := map[string]string{}
	for _, n := range g.Nodes {
		if s, ok := n.Notes[quantize.SensitivityNoteKey]; ok {
			out[n.Name] = s
		}
	}
	return out
}

// TestKeepFloat: on mnist_burn, quantizing fc1 (11,616 inputs) alone costs
// the output most; keep-float = 1 and a max-output-error between its error
// and the rest's both keep it float and it alone, the report notes say
// why, and the backend still plans the engine (fc1 on the float fallback
// kernel, the rest int8).
func TestKeepFloat(t *testing.T) {
	g := compileBurn(t, "keep-float = 1")
	ns := notes(g)
	if len(ns) != 5 {
		t.Fatalf("%d layers measured, want 5: %v", len(ns), ns)
	}
	if !strings.Contains(ns["/fc1/Gemm"], "(rank 1 of 5); kept float: among the 1 worst (keep-float)") {
		t.Errorf("fc1: %q", ns["/fc1/Gemm"])
	}
	for name, s := range ns {
		if name != "/fc1/Gemm" && strings.Contains(s, "kept float") {
			t.Errorf("%s kept float too: %q", name, s)
		}
	}
	e, err := ampere.Plan(g, "test")
	if err != nil {
		t.Fatalf("planning the engine with a float layer: %v", err)
	}
	precision := map[string]string{}
	for _, s := range e.Steps {
		precision[s.Node] = s.Precision
	}
	if precision["/fc1/Gemm"] != "f32" || !strings.HasPrefix(precision["/conv2/Conv"], "int8") {
		t.Errorf("fc1 runs %q, conv2 %q; want f32 and int8", precision["/fc1/Gemm"], precision["/conv2/Conv"])
	}

	// max-output-error: fc1's error is ten times any other layer's, so a
	// target between the others' sum and the total keeps fc1 only.
	g = compileBurn(t, "max-output-error = 0.001")
	ns = notes(g)
	if !strings.Contains(ns["/fc1/Gemm"], "kept float: the quantized layers' errors summed to") {
		t.Errorf("fc1: %q", ns["/fc1/Gemm"])
	}
	for name, s := range ns {
		if name != "/fc1/Gemm" && strings.Contains(s, "kept float") {
			t.Errorf("%s kept float too: %q", name, s)
		}
	}
}

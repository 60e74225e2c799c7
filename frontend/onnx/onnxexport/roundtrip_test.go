package onnxexport_test

import (
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/frontend/onnx/onnxexport"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/all"
)

// TestRoundTrip imports every model, exports it, imports the export and
// runs both graphs on the same random inputs: the reference executor must
// give the same bits, at the default opset and at the oldest one (which
// rewrites ReduceMean, Split and friends into their older forms).
func TestRoundTrip(t *testing.T) {
	names, paths := allModels(t)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			g, err := onnx.Import(paths[name])
			if err != nil {
				t.Fatal(err)
			}
			inputs := randomInputs(t, g, 7)
			want, err := ref.Run(g, inputs...)
			if err != nil {
				t.Fatal(err)
			}
			for _, opset := range []int64{onnxexport.DefaultOpset, onnxexport.MinOpset} {
				g2 := reimport(t, g, onnxexport.Options{Opset: opset})
				checkSameIO(t, g, g2)
				got, err := ref.Run(g2, inputs...)
				if err != nil {
					t.Fatalf("opset %d: %v", opset, err)
				}
				for i := range want {
					if msg := sameBits(want[i], got[i]); msg != "" {
						t.Errorf("opset %d: output %s: %s", opset, g.Outputs[i].Name, msg)
					}
				}
			}
		})
	}
}

// checkSameIO checks that the re-imported graph has the original's inputs
// and outputs: names, dtypes and shapes (symbolic dims included).
func checkSameIO(t *testing.T, g, g2 *ir.Graph) {
	t.Helper()
	for _, pair := range []struct {
		what      string
		want, got []*ir.Value
	}{{"input", g.Inputs, g2.Inputs}, {"output", g.Outputs, g2.Outputs}} {
		if len(pair.want) != len(pair.got) {
			t.Fatalf("%d graph %ss after the round trip, want %d", len(pair.got), pair.what, len(pair.want))
		}
		for i, w := range pair.want {
			got := pair.got[i]
			if got.Name != w.Name || got.Type.DType != w.Type.DType || !got.Type.Shape.Equal(w.Type.Shape) {
				t.Errorf("graph %s %d is %s %v after the round trip, want %s %v", pair.what, i, got.Name, got.Type, w.Name, w.Type)
			}
		}
	}
}

// TestRoundTripAfterPasses exports graphs holding sqc's own ops (FusedConv
// and FusedGemm from the fusion passes, Relayout and padded channels from
// the full default pipeline) and checks that the decomposed model computes
// what the transformed graph computes: the decomposition is the chain the
// reference kernels define the fused ops by, so the bits agree (the brief
// asks for 1e-5; bit identity is what holds).
func TestRoundTripAfterPasses(t *testing.T) {
	pipelines := map[string][]passes.StepSpec{}
	specs, err := passes.ParseSpec("fold-batchnorm,fuse-epilogue")
	if err != nil {
		t.Fatal(err)
	}
	pipelines["fuse"] = specs
	pipelines["default"] = all.Specs(all.GraphPipeline)
	names, paths := allModels(t)
	for _, pname := range []string{"fuse", "default"} {
		for _, name := range names {
			t.Run(pname+"/"+name, func(t *testing.T) {
				g, err := onnx.Import(paths[name])
				if err != nil {
					t.Fatal(err)
				}
				p, err := passes.Build(pipelines[pname])
				if err != nil {
					t.Fatal(err)
				}
				if _, err := (&passes.Manager{VerifyEach: true}).Run(g, p); err != nil {
					t.Fatal(err)
				}
				sqcOps := map[string]int{}
				for _, n := range g.Nodes {
					if !onnxexport.IsONNXOp(n.Op) {
						sqcOps[n.Op]++
					}
				}
				t.Logf("sqc ops after %s: %v", pname, sqcOps)
				inputs := randomInputs(t, g, 11)
				want, err := ref.Run(g, inputs...)
				if err != nil {
					t.Fatal(err)
				}
				g2 := reimport(t, g, onnxexport.Options{})
				for _, n := range g2.Nodes {
					if !onnxexport.IsONNXOp(n.Op) {
						t.Fatalf("re-imported graph holds %s node %q", n.Op, n.Name)
					}
				}
				got, err := ref.Run(g2, inputs...)
				if err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if d, at := maxRelDiff(want[i], got[i]); d > 1e-5 {
						t.Errorf("output %s: relative difference %.3g at element %d, want at most 1e-5", g.Outputs[i].Name, d, at)
					}
					if msg := sameBits(want[i], got[i]); msg != "" {
						t.Errorf("output %s is not bit-identical: %s", g.Outputs[i].Name, msg)
					}
				}
			})
		}
	}
}

package layout_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/all"
	"github.com/sqc-project/sqc/passes/layout"
)

// sharedModels is the folder of third-party models (../shared/models from
// the project root); the test skips when it is absent.
const sharedModels = "../../../shared/models"

// TestSharedModels runs the default pipeline on real exported models: the
// passes before the layout passes, then pad-channels and assign-layout. The
// outputs stay the same, every 2-d conv-family op reads NHWC data, and the
// CNNs whose only non-convolutional tail is Flatten/Reshape/Gemm need just
// two conversions (after the input, before the classifier).
func TestSharedModels(t *testing.T) {
	if _, err := os.Stat(sharedModels); err != nil {
		t.Skipf("third-party models not available: %v", err)
	}
	var before []passes.StepSpec
	for _, p := range all.GraphPipeline {
		if p == layout.Pass || p.Name == "pad-channels" {
			break
		}
		before = append(before, passes.StepSpec{Name: p.Name})
	}
	pre, err := passes.Build(before)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		file      string
		relayouts int // -1: not checked
	}{
		{"mnist-8.onnx", 2},
		{"mnist_burn_pytorch_bn.onnx", 2},
		{"mnist-8-convinteger-quantized_connxr.onnx", 2},
		{"super-resolution-10.onnx", 2},
		// Channel shuffles (Reshape → Transpose → Reshape) read memory
		// order, so ShuffleNet converts around each of them.
		{"shufflenet-v2-12-qdq.onnx", -1},
	} {
		t.Run(c.file, func(t *testing.T) {
			g, err := onnx.Import(filepath.Join(sharedModels, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := (&passes.Manager{VerifyEach: true}).Run(g, pre); err != nil {
				t.Fatal(err)
			}
			padThenLayout(t, g, c.file, 3)
			relayouts := 0
			for _, n := range g.Nodes {
				switch n.Op {
				case "Relayout":
					relayouts++
				case "Conv", "FusedConv", "ConvInteger", "QLinearConv":
					if x := n.Inputs[0]; x.Type.Shape.Rank() == 4 && x.Type.Layout != "NHWC" {
						t.Errorf("%s reads %q %v, want NHWC", n.Name, x.Name, x.Type)
					}
				}
			}
			if c.relayouts >= 0 && relayouts != c.relayouts {
				t.Errorf("%d Relayouts, want %d", relayouts, c.relayouts)
			}
			for _, v := range g.Outputs {
				if v.Type.Layout != "" {
					t.Errorf("graph output %q is %v, want the default layout", v.Name, v.Type)
				}
			}
		})
	}
}

package all

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/internal/zoo"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/passes"
)

// TestDefaultPipelinePreservesOutputs is the graph pipeline's contract: on
// real models and on ResNets built here, the reference executor gives the
// same outputs (to float rounding) before and after the pipeline, on random
// inputs.
func TestDefaultPipelinePreservesOutputs(t *testing.T) {
	models := map[string]string{}
	shared := filepath.Join("..", "..", "..", "shared", "models")
	if entries, err := os.ReadDir(shared); err == nil {
		for _, e := range entries {
			if filepath.Ext(e.Name()) == ".onnx" {
				models[e.Name()] = filepath.Join(shared, e.Name())
			}
		}
	} else if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s is missing: %v", shared, err)
	}
	for _, c := range []zoo.ResNetConfig{
		{Depth: 18, Width: 8, Size: 32, Classes: 10, Seed: 1},
		{Depth: 50, Width: 8, Size: 64, Classes: 10, Seed: 2, ShapeChainFlatten: true, Batch: 2},
	} {
		b, err := zoo.ResNet(c)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("resnet%d.onnx", c.Depth)
		path := filepath.Join(t.TempDir(), name)
		if err := b.WriteFile(path); err != nil {
			t.Fatal(err)
		}
		models[name] = path
	}
	for name, path := range models {
		t.Run(name, func(t *testing.T) {
			before, err := onnx.Import(path)
			if err != nil {
				t.Fatal(err)
			}
			after, err := onnx.Import(path)
			if err != nil {
				t.Fatal(err)
			}
			p, err := passes.Build(Specs(GraphPipeline))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := (&passes.Manager{VerifyEach: true}).Run(after, p); err != nil {
				t.Fatal(err)
			}
			inputs := randomInputs(t, before)
			want, err := ref.Run(before, inputs...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ref.Run(after, inputs...)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				compare(t, after.Outputs[i].Name, want[i], got[i])
			}
		})
	}
}

// randomInputs draws inputs uniform in [-1, 1) (integers in [0, 10)), with
// symbolic dims bound to 2.
func randomInputs(t *testing.T, g *ir.Graph) []*ir.Tensor {
	rng := zoo.NewRand(42)
	var out []*ir.Tensor
	for _, v := range g.Inputs {
		dims := make([]int, len(v.Type.Shape))
		for i, d := range v.Type.Shape {
			dims[i] = 2
			if d.Known() {
				dims[i] = int(d.Size)
			}
		}
		x := ir.NewTensor(v.Type.DType, dims...)
		switch d := x.Data.(type) {
		case []float32:
			for i := range d {
				d[i] = float32(2*rng.Float64() - 1)
			}
		case []int64:
			for i := range d {
				d[i] = int64(rng.Uint64() % 10)
			}
		default:
			t.Fatalf("input %s: no random generator for %v", v.Name, v.Type.DType)
		}
		out = append(out, x)
	}
	return out
}

// compare checks float outputs to a tolerance relative to the output's
// largest magnitude (folding BatchNormalization reorders float arithmetic),
// and everything else exactly.
func compare(t *testing.T, name string, want, got *ir.Tensor) {
	t.Helper()
	if want.DType != got.DType || !ir.ShapeOf(want.Shape...).Equal(ir.ShapeOf(got.Shape...)) {
		t.Fatalf("output %s: %v%v before, %v%v after", name, want.DType, want.Shape, got.DType, got.Shape)
	}
	if want.DType != ir.Float32 {
		if err := ir.Equal(graphOf(want), graphOf(got)); err != nil {
			t.Errorf("output %s differs: %v", name, err)
		}
		return
	}
	w, g := want.Float32s(), got.Float32s()
	scale := 0.0
	for _, v := range w {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	worst := 0.0
	for i := range w {
		worst = math.Max(worst, math.Abs(float64(w[i]-g[i])))
	}
	if worst > 1e-4*math.Max(scale, 1) {
		t.Errorf("output %s: max abs difference %.3g (output scale %.3g)", name, worst, scale)
	}
}

// graphOf wraps a tensor as a one-constant graph, so ir.Equal compares data.
func graphOf(t *ir.Tensor) *ir.Graph {
	return &ir.Graph{Name: "t", Outputs: []*ir.Value{ir.NewConst("t", t)}}
}

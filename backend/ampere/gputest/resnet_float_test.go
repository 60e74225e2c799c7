package gputest

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/internal/zoo"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/all"
)

// TestFloatResNetEngine is a graph.sqr float engine of a torchvision-style
// ResNet-50 (package zoo: 53 convolutions and the classifier, 16 channels
// in the stem, 96×96 images, 3×3 layers summing up to 1152 products) on
// the GPU at batch 1 and 5: its outputs must equal the reference
// executor's bit for bit. Before the float kernels followed ir/ref's
// summation order, torchvision's ResNet-50 and Wide-ResNet-50-2 engines
// differed by 1.6e-5 to 2.5e-5.
func TestFloatResNetEngine(t *testing.T) {
	b, err := zoo.ResNet(zoo.ResNetConfig{Depth: 50, Width: 16, Size: 96, Classes: 100, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "resnet50.onnx")
	if err := b.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	g, err := onnx.Import(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := passes.Build(all.Specs(all.GraphPipeline))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&passes.Manager{}).Run(g, p); err != nil {
		t.Fatal(err)
	}
	e, err := ampere.Plan(g, "test")
	if err != nil {
		t.Fatal(err)
	}
	convs := 0
	for _, s := range e.Steps {
		if s.Kernel == kernels.FloatConvKernel {
			convs++
		}
		if kernels.ApproxKernels[s.Kernel] || s.Kernel == ampere.HostKernel {
			t.Fatalf("step %s runs on %s: the engine should have only bit-exact kernels", s.Node, s.Kernel)
		}
	}
	if convs != 54 {
		t.Fatalf("%d float convolution launches, want ResNet-50's 53 and the classifier", convs)
	}
	needGPU(t)
	for _, batch := range []int{1, 5} {
		x := randomInput(g, batch, rand.New(rand.NewPCG(uint64(batch), 13)), 1)
		got, want := runBoth(t, g, e, batch, x)
		for i := range want {
			gs, ws := got[i].Float32s(), want[i].Float32s()
			if len(gs) != len(ws) {
				t.Fatalf("batch %d output %d: %d values, want %d", batch, i, len(gs), len(ws))
			}
			bad, worst := 0, 0.0
			for j := range ws {
				worst = math.Max(worst, math.Abs(float64(gs[j])-float64(ws[j]))/math.Max(1, math.Abs(float64(ws[j]))))
				if math.Float32bits(gs[j]) != math.Float32bits(ws[j]) {
					if bad < 5 {
						t.Errorf("batch %d output %d [%d]: %v, want %v bit for bit", batch, i, j, gs[j], ws[j])
					}
					bad++
				}
			}
			if bad > 0 {
				t.Errorf("batch %d output %d: %d of %d values differ (worst scaled difference %.3g)", batch, i, bad, len(ws), worst)
			}
		}
	}
}

package plugins

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/internal/zoo"
	"github.com/sqc-project/sqc/ir"
)

// resnet50 builds the zoo's ResNet-50 (ImageNet-sized: 25.6 M parameters,
// 102 MB of float32 weights) as an IR graph.
func resnet50(t testing.TB) *ir.Graph {
	t.Helper()
	b, err := zoo.ResNet(zoo.ResNetConfig{Depth: 50, Width: 64, Size: 224, Classes: 1000, Seed: 1})
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
	os.Remove(path)
	return g
}

func weightBytes(g *ir.Graph) (n int) {
	for _, v := range g.Constants() {
		n += v.Const.Len() * v.Const.DType.Size()
	}
	return n
}

// firstConvWeight returns the weight of g's first Conv.
func firstConvWeight(t testing.TB, g *ir.Graph) []float32 {
	t.Helper()
	for _, n := range g.Nodes {
		if n.Op == "Conv" {
			return n.Inputs[1].Const.Float32s()
		}
	}
	t.Fatal("no conv")
	return nil
}

// TestResNet50RoundTrip sends a ResNet-50 to a plugin and back: once
// unchanged (the weights stay on the host) and once with every large
// weight changed (all of them cross back through the response's file).
// It checks what comes back; BenchmarkResNet50RoundTrip measures how long
// that takes.
func TestResNet50RoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("102 MB of weights")
	}
	g := resnet50(t)
	size := weightBytes(g)
	if size < 100e6 {
		t.Fatalf("the model has %d bytes of weights, want about 100 MB", size)
	}
	want := append([]float32(nil), firstConvWeight(t, g)...)
	for _, mode := range []string{"noop", "touch"} {
		p, err := Load(testPass(t, mode), testConfig())
		if err != nil {
			t.Fatal(err)
		}
		// Twice each: a second step must see the first step's result, not a
		// stale copy of the weights.
		for range 2 {
			if _, err := runSteps(g, p.Pass().Name); err != nil {
				t.Fatal(err)
			}
			if mode == "touch" {
				for i := range want {
					want[i] = -want[i]
				}
			}
			for i, v := range firstConvWeight(t, g) {
				if v != want[i] {
					t.Fatalf("%s: weight %d is %v, want %v", mode, i, v, want[i])
				}
			}
		}
		if got := weightBytes(g); got != size {
			t.Errorf("%s: %d bytes of weights came back, want %d", mode, got, size)
		}
	}
	Shutdown()
	noChildren(t)
}

// BenchmarkResNet50RoundTrip times one step of a plugin on a ResNet-50
// (102 MB of weights), verification before and after included, as a
// pipeline runs it: noop leaves every weight on the host, touch changes
// them all so that all of them cross back.
//
//	go test ./plugins -run '^$' -bench ResNet50RoundTrip
func BenchmarkResNet50RoundTrip(b *testing.B) {
	g := resnet50(b)
	size := int64(weightBytes(g))
	for _, mode := range []string{"noop", "touch"} {
		b.Run(mode, func(b *testing.B) {
			b.SetBytes(size)
			p, err := Load(testPass(b, mode), testConfig())
			if err != nil {
				b.Fatal(err)
			}
			// The first step starts the plugin; time the steady state.
			if _, err := runSteps(g, p.Pass().Name); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := runSteps(g, p.Pass().Name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	Shutdown()
}

package plugins

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/internal/zoo"
	"github.com/sqc-project/sqc/ir"
)

// resnet50 builds the zoo's ResNet-50 (ImageNet-sized: 25.6 M parameters,
// 102 MB of float32 weights) as an IR graph.
func resnet50(t *testing.T) *ir.Graph {
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

// TestResNet50RoundTrip sends a ResNet-50 to a plugin and back: once
// unchanged (the weights stay on the host) and once with every large
// weight changed (all of them cross back through the response's file).
func TestResNet50RoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("102 MB of weights")
	}
	g := resnet50(t)
	size := weightBytes(g)
	if size < 100e6 {
		t.Fatalf("the model has %d bytes of weights, want about 100 MB", size)
	}
	firstWeight := func() []float32 {
		for _, n := range g.Nodes {
			if n.Op == "Conv" {
				return n.Inputs[1].Const.Float32s()
			}
		}
		t.Fatal("no conv")
		return nil
	}
	want := append([]float32(nil), firstWeight()...)
	start := time.Now()
	if err := ir.Verify(g); err != nil {
		t.Fatal(err)
	}
	t.Logf("ir.Verify alone: %v", time.Since(start).Round(time.Millisecond))
	for _, mode := range []string{"noop", "touch"} {
		p, err := Load(testPass(t, mode), Config{})
		if err != nil {
			t.Fatal(err)
		}
		best := time.Duration(math.MaxInt64)
		for range 3 {
			start := time.Now()
			if _, err := runSteps(g, p.Pass().Name); err != nil {
				t.Fatal(err)
			}
			best = min(best, time.Since(start))
			if mode == "touch" {
				for i := range want {
					want[i] = -want[i]
				}
			}
			for i, v := range firstWeight() {
				if v != want[i] {
					t.Fatalf("%s: weight %d is %v, want %v", mode, i, v, want[i])
				}
			}
		}
		t.Logf("%s: %d nodes, %.1f MB of weights: round trip %v (best of 3; the manager verifies before and after)", mode, len(g.Nodes), float64(size)/1e6, best.Round(time.Millisecond))
		if best > time.Second {
			t.Errorf("%s: round trip took %v, want well under a second", mode, best)
		}
	}
	Shutdown()
	noChildren(t)
}

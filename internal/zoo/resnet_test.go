package zoo

import (
	"path/filepath"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/ir"
)

// The parameter counts of torchvision's models (with 1000 classes) pin the
// architecture: a wrong block, width or shortcut changes them.
func TestResNetParams(t *testing.T) {
	for _, c := range []struct {
		depth int
		want  int64 // torchvision's parameter count, BN running stats excluded
	}{{18, 11689512}, {34, 21797672}, {50, 25557032}} {
		b, err := ResNet(ResNetConfig{Depth: c.depth, Width: 64, Size: 224, Classes: 1000})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "r.onnx")
		if err := b.WriteFile(path); err != nil {
			t.Fatal(err)
		}
		g, err := onnx.Import(path)
		if err != nil {
			t.Fatal(err)
		}
		var params int64
		for _, v := range g.Constants() {
			if v.Type.DType == ir.Float32 && !isRunningStat(v.Name) {
				params += v.Type.Shape.NumElements()
			}
		}
		if params != c.want {
			t.Errorf("resnet%d: %d parameters, torchvision has %d", c.depth, params, c.want)
		}
		if got := g.Outputs[0].Type.Shape.String(); got != "[N,1000]" {
			t.Errorf("resnet%d: logits %s", c.depth, got)
		}
	}
}

func isRunningStat(name string) bool {
	return filepath.Ext(name) == ".running_mean" || filepath.Ext(name) == ".running_var"
}

func TestResNetBadConfig(t *testing.T) {
	if _, err := ResNet(ResNetConfig{Depth: 20, Width: 64, Size: 224, Classes: 10}); err == nil {
		t.Error("depth 20 accepted")
	}
	if _, err := ResNet(ResNetConfig{Depth: 18, Width: 0, Size: 224, Classes: 10}); err == nil {
		t.Error("width 0 accepted")
	}
}

// TestRandReference checks the generator against the reference sequence of
// SplitMix64 for seed 1234567 (from the reference C implementation,
// splitmix64.c by Sebastiano Vigna), so generated weights (and the committed
// example model) do not silently change.
func TestRandReference(t *testing.T) {
	r := NewRand(1234567)
	want := []uint64{6457827717110365317, 3203168211198807973, 9817491932198370423, 4593380528125082431, 16408922859458223821}
	for i, w := range want {
		if got := r.Uint64(); got != w {
			t.Fatalf("value %d = %d, want %d", i, got, w)
		}
	}
}

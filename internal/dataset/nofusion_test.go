package dataset

import (
	"math"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// TestUnfusedNormalize checks (x·scale − mean[c]) / std[c] bit for bit
// against its definition with the product rounded on its own, for every
// pixel value 0..255 under MNIST's and ImageNet's constants. Go would fuse
// the product and the subtraction on arm64 and with GOAMD64=v3 unless it is
// rounded explicitly, and the calibrated input range would then differ per
// host. On amd64 v1 the test cannot tell; under arm64 or v3 it can
// (bench/xarch.sh runs it there).
func TestUnfusedNormalize(t *testing.T) {
	for _, pp := range []Preprocess{
		{Scale: 1.0 / 255, Mean: []float32{0.1307}, Std: []float32{0.3081}},
		{Scale: 1.0 / 255, Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}},
	} {
		channels := len(pp.Mean)
		x := ir.NewTensor(ir.Uint8, channels, 256)
		for i := range x.Uint8s() {
			x.Uint8s()[i] = uint8(i % 256)
		}
		got, err := transformArray(x, &pp)
		if err != nil {
			t.Fatal(err)
		}
		sensitive := 0 // values where a fused multiply-subtract gives other bits
		for i, g := range got.Float32s() {
			c, v := i/256, float32(i%256)
			want := (float32(v*pp.Scale) - pp.Mean[c]) / pp.Std[c]
			if math.Float32bits(g) != math.Float32bits(want) {
				t.Fatalf("%v: value %v of channel %d normalized to %v, want %v", &pp, v, c, g, want)
			}
			fused := float32(math.FMA(float64(v), float64(pp.Scale), -float64(pp.Mean[c]))) / pp.Std[c]
			if fused != want {
				sensitive++
			}
		}
		if sensitive == 0 {
			t.Errorf("%v: no value where fusion changes the result: the test would not see it", &pp)
		}
	}
}

package ir

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestUnfusedNonMaxSuppress checks NonMaxSuppress's IoU against its
// definition with every product rounded on its own, on box pairs where a
// fused multiply-add (which Go would make of the areas' products and the sums
// on arm64 and with GOAMD64=v3, unless they are rounded explicitly) gives
// another IoU: with the threshold at the unfused IoU both boxes stay, one
// float32 step below it the second is suppressed. On amd64 v1 the test cannot
// tell; under arm64 or v3 it can (bench/xarch.sh runs it there).
func TestUnfusedNonMaxSuppress(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	fma := func(x, y, z float32) float32 { return float32(math.FMA(float64(x), float64(y), float64(z))) }
	scores := FromFloat32([]float32{0.9, 0.8}, 1, 1, 2)
	maxOut := FromInt64([]int64{2})
	pairs := 0
	for try := 0; try < 100000 && pairs < 200; try++ {
		b := make([]float32, 8) // two boxes, corners y1 x1 y2 x2
		for i := range b {
			b[i] = r.Float32()
		}
		for _, i := range []int{0, 1, 4, 5} {
			b[i], b[i+2] = min(b[i], b[i+2]), max(b[i], b[i+2])
		}
		ih, iw := min(b[2], b[6])-max(b[0], b[4]), min(b[3], b[7])-max(b[1], b[5])
		if ih <= 0 || iw <= 0 {
			continue
		}
		ah, aw, bh, bw := b[2]-b[0], b[3]-b[1], b[6]-b[4], b[7]-b[5]
		inter := float32(ih * iw)
		iou := inter / (float32(ah*aw) + float32(bh*bw) - inter)
		fusedUnions := []float32{
			fma(ah, aw, float32(bh*bw)) - inter,
			float32(ah*aw) + fma(bh, bw, -inter),
			fma(-ih, iw, float32(ah*aw)+float32(bh*bw)),
			fma(-ih, iw, fma(ah, aw, float32(bh*bw))),
		}
		sensitive := false
		for _, u := range fusedUnions {
			sensitive = sensitive || inter/u != iou
		}
		if !sensitive || !(iou > 0 && iou < 1) {
			continue
		}
		pairs++
		boxes := FromFloat32(b, 1, 2, 4)
		for _, c := range []struct {
			threshold float32
			kept      int
		}{{iou, 2}, {math.Nextafter32(iou, 0), 1}} {
			got, err := NonMaxSuppress(boxes, scores, maxOut, FromFloat32([]float32{c.threshold}), nil, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(got)/3 != c.kept {
				t.Fatalf("boxes %v with IoU %v (unfused) and threshold %v: kept %d boxes, want %d", b, iou, c.threshold, len(got)/3, c.kept)
			}
		}
	}
	if pairs < 200 {
		t.Fatalf("only %d box pairs where fusion changes the IoU, want 200", pairs)
	}
}

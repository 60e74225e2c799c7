package kernels

import (
	"fmt"
	"math"
	"testing"
)

// TestToNCHW32Simulated runs the tiled NHWC → NCHW copy's blocks in the
// lockstep interpreter (shared memory, the barrier, race checks) and
// requires every element in its NCHW place with its bits: channel counts
// below, at and past a tile (ViT's 12 heads), pixel counts ragged against
// the tile, one channel, several images.
func TestToNCHW32Simulated(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	text, err := OpPTX(ToNCHW32Kernel)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ n, c, hw int }{{2, 12, 70}, {1, 40, 33}, {3, 1, 5}, {1, 64, 64}, {2, 33, 1}} {
		x := make([]float32, c.n*c.c*c.hw)
		for i := range x {
			x[i] = math.Float32frombits(uint32(0x40000000 + 7*i)) // distinct bits
		}
		tiles := c.n * int(TransposeTiles(int64(c.c), int64(c.hw)))
		out, err := simRunGrid(text, tiles, TransposeThreads, true, x, make([]float32, len(x)), tiles, c.c, c.hw)
		name := fmt.Sprintf("%+v", c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, got := range out[1] {
			n, ch, p := i/(c.c*c.hw), i/c.hw%c.c, i%c.hw
			if want := x[(n*c.hw+p)*c.c+ch]; math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("%s: element %d (image %d, channel %d, pixel %d) is %#x, want %#x", name, i, n, ch, p, math.Float32bits(got), math.Float32bits(want))
			}
		}
	}
}

package gputest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/cuda"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
)

// TestPerfStemQuantize times, side by side in one run, the stem's input
// quantize at batch 256 and 1 (3×224×224 float32 NCHW → SpaceToDepth 2 →
// 16 int8 channels a 112×112 pixel, as ResNet's stem after space-to-depth
// and pad-channels): QuantizePixelKernel (12 scalar loads a pixel) and
// QuantizePixelVecKernel with one and two pixels a thread. It prints µs
// and GB/s (input plus output bytes over the time), with the card's name,
// and requires the three outputs to be equal byte for byte. At batch 256
// the 154 MB input exceeds the L2 cache; at batch 1 the two-pixel kernel
// launches 25 blocks for the GPU's SMs, the one-pixel one 49
// (latencyStemPixels in backend/ampere/plan.go follows that row).
// Skipped with -test.short.
func TestPerfStemQuantize(t *testing.T) {
	g := needGPU(t)
	if testing.Short() {
		t.Skip("timing skipped in -short mode")
	}
	const c, h, w, bs, cp = 3, 224, 224, 2, 16
	oh, ow := h/bs, w/bs
	r := rand.New(rand.NewPCG(121, 122))
	var lines []string
	for _, batch := range []int{256, 1} {
		x := make([]float32, batch*c*h*w)
		for i := range x {
			x[i] = float32(r.NormFloat64() * 2)
		}
		xb := buf(t, g, x)
		pixels := batch * oh * ow
		bytes := float64(4*len(x) + pixels*cp)
		lines = append(lines,
			fmt.Sprintf("stem input quantize at batch %d on %s: %dx%dx%d f32 -> SpaceToDepth %d -> %d int8 channels, median of %d launches; GB/s = (input + output bytes) / time", batch, g.desc, c, h, w, bs, cp, perfIters),
			fmt.Sprintf("%-36s | %6s | %8s %8s | %6s", "kernel", "blocks", "us", "GB/s", "gain"))
		var outs [][]int8
		var first float64
		for _, k := range []struct {
			name string
			pix  int
		}{{kernels.QuantizePixelKernel(cp), 1}, {kernels.QuantizePixelVecKernel(cp, c, bs, 1), 1}, {kernels.QuantizePixelVecKernel(cp, c, bs, 2), 2}} {
			text, err := kernels.OpPTX(k.name)
			if err != nil {
				t.Fatal(err)
			}
			f := g.function(t, k.name, text, k.name)
			yb := alloc(t, g, pixels*cp)
			total := pixels / k.pix
			blocks := (total + kernels.OpThreads - 1) / kernels.OpThreads
			launch := func() error {
				return g.stream.Launch(f, cuda.D1(blocks), cuda.D1(kernels.OpThreads), 0, xb.Ptr, yb.Ptr, uint32(total),
					uint32(c), uint32(h), uint32(w), uint32(oh), uint32(ow), uint32(bs), int32(-5), float32(0.05))
			}
			us := timeKernel(t, g, launch)
			out := make([]int8, pixels*cp)
			if err := cuda.Download(yb, 0, out); err != nil {
				t.Fatal(err)
			}
			outs = append(outs, out)
			if first == 0 {
				first = us
			}
			lines = append(lines, fmt.Sprintf("%-36s | %6d | %8.1f %8.0f | %5.2fx", k.name, blocks, us, bytes/us/1e3, first/us))
		}
		for i := 1; i < len(outs); i++ {
			if !slices.Equal(outs[0], outs[i]) {
				t.Errorf("batch %d: kernel %d's output differs from QuantizePixelKernel's", batch, i)
			}
		}
	}
	t.Log("\n" + strings.Join(lines, "\n"))
}

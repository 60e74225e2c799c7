package gputest

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/cuda"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
)

// poolCase is one int8 NHWC max pool.
type poolCase struct {
	n, c, h, w     int
	kh, kw, sh, sw int
	ph, pw, dh, dw int
	oh, ow         int // with the trailing pads (or ceil mode) the caller chose
}

// maxPoolNHWC is the definition, written independently of the kernels: the
// maximum over the window's taps inside the input, -128 for a window that
// holds none (as ir/ref's).
func maxPoolNHWC(x []int8, p poolCase) []int8 {
	y := make([]int8, p.n*p.oh*p.ow*p.c)
	for b := 0; b < p.n; b++ {
		for oh := 0; oh < p.oh; oh++ {
			for ow := 0; ow < p.ow; ow++ {
				for c := 0; c < p.c; c++ {
					m := int8(-128)
					for r := 0; r < p.kh; r++ {
						for s := 0; s < p.kw; s++ {
							ih, iw := oh*p.sh-p.ph+r*p.dh, ow*p.sw-p.pw+s*p.dw
							if ih >= 0 && ih < p.h && iw >= 0 && iw < p.w {
								m = max(m, x[((b*p.h+ih)*p.w+iw)*p.c+c])
							}
						}
					}
					y[((b*p.oh+oh)*p.ow+ow)*p.c+c] = m
				}
			}
		}
	}
	return y
}

// TestMaxPoolKernels: the scalar and the 16-channel int8 max pools equal
// the definition byte for byte: ResNet's 3×3/2 pad 1 stem pool, 2×2/2, a
// dilated 3×3/1, windows partly and wholly in the padding, several
// batches.
func TestMaxPoolKernels(t *testing.T) {
	g := needGPU(t)
	r := rand.New(rand.NewPCG(91, 92))
	cases := []poolCase{
		{n: 3, c: 64, h: 112, w: 112, kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1, dh: 1, dw: 1, oh: 56, ow: 56},
		{n: 2, c: 32, h: 9, w: 7, kh: 2, kw: 2, sh: 2, sw: 2, dh: 1, dw: 1, oh: 5, ow: 4}, // ceil mode: the last window half out
		{n: 1, c: 48, h: 10, w: 11, kh: 3, kw: 3, sh: 1, sw: 1, ph: 2, pw: 2, dh: 2, dw: 2, oh: 10, ow: 11},
		{n: 5, c: 16, h: 4, w: 5, kh: 2, kw: 2, sh: 3, sw: 2, pw: 1, dh: 1, dw: 1, oh: 3, ow: 3}, // row 2: windows wholly past the input
	}
	for _, p := range cases {
		x := randInt8(r, p.n*p.h*p.w*p.c)
		want := maxPoolNHWC(x, p)
		for _, kernel := range []string{kernels.MaxPoolKernel, kernels.MaxPool16Kernel} {
			t.Run(fmt.Sprintf("%s_n%d_c%d_%dx%d_k%dx%d_s%d%d_p%d%d_d%d%d", kernel, p.n, p.c, p.h, p.w, p.kh, p.kw, p.sh, p.sw, p.ph, p.pw, p.dh, p.dw), func(t *testing.T) {
				text, err := kernels.OpPTX(kernel)
				if err != nil {
					t.Fatal(err)
				}
				f := g.function(t, kernel, text, kernel)
				xb := buf(t, g, x)
				yb := alloc(t, g, len(want))
				total := len(want)
				if kernel == kernels.MaxPool16Kernel {
					total /= 16
				}
				grid := cuda.Dim3{X: uint32((total + kernels.OpThreads - 1) / kernels.OpThreads), Y: 1, Z: 1}
				if err := g.stream.Launch(f, grid, cuda.D1(kernels.OpThreads), 0, xb.Ptr, yb.Ptr, uint32(total),
					uint32(p.c), uint32(p.h), uint32(p.w), uint32(p.oh), uint32(p.ow), uint32(p.kh), uint32(p.kw),
					uint32(p.sh), uint32(p.sw), uint32(p.ph), uint32(p.pw), uint32(p.dh), uint32(p.dw)); err != nil {
					t.Fatal(err)
				}
				if err := g.stream.Synchronize(); err != nil {
					t.Fatal(err)
				}
				got := make([]int8, len(want))
				if err := cuda.Download(yb, 0, got); err != nil {
					t.Fatal(err)
				}
				bad := 0
				for i := range want {
					if got[i] != want[i] {
						if bad < 5 {
							t.Errorf("element %d: %d, want %d", i, got[i], want[i])
						}
						bad++
					}
				}
				if bad > 0 {
					t.Errorf("%d of %d outputs differ", bad, len(want))
				}
			})
		}
	}
}

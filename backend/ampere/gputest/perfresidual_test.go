package gputest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/backend/ampere/cuda"
	"github.com/sqc-project/sqc/ir"
)

// resnetResidualConvs are the convolutions that add a residual in
// ResNet-34 (a basic block's second 3×3) and ResNet-50 (a bottleneck's
// last 1×1), one a stage, 224² input; sparse is how the recipes run them
// (ResNet-34's layer1 stays dense: under 128 channels).
var resnetResidualConvs = []struct {
	name         string
	c, hw, m, kh int // input channels, image size, output channels, kernel
	sparse       bool
}{
	{"rn34 layer1 3x3 64->64 56x56", 64, 56, 64, 3, false},
	{"rn34 layer2 3x3 128->128 28x28", 128, 28, 128, 3, true},
	{"rn34 layer3 3x3 256->256 14x14", 256, 14, 256, 3, true},
	{"rn34 layer4 3x3 512->512 7x7", 512, 7, 512, 3, true},
	{"rn50 layer1 1x1 64->256 56x56", 64, 56, 256, 1, false},
	{"rn50 layer2 1x1 128->512 28x28", 128, 28, 512, 1, true},
	{"rn50 layer3 1x1 256->1024 14x14", 256, 14, 1024, 1, true},
	{"rn50 layer4 1x1 512->2048 7x7", 512, 7, 2048, 1, true},
}

// TestPerfResidual times, side by side in one run, each residual
// convolution of ResNet-34 and ResNet-50 at batch 256 on the kernel the
// planner gives it (ampere.HeuristicConvConfig: the implicit-GEMM or halo
// kernel, for ResNet-50's 1×1 the GEMM on the NHWC rows; int8 out + relu; the
// recipe's kind first, then the other), three ways: without the residual,
// with it read a byte an element (the kernel before ResidualTile), and
// with the residual tile copied into shared memory (ResidualTile). It
// prints µs and what the residual adds to the kernel without it, with the
// card's name, and requires the two residual kernels' outputs to be equal
// bit for bit. Activations and residuals rotate past the L2 cache.
// Skipped with -test.short.
func TestPerfResidual(t *testing.T) {
	g := needGPU(t)
	if testing.Short() {
		t.Skip("timing skipped in -short mode")
	}
	const batch = 256
	r := rand.New(rand.NewPCG(101, 102))
	lines := []string{
		fmt.Sprintf("residual convolutions at batch %d on %s, int8 out + relu, median of %d launches, inputs and residuals rotated past L2; +res = residual kernel minus the kernel without", batch, g.desc, perfIters),
		fmt.Sprintf("%-32s %-6s %-44s | %8s | %8s %8s | %8s %8s | %6s", "layer", "kind", "kernel (residual tile)", "none us", "bytes us", "+res", "tile us", "+res", "gain"),
	}
	for _, l := range resnetResidualConvs {
		k := l.kh * l.kh * l.c
		rows := batch * l.hw * l.hw
		w := rand24(r, l.m, k)
		x := randInt8(r, batch*l.hw*l.hw*l.c)
		res := randInt8(r, rows*l.m)
		tc := convCase{n: batch, c: l.c, h: l.hw, w: l.hw, m: l.m, kh: l.kh, kw: l.kh, stride: 1, pad: l.kh / 2, padEnd: l.kh / 2, dil: 1}
		for _, sparse := range []bool{l.sparse, !l.sparse} {
			cfg, err := ampere.HeuristicConvConfig(sparse, true, tc.shape(0), l.m)
			if err != nil {
				t.Fatal(err)
			}
			tc.step, tc.halo = cfg.ConvStep, cfg.Halo
			kind := "dense"
			if sparse {
				kind = "2:4"
			}
			// One problem (bias, scales, zero points) for the three kernels.
			base := newQGemmWeights(r, rows, l.m, k, sparse, false, false, ir.ActRelu)
			base.w, base.pipe, base.ldcExtra = w, cfg, 0
			var us [3]float64
			var outs [2][]int8
			for vi, v := range []string{"none", "bytes", "tile"} {
				us[vi] = math.NaN()
				t.Run(fmt.Sprintf("%s_%s_%s", strings.ReplaceAll(l.name, " ", "_"), kind, v), func(t *testing.T) {
					p := *base
					if v != "none" {
						p.r, p.sr, p.zr = res, p.sy, 3
					}
					p.byteResidual = v == "bytes"
					var q *gpuGemm
					if cfg.Conv {
						q = uploadConv(t, g, &p, tc, x)
					} else { // a 1×1 stride-1 convolution: the GEMM on the NHWC rows
						p.a = x
						q = p.upload(t, g)
					}
					if q.cfg.ResidualTile != (v == "tile") {
						t.Fatalf("%s: ResidualTile %v for the %s kernel", q.cfg.Name(), q.cfg.ResidualTile, v)
					}
					us[vi] = timeRotating(t, g, q, v != "none")
					if v != "none" {
						outs[vi-1] = make([]int8, rows*l.m)
						if err := cuda.Download(q.y, 0, outs[vi-1]); err != nil {
							t.Fatal(err)
						}
					}
				})
			}
			if outs[0] != nil && outs[1] != nil && !slices.Equal(outs[0], outs[1]) {
				t.Errorf("%s %s: the residual-tile kernel's output differs from the byte-load kernel's", l.name, kind)
			}
			cfg.ResidualTile = true
			lines = append(lines, fmt.Sprintf("%-32s %-6s %-44s | %8.1f | %8.1f %8.1f | %8.1f %8.1f | %5.2fx",
				l.name, kind, strings.TrimPrefix(cfg.Name(), "sqc_gemm_"), us[0], us[1], us[1]-us[0], us[2], us[2]-us[0], us[1]/us[2]))
		}
	}
	t.Log("\n" + strings.Join(lines, "\n"))
}

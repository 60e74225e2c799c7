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

// TestPerfF32Out times, side by side in one run, the convolutions that end
// ResNet-50 and ResNet-34 in a float32 output (+relu, the residual added,
// before the global average pool) at batch 256, on the kernel the planner
// gives them (ampere.HeuristicConvConfig, the residual tile as in the
// engines) with the float32 tile written an element at a time (the kernel
// before StoreVec applied to float32) and staged through shared memory
// into 16-byte stores (_v16). It prints µs, the output's DRAM rate and the
// ratio, with the card's name, and requires the two outputs to be equal
// bit for bit. Activations and residuals rotate past the L2 cache.
// Skipped with -test.short.
func TestPerfF32Out(t *testing.T) {
	g := needGPU(t)
	if testing.Short() {
		t.Skip("timing skipped in -short mode")
	}
	const batch = 256
	r := rand.New(rand.NewPCG(111, 112))
	lines := []string{
		fmt.Sprintf("float32-output convolutions at batch %d on %s, f32 out + residual + relu, median of %d launches, inputs and residuals rotated past L2; GB/s = float32 output bytes / time", batch, g.desc, perfIters),
		fmt.Sprintf("%-34s %-6s %-48s | %9s %7s | %9s %7s | %6s", "layer", "kind", "kernel (staged)", "direct us", "GB/s", "v16 us", "GB/s", "gain"),
	}
	for _, l := range []struct {
		name         string
		c, hw, m, kh int
	}{
		{"rn50 layer4.2.conv3 1x1 512->2048", 512, 7, 2048, 1},
		{"rn34 layer4.2.conv2 3x3 512->512", 512, 7, 512, 3},
	} {
		k := l.kh * l.kh * l.c
		rows := batch * l.hw * l.hw
		x := randInt8(r, rows*l.c)
		res := randInt8(r, rows*l.m)
		tc := convCase{n: batch, c: l.c, h: l.hw, w: l.hw, m: l.m, kh: l.kh, kw: l.kh, stride: 1, pad: l.kh / 2, padEnd: l.kh / 2, dil: 1}
		for _, sparse := range []bool{true, false} {
			cfg, err := ampere.HeuristicConvConfig(sparse, true, tc.shape(0), l.m)
			if err != nil {
				t.Fatal(err)
			}
			tc.step, tc.halo = cfg.ConvStep, cfg.Halo
			kind := "dense"
			if sparse {
				kind = "2:4"
			}
			base := newQGemmWeights(r, rows, l.m, k, sparse, false, true, ir.ActRelu)
			base.ldcExtra = 0
			base.r, base.sr, base.zr = res, base.sy, 3
			var us [2]float64
			var outs [2][]float32
			var name string
			for vi, staged := range []bool{false, true} {
				us[vi] = math.NaN()
				t.Run(fmt.Sprintf("%s_%s_v16%v", strings.ReplaceAll(l.name, " ", "_"), kind, staged), func(t *testing.T) {
					p := *base
					p.pipe = cfg
					p.pipe.StoreVec = staged
					var q *gpuGemm
					if cfg.Conv {
						q = uploadConv(t, g, &p, tc, x)
					} else { // a 1×1 stride-1 convolution: the GEMM on the NHWC rows
						p.a = x
						q = p.upload(t, g)
					}
					if q.cfg.StoreVec != staged || !q.cfg.OutF32 || !q.cfg.ResidualTile {
						t.Fatalf("%s: StoreVec %v, float32 %v, residual tile %v; want %v, true, true", q.cfg.Name(), q.cfg.StoreVec, q.cfg.OutF32, q.cfg.ResidualTile, staged)
					}
					if staged {
						name = q.cfg.Name()
					}
					us[vi] = timeRotating(t, g, q, true)
					outs[vi] = make([]float32, rows*l.m)
					if err := cuda.Download(q.y, 0, outs[vi]); err != nil {
						t.Fatal(err)
					}
				})
			}
			if outs[0] != nil && outs[1] != nil && !slices.EqualFunc(outs[0], outs[1], func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
				t.Errorf("%s %s: the staged kernel's output differs from the direct one's", l.name, kind)
			}
			gb := float64(rows*l.m*4) / 1e3 // bytes / µs / 1e3 = GB/s
			lines = append(lines, fmt.Sprintf("%-34s %-6s %-48s | %9.1f %7.0f | %9.1f %7.0f | %5.2fx",
				l.name, kind, strings.TrimPrefix(name, "sqc_gemm_"), us[0], gb/us[0], us[1], gb/us[1], us[0]/us[1]))
		}
	}
	t.Log("\n" + strings.Join(lines, "\n"))
}

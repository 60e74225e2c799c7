package gputest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/ir/sqir"
)

// constText writes a random f32 constant in .sqir syntax.
func constText(r *rand.Rand, name string, dims ...int) string {
	n := 1
	var ds []string
	for _, d := range dims {
		n *= d
		ds = append(ds, fmt.Sprint(d))
	}
	vs := make([]string, n)
	for i := range vs {
		vs[i] = fmt.Sprintf("%.6g", r.NormFloat64()*0.5)
	}
	return fmt.Sprintf("  const %%%s: f32[%s] = [%s]\n", name, strings.Join(ds, ","), strings.Join(vs, ", "))
}

// floatGraphs are the float fallback cases: convolutions on NCHW input
// (graph inputs stay NCHW) and on NHWC (a conv's output), groups, strides,
// asymmetric pads, dilation, residual, relu and clip; Gemm with alpha,
// beta, transB and a broadcast C; FusedGemm; MatMul; and ("deep") sums
// over several chunks of ir/ref's summation order (K = 2700, 336, 300),
// depthwise, a window of 289 taps.
func floatGraphs() map[string]string {
	r := rand.New(rand.NewPCG(5, 6))
	conv := `graph "g" (%x: f32[N,4,9,7]) -> (%y, %z) {
` + constText(r, "w1", 6, 2, 3, 3) + constText(r, "b1", 6) + constText(r, "w2", 6, 6, 1, 1) + constText(r, "w3", 6, 3, 3, 2) + constText(r, "b3", 6) + `  %a: f32[N,6,5,3] = Conv "c1" (%x, %w1, %b1) {group = 2, strides = [2, 2], pads = [1, 0, 1, 2], dilations = [1, 2]}
  %y: f32[N,6,5,3] = FusedConv "c2" (%a, %w2, %b1, %a) {activation = "relu"}
  %z: f32[N,6,5,3] = FusedConv "c3" (%y, %w3, %b3, %y) {group = 2, pads = [1, 1, 1, 1], dilations = [1, 2], activation = "clip", clip_min = -0.5, clip_max = 1.5}
}`
	gemm := `graph "g" (%x: f32[N,19]) -> (%y, %z, %u) {
` + constText(r, "b", 11, 19) + constText(r, "c", 11) + constText(r, "b2", 11, 7) + constText(r, "b3", 7, 5) + constText(r, "c1", 1) + `  %y: f32[N,11] = Gemm "g1" (%x, %b, %c) {alpha = 0.5, beta = 2.0, transB = 1}
  %z: f32[N,7] = FusedGemm "g2" (%y, %b2, %c1) {activation = "relu"}
  %u: f32[N,5] = MatMul "mm" (%z, %b3)
}`
	deep := `graph "g" (%x: f32[N,300,7,6]) -> (%y, %d, %u, %v) {
` + constText(r, "w1", 8, 300, 3, 3) + constText(r, "b1", 8) + constText(r, "wd", 8, 1, 3, 3) + constText(r, "wl", 8, 1, 17, 17) + constText(r, "g", 336, 9) + constText(r, "c", 9) + constText(r, "m", 300, 4) + `  const %shp: i64[2] = [-1, 336]
  %y: f32[N,8,7,6] = Conv "k2700" (%x, %w1, %b1) {pads = [1, 1, 1, 1]}
  %d: f32[N,8,4,3] = FusedConv "dw_s2" (%y, %wd, %b1) {group = 8, strides = [2, 2], pads = [1, 1, 1, 1], activation = "relu"}
  %l: f32[N,8,7,6] = Conv "dw_289" (%y, %wl) {group = 8, pads = [8, 8, 8, 8]}
  %f: f32[N,336] = Reshape "flat" (%l, %shp)
  %u: f32[N,9] = Gemm "k336" (%f, %g, %c) {alpha = 0.75, beta = 1.5}
  %t: f32[N,7,6,300] = Transpose "tr" (%x) {perm = [0, 2, 3, 1]}
  %v: f32[N,7,6,4] = MatMul "k300" (%t, %m)
}`
	return map[string]string{"conv": conv, "gemm": gemm, "deep": deep}
}

// TestFloatFallback plans each float graph, runs it on the GPU at a few
// batch sizes and requires the reference executor's bits: the float
// kernels follow ir/ref's summation order (ir/ref/sumorder.go) with IEEE
// fused multiply-adds.
//
//	.gpu/ampere.test -test.run 'TestFloatFallback|TestFloatResNetEngine' -test.v
func TestFloatFallback(t *testing.T) {
	for name, text := range floatGraphs() {
		t.Run(name, func(t *testing.T) {
			g, err := sqir.ParseAndVerify(name, []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			e, err := ampere.Plan(g, "test")
			if err != nil {
				t.Fatal(err)
			}
			needGPU(t)
			for _, batch := range []int{1, 3, 70} {
				r := rand.New(rand.NewPCG(uint64(batch), 11))
				x := randomInput(g, batch, r, 2)
				got, want := runBoth(t, g, e, batch, x)
				for i := range want {
					gs, ws := got[i].Float32s(), want[i].Float32s()
					if len(gs) != len(ws) {
						t.Fatalf("batch %d output %d: %d values, want %d", batch, i, len(gs), len(ws))
					}
					bad, worst := 0, 0.0
					for j := range ws {
						d := math.Abs(float64(gs[j])-float64(ws[j])) / math.Max(1, math.Abs(float64(ws[j])))
						worst = math.Max(worst, d)
						if math.Float32bits(gs[j]) != math.Float32bits(ws[j]) {
							if bad < 5 {
								t.Errorf("batch %d output %d [%d]: %v, want %v bit for bit", batch, i, j, gs[j], ws[j])
							}
							bad++
						}
					}
					if bad > 0 {
						t.Errorf("batch %d output %d: %d of %d values differ from the reference (worst scaled difference %.3g)", batch, i, bad, len(ws), worst)
					}
				}
			}
		})
	}
}

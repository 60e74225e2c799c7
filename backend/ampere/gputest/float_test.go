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
// beta, transB and a broadcast C; FusedGemm; MatMul.
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
	return map[string]string{"conv": conv, "gemm": gemm}
}

// TestFloatFallback plans each float graph, runs it on the GPU at a few
// batch sizes and compares with the reference executor within a relative
// 1e-4 (absolute below 1): the GPU sums in (c, kh, kw) order, not ir/ref's.
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
					bad := 0
					for j := range ws {
						d := math.Abs(float64(gs[j]) - float64(ws[j]))
						if d > 1e-4*math.Max(1, math.Abs(float64(ws[j]))) {
							if bad < 5 {
								t.Errorf("batch %d output %d [%d]: %v, want %v", batch, i, j, gs[j], ws[j])
							}
							bad++
						}
					}
					if bad > 0 {
						t.Errorf("batch %d output %d: %d of %d values off by more than 1e-4", batch, i, bad, len(ws))
					}
				}
			}
		})
	}
}

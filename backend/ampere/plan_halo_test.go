package ampere

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/backend/ampere/tuning"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
)

// haloGraph is a quantize, a 3×3 stride-1 pad-1 QConv 64 → 64 on 13×9
// ("s1", the halo kernel's shape) with a fused Relu, then a 3×3 stride-2
// one ("s2", which the halo kernel cannot run); multipliers sx·sw/sy. Both weights are 2:4
// along the input channels.
func haloGraph() string { return haloGraphSized(13, 9) }

// haloGraphSized is haloGraph on h×w images.
func haloGraphSized(h, w int) string {
	hw := fmt.Sprintf("%d,%d", h, w)
	hw2 := fmt.Sprintf("%d,%d", (h-1)/2+1, (w-1)/2+1)
	wt := make([]string, 64*64*9)
	for i := range wt {
		// [o][c][kh][kw]: two of every four consecutive channels zero.
		if c := i / 9 % 64; c%4 < 2 {
			wt[i] = fmt.Sprint(i%5 + 1)
		} else {
			wt[i] = "0"
		}
	}
	scales := strings.TrimSuffix(strings.Repeat("0.5, ", 64), ", ")
	zeros := strings.TrimSuffix(strings.Repeat("0, ", 64), ", ")
	consts := func(n, mult string) string {
		return `  const %w` + n + `: i8[64,64,3,3] quant(axis=0, scale=[` + scales + `], zp=[` + zeros + `]) = [` + strings.Join(wt, ", ") + `]
  const %m` + n + `: f32[64] = [` + strings.TrimSuffix(strings.Repeat(mult+", ", 64), ", ") + `]
  const %b` + n + `: i32[64] = [` + zeros + `]
`
	}
	return `graph "g" (%x: f32[N,64,` + hw + `]) -> (%y) {
  const %sc: f32[] = [0.05]
  const %zp: i8[] = [3]
` + consts("1", "0.25") + consts("2", "0.5") + `  %q: i8[N,64,` + hw + `] quant(scale=[0.05], zp=[3]) = QuantizeLinear "q" (%x, %sc, %zp)
  %h: i8[N,64,` + hw + `] quant(scale=[0.1], zp=[-2]) = QConv "s1" (%q, %w1, %m1, %b1) {activation = "relu", kernel_shape = [3, 3], pads = [1, 1, 1, 1], strides = [1, 1]}
  %y: i8[N,64,` + hw2 + `] quant(scale=[0.1], zp=[-2]) = QConv "s2" (%h, %w2, %m2, %b2) {activation = "relu", kernel_shape = [3, 3], pads = [1, 1, 1, 1], strides = [2, 2]}
}`
}

// TestPlanHaloConv: with haloConv choosing it wherever it can run, the
// planner runs a 3×3 stride-1 convolution of 64 channels on the halo-tile
// kernel (2:4 sparse, one block per two 8×8
// patches: 2×2 patches a 13×9 image), the stride-2 one on the
// implicit-GEMM kernel; with haloConv off, both run on the implicit-GEMM
// kernel.
func TestPlanHaloConv(t *testing.T) {
	g, err := sqir.ParseAndVerify("g", []byte(haloGraph()))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range g.Constants() {
		if strings.HasPrefix(v.Name, "w") {
			v.Sparsity = &ir.Sparsity{N: 2, M: 4, Axis: 1}
		}
	}
	defer func(on func(gemmLayer) bool) { haloConv = on }(haloConv)
	haloConv = func(gemmLayer) bool { return true }
	e, err := Plan(g, "test")
	if err != nil {
		t.Fatal(err)
	}
	s := findStep(t, e, "s1", "sqc_gemm_halo_s8_sp24_i8")
	if s.WorkPerSample != 4 || s.WorkPerBlockX != kernels.HaloSlots || !s.Sparse || !strings.Contains(s.Note, "halo-tile") {
		t.Errorf("s1 launch plan %v", s)
	}
	if n := len(kernels.GemmConfig{Conv: true, Halo: true}.ParamNames()); len(s.Args) != n {
		t.Errorf("s1: %d launch arguments, the kernel takes %d", len(s.Args), n)
	}
	if s2 := findStep(t, e, "s2", "sqc_gemm_conv_s8_sp24_i8_inc"); s2.WorkPerBlockX != kernels.GemmBM {
		t.Errorf("s2 launch plan %v", s2)
	}
	haloConv = func(gemmLayer) bool { return false }
	e2, err := Plan(g, "test")
	if err != nil {
		t.Fatal(err)
	}
	if s1 := findStep(t, e2, "s1", "sqc_gemm_conv_s8_sp24_i8_inc"); s1.WorkPerSample != 13*9 {
		t.Errorf("s1 without the halo kernel: launch plan %v", s1)
	}
}

// TestPlanHalo7: a layer forced onto the 7-row halo tile (sqc tune's
// timing rounds, a tuning cache) launches one block per two 7×8 patches,
// WorkPerSample following the patch geometry (63×9: 9×2 patches, 8×2
// with 8 rows), with the kernel's launch arguments; the heuristic never
// takes it.
func TestPlanHalo7(t *testing.T) {
	g, err := sqir.ParseAndVerify("g", []byte(haloGraphSized(63, 9)))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range g.Constants() {
		if strings.HasPrefix(v.Name, "w") {
			v.Sparsity = &ir.Sparsity{N: 2, M: 4, Axis: 1}
		}
	}
	for _, tc := range []struct {
		variant, kernel string
		patches         uint64
	}{
		{"s4w-v16-halo-h7", "sqc_gemm_halo_s8_sp24_i8_v16_s4w_h7", 18},
		{"s4w-v16-halo", "sqc_gemm_halo_s8_sp24_i8_v16_s4w", 16},
	} {
		p, err := planGraph(g, "test", nil, true, PlanOptions{force: map[string]tuning.Choice{"s1": {Sparse: true, Variant: tc.variant}}})
		if err != nil {
			t.Fatal(err)
		}
		s := findStep(t, p.e, "s1", tc.kernel)
		if s.Kernel != tc.kernel || s.WorkPerSample != tc.patches || s.WorkPerBlockX != kernels.HaloSlots {
			t.Errorf("%s: launch plan %v, want %s on %d patches", tc.variant, s, tc.kernel, tc.patches)
		}
		if n := len(kernels.GemmConfig{Conv: true, Halo: true, Halo7: true}.ParamNames()); len(s.Args) != n {
			t.Errorf("%s: %d launch arguments, the kernel takes %d", tc.variant, len(s.Args), n)
		}
	}
	e, err := Plan(g, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range e.Steps {
		if strings.Contains(s.Kernel, "_h7") {
			t.Errorf("the heuristic planned %s on the 7-row halo tile (%s)", s.Node, s.Kernel)
		}
	}
}

// TestHalo7Candidates: the 7-row halo tile is a candidate (sqc tune, its
// split-K twins at batch 1) wherever it computes fewer pixel rows, on
// the halo pipelines, never a heuristic's choice.
func TestHalo7Candidates(t *testing.T) {
	for _, tc := range []struct {
		h    int
		want bool
	}{{7, true}, {14, true}, {28, true}, {21, true}, {63, true}, {13, true}, {5, true}, {56, false}, {15, false}, {8, false}, {16, false}} {
		s := kernels.ConvShape{C: 256, H: tc.h, W: 14, OH: tc.h, OW: 14, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}
		if got := halo7Saves(s); got != tc.want {
			t.Errorf("halo7Saves(%d rows) = %v, want %v", tc.h, got, tc.want)
		}
	}
	layer3 := gemmLayer{sparse24: true, residual: true, m: 196, n: 256, k: 2304,
		conv: &kernels.ConvShape{C: 256, H: 14, W: 14, OH: 14, OW: 14, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}}
	var h7 []string
	for _, c := range tuneCandidates(layer3, 1) {
		if strings.Contains(c.name, "h7") {
			h7 = append(h7, c.name)
			if !c.config(layer3, true).Halo7 || !c.config(layer3, true).Halo {
				t.Errorf("%s: config %+v", c.name, c.config(layer3, true))
			}
		}
	}
	want := []string{"s4w-v16-halo-h7", "s4w-halo-h7", "n128-s3w-v16-halo-h7", "n128-s3w-halo-h7", "n256-s4w-v16-halo-h7", "n256-s4w-halo-h7",
		"s4w-v16-halo-h7-tr-sk", "s4w-halo-h7-tr-sk"}
	if fmt.Sprint(h7) != fmt.Sprint(want) {
		t.Errorf("7-row candidates of layer3 at batch 1: %v, want %v", h7, want)
	}
	// The throughput heuristic takes 7-row patches on layer3 (halo7Rule),
	// the latency one does not, nor either on a 2:4 7×7 layer.
	if v := heuristicVariantFor(layer3, false); !strings.HasSuffix(v, "-halo-h7") {
		t.Errorf("throughput heuristic of layer3: %s, want 7-row halo patches", v)
	}
	if v := heuristicVariantFor(layer3, true); strings.Contains(v, "h7") {
		t.Errorf("latency heuristic of layer3: %s", v)
	}
	layer4 := gemmLayer{sparse24: true, residual: true, m: 49, n: 512, k: 4608,
		conv: &kernels.ConvShape{C: 512, H: 7, W: 7, OH: 7, OW: 7, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}}
	for _, latency := range []bool{false, true} {
		if v := heuristicVariantFor(layer4, latency); strings.Contains(v, "h7") || !strings.Contains(v, "halo") {
			t.Errorf("heuristic of the 2:4 layer4 (latency %v): %s, want 8-row halo patches", latency, v)
		}
	}
}

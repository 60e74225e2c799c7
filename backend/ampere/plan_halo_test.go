package ampere

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
)

// haloGraph is a quantize, a 3×3 stride-1 pad-1 QConv 64 → 64 on 13×9
// ("s1", the halo kernel's shape) with a fused Relu, then a 3×3 stride-2
// one ("s2", which the halo kernel cannot run); multipliers sx·sw/sy. Both weights are 2:4
// along the input channels.
func haloGraph() string {
	w := make([]string, 64*64*9)
	for i := range w {
		// [o][c][kh][kw]: two of every four consecutive channels zero.
		if c := i / 9 % 64; c%4 < 2 {
			w[i] = fmt.Sprint(i%5 + 1)
		} else {
			w[i] = "0"
		}
	}
	scales := strings.TrimSuffix(strings.Repeat("0.5, ", 64), ", ")
	zeros := strings.TrimSuffix(strings.Repeat("0, ", 64), ", ")
	consts := func(n, mult string) string {
		return `  const %w` + n + `: i8[64,64,3,3] quant(axis=0, scale=[` + scales + `], zp=[` + zeros + `]) = [` + strings.Join(w, ", ") + `]
  const %m` + n + `: f32[64] = [` + strings.TrimSuffix(strings.Repeat(mult+", ", 64), ", ") + `]
  const %b` + n + `: i32[64] = [` + zeros + `]
`
	}
	return `graph "g" (%x: f32[N,64,13,9]) -> (%y) {
  const %sc: f32[] = [0.05]
  const %zp: i8[] = [3]
` + consts("1", "0.25") + consts("2", "0.5") + `  %q: i8[N,64,13,9] quant(scale=[0.05], zp=[3]) = QuantizeLinear "q" (%x, %sc, %zp)
  %h: i8[N,64,13,9] quant(scale=[0.1], zp=[-2]) = QConv "s1" (%q, %w1, %m1, %b1) {activation = "relu", kernel_shape = [3, 3], pads = [1, 1, 1, 1], strides = [1, 1]}
  %y: i8[N,64,7,5] quant(scale=[0.1], zp=[-2]) = QConv "s2" (%h, %w2, %m2, %b2) {activation = "relu", kernel_shape = [3, 3], pads = [1, 1, 1, 1], strides = [2, 2]}
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

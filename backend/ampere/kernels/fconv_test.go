package kernels

import (
	"strings"
	"testing"
)

// TestFloatConvPTXLint lints the float convolution and checks it forms
// products and sums in f64 (exact products of f32 operands, one rounding to
// f32 after the bias), keeps them apart (no FMA) and declares every
// parameter.
func TestFloatConvPTXLint(t *testing.T) {
	text := FloatConvPTX()
	lintPTX(t, FloatConvKernel, text)
	for _, w := range []string{"cvt.f64.f32", "mul.rn.f64", "add.rn.f64", "cvt.rn.f32.f64", "add.rn.f32", "ld.global.f32", "st.global.f32", "max.f32", "min.f32"} {
		if !strings.Contains(text, w) {
			t.Errorf("no %s", w)
		}
	}
	if strings.Contains(text, "fma.") || strings.Contains(text, "mad.f32") || strings.Contains(text, "mad.rn.f32") {
		t.Error("fused float multiply-add")
	}
	if strings.Contains(text, "mul.rn.f32") {
		t.Error("an f32 product: the sum must be formed in f64")
	}
	if n := strings.Count(text, ".param "); n != len(FloatConvParams) {
		t.Errorf("%d params declared, want %d", n, len(FloatConvParams))
	}
	for i, c := range text {
		if c > 127 {
			t.Fatalf("non-ASCII at byte %d", i)
		}
	}
	if !ApproxKernels[FloatConvKernel] {
		t.Error("the float convolution is not listed as approximate")
	}
}

package kernels

import (
	"strings"
	"testing"
)

// TestFloatConvPTXLint lints the float convolution and checks it keeps the
// products and sums apart (no FMA: the reference rounds each) and declares
// every parameter.
func TestFloatConvPTXLint(t *testing.T) {
	text := FloatConvPTX()
	lintPTX(t, FloatConvKernel, text)
	for _, w := range []string{"mul.rn.f32", "add.rn.f32", "ld.global.f32", "st.global.f32", "max.f32", "min.f32"} {
		if !strings.Contains(text, w) {
			t.Errorf("no %s", w)
		}
	}
	if strings.Contains(text, "fma.") || strings.Contains(text, "mad.f32") || strings.Contains(text, "mad.rn.f32") {
		t.Error("fused float multiply-add")
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

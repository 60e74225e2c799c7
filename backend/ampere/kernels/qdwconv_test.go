package kernels

import (
	"strings"
	"testing"
)

// TestQGroupConvPTXLint lints the grouped INT8 convolution and checks it
// keeps the GEMM epilogue's rounding (no fused multiply-add, .rn
// conversions and products) and declares every parameter.
func TestQGroupConvPTXLint(t *testing.T) {
	text := QGroupConvPTX()
	lintPTX(t, QGroupConvKernel, text)
	for _, w := range []string{"cvt.rn.f32.s32", "mul.rn.f32", "add.rn.f32", "cvt.rni.s32.f32", "max.s32", "min.s32", "st.global.s8", "mad.lo.s32"} {
		if !strings.Contains(text, w) {
			t.Errorf("no %s", w)
		}
	}
	if strings.Contains(text, "fma.") || strings.Contains(text, "mad.rn.f32") || strings.Contains(text, "mad.f32") {
		t.Error("fused float multiply-add")
	}
	if n := strings.Count(text, ".param "); n != len(QGroupConvParams) {
		t.Errorf("%d params declared, want %d", n, len(QGroupConvParams))
	}
	for i, c := range text {
		if c > 127 {
			t.Fatalf("non-ASCII at byte %d", i)
		}
	}
	if ApproxKernels[QGroupConvKernel] {
		t.Error("the grouped INT8 convolution is exact but listed as approximate")
	}
}

// TestQGroupConvF32PTXLint lints the f32-output variant: the same integer
// sum and f32 epilogue, the GEMM's f32 activation, an f32 store and no
// int8 rounding.
func TestQGroupConvF32PTXLint(t *testing.T) {
	text := QGroupConvF32PTX()
	lintPTX(t, QGroupConvF32Kernel, text)
	for _, w := range []string{"cvt.rn.f32.s32", "mul.rn.f32", "add.rn.f32", "max.f32", "min.f32", "st.global.f32", "mad.lo.s32"} {
		if !strings.Contains(text, w) {
			t.Errorf("no %s", w)
		}
	}
	for _, w := range []string{"cvt.rni.s32.f32", "st.global.s8", "fma.", "mad.rn.f32", "mad.f32"} {
		if strings.Contains(text, w) {
			t.Errorf("%s in the f32-output kernel", w)
		}
	}
	if n := strings.Count(text, ".param "); n != len(QGroupConvF32Params) {
		t.Errorf("%d params declared, want %d", n, len(QGroupConvF32Params))
	}
	if ApproxKernels[QGroupConvF32Kernel] {
		t.Error("the f32-output grouped convolution is exact but listed as approximate")
	}
}

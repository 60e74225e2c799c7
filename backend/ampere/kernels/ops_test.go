package kernels

import (
	"strings"
	"testing"
)

// TestOpPTXLint runs the linter over every op kernel and checks that the
// exact-arithmetic instructions the reference needs are there.
func TestOpPTXLint(t *testing.T) {
	want := map[string][]string{
		QuantizeKernel:        {"div.rn.f32", "cvt.rni.s32.f32", "add.sat.s32", "st.global.s8"},
		DequantizeKernel:      {"cvt.rn.f32.s32", "mul.rn.f32"},
		GapKernel:             {"add.rn.f64", "div.rn.f64", "cvt.rn.f32.f64"},
		GapQuantizeKernel:     {"add.rn.f64", "div.rn.f64", "cvt.rn.f32.f64", "div.rn.f32", "cvt.rni.s32.f32", "add.sat.s32", "st.global.s8"},
		Im2colKernel:          {"ld.global.s8", "st.global.s8"},
		MaxPoolKernel:         {"max.s32"},
		MaxPoolF32Kernel:      {"ld.global.f32", "setp.nan.f32", "setp.num.f32", "st.global.f32"},
		ToNCHW8Kernel:         {"ld.global.u8"},
		ToNCHW32Kernel:        {"ld.global.b32"},
		ToNHWC8Kernel:         {"ld.global.u8", "st.global.u8"},
		ToNHWC32Kernel:        {"ld.global.b32", "st.global.b32"},
		BatchNormKernel:       {"sub.rn.f32", "mul.rn.f32", "add.rn.f32"},
		SoftmaxKernel:         {"fma.rn.f64", "add.rn.f64", "div.rn.f64", "cvt.rn.f32.f64"},
		LogSoftmaxKernel:      {"fma.rn.f64", "add.rn.f64", "sub.rn.f64", "cvt.rn.f32.f64"},
		SoftmaxShortKernel:    {"fma.rn.f64", "add.rn.f64", "div.rn.f64", "cvt.rn.f32.f64"},
		LogSoftmaxShortKernel: {"fma.rn.f64", "add.rn.f64", "sub.rn.f64", "cvt.rn.f32.f64"},
		Pad8Kernel:            {"st.global.u8"},
		Pad32Kernel:           {"st.global.b32"},
	}
	for name := range OpParams {
		text, err := OpPTX(name)
		if err != nil {
			t.Fatal(err)
		}
		lintPTX(t, name, text)
		for _, w := range want[name] {
			if !strings.Contains(text, w) {
				t.Errorf("%s: no %s", name, w)
			}
		}
		for i, c := range text {
			if c > 127 {
				t.Fatalf("%s: non-ASCII at byte %d", name, i)
			}
		}
		noApproxNoF32FMA(t, name, text)
		if n := strings.Count(text, ".param "); n != len(OpParams[name]) {
			t.Errorf("%s: %d params declared, want %d", name, n, len(OpParams[name]))
		}
	}
	if _, err := OpPTX("nope"); err == nil {
		t.Error("OpPTX(nope) did not fail")
	}
}

package kernels

import (
	"fmt"
	"strings"
	"testing"
)

// TestHostFreePTXLint lints the kernels that replaced host steps (average
// pool, layer normalization, resize, int8 clamp): every register, label
// and parameter declared, ASCII only, the parameter count, and no fused
// multiply-add or approximate instruction, since each is bit-exact against
// the reference executor.
func TestHostFreePTXLint(t *testing.T) {
	for _, c := range []struct {
		name, text string
		params     int
	}{
		{AvgPoolF32Kernel, AvgPoolPTX(), len(AvgPoolParams)},
		{LayerNormKernel, LayerNormPTX(), len(LayerNormParams)},
		{ResizeKernel, ResizePTX(), len(ResizeParams)},
		{Clamp8Kernel, Clamp8PTX(), len(Clamp8Params)},
	} {
		lintPTX(t, c.name, c.text)
		if !strings.Contains(c.text, ".visible .entry "+c.name+"(") {
			t.Errorf("%s: entry not named %s", c.name, c.name)
		}
		if n := strings.Count(c.text, ".param "); n != c.params {
			t.Errorf("%s: %d params declared, want %d", c.name, n, c.params)
		}
		for _, bad := range []string{"fma.", "mad.f32", "mad.rn.f", ".approx", ".ftz"} {
			if strings.Contains(c.text, bad) {
				t.Errorf("%s: %q in a bit-exact kernel", c.name, bad)
			}
		}
		if ApproxKernels[c.name] {
			t.Errorf("%s is listed as approximate", c.name)
		}
	}
}

// TestFloatProductPTXLint lints the kernels that compute float products
// (the float convolution, which also runs Gemm and MatMul by a constant,
// the batched MatMul, the transposed convolution): they follow ir/ref's
// summation order with fused multiply-adds, every one fma.rn.f32 and every
// addition add.rn.f32 (spelled-out rounding, which ptxas does not contract
// or reorder), nothing in f64, no separate f32 product, nothing
// approximate, and they are not listed as approximate.
func TestFloatProductPTXLint(t *testing.T) {
	for _, c := range []struct {
		name, text string
		params     int
	}{
		{FloatConvKernel, FloatConvPTX(), len(FloatConvParams)},
		{BatchMatMulKernel, BatchMatMulPTX(), len(BatchMatMulParams)},
		{ConvTransposeKernel, ConvTransposePTX(), len(ConvTransposeParams)},
	} {
		lintPTX(t, c.name, c.text)
		if n := strings.Count(c.text, ".param "); n != c.params {
			t.Errorf("%s: %d params declared, want %d", c.name, n, c.params)
		}
		if n := strings.Count(c.text, "fma.rn.f32 "); n == 0 || n != strings.Count(c.text, "fma.") {
			t.Errorf("%s: %d fma.rn.f32 of %d fma", c.name, n, strings.Count(c.text, "fma."))
		}
		// The chunk: a count compared with SumChunk, or (the batched
		// MatMul's tiles) a K offset masked with SumChunk-1.
		if !strings.Contains(c.text, fmt.Sprintf("%d;", SumChunk)) && !strings.Contains(c.text, fmt.Sprintf(", %d;", SumChunk-1)) {
			t.Errorf("%s: no chunk of %d", c.name, SumChunk)
		}
		for _, want := range []string{"add.rn.f32 ", "ld.global.f32", "st.global.f32"} {
			if !strings.Contains(c.text, want) {
				t.Errorf("%s: no %q", c.name, want)
			}
		}
		for _, bad := range []string{".f64", "mul.rn.f32", "mul.f32", "add.f32", "mad.f32", "mad.rn.f", ".approx", ".ftz", "sub.f32"} {
			if strings.Contains(c.text, bad) {
				t.Errorf("%s: %q in a kernel that follows ir/ref's summation order", c.name, bad)
			}
		}
		for i, r := range c.text {
			if r > 127 {
				t.Fatalf("%s: non-ASCII at byte %d", c.name, i)
			}
		}
		if ApproxKernels[c.name] {
			t.Errorf("%s is listed as approximate", c.name)
		}
	}
}

package kernels

import (
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

// TestApproxFloatPTXLint lints the batched float matrix product and the
// transposed convolution, which are approximate (their own summation
// order) but fuse nothing.
func TestApproxFloatPTXLint(t *testing.T) {
	for _, c := range []struct {
		name, text string
		params     int
	}{
		{BatchMatMulKernel, BatchMatMulPTX(), len(BatchMatMulParams)},
		{ConvTransposeKernel, ConvTransposePTX(), len(ConvTransposeParams)},
	} {
		lintPTX(t, c.name, c.text)
		if n := strings.Count(c.text, ".param "); n != c.params {
			t.Errorf("%s: %d params declared, want %d", c.name, n, c.params)
		}
		if strings.Contains(c.text, "fma.") || strings.Contains(c.text, "mad.rn.f32") {
			t.Errorf("%s: fused float multiply-add", c.name)
		}
		if !ApproxKernels[c.name] {
			t.Errorf("%s sums in its own order: it must be listed as approximate", c.name)
		}
	}
}

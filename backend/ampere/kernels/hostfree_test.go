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

// TestBatchMatMulPTXLint lints the batched float matrix product, which is
// approximate (its own summation order) but fuses nothing.
func TestBatchMatMulPTXLint(t *testing.T) {
	text := BatchMatMulPTX()
	lintPTX(t, BatchMatMulKernel, text)
	if n := strings.Count(text, ".param "); n != len(BatchMatMulParams) {
		t.Errorf("%d params declared, want %d", n, len(BatchMatMulParams))
	}
	if strings.Contains(text, "fma.") || strings.Contains(text, "mad.rn.f32") {
		t.Error("fused float multiply-add")
	}
	if !ApproxKernels[BatchMatMulKernel] {
		t.Error("the batched MatMul sums in its own order: it must be listed as approximate")
	}
}

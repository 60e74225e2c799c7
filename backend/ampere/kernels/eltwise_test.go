package kernels

import (
	"strings"
	"testing"
)

// TestEltwisePTXLint lints the elementwise kernel: ASCII only, every
// parameter declared, no approximate instruction and no f32 fused
// multiply-add (the reference rounds each operation; the f64 fma.rn are
// fmath's math.FMA), and the kernel is not listed approximate.
func TestEltwisePTXLint(t *testing.T) {
	name, text := EltwiseKernel, EltwisePTX()
	lintPTX(t, name, text)
	if !strings.Contains(text, ".visible .entry "+name+"(") {
		t.Errorf("%s: entry not named %s", name, name)
	}
	for _, w := range []string{"add.rn.f32", "sub.rn.f32", "mul.rn.f32", "div.rn.f32", "fma.rn.f64", "max.f32", "min.f32", "st.global.f32"} {
		if !strings.Contains(text, w) {
			t.Errorf("%s: no %s", name, w)
		}
	}
	noApproxNoF32FMA(t, name, text)
	if n := strings.Count(text, ".param "); n != len(EltwiseParams) {
		t.Errorf("%s: %d params declared, want %d", name, n, len(EltwiseParams))
	}
	for i, c := range text {
		if c > 127 {
			t.Fatalf("%s: non-ASCII at byte %d", name, i)
		}
	}
	if ApproxKernels[EltwiseKernel] {
		t.Errorf("%s is listed approximate", EltwiseKernel)
	}
}

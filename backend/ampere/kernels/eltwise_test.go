package kernels

import (
	"strings"
	"testing"
)

// TestEltwisePTXLint lints both names of the elementwise kernel: ASCII
// only, every parameter declared, no fused multiply-add (the reference
// rounds each operation), and only the Sigmoid/Tanh name is approximate.
func TestEltwisePTXLint(t *testing.T) {
	for _, name := range []string{EltwiseKernel, EltwiseApproxKernel} {
		text := EltwisePTX(name)
		lintPTX(t, name, text)
		if !strings.Contains(text, ".visible .entry "+name+"(") {
			t.Errorf("%s: entry not named %s", name, name)
		}
		for _, w := range []string{"add.rn.f32", "sub.rn.f32", "mul.rn.f32", "div.rn.f32", "ex2.approx.f32", "max.f32", "min.f32", "st.global.f32"} {
			if !strings.Contains(text, w) {
				t.Errorf("%s: no %s", name, w)
			}
		}
		if strings.Contains(text, "fma.") || strings.Contains(text, "mad.f32") || strings.Contains(text, "mad.rn.f32") {
			t.Errorf("%s: fused float multiply-add", name)
		}
		if n := strings.Count(text, ".param "); n != len(EltwiseParams) {
			t.Errorf("%s: %d params declared, want %d", name, n, len(EltwiseParams))
		}
		for i, c := range text {
			if c > 127 {
				t.Fatalf("%s: non-ASCII at byte %d", name, i)
			}
		}
	}
	if ApproxKernels[EltwiseKernel] || !ApproxKernels[EltwiseApproxKernel] {
		t.Errorf("approximate: %s %v, %s %v; want false, true", EltwiseKernel, ApproxKernels[EltwiseKernel], EltwiseApproxKernel, ApproxKernels[EltwiseApproxKernel])
	}
}

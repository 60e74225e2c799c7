package kernels

import (
	"strings"
	"testing"
)

// TestActPTXLint lints the HardSigmoid/HardSwish and channel-scale
// kernels: parameters declared, ASCII only, no fused multiply-add, the
// float64 arithmetic ir/ref uses, and no min/max (which drop NaNs).
func TestActPTXLint(t *testing.T) {
	for name, c := range map[string]struct {
		text   string
		params []string
		want   []string
	}{
		HardActKernel:   {HardActPTX(), HardActParams, []string{"mul.rn.f64", "add.rn.f64", "div.rn.f64", "setp.le.f64", "setp.ge.f64", "cvt.rn.f32.f64"}},
		ChanScaleKernel: {ChanScalePTX(), ChanScaleParams, []string{"mul.rn.f32", "rem.u32"}},
	} {
		lintPTX(t, name, c.text)
		for _, w := range c.want {
			if !strings.Contains(c.text, w) {
				t.Errorf("%s: no %s", name, w)
			}
		}
		for _, bad := range []string{"fma.", "mad.f", "mad.rn.f", "min.f", "max.f"} {
			if strings.Contains(c.text, bad) {
				t.Errorf("%s: has %s", name, bad)
			}
		}
		if n := strings.Count(c.text, ".param "); n != len(c.params) {
			t.Errorf("%s: %d params declared, want %d", name, n, len(c.params))
		}
		for i, r := range c.text {
			if r > 127 {
				t.Fatalf("%s: non-ASCII at byte %d", name, i)
			}
		}
	}
}

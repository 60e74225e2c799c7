package kernels

import (
	"strings"
	"testing"
)

// TestConvPoolPTXLint lints the conv-pool kernels (declarations, labels,
// parameters, ASCII) and checks what they must hold: every float operation
// rounds to nearest (no contraction into an FMA), the name a GEMM step's.
func TestConvPoolPTXLint(t *testing.T) {
	for _, c := range []ConvPoolConfig{{KH: 4, KW: 4, Patches: ConvPoolPatches}, {KH: 4, KW: 4, Patches: 1}, {KH: 3, KW: 3, Patches: 2}, {KH: 1, KW: 1, Patches: 8}, {KH: 4, KW: 4, Patches: 4, Group: 2, MinBlocks: 5}} {
		text, err := c.PTX()
		if err != nil {
			t.Fatal(err)
		}
		lintPTX(t, c.Name(), text)
		if !strings.HasPrefix(c.Name(), "sqc_gemm_") {
			t.Errorf("%s: name without the sqc_gemm_ prefix tune and the roofline look for", c.Name())
		}
		for i, line := range strings.Split(text, "\n") {
			for _, r := range line {
				if r > 127 {
					t.Errorf("%s line %d: non-ASCII %q", c.Name(), i+1, r)
					break
				}
			}
			if s := strings.TrimSpace(line); strings.Contains(s, ".f32 %fy") && (strings.HasPrefix(s, "mul.") || strings.HasPrefix(s, "add.")) && !strings.Contains(s, ".rn.") {
				t.Errorf("%s line %d: float operation without .rn: %s", c.Name(), i+1, s)
			}
		}
		if n := strings.Count(text, "mma.sync.aligned.m16n8k32"); n != 2*c.kSteps()*cpTiles {
			t.Errorf("%s: %d products, want %d (37 pixel tiles, %d K steps, two k32 halves)", c.Name(), n, 2*c.kSteps()*cpTiles, c.kSteps())
		}
	}
}

// TestConvPoolRejects: configurations and launches the kernel cannot run
// are errors that say what was expected.
func TestConvPoolRejects(t *testing.T) {
	for _, c := range []ConvPoolConfig{{KH: 5, KW: 5, Patches: 1}, {KH: 4, KW: 4, Patches: 0}, {KH: 4, KW: 4, Patches: 1, Group: 9}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v validates", c)
		}
	}
	stem := ConvShape{C: 16, H: 112, W: 112, OH: 112, OW: 112, KH: 4, KW: 4, SH: 1, SW: 1, PH: 2, PW: 2, DH: 1, DW: 1}
	good := GemmParams{M: 2 * 112 * 112, N: 64, K: 256, NPad: 64, KPad: 256, LDC: 64, QLo: 0, QHi: 127, Conv: stem}
	c := ConvPoolConfig{KH: 4, KW: 4, Patches: 4}
	if err := c.Check(good); err != nil {
		t.Fatalf("the stem: %v", err)
	}
	for name, edit := range map[string]func(p *GemmParams){
		"channels":  func(p *GemmParams) { p.Conv.C, p.K = 32, 512 },
		"stride":    func(p *GemmParams) { p.Conv.SH = 2 },
		"kernel":    func(p *GemmParams) { p.Conv.KH, p.K = 3, 192 },
		"partial M": func(p *GemmParams) { p.M-- },
		"N":         func(p *GemmParams) { p.N, p.LDC = 40, 40 },
		"clamp":     func(p *GemmParams) { p.QHi, p.ZY = 127, 5 },
	} {
		p := good
		edit(&p)
		if err := c.Check(p); err == nil {
			t.Errorf("%s: Check accepts %+v", name, p)
		} else if !strings.Contains(err.Error(), c.Name()) {
			t.Errorf("%s: error %q does not name the kernel", name, err)
		}
	}
}

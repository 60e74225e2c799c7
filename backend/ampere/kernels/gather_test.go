package kernels

import (
	"strings"
	"testing"
)

// TestGatherPTXLint lints both gather kernels: every parameter declared,
// ASCII only, the table read as (source, destination) pairs and the copy
// at the element's width.
func TestGatherPTXLint(t *testing.T) {
	for name, width := range map[string]string{Gather8Kernel: "u8", Gather32Kernel: "b32"} {
		text := GatherPTX(name)
		lintPTX(t, name, text)
		if !strings.Contains(text, ".visible .entry "+name+"(") {
			t.Errorf("%s: entry not named %s", name, name)
		}
		for _, w := range []string{"ld.global.v2.u32", "ld.global." + width, "st.global." + width, "mul.wide.u32"} {
			if !strings.Contains(text, w) {
				t.Errorf("%s: no %s", name, w)
			}
		}
		if n := strings.Count(text, ".param "); n != len(GatherParams) {
			t.Errorf("%s: %d params declared, want %d", name, n, len(GatherParams))
		}
		for i, c := range text {
			if c > 127 {
				t.Fatalf("%s: non-ASCII at byte %d", name, i)
			}
		}
	}
}

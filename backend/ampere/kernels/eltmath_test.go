package kernels

import (
	"strconv"
	"strings"
	"testing"
)

// TestEltMathPTXLint lints the unary, broadcasting and reduction kernels:
// every register, label and parameter declared, ASCII only; the exact
// names use no approximate instruction and no fused multiply-add, so their
// f32 results round as the reference's do.
func TestEltMathPTXLint(t *testing.T) {
	modules := map[string]string{
		UnaryKernel:        UnaryPTX(UnaryKernel),
		UnaryApproxKernel:  UnaryPTX(UnaryApproxKernel),
		BcastKernel:        BcastPTX(),
		ReduceKernel:       ReducePTX(ReduceKernel),
		ReduceApproxKernel: ReducePTX(ReduceApproxKernel),
	}
	params := map[string]int{UnaryKernel: len(UnaryParams), UnaryApproxKernel: len(UnaryParams), BcastKernel: len(BcastParams),
		ReduceKernel: len(ReduceParams), ReduceApproxKernel: len(ReduceParams)}
	for name, text := range modules {
		lintPTX(t, name, text)
		if !strings.Contains(text, ".visible .entry "+name+"(") {
			t.Errorf("%s: entry not named %s", name, name)
		}
		if n := strings.Count(text, ".param "); n != params[name] {
			t.Errorf("%s: %d params declared, want %d", name, n, params[name])
		}
		if strings.Contains(text, "fma.") || strings.Contains(text, "mad.f32") || strings.Contains(text, "mad.rn.f32") {
			t.Errorf("%s: fused float multiply-add", name)
		}
		for i, c := range text {
			if c > 127 {
				t.Fatalf("%s: non-ASCII at byte %d", name, i)
			}
		}
	}
	for name, want := range map[string]bool{UnaryKernel: false, UnaryApproxKernel: true, BcastKernel: false, ReduceKernel: false, ReduceApproxKernel: true} {
		if ApproxKernels[name] != want {
			t.Errorf("ApproxKernels[%s] = %v, want %v", name, ApproxKernels[name], want)
		}
	}
	// Every op code has its branch.
	for _, c := range []struct {
		text string
		n    int
	}{{modules[UnaryKernel], numUnary}, {modules[BcastKernel], numBinary}} {
		for op := 0; op < c.n; op++ {
			if !strings.Contains(c.text, "setp.eq.u32 %p1, %r1, "+strconv.Itoa(op)+";") {
				t.Errorf("no branch for op %d", op)
			}
		}
	}
	for op := 0; op < UCube+1; op++ {
		if UnaryExact(op) != (op <= USquare) {
			t.Errorf("UnaryExact(%d) = %v", op, UnaryExact(op))
		}
	}
}

package kernels

import (
	"strconv"
	"strings"
	"testing"
)

// TestEltMathPTXLint lints the unary, broadcasting and reduction kernels:
// every register, label and parameter declared, ASCII only, no
// approximate instruction and no fused f32 multiply-add, so their f32
// results round as the reference's do.
func TestEltMathPTXLint(t *testing.T) {
	modules := map[string]string{
		UnaryKernel:  UnaryPTX(),
		BcastKernel:  BcastPTX(BcastKernel),
		Bcast4Kernel: BcastPTX(Bcast4Kernel),
		ReduceKernel: ReducePTX(),
	}
	params := map[string]int{UnaryKernel: len(UnaryParams), BcastKernel: len(BcastParams), Bcast4Kernel: len(BcastParams), ReduceKernel: len(ReduceParams)}
	for name, text := range modules {
		lintPTX(t, name, text)
		if !strings.Contains(text, ".visible .entry "+name+"(") {
			t.Errorf("%s: entry not named %s", name, name)
		}
		if n := strings.Count(text, ".param "); n != params[name] {
			t.Errorf("%s: %d params declared, want %d", name, n, params[name])
		}
		noApproxNoF32FMA(t, name, text)
		for i, c := range text {
			if c > 127 {
				t.Fatalf("%s: non-ASCII at byte %d", name, i)
			}
		}
		if ApproxKernels[name] {
			t.Errorf("%s is listed approximate", name)
		}
	}
	// Every op code has its branch.
	for _, c := range []struct {
		text string
		n    int
	}{{modules[UnaryKernel], numUnary}, {modules[BcastKernel], numBinary}, {modules[Bcast4Kernel], numBinary}} {
		for op := 0; op < c.n; op++ {
			if !strings.Contains(c.text, "setp.eq.u32 %p1, %r1, "+strconv.Itoa(op)+";") {
				t.Errorf("no branch for op %d", op)
			}
		}
	}
}

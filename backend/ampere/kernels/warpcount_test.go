package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir/ref/fmath"
)

// warpCost is what one warp of the unary kernel issues: the kernel's
// f64 body has no loop, so a warp issues every instruction that any of
// its lanes issues once, whichever lanes need it (lanes on other paths
// wait), and the count is the size of the union of the lanes' paths.
type warpCost struct {
	insts, divs, fmas int
}

// unaryWarpCost runs the unary kernel's op on one warp of inputs in the
// thread interpreter and returns the warp's cost.
func unaryWarpCost(t *testing.T, op int, x []float32) warpCost {
	t.Helper()
	k, err := parseThreads(UnaryPTX())
	if err != nil {
		t.Fatal(err)
	}
	m := newTMachine()
	seen := map[int]bool{}
	m.trace = func(pc int) { seen[pc] = true }
	y := make([]byte, 4*len(x))
	args := []uint64{m.buffer(f32Buffer(x)), m.buffer(y), uint64(len(x)), uint64(op), 0, 0}
	if err := m.runThreads(k, args, len(x)); err != nil {
		t.Fatal(err)
	}
	var c warpCost
	for pc := range seen {
		c.insts++
		switch opc := k.insts[pc].opc; {
		case strings.HasPrefix(opc, "div.rn.f64"):
			c.divs++
		case strings.HasPrefix(opc, "fma.rn.f64"):
			c.fmas++
		}
	}
	return c
}

// erfWarps are warps of 32 Erf arguments: all lanes in one of Erf's
// ranges, or spread over several (what a warp of GELU's inputs sees).
func erfWarps() []struct {
	name string
	x    []float64
} {
	r := rand.New(rand.NewPCG(41, 42))
	in := func(lo, hi float64) float64 { return lo + r.Float64()*(hi-lo) }
	bands := [][2]float64{{0, 0.75}, {0.75, 1.5}, {1.5, 2.5}, {2.5, 6}}
	warp := func(pick ...int) []float64 {
		x := make([]float64, 32)
		for i := range x {
			b := bands[pick[i%len(pick)]]
			x[i] = in(b[0], b[1])
			if i%2 == 1 {
				x[i] = -x[i]
			}
		}
		return x
	}
	return []struct {
		name string
		x    []float64
	}{
		{"|x| < 0.75", warp(0)},
		{"0.75 ≤ |x| < 1.5", warp(1)},
		{"1.5 ≤ |x| < 2.5", warp(2)},
		{"2.5 ≤ |x| < 6", warp(3)},
		{"mixed below 2.5", warp(0, 1, 2)},
		{"mixed, all ranges", warp(0, 1, 2, 3)},
		{"31 below 0.75, 1 above 2.5", append(warp(0)[:31], 3)},
	}
}

// TestErfWarpCost reports (go test -v -run TestErfWarpCost) the PTX
// instructions, f64 divisions and f64 fused multiply-adds one warp of the
// unary kernel issues for Erf and Gelu, for warps whose lanes fall in one
// of Erf's ranges and for warps spread over them. It checks what the
// evaluation's design promises: a warp's divisions do not grow with the
// continued fraction's depth, and a warp spread over the series' bands
// issues no more multiply-adds than the deepest band alone.
func TestErfWarpCost(t *testing.T) {
	var b strings.Builder
	fmt.Fprintf(&b, "%-28s %22s %22s\n", "warp (Erf's argument)", "Erf insts/div/fma", "Gelu insts/div/fma")
	costs := map[string][2]warpCost{}
	for _, w := range erfWarps() {
		erfX, geluX := make([]float32, len(w.x)), make([]float32, len(w.x))
		for i, v := range w.x {
			erfX[i] = float32(v)
			geluX[i] = float32(v * math.Sqrt2)
		}
		e, g := unaryWarpCost(t, UErf, erfX), unaryWarpCost(t, UGelu, geluX)
		costs[w.name] = [2]warpCost{e, g}
		fmt.Fprintf(&b, "%-28s %22s %22s\n", w.name, fmt.Sprintf("%d/%d/%d", e.insts, e.divs, e.fmas), fmt.Sprintf("%d/%d/%d", g.insts, g.divs, g.fmas))
	}
	t.Log("\n" + b.String())
	deepest := costs["1.5 ≤ |x| < 2.5"][0]
	if mixed := costs["mixed below 2.5"][0]; mixed.fmas > deepest.fmas {
		t.Errorf("a warp over all series bands issues %d multiply-adds, the deepest band alone %d", mixed.fmas, deepest.fmas)
	}
	if tail := costs["mixed, all ranges"][0]; tail.divs >= fmath.ErfcDepth/4 {
		t.Errorf("a warp with continued-fraction lanes issues %d divisions (depth %d)", tail.divs, fmath.ErfcDepth)
	}
}

package gputest

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
)

// mathGraphs are the cases of the math kernels (kernels/eltmath.go), on an
// NCHW graph input and on the NHWC output of a convolution (1×1 weights
// of 0, 1 and 0.5: exact in any order): the f32 ops, and the
// transcendental ones and sums, which follow ir/ref's f64 arithmetic
// (package fmath). Every output must equal the reference's bits.
var mathGraphs = map[string]struct {
	text string
}{
	"f32": {text: `graph "g" (%x: f32[N,4,6,5]) -> (%neg, %fl, %ce, %ro, %sq, %rc, %p2, %mn, %mx, %bc, %rmax, %rmin, %rows) {
  const %w: f32[4,4,1,1] = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0.5, 0, 0, 1]
  const %c: f32[1,1,6,1] = [1, -2, 3, 0.5, -0.25, 4]
  const %cm: f32[4,6,1] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
  const %two: f32[] = [2]
  const %ax3: i64[1] = [3]
  const %ax1: i64[1] = [1]
  const %ax23: i64[2] = [2, 3]
  %h: f32[N,4,6,5] = Conv "conv" (%x, %w)
  %neg: f32[N,4,6,5] = Neg "neg" (%h)
  %a: f32[N,4,6,5] = Abs "abs" (%x)
  %fl: f32[N,4,6,5] = Floor "floor" (%h)
  %ce: f32[N,4,6,5] = Ceil "ceil" (%x)
  %ro: f32[N,4,6,5] = Round "round" (%h)
  %sq: f32[N,4,6,5] = Sqrt "sqrt" (%a)
  %rc: f32[N,4,6,5] = Reciprocal "recip" (%h)
  %p2: f32[N,4,6,5] = Pow "pow2" (%x, %two)
  %r: f32[N,4,6,1] = ReduceMax "rmax3" (%x, %ax3)
  %mn: f32[N,4,6,5] = Min "min" (%x, %r)
  %mx: f32[N,4,6,5] = Max "max" (%h, %cm)
  %bc: f32[N,4,6,5] = Mul "mulb" (%h, %c)
  %rmax: f32[N,1,6,5] = ReduceMax "rmaxc" (%h, %ax1)
  %rmin: f32[N,4,1,1] = ReduceMin "rmin" (%x, %ax23)
  %rows: f32[N,4] = ReduceMax "rows" (%h, %ax23) {keepdims = 0}
}`},
	"transcendental": {text: `graph "g" (%x: f32[N,4,6,5]) -> (%e, %l, %er, %el, %se, %sp, %mi, %ge, %gt, %hs, %hw, %p3, %rs, %rl2, %rl1, %rss) {
  const %w: f32[4,4,1,1] = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0.5, 0, 0, 1]
  const %one: f32[] = [1]
  const %three: f32[] = [3]
  const %ax23: i64[2] = [2, 3]
  const %ax1: i64[1] = [1]
  %h: f32[N,4,6,5] = Conv "conv" (%x, %w)
  %e: f32[N,4,6,5] = Exp "exp" (%x)
  %a: f32[N,4,6,5] = Abs "abs" (%h)
  %a1: f32[N,4,6,5] = Add "add1" (%a, %one)
  %l: f32[N,4,6,5] = Log "log" (%a1)
  %er: f32[N,4,6,5] = Erf "erf" (%h)
  %el: f32[N,4,6,5] = Elu "elu" (%x) {alpha = 0.7}
  %se: f32[N,4,6,5] = Selu "selu" (%h)
  %sp: f32[N,4,6,5] = Softplus "softplus" (%x)
  %mi: f32[N,4,6,5] = Mish "mish" (%h)
  %ge: f32[N,4,6,5] = Gelu "gelu" (%x)
  %gt: f32[N,4,6,5] = Gelu "gelut" (%h) {approximate = "tanh"}
  %hs: f32[N,4,6,5] = HardSigmoid "hsig" (%x) {alpha = 0.25, beta = 0.4}
  %hw: f32[N,4,6,5] = HardSwish "hswish" (%h)
  %p3: f32[N,4,6,5] = Pow "pow3" (%x, %three)
  %rs: f32[N,4] = ReduceSum "rsum" (%h, %ax23) {keepdims = 0}
  %rl2: f32[N,1,6,5] = ReduceL2 "rl2" (%h, %ax1)
  %rl1: f32[N,4,1,1] = ReduceL1 "rl1" (%x, %ax23)
  %rss: f32[N,4,1,1] = ReduceSumSquare "rss" (%x, %ax23)
}`},
}

// TestMathKernels plans each graph, runs it on the GPU at a few batch
// sizes (70 samples of 120 elements span several blocks) and compares with
// the reference executor.
func TestMathKernels(t *testing.T) {
	for name, c := range mathGraphs {
		t.Run(name, func(t *testing.T) {
			g, err := sqir.ParseAndVerify(name, []byte(c.text))
			if err != nil {
				t.Fatal(err)
			}
			e, err := ampere.Plan(g, "test")
			if err != nil {
				t.Fatal(err)
			}
			needGPU(t)
			for _, batch := range []int{1, 3, 70} {
				r := rand.New(rand.NewPCG(uint64(batch), 21))
				x := ir.NewTensor(ir.Float32, batch, 4, 6, 5)
				xs := x.Float32s()
				for i := range xs {
					xs[i] = float32(r.NormFloat64() * 2)
				}
				// Halves (Round's ties), zeros and integers.
				xs[0], xs[1], xs[2] = 2.5, 0, -3
				got, want := runBoth(t, g, e, batch, x)
				for i := range want {
					gs, ws := got[i].Float32s(), want[i].Float32s()
					if len(gs) != len(ws) {
						t.Fatalf("batch %d output %s: %d values, want %d", batch, g.Outputs[i].Name, len(gs), len(ws))
					}
					bad, worst := 0, 0.0
					for j := range ws {
						d := math.Abs(float64(gs[j]) - float64(ws[j]))
						scaled := d / math.Max(1, math.Abs(float64(ws[j])))
						if math.Float32bits(gs[j]) != math.Float32bits(ws[j]) && !(gs[j] != gs[j] && ws[j] != ws[j]) {
							if bad < 5 {
								t.Errorf("batch %d output %s [%d]: %v, want %v", batch, g.Outputs[i].Name, j, gs[j], ws[j])
							}
							bad++
						}
						worst = math.Max(worst, scaled)
					}
					if bad > 0 {
						t.Errorf("batch %d output %s: %d of %d values differ", batch, g.Outputs[i].Name, bad, len(ws))
					}
					t.Logf("batch %d output %s: worst scaled difference %.3g", batch, g.Outputs[i].Name, worst)
				}
			}
		})
	}
}

package gputest

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/ir/sqir"
)

// eltGraphs are the float elementwise cases: per-channel constants on NCHW
// (graph input) and NHWC (a convolution's output) values, a scalar on the
// left of Sub and Div, same-shape operands, and every unary op; the rank-2
// graph broadcasts along its last axis.
func eltGraphs() map[string]string {
	image := `graph "g" (%x: f32[N,4,3,5]) -> (%r, %t, %v) {
  const %cb: f32[1,4,1,1] = [0.5, -0.25, 1, 2]
  const %cs: f32[4,1,1] = [1.5, -2, 0.75, 3]
  const %w: f32[4,4,1,1] = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0.5, 0, 0, 1]
  const %k: f32[1] = [3]
  const %half: f32[] = [0.5]
  const %lo: f32[] = [-0.5]
  const %hi: f32[] = [1.25]
  %a: f32[N,4,3,5] = Add "add" (%x, %cb)
  %r: f32[N,4,3,5] = Relu "relu" (%a)
  %h: f32[N,4,3,5] = Conv "conv" (%x, %w)
  %m: f32[N,4,3,5] = Mul "mul" (%h, %cs)
  %s: f32[N,4,3,5] = Sub "sub" (%k, %m)
  %g: f32[N,4,3,5] = Sigmoid "sig" (%s)
  %q: f32[N,4,3,5] = Add "addh" (%g, %half)
  %d: f32[N,4,3,5] = Div "div" (%m, %q)
  %l: f32[N,4,3,5] = LeakyRelu "leaky" (%d) {alpha = 0.2}
  %c: f32[N,4,3,5] = Clip "clip" (%l, %lo, %hi)
  %t: f32[N,4,3,5] = Tanh "tanh" (%c)
  %u: f32[N,4,3,5] = Tanh "tanh2" (%x)
  %v: f32[N,4,3,5] = Sub "sub2" (%u, %a)
}`
	rows := `graph "g" (%x: f32[N,7]) -> (%z, %e) {
  const %cv: f32[7] = [1, -1, 2, -2, 0.5, 4, -3]
  const %cw: f32[1,7] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
  const %two: f32[1] = [2]
  %y: f32[N,7] = Mul "mul" (%x, %cv)
  %s: f32[N,7] = Sigmoid "sig" (%y)
  %p: f32[N,7] = Add "add" (%s, %cw)
  %z: f32[N,7] = Div "div" (%two, %p)
  %e: f32[N,7] = Sub "sub" (%y, %cw)
}`
	return map[string]string{"image": image, "rows": rows}
}

// TestFloatEltwise runs the elementwise graphs on the GPU at a few batch
// sizes (70 × 60 elements spans several blocks) and compares with the
// reference executor bit for bit: Sigmoid and Tanh follow ir/ref's f64
// arithmetic (package fmath), the rest rounds as the reference does.
func TestFloatEltwise(t *testing.T) {
	for name, text := range eltGraphs() {
		t.Run(name, func(t *testing.T) {
			g, err := sqir.ParseAndVerify(name, []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			e, err := ampere.Plan(g, "test")
			if err != nil {
				t.Fatal(err)
			}
			needGPU(t)
			for _, batch := range []int{1, 3, 70} {
				r := rand.New(rand.NewPCG(uint64(batch), 13))
				x := randomInput(g, batch, r, 3)
				xs := x.Float32s()
				// Values that reach the kernel's extremes: saturating
				// Sigmoid/Tanh arguments and exact zeros.
				xs[0], xs[len(xs)-1] = 60, -60
				if len(xs) > 2 {
					xs[1] = 0
				}
				got, want := runBoth(t, g, e, batch, x)
				if len(got) != len(want) {
					t.Fatalf("batch %d: %d outputs, want %d", batch, len(got), len(want))
				}
				for i := range want {
					gs, ws := got[i].Float32s(), want[i].Float32s()
					if len(gs) != len(ws) {
						t.Fatalf("batch %d output %d: %d values, want %d", batch, i, len(gs), len(ws))
					}
					bad, worst := 0, 0.0
					for j := range ws {
						d := math.Abs(float64(gs[j]) - float64(ws[j]))
						worst = math.Max(worst, d/math.Max(1, math.Abs(float64(ws[j]))))
						if math.Float32bits(gs[j]) != math.Float32bits(ws[j]) {
							if bad < 5 {
								t.Errorf("batch %d output %d [%d]: %v, want %v", batch, i, j, gs[j], ws[j])
							}
							bad++
						}
					}
					if bad > 0 {
						t.Errorf("batch %d output %d: %d of %d values differ from the reference's bits", batch, i, bad, len(ws))
					}
					t.Logf("batch %d output %d: worst scaled difference %.3g", batch, i, worst)
				}
			}
		})
	}
}

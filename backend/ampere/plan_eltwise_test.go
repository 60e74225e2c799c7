package ampere

import (
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir/sqir"
)

// eltGraph mixes every elementwise op over NCHW (the graph input) and NHWC
// (a convolution's output) values, with per-channel, scalar, left-hand and
// same-shape operands.
const eltGraph = `graph "g" (%x: f32[N,4,3,5]) -> (%r, %t) {
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
}`

// TestPlanEltwise checks each elementwise node's kernel, op code and
// broadcast arguments, worked out by hand from the graph's layouts.
func TestPlanEltwise(t *testing.T) {
	g, err := sqir.ParseAndVerify("g", []byte(eltGraph))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Plan(g, "test")
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		kernel                    string
		op, bmode, c, inner, swap uint32
		alpha, lo, hi             float32
		checkBounds               bool
	}
	wants := map[string]want{
		"add":   {kernel: kernels.EltwiseKernel, op: kernels.EltAdd, bmode: kernels.EltChannelB, c: 4, inner: 15},
		"relu":  {kernel: kernels.EltwiseKernel, op: kernels.EltClamp, c: 1, inner: 1},
		"mul":   {kernel: kernels.EltwiseKernel, op: kernels.EltMul, bmode: kernels.EltChannelB, c: 4, inner: 1},
		"sub":   {kernel: kernels.EltwiseKernel, op: kernels.EltSub, bmode: kernels.EltScalarB, c: 1, inner: 1, swap: 1},
		"sig":   {kernel: kernels.EltwiseApproxKernel, op: kernels.EltSigmoid, c: 1, inner: 1},
		"addh":  {kernel: kernels.EltwiseKernel, op: kernels.EltAdd, bmode: kernels.EltScalarB, c: 1, inner: 1},
		"div":   {kernel: kernels.EltwiseKernel, op: kernels.EltDiv, bmode: kernels.EltSameB, c: 1, inner: 1},
		"leaky": {kernel: kernels.EltwiseKernel, op: kernels.EltLeaky, c: 1, inner: 1, alpha: 0.2},
		"clip":  {kernel: kernels.EltwiseKernel, op: kernels.EltClamp, c: 1, inner: 1, lo: -0.5, hi: 1.25, checkBounds: true},
		"tanh":  {kernel: kernels.EltwiseApproxKernel, op: kernels.EltTanh, c: 1, inner: 1},
	}
	seen := 0
	for _, s := range e.Steps {
		w, ok := wants[s.Node]
		if !ok {
			continue
		}
		seen++
		if s.Kernel != w.kernel {
			t.Errorf("%s: kernel %s, want %s", s.Node, s.Kernel, w.kernel)
		}
		if len(s.Args) != len(kernels.EltwiseParams) {
			t.Errorf("%s: %d args, want %d", s.Node, len(s.Args), len(kernels.EltwiseParams))
			continue
		}
		if s.Args[3].GetU32PerSample() != 60 {
			t.Errorf("%s: %d elements a sample, want 60", s.Node, s.Args[3].GetU32PerSample())
		}
		got := []uint32{s.Args[4].GetU32(), s.Args[5].GetU32(), s.Args[6].GetU32(), s.Args[7].GetU32(), s.Args[8].GetU32()}
		exp := []uint32{w.op, w.bmode, w.c, w.inner, w.swap}
		for i := range got {
			if got[i] != exp[i] {
				t.Errorf("%s: %s = %d, want %d", s.Node, kernels.EltwiseParams[4+i], got[i], exp[i])
			}
		}
		if w.alpha != 0 && s.Args[9].GetF32() != w.alpha {
			t.Errorf("%s: alpha %v, want %v", s.Node, s.Args[9].GetF32(), w.alpha)
		}
		if w.checkBounds && (s.Args[10].GetF32() != w.lo || s.Args[11].GetF32() != w.hi) {
			t.Errorf("%s: bounds [%v, %v], want [%v, %v]", s.Node, s.Args[10].GetF32(), s.Args[11].GetF32(), w.lo, w.hi)
		}
		if s.Node == "relu" && s.Args[10].GetF32() != 0 {
			t.Errorf("relu: lower bound %v, want 0", s.Args[10].GetF32())
		}
		if s.Node == "add" && s.Args[1].GetWeight() == "" {
			t.Error("add: the constant is not passed as a weight")
		}
	}
	if seen != len(wants) {
		t.Errorf("%d elementwise launches, want %d", seen, len(wants))
	}
	layouts := map[string]string{"r": LayoutNCHW, "m": LayoutNHWC, "t": LayoutNHWC}
	for _, b := range e.Buffers {
		if l, ok := layouts[b.Name]; ok && b.Layout != l {
			t.Errorf("buffer %s is %s, want %s", b.Name, b.Layout, l)
		}
	}
}

// TestPlanEltwiseRejects checks that the broadcasts the kernel cannot do
// go to the host fallback, with a note naming the problem.
func TestPlanEltwiseRejects(t *testing.T) {
	cases := map[string]struct{ body, want string }{
		"spatial const": {`  const %c: f32[1,1,3,1] = [1, 2, 3]
  %y: f32[N,4,3,5] = Add "a" (%x, %c)`, "axis 1"},
		"two-axis const": {`  const %c: f32[4,3,1] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
  %y: f32[N,4,3,5] = Mul "a" (%x, %c)`, "more than one axis"},
		"layouts differ": {`  const %w: f32[4,4,1,1] = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
  %h: f32[N,4,3,5] = Conv "c" (%x, %w)
  %y: f32[N,4,3,5] = Add "a" (%x, %h)`, "layout"},
		"computed clip bound": {`  %y: f32[N,4,3,5] = Clip "a" (%x, %x)`, "constant bounds"},
	}
	for name, c := range cases {
		text := "graph \"g\" (%x: f32[N,4,3,5]) -> (%y) {\n" + c.body + "\n}"
		g, err := sqir.ParseAndVerify("g", []byte(text))
		if err != nil {
			// The verifier may reject the graph itself (e.g. a non-scalar clip bound).
			t.Logf("%s: %v", name, err)
			continue
		}
		wantFallback(t, g, "a", "host", c.want)
	}
}

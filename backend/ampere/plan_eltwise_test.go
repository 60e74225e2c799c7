package ampere

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/engine"
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
		"relu":  {kernel: kernels.Eltwise4Kernel, op: kernels.EltClamp, c: 1, inner: 1},
		"mul":   {kernel: kernels.EltwiseKernel, op: kernels.EltMul, bmode: kernels.EltChannelB, c: 4, inner: 1},
		"sub":   {kernel: kernels.Eltwise4Kernel, op: kernels.EltSub, bmode: kernels.EltScalarB, c: 1, inner: 1, swap: 1},
		"sig":   {kernel: kernels.EltwiseKernel, op: kernels.EltSigmoid, c: 1, inner: 1},
		"addh":  {kernel: kernels.Eltwise4Kernel, op: kernels.EltAdd, bmode: kernels.EltScalarB, c: 1, inner: 1},
		"div":   {kernel: kernels.Eltwise4Kernel, op: kernels.EltDiv, bmode: kernels.EltSameB, c: 1, inner: 1},
		"leaky": {kernel: kernels.Eltwise4Kernel, op: kernels.EltLeaky, c: 1, inner: 1, alpha: 0.2},
		"clip":  {kernel: kernels.Eltwise4Kernel, op: kernels.EltClamp, c: 1, inner: 1, lo: -0.5, hi: 1.25, checkBounds: true},
		"tanh":  {kernel: kernels.EltwiseKernel, op: kernels.EltTanh, c: 1, inner: 1},
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
		// The four-a-thread kernel counts groups of four.
		if per := map[string]uint32{kernels.EltwiseKernel: 60, kernels.Eltwise4Kernel: 15}[s.Kernel]; s.Args[3].GetU32PerSample() != per {
			t.Errorf("%s: %d work items a sample, want %d", s.Node, s.Args[3].GetU32PerSample(), per)
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
		"batch-sized const": {`  const %c: f32[2,1,1,1] = [1, 2]
  %y: f32[2,4,3,5] = Add "a" (%z, %c)`, "batch dim"},
		"pow by 1.5": {`  const %e: f32[] = [1.5]
  %y: f32[N,4,3,5] = Pow "a" (%x, %e)`, "exponent 1.5"},
		"computed clip bound": {`  %y: f32[N,4,3,5] = Clip "a" (%x, %x)`, "constant bounds"},
	}
	for name, c := range cases {
		text := "graph \"g\" (%x: f32[N,4,3,5]) -> (%y) {\n" + c.body + "\n}"
		if strings.Contains(c.body, "%z") {
			text = "graph \"g\" (%z: f32[2,4,3,5]) -> (%y) {\n" + c.body + "\n}"
		}
		g, err := sqir.ParseAndVerify("g", []byte(text))
		if err != nil {
			// The verifier may reject the graph itself (e.g. a non-scalar clip bound).
			t.Logf("%s: %v", name, err)
			continue
		}
		wantFallback(t, g, "a", "host", c.want)
	}
}

// TestPlanMathAndBroadcast checks the math kernels' launches: unary op
// codes and exactness, the strides of the broadcasting kernel (worked out
// by hand for NCHW and NHWC operands, a constant stored in NHWC order),
// and the [outer, K, inner] view of reductions.
func TestPlanMathAndBroadcast(t *testing.T) {
	text := `graph "g" (%x: f32[N,4,3,5]) -> (%a, %m, %lo, %e, %ge, %sq, %s, %mx) {
  const %c: f32[1,1,3,1] = [1, 2, 3]
  const %cm: f32[4,3,1] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
  const %w: f32[4,4,1,1] = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0.5, 0, 0, 1]
  const %two: f32[] = [2]
  const %hw: i64[2] = [2, 3]
  const %ch: i64[1] = [1]
  const %w3: i64[1] = [3]
  %a: f32[N,4,3,5] = Add "add" (%x, %c)
  %h: f32[N,4,3,5] = Conv "conv" (%x, %w)
  %m: f32[N,4,3,5] = Mul "mul" (%h, %cm)
  %r: f32[N,4,3,1] = ReduceMax "rmax" (%x, %w3)
  %lo: f32[N,4,3,5] = Min "min" (%x, %r)
  %e: f32[N,4,3,5] = Exp "exp" (%x)
  %ge: f32[N,4,3,5] = Gelu "gelu" (%x) {approximate = "tanh"}
  %sq: f32[N,4,3,5] = Pow "pow" (%x, %two)
  %s: f32[N,4] = ReduceSum "rsum" (%x, %hw) {keepdims = 0}
  %mx: f32[N,1,3,5] = ReduceMax "rmaxc" (%h, %ch)
}`
	g, err := sqir.ParseAndVerify("g", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Plan(g, "test")
	if err != nil {
		t.Fatal(err)
	}
	u := func(s *engine.Step, from, n int) []uint32 {
		var v []uint32
		for _, a := range s.Args[from : from+n] {
			v = append(v, a.GetU32())
		}
		return v
	}
	steps := map[string]*engine.Step{}
	for _, s := range e.Steps {
		steps[s.Node] = s
	}
	type bcast struct {
		op                       uint32
		aSample, bSample         uint32
		dims, aStrides, bStrides []uint32
	}
	for node, w := range map[string]bcast{
		// NCHW: [4,3,5] against [1,3,1].
		"add": {op: kernels.BAdd, aSample: 60, dims: []uint32{1, 1, 4, 3, 5}, aStrides: []uint32{0, 0, 15, 5, 1}, bStrides: []uint32{0, 0, 0, 1, 0}},
		// NHWC: stored H,W,C = 3,5,4; the constant [4,3,1] is stored as [3,1,4].
		"mul": {op: kernels.BMul, aSample: 60, dims: []uint32{1, 1, 3, 5, 4}, aStrides: []uint32{0, 0, 20, 4, 1}, bStrides: []uint32{0, 0, 4, 0, 1}},
		// Two computed operands, the second broadcast along W.
		"min": {op: kernels.BMin, aSample: 60, bSample: 12, dims: []uint32{1, 1, 4, 3, 5}, aStrides: []uint32{0, 0, 15, 5, 1}, bStrides: []uint32{0, 0, 3, 1, 0}},
	} {
		// The NHWC rows of 4 go four elements a thread (Bcast4Fits), the
		// NCHW rows of 5 one.
		kernel, work := kernels.BcastKernel, uint64(60)
		if node == "mul" {
			kernel, work = kernels.Bcast4Kernel, 15
		}
		s := steps[node]
		if s == nil || s.Kernel != kernel || s.WorkPerSample != work {
			t.Errorf("%s: step %v, want %s over %d threads a sample", node, s, kernel, work)
			continue
		}
		got := bcast{op: s.Args[4].GetU32(), aSample: s.Args[6].GetU32(), bSample: s.Args[7].GetU32(),
			dims: u(s, 8, 5), aStrides: u(s, 13, 5), bStrides: u(s, 18, 5)}
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s: %+v, want %+v", node, got, w)
		}
	}
	var cm []float32
	for _, wt := range e.Weights {
		if wt.Name == "mul/in1_f32" {
			for i := 0; i+4 <= len(wt.Data); i += 4 {
				cm = append(cm, math.Float32frombits(binary.LittleEndian.Uint32(wt.Data[i:])))
			}
		}
	}
	if want := []float32{1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12}; fmt.Sprint(cm) != fmt.Sprint(want) {
		t.Errorf("mul's constant in NHWC order: %v, want %v", cm, want)
	}
	for node, w := range map[string]struct {
		kernel string
		op     uint32
	}{"exp": {kernels.UnaryKernel, kernels.UExp}, "gelu": {kernels.UnaryKernel, kernels.UGeluTanh}, "pow": {kernels.UnaryKernel, kernels.USquare}} {
		s := steps[node]
		if s == nil || s.Kernel != w.kernel || s.Args[3].GetU32() != w.op {
			t.Errorf("%s: step %v, want %s op %d", node, s, w.kernel, w.op)
		}
	}
	for node, w := range map[string]struct {
		kernel          string
		op, k, inner, n uint32
	}{
		"rsum":  {kernels.ReduceKernel, kernels.RSum, 15, 1, 4},
		"rmax":  {kernels.ReduceKernel, kernels.RMax, 5, 1, 12},
		"rmaxc": {kernels.ReduceKernel, kernels.RMax, 4, 1, 15},
	} {
		s := steps[node]
		if s == nil || s.Kernel != w.kernel {
			t.Errorf("%s: step %v, want %s", node, s, w.kernel)
			continue
		}
		if got := u(s, 3, 4); fmt.Sprint(got) != fmt.Sprint([]uint32{w.op, w.k, w.inner, w.n}) {
			t.Errorf("%s: op, K, inner, outPerSample %v, want %v", node, got, []uint32{w.op, w.k, w.inner, w.n})
		}
	}
	layouts := map[string]string{"m": LayoutNHWC, "mx": LayoutNHWC, "s": LayoutFlat, "a": LayoutNCHW}
	for _, b := range e.Buffers {
		if l, ok := layouts[b.Name]; ok && b.Layout != l {
			t.Errorf("buffer %s is %s, want %s", b.Name, b.Layout, l)
		}
	}
}

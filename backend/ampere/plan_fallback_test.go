package ampere

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/ir/sqir"
)

// wantFallback plans g and checks that node runs on the fallback how
// ("gather" or "host") with a reason that mentions why.
func wantFallback(t *testing.T, g *ir.Graph, node, how, why string) {
	t.Helper()
	e, err := Plan(g, "test")
	if err != nil {
		t.Fatalf("%s: %v, want a %s fallback", node, err, how)
	}
	for _, f := range Fallbacks(e) {
		if f.Node == node {
			if f.How != how || !strings.Contains(f.Why, why) {
				t.Errorf("%s: %s fallback because %q, want %s mentioning %q", node, f.How, f.Why, how, why)
			}
			return
		}
	}
	t.Errorf("%s: no fallback, want %s (%q)", node, how, why)
}

// randomGraphInputs draws one tensor of batch samples per input of g:
// f32 from N(0, scale²), i8 uniform over its range. It returns them in the
// graph's order and by name, as ref.Run and simulate take them.
func randomGraphInputs(g *ir.Graph, batch int, rng *rand.Rand, scale float64) ([]*ir.Tensor, map[string]*ir.Tensor) {
	var ins []*ir.Tensor
	byName := map[string]*ir.Tensor{}
	for _, v := range g.Inputs {
		x := ir.NewTensor(v.Type.DType, append([]int{batch}, intsOf(bufShape(v))...)...)
		switch d := x.Data.(type) {
		case []float32:
			for i := range d {
				d[i] = float32(rng.NormFloat64() * scale)
			}
		case []int8:
			for i := range d {
				d[i] = int8(rng.IntN(256) - 128)
			}
		}
		ins = append(ins, x)
		byName[v.Name] = x
	}
	return ins, byName
}

// simulate runs a planned engine's gather and host steps on the CPU:
// buffers hold batch samples in their memory layouts, as on the GPU. Any
// other kernel fails the test; the graphs here use only fallbacks.
func simulate(t testing.TB, g *ir.Graph, e *engine.Engine, batch int, inputs map[string]*ir.Tensor) map[string]*ir.Tensor {
	t.Helper()
	info := map[string]*engine.Buffer{}
	mem := map[string]*ir.Tensor{}
	for _, b := range e.Buffers {
		info[b.Name] = b
	}
	root := bufferRoots(e)
	for name, x := range inputs {
		if info[name].Layout == LayoutNHWC {
			x = NCHWToNHWC(x)
		}
		mem[name] = x
	}
	for _, b := range e.Buffers {
		if b.AliasOf == "" && mem[b.Name] == nil {
			mem[b.Name] = ir.NewTensor(bufferDType(b), append([]int{batch}, intsOf(b.SampleShape)...)...)
		}
	}
	weights := map[string][]byte{}
	for _, w := range e.Weights {
		weights[w.Name] = w.Data
	}
	// A step may change only the buffers it says it writes (Step.writes:
	// the runtime runs steps at once on that word): each buffer it touches
	// and does not name is compared after it runs.
	var kept map[string][]byte
	var last *engine.Step
	checkKept := func() {
		for r, before := range kept {
			if after := tensorBytes(mem[r]); !bytes.Equal(before, after) {
				t.Errorf("step %s (%s) changed buffer %s, which its writes %v do not name", last.Node, last.Kernel, r, last.Writes)
			}
		}
	}
	for _, s := range e.Steps {
		checkKept()
		kept, last = nil, s
		if e.StepWrites {
			kept = map[string][]byte{}
			for _, a := range s.Args {
				if b := a.GetBuffer(); b != "" && !slices.Contains(s.Writes, root(b)) {
					kept[root(b)] = tensorBytes(mem[root(b)])
				}
			}
		}
		switch s.Kernel {
		case kernels.Gather8Kernel, kernels.Gather32Kernel, kernels.Gather32x4Kernel, kernels.Gather8x4Kernel:
			y, tab := mem[root(s.Args[1].GetBuffer())], weights[s.Args[2].GetWeight()]
			var x *ir.Tensor
			if b := s.Args[0].GetBuffer(); b != "" {
				x = mem[root(b)]
			} else if w := s.Args[0].GetWeight(); w != "" {
				// A constant every sample reads (input stride 0).
				if s.Kernel != kernels.Gather8Kernel && s.Kernel != kernels.Gather8x4Kernel {
					x = ir.NewTensor(ir.Float32, len(weights[w])/4)
				} else {
					x = ir.NewTensor(ir.Int8, len(weights[w]))
				}
				if err := ir.PutLE(x.Data, 0, weights[w]); err != nil {
					t.Fatal(err)
				}
			}
			u := func(i int) int { return int(s.Args[i].GetU32()) }
			runs, run, period, dsrc, ddst, inPer, outPer := u(4), u(5), u(6), uint32(u(7)), uint32(u(8)), u(9), u(10)
			group := 1 // elements a thread
			if s.Kernel == kernels.Gather32x4Kernel || s.Kernel == kernels.Gather8x4Kernel {
				group = 4
			}
			if 8*period != len(tab) || runs%period != 0 || int(s.Args[3].GetU32PerSample())*group != runs*run {
				t.Fatalf("step %s: %d runs of %d, period %d, for a table of %d bytes and %d elements a sample", s.Node, runs, run, period, len(tab), s.Args[3].GetU32PerSample())
			}
			for n := 0; n < batch; n++ {
				for e := 0; e < runs; e++ {
					q, r := uint32(e/period), e%period
					for j := 0; j < run; j++ {
						src := int(binary.LittleEndian.Uint32(tab[8*r:])+q*dsrc) + j
						dst := int(binary.LittleEndian.Uint32(tab[8*r+4:])+q*ddst) + j
						switch xd := x.Data.(type) {
						case []float32:
							y.Float32s()[n*outPer+dst] = xd[n*inPer+src]
						case []int8:
							y.Int8s()[n*outPer+dst] = xd[n*inPer+src]
						}
					}
				}
			}
		case kernels.HardActKernel:
			// The kernel's arithmetic, as its PTX does it.
			x, y := mem[root(s.Args[0].GetBuffer())].Float32s(), mem[root(s.Args[1].GetBuffer())].Float32s()
			op, alpha, beta := s.Args[3].GetU32(), float64(s.Args[4].GetF32()), float64(s.Args[5].GetF32())
			clamp := func(v float64) float64 {
				if v <= 0 {
					return 0
				}
				if v >= 1 {
					return 1
				}
				return v
			}
			for i, v := range x {
				d := float64(v)
				if op == kernels.HardActSwish {
					y[i] = float32(d * clamp(d/6+0.5))
				} else {
					y[i] = float32(clamp(alpha*d + beta))
				}
			}
		case kernels.ChanScaleKernel:
			x, sc, y := mem[root(s.Args[0].GetBuffer())].Float32s(), mem[root(s.Args[1].GetBuffer())].Float32s(), mem[root(s.Args[2].GetBuffer())].Float32s()
			c, hw, inner := int(s.Args[4].GetU32()), int(s.Args[5].GetU32()), int(s.Args[6].GetU32())
			for i := range y {
				y[i] = x[i] * sc[i/(c*hw)*c+i/inner%c]
			}
		case HostKernel:
			h, err := newHostStep(g, s, info)
			if err != nil {
				t.Fatal(err)
			}
			var ins []*ir.Tensor
			for _, b := range h.ins {
				ins = append(ins, mem[root(b.Name)])
			}
			outs, err := h.run(batch, ins)
			if err != nil {
				t.Fatalf("host step %s: %v", s.Node, err)
			}
			for j, b := range h.outs {
				mem[root(b.Name)] = outs[j]
			}
		default:
			model := kernelModels[s.Kernel]
			switch {
			case model != nil:
			case gemmStep(s):
				// The GEMM kernels are named by their tile variant.
				model = gemmModel
			case strings.HasPrefix(s.Kernel, "sqc_gemm_convpool_"):
				model = convPoolModel
			case strings.HasPrefix(s.Kernel, "sqc_quantize_px"):
				model = quantizePixelModel
			case s.Kernel == kernels.MaxPoolKernel || s.Kernel == kernels.MaxPool16Kernel:
				model = maxPool8Model
			}
			if model == nil {
				t.Fatalf("step %s: kernel %s is not simulated", s.Node, s.Kernel)
			}
			model(s, func(a *engine.Arg) *ir.Tensor { return mem[root(a.GetBuffer())] }, weights)
		}
	}
	checkKept()
	out := map[string]*ir.Tensor{}
	for _, name := range e.Outputs {
		y := mem[root(name)]
		// A view has its own shape over its root's data.
		y = &ir.Tensor{DType: y.DType, Shape: append([]int{batch}, intsOf(info[name].SampleShape)...), Data: y.Data}
		if info[name].Layout == LayoutNHWC {
			y = NHWCToNCHW(y)
		}
		out[name] = y
	}
	return out
}

// TestFallbacksAgainstReference plans graphs of data-movement ops (the
// gather kernel), relabelling transposes (views) and ops with no GPU kernel
// (host steps), with inputs in NCHW and NHWC buffers, runs the plan's gather tables
// and host steps on the CPU at batch 3 (the tables are probed at 2) and
// compares every output with the reference executor bit for bit.
func TestFallbacksAgainstReference(t *testing.T) {
	cases := []struct {
		name, body string
		nhwc       []string          // inputs held NHWC
		how        map[string]string // node → ranOn
	}{
		{"concat i8 nhwc+nchw", `(%a: i8[N,3,4,5], %b: i8[N,2,4,5]) -> (%y) {
  %y: i8[N,5,4,5] = Concat "cat" (%a, %b) {axis = 1}
}`, []string{"a"}, map[string]string{"cat": "gather"}},
		{"concat f32 spatial", `(%a: f32[N,3,4,5], %b: f32[N,3,4,2]) -> (%y) {
  %y: f32[N,3,4,7] = Concat "cat" (%a, %b) {axis = 3}
}`, []string{"a", "b"}, map[string]string{"cat": "gather"}},
		{"transpose nhwc image to hwc, a view", `(%a: f32[N,4,3,5]) -> (%y) {
  %y: f32[N,3,5,4] = Transpose "tr" (%a) {perm = [0, 2, 3, 1]}
}`, []string{"a"}, map[string]string{"tr": "view"}},
		{"transpose tf input to nchw, a view", `(%a: f32[N,3,5,4]) -> (%y) {
  %y: f32[N,4,3,5] = Transpose "tr" (%a) {perm = [0, 3, 1, 2]}
}`, nil, map[string]string{"tr": "view"}},
		{"transpose other perm", `(%a: f32[N,4,3,5]) -> (%y) {
  %y: f32[N,5,3,4] = Transpose "tr" (%a) {perm = [0, 3, 2, 1]}
}`, []string{"a"}, map[string]string{"tr": "gather"}},
		{"channel shuffle rank 5", `(%a: i8[N,2,3,4,5]) -> (%y) {
  %y: i8[N,3,2,4,5] = Transpose "tr" (%a) {perm = [0, 2, 1, 3, 4]}
}`, nil, map[string]string{"tr": "gather"}},
		{"split", `(%a: i8[N,6,2,3]) -> (%y0, %y1) {
  const %sp: i64[2] = [2, 4]
  %y0: i8[N,2,2,3], %y1: i8[N,4,2,3] = Split "sp" (%a, %sp) {axis = 1}
}`, []string{"a"}, map[string]string{"sp": "gather"}},
		{"slice and gather", `(%a: f32[N,6,4,3]) -> (%y, %z) {
  const %st: i64[1] = [1]
  const %en: i64[1] = [4]
  const %ax: i64[1] = [2]
  const %ix: i64[3] = [5, 0, 2]
  %y: f32[N,6,3,3] = Slice "sl" (%a, %st, %en, %ax)
  %z: f32[N,3,4,3] = Gather "ga" (%a, %ix) {axis = 1}
}`, []string{"a"}, map[string]string{"sl": "gather", "ga": "gather"}},
		{"reflect pad i8", `(%a: i8[N,3,4,5]) -> (%y) {
  const %pads: i64[8] = [0, 0, 1, 2, 0, 0, 2, 1]
  %y: i8[N,3,7,8] = Pad "pad" (%a, %pads) {mode = "reflect"}
}`, []string{"a"}, map[string]string{"pad": "gather"}},
		{"transpose pair cancels", `(%a: f32[N,4,3,5]) -> (%y) {
  %t: f32[N,3,4,5] = Transpose "t1" (%a) {perm = [0, 2, 1, 3]}
  %y: f32[N,4,3,5] = Transpose "t2" (%t) {perm = [0, 2, 1, 3]}
}`, nil, map[string]string{"t1": "view", "t2": "view"}},
		{"channel shuffle chain, one launch", `(%a: i8[N,6,2,3]) -> (%y) {
  const %s1: i64[5] = [-1, 2, 3, 2, 3]
  const %s2: i64[4] = [-1, 6, 2, 3]
  %r: i8[N,2,3,2,3] = Reshape "r1" (%a, %s1)
  %t: i8[N,3,2,2,3] = Transpose "tr" (%r) {perm = [0, 2, 1, 3, 4]}
  %y: i8[N,6,2,3] = Reshape "r2" (%t, %s2)
}`, []string{"a"}, map[string]string{"r1": "view", "tr": "view", "r2": "gather"}},
		{"torch.chunk and a channel shuffle on shapes of a symbolic batch", `(%a: f32[N,4,3,3], %b: f32[N,2,3,3]) -> (%y) {
  const %i0: i64[] = [0]
  const %i1: i64[1] = [1]
  const %z1: i64[1] = [0]
  const %two: i64[1] = [2]
  const %three: i64[1] = [3]
  const %m1: i64[1] = [-1]
  %s: i64[4] = Shape "shape" (%a)
  %c: i64[1] = Gather "gc" (%s, %i1) {axis = 0}
  %c1: i64[1] = Add "add" (%c, %i1)
  %h: i64[1] = Div "div" (%c1, %two)
  %e1: i64[1] = Mul "mul" (%h, %i1)
  %x1: f32[N,2,3,3] = Slice "sl1" (%a, %z1, %e1, %i1)
  %e2: i64[1] = Mul "mul2" (%h, %two)
  %x2: f32[N,2,3,3] = Slice "sl2" (%a, %e1, %e2, %i1)
  %cat: f32[N,4,3,3] = Concat "cat" (%x2, %b) {axis = 1}
  %s2: i64[4] = Shape "shape2" (%cat)
  %n: i64[] = Gather "gn" (%s2, %i0) {axis = 0}
  %nu: i64[1] = Unsqueeze "un" (%n, %z1)
  %shp: i64[5] = Concat "cs" (%nu, %two, %two, %three, %three) {axis = 0}
  %r: f32[N,2,2,3,3] = Reshape "r1" (%cat, %shp)
  %t: f32[N,2,2,3,3] = Transpose "tr" (%r) {perm = [0, 2, 1, 3, 4]}
  %shp2: i64[4] = Concat "cs2" (%nu, %m1, %three, %three) {axis = 0}
  %y0: f32[N,4,3,3] = Reshape "r2" (%t, %shp2)
  %y: f32[N,6,3,3] = Concat "cat2" (%y0, %x1) {axis = 1}
}`, []string{"a"}, map[string]string{"shape": "view", "div": "view", "sl1": "gather", "cat": "gather", "shape2": "view", "r1": "view", "r2": "gather"}},
		{"expand to a shape computed from the batch", `(%a: f32[N,1,3]) -> (%y) {
  const %i0: i64[1] = [0]
  const %rest: i64[2] = [4, 3]
  %s: i64[3] = Shape "shape" (%a)
  %n: i64[1] = Gather "gn" (%s, %i0) {axis = 0}
  %shp: i64[3] = Concat "cs" (%n, %rest) {axis = 0}
  %y: f32[N,4,3] = Expand "ex" (%a, %shp)
}`, nil, map[string]string{"ex": "gather"}},
		{"a constant expanded along the batch", `(%a: f32[N,2,3]) -> (%y) {
  const %tok: f32[1,1,3] = [0.5, -1.5, 2]
  const %i0: i64[1] = [0]
  const %rest: i64[2] = [1, 3]
  %s: i64[3] = Shape "shape" (%a)
  %n: i64[1] = Gather "gn" (%s, %i0) {axis = 0}
  %shp: i64[3] = Concat "cs" (%n, %rest) {axis = 0}
  %e: f32[N,1,3] = Expand "ex" (%tok, %shp)
  %y: f32[N,3,3] = Concat "cat" (%e, %a) {axis = 1}
}`, nil, map[string]string{"ex": "gather", "cat": "gather"}},
		{"a fill of a shape computed from the batch", `(%a: f32[N,2,3]) -> (%y) {
  const %i0: i64[1] = [0]
  const %fill: f32[1] = [1.5]
  const %rest: i64[1] = [3]
  %s: i64[3] = Shape "shape" (%a)
  %n: i64[1] = Gather "gn" (%s, %i0) {axis = 0}
  %shp: i64[2] = Concat "cs" (%n, %rest) {axis = 0}
  %z: f32[?,3] = ConstantOfShape "zeros" (%shp, %fill)
  %y: f32[?,6] = Concat "cat" (%z, %z) {axis = 1}
}`, nil, map[string]string{"zeros": "gather"}},
		{"attention with the batch moved (torch's multi-head attention)", `(%a: f32[N,5,8]) -> (%y) {
  const %i0: i64[1] = [0]
  const %i1: i64[1] = [1]
  const %heads: i64[1] = [2]
  const %hd: i64[1] = [4]
  const %c8: i64[1] = [8]
  const %st: i64[1] = [0]
  const %en: i64[1] = [4]
  const %ax: i64[1] = [2]
  const %scale: f32[] = [0.5]
  %t: f32[5,N,8] = Transpose "t0" (%a) {perm = [1, 0, 2]}
  %q: f32[5,N,4] = Slice "sl" (%t, %st, %en, %ax)
  %s: i64[3] = Shape "shape" (%t)
  %l: i64[1] = Gather "gl" (%s, %i0) {axis = 0}
  %n: i64[1] = Gather "gn" (%s, %i1) {axis = 0}
  %nh: i64[1] = Mul "nh" (%n, %heads)
  %shp: i64[3] = Concat "cs" (%l, %nh, %heads) {axis = 0}
  %r: f32[5,?,2] = Reshape "r" (%q, %shp)
  %tr: f32[?,5,2] = Transpose "t1" (%r) {perm = [1, 0, 2]}
  %sc: f32[?,5,2] = Mul "mul" (%tr, %scale)
  %k: f32[?,2,5] = Transpose "t2" (%r) {perm = [1, 2, 0]}
  %att: f32[?,5,5] = MatMul "mm" (%sc, %k)
  %sm: f32[?,5,5] = Softmax "sm" (%att) {axis = -1}
  %smd: f32[?,5,5] = Dropout "drop" (%sm)
  %o: f32[?,5,2] = MatMul "mm2" (%smd, %tr)
  %ob: f32[5,?,2] = Transpose "t3" (%o) {perm = [1, 0, 2]}
  %ln: i64[1] = Mul "ln" (%l, %n)
  %shp2: i64[2] = Concat "cs2" (%ln, %en) {axis = 0}
  %rows: f32[?,4] = Reshape "rows" (%ob, %shp2)
  %h: f32[?,4] = Erf "erf" (%rows)
  %shp3: i64[3] = Concat "cs3" (%l, %n, %en) {axis = 0}
  %back: f32[5,N,4] = Reshape "back" (%h, %shp3)
  %y: f32[N,5,4] = Transpose "t4" (%back) {perm = [1, 0, 2]}
}`, nil, map[string]string{"t0": "view", "r": "gather", "t1": "gather", "mul": "kernel", "mm": "kernel", "sm": "kernel", "drop": "view", "mm2": "kernel", "rows": "gather", "erf": "kernel", "back": "view", "t4": "view"}},
		{"torch's multi-head attention, every op on its kernel", `(%a: f32[N,5,8]) -> (%y) {
  const %w: f32[8,24] = [` + f32s(8*24, 1) + `]
  const %b: f32[24] = [` + f32s(24, 2) + `]
  const %wo: f32[8,8] = [` + f32s(64, 3) + `]
  const %bo: f32[8] = [` + f32s(8, 4) + `]
  const %i0: i64[1] = [0]
  const %i1: i64[1] = [1]
  const %ax: i64[1] = [2]
  const %s0: i64[1] = [0]
  const %s8: i64[1] = [8]
  const %s16: i64[1] = [16]
  const %s24: i64[1] = [24]
  const %heads: i64[1] = [2]
  const %hd: i64[1] = [4]
  const %c8: i64[1] = [8]
  const %sqrtd: f32[] = [2]
  %t: f32[5,N,8] = Transpose "t0" (%a) {perm = [1, 0, 2]}
  %qkv: f32[5,N,24] = MatMul "inproj" (%t, %w)
  %qkvb: f32[5,N,24] = Add "bias" (%qkv, %b)
  %q: f32[5,N,8] = Slice "sq" (%qkvb, %s0, %s8, %ax)
  %k: f32[5,N,8] = Slice "sk" (%qkvb, %s8, %s16, %ax)
  %v: f32[5,N,8] = Slice "sv" (%qkvb, %s16, %s24, %ax)
  %s: i64[3] = Shape "shape" (%t)
  %l: i64[1] = Gather "gl" (%s, %i0) {axis = 0}
  %n: i64[1] = Gather "gn" (%s, %i1) {axis = 0}
  %nh: i64[1] = Mul "nh" (%n, %heads)
  %shp: i64[3] = Concat "cs" (%l, %nh, %hd) {axis = 0}
  %qr: f32[5,?,4] = Reshape "qr" (%q, %shp)
  %kr: f32[5,?,4] = Reshape "kr" (%k, %shp)
  %vr: f32[5,?,4] = Reshape "vr" (%v, %shp)
  %qh: f32[?,5,4] = Transpose "qt" (%qr) {perm = [1, 0, 2]}
  %kh: f32[?,4,5] = Transpose "kt" (%kr) {perm = [1, 2, 0]}
  %vh: f32[?,5,4] = Transpose "vt" (%vr) {perm = [1, 0, 2]}
  %qs: f32[?,5,4] = Div "div" (%qh, %sqrtd)
  %att: f32[?,5,5] = MatMul "mm" (%qs, %kh)
  %sm: f32[?,5,5] = Softmax "sm" (%att) {axis = -1}
  %o: f32[?,5,4] = MatMul "mm2" (%sm, %vh)
  %ob: f32[5,?,4] = Transpose "ot" (%o) {perm = [1, 0, 2]}
  %ln: i64[1] = Mul "ln" (%l, %n)
  %shp2: i64[2] = Concat "cs2" (%ln, %c8) {axis = 0}
  %rows: f32[?,8] = Reshape "rows" (%ob, %shp2)
  %proj: f32[?,8] = Gemm "outproj" (%rows, %wo, %bo) {transB = 1}
  %shp3: i64[3] = Concat "cs3" (%l, %n, %c8) {axis = 0}
  %back: f32[5,N,8] = Reshape "back" (%proj, %shp3)
  %y: f32[N,5,8] = Transpose "t4" (%back) {perm = [1, 0, 2]}
}`, nil, map[string]string{"t0": "view", "inproj": "kernel", "bias": "kernel", "div": "kernel", "mm": "kernel", "sm": "kernel", "mm2": "kernel", "outproj": "kernel", "back": "view", "t4": "view"}},
		{"torch 2's multi-head attention: packed q/k/v unflattened, heads batch-first", `(%a: f32[N,5,8]) -> (%y) {
  const %w: f32[8,24] = [` + f32s(8*24, 11) + `]
  const %b: f32[24] = [` + f32s(24, 12) + `]
  const %wo: f32[8,8] = [` + f32s(64, 13) + `]
  const %bo: f32[8] = [` + f32s(8, 14) + `]
  const %i0: i64[] = [0]
  const %i1: i64[] = [1]
  const %i2: i64[] = [2]
  const %heads: i64[] = [2]
  const %z1: i64[1] = [0]
  const %one1: i64[1] = [1]
  const %two1: i64[1] = [2]
  const %three1: i64[1] = [3]
  const %h1: i64[1] = [2]
  const %m1: i64[1] = [-1]
  const %big: i64[1] = [9223372036854775807]
  const %sc: f32[] = [0.70710677]
  %t: f32[5,N,8] = Transpose "t0" (%a) {perm = [1, 0, 2]}
  %s: i64[3] = Shape "shape" (%t)
  %l: i64[] = Gather "gl" (%s, %i0) {axis = 0}
  %n: i64[] = Gather "gn" (%s, %i1) {axis = 0}
  %e: i64[] = Gather "ge" (%s, %i2) {axis = 0}
  %hd: i64[] = Div "hd" (%e, %heads)
  %qkv: f32[5,N,24] = MatMul "inproj" (%t, %w)
  %qkvb: f32[5,N,24] = Add "bias" (%b, %qkv)
  %es: i64[1] = Slice "se" (%s, %m1, %big, %z1)
  %esq: i64[] = Squeeze "sqe" (%es, %z1)
  %eu: i64[1] = Unsqueeze "ue" (%esq, %z1)
  %inner: i64[2] = Concat "cu" (%three1, %eu) {axis = 0}
  %md: i64[1] = Mod "mod" (%two1, %three1)
  %s4: i64[3] = Shape "shape4" (%qkvb)
  %mdr: i64[1] = Reshape "mdr" (%md, %one1)
  %lead: i64[2] = Slice "lead" (%s4, %z1, %mdr)
  %md1: i64[1] = Add "md1" (%md, %one1)
  %md1r: i64[1] = Reshape "md1r" (%md1, %one1)
  %tail: i64[0] = Slice "tail" (%s4, %md1r, %big)
  %ushp: i64[4] = Concat "cu2" (%lead, %inner, %tail) {axis = 0}
  %un: f32[5,N,3,8] = Reshape "unflatten" (%qkvb, %ushp)
  %un1: f32[1,5,N,3,8] = Unsqueeze "un0" (%un, %z1)
  %tr: f32[3,5,N,1,8] = Transpose "tq" (%un1) {perm = [3, 1, 2, 0, 4]}
  %sq: f32[3,5,N,8] = Squeeze "sq" (%tr, %three1)
  %q: f32[5,N,8] = Gather "gq" (%sq, %i0) {axis = 0}
  %k: f32[5,N,8] = Gather "gk" (%sq, %i1) {axis = 0}
  %v: f32[5,N,8] = Gather "gv" (%sq, %i2) {axis = 0}
  %nh: i64[] = Mul "nh" (%n, %heads)
  %lu: i64[1] = Unsqueeze "lu" (%l, %z1)
  %nhu: i64[1] = Unsqueeze "nhu" (%nh, %z1)
  %hdu: i64[1] = Unsqueeze "hdu" (%hd, %z1)
  %nu: i64[1] = Unsqueeze "nu" (%n, %z1)
  %shp: i64[3] = Concat "cs" (%lu, %nhu, %hdu) {axis = 0}
  %qr: f32[5,?,4] = Reshape "qr" (%q, %shp)
  %kr: f32[5,?,4] = Reshape "kr" (%k, %shp)
  %vr: f32[5,?,4] = Reshape "vr" (%v, %shp)
  %qt: f32[?,5,4] = Transpose "qt" (%qr) {perm = [1, 0, 2]}
  %kt: f32[?,5,4] = Transpose "kt" (%kr) {perm = [1, 0, 2]}
  %vt: f32[?,5,4] = Transpose "vt" (%vr) {perm = [1, 0, 2]}
  %shp4: i64[4] = Concat "cs4" (%nu, %h1, %lu, %hdu) {axis = 0}
  %q4: f32[N,2,5,4] = Reshape "q4" (%qt, %shp4)
  %k4: f32[N,2,5,4] = Reshape "k4" (%kt, %shp4)
  %v4: f32[N,2,5,4] = Reshape "v4" (%vt, %shp4)
  %kT: f32[N,2,4,5] = Transpose "kT" (%k4) {perm = [0, 1, 3, 2]}
  %qs: f32[N,2,5,4] = Mul "mq" (%q4, %sc)
  %ks: f32[N,2,4,5] = Mul "mk" (%kT, %sc)
  %att: f32[N,2,5,5] = MatMul "mm" (%qs, %ks)
  %sm: f32[N,2,5,5] = Softmax "sm" (%att) {axis = -1}
  %o: f32[N,2,5,4] = MatMul "mm2" (%sm, %v4)
  %ot: f32[5,N,2,4] = Transpose "ot" (%o) {perm = [2, 0, 1, 3]}
  %ln: i64[] = Mul "ln" (%n, %l)
  %lnu: i64[1] = Unsqueeze "lnu" (%ln, %z1)
  %eu2: i64[1] = Unsqueeze "eu2" (%e, %z1)
  %shp2: i64[2] = Concat "cs2" (%lnu, %eu2) {axis = 0}
  %rows: f32[?,8] = Reshape "rows" (%ot, %shp2)
  %proj: f32[?,8] = Gemm "outproj" (%rows, %wo, %bo) {transB = 1}
  %s7: i64[2] = Shape "shape7" (%proj)
  %c7: i64[] = Gather "g7" (%s7, %i1) {axis = 0}
  %c7u: i64[1] = Unsqueeze "c7u" (%c7, %z1)
  %shp3: i64[3] = Concat "cs3" (%lu, %nu, %c7u) {axis = 0}
  %back: f32[5,N,8] = Reshape "back" (%proj, %shp3)
  %y: f32[N,5,8] = Transpose "t4" (%back) {perm = [1, 0, 2]}
}`, nil, map[string]string{"t0": "view", "inproj": "kernel", "bias": "kernel", "sq": "gather", "mq": "kernel", "mk": "kernel", "mm": "kernel", "sm": "kernel", "mm2": "kernel", "outproj": "kernel", "back": "view", "t4": "view"}},
		{"moved batch: the INT8 out-projection, a QGemm over rows", `(%a: i8[N,5,32] quant(scale=[0.05], zp=[3])) -> (%y) {
  const %wg: i8[8,32] quant(axis=0, scale=[0.011, 0.013, 0.009, 0.012, 0.010, 0.014, 0.008, 0.015], zp=[0, 0, 0, 0, 0, 0, 0, 0]) = [` + int8s(256) + `]
  const %mg: f32[8] = [` + multipliers(0.05, 0.011, 0.013, 0.009, 0.012, 0.010, 0.014, 0.008, 0.015) + `]
  const %bg: i32[8] = [120, -340, 56, 0, 900, -77, 15, -2000]
  const %i0: i64[1] = [0]
  const %i1: i64[1] = [1]
  const %c8: i64[1] = [8]
  const %c32: i64[1] = [32]
  %q: i8[5,N,32] quant(scale=[0.05], zp=[3]) = Transpose "t0" (%a) {perm = [1, 0, 2]}
  %s: i64[3] = Shape "shape" (%q)
  %l: i64[1] = Gather "gl" (%s, %i0) {axis = 0}
  %n: i64[1] = Gather "gn" (%s, %i1) {axis = 0}
  %ln: i64[1] = Mul "ln" (%l, %n)
  %shp: i64[2] = Concat "cs" (%ln, %c32) {axis = 0}
  %rows: i8[?,32] quant(scale=[0.05], zp=[3]) = Reshape "rows" (%q, %shp)
  %g: f32[?,8] = QGemm "fc" (%rows, %wg, %mg, %bg)
  %shp2: i64[3] = Concat "cs2" (%l, %n, %c8) {axis = 0}
  %back: f32[5,N,8] = Reshape "back" (%g, %shp2)
  %y: f32[N,5,8] = Transpose "t1" (%back) {perm = [1, 0, 2]}
}`, nil, map[string]string{"t0": "view", "rows": "view", "fc": "kernel", "back": "view", "t1": "view"}},
		{"moved batch: a MatMul by a constant stack, the batch in the stack", `(%a: f32[N,3,4,5]) -> (%y) {
  const %w: f32[3,1,5,2] = [` + f32s(30, 10) + `]
  %t: f32[3,N,4,5] = Transpose "t0" (%a) {perm = [1, 0, 2, 3]}
  %m: f32[3,N,4,2] = MatMul "mm" (%t, %w)
  %y: f32[N,3,4,2] = Transpose "t1" (%m) {perm = [1, 0, 2, 3]}
}`, nil, map[string]string{"t0": "view", "mm": "kernel", "t1": "view"}},
		{"moved batch: broadcasts of constants and of computed operands, a rows Gemm", `(%a: f32[N,3,4]) -> (%y) {
  const %c3: f32[3,1,4] = [` + f32s(12, 5) + `]
  const %c2: f32[1,4] = [` + f32s(4, 6) + `]
  const %w: f32[4,6] = [` + f32s(24, 7) + `]
  const %cb: f32[1,6] = [` + f32s(6, 8) + `]
  const %i0: i64[1] = [0]
  const %i1: i64[1] = [1]
  const %c4: i64[1] = [4]
  const %c6: i64[1] = [6]
  %t: f32[3,N,4] = Transpose "t0" (%a) {perm = [1, 0, 2]}
  %x1: f32[3,N,4] = Sub "sub" (%c3, %t)
  %x2: f32[3,N,4] = Mul "mul" (%x1, %c2)
  %x3: f32[3,N,4] = Add "add" (%x2, %t)
  %x4: f32[3,N,4] = Exp "exp" (%x3)
  %x5: f32[3,N,4] = LogSoftmax "lsm" (%x4) {axis = 2}
  %s: i64[3] = Shape "shape" (%t)
  %l: i64[1] = Gather "gl" (%s, %i0) {axis = 0}
  %n: i64[1] = Gather "gn" (%s, %i1) {axis = 0}
  %ln: i64[1] = Mul "ln" (%l, %n)
  %shp: i64[2] = Concat "cs" (%ln, %c4) {axis = 0}
  %rows: f32[?,4] = Reshape "rows" (%x5, %shp)
  %g: f32[?,6] = Gemm "gemm" (%rows, %w, %cb) {alpha = 1.0, beta = 1.0}
  %shp2: i64[3] = Concat "cs2" (%l, %n, %c6) {axis = 0}
  %back: f32[3,N,6] = Reshape "back" (%g, %shp2)
  %y: f32[N,3,6] = Transpose "t1" (%back) {perm = [1, 0, 2]}
}`, nil, map[string]string{"sub": "kernel", "mul": "kernel", "add": "kernel", "exp": "kernel", "lsm": "kernel", "gemm": "kernel", "t1": "view"}},
		{"chain stops at a value read twice", `(%a: f32[N,4,3,5]) -> (%y, %z) {
  %t: f32[N,3,4,5] = Transpose "t1" (%a) {perm = [0, 2, 1, 3]}
  %y: f32[N,4,3,5] = Transpose "t2" (%t) {perm = [0, 2, 1, 3]}
  %z: f32[N,5,3,4] = Transpose "t3" (%t) {perm = [0, 3, 1, 2]}
}`, []string{"a"}, map[string]string{"t1": "gather", "t2": "gather", "t3": "gather"}},
		{"hardswish and hardsigmoid", `(%a: f32[N,4,3,5]) -> (%y, %z) {
  %y: f32[N,4,3,5] = HardSwish "hs" (%a)
  %z: f32[N,4,3,5] = HardSigmoid "hsig" (%a) {alpha = 0.25, beta = 0.375}
}`, []string{"a"}, map[string]string{"hs": "kernel", "hsig": "kernel"}},
		{"channel-wise mul of computed values, nhwc and nchw", `(%a: f32[N,4,3,5], %s: f32[N,4,1,1]) -> (%y, %z) {
  %y: f32[N,4,3,5] = Mul "se" (%a, %s)
  %z: f32[N,4,3,5] = Mul "se2" (%s, %y)
}`, []string{"a"}, map[string]string{"se": "kernel", "se2": "kernel"}},
		{"channel-wise mul, nchw image", `(%a: f32[N,4,3,5], %s: f32[N,4,1,1]) -> (%y) {
  %y: f32[N,4,3,5] = Mul "se" (%s, %a)
}`, nil, map[string]string{"se": "kernel"}},
		{"shrink and a prelu with an infinite slope on host", `(%a: f32[N,4,6,5]) -> (%y) {
  const %slope: f32[4,1,1] = [0.1, 0.2, -0.3, inf]
  %p: f32[N,4,6,5] = Shrink "shrink" (%a) {lambd = 0.5, bias = 0.1}
  %y: f32[N,4,6,5] = PRelu "prelu" (%p, %slope)
}`, []string{"a"}, map[string]string{"prelu": "host", "shrink": "host"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := sqir.ParseAndVerify("g", []byte(`graph "g" `+c.body))
			if err != nil {
				t.Fatal(err)
			}
			// The types the planner sees are static inference's, as after
			// the infer-shapes pass, not the ones the text declares.
			if err := ir.InferShapes(g); err != nil {
				t.Fatal(err)
			}
			nhwc := map[string]bool{}
			for _, n := range c.nhwc {
				nhwc[n] = true
			}
			e, err := planWithInputLayouts(g, "test", nhwc, false)
			if err != nil {
				t.Fatal(err)
			}
			for node, how := range c.how {
				if got := ranOn(e, node); got != how {
					t.Errorf("node %s runs on %q, want %q", node, got, how)
				}
			}
			if c.name == "channel shuffle chain, one launch" && len(e.Steps) != 1 {
				t.Errorf("%d launches, want the chain's one", len(e.Steps))
			}
			const batch = 3
			rng := rand.New(rand.NewPCG(1, 2))
			ins, byName := randomGraphInputs(g, batch, rng, 1)
			want, err := ref.Run(g, ins...)
			if err != nil {
				t.Fatal(err)
			}
			gpu := simulate(t, g, e, batch, byName)
			// Bit for bit, unless a step runs on an approximate kernel
			// (one that sums in its own order).
			approx := slices.ContainsFunc(e.Steps, func(s *engine.Step) bool { return kernels.ApproxKernels[s.Kernel] })
			for i, v := range g.Outputs {
				if approx {
					if err := closeTensors(gpu[v.Name], want[i], 1e-5); err != nil {
						t.Errorf("output %s: %v", v.Name, err)
					}
				} else if !sameTensor(gpu[v.Name], want[i]) {
					t.Errorf("output %s differs from the reference", v.Name)
				}
			}
		})
	}
}

// f32s lists n f32 constants in .sqir syntax, varied and signed, from
// seed.
func f32s(n int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 7))
	vs := make([]string, n)
	for i := range vs {
		vs[i] = strconv.FormatFloat(float64(float32(r.NormFloat64()*0.5)), 'g', -1, 32)
	}
	return strings.Join(vs, ", ")
}

// multipliers lists a QGemm's multipliers sx·sw in .sqir syntax.
func multipliers(sx float32, sw ...float32) string {
	vs := make([]string, len(sw))
	for i, w := range sw {
		vs[i] = strconv.FormatFloat(float64(sx*w), 'g', -1, 32)
	}
	return strings.Join(vs, ", ")
}

// closeTensors compares dtype and shape exactly and elements within tol,
// relative to the larger of 1 and the wanted value.
func closeTensors(got, want *ir.Tensor, tol float64) error {
	if got == nil || got.DType != want.DType || !reflect.DeepEqual(got.Shape, want.Shape) {
		return fmt.Errorf("got %v, want %v %v", got, want.DType, want.Shape)
	}
	for j := 0; j < want.Len(); j++ {
		g, w := got.AsFloat64(j), want.AsFloat64(j)
		if !(math.Abs(g-w) <= tol*math.Max(1, math.Abs(w))) {
			return fmt.Errorf("element %d is %v, want %v (within %g)", j, g, w, tol)
		}
	}
	return nil
}

// sameTensor compares dtype, shape and elements exactly.
func sameTensor(a, b *ir.Tensor) bool {
	return a != nil && b != nil && a.DType == b.DType && reflect.DeepEqual(a.Shape, b.Shape) && reflect.DeepEqual(a.Data, b.Data)
}

// ranOn says how node runs in e: "view" (no launch), "host", "gather" or
// "kernel" (a kernel of its own).
func ranOn(e *engine.Engine, node string) string {
	how := "view"
	for _, s := range e.Steps {
		if s.Node != node {
			continue
		}
		switch s.Kernel {
		case HostKernel:
			return "host"
		case kernels.Gather8Kernel, kernels.Gather32Kernel, kernels.Gather32x4Kernel, kernels.Gather8x4Kernel:
			how = "gather"
		default:
			if how == "view" {
				how = "kernel"
			}
		}
	}
	return how
}

// TestGatherRefusesFills checks that the probe tells a fill value from a
// copied element: a constant Pad (whose fill is no input element) is
// refused by the gather kernel, and plans on the pad kernel.
func TestGatherRefusesFills(t *testing.T) {
	g, err := sqir.ParseAndVerify("g", []byte(`graph "g" (%a: f32[N,3,4,5]) -> (%y) {
  const %pads: i64[8] = [0, 0, 1, 2, 0, 0, 2, 1]
  %y: f32[N,3,7,8] = Pad "pad" (%a, %pads)
}`))
	if err != nil {
		t.Fatal(err)
	}
	p := newPlanner(g, "test")
	if _, err := p.newBuffer(g.Inputs[0], LayoutNCHW); err != nil {
		t.Fatal(err)
	}
	if err := p.gather(g.Nodes[0], "test"); err == nil || !strings.Contains(err.Error(), "no copy of an input element") {
		t.Errorf("gather of a constant Pad: err %v, want a refusal of the fill", err)
	}
	e, err := Plan(g, "test")
	if err != nil {
		t.Fatal(err)
	}
	if got := ranOn(e, "pad"); got != "kernel" {
		t.Errorf("constant Pad runs on %q, want its own kernel", got)
	}
}

// TestPlanPad4 checks which pad kernel a constant Pad plans on: four
// elements a thread where the rows, the input's rows and the leading pad
// along them are multiples of 4 (Pad4Fits), one a thread otherwise, and
// the thread count that goes with each.
func TestPlanPad4(t *testing.T) {
	g, err := sqir.ParseAndVerify("g", []byte(`graph "g" (%a: f32[N,2,3,8]) -> (%y, %z) {
  const %p4: i64[8] = [0, 0, 1, 4, 0, 1, 1, 0]
  const %p2: i64[8] = [0, 0, 1, 2, 0, 1, 1, 2]
  %y: f32[N,3,5,12] = Pad "pad4" (%a, %p4)
  %z: f32[N,3,5,12] = Pad "pad2" (%a, %p2)
}`))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Plan(g, "test")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		kernel string
		work   uint64
	}{"pad4": {kernels.Pad32x4Kernel, 45}, "pad2": {kernels.Pad32Kernel, 180}}
	for _, s := range e.Steps {
		if w, ok := want[s.Node]; ok {
			if s.Kernel != w.kernel || s.WorkPerSample != w.work || s.Args[2].GetU32PerSample() != uint32(w.work) {
				t.Errorf("%s: %s over %d threads a sample, want %s over %d", s.Node, s.Kernel, s.WorkPerSample, w.kernel, w.work)
			}
			delete(want, s.Node)
		}
	}
	if len(want) != 0 {
		t.Errorf("no steps for %v", want)
	}
}

// TestCopyRuns checks the table compression: contiguous rows become runs
// of their common length, and a table without two equal-length runs stays
// element by element.
func TestCopyRuns(t *testing.T) {
	// Two rows of 3 (src 10.., dst 0..) and (src 0.., dst 3..), listed out
	// of destination order.
	tab := []uint32{0, 3, 1, 4, 2, 5, 10, 0, 11, 1, 12, 2}
	run, starts := copyRuns(tab)
	if run != 3 || !reflect.DeepEqual(starts, []uint32{10, 0, 0, 3}) {
		t.Errorf("rows of 3: run %d starts %v, want 3 and [10 0 0 3]", run, starts)
	}
	// Runs of 2 and 3: their gcd is 1.
	tab = []uint32{5, 0, 6, 1, 0, 2, 1, 3, 2, 4}
	if run, starts := copyRuns(tab); run != 1 || !reflect.DeepEqual(starts, tab) {
		t.Errorf("runs of 2 and 3: run %d starts %v, want the table itself", run, starts)
	}
	// Runs of 4 and 2 split into runs of 2.
	tab = []uint32{0, 0, 1, 1, 2, 2, 3, 3, 9, 4, 10, 5}
	if run, starts := copyRuns(tab); run != 2 || !reflect.DeepEqual(starts, []uint32{0, 0, 2, 2, 9, 4}) {
		t.Errorf("runs of 4 and 2: run %d starts %v, want 2 and [0 0 2 2 9 4]", run, starts)
	}
}

// TestRunPeriod checks the second compression: runs that repeat shifted by
// a constant keep one period.
func TestRunPeriod(t *testing.T) {
	// A 4-channel shuffle (0 2 1 3) of 3 pixels: runs of 1, period 4,
	// shifted by 4 in both.
	var starts []uint32
	for px := uint32(0); px < 3; px++ {
		for c, src := range []uint32{0, 2, 1, 3} {
			starts = append(starts, 4*px+src, 4*px+uint32(c))
		}
	}
	if p, ds, dd := runPeriod(starts); p != 4 || ds != 4 || dd != 4 {
		t.Errorf("shuffle: period %d shifts %d %d, want 4, 4, 4", p, ds, dd)
	}
	if p, _, _ := runPeriod([]uint32{0, 1, 5, 0, 2, 2}); p != 3 {
		t.Errorf("no repetition: period %d, want 3", p)
	}
}

// tensorBytes is a copy of t's data as little-endian bytes, to compare
// bit for bit (NaNs by their bits).
func tensorBytes(t *ir.Tensor) []byte {
	switch d := t.Data.(type) {
	case []float32:
		return leBytes(d)
	case []int8:
		return leBytes(d)
	case []int32:
		return leBytes(d)
	}
	return []byte(fmt.Sprint(t.Data))
}

// planText parses a graph's text and plans it.
func planText(t *testing.T, src string) (*ir.Graph, *engine.Engine) {
	t.Helper()
	g, err := sqir.ParseAndVerify("g", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Plan(g, "test")
	if err != nil {
		t.Fatal(err)
	}
	return g, e
}

// simulateEqualsRef runs e's steps on the kernels' Go models at batch,
// on random inputs drawn with the seed, and fails t where an output
// differs from the reference executor's, bit for bit.
func simulateEqualsRef(t *testing.T, g *ir.Graph, e *engine.Engine, batch int, seed1, seed2 uint64) {
	t.Helper()
	ins, byName := randomGraphInputs(g, batch, rand.New(rand.NewPCG(seed1, seed2)), 1)
	want, err := ref.Run(g, ins...)
	if err != nil {
		t.Fatal(err)
	}
	got := simulate(t, g, e, batch, byName)
	for i, v := range g.Outputs {
		equalBits(t, "output "+v.Name, got[v.Name], want[i])
	}
}

// TestNoFallbackAcrossTheBatch checks that a node whose output does not
// keep its inputs' batch as dim 0 (a reduction or Concat along dim 0, a
// Split of dim 0 into pieces shorter than the batch) is refused by name
// rather than planned on a fallback: the engine's buffers hold every value
// batch first, so a host step's [1, …] or [2N, …] result would not fit its
// buffer (ONNX's test_reduce_*_default_axes_keepdims, test_concat_*_axis_0
// and test_split_equal_parts_1d computed wrong results, or panicked, at
// their static batch before).
func TestNoFallbackAcrossTheBatch(t *testing.T) {
	for _, c := range []struct{ name, src, want string }{
		{"reduce over the batch", `graph "g" (%x: f32[N,4,3,5]) -> (%y) {
  const %ax: i64[1] = [0]
  %y: f32[1,4,3,5] = ReduceSum "a" (%x, %ax)
}`, "output y has dim 0 1 where the inputs have the batch N"},
		{"static reduce over all", `graph "g" (%x: f32[3,2,2]) -> (%y) {
  %y: f32[1,1,1] = ReduceMax "a" (%x)
}`, "output y has dim 0 1 where the inputs have the batch 3"},
		{"concat along the batch", `graph "g" (%x: f32[2,3], %z: f32[2,3]) -> (%y) {
  %y: f32[4,3] = Concat "a" (%x, %z) {axis = 0}
}`, "output y has dim 0 4 where the inputs have the batch 2"},
		{"split of the batch", `graph "g" (%x: f32[6]) -> (%y, %u, %v) {
  %y: f32[2], %u: f32[2], %v: f32[2] = Split "a" (%x) {axis = 0, num_outputs = 3}
}`, "2 elements at batch 6 are no whole number a sample"},
	} {
		g, err := sqir.ParseAndVerify("g", []byte(c.src))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		_, err = Plan(g, "test")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
}

package gputest

import (
	"math/rand/v2"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir/sqir"
)

// coverageGraphs exercise the data-movement and layout kernels and the
// host fallback:
// the gather kernel (Concat, Split, Transpose, Slice on i8 NHWC and f32
// values), the NCHW-to-NHWC relayout (a reshape back to an image before a
// max pool), the float max pool, views at a TensorFlow NHWC boundary, the
// HardSwish/HardSigmoid and channel-scale kernels (a squeeze-and-excitation
// block) and host steps (Shrink, PRelu with an infinite slope). Every output must
// equal the reference executor's bits.
var coverageGraphs = map[string]struct {
	text  string
	nodes map[string]string // node → "gather", "host", "view" (no launch) or "kernel" (its own)
	uses  []string          // kernels the plan must launch
}{
	// The flattened value is also an output, so the Flatten is planned
	// alone (an NHWC-to-NCHW launch), the Reshape back is an NCHW view and
	// the pool's input needs the NCHW-to-NHWC relayout.
	"gather_i8": {`graph "g" (%x: f32[N,6,5,4]) -> (%y, %z, %f) {
  const %sc: f32[] = [0.05]
  const %zp: i8[] = [-3]
  const %sp: i64[2] = [2, 4]
  const %shape: i64[4] = [-1, 6, 5, 4]
  %q: i8[N,6,5,4] quant(scale=[0.05], zp=[-3]) = QuantizeLinear "q" (%x, %sc, %zp)
  %a: i8[N,2,5,4] quant(scale=[0.05], zp=[-3]), %b: i8[N,4,5,4] quant(scale=[0.05], zp=[-3]) = Split "split" (%q, %sp) {axis = 1}
  %c: i8[N,6,5,4] quant(scale=[0.05], zp=[-3]) = Concat "cat" (%b, %a) {axis = 1}
  %t: i8[N,6,4,5] quant(scale=[0.05], zp=[-3]) = Transpose "tr" (%c) {perm = [0, 1, 3, 2]}
  %y: f32[N,6,4,5] = DequantizeLinear "dq" (%t, %sc, %zp)
  %f: i8[N,120] quant(scale=[0.05], zp=[-3]) = Flatten "flat" (%q) {axis = 1}
  %r: i8[N,6,5,4] quant(scale=[0.05], zp=[-3]) = Reshape "img" (%f, %shape)
  %m: i8[N,6,3,2] quant(scale=[0.05], zp=[-3]) = MaxPool "pool" (%r) {kernel_shape = [3, 3], pads = [1, 1, 1, 1], strides = [2, 2]}
  %z: f32[N,6,3,2] = DequantizeLinear "dqm" (%m, %sc, %zp)
}`, map[string]string{"split": "gather", "cat": "gather", "tr": "gather", "flat": "kernel", "img": "view", "pool": "kernel"},
		[]string{kernels.ToNCHW8Kernel, kernels.ToNHWC8Kernel, kernels.MaxPoolKernel}},
	"gather_f32_maxpool_f32": {`graph "g" (%x: f32[N,4,6,5]) -> (%y, %p) {
  const %st: i64[1] = [1]
  const %en: i64[1] = [5]
  const %ax: i64[1] = [2]
  %s: f32[N,4,4,5] = Slice "slice" (%x, %st, %en, %ax)
  %y: f32[N,5,4,4] = Transpose "tr" (%s) {perm = [0, 3, 2, 1]}
  %p: f32[N,4,3,3] = MaxPool "pool" (%x) {kernel_shape = [2, 2], pads = [0, 0, 1, 1], strides = [2, 2]}
}`, map[string]string{"slice": "view", "tr": "gather", "pool": "kernel"}, []string{kernels.MaxPoolF32Kernel}},
	// A TensorFlow export's NHWC boundary: the transposes are views (no
	// launch), the quantize keeps NHWC order, the pool reads it.
	"tf_nhwc_boundary": {`graph "g" (%x: f32[N,6,5,8]) -> (%y) {
  const %sc: f32[] = [0.04]
  const %zp: i8[] = [5]
  %t: f32[N,8,6,5] = Transpose "in_tr" (%x) {perm = [0, 3, 1, 2]}
  %q: i8[N,8,6,5] quant(scale=[0.04], zp=[5]) = QuantizeLinear "q" (%t, %sc, %zp)
  %m: i8[N,8,3,3] quant(scale=[0.04], zp=[5]) = MaxPool "pool" (%q) {kernel_shape = [2, 2], pads = [0, 0, 0, 1], strides = [2, 2]}
  %d: f32[N,8,3,3] = DequantizeLinear "dq" (%m, %sc, %zp)
  %y: f32[N,3,3,8] = Transpose "out_tr" (%d) {perm = [0, 2, 3, 1]}
}`, map[string]string{"in_tr": "view", "out_tr": "view", "pool": "kernel"}, nil},
	// Squeeze-and-excitation without its 1×1 convolutions (the float
	// convolution is approximate; its own test covers it): pool, gate,
	// channel scale of the NHWC image, HardSwish.
	"se_hardswish": {`graph "g" (%x0: f32[N,4,5,3]) -> (%y) {
  const %sc: f32[] = [0.04]
  const %zp: i8[] = [0]
  %q: i8[N,4,5,3] quant(scale=[0.04], zp=[0]) = QuantizeLinear "q" (%x0, %sc, %zp)
  %x: f32[N,4,5,3] = DequantizeLinear "dq" (%q, %sc, %zp)
  %g: f32[N,4,1,1] = GlobalAveragePool "gap" (%x)
  %s: f32[N,4,1,1] = HardSigmoid "gate" (%g) {alpha = 0.3, beta = 0.45}
  %m: f32[N,4,5,3] = Mul "scale" (%x, %s)
  %y: f32[N,4,5,3] = HardSwish "hs" (%m)
}`, map[string]string{"gate": "kernel", "scale": "kernel", "hs": "kernel"},
		[]string{kernels.HardActKernel, kernels.ChanScaleKernel}},
	// Shrink and PRelu with an infinite slope (ir/ref's branch form) have
	// no GPU kernel: host steps.
	"host_shrink_prelu": {`graph "g" (%x: f32[N,4,6,5]) -> (%y) {
  const %slope: f32[4,1,1] = [0.1, 0.2, -0.3, inf]
  %p: f32[N,4,6,5] = Shrink "shrink" (%x) {lambd = 0.5, bias = 0.1}
  %y: f32[N,4,6,5] = PRelu "prelu" (%p, %slope)
}`, map[string]string{"prelu": "host", "shrink": "host"}, nil},
}

// TestCoverageFallbacks plans each coverage graph (on any machine: the
// fallback each node gets is checked without a GPU), then runs it on the
// GPU at batch 1, 3 and 70 and compares with the reference executor.
func TestCoverageFallbacks(t *testing.T) {
	for name, c := range coverageGraphs {
		t.Run(name, func(t *testing.T) {
			text := c.text
			g, err := sqir.ParseAndVerify(name, []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			e, err := ampere.Plan(g, "test")
			if err != nil {
				t.Fatal(err)
			}
			for node, want := range c.nodes {
				if got := ranOn(e, node); got != want {
					t.Errorf("node %s runs on %q, want %q", node, got, want)
				}
			}
			for _, k := range c.uses {
				used := false
				for _, st := range e.Steps {
					used = used || st.Kernel == k
				}
				if !used {
					t.Errorf("no launch of %s", k)
				}
			}
			approx := false // none of these graphs has an approximate kernel today
			for _, s := range e.Steps {
				approx = approx || kernels.ApproxKernels[s.Kernel]
			}
			needGPU(t)
			for _, batch := range []int{1, 3, 70} {
				r := rand.New(rand.NewPCG(uint64(batch), 11))
				x := randomInput(g, batch, r, 3)
				got, want := runBoth(t, g, e, batch, x)
				for i := range want {
					checkOutput(t, name, i, batch, got[i], want[i], approx)
				}
			}
		})
	}
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
		case ampere.HostKernel:
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

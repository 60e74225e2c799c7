package onnxexport_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/frontend/onnx/onnxexport"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/ir/sqir"
)

// activationBlock is a QConv (1×1, 8 channels) with an int8 output, its
// activation and output quantization left as %ACT%, %SY% and %ZY%. The
// input scale is tiny like the late layers of a random-weight MobileNetV2,
// whose activations shrink to 1e-8.
const activationBlock = `graph "act" (%x: f32[1,8,6,6]) -> (%y) {
  const %sx: f32[] = [1e-09]
  const %zx: i8[] = [0]
  const %w: i8[8,8,1,1] quant(axis=0, scale=[0.0031, 0.0042, 0.0027, 0.0050, 0.0036, 0.0029, 0.0044, 0.0033], zp=[0, 0, 0, 0, 0, 0, 0, 0]) = %W%
  const %m: f32[8] = %M%
  %xq: i8[1,8,6,6] quant(scale=[1e-09], zp=[0]) = QuantizeLinear "q_x" (%x, %sx, %zx)
  %y: i8[1,8,6,6] quant(scale=[%SY%], zp=[%ZY%]) = QConv "conv" (%xq, %w, %m) {%ACT%}
}`

// activationGraph fills activationBlock with weights, the multipliers the
// scales give, activation attributes act and output parameters sy, zy.
func activationGraph(t *testing.T, act string, sy float32, zy int) *ir.Graph {
	t.Helper()
	ws := []float32{0.0031, 0.0042, 0.0027, 0.0050, 0.0036, 0.0029, 0.0044, 0.0033}
	w := make([]string, 64)
	for i := range w {
		w[i] = fmt.Sprint((i*37)%255 - 127)
	}
	var m []string
	for _, v := range ir.QOutputMultipliers(1e-9, ws, 8, sy) {
		m = append(m, fmt.Sprint(v))
	}
	src := strings.NewReplacer("%W%", "["+strings.Join(w, ", ")+"]", "%M%", "["+strings.Join(m, ", ")+"]",
		"%ACT%", act, "%SY%", fmt.Sprint(sy), "%ZY%", fmt.Sprint(zy)).Replace(activationBlock)
	g, err := sqir.ParseAndVerify("act.sqir", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// activationInputs are inputs of activationBlock that quantize to codes
// across the whole int8 range of its input.
func activationInputs(t *testing.T, g *ir.Graph, n int) [][]*ir.Tensor {
	var inputs [][]*ir.Tensor
	for i := 0; i < n; i++ {
		in := randomInputs(t, g, uint64(40+i))
		for j := range in[0].Float32s() {
			in[0].Float32s()[j] *= 1.3e-7
		}
		inputs = append(inputs, in)
	}
	return inputs
}

// TestQuantizedActivationForm checks which activation the QDQ form of a
// QConv with an int8 output writes: the weakest that clamps to the same
// int8 range, since QuantizeLinear saturates the rest.
func TestQuantizedActivationForm(t *testing.T) {
	for _, c := range []struct {
		name, act string
		sy        float32
		zy        int
		want      string // the activation op written, "" for none
	}{
		// Clip(0, 6) at a scale where 6 lies far above 127 steps: Relu.
		{"relu6-tiny-scale", `activation = "clip", clip_min = 0.0, clip_max = 6.0`, 6e-10, 0, "Relu"},
		{"relu6-above-range", `activation = "clip", clip_min = 0.0, clip_max = 6.0`, 0.02, -10, "Relu"},
		// 6 within the range (6/0.1 = 60 steps above the zero point): Clip.
		{"relu6-in-range", `activation = "clip", clip_min = 0.0, clip_max = 6.0`, 0.1, 0, "Clip"},
		{"clip-both-bounds", `activation = "clip", clip_min = -1.5, clip_max = 2.5`, 0.0301, 5, "Clip"},
		// A Relu whose zero point is the int8 minimum clamps nothing.
		{"relu-zp-min", `activation = "relu"`, 0.02, -128, ""},
		{"relu", `activation = "relu"`, 0.02, 0, "Relu"},
		// Bounds beyond both ends of the range: no activation.
		{"clip-wide", `activation = "clip", clip_min = -100.0, clip_max = 100.0`, 0.01, 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := activationGraph(t, c.act, c.sy, c.zy)
			path := filepath.Join(t.TempDir(), "act.onnx")
			if err := onnxexport.WriteFile(path, g, onnxexport.Options{}); err != nil {
				t.Fatal(err)
			}
			back, err := onnx.Import(path)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, n := range back.Nodes {
				if n.Op == "Relu" || n.Op == "Clip" {
					if got != "" {
						t.Fatalf("two activations: %s and %s", got, n.Op)
					}
					got = n.Op
				}
			}
			if got != c.want {
				t.Errorf("activation written: %q, want %q", got, c.want)
			}
			// Whatever is written, the exported graph computes the
			// QConv's codes: the same clamp range, at most one step
			// apart where the float QDQ chain rounds the other way.
			worst, diff, total := compareCodes(t, g, back, activationInputs(t, g, 2))
			t.Logf("%d of %d codes differ from the QConv's, by up to %d", diff, total, worst)
			if worst > 1 || diff > total/100 {
				t.Errorf("%d of %d codes differ from the QConv's, by up to %d; want ±1 on at most 1%%", diff, total, worst)
			}
		})
	}
}

// TestQuantizedActivationInONNXRuntime runs QConvs with a Relu6 at tiny and
// ordinary output scales in ONNX Runtime with every graph optimization:
// ONNX Runtime 1.30 removes a Clip in front of a QuantizeLinear when the
// bounds are within an absolute FLT_EPSILON of the quantized range, which
// at an output scale under 9.3e-10 dropped the Clip of a random-weight
// MobileNetV2's Relu6 and let negative codes through.
func TestQuantizedActivationInONNXRuntime(t *testing.T) {
	modules := ortModules(t)
	for _, c := range []struct {
		name string
		sy   float32
	}{{"tiny-scale", 6e-10}, {"ordinary-scale", 2e-9}} {
		for _, opt := range []string{"disabled", "all"} {
			g := activationGraph(t, `activation = "clip", clip_min = 0.0, clip_max = 6.0`, c.sy, 0)
			runs, got := runQuantizedInORT(t, modules, g, activationInputs(t, g, 4), opt)
			diff, total, worst, negative := 0, 0, 0, 0
			distinct := map[int8]bool{}
			for k, r := range runs {
				w, gt := r.want[0].Int8s(), got[k][0].Int8s()
				for i := range w {
					total++
					distinct[w[i]] = true
					if gt[i] < 0 {
						negative++
					}
					if d := absInt(int(w[i]) - int(gt[i])); d != 0 {
						diff++
						worst = max(worst, d)
					}
				}
			}
			t.Logf("%s, optimizations %s: %d of %d codes (%d distinct) differ, by up to %d; %d negative", c.name, opt, diff, total, len(distinct), worst, negative)
			if len(distinct) < 32 {
				t.Errorf("%s: only %d distinct codes: the test exercises little", c.name, len(distinct))
			}
			if negative > 0 || worst > 1 || diff > total/100 {
				t.Errorf("%s, optimizations %s: %d of %d codes differ by up to %d, %d below the Relu6's 0; want ±1 on at most 1%% and none below 0",
					c.name, opt, diff, total, worst, negative)
			}
		}
	}
}

// compareCodes runs graphs a and b (one int8 output each) on the reference
// executor and counts the codes that differ.
func compareCodes(t *testing.T, a, b *ir.Graph, inputs [][]*ir.Tensor) (worst, diff, total int) {
	t.Helper()
	for _, in := range inputs {
		wa, err := ref.Run(a, in...)
		if err != nil {
			t.Fatal(err)
		}
		wb, err := ref.Run(b, in...)
		if err != nil {
			t.Fatal(err)
		}
		x, y := wa[0].Int8s(), wb[0].Int8s()
		for i := range x {
			total++
			if d := absInt(int(x[i]) - int(y[i])); d != 0 {
				diff++
				worst = max(worst, d)
			}
		}
	}
	return worst, diff, total
}

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

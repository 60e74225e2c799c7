package ampere

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/tuning"
)

// fakeTime is a made-up time in ms for a kernel: the 2:4 kernel, 16-byte
// stores and four shared-weight stages each save some.
func fakeTime(kernel string) float64 {
	us := 10.0
	if strings.Contains(kernel, "_sp24") {
		us -= 2
	}
	if strings.HasPrefix(kernel, "sqc_gemm") && !strings.Contains(kernel, "_v16") {
		us++
	}
	if strings.HasSuffix(kernel, "_s4w") {
		us -= 0.5
	}
	return us / 1000
}

// TestTunerRounds runs the tuner's rounds on the mini ResNet with a fake
// timer: every candidate of every layer shape is timed, in the engine each
// round plans; the fastest is chosen; a kernel that fails makes its round
// retry shape by shape, and only that candidate is missing.
func TestTunerRounds(t *testing.T) {
	const broken = "sqc_gemm_conv_s8_sp24_i8" // sparse, s3, no v16
	var logs []string
	tu, err := newTuner(loadMini(t), TuneOptions{Batch: 8, Iters: 1, Log: func(m string) { logs = append(logs, m) }})
	if err != nil {
		t.Fatal(err)
	}
	engines := 0
	res, err := tu.run("Fake GPU", func(e *engine.Engine) ([]float64, error) {
		engines++
		ms := make([]float64, len(e.Steps))
		for i, s := range e.Steps {
			if s.Kernel == broken {
				return nil, fmt.Errorf("fake: %s failed", broken)
			}
			ms[i] = fakeTime(s.Kernel)
		}
		return ms, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Rounds: 8 candidates at most (2:4 layers: s3 and s4w, with and
	// without v16, sparse and dense); the failing round (the second:
	// sparse/s3 for 2:4 layers with int8 outputs) is retried once for
	// each of the 7 shapes.
	if engines != 8+7 {
		t.Errorf("%d engines timed, want 15", engines)
	}
	if len(res.Layers) != 7 || res.GPU != "Fake GPU" {
		t.Fatalf("%d layer shapes on %q, want 7 on the fake GPU", len(res.Layers), res.GPU)
	}
	c := tuning.New("fake")
	for _, l := range res.Layers {
		e := l.Entry
		if err := c.Put(e); err != nil {
			t.Errorf("%s: %v", l.Nodes[0], err)
		}
		want, us := tuning.Choice{Sparse: e.Layer.Sparse24, Variant: "s4w"}, 10.5
		if e.Layer.N%16 == 0 || strings.HasPrefix(e.Layer.Out, "f32") && e.Layer.N%4 == 0 {
			want.Variant, us = "s4w-v16", 9.5
		}
		if e.Layer.Sparse24 {
			us -= 2
		}
		if e.Use != want || e.Times[timingIndex(e.Times, want)].Us != us {
			t.Errorf("%s: chose %s, want %s at %.1f µs: %+v", l.Nodes[0], e.Use, want, us, e.Times)
		}
		if e.Batch != 8 || e.GPU != "Fake GPU" {
			t.Errorf("%s: key %+v", l.Nodes[0], e.Key)
		}
	}
	// block3.shortcut.conv's shape (int8 out, no residual) lost the
	// broken candidate only.
	for _, l := range res.Layers {
		if l.Nodes[0] != "block3.shortcut.conv" {
			continue
		}
		if len(l.Entry.Times) != 7 {
			t.Errorf("block3.shortcut.conv: %d candidates timed, want 7 of 8: %+v", len(l.Entry.Times), l.Entry.Times)
		}
		for _, tm := range l.Entry.Times {
			if tm.Choice == (tuning.Choice{Sparse: true, Variant: "s3"}) {
				t.Error("the broken candidate has a time")
			}
		}
	}
	if !strings.Contains(strings.Join(logs, "\n"), "layer block1.1.conv, sparse/s3: fake: "+broken+" failed") {
		t.Errorf("logs:\n%s", strings.Join(logs, "\n"))
	}
}

func timingIndex(ts []tuning.Timing, c tuning.Choice) int {
	for i, t := range ts {
		if t.Choice == c {
			return i
		}
	}
	return 0
}

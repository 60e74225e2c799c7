package engine

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func planned() *Engine {
	return &Engine{
		Target: &Target{Arch: "sm_80", PtxVersion: "8.5"}, Producer: "test", Graph: "graph text",
		Buffers: []*Buffer{{Name: "x", Dtype: "i8", ElemsPerSample: 4}},
		Weights: []*Weight{{Name: "w", Kind: "dense", Data: []byte{1, 2}}},
		Kernels: []*Kernel{{Name: "big", Ptx: "a"}, {Name: "small", Ptx: "b"}, {Name: "both", Ptx: "c"}},
		Steps:   []*Step{{Node: "n", Kernel: "big"}, {Node: "m", Kernel: "both"}},
		Inputs:  []string{"x"}, Outputs: []string{"x"}, StepWrites: true,
		Plans: []*Plan{
			{MaxBatch: 1, Steps: []*Step{{Node: "n", Kernel: "small"}}},
			{MaxBatch: 8, Steps: []*Step{{Node: "n", Kernel: "small"}, {Node: "m", Kernel: "both"}}},
		},
	}
}

func kernelNames(e *Engine) []string {
	var n []string
	for _, k := range e.Kernels {
		n = append(n, k.Name)
	}
	return n
}

func TestForBatchPicksThePlan(t *testing.T) {
	e := planned()
	for _, c := range []struct {
		batch   int
		steps   int
		kernels string
		plan    string
	}{
		{1, 1, "[small]", "batch ≤ 1"},
		{2, 2, "[small both]", "batch ≤ 8"},
		{8, 2, "[small both]", "batch ≤ 8"},
		{9, 2, "[big both]", ""},
		{256, 2, "[big both]", ""},
	} {
		r := ForBatch(e, c.batch)
		if len(r.Steps) != c.steps || len(r.Plans) != 0 {
			t.Errorf("batch %d: %d steps, %d plans, want %d steps and none", c.batch, len(r.Steps), len(r.Plans), c.steps)
		}
		if got := fmtNames(kernelNames(r)); got != c.kernels {
			t.Errorf("batch %d: kernels %s, want %s", c.batch, got, c.kernels)
		}
		if got := PlanFor(e, c.batch); got != c.plan {
			t.Errorf("batch %d: PlanFor %q, want %q", c.batch, got, c.plan)
		}
	}
	if got := ForBatch(e, 9).Steps[0].Kernel; got != "big" {
		t.Errorf("batch 9 runs %s first, want the engine's own steps (big)", got)
	}
	single := &Engine{Steps: []*Step{{Kernel: "k"}}}
	if ForBatch(single, 1) != single {
		t.Error("an engine without plans is not returned as it is")
	}
}

func fmtNames(n []string) string {
	s := "["
	for i, x := range n {
		if i > 0 {
			s += " "
		}
		s += x
	}
	return s + "]"
}

// TestForBatchKeepsFields fails when Engine gains a field ForBatch does
// not carry over.
func TestForBatchKeepsFields(t *testing.T) {
	e := planned()
	r := ForBatch(e, 256)
	fields := e.ProtoReflect().Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		f := fields.Get(i)
		switch f.Name() {
		case "steps", "kernels", "plans":
			continue
		}
		a, b := e.ProtoReflect().Get(f), r.ProtoReflect().Get(f)
		if !equalValue(f, a, b) {
			t.Errorf("ForBatch drops or changes Engine.%s", f.Name())
		}
		if !e.ProtoReflect().Has(f) {
			t.Errorf("planned() leaves Engine.%s unset: set it, so that this test checks it", f.Name())
		}
	}
}

func equalValue(f protoreflect.FieldDescriptor, a, b protoreflect.Value) bool {
	x, y := &Engine{}, &Engine{}
	x.ProtoReflect().Set(f, a)
	y.ProtoReflect().Set(f, b)
	return proto.Equal(x, y)
}

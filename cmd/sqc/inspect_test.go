package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/ir"
)

// TestOwnIRNodes attributes IR nodes to ONNX nodes by the outputs they
// produce and by "<name>/<suffix>" names, the longest ONNX name winning, as
// PyTorch's slash-separated node names require.
func TestOwnIRNodes(t *testing.T) {
	nodes := []onnx.NodeInfo{
		{Name: "/l1/conv", OpType: "Conv", Outputs: []string{"c"}},
		{Name: "/l1/conv/bn", OpType: "BatchNormalization", Outputs: []string{"d"}},
		{Name: "Gemm_2", OpType: "Gemm", Outputs: []string{"y"}},
		{Name: "Constant_3", OpType: "Constant", Outputs: []string{"k"}},
	}
	ir1 := func(name string, outs ...string) *ir.Node {
		n := &ir.Node{Name: name, Op: "Identity"}
		for _, o := range outs {
			n.Outputs = append(n.Outputs, &ir.Value{Name: o})
		}
		return n
	}
	g := &ir.Graph{Nodes: []*ir.Node{
		ir1("/l1/conv/pad", "/l1/conv/pad"), // aux of /l1/conv
		ir1("/l1/conv", "c"),
		ir1("/l1/conv/bn/scale", "s"),    // aux of /l1/conv/bn, not /l1/conv
		ir1("/l1/conv/bn/scale_2", "s2"), // a fresh aux name still has the prefix
		ir1("/l1/conv/bn", "d"),
		ir1("fused", "y"),           // produces Gemm_2's output
		ir1("fused/transpose", "t"), // aux of the node that took the name "fused"
		ir1("orphan", "o"),          // nothing claims it
		ir1("/l2/conv", "e"),        // no "/l2" or "/l2/conv" ONNX node
	}}
	got := ownIRNodes(nodes, g)
	want := []int{0, 0, 1, 1, 1, 2, 2, -1, -1}
	if !slices.Equal(got, want) {
		t.Errorf("owners %v, want %v", got, want)
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 25018: "25,018",
		13549888: "13,549,888", 2984869888: "2,984,869,888", -1: "?"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestInspectEnginePlans: inspect lists the plan a batch runs and names
// the engine's plans, in text and JSON. The engine is a hand-made one:
// two steps of the engine's own, one in its plan for batches up to 4.
func TestInspectEnginePlans(t *testing.T) {
	e := &engine.Engine{
		Target:  &engine.Target{Arch: "sm_80", PtxVersion: "8.5"},
		Kernels: []*engine.Kernel{{Name: "sqc_big", Ptx: "x"}, {Name: "sqc_small", Ptx: "y"}},
		Steps:   []*engine.Step{{Node: "a", Op: "QConv", Kernel: "sqc_big"}, {Node: "b", Op: "QConv", Kernel: "sqc_big"}},
		Plans:   []*engine.Plan{{MaxBatch: 4, Steps: []*engine.Step{{Node: "a", Op: "QConv", Kernel: "sqc_small"}}}},
	}
	path := filepath.Join(t.TempDir(), "p.sqe")
	b, err := engine.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		batch int
		want  []string
	}{
		{0, []string{"2 launches, 2 kernels", "plans: batches up to 4: 1 launches; larger batches: 2 launches. The rows: larger batches", "sqc_big"}},
		{4, []string{"1 launches, 2 kernels", "The rows: the plan for batch ≤ 4, which a batch of 4 runs", "sqc_small"}},
		{5, []string{"2 launches", "sqc_big"}},
	} {
		var out strings.Builder
		if err := inspectEngine(&out, path, false, c.batch); err != nil {
			t.Fatal(err)
		}
		for _, w := range c.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("inspect --batch %d: no %q in\n%s", c.batch, w, out.String())
			}
		}
	}
	var out strings.Builder
	if err := inspectEngine(&out, path, true, 2); err != nil {
		t.Fatal(err)
	}
	var r engineReport
	if err := json.Unmarshal([]byte(out.String()), &r); err != nil {
		t.Fatal(err)
	}
	if r.Plan != "batch ≤ 4" || r.Batch != 2 || len(r.Plans) != 1 || r.Plans[0] != (enginePlan{MaxBatch: 4, Launches: 1}) || len(r.Layers) != 1 {
		t.Errorf("inspect --batch 2 --json: plan %q, batch %d, plans %v, %d layers; want the plan for batch ≤ 4 and its one launch", r.Plan, r.Batch, r.Plans, len(r.Layers))
	}
	if err := inspectEngine(&out, path, false, -1); err == nil || !strings.Contains(err.Error(), "--batch -1, want at least 1") {
		t.Errorf("inspect --batch -1: %v, want a clear error", err)
	}
}

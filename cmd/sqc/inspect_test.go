package main

import (
	"slices"
	"testing"

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

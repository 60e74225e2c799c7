package ampere

import (
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
)

// TestGemmShape: every GEMM step of the planned example reports the shape
// of its node (pixels a sample, output channels, KH·KW·C), and no other
// step reports one.
func TestGemmShape(t *testing.T) {
	g := loadMini(t)
	e, err := Plan(g, "test")
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string][]int{} // node: out channels, K, pixels
	for _, n := range g.Nodes {
		if n.Op != "QConv" && n.Op != "QGemm" {
			continue
		}
		ws := n.Inputs[1].Const.Shape
		k := 1
		for _, d := range ws[1:] {
			k *= d
		}
		pixels := 1
		if n.Op == "QConv" {
			sh := n.Outputs[0].Type.Shape
			pixels = int(sh[2].Size * sh[3].Size)
		}
		nodes[n.Name] = []int{ws[0], k, pixels}
	}
	gemms := 0
	for _, s := range e.Steps {
		m, n, k, ok := GemmShape(s)
		want, isGemm := nodes[s.Node]
		if ok != (isGemm && strings.HasPrefix(s.Kernel, "sqc_gemm_")) {
			t.Errorf("step %s (%s): GemmShape ok = %v", s.Node, s.Kernel, ok)
			continue
		}
		if !ok {
			continue
		}
		gemms++
		if int(n) != want[0] || int(k) != want[1] || int(m) != want[2] {
			t.Errorf("step %s: M×N×K %d×%d×%d a sample, want %d×%d×%d", s.Node, m, n, k, want[2], want[0], want[1])
		}
	}
	if gemms == 0 {
		t.Fatal("no GEMM step in the example engine")
	}
	if c, ok := InstructionCeiling("NVIDIA H100 80GB HBM3", true); !ok || c <= 1270 {
		t.Errorf("H100 sparse ceiling %v, %v", c, ok)
	}
	if _, ok := InstructionCeiling("NVIDIA A100", false); ok {
		t.Error("a ceiling for a card never measured")
	}
}

// TestEngineGraphExternalWeights: the engine's graph text refers to the
// GEMM weights it holds packed instead of carrying them again, and Graph
// rebuilds exactly the planned graph from the two (dense and 2:4,
// convolution and QGemm weights alike).
func TestEngineGraphExternalWeights(t *testing.T) {
	g := loadMini(t)
	e, err := Plan(g, "test")
	if err != nil {
		t.Fatal(err)
	}
	full := sqir.Format(g)
	if !strings.Contains(e.Graph, `= external "block1.1.conv"`) || !strings.Contains(e.Graph, `= external "head.fc"`) {
		t.Fatalf("engine graph keeps its GEMM weights inline:\n%s", e.Graph)
	}
	if len(e.Graph) >= len(full)/2 {
		t.Errorf("engine graph text %d bytes, the full graph %d: the weights are not left out", len(e.Graph), len(full))
	}
	back, err := Graph(e)
	if err != nil {
		t.Fatal(err)
	}
	if got := sqir.Format(back); got != full {
		t.Errorf("graph rebuilt from the engine differs from the planned one")
	}
	// A weight missing from the engine is an error naming it.
	for i, w := range e.Weights {
		if w.Name == "block1.1.conv/e" {
			e.Weights = append(e.Weights[:i:i], e.Weights[i+1:]...)
			break
		}
	}
	if _, err := Graph(e); err == nil || !strings.Contains(err.Error(), "block1.1.conv/e") {
		t.Errorf("engine without a metadata weight: %v", err)
	}
}

// TestOperandBytes: a GEMM step's operand bytes grow with the batch by
// exactly its node's activations a sample (the computed inputs and the
// output, from the graph's types, not the engine's buffers; im2col GEMMs,
// whose matrix the graph does not have, left out), and what
// stays is its packed weights: at least the 2:4 values of an N×K weight
// (half of it) and no more than the padded dense int8 weight plus its
// bias, multipliers and metadata.
func TestOperandBytes(t *testing.T) {
	g := loadMini(t)
	e, err := Plan(g, "test")
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string]*ir.Node{}
	for _, n := range g.Nodes {
		nodes[n.Name] = n
	}
	one, two := OperandBytes(e, 1), OperandBytes(e, 2)
	checked := 0
	for i, s := range e.Steps {
		m, nOut, k, ok := GemmShape(s)
		n := nodes[s.Node]
		// An im2col GEMM reads a matrix the graph does not have.
		if !ok || n == nil || strings.HasPrefix(s.Kernel, "sqc_gemm_s8_") && n.Op == "QConv" {
			continue
		}
		var want int64 // activation bytes a sample, without the batch dim
		for _, v := range append(append([]*ir.Value{}, n.Inputs...), n.Outputs...) {
			if v == nil || v.Const != nil {
				continue
			}
			elems := int64(v.Type.DType.Size())
			for _, d := range v.Type.Shape[1:] {
				elems *= d.Size
			}
			want += elems
		}
		if two[i]-one[i] != want {
			t.Errorf("step %s (%s): %d operand bytes a sample, want %d (the node's activations)", s.Node, s.Kernel, two[i]-one[i], want)
		}
		weights := one[i] - want
		// Packed weights pad N to 128 channels and K to 64; bias' and
		// mult are four bytes a channel, 2:4 metadata a quarter byte a K.
		np, kp := (nOut+127)/128*128, (k+63)/64*64
		if lo, hi := nOut*k/2, np*kp+np*kp/4+8*np; weights < lo || weights > hi {
			t.Errorf("step %s (%s, %d×%d×%d): %d weight bytes, want %d to %d", s.Node, s.Kernel, m, nOut, k, weights, lo, hi)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no GEMM step checked")
	}
}

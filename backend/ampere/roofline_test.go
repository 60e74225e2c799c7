package ampere

import (
	"strings"
	"testing"
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

package lowerint8

import (
	"os"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// TestAveragePoolsInt8 runs testdata/avgpool.sqir before and after
// lowering on random inputs: the int8 pools give the Q/DQ graph's codes
// (the average of the dequantized inputs, quantized) except on rare
// rounding ties, by one code at most.
func TestAveragePoolsInt8(t *testing.T) {
	src, err := os.ReadFile("testdata/avgpool.sqir")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	text = text[strings.Index(text, "graph "):]
	text = text[:strings.Index(text, "\n}\n")+3]
	// Outputs are DequantizeLinear of sy = 0.25: one code is 0.25.
	diff, worst, g := compare(t, text, "lower-int8", 40, 40, 0.25)
	ops := countOps(g)
	if ops["QConv"] != 2 || ops["GlobalAveragePool"] != 0 || ops["AveragePool"] != 1 {
		t.Errorf("ops %v, want the GAP and the count_include_pad pool as QConv and the other pool left", ops)
	}
	t.Logf("%d output elements differ, by up to %v codes", diff, worst)
	if worst > 1 || diff > 40 {
		t.Errorf("%d elements differ by up to %v codes: want ±1 on a few ties", diff, worst)
	}
}

// TestMaxPoolBranchIsBitExact: testdata/maxpool_branch.sqir (a max pool
// read by two QuantizeLinear nodes of the same parameters) lowers to an
// int8 stem and pool, and with power-of-two scales the two graphs agree
// bit for bit.
func TestMaxPoolBranchIsBitExact(t *testing.T) {
	src, err := os.ReadFile("testdata/maxpool_branch.sqir")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	text = text[strings.Index(text, "graph "):]
	text = text[:strings.Index(text, "\n}\n")+3]
	diff, _, g := compare(t, text, "lower-int8", 20, 8, 0.125)
	ops := countOps(g)
	for _, n := range g.Nodes {
		if n.Op == "MaxPool" && n.Inputs[0].Type.DType != ir.Int8 {
			t.Errorf("the max pool reads %v, want int8", n.Inputs[0].Type.DType)
		}
	}
	if ops["QConv"] != 1 || ops["MaxPool"] != 1 || ops["QuantizeLinear"] != 1 {
		t.Errorf("ops %v: want the stem QConv, an int8 max pool and only the input's QuantizeLinear", ops)
	}
	if diff != 0 {
		t.Errorf("%d output elements differ, want none", diff)
	}
}

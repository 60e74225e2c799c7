package lowerint8

import (
	"os"
	"strings"
	"testing"
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

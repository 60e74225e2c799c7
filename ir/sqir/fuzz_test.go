package sqir_test

import (
	"testing"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
)

// FuzzParse checks that Parse never panics, and that whatever it accepts
// prints, parses back Equal, and prints the same text again.
func FuzzParse(f *testing.F) {
	f.Add(sqir.Format(smallGraph()))
	f.Add(sqir.Format(featureGraph()))
	for _, s := range []string{
		`graph "g" (%x: f32[N,2]) -> (%z) {
  const %b: f32[2] = [1, 2]
  %y: f32[N,2] = Add "add" (%x, %b) {a = 1, b = 1.5, c = "s", d = [1], e = [1.5, nan], f = ["x"], g = [] : ints, h = 0x7fc00001 : float}
  %z: f32[N,2]{NC} quant(axis=1, scale=[0.5, inf], zp=[1, 2]) sparsity 2:4@1 = Relu "relu" (%y, _)
  Print "p" ()
}`,
		`graph "h" () -> (%c, %d, %e) {
  const %c: f16[2] = hex"003c00c0"
  const %d: bool[] = [true]
  const %e: u64[0,3] = base64""
}`,
		"graph \"g\" (%\"a b\": ?[?, \"N x\"]) -> (%\"a b\") {} // end",
		"// RUN: x\n// CHECK: y\ngraph \"g\" () -> () {\n}\n",
		`graph "g" (%x: f32[2]) -> () { %y: f32[2] = Relu (%x) }`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		g, err := sqir.Parse("fuzz.sqir", []byte(src))
		if err != nil {
			return
		}
		text := sqir.Format(g)
		back, err := sqir.Parse("printed.sqir", []byte(text))
		if err != nil {
			t.Fatalf("printed form does not parse: %v\ninput:\n%s\nprinted:\n%s", err, src, text)
		}
		if err := ir.Equal(g, back); err != nil {
			t.Fatalf("round trip changed the graph: %v\ninput:\n%s\nprinted:\n%s", err, src, text)
		}
		if again := sqir.Format(back); again != text {
			t.Fatalf("second print differs:\n%s\nvs\n%s", text, again)
		}
	})
}

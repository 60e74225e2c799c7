package sqir_test

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// roundTrip prints g, parses the text back, and checks that the result is
// Equal to g and prints the same text again.
func roundTrip(t *testing.T, g *ir.Graph) (text string, back *ir.Graph) {
	t.Helper()
	var buf bytes.Buffer
	if err := sqir.Print(&buf, g); err != nil {
		t.Fatalf("Print: %v", err)
	}
	text = buf.String()
	back, err := sqir.Parse("roundtrip.sqir", buf.Bytes())
	if err != nil {
		t.Fatalf("Parse of printed text: %v\n%s", err, text)
	}
	if err := ir.Equal(g, back); err != nil {
		t.Fatalf("graph changed in the round trip: %v\n%s", err, text)
	}
	if again := sqir.Format(back); again != text {
		t.Fatalf("printing the parsed graph gives other text:\n%s\nvs\n%s", again, text)
	}
	return text, back
}

func TestRoundTripFeatures(t *testing.T) {
	text, back := roundTrip(t, featureGraph())
	// Building the graph twice prints the same bytes (no map order leaks).
	if again := sqir.Format(featureGraph()); again != text {
		t.Errorf("two prints of equal graphs differ")
	}
	// Spot checks that the printed form is the documented one, and that the
	// parsed values are the intended ones (not just self-consistent).
	for _, want := range []string{
		`graph "feature test \"graph\"" (%input.1: f32[N,3,?,"batch size"], %"/layer1/conv/Conv_output_0": i8[N,4,2,2]{NHWC} quant(axis=1, scale=[0.1, 1e-30, 1e-45, 3.4028235e+38], zp=[0, -128, 127, -2147483648]), %"33": f32[], %untyped: ?[]) -> (%cat, %only_output, %input.1, %"q\"uote\\\n", %cat) {`,
		`  const %specials_f32: f32[14] = [0, -0, inf, -inf, nan, 0x7fc00001, 0xffc00000, 0x7f800001, 1e-45, 0.1, 1e-45, 3.4028235e+38, 1.6777216e+07, -2.5]`,
		`  const %specials_f64: f64[9] = [-0, inf, 0x7ff8000000000001, nan, 0xfff0000000000001, 5e-324, 1.7976931348623157e+308, 0.1, 0.3333333333333333]`,
		`  const %specials_f16: f16[13] = [0, -0, 5.9604645e-08, 6.097555e-05, 1, 65504, inf, -inf, nan, 0x7e01, 0xfe00, 0x7c01, 0.33325195]`,
		`  const %specials_bf16b: bf16[7] = [nan, 0x7fc1, 0xffc0, inf, -inf, 9.1835e-41, 1]`,
		`  const %extreme_i64: i64[4] = [-9223372036854775808, 9223372036854775807, 0, -1]`,
		`  const %extreme_u64: u64[2] = [18446744073709551615, 0]`,
		`  const %scalar: f32[] = [2.5]`,
		`  const %scalar_bool: bool[] = [true]`,
		`  const %empty2: f32[3,0,2] = []`,
		`  const %w: i8[1,4,5,1]{OHWI} quant(scale=[0.25], zp=[0]) sparsity 2:4@1 = base64"AQAAAgADBAAFAAAAAAYHAAAACAk="`,
		`  %early: i32[1] = "const" "reads later value" (%later)`,
		`  %later: i32[1] = "" "late" ()`,
		`  Print "sink" (%Plus214_Output_0, %untyped, %"33", %"/layer1/conv/Conv_output_0", %early)`,
		`  %s2: f32[] = Identity "empty attrs" (%"33")` + "\n",
		`%"é": bool[]{"with space"} sparsity 0:1@-3`,
		`%"q\"uote\\\n": u8[0] quant(axis=-5, scale=[0x7fc00001, inf, -0], zp=[])`,
		`%Plus214_Output_0: f16["2*N","?","3"]`,
		`= com.example.Attrs "" (_, %cat, _) {f = 1.0, f_big = 1e+20, f_inf = -inf, f_nan = nan, f_nan_payload = 0x7fa00001 : float, f_neg0 = -0.0, f_small = 1e-45, fs = [1.0, 0.5, -2.0], fs_bits = [1.0, 0xffc00000] : floats, fs_empty = [] : floats, i = -7, i_min = -9223372036854775808, is = [3, -3, 0, 9223372036854775807], is_empty = [] : ints, "odd name/1" = 1, s = "a \"quoted\"\nline\twith \\ and é and \xff", s_empty = "", ss = ["NOTSET", "", "x y"], ss_empty = [] : strings}`,
		`(%small_f32, %large_f32, `,
		`, _, %input.1, _, _) {axis = 0}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("printed form lacks\n\t%s\nin\n%s", want, text)
		}
	}
	// Independent checks of parsed data: the blob of 60 int8 from ramp.
	var large *ir.Value
	for _, v := range back.Nodes[0].Inputs {
		if v != nil && v.Name == "large_i8" {
			large = v
		}
	}
	if large == nil {
		t.Fatal("no %large_i8 in the parsed graph")
	}
	got := large.Const.Int8s()
	for i, v := range got {
		if want := int8(i*37 - 128); v != want {
			t.Fatalf("large_i8[%d] = %d, want %d", i, v, want)
		}
	}
	if bits := math.Float32bits(back.Nodes[1].Attrs["f_nan_payload"].Float); bits != 0x7fa00001 {
		t.Errorf("f_nan_payload lost its payload")
	}
}

// TestRoundTripBlobSizes crosses the printer's and parser's chunk boundary
// (98304 bytes) with every element size and every base64 padding.
func TestRoundTripBlobSizes(t *testing.T) {
	const chunk = 3 * 8 * 4096
	for _, dt := range []ir.DType{ir.Uint8, ir.Int16, ir.Float32, ir.Float64, ir.Bool} {
		for _, bytes := range []int{17 * 8, chunk - 8, chunk, chunk + 8, 2*chunk + 16, 3*chunk - 8} {
			n := bytes / dt.Size()
			for _, extra := range []int{0, 1, 2} {
				if dt.Size() > 1 && extra > 0 {
					continue
				}
				m := n + extra
				g := &ir.Graph{Name: "blob"}
				g.Outputs = []*ir.Value{constOf("c", dt, ramp(dt, m), m)}
				roundTrip(t, g)
			}
		}
	}
}

func TestFormatOfSimpleValues(t *testing.T) {
	x := &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, 2)}
	g := &ir.Graph{Name: "g", Inputs: []*ir.Value{x}}
	y := &ir.Value{Name: "y", Type: ir.TensorType(ir.Float32, 2)}
	g.Nodes = []*ir.Node{{Name: "n", Op: "LeakyRelu", Inputs: []*ir.Value{x}, Outputs: []*ir.Value{y},
		Attrs: ir.Attrs{"alpha": ir.FloatAttr(0.1), "beta": ir.FloatAttr(100), "gamma": ir.FloatAttr(-3)}}}
	g.Outputs = []*ir.Value{y}
	want := `graph "g" (%x: f32[2]) -> (%y) {
  %y: f32[2] = LeakyRelu "n" (%x) {alpha = 0.1, beta = 100.0, gamma = -3.0}
}
`
	if got := sqir.Format(g); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestGolden(t *testing.T) {
	g := smallGraph()
	text, _ := roundTrip(t, g)
	path := filepath.Join("testdata", "small.sqir")
	if *update {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if text != string(want) {
		t.Errorf("printed form differs from %s (go test -update rewrites it):\n%s", path, text)
	}
	parsed, err := sqir.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := ir.Equal(g, parsed); err != nil {
		t.Errorf("%s parses to another graph: %v", path, err)
	}
}

// TestHandWritten checks that hand-written forms the printer never uses
// (hex blobs, comments, hex integers, forward references) read as intended.
func TestHandWritten(t *testing.T) {
	src := `// RUN: sqc opt %s --passes=fold | filecheck %s
// CHECK: graph "hand"
graph "hand" (%x: f32[2]) -> (%z) { // a comment after a brace
  // CHECK-NEXT: const
  const %h: f16[3] = [1, -2, 0.5]
  const %b: f32[2] = base64"AACAPwAAAMA="
  const %hx: i16[2] = hex"0180ffff"
  const %u: u8[3] = [0xff, 0x0, 7]
  const %i: i32[2] = [-0x80000000, 0x7fffffff]
  const %bits: f32[2] = [0x3f800000, 1e0]
  const %bb: bool[3] = hex"010001"
  %z: f32[2] = Add "add" (%y, %b) {list = [1, 2.5], k = 3 : float}
  %y: f32[2] = Relu "relu" (%x) // CHECK: Relu
} // the end, no newline`
	g, err := sqir.Parse("hand.sqir", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]*ir.Tensor{}
	for _, c := range g.Constants() {
		consts[c.Name] = c.Const
	}
	// Only the constants the graph uses remain.
	if len(consts) != 1 || consts["b"] == nil {
		t.Fatalf("constants %v, want only %%b", consts)
	}
	if got := consts["b"].Float32s(); got[0] != 1 || got[1] != -2 {
		t.Errorf("base64 f32 data = %v, want [1 -2]", got)
	}
	if g.Nodes[0].Inputs[0] != g.Nodes[1].Outputs[0] {
		t.Errorf("forward reference to %%y not resolved to the Relu's output")
	}
	if a := g.Nodes[0].Attrs["list"]; a.Kind != ir.AttrFloats || a.Floats[0] != 1 || a.Floats[1] != 2.5 {
		t.Errorf("list = %+v, want floats [1 2.5]", a)
	}
	if a := g.Nodes[0].Attrs["k"]; a.Kind != ir.AttrFloat || a.Float != 3 {
		t.Errorf("k = %+v, want float 3", a)
	}
	// Unused constants are dropped, so check their data through a graph
	// that outputs them.
	src2 := `graph "c" () -> (%h, %hx, %u, %i, %bits, %bb) {
  const %h: f16[3] = [1, -2, 0.5]
  const %hx: i16[2] = hex"0180ffff"
  const %u: u8[3] = [0xff, 0x0, 7]
  const %i: i32[2] = [-0x80000000, 0x7fffffff]
  const %bits: f32[2] = [0x3f800000, 1e0]
  const %bb: bool[3] = hex"010001"
}`
	g, err = sqir.Parse("c.sqir", []byte(src2))
	if err != nil {
		t.Fatal(err)
	}
	out := g.Outputs
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("h", out[0].Const.Data, []uint16{0x3c00, 0xc000, 0x3800})
	check("hx", out[1].Const.Data, []int16{-32767, -1})
	check("u", out[2].Const.Data, []uint8{255, 0, 7})
	check("i", out[3].Const.Data, []int32{math.MinInt32, math.MaxInt32})
	check("bits", out[4].Const.Data, []float32{1, 1})
	check("bb", out[5].Const.Data, []bool{true, false, true})
}

func TestPrintErrors(t *testing.T) {
	x := func() *ir.Value { return &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, 2)} }
	cases := []struct {
		name string
		g    func() *ir.Graph
		want string
	}{
		{"empty value name", func() *ir.Graph {
			return &ir.Graph{Name: "g", Inputs: []*ir.Value{{Name: "", Type: ir.TensorType(ir.Float32, 1)}}}
		}, `sqir: cannot print graph "g": graph input 0 has no name`},
		{"two values one name", func() *ir.Graph {
			a, b := x(), x()
			return &ir.Graph{Name: "g", Inputs: []*ir.Value{a}, Nodes: []*ir.Node{{Name: "n", Op: "Relu", Inputs: []*ir.Value{a}, Outputs: []*ir.Value{b}}}}
		}, `sqir: cannot print graph "g": node "n" (Relu) output 0: two values are named %x`},
		{"defined twice", func() *ir.Graph {
			a := x()
			return &ir.Graph{Name: "g", Inputs: []*ir.Value{a}, Nodes: []*ir.Node{{Name: "n", Op: "Relu", Inputs: []*ir.Value{a}, Outputs: []*ir.Value{a}}}}
		}, `sqir: cannot print graph "g": node "n" (Relu) output 0: value %x is defined twice`},
		{"undefined input", func() *ir.Graph {
			return &ir.Graph{Name: "g", Nodes: []*ir.Node{{Name: "n", Op: "Relu", Inputs: []*ir.Value{x()}}}}
		}, `sqir: cannot print graph "g": node "n" (Relu): input 0 %x is not a graph input, a constant or a node output`},
		{"undefined output", func() *ir.Graph {
			return &ir.Graph{Name: "g", Outputs: []*ir.Value{x()}}
		}, `sqir: cannot print graph "g": graph output 0 %x is not a graph input, a constant or a node output`},
		{"nil output", func() *ir.Graph {
			return &ir.Graph{Name: "g", Outputs: []*ir.Value{nil}}
		}, `sqir: cannot print graph "g": graph output 0 is nil`},
		{"nil node output", func() *ir.Graph {
			return &ir.Graph{Name: "g", Nodes: []*ir.Node{{Name: "n", Op: "Relu", Outputs: []*ir.Value{nil}}}}
		}, `sqir: cannot print graph "g": node "n" (Relu): output 0 is nil`},
		{"nil node", func() *ir.Graph {
			return &ir.Graph{Name: "g", Nodes: []*ir.Node{nil}, Outputs: []*ir.Value{x()}}
		}, `sqir: cannot print graph "g": node 0 is nil`},
		{"constant input", func() *ir.Graph {
			return &ir.Graph{Name: "g", Inputs: []*ir.Value{constOf("c", ir.Float32, []float32{1}, 1)}}
		}, `sqir: cannot print graph "g": graph input %c is a constant`},
		{"data does not match type", func() *ir.Graph {
			c := constOf("c", ir.Float32, []float32{1, 2}, 2)
			c.Type = ir.TensorType(ir.Float32, 3)
			return &ir.Graph{Name: "g", Outputs: []*ir.Value{c}}
		}, `sqir: cannot print graph "g": constant %c: declared f32[3], data is f32[2]`},
		{"data of the wrong Go type", func() *ir.Graph {
			c := constOf("c", ir.Float32, []int64{1, 2}, 2)
			return &ir.Graph{Name: "g", Outputs: []*ir.Value{c}}
		}, `sqir: cannot print graph "g": constant %c: f32 tensor holds []int64`},
		{"bad dim", func() *ir.Graph {
			v := &ir.Value{Name: "v", Type: ir.Type{DType: ir.Float32, Shape: ir.Shape{{Size: 3, Sym: "N"}}}}
			return &ir.Graph{Name: "g", Inputs: []*ir.Value{v}}
		}, `sqir: cannot print graph "g": value %v: dim 0 is {Size: 3, Sym: "N"}, want a size >= 0, or -1 with an optional symbol`},
		{"bad dtype", func() *ir.Graph {
			v := &ir.Value{Name: "v", Type: ir.Type{DType: 99}}
			return &ir.Graph{Name: "g", Inputs: []*ir.Value{v}}
		}, `sqir: cannot print graph "g": value %v has invalid dtype 99`},
		{"bad attribute kind", func() *ir.Graph {
			return &ir.Graph{Name: "g", Nodes: []*ir.Node{{Name: "n", Op: "Relu", Attrs: ir.Attrs{"a": {}}}}}
		}, `sqir: cannot print graph "g": node "n" (Relu): attribute "a" has invalid kind 0`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := sqir.Print(&buf, c.g())
			if err == nil || err.Error() != c.want {
				t.Errorf("Print error = %v\nwant %s", err, c.want)
			}
			if buf.Len() != 0 {
				t.Errorf("Print wrote %q before failing", buf.String())
			}
		})
	}
	if got := sqir.Format(nil); got != "// sqir: cannot print a nil graph\n" {
		t.Errorf("Format(nil) = %q", got)
	}
	if got := sqir.Format(&ir.Graph{Name: "g", Nodes: []*ir.Node{nil}}); got != "// sqir: cannot print graph \"g\": node 0 is nil\n" {
		t.Errorf("Format of a graph with a nil node = %q", got)
	}
}

func TestParseErrors(t *testing.T) {
	// head is line 1 of most cases, so their errors are on line 2 unless said.
	const head = "graph \"g\" (%x: f32[2]) -> () {\n"
	cases := []struct{ src, want string }{
		{`graph "g" (%x f32[1]) -> () {}`, `1:15: expected ':' after value name, found "f32"`},
		{head + "  %y: f32[2] = Relu \"r\" (%x)\n  const %abc f32[1] = [1]\n}", `3:14: expected ':' after value name, found "f32"`},
		{head + "  %y: f32[2] = Relu \"r\" (%q)\n}", `2:26: undefined value %q`},
		{"graph \"g\" () -> (%out) {\n}", `1:18: undefined value %out`},
		{head + "  %x: f32[2] = Relu \"r\" (%x)\n}", `2:3: duplicate definition of %x (first defined at 1:12)`},
		{head + "  %y: f32[2], %y: f32[2] = Split \"s\" (%x)\n}", `2:15: duplicate definition of %y (first defined at 2:3)`},
		{`graph "g" (%x: f33[1]) -> () {}`, `1:16: unknown dtype "f33" (want one of f32 f64 f16 bf16 i8 u8 i16 u16 i32 u32 i64 u64 bool)`},
		{head + "  const %c: f32[2] = [1.5.2, 3]\n}", `2:23: malformed f32 "1.5.2"`},
		{head + "  const %c: f32[2] = [1e39, 3]\n}", `2:23: 1e39 out of range for f32`},
		{head + "  const %c: f16[1] = [70000]\n}", `2:23: 70000 out of range for f16`},
		{head + "  const %c: f32[1] = [-nan]\n}", `2:23: malformed f32 "-nan"`},
		{head + "  const %c: f32[1] = [0x1ffffffff]\n}", `2:23: 0x1ffffffff out of range for f32`},
		{head + "  const %c: i8[2] = [1, 128]\n}", `2:25: 128 out of range for i8`},
		{head + "  const %c: u8[1] = [-1]\n}", `2:22: -1 out of range for u8`},
		{head + "  const %c: i32[1] = [1.5]\n}", `2:23: malformed i32 "1.5"`},
		{head + "  const %c: bool[1] = [2]\n}", `2:24: expected true or false for a bool element, found "2"`},
		{head + "  const %c: f32[2] = [true, 1]\n}", `2:23: expected a f32 element, found "true"`},
		{head + "  const %c: f32[2,2] = [1, 2, 3]\n}", `2:24: constant %c: 3 elements, want 4 for f32[2,2]`},
		{head + "  const %c: f32[2] = [1, 2, 3]\n}", `2:29: constant %c: more than 2 elements for f32[2]`},
		{head + "  const %c: f32[2] = hex\"0000803f\"\n}", `2:22: constant %c: hex data holds 4 bytes, want 8 (2 elements of f32)`},
		{head + "  const %c: f32[1] = hex\"0000803\"\n}", `2:22: constant %c: hex data has an odd number of digits`},
		{head + "  const %c: f32[1] = hex\"0000x03f\"\n}", `2:30: constant %c: malformed hex data`},
		{head + "  const %c: f32[1] = base64\"AAC*Pw==\"\n}", `2:32: constant %c: malformed base64 data`},
		{head + "  const %c: f32[1] = base64\"AACAPw=\"\n}", `2:22: constant %c: base64 data has 7 characters, want a multiple of 4`},
		{head + "  const %c: f32[2] = base64\"AACAPw==\"\n}", `2:22: constant %c: base64 data holds 4 bytes, want 8 (2 elements of f32)`},
		{head + "  const %c: bool[1] = hex\"02\"\n}", `2:23: constant %c: element 0 is byte 2, want 0 or 1 for bool`},
		{head + "  const %c: f32[1] = hex\"0000\n803f\"\n}", `2:30: newline in hex data`},
		{head + "  const %c: f32[N] = [1]\n}", `2:9: constant %c has shape [N], want a static shape`},
		{head + "  const %c: ?[1] = [1]\n}", `2:9: constant %c needs a dtype`},
		{head + "  const %c: f32[4000000000,4000000000,4000000000] = []\n}", `2:9: constant %c: shape [4000000000,4000000000,4000000000] has too many elements`},
		{head + "  const %c: f32[1] = 1\n}", `2:22: expected the constant's data ([...], hex"...", base64"..." or external "key"), found "1"`},
		{`grap "g" () -> () {}`, `1:1: expected 'graph', found "grap"`},
		{`graph g () -> () {}`, `1:7: expected the graph's name as a quoted string, found "g"`},
		{`graph "g" () -> () {`, `1:21: expected '}' to close the graph's body, found end of file`},
		{`graph "g" () -> () {} x`, `1:23: expected end of file after the graph, found "x"`},
		{`graph "g" () -> () {} graph "h" () -> () {}`, `1:23: expected end of file after the graph, found "graph"`},
		{`graph "g" () (%x) {}`, `1:14: expected '->' after the graph's inputs, found "("`},
		{`graph "g" (%x: f32[2] %y: f32[2]) -> () {}`, `1:23: expected ',' or ')' after a graph input, found "%y"`},
		{`graph "g" (x: f32[2]) -> () {}`, `1:12: expected a graph input (%name: type), found "x"`},
		{`graph "g" (%: f32[2]) -> () {}`, `1:12: expected a name after '%', found ":"`},
		{`graph "g" (%"": f32[2]) -> () {}`, `1:12: empty value name`},
		{`graph "g" (%x: f32[-1]) -> () {}`, `1:20: malformed dim "-1", want a size >= 0, a symbol or '?'`},
		{`graph "g" (%x: f32[3x]) -> () {}`, `1:20: malformed dim "3x", want a size >= 0, a symbol or '?'`},
		{`graph "g" (%x: f32[""]) -> () {}`, `1:20: empty symbolic dim (write '?' for an unknown dim)`},
		{`graph "g" (%x: f32[2 3]) -> () {}`, `1:22: expected ',' or ']' in the shape, found "3"`},
		{`graph "g" (%x: f32) -> () {}`, `1:19: expected '[' to open the shape, found ")"`},
		{`graph "g" (%x: [2]) -> () {}`, `1:16: expected a dtype (f32, i8 ...) or '?', found "["`},
		{`graph "g" (%x: f32[2]{}) -> () {}`, `1:23: expected a layout name, found "}"`},
		{`graph "g" (%x: i8[2] quant(scale=[1], bias=[0])) -> () {}`, `1:39: expected axis, scale or zp in quant(...), found "bias"`},
		{`graph "g" (%x: i8[2] quant(axis=0, axis=1)) -> () {}`, `1:36: quant field axis given twice`},
		{`graph "g" (%x: i8[2] quant(zp=[300000000000])) -> () {}`, `1:32: 300000000000 out of range for i32`},
		{`graph "g" (%x: i8[2] sparsity 2:4) -> () {}`, `1:34: expected '@' before the axis of sparsity N:M@axis, found ")"`},
		{`graph "g" (%x: i8[2] sparsity 2:a@1) -> () {}`, `1:33: expected an integer for sparsity M, found "a"`},
		{head + "  %y: f32[2] = Relu (%x)\n}", `2:21: expected the node's name as a quoted string after op Relu, found "("`},
		{head + "  %y: f32[2] = \"r\" (%x)\n}", `2:20: expected the node's name as a quoted string after op r, found "("`},
		{head + "  %y: f32[2] Relu \"r\" (%x)\n}", `2:14: expected ',' or '=' after a node output, found "Relu"`},
		{head + "  %y: f32[2] = Relu \"r\" (%x, 1)\n}", `2:30: expected an operand (%name, or _ for an absent input), found "1"`},
		{head + "  %y: f32[2] = Relu \"r\" (%x) {pads = []}\n}", `2:38: attribute "pads": an empty list needs its kind, e.g. [] : ints`},
		{head + "  %y: f32[2] = Relu \"r\" (%x) {a = 1, a = 2}\n}", `2:38: attribute "a" given twice`},
		{head + "  %y: f32[2] = Relu \"r\" (%x) {a = 1 : ints}\n}", `2:39: attribute "a": kind ints does not fit a single value`},
		{head + "  %y: f32[2] = Relu \"r\" (%x) {a = [1] : int}\n}", `2:41: attribute "a": kind int does not fit a list`},
		{head + "  %y: f32[2] = Relu \"r\" (%x) {a = 1 : integer}\n}", `2:39: expected an attribute kind (int, float, string, ints, floats or strings), found "integer"`},
		{head + "  %y: f32[2] = Relu \"r\" (%x) {a = [1, \"b\"]}\n}", `2:36: attribute "a": expected a string, found "1"`},
		{head + "  %y: f32[2] = Relu \"r\" (%x) {a = \"s\" : int}\n}", `2:35: attribute "a": expected an integer, found string "s"`},
		{head + "  %y: f32[2] = Relu \"r\" (%x) {a = 99999999999999999999}\n}", `2:35: attribute "a": 99999999999999999999 out of range for int`},
		{head + "  %y: f32[2] = Relu \"r\" (%x) {a = 1.0.0}\n}", `2:35: attribute "a": malformed float "1.0.0"`},
		{head + "  %y: f32[2] = Relu \"r\" (%x) {a = %x}\n}", `2:35: expected a value for attribute "a" (a number, a string or a list), found "%x"`},
		{head + "  %y: f32[2] = Relu \"r\" (%x) {a: 1}\n}", `2:32: expected '=' after attribute "a", found ":"`},
		{head + "  %y: f32[2] = Relu \"r\" (%x) {a = 1 b = 2}\n}", `2:37: expected ',' or '}' between attributes, found "b"`},
		{head + "  %y: f32[2] = Relu \"r\\q\" (%x)\n}", `2:21: malformed string "r\q": bad escape or character`},
		{head + "  %y: f32[2] = Relu \"r\n\" (%x)\n}", `2:21: newline in string`},
		{head + "  %y: f32[2] = Relu \"r", `2:21: string not terminated`},
		{head + "  %y: f32[2] = Relu \"\xff\" (%x)\n}", `2:21: string is not valid UTF-8 (write other bytes as \x escapes)`},
		{head + "  $", `2:3: unexpected character '$'`},
		{head + "  \x80", `2:3: unexpected character byte 0x80`},
		{head + "  / comment", `2:3: unexpected character '/'`},
		{"", `1:1: expected 'graph', found end of file`},
	}
	for _, c := range cases {
		_, err := sqir.Parse("t.sqir", []byte(c.src))
		want := "t.sqir:" + c.want
		if err == nil || err.Error() != want {
			t.Errorf("Parse(%q)\n got %v\nwant %s", c.src, err, want)
		}
	}
}

func TestParseAndVerify(t *testing.T) {
	ok := `graph "g" (%x: f32[N,2]) -> (%z) {
  const %b: f32[2] = [1, 2]
  %y: f32[N,2] = Add "add" (%x, %b)
  %z: f32[N,2] = Relu "relu" (%y)
}`
	if _, err := sqir.ParseAndVerify("ok.sqir", []byte(ok)); err != nil {
		t.Errorf("valid graph: %v", err)
	}
	// Parse alone accepts ops the verifier does not know; ParseAndVerify
	// reports them, naming the file.
	future := strings.Replace(ok, "Relu", "FuturePassOp", 1)
	if _, err := sqir.Parse("future.sqir", []byte(future)); err != nil {
		t.Errorf("Parse rejects an unknown op: %v", err)
	}
	_, err := sqir.ParseAndVerify("future.sqir", []byte(future))
	if err == nil || !strings.HasPrefix(err.Error(), `future.sqir: graph "g" does not verify: `) || !strings.Contains(err.Error(), `unknown op "FuturePassOp"`) {
		t.Errorf("ParseAndVerify error = %v", err)
	}
	// A wrong recorded shape is a verifier error too.
	bad := strings.Replace(ok, "%z: f32[N,2]", "%z: f32[N,3]", 1)
	if _, err := sqir.ParseAndVerify("bad.sqir", []byte(bad)); err == nil || !strings.Contains(err.Error(), `has type f32[N,3], but its inputs give f32[N,2]`) {
		t.Errorf("ParseAndVerify error = %v", err)
	}
	if _, err := sqir.ParseAndVerify("syntax.sqir", []byte("graph")); err == nil || err.Error() != `syntax.sqir:1:6: expected the graph's name as a quoted string, found end of file` {
		t.Errorf("ParseAndVerify error = %v", err)
	}
	if _, err := sqir.ParseFile(filepath.Join(t.TempDir(), "missing.sqir")); err == nil {
		t.Errorf("ParseFile of a missing file succeeded")
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n += len(p); w.n > 100 {
		return 0, os.ErrClosed
	}
	return len(p), nil
}

func TestPrintWriteError(t *testing.T) {
	// The printer buffers; the failure comes from its final flush.
	if err := sqir.Print(&failingWriter{}, featureGraph()); err != os.ErrClosed {
		t.Errorf("Print to a failing writer = %v, want %v", err, os.ErrClosed)
	}
}

func TestNotesRoundTrip(t *testing.T) {
	src := `graph "g" (%x: f32[2]) -> (%y, %z) {
  %y: f32[2] = Relu "r" (%x) notes {padded = "from 3 channels", sparsity = "dense: \"3\" input channels"}
  %z: f32[2] = "notes" "odd op" (%y)
}
`
	g, err := sqir.Parse("n.sqir", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Nodes[0].Notes["sparsity"]; got != `dense: "3" input channels` {
		t.Fatalf("note = %q", got)
	}
	if g.Nodes[1].Op != "notes" {
		t.Fatalf("op = %q", g.Nodes[1].Op)
	}
	if out := sqir.Format(g); out != src {
		t.Fatalf("printed\n%s\nwant\n%s", out, src)
	}
	g2, _ := sqir.Parse("n.sqir", []byte(src))
	g2.Nodes[0].Notes["padded"] = "other"
	if err := ir.Equal(g, g2); err == nil {
		t.Fatal("Equal ignores notes")
	}
	for _, bad := range []string{
		`graph "g" (%x: f32[2]) -> (%y) { %y: f32[2] = Relu "r" (%x) notes {a = 1} }`,
		`graph "g" (%x: f32[2]) -> (%y) { %y: f32[2] = Relu "r" (%x) notes {a = "1", a = "2"} }`,
		`graph "g" (%x: f32[2]) -> (%y) { %y: f32[2] = Relu "r" (%x) notes a }`,
	} {
		if _, err := sqir.Parse("bad.sqir", []byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// TestExternalData: PrintWith leaves the data of the constants External
// names out of the text (`= external "key"`); ParseWith gets it back from
// its resolver, which must give the declared type; Parse alone refuses the
// text rather than read a graph without its data.
func TestExternalData(t *testing.T) {
	g := featureGraph()
	want := sqir.Format(g)
	held := map[string]*ir.Tensor{}
	var text strings.Builder
	err := sqir.PrintWith(&text, g, sqir.PrintOptions{External: func(v *ir.Value) (string, bool) {
		if v.Const.Len() <= 16 {
			return "", false
		}
		held["k/"+v.Name] = v.Const
		return "k/" + v.Name, true
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(held) == 0 {
		t.Fatal("the feature graph has no constant over 16 elements: the test covers nothing")
	}
	if len(text.String()) >= len(want) || !strings.Contains(text.String(), `= external "k/`) {
		t.Fatalf("external text is not shorter or names no key:\n%s", text.String())
	}
	back, err := sqir.ParseWith("x.sqir", []byte(text.String()), sqir.ParseOptions{External: func(key string, v *ir.Value) (*ir.Tensor, error) {
		c, ok := held[key]
		if !ok {
			return nil, fmt.Errorf("no such key")
		}
		return c, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := sqir.Format(back); got != want {
		t.Errorf("graph read back through the resolver differs:\n%s\nwant:\n%s", got, want)
	}
	if _, err := sqir.Parse("x.sqir", []byte(text.String())); err == nil || !strings.Contains(err.Error(), "its data is held outside the text") {
		t.Errorf("Parse without a resolver: %v", err)
	}
	wrong := func(key string, v *ir.Value) (*ir.Tensor, error) { return ir.NewTensor(ir.Int8, 3), nil }
	if _, err := sqir.ParseWith("x.sqir", []byte(text.String()), sqir.ParseOptions{External: wrong}); err == nil || !strings.Contains(err.Error(), "is i8[3], want") {
		t.Errorf("ParseWith a resolver of the wrong type: %v", err)
	}
	failing := func(key string, v *ir.Value) (*ir.Tensor, error) { return nil, fmt.Errorf("engine truncated") }
	if _, err := sqir.ParseWith("x.sqir", []byte(text.String()), sqir.ParseOptions{External: failing}); err == nil || !strings.Contains(err.Error(), "engine truncated") || !strings.HasPrefix(err.Error(), "x.sqir:") {
		t.Errorf("ParseWith a failing resolver: %v", err)
	}
}

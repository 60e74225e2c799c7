// Package sqir reads and writes the textual form of the IR (.sqir files).
//
// The form exists for people and for tests: pass tests are .sqir files with
// "// RUN:" and "// CHECK:" lines, "sqc compile" can print the IR after any
// pass, and a graph prints and parses back to a graph that ir.Equal reports
// identical, bit for bit (NaN payloads and -0 included). Printing is
// deterministic, so equal graphs print byte-identical text.
//
// A small graph:
//
//	graph "main" (%x: f32[N,3,224,224]) -> (%logits) {
//	  const %w: f32[64,3,7,7] sparsity 2:4@1 = base64"AAAgQQAAAAA..."
//	  const %shape: i64[2] = [1, -1]
//	  %y: f32[N,64,112,112] = Conv "conv1" (%x, %w, _) {group = 1, pads = [3, 3, 3, 3], strides = [2, 2]}
//	  %q: i8[N,64,112,112]{NHWC} quant(scale=[0.02], zp=[0]) = QuantizeLinear "q1" (%y, %s, %z)
//	  ...
//	}
//
// # Grammar
//
// In EBNF (as in the Go specification); "//" starts a comment that runs to
// the end of the line, and spaces, tabs and newlines separate tokens but
// mean nothing else:
//
//	File      = Graph .
//	Graph     = "graph" string "(" [ Def { "," Def } ] ")"
//	            "->" "(" [ Value { "," Value } ] ")" "{" { Stmt } "}" .
//	Stmt      = Const | Node .
//	Const     = "const" Def "=" Data .
//	Data      = "[" [ elem { "," elem } ] "]" | hex | base64 | "external" string .
//	Node      = [ Def { "," Def } "=" ] Name string "(" [ Operand { "," Operand } ] ")" [ Attrs ] [ Notes ] .
//	Notes     = "notes" "{" [ Name "=" string { "," Name "=" string } ] "}" .
//	Def       = Value ":" ValType .
//	Operand   = Value | "_" .
//	Value     = "%" ( { letter | digit | "_" | "." } | string ) .
//	ValType   = Type [ Quant ] [ Sparsity ] .
//	Type      = ( dtype | "?" ) "[" [ Dim { "," Dim } ] "]" [ "{" Name "}" ] .
//	Dim       = int | Name | "?" .
//	Quant     = "quant" "(" QField { "," QField } ")" .
//	QField    = "axis" "=" int | "scale" "=" "[" [ float { "," float } ] "]"
//	          | "zp" "=" "[" [ int { "," int } ] "]" .
//	Sparsity  = "sparsity" int ":" int "@" int .
//	Attrs     = "{" [ Attr { "," Attr } ] "}" .
//	Attr      = Name "=" AttrValue [ ":" Kind ] .
//	AttrValue = number | string | "[" [ AttrElem { "," AttrElem } ] "]" .
//	Kind      = "int" | "float" | "string" | "ints" | "floats" | "strings" .
//	Data      = "[" [ Elem { "," Elem } ] "]" | `hex"` hexdigits `"` | `base64"` base64 `"`
//	          | "elided" string .                  (printed for reading only; never parses)
//	Name      = ident | string .
//
// ident is [A-Za-z_][A-Za-z0-9_.]*. string is a Go double-quoted string
// literal in UTF-8 (escapes as strconv.Unquote reads them, so any bytes can
// be written). The printer writes a name that is not an ident as a string:
// %input.1 needs no quotes, but %"/layer1/conv/Conv_output_0", %"33" and an
// op, attribute, layout or dim symbol with odd characters do. The parser
// also takes %33 for %"33". The empty string is not a value name. Graph and
// node names are always strings; an op named const or notes is written quoted.
// Notes (ir.Node.Notes) are remarks passes leave for reports, printed sorted
// by name after the attributes.
//
// The statements of the body are the graph's nodes in file order. A name
// used as an operand or a graph output may be defined later in the file (so a
// graph whose node order a pass broke still prints, and ir.Verify then says
// what is wrong), but it must be defined once: as a graph input, a constant
// or a node output. A constant nothing uses is dropped.
//
// # Types
//
// dtype is one of f32 f64 f16 bf16 i8 u8 i16 u16 i32 u32 i64 u64 bool, or
// "?" for a type not inferred yet (ir.InvalidDType). A dim is a size, a
// symbolic size (N) or "?" (unknown); f32[] is a scalar and f32[0,3] an
// empty tensor. A layout follows the dims in braces: i8[N,56,56,64]{NHWC}.
// quant gives ir.QuantParams: scales (float32), zero points (int32) and the
// axis, -1 (per tensor) when absent. sparsity N:M@axis is ir.Sparsity.
//
// # Numbers
//
// Integers are decimal, or hexadecimal with 0x. Floats are written the way
// strconv.FormatFloat's 'g' format with the shortest precision writes them,
// which reads back to the same float32 (or float64) bits, or as inf, -inf
// and nan; as in MLIR, a hexadecimal integer where a float is expected is the
// float's IEEE bit pattern, which is how NaNs other than the canonical one
// (0x7fc00000 for f32, 0x7ff8000000000000 for f64, 0x7e00 for f16, 0x7fc0
// for bf16) print. f16 and bf16 values are written as the float32 they
// convert to exactly.
//
// # Attributes
//
// Attributes print sorted by name. The kind of an attribute follows from how
// its value is written: 1 is an int, 1.0 a float (a float always prints with
// a '.', an exponent, inf or nan), "x" a string, and lists of these are ints,
// floats and strings; a list mixing ints and floats is floats. Where that is
// ambiguous (an empty list, a float written as its bit pattern) the value is
// followed by its kind: pads = [] : ints, alpha = 0x7fc00001 : float.
//
// # Constant data
//
// A constant's data is a list of its elements in row-major order (true and
// false for bool), which the printer uses for up to 16 elements, or its
// little-endian bytes in one hex or standard base64 (padded) blob, which the
// printer uses beyond that (base64: a third less text than hex, and it
// encodes and decodes at several hundred MB/s). The number of elements must
// match the type, which must be static. `external "key"` says the data is
// kept elsewhere (an engine's graph points at the engine's packed weights
// so as not to hold them twice): only ParseWith with a resolver for the
// keys reads such a file.
//
// # Errors
//
// Parse errors name file:line:col (byte columns, from 1) and say what was
// expected, and parsing stops at the first one. Parse checks the syntax, the
// definitions and uses of names, and constant data, but not the ops: files
// may use ops the verifier does not know, for tests of passes that create
// them. ParseAndVerify also runs ir.Verify.
package sqir

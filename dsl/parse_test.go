package dsl

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const example = `# ResNet-50, 2:4 sparse INT8 (NVIDIA's sparsity + INT8 QAT/PTQ workflow)
target sm_80
base "sparse-int8.sqr"

fold-batchnorm
prune {
  pattern = 2:4
  method  = sparsegpt
  skip    = [op("Gemm"), name("conv1")]
  layers name("layer4.*") { method = magnitude }
}
calibrate { method = entropy; samples = 512 }
quantize { weights = per-channel }
`

func TestParseExample(t *testing.T) {
	r, err := Parse("r.sqr", []byte(example))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, s := range r.Stmts {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, " "); got != "target base fold-batchnorm prune calibrate quantize" {
		t.Fatalf("statements: %s", got)
	}
	tgt, base, prune, cal := r.Stmts[0], r.Stmts[1], r.Stmts[3], r.Stmts[4]
	if tgt.Arg.Kind != WordValue || tgt.Arg.Text != "sm_80" || len(tgt.Doc) != 1 || !strings.HasPrefix(tgt.Doc[0], "# ResNet-50") {
		t.Errorf("target: %+v doc %q", tgt.Arg, tgt.Doc)
	}
	if base.Arg.Kind != StringValue || base.Arg.Text != "sparse-int8.sqr" {
		t.Errorf("base: %+v", base.Arg)
	}
	if want := []string{""}; len(r.Stmts[2].Doc) != 1 || r.Stmts[2].Doc[0] != "" {
		t.Errorf("fold-batchnorm doc = %q, want %q (the blank line)", r.Stmts[2].Doc, want)
	}
	if prune.Pos != (Pos{"r.sqr", 6, 1, strings.Index(example, "prune {")}) || prune.Block.OneLine || len(prune.Block.Items) != 4 {
		t.Fatalf("prune: %+v, block %+v", prune.Pos, prune.Block)
	}
	skip := prune.Block.Items[2]
	if skip.Key != "skip" || skip.Value.Kind != ListValue || len(skip.Value.Elems) != 2 {
		t.Fatalf("skip: %+v", skip.Value)
	}
	if e := skip.Value.Elems[0]; e.Kind != CallValue || e.Text != "op" || e.Elems[0].Text != "Gemm" || e.Pos.Line != 9 || e.Pos.Col != 14 {
		t.Errorf("skip[0]: %+v", e)
	}
	ov := prune.Block.Items[3]
	if !ov.IsOverride() || ov.Key != "layers" || ov.Value.Text != "name" || !ov.Block.OneLine || ov.Block.Items[0].Value.Text != "magnitude" {
		t.Errorf("override: %+v", ov)
	}
	if r := prune.Block.Items[0].Value; r.Kind != RatioValue || r.Text != "2:4" {
		t.Errorf("pattern: %+v", r)
	}
	if !cal.Block.OneLine || len(cal.Block.Items) != 2 || cal.Block.Items[1].Value.Kind != IntValue {
		t.Errorf("calibrate: %+v", cal.Block)
	}
	if got := string(Format(r)); got != example {
		t.Errorf("the example is canonical, but Format changed it:\n%s", got)
	}
}

func TestParseValues(t *testing.T) {
	src := `s { a = "x\ty\u00e9"; b = -3; c = 1e-3; d = .5; e = 7.; f = /^conv\d+\/x$/; g = op(/Co.*/); h = []; i = [a, "b",
  c,
]; j = true; k = sm_86.x-y }`
	r, err := Parse("v.sqr", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"a": `string:"x\tyé"`,
		"b": `integer:"-3"`,
		"c": `number:"1e-3"`,
		"d": `number:".5"`,
		"e": `number:"7."`,
		"f": `regular expression:"^conv\\d+\\/x$"`,
		"g": `selector:"op"(regular expression:"Co.*")`,
		"h": `list:""`,
		"i": `list:""(word:"a" string:"b" word:"c")`,
		"j": `word:"true"`,
		"k": `word:"sm_86.x-y"`,
	}
	for _, it := range r.Stmts[0].Block.Items {
		if got := dumpValue(it.Value); got != want[it.Key] {
			t.Errorf("%s = %s, want %s", it.Key, got, want[it.Key])
		}
	}
	if len(r.Stmts[0].Block.Items) != len(want) {
		t.Errorf("%d items, want %d", len(r.Stmts[0].Block.Items), len(want))
	}
}

// TestSyntaxErrors: each message names the position of the offending token.
func TestSyntaxErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{"a = 3", `e.sqr:1:3: unexpected "="; options (key = value) go inside a step's braces: step { key = value }`},
		{"prune {", `e.sqr:1:8: unexpected end of file; want "}"`},
		{"prune {\n  a = 1\n", `e.sqr:3:1: unexpected end of file; want "}"`},
		{"prune { a = }", `e.sqr:1:13: unexpected "}"; want a value after "="`},
		{"prune {\n  a = 1\n  out = }", `e.sqr:3:9: unexpected "}"; want a value after "="`},
		{"prune {\n  method sparsegpt\n}", `e.sqr:2:10: unexpected word sparsegpt; want "=" between "method" and its value`},
		{"prune {\n  pattern\n}", `e.sqr:2:10: unexpected end of line; want "=" and a value after "pattern"`},
		{"prune { layers name(\"x\") }", `e.sqr:1:26: unexpected "}"; want "{" and the options for these layers`},
		{"prune { a = [1 2] }", `e.sqr:1:16: missing "," between list elements`},
		{"prune { a = [1,, 2] }", `e.sqr:1:16: unexpected ","; want a list element`},
		{"prune { a = [, 2] }", `e.sqr:1:14: unexpected ","; want a list element`},
		{`x "\q"`, `e.sqr:1:3: invalid string "\q": bad escape (strings use Go's escapes: \" \\ \n \t \u00e9)`},
		{"prune {} dce", `e.sqr:1:10: unexpected "dce" after a statement on the same line; start a new line or put ';' between them`},
		{"prune { a = 1 b = 2 }", `e.sqr:1:15: unexpected "b" after an item on the same line; start a new line or put ';' between them`},
		{"a @", `e.sqr:1:3: unexpected character '@'`},
		{"a é", `e.sqr:1:3: unexpected character 'é'`},
		{"x\n  a \"xx\n", `e.sqr:2:5: unterminated string (a string ends with " on the same line)`},
		{"a /xx", `e.sqr:1:3: unterminated regular expression (write /regexp/ on one line)`},
		{"a { b = name( }", `e.sqr:1:15: unexpected "}"; want ")"`},
		{"a\x00", `e.sqr:1:2: a recipe is text; found a NUL byte`},
		{"a " + strings.Repeat("[", 100), `e.sqr:1:67: blocks and lists nest deeper than 64 levels`},
	}
	for _, c := range cases {
		_, err := Parse("e.sqr", []byte(c.src))
		var el ErrorList
		if !errors.As(err, &el) {
			t.Errorf("%q: error %v, want an ErrorList", c.src, err)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.src, err, c.want)
		}
	}
}

func TestParseFileLimits(t *testing.T) {
	dir := t.TempDir()
	if _, err := ParseFile(dir); err == nil || !strings.Contains(err.Error(), "is not a regular file") {
		t.Errorf("a directory: %v", err)
	}
	big := filepath.Join(dir, "big.sqr")
	if err := os.WriteFile(big, []byte(strings.Repeat("#\n", 1<<20)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseFile(big); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("2 MiB: %v", err)
	}
	if _, err := ParseFile(filepath.Join(dir, "none.sqr")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestComments(t *testing.T) {
	src := `

# head, then a blank line

target sm_80 # the GPU
// leading of dce
dce
prune { # after the brace
  a = 1 # trailing a
  b = [1, # inside a list
    2]
  c = 3


  # before the close
}
# at the end

`
	r, err := Parse("c.sqr", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := `stmt "target" doc=["# head, then a blank line" ""] comment="# the GPU" arg=word:"sm_80"
stmt "dce" doc=["// leading of dce"] comment=""
stmt "prune" doc=[] comment="" {oneline=false item "a" doc=["# after the brace"] comment="# trailing a" value=integer:"1"; item "b" doc=[] comment="" value=list:""(integer:"1" integer:"2"); item "c" doc=["# inside a list"] comment="" value=integer:"3"; end=["" "# before the close"]}
end=["# at the end"]
`
	if got := dump(r); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	formatted := `# head, then a blank line

target sm_80 # the GPU
// leading of dce
dce
prune {
  # after the brace
  a = 1 # trailing a
  b = [1, 2]
  # inside a list
  c = 3

  # before the close
}
# at the end
`
	if got := string(Format(r)); got != formatted {
		t.Errorf("Format:\n%s\nwant:\n%s", got, formatted)
	}
}

// TestFormat: canonical form of recipes written carelessly.
func TestFormat(t *testing.T) {
	cases := []struct{ in, want string }{
		// Statements split at ';', blank lines collapse, indentation fixed.
		{"target sm_80;dce\n\n\n\n   fold-constants   {max-elements=3}\n", "target sm_80\ndce\n\nfold-constants { max-elements = 3 }\n"},
		// '=' aligned over a run of options; an override ends the run.
		{"p {\na = 1\nlong-name = 2\nlayers op(\"Conv\") {x=1}\nbb = [a,b,]\n}\n",
			"p {\n  a         = 1\n  long-name = 2\n  layers op(\"Conv\") { x = 1 }\n  bb = [a, b]\n}\n"},
		// A comment line ends an alignment run too.
		{"p {\n  a = 1\n  # why\n  long = 2\n}\n", "p {\n  a = 1\n  # why\n  long = 2\n}\n"},
		// End-of-line comments align over consecutive lines.
		{"dce # one\nfold-constants # two\n\ninfer-shapes # three\n", "dce            # one\nfold-constants # two\n\ninfer-shapes # three\n"},
		// A block written over several lines stays so; nested overrides.
		{"p { a = 1\n layers name(\"x*\") { b = 2\n c = 3 } }\n", "p {\n  a = 1\n  layers name(\"x*\") {\n    b = 2\n    c = 3\n  }\n}\n"},
		// Strings re-quoted, empty blocks, plugin statements.
		{"plugin \"./my\\x2dplugin\" {\n}\nq {}\n", "plugin \"./my-plugin\" {}\nq {}\n"},
		// Empty input, comment only.
		{"", ""},
		{"\n\n# only\n\n", "# only\n"},
	}
	for _, c := range cases {
		r, err := Parse("f.sqr", []byte(c.in))
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		got := string(Format(r))
		if got != c.want {
			t.Errorf("Format(%q):\n%s\nwant:\n%s", c.in, got, c.want)
		}
		r2, err := Parse("f.sqr", []byte(got))
		if err != nil {
			t.Errorf("output of %q does not parse: %v", c.in, err)
			continue
		}
		if again := string(Format(r2)); again != got {
			t.Errorf("Format is not idempotent on %q:\n%s", got, again)
		}
	}
}

func TestEscapeRegexp(t *testing.T) {
	cases := map[string]string{
		`a/b`:     `a\/b`,
		`a\/b`:    `a\/b`,
		`\d+`:     `\d+`,
		"x\ny":    `x\ny`,
		`trail\`:  `trail\\`,
		`^c\.\w$`: `^c\.\w$`,
	}
	for in, want := range cases {
		if got := escapeRegexp(in); got != want {
			t.Errorf("escapeRegexp(%q) = %q, want %q", in, got, want)
		}
	}
}

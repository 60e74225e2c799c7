package dsl

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/passes"
)

// TestCheckErrors is the table of bad recipes and their exact messages.
func TestCheckErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		// Unknown words, with suggestions.
		{"fold-constans\n", `bad.sqr:1:1: unknown step "fold-constans" (did you mean "fold-constants"?)`},
		{"targte sm_80\n", `bad.sqr:1:1: unknown step "targte" (did you mean "target"?)`},
		{"frobnicate\n", `bad.sqr:1:1: unknown step "frobnicate"`},
		{"fold-constants { max-elemnts = 3 }", `bad.sqr:1:18: unknown option "max-elemnts" for step fold-constants (did you mean "max-elements"?)`},
		{"dce { x = 1 }", `bad.sqr:1:7: unknown option "x": step dce has no options`},
		{"dce 3", `bad.sqr:1:5: step dce takes no argument, got integer 3; options go in braces: dce { key = value }`},
		// Types.
		{"fold-constants { keep-qdq = yes }", `bad.sqr:1:29: option keep-qdq of fold-constants: want true or false, got word yes`},
		{"pad-channels { multiple = 1.5 }", `bad.sqr:1:27: option multiple of pad-channels: want an integer, got number 1.5`},
		{"pad-channels { multiple = \"8\" }", `bad.sqr:1:27: option multiple of pad-channels: want an integer, got string "8"`},
		{"pad-channels { multiple = 99999999999999999999 }", `bad.sqr:1:27: option multiple of pad-channels: integer 99999999999999999999 does not fit in 64 bits`},
		{"test-prune { damp = x }", `bad.sqr:1:21: option damp of test-prune: want a number, got word x`},
		{"test-prune { damp = 1e999 }", `bad.sqr:1:21: option damp of test-prune: number 1e999 is out of the range of a float64`},
		{"test-prune { method = 3 }", `bad.sqr:1:23: option method of test-prune: want a word or a string, got integer 3`},
		{"test-prune { tags = a }", `bad.sqr:1:21: option tags of test-prune: want a list such as [a, "b c"], got word a`},
		{"test-prune { tags = [a, 2:4] }", `bad.sqr:1:21: option tags of test-prune: list element ratio 2:4: want a word, a string or a number`},
		{"test-prune { tags = [[a]] }", `bad.sqr:1:21: option tags of test-prune: list element list [a]: want a word, a string or a number`},
		{"test-prune { pattern = 2 }", `bad.sqr:1:24: option pattern of test-prune: want a ratio such as 2:4, got integer 2`},
		{"test-prune { skip = conv1 }", `bad.sqr:1:21: option skip of test-prune: want a layer selector such as name("layer4.*"), op("Conv") or /^conv\d+$/, got word conv1`},
		{"test-prune { skip = [name(\"a\"), 3] }", `bad.sqr:1:21: option skip of test-prune: want a layer selector such as name("layer4.*"), op("Conv") or /^conv\d+$/, got integer 3`},
		{"test-prune { skip = nmae(\"a\") }", `bad.sqr:1:21: option skip of test-prune: unknown selector nmae(...) (did you mean "name"?); want name(...) or op(...)`},
		{"test-prune { skip = name(\"a\", \"b\") }", `bad.sqr:1:21: option skip of test-prune: name(...) takes one glob in quotes or one /regexp/, got selector name("a", "b")`},
		// Ranges and enums (the pass manager's checks).
		{"pad-channels { multiple = 0 }", `bad.sqr:1:27: option multiple of pad-channels: 0 is out of range [1, 65536]`},
		{"test-prune { damp = 1.5 }", `bad.sqr:1:21: option damp of test-prune: 1.5 is out of range [0, 1]`},
		{"test-prune { method = sparsegp }", `bad.sqr:1:23: option method of test-prune: "sparsegp" is not one of magnitude, sparsegpt (did you mean "sparsegpt"?)`},
		{"test-prune { pattern = 5:4 }", `bad.sqr:1:24: option pattern of test-prune: ratio 5:4: want 0 <= N <= M and M > 0`},
		{"test-prune { skip = name(\"[\") }", `bad.sqr:1:21: option skip of test-prune: bad glob "[": syntax error in pattern`},
		{"test-prune { skip = /(/ }", "bad.sqr:1:21: option skip of test-prune: bad regular expression /(/: error parsing regexp: missing closing ): `(`"},
		// Blocks.
		{"test-prune {\n  method = sparsegpt\n  method = magnitude\n}", `bad.sqr:3:3: option method set twice in one block (first at 2:3)`},
		{"test-prune { layrs name(\"a\") { method = sparsegpt } }", `bad.sqr:1:14: unknown block "layrs" (did you mean "layers"?); a per-layer block is written: layers name("layer4.*") { key = value }`},
		{"test-prune { layers = 3 }", `bad.sqr:1:14: layers takes a selector and a block, as in: layers name("layer4.*") { key = value }`},
		{"test-prune { layers [] { damp = 0.5 } }", `bad.sqr:1:21: layers: an empty selector matches no layer`},
		{"test-prune { layers 3 { damp = 0.5 } }", `bad.sqr:1:21: layers: want a layer selector such as name("layer4.*"), op("Conv") or /^conv\d+$/, got integer 3`},
		{"test-prune { layers op(\"Conv\") { dmap = 0.5 } }", `bad.sqr:1:34: unknown option "dmap" for step test-prune (did you mean "damp"?)`},
		{"test-prune { layers op(\"Conv\") { layers op(\"Gemm\") {} } }", `bad.sqr:1:34: layers blocks do not nest; write each selector's block at the step's level`},
		// Statements.
		{"target sm80", `bad.sqr:1:8: unknown target "sm80" (did you mean "sm_80"?); want one of sm_80, sm_86, sm_87, sm_89, sm_90`},
		{"target", `bad.sqr:1:1: target needs a GPU architecture, as in: target sm_80`},
		{"target 80", `bad.sqr:1:8: target needs a GPU architecture, as in: target sm_80, got integer 80`},
		{"target sm_80 { }", `bad.sqr:1:14: target takes no block`},
		{"target sm_80\ntarget sm_86", `bad.sqr:2:1: target named twice (first at 1:1)`},
		{"base", `bad.sqr:1:1: base needs a recipe file, as in: base "graph.sqr"`},
		{"dce\nbase \"graph.sqr\"", `bad.sqr:2:1: base must come before the steps (the first step is at 1:1): the base's steps run first`},
		{"base \"graph.sqr\"\nbase \"graph.sqr\"", `bad.sqr:2:1: a recipe has one base (first at 1:1)`},
		{"base \"grahp.sqr\"", `bad.sqr:1:6: base "grahp.sqr": no such file in ., and no built-in recipe of that name (built-in: ` + strings.Join(builtinNames(), ", ") + `) (did you mean "graph.sqr"?)`},
		{"plugin \"./my-pass\" { level = 3 }", `bad.sqr:1:8: plugin my-pass: no such file`},
		// The pipeline as a whole.
		{"test-order\ntest-prep", `bad.sqr:1:1: step test-order requires test-prep to run before it, but test-prep comes later (at 2:1)`},
		{"dce\ntest-order", `bad.sqr:2:1: step test-order requires test-prep to run before it, but the recipe has no test-prep step`},
		{"test-calibrate { samples = 4 }", `bad.sqr:1:1: step test-calibrate needs option data (it has no default): test-calibrate { data = ... }`},
		// Several errors at once, sorted by position.
		{"pad-channels { multiple = 0 }\nfold-constans\ntarget sm_75\ndce { x = 1 }",
			`bad.sqr:1:27: option multiple of pad-channels: 0 is out of range [1, 65536]
bad.sqr:2:1: unknown step "fold-constans" (did you mean "fold-constants"?)
bad.sqr:3:8: target sm_75 is not supported; want one of sm_80, sm_86, sm_87, sm_89, sm_90
bad.sqr:4:7: unknown option "x": step dce has no options`},
	}
	for _, c := range cases {
		r, err := Parse("bad.sqr", []byte(c.src))
		if err != nil {
			t.Errorf("%q does not parse: %v", c.src, err)
			continue
		}
		err = r.Check()
		var el ErrorList
		if !errors.As(err, &el) {
			t.Errorf("%q: Check = %v, want an ErrorList", c.src, err)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.src, err, c.want)
		}
		if _, perr := r.Pipeline(); perr == nil || perr.Error() != err.Error() {
			t.Errorf("%q: Pipeline error %v, want Check's", c.src, perr)
		}
	}
}

func TestCheckGood(t *testing.T) {
	src := `target sm_90
test-prep
test-prune {
  pattern = 1:2
  method  = "sparsegpt"
  skip    = [op("Gemm"), name("conv1"), /^fc\d$/, op(/Mat.*/)]
  damp    = 1
  samples = 64
  verbose = true
  tags    = [a, "b c", 0.485, -1]
  layers name("layer4.*") { method = magnitude; damp = 0.25 }
  layers /x/ { skip = [] }
}
test-order
test-calibrate { data = "calib/" }
`
	r, err := Parse("good.sqr", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	if r.Target() != "sm_90" {
		t.Errorf("target %q", r.Target())
	}
	specs, err := r.Pipeline()
	if err != nil {
		t.Fatal(err)
	}
	want := `test-prep {}
test-prune {damp=1 method="sparsegpt" pattern=passes.Ratio{N:1, M:2} samples=64 skip=sel(op:Gemm|name:conv1|name~^fc\d$|op~Mat.*) tags=[]string{"a", "b c", "0.485", "-1"} verbose=true} [name:layer4.* {damp=0.25 method="magnitude"}] [name~x {skip=sel()}]
test-order {}
test-calibrate {data="calib/"}
`
	if got := specText(specs); got != want {
		t.Errorf("pipeline:\n%s\nwant:\n%s", got, want)
	}
	// The typed values are what the pass manager takes.
	p, err := passes.Build(specs)
	if err != nil {
		t.Fatal(err)
	}
	if o := p.Steps[1].Options; o.Float("damp") != 1 || o.Int("samples") != 64 || !o.Bool("verbose") {
		t.Errorf("built options: %v", o)
	}
	// Pipeline hands out copies: changing them leaves the recipe alone.
	specs[1].Options["samples"] = int64(1)
	again, _ := r.Pipeline()
	if again[1].Options["samples"] != int64(64) {
		t.Errorf("Pipeline shares its maps with the caller")
	}
}

// writeFiles creates files in a temporary directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func checkFile(t *testing.T, path string) (*Recipe, error) {
	t.Helper()
	r, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return r, r.Check()
}

func TestBaseMerge(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"lib/base.sqr": `target sm_80
fold-constants { max-elements = 100; keep-qdq = false }
test-prune { method = sparsegpt; layers name("a*") { method = magnitude } }
dce
test-prune { samples = 7 }
`,
		"model.sqr": `target sm_86
base "lib/base.sqr"
test-prune { samples = 16; layers op("Conv") { samples = 2 } }
fold-constants { max-elements = 5 }
remove-identity
dce
`,
	})
	r, err := checkFile(t, filepath.Join(dir, "model.sqr"))
	if err != nil {
		t.Fatal(err)
	}
	specs, _ := r.Pipeline()
	// fold-constants and both test-prune steps merge in place (the recipe's
	// values win, the base's other values stay, overrides append);
	// remove-identity is new and goes last; dce merges (nothing to change).
	want := `fold-constants {keep-qdq=false max-elements=5}
test-prune {method="sparsegpt" samples=16} [name:a* {method="magnitude"}] [op:Conv {samples=2}]
dce {}
test-prune {samples=16} [op:Conv {samples=2}]
remove-identity {}
`
	if got := specText(specs); got != want {
		t.Errorf("merged pipeline:\n%s\nwant:\n%s", got, want)
	}
	if r.Target() != "sm_86" {
		t.Errorf("target %q, want the recipe's sm_86", r.Target())
	}
}

func TestBaseTargetAndChain(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.sqr": "target sm_89\ndce\n",
		"b.sqr": "base \"a.sqr\"\nfold-constants\n",
		"c.sqr": "base \"b.sqr\"\ntest-prep\n",
	})
	r, err := checkFile(t, filepath.Join(dir, "c.sqr"))
	if err != nil {
		t.Fatal(err)
	}
	specs, _ := r.Pipeline()
	if got := specText(specs); got != "dce {}\nfold-constants {}\ntest-prep {}\n" {
		t.Errorf("chained bases:\n%s", got)
	}
	if r.Target() != "sm_89" {
		t.Errorf("target %q, want the base's sm_89", r.Target())
	}
}

func TestBaseErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"cycle-a.sqr": "base \"cycle-b.sqr\"\ndce\n",
		"cycle-b.sqr": "base \"cycle-a.sqr\"\n",
		"self.sqr":    "base \"self.sqr\"\n",
		"broken.sqr":  "dce\nfold-constans\n",
		"syntax.sqr":  "dce {\n",
		"uses.sqr":    "base \"broken.sqr\"\ntest-prep { x = 1 }\n",
		"uses2.sqr":   "base \"syntax.sqr\"\n",
		"order.sqr":   "base \"needs.sqr\"\ntest-prep\n",
		"needs.sqr":   "test-order\n",
		"dir.sqr":     "base \"sub\"\n",
		"sub/x":       "",
	})
	rel := func(name string) string { return filepath.Join(dir, name) }
	cases := []struct{ file, want string }{
		{"cycle-a.sqr", rel("cycle-b.sqr") + `:1:6: base "cycle-a.sqr": recipes build on each other in a cycle: ` + rel("cycle-a.sqr") + " -> " + rel("cycle-b.sqr") + " -> " + rel("cycle-a.sqr")},
		{"self.sqr", rel("self.sqr") + `:1:6: base "self.sqr": recipes build on each other in a cycle: ` + rel("self.sqr") + " -> " + rel("self.sqr")},
		// Errors in a base are reported at their place in the base.
		{"uses.sqr", rel("broken.sqr") + `:2:1: unknown step "fold-constans" (did you mean "fold-constants"?)` + "\n" +
			rel("uses.sqr") + `:2:13: unknown option "x": step test-prep has no options`},
		{"uses2.sqr", rel("syntax.sqr") + `:2:1: unexpected end of file; want "}"`},
		// The order constraint holds across the merge: the base's step comes first.
		{"order.sqr", rel("needs.sqr") + `:1:1: step test-order requires test-prep to run before it, but test-prep comes later (at ` + rel("order.sqr") + `:2:1)`},
		{"dir.sqr", rel("dir.sqr") + `:1:6: base "sub": ` + rel("sub") + " is not a regular file"},
	}
	for _, c := range cases {
		_, err := checkFile(t, rel(c.file))
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got %v\nwant %s", c.file, err, c.want)
		}
	}
}

func TestBuiltinBase(t *testing.T) {
	// A bare name not found beside the recipe is a built-in recipe.
	dir := writeFiles(t, map[string]string{
		"m.sqr": "target sm_80\nbase \"graph.sqr\"\npad-channels { multiple = 8 }\ntest-prep\n",
	})
	r, err := checkFile(t, filepath.Join(dir, "m.sqr"))
	if err != nil {
		t.Fatal(err)
	}
	specs, _ := r.Pipeline()
	want := `infer-shapes {}
remove-identity {}
fold-constants {}
dce {}
fold-batchnorm {}
fuse-epilogue {}
pad-channels {multiple=8}
assign-layout {}
test-prep {}
`
	if got := specText(specs); got != want {
		t.Errorf("pipeline:\n%s\nwant:\n%s", got, want)
	}
	// A file of that name beside the recipe comes first.
	dir = writeFiles(t, map[string]string{
		"graph.sqr": "dce\n",
		"m.sqr":     "base \"graph.sqr\"\n",
	})
	r, err = checkFile(t, filepath.Join(dir, "m.sqr"))
	if err != nil {
		t.Fatal(err)
	}
	specs, _ = r.Pipeline()
	if got := specText(specs); got != "dce {}\n" {
		t.Errorf("local graph.sqr not preferred:\n%s", got)
	}
}

// TestWritePipeline: the printed pipeline is a recipe that builds the same
// pipeline, with every option's final value.
func TestWritePipeline(t *testing.T) {
	src := `target sm_86
base "graph.sqr"
pad-channels { multiple = 8 }
test-prune {
  skip = [op("Gemm"), /a\/b/]
  damp = 0.5
  note = "two words"
  tags = [x, "y z"]
  layers name("layer4.*") { method = sparsegpt }
}
`
	r, err := Parse("w.sqr", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	specs, err := r.Pipeline()
	if err != nil {
		t.Fatal(err)
	}
	p, err := passes.Build(specs)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := WritePipeline(&b, r.Target(), p); err != nil {
		t.Fatal(err)
	}
	want := `target sm_86
infer-shapes
remove-identity
fold-constants { keep-qdq = true; max-elements = 16777216 }
dce
fold-batchnorm
fuse-epilogue
pad-channels { multiple = 8; out-multiple = 1 }
assign-layout { layout = NHWC; weight-layout = OHWI; input-layout = keep }
test-prune { pattern = 2:4; method = magnitude; skip = [op("Gemm"), /a\/b/]; damp = 0.5; samples = 128; verbose = false; tags = [x, "y z"]; note = "two words"; layers name("layer4.*") { method = sparsegpt } }
`
	if b.String() != want {
		t.Errorf("WritePipeline:\n%s\nwant:\n%s", b.String(), want)
	}
	r2, err := Parse("flat.sqr", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	specs2, err := r2.Pipeline()
	if err != nil {
		t.Fatal(err)
	}
	p2, err := passes.Build(specs2)
	if err != nil {
		t.Fatal(err)
	}
	full := func(p *passes.Pipeline) string {
		var s []passes.StepSpec
		for _, st := range p.Steps {
			spec := passes.StepSpec{Name: st.Pass.Name, Options: st.Options}
			for _, o := range st.Overrides {
				spec.Overrides = append(spec.Overrides, passes.OverrideSpec{Select: o.Select, Options: o.Options})
			}
			s = append(s, spec)
		}
		return specText(s)
	}
	if full(p) != full(p2) {
		t.Errorf("the printed pipeline builds differently:\n%s\nvs\n%s", full(p), full(p2))
	}
	if r2.Target() != "sm_86" {
		t.Errorf("target %q", r2.Target())
	}
}

func TestValueOf(t *testing.T) {
	cases := []struct {
		v    any
		want string
	}{
		{2.0, "2.0"},
		{1e21, "1e+21"},
		{0.125, "0.125"},
		{int64(-3), "-3"},
		{"per-channel", "per-channel"},
		{"true", "true"},
		{"a b", `"a b"`},
		{"", `""`},
		{[]string{}, "[]"},
		{passes.Selector{}, "[]"},
	}
	for _, c := range cases {
		if got := valueText(valueOf(c.v)); got != c.want {
			t.Errorf("valueOf(%#v) = %s, want %s", c.v, got, c.want)
		}
	}
}

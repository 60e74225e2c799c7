package dsl

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/plugins"
)

func TestMain(m *testing.M) {
	code := m.Run()
	plugins.Shutdown() // no plugin process outlives the tests
	if pluginDir != "" {
		os.RemoveAll(pluginDir)
	}
	os.Exit(code)
}

var (
	pluginOnce sync.Once
	pluginDir  string
	pluginErr  error
)

// foldIdentity builds the fold-identity example plugin once and returns a
// directory holding a link to it, where recipes can name it
// "./fold-identity".
func foldIdentity(t *testing.T) (dir, bin string) {
	t.Helper()
	pluginOnce.Do(func() {
		if pluginDir, pluginErr = os.MkdirTemp("", "sqc-dsl-plugin-"); pluginErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(pluginDir, "bin", "fold-identity"), "../plugins/examples/fold-identity").CombinedOutput()
		if err != nil {
			pluginErr = fmt.Errorf("building the example plugin: %v\n%s", err, out)
		}
	})
	if pluginErr != nil {
		t.Fatal(pluginErr)
	}
	dir = t.TempDir()
	bin = filepath.Join(pluginDir, "bin", "fold-identity")
	if err := os.Symlink(bin, filepath.Join(dir, "fold-identity")); err != nil {
		t.Fatal(err)
	}
	return dir, bin
}

func writeRecipe(t *testing.T, path, src string) *Recipe {
	t.Helper()
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPluginStep(t *testing.T) {
	dir, bin := foldIdentity(t)
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := fmt.Sprintf("%x", sha256.Sum256(data))
	r := writeRecipe(t, filepath.Join(dir, "r.sqr"), fmt.Sprintf(`dce
plugin "./fold-identity" {
  sha256 = %q
  ops    = [Mul, Add]
  layers name("keep.*") { ops = [] }
}
`, sum))
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	specs, err := r.Pipeline()
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 2 || specs[1].Name != "fold-identity" {
		t.Fatalf("pipeline %+v, want dce and fold-identity", specs)
	}
	if got := fmt.Sprint(specs[1].Options["ops"]); got != "[Mul Add]" {
		t.Errorf("ops = %s, want [Mul Add]", got)
	}
	if o := specs[1].Overrides; len(o) != 1 || o[0].Select.String() != "name:keep.*" || fmt.Sprint(o[0].Options["ops"]) != "[]" {
		t.Errorf("overrides %+v, want ops = [] for name:keep.*", o)
	}
	p, err := passes.Build(specs)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WritePipeline(&buf, "", p); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`dce
plugin %q { sha256 = %q; ops = [Mul, Add]; keep = []; timeout = 60.0; layers name("keep.*") { ops = [] } }
`, bin, sum)
	if buf.String() != want {
		t.Errorf("WritePipeline:\n%s\nwant:\n%s", buf.String(), want)
	}
	// What WritePipeline writes checks and builds the same pipeline.
	flat, err := Parse("flat.sqr", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := flat.Check(); err != nil {
		t.Fatal(err)
	}
	if specs2, err := flat.Pipeline(); err != nil || specs2[1].Name != "fold-identity" || fmt.Sprint(specs2[1].Options["timeout"]) != "60" {
		t.Errorf("the flat recipe's pipeline: %+v, %v", specs2, err)
	}
}

func TestPluginStepErrors(t *testing.T) {
	dir, bin := foldIdentity(t)
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	zeros := strings.Repeat("0", 64)
	for _, c := range []struct{ src, want string }{
		// The plugin's own options get the built-in steps' checks.
		{`plugin "./fold-identity" { opps = [Mul] }`, `R:1:28: unknown option "opps" for step fold-identity (did you mean "ops"?)`},
		{`plugin "./fold-identity" { keep = 3 }`, `R:1:35: option keep of fold-identity: want a layer selector such as name("layer4.*"), op("Conv") or /^conv\d+$/, got integer 3`},
		{`plugin "./fold-identity" { timeout = "x" }`, `R:1:38: option timeout of fold-identity: want a number, got string "x"`},
		{`plugin "./fold-identity" { timeout = 0 }`, `R:1:38: option timeout of fold-identity: 0 is out of range [0.001, 604800]`},
		{"plugin \"./fold-identity\" {\n  ops = [Mul]\n  ops = [Add]\n}", `R:3:3: option ops set twice in one block (first at 2:3)`},
		{`plugin "./fold-identity" { layers op("Mul") { opps = [] } }`, `R:1:47: unknown option "opps" for step fold-identity (did you mean "ops"?)`},
		// The statement itself.
		{`plugin`, `R:1:1: plugin needs the path of a plugin binary in quotes, as in: plugin "./my-pass" { key = value }`},
		{`plugin fold-identity`, `R:1:8: plugin needs the path of a plugin binary in quotes, as in: plugin "./my-pass" { key = value }, got word fold-identity`},
		{`plugin "./nope" { ops = [] }`, `R:1:8: plugin D/nope: no such file`},
		{`plugin "./fold-identity" { sha256 = abc }`, `R:1:37: sha256 needs the plugin binary's checksum in quotes, as in: sha256 = "9f86d081884c7d65...", got word abc`},
		{`plugin "./fold-identity" { sha256 = "abc" }`, `R:1:37: plugin D/fold-identity: sha256 "abc": want 64 hexadecimal digits`},
		{`plugin "./fold-identity" { sha256 = "` + zeros + `" }`, fmt.Sprintf(`R:1:37: plugin D/fold-identity: the binary's sha256 is %x, but %s is pinned`, sha256.Sum256(data), zeros)},
		{"plugin \"./fold-identity\"\nbase \"graph.sqr\"", `R:2:1: base must come before the steps (the first step is at 1:1): the base's steps run first`},
	} {
		path := filepath.Join(dir, "r.sqr")
		r := writeRecipe(t, path, c.src)
		err := r.Check()
		want := strings.NewReplacer("R:", path+":", "D/", dir+"/").Replace(c.want)
		if err == nil || err.Error() != want {
			t.Errorf("%q:\n got %v\nwant %s", c.src, err, want)
		}
	}
}

// TestPluginStepBase merges a recipe's plugin step into its base's, as a
// built-in step would be.
func TestPluginStepBase(t *testing.T) {
	dir, _ := foldIdentity(t)
	writeRecipe(t, filepath.Join(dir, "base.sqr"), "plugin \"./fold-identity\" { ops = [Mul] }\ndce\n")
	r := writeRecipe(t, filepath.Join(dir, "r.sqr"), "base \"base.sqr\"\nplugin \"fold-identity\" { keep = name(\"x\") }\n")
	specs, err := r.Pipeline()
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 2 || specs[0].Name != "fold-identity" || fmt.Sprint(specs[0].Options["ops"]) != "[Mul]" || fmt.Sprint(specs[0].Options["keep"]) != "name:x" {
		t.Errorf("pipeline %+v, want fold-identity with ops [Mul] and keep name:x, then dce", specs)
	}
}

package plugins

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/passes"
)

// identities is a graph with arithmetic by identity constants, and some
// that only look like it.
const identities = `graph "g" (%x: f32[2,3]) -> (%out, %z) {
  const %one: f32[3] = [1, 1, 1]
  const %zero: f32[] = [0]
  const %two: f32[3] = [2, 2, 2]
  const %wide: f32[4,2,3] = base64"AACAPwAAgD8AAIA/AACAPwAAgD8AAIA/AACAPwAAgD8AAIA/AACAPwAAgD8AAIA/AACAPwAAgD8AAIA/AACAPwAAgD8AAIA/AACAPwAAgD8AAIA/AACAPwAAgD8AAIA/"
  %a: f32[2,3] = Mul "scale1" (%x, %one)
  %b: f32[2,3] = Add "bias0" (%zero, %a)
  %c: f32[2,3] = Mul "scale2" (%b, %two)
  %d: f32[2,3] = Sub "shift0" (%c, %zero)
  %e: f32[2,3] = Sub "neg" (%zero, %d)
  %f: f32[4,2,3] = Mul "broadcast" (%e, %wide)
  %z: f32[4,2,3] = Relu "relu" (%f)
  %out: f32[2,3] = Div "unit" (%e, %one)
}
`

func TestFoldIdentity(t *testing.T) {
	p, err := Load(bin("fold-identity"), testConfig())
	if err != nil {
		t.Fatal(err)
	}
	if passes.Lookup("fold-identity") != p.Pass() || Of(p.Pass()) != p {
		t.Fatal("the plugin's pass is not registered under its name")
	}
	if names := strings.Join(passes.OptionNames(p.Pass()), ","); names != "ops,keep,timeout" {
		t.Errorf("options %s, want ops,keep,timeout", names)
	}
	g := parse(t, identities)
	before := parse(t, identities)
	rep, err := runSteps(g, "fold-identity")
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, n := range g.Nodes {
		ops = append(ops, n.Name)
	}
	// scale1, bias0 and shift0 compute their input; scale2, neg and
	// broadcast do not; unit does, and its input takes the output's name.
	if got, want := strings.Join(ops, " "), "scale2 neg broadcast relu"; got != want {
		t.Errorf("nodes after folding: %s, want %s", got, want)
	}
	if g.Outputs[0].Name != "out" || g.Nodes[1].Outputs[0] != g.Outputs[0] {
		t.Errorf("graph output %q is not neg's output", g.Outputs[0].Name)
	}
	if got := rep.Stats["fold-identity"]["nodes removed"]; got != 4 {
		t.Errorf("statistic nodes removed = %d, want 4", got)
	}
	x := ir.FromFloat32([]float32{1, -2, 3.5, 0, 7, -0.25}, 2, 3)
	want, err := ref.Run(before, x)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ref.Run(g, x)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !bytes.Equal(f32bytes(want[i].Float32s()), f32bytes(got[i].Float32s())) {
			t.Errorf("output %d: %v, want %v", i, got[i].Float32s(), want[i].Float32s())
		}
	}

	// Options reach the plugin, and per-node values too.
	g = parse(t, identities)
	if _, err := runSteps(g, "fold-identity{ops=Mul|Div;keep=name:unit}"); err != nil {
		t.Fatal(err)
	}
	if got := len(g.Nodes); got != 7 {
		t.Errorf("with ops=Mul|Div and unit kept: %d nodes, want 7 (only scale1 folded)", got)
	}
	_, err = runSteps(parse(t, identities), "fold-identity{ops=Mul|Pow}")
	if err == nil || !strings.Contains(err.Error(), `pass fold-identity: plugin `) || !strings.Contains(err.Error(), `option ops: unknown op "Pow"`) {
		t.Errorf("unknown op: got %v", err)
	}
	// The schema is checked on the host, with the manager's messages.
	_, err = runSteps(parse(t, identities), "fold-identity{opps=Mul}")
	if err == nil || err.Error() != `pass fold-identity has no option "opps" (did you mean "ops"?)` {
		t.Errorf("misspelt option: got %v", err)
	}
}

func f32bytes(s []float32) []byte {
	b := make([]byte, 0, 4*len(s))
	for _, v := range s {
		u := math.Float32bits(v)
		b = append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
	}
	return b
}

// TestStartup measures what loading a plugin costs: start, handshake and
// description, and the first step on a small graph.
func TestStartup(t *testing.T) {
	path := testPass(t, "noop")
	start := time.Now()
	p, err := Load(path, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	loaded := time.Since(start)
	g := parse(t, identities)
	start = time.Now()
	if _, err := runSteps(g, p.Pass().Name); err != nil {
		t.Fatal(err)
	}
	t.Logf("load (start, handshake, describe) %v; first step on a small graph %v", loaded.Round(time.Microsecond), time.Since(start).Round(time.Microsecond))
	p.stop()
	start = time.Now()
	if _, err := runSteps(parse(t, identities), p.Pass().Name); err != nil {
		t.Fatal(err)
	}
	t.Logf("a step that restarts the plugin: %v", time.Since(start).Round(time.Microsecond))
	Shutdown()
	noChildren(t)
}

func TestLoadPath(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"fold-identity", "sensitivity-prune"} {
		if err := os.Symlink(bin(name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	// Neither of these is a plugin to load: hidden, not executable.
	if err := os.WriteFile(filepath.Join(dir, ".hidden"), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("plugins"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := LoadPath(string(filepath.ListSeparator)+dir+string(filepath.ListSeparator), testConfig())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, p.Pass().Name)
	}
	if strings.Join(names, " ") != "fold-identity sensitivity-prune" {
		t.Errorf("loaded %v, want fold-identity and sensitivity-prune", names)
	}
	_, err = LoadPath(filepath.Join(dir, "missing"), testConfig())
	if err == nil || !strings.HasPrefix(err.Error(), "plugin directory "+filepath.Join(dir, "missing")+": ") {
		t.Errorf("missing directory: got %v", err)
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "true"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = LoadPath(bad, testConfig())
	want := fmt.Sprintf("plugin %s exited before its handshake: it printed nothing (is it an sqc plugin?)", filepath.Join(bad, "true"))
	if err == nil || err.Error() != want {
		t.Errorf("not a plugin: got %v, want %s", err, want)
	}
	Shutdown()
	noChildren(t)
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		path string
		want string
	}{
		{filepath.Join(dir, "nothing"), "plugin DIR/nothing: no such file"},
		{dir, "plugin DIR: not an executable file"},
	} {
		_, err := Load(c.path, testConfig())
		if want := strings.ReplaceAll(c.want, "DIR", dir); err == nil || err.Error() != want {
			t.Errorf("got %v, want %s", err, want)
		}
	}
	// A second plugin serving a pass name already taken.
	copyTo := filepath.Join(dir, "fold-identity-copy")
	if err := copyFile(bin("fold-identity"), copyTo); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bin("fold-identity"), testConfig()); err != nil {
		t.Fatal(err)
	}
	_, err := Load(copyTo, testConfig())
	if want := fmt.Sprintf("plugin %s: pass fold-identity is already served by plugin ", copyTo); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want %s", err, want)
	}
	Shutdown()
	noChildren(t)
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx/onnxbuild"
	"github.com/sqc-project/sqc/ir"
)

// A model whose weights live in an external data file lists that file in
// the depfile, after the model.
func TestDepfileListsExternalData(t *testing.T) {
	dir := t.TempDir()
	b := onnxbuild.New("conv", 13).SetStorage(onnxbuild.External)
	x := b.InputSym("x", ir.Float32, []string{"N", "2", "4", "4"})
	w := b.Initializer("w", onnxbuild.Seq(-1, 0.5, 1, 2, 1, 1))
	c := b.Node("Conv", []string{x, w}, map[string]any{"kernel_shape": []int64{1, 1}})
	b.OutputSym(b.Node("Relu", []string{c}, nil), ir.Float32, []string{"N", "1", "4", "4"})
	model := filepath.Join(dir, "m.onnx")
	if err := b.WriteFile(model); err != nil {
		t.Fatal(err)
	}
	recipe := filepath.Join(dir, "g.sqr")
	if err := os.WriteFile(recipe, []byte("base \"graph.sqr\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, dep := filepath.Join(dir, "out.sqir"), filepath.Join(dir, "out.d")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"compile", model, "-r", recipe, "-o", out, "-M", dep}, &stdout, &stderr); code != 0 {
		t.Fatalf("compile exited with %d: %s", code, stderr.String())
	}
	got, err := os.ReadFile(dep)
	if err != nil {
		t.Fatal(err)
	}
	want := out + ": \\\n  " + model + " \\\n  " + filepath.Join(dir, b.ExternalFile()) + " \\\n  " + recipe + "\n"
	if string(got) != want {
		t.Errorf("depfile:\n%s\nwant:\n%s", got, want)
	}
}

// A folder of calibration data is listed with its files, so that adding,
// removing or changing one rebuilds.
func TestDataFilesOfFolder(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"b.png", "a.png"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := dataFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{dir, filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png")}
	if !slices.Equal(got, want) {
		t.Errorf("dataFiles = %q, want %q", got, want)
	}
	if _, err := dataFiles(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a missing path gives %v, want an error naming it", err)
	}
}

func TestEscapeDep(t *testing.T) {
	for in, want := range map[string]string{
		"plain/file.onnx": "plain/file.onnx",
		"a b#c$d":         `a\ b\#c$$d`,
	} {
		if got := escapeDep(in); got != want {
			t.Errorf("escapeDep(%q) = %q, want %q", in, got, want)
		}
	}
}

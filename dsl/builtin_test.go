package dsl

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// A built-in recipe's base is the built-in of that name even when the
// working directory holds a file of that name.
func TestParseBuiltinIgnoresWorkingDirectory(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("sparse-int8.sqr", []byte("dce\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := ParseBuiltin("resnet50-sparse-int8.sqr")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	specs, err := r.Pipeline()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.Name)
	}
	if !slices.Contains(names, "calibrate") || !slices.Contains(names, "fold-batchnorm") {
		t.Errorf("steps %v: the base came from the working directory's file", names)
	}
}

func TestParseBuiltinErrors(t *testing.T) {
	if _, err := ParseBuiltin("grahp.sqr"); err == nil || !strings.Contains(err.Error(), `no built-in recipe grahp.sqr`) || !strings.Contains(err.Error(), `did you mean "graph.sqr"`) {
		t.Errorf("misspelt: %v", err)
	}
	if _, err := ParseBuiltin("../graph.sqr"); err == nil {
		t.Error("a path was taken as a built-in name")
	}
	if got := Builtins(); !slices.Contains(got, "sparse-int8.sqr") || !slices.IsSorted(got) {
		t.Errorf("Builtins() = %v", got)
	}
}

func TestSummary(t *testing.T) {
	r, err := Parse("x.sqr", []byte("# Fast INT8: for\n# small models. More.\n\n# Other.\ndce\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Summary(); got != "Fast INT8" {
		t.Errorf("Summary() = %q", got)
	}
	r, err = Parse("x.sqr", []byte("# Prunes 2:4\n# and more\ndce\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Summary(); got != "Prunes 2:4 and more" {
		t.Errorf("Summary() = %q", got)
	}
}

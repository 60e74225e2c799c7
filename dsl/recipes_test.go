package dsl

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/all"
	"github.com/sqc-project/sqc/recipes"
)

// TestShippedRecipes: every recipe in recipes/ checks, builds, and is in
// canonical form; the embedded set is the directory's.
func TestShippedRecipes(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "recipes", "*.sqr"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recipes found: %v", err)
	}
	embedded, err := fs.Glob(recipes.FS, "*.sqr")
	if err != nil || len(embedded) != len(files) {
		t.Errorf("embedded %q, on disk %q", embedded, files)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Parse(f, src)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if err := r.Check(); err != nil {
			t.Errorf("%v", err)
			continue
		}
		if got := Format(r); string(got) != string(src) {
			t.Errorf("%s is not in canonical form; sqc recipe fmt gives:\n%s", f, got)
		}
		specs, err := r.Pipeline()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := passes.Build(specs); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestGraphRecipeIsDefaultPipeline: recipes/graph.sqr is the default graph
// pipeline of package passes/all, step for step.
func TestGraphRecipeIsDefaultPipeline(t *testing.T) {
	r, err := ParseFile(filepath.Join("..", "recipes", "graph.sqr"))
	if err != nil {
		t.Fatal(err)
	}
	specs, err := r.Pipeline()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := specText(specs), specText(all.Specs(all.GraphPipeline)); got != want {
		t.Errorf("graph.sqr:\n%s\nall.GraphPipeline:\n%s", got, want)
	}
}

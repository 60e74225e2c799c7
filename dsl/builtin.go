package dsl

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/recipes"
)

// Builtins lists the names of the recipes that ship with sqc (package
// recipes), sorted.
func Builtins() []string { return builtinNames() }

// ParseBuiltin parses the shipped recipe of that name ("sparse-int8.sqr").
// Its base and plugins resolve among the shipped recipes, never against
// files in the working directory, and its positions read
// "builtin:NAME:LINE:COL".
func ParseBuiltin(name string) (*Recipe, error) {
	if path.Base(name) != name || !fs.ValidPath(name) {
		return nil, fmt.Errorf("%q is not the name of a built-in recipe (built-in: %s)", name, strings.Join(builtinNames(), ", "))
	}
	src, err := fs.ReadFile(recipes.FS, name)
	if err != nil {
		return nil, fmt.Errorf("no built-in recipe %s (built-in: %s)%s", name, strings.Join(builtinNames(), ", "), passes.Suggest(name, builtinNames()))
	}
	r, err := Parse(builtinPrefix+name, src)
	if err != nil {
		return nil, err
	}
	r.builtin = true
	return r, nil
}

// Summary is the recipe's first comment up to its first ": " or ". ": the
// one-line description `sqc recipe list` prints.
func (r *Recipe) Summary() string {
	var lines []string
	if len(r.Stmts) > 0 {
		for _, d := range r.Stmts[0].Doc {
			if d == "" {
				break // the first paragraph only
			}
			d = strings.TrimPrefix(strings.TrimPrefix(d, "#"), "//")
			lines = append(lines, strings.TrimSpace(d))
		}
	}
	text := strings.Join(lines, " ")
	for _, sep := range []string{": ", ". "} {
		if i := strings.Index(text, sep); i >= 0 {
			text = text[:i]
		}
	}
	return strings.TrimSuffix(text, ".")
}

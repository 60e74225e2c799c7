package dsl

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: the parser never panics and reports errors as an ErrorList;
// what parses formats to text that parses back to the same AST (positions
// aside) and formats to itself; Check never panics either.
func FuzzParse(f *testing.F) {
	f.Add([]byte(example))
	if src, err := os.ReadFile(filepath.Join("..", "recipes", "graph.sqr")); err == nil {
		f.Add(src)
	}
	for _, s := range []string{
		"",
		"dce # c\n\n// d\nfold-constants { max-elements = 3; keep-qdq = false }\n",
		"p {\n  # lead\n  a = [1, # in\n 2,\n]\n  layers /x\\/y/ { b = \"s\\n\" }\n\n  # end\n}\n# tail\n",
		"target sm_80; base \"graph.sqr\"\nplugin \"./x\" { k = v }\n",
		"test-prune { skip = [op(\"Gemm\"), name(/^c\\d$/)]; pattern = 2:4; damp = -1.5e-3 }\n",
		"a { b = c(d(e), [f]) }\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		r, err := Parse("f.sqr", src)
		if err != nil {
			var el ErrorList
			if !errors.As(err, &el) || len(el) == 0 {
				t.Fatalf("Parse error %v (%T), want a non-empty ErrorList", err, err)
			}
			return
		}
		out := Format(r)
		r2, err := Parse("f.sqr", out)
		if err != nil {
			t.Fatalf("Format output does not parse: %v\ninput:\n%q\noutput:\n%s", err, src, out)
		}
		if d1, d2 := dump(r), dump(r2); d1 != d2 {
			t.Fatalf("AST changed through Format\ninput:\n%q\noutput:\n%s\nbefore:\n%s\nafter:\n%s", src, out, d1, d2)
		}
		if out2 := Format(r2); !bytes.Equal(out, out2) {
			t.Fatalf("Format is not idempotent\nfirst:\n%s\nsecond:\n%s", out, out2)
		}
		// Check reads base files and starts plugin binaries: leave those
		// out of fuzzing (a base of /dev/stdin is refused, but an arbitrary
		// file system is no place for random reads, let alone for running
		// whatever program a random path names).
		for _, s := range r.Stmts {
			if s.Name == kwBase || s.Name == kwPlugin {
				return
			}
		}
		if err := r.Check(); err != nil {
			var el ErrorList
			if !errors.As(err, &el) || len(el) == 0 {
				t.Fatalf("Check error %v (%T), want a non-empty ErrorList", err, err)
			}
		}
	})
}

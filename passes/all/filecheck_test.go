package all

import (
	"bytes"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir/sqir"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/passtest"
)

var only = flag.String("sqir", "", "run only the .sqir pass tests whose path contains this")

// TestPasses runs every .sqir test under passes/*/testdata: the file is the
// input graph, its RUN line names the pipeline (`sqc opt %s --passes=a,b`),
// and its CHECK lines are matched against the printed result. Every pass
// runs with verification after each step.
func TestPasses(t *testing.T) {
	files, err := filepath.Glob("../*/testdata/*.sqir")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no .sqir pass tests found")
	}
	for _, f := range files {
		if *only != "" && !strings.Contains(f, *only) {
			continue
		}
		t.Run(strings.TrimPrefix(f, "../"), func(t *testing.T) {
			test, err := passtest.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			g := test.Graph
			if _, err := (&passes.Manager{VerifyEach: true}).RunSpec(g, test.Pipeline); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := sqir.Print(&out, g); err != nil {
				t.Fatal(err)
			}
			if err := test.Checks.Check(out.String()); err != nil {
				t.Fatalf("%v\n--- output ---\n%s", err, out.String())
			}
		})
	}
}

package all

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/internal/filecheck"
	"github.com/sqc-project/sqc/ir/sqir"
	"github.com/sqc-project/sqc/passes"
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
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			test, err := filecheck.ParseTest(f, string(src))
			if err != nil {
				t.Fatal(err)
			}
			if len(test.Run) != 1 {
				t.Fatalf("%s: want one RUN line, found %d", f, len(test.Run))
			}
			pipeline, err := runLinePipeline(test.Run[0])
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			g, err := sqir.Parse(f, src)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := (&passes.Manager{VerifyEach: true}).RunSpec(g, pipeline); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := sqir.Print(&out, g); err != nil {
				t.Fatal(err)
			}
			if err := test.Check(out.String()); err != nil {
				t.Fatalf("%v\n--- output ---\n%s", err, out.String())
			}
		})
	}
}

// runLinePipeline extracts the --passes value of `sqc opt %s --passes=...`.
func runLinePipeline(run string) (string, error) {
	fields := strings.Fields(run)
	if len(fields) < 3 || fields[0] != "sqc" || fields[1] != "opt" || fields[2] != "%s" {
		return "", fmt.Errorf("RUN line %q: want `sqc opt %%s --passes=...`", run)
	}
	for _, f := range fields[3:] {
		if v, ok := strings.CutPrefix(f, "--passes="); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("RUN line %q has no --passes=", run)
}

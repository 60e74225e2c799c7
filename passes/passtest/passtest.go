// Package passtest reads the .sqir pass tests the passes' own tests and
// passes/all share: a graph in the IR's textual form, one RUN line naming
// the pipeline (`sqc opt %s --passes=a,b{k=v}`) and CHECK lines for
// internal/filecheck.
package passtest

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/internal/filecheck"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
	"github.com/sqc-project/sqc/passes"
)

// Test is one .sqir pass test.
type Test struct {
	Path string
	// Graph is the file's graph, parsed but not verified (the pass manager
	// verifies it before the first pass).
	Graph *ir.Graph
	// Pipeline is the --passes value of the RUN line.
	Pipeline string
	// Checks are the file's CHECK directives.
	Checks *filecheck.Test
}

// Load reads and parses the pass test at path.
func Load(path string) (*Test, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	checks, err := filecheck.ParseTest(path, string(src))
	if err != nil {
		return nil, err
	}
	if len(checks.Run) != 1 {
		return nil, fmt.Errorf("%s: want one RUN line, found %d", path, len(checks.Run))
	}
	pipeline, err := RunLinePipeline(checks.Run[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	g, err := sqir.Parse(path, src)
	if err != nil {
		return nil, err
	}
	return &Test{Path: path, Graph: g, Pipeline: pipeline, Checks: checks}, nil
}

// RunLinePipeline extracts the --passes value of `sqc opt %s --passes=...`.
func RunLinePipeline(run string) (string, error) {
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

// Run runs the pipeline spec on g with verification after every pass, and
// fails t on an error.
func Run(t testing.TB, g *ir.Graph, spec string) *passes.Report {
	t.Helper()
	rep, err := (&passes.Manager{VerifyEach: true}).RunSpec(g, spec)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

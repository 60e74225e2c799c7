package conformance

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sqc-project/sqc/internal/onnxsuite"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
)

// TestTextFormRoundTrip prints every graph the tests load — each model of
// the ONNX suite that imports, and the third-party models in ../shared — as
// .sqir, parses it back and requires ir.Equal, and requires printing twice
// to give the same bytes.
func TestTextFormRoundTrip(t *testing.T) {
	var paths []string
	if _, err := os.Stat(onnxsuite.RootDir()); err == nil {
		for _, c := range collectCases(t, onnxsuite.RootDir()) {
			paths = append(paths, filepath.Join(c.dir, "model.onnx"))
		}
	} else if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but the ONNX suite is missing: %v", err)
	}
	shared, _ := filepath.Glob(filepath.Join(sharedDir, "models", "*.onnx"))
	paths = append(paths, shared...)
	if len(paths) == 0 {
		t.Skip("neither the ONNX suite nor ../shared is here")
	}
	tested := 0
	for _, p := range paths {
		g, err := importModel(p)
		if err != nil {
			continue // not importable: TestONNXSuite accounts for it
		}
		tested++
		text := sqir.Format(g)
		back, err := sqir.Parse(p+".sqir", []byte(text))
		if err != nil {
			t.Errorf("%s: printed IR does not parse: %v", p, err)
			continue
		}
		if err := ir.Equal(g, back); err != nil {
			t.Errorf("%s: round trip changed the graph: %v", p, err)
			continue
		}
		if again := sqir.Format(back); again != text {
			t.Errorf("%s: printing the parsed graph gives different text", p)
		}
	}
	t.Logf("%d graphs round-tripped through .sqir", tested)
}

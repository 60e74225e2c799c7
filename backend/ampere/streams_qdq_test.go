package ampere

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sqc-project/sqc/dsl"
	"github.com/sqc-project/sqc/frontend/onnx"
)

// TestStreamsShuffleNetQDQ compiles ../shared's ShuffleNet-v2 QDQ export
// with qat.sqr, as sqc compile does, and runs its engine's steps on the
// kernels' Go models: each step changes only the buffers its writes name
// (the simulation checks it), the stream plan orders every conflicting
// pair and runs the two branches at once, and the output equals the
// reference executor's.
func TestStreamsShuffleNetQDQ(t *testing.T) {
	if testing.Short() {
		t.Skip("a whole ShuffleNet on the kernels' Go models: skipped in -short mode")
	}
	path := filepath.Join("..", "..", "..", "shared", "models", "shufflenet-v2-12-qdq.onnx")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no %s: %v", path, err)
	}
	g, err := onnx.Import(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := dsl.ParseBuiltin("qat.sqr")
	if err != nil {
		t.Fatal(err)
	}
	specs, err := r.Pipeline()
	if err != nil {
		t.Fatal(err)
	}
	runPipeline(t, g, specs)
	e, err := Plan(g, "test")
	if err != nil {
		t.Fatal(err)
	}
	plan := planStreams(e, DefaultStreams)
	checkPlan(t, e, plan)
	if plan.streams < 2 {
		t.Errorf("%d streams: ShuffleNet's two branches should run at once", plan.streams)
	}
	simulateEqualsRef(t, g, e, 1, 9, 10) // the export's batch is static
}

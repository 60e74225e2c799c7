package sqir_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
)

// TestRoundTripResNet50Sized round-trips 102 MB of weights and logs the
// time each direction takes.
func TestRoundTripResNet50Sized(t *testing.T) {
	if testing.Short() {
		t.Skip("102 MB of weights")
	}
	g, n := resnet50Graph()
	// Print to a file, as sqc does; reading it back is not timed.
	path := filepath.Join(t.TempDir(), "resnet50.sqir")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := sqir.Print(f, g); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	printed := time.Since(start)
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	back, err := sqir.Parse(path, text)
	if err != nil {
		t.Fatal(err)
	}
	parsed := time.Since(start)
	if err := ir.Equal(g, back); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d nodes, %.1f MB of weights, %.1f MB of text: print %v (%.0f MB/s), parse %v (%.0f MB/s)",
		len(g.Nodes), float64(n)/1e6, float64(len(text))/1e6, printed, float64(n)/1e6/printed.Seconds(), parsed, float64(n)/1e6/parsed.Seconds())
}

// BenchmarkPrint and BenchmarkParse report MB/s of float32 weights.
func BenchmarkPrint(b *testing.B) {
	g, n := resnet50Graph()
	var buf bytes.Buffer
	buf.Grow(len(sqir.Format(g)))
	b.SetBytes(int64(n))
	b.ResetTimer()
	for range b.N {
		buf.Reset()
		if err := sqir.Print(&buf, g); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	g, n := resnet50Graph()
	text := []byte(sqir.Format(g))
	b.SetBytes(int64(n))
	b.ResetTimer()
	for range b.N {
		if _, err := sqir.Parse("resnet50.sqir", text); err != nil {
			b.Fatal(err)
		}
	}
}

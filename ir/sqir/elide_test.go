package sqir

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// PrintWith elides large constants for reading, keeps small ones, and the
// parser refuses the elided form rather than load a model without weights.
func TestElideConstants(t *testing.T) {
	g, err := ParseAndVerify("t.sqir", []byte(`graph "g" (%x: f32[N,300]) -> (%y) {
  const %w: f32[300,300] = base64"`+strings.Repeat("AAAA", 300*300*4/3)+`"
  %y: f32[N,300] = MatMul "mm" (%x, %w)
}
`))
	if err != nil {
		t.Fatal(err)
	}
	var full, short bytes.Buffer
	if err := Print(&full, g); err != nil {
		t.Fatal(err)
	}
	if err := PrintWith(&short, g, PrintOptions{ElideBytes: 1024}); err != nil {
		t.Fatal(err)
	}
	text := short.String()
	if !strings.Contains(text, `const %w: f32[300,300] = elided "360000 bytes, sha256 `) || short.Len() > 1000 || full.Len() < 360000 {
		t.Fatalf("elided %d bytes, full %d:\n%s", short.Len(), full.Len(), text)
	}
	// Equal data gives the same digest; other data another.
	g.Nodes[0].Inputs[1].Const.Float32s()[7] = 1
	var other bytes.Buffer
	PrintWith(&other, g, PrintOptions{ElideBytes: 1024})
	if other.String() == text {
		t.Error("different weights print the same elided text")
	}
	_, err = Parse("short.sqir", short.Bytes())
	if err == nil || !strings.Contains(err.Error(), "short.sqir:2:") || !strings.Contains(err.Error(), "constant %w: its data was elided when the graph was printed, so this text cannot be loaded") {
		t.Errorf("parsing elided text: %v", err)
	}
	back, err := Parse("full.sqir", full.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	g.Nodes[0].Inputs[1].Const.Float32s()[7] = 0
	if err := ir.Equal(g, back); err != nil {
		t.Errorf("full text: %v", err)
	}
}

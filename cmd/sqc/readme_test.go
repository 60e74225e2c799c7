package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEPassList keeps the README's list of steps and options (the
// output of `sqc passes` between its markers) true to the registered passes.
func TestREADMEPassList(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- sqc passes -->\n```text\n", "```\n<!-- end sqc passes -->"
	text := string(readme)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatal("README.md has no `sqc passes` block between its markers")
	}
	var want bytes.Buffer
	if err := writePassList(&want); err != nil {
		t.Fatal(err)
	}
	if got := text[i+len(begin) : j]; got != want.String() {
		t.Errorf("README.md's pass list is out of date; replace it with the output of `sqc passes`:\n%s", want.String())
	}
}

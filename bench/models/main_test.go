package main

import "testing"

// TestFirstLine: a table cell gets the failure, not a warning printed
// before it, without sqc's prefix and the engine's path, with its pipes
// escaped.
func TestFirstLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"sqc: warning: 1 INT8 layers have biases that do not fit int32\nsqc: /tmp/e/x.sqe: node \"up\" (Resize): input 3 | 4\n", `node "up" (Resize): input 3 \| 4`},
		{"sqc: unsupported op Foo\nmore", "unsupported op Foo"},
		{"warning: only a warning", "warning: only a warning"},
	} {
		if got := firstLine(tc.in); got != tc.want {
			t.Errorf("firstLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

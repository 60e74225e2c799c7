package conformance

import (
	"os"
	"testing"
)

// needDir returns whether dir exists; when it does not, the test is skipped,
// or fails under CI=true, where the data is part of the set-up.
func needDir(t *testing.T, dir, what string) {
	t.Helper()
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing in CI (%v)", what, err)
		}
		t.Skipf("%s not found (%v): skipping", what, err)
	}
}

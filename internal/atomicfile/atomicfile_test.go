package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteReplacesWhole(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.sqir")
	if err := WriteFile(p, []byte("old")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("new contents")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new contents" {
		t.Fatalf("got %q", b)
	}
}

func TestFailedWriteKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.sqir")
	if err := WriteFile(p, []byte("old")); err != nil {
		t.Fatal(err)
	}
	err := Write(p, func(w io.Writer) error {
		io.WriteString(w, "half")
		return errors.New("disk on fire")
	})
	if err == nil {
		t.Fatal("no error")
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("target changed to %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary file left behind: %v", entries)
	}
}

func TestMissingDirectory(t *testing.T) {
	err := WriteFile(filepath.Join(t.TempDir(), "no", "such", "dir", "f"), nil)
	if err == nil {
		t.Fatal("no error")
	}
}

// CheckWritable names the path and what is wrong with it, and Write says
// the same rather than naming its temporary file.
func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	if err := CheckWritable(filepath.Join(dir, "out.onnx")); err != nil {
		t.Errorf("a writable directory: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the check left %d files behind", len(entries))
	}
	missing := filepath.Join(dir, "missing", "out.onnx")
	want := "cannot write " + missing + ": directory " + filepath.Join(dir, "missing") + " does not exist"
	if err := CheckWritable(missing); err == nil || err.Error() != want {
		t.Errorf("missing directory: got %v, want %s", err, want)
	}
	if err := WriteFile(missing, []byte("x")); err == nil || err.Error() != want {
		t.Errorf("Write into a missing directory: got %v, want %s", err, want)
	}
	if err := CheckWritable(dir); err == nil || !strings.Contains(err.Error(), "it is a directory") {
		t.Errorf("a directory as the output: got %v", err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckWritable(filepath.Join(file, "out.onnx")); err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Errorf("a file as the directory: got %v", err)
	}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(dir, "ro")
		if err := os.Mkdir(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		if err := CheckWritable(filepath.Join(ro, "out.onnx")); err == nil || !strings.Contains(err.Error(), "is not writable") {
			t.Errorf("a read-only directory: got %v", err)
		}
	}
}

// An interrupt's RemovePending takes away the temporary file of a write in
// progress, the write fails, and a write started afterwards fails at once:
// nothing appears under either name.
func TestRemovePending(t *testing.T) {
	t.Cleanup(func() { mu.Lock(); stopped = false; mu.Unlock() })
	dir := t.TempDir()
	path := filepath.Join(dir, "out.bin")
	err := Write(path, func(w io.Writer) error {
		w.Write([]byte("half"))
		RemovePending()
		_, err := w.Write([]byte(" of it"))
		return err
	})
	if err == nil {
		t.Error("a write whose temporary file was removed succeeded")
	}
	if err := WriteFile(filepath.Join(dir, "later.bin"), []byte("x")); err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("a write after RemovePending gave %v, want an interrupted error", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files left behind: %v", entries)
	}
}

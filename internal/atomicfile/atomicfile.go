// Package atomicfile writes files so that readers, and build systems that
// stop halfway, never see a partial file: the data goes to a temporary file
// in the same directory, which is synced and then renamed over the target.
// A process that is interrupted calls RemovePending before it exits, so
// that not even the temporary file stays behind.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

var (
	mu sync.Mutex
	// pending holds the temporary files being written, until they are
	// renamed into place or removed.
	pending = map[string]bool{}
	// stopped is set by RemovePending: the process is exiting, and a
	// Write that starts now fails at once.
	stopped bool
)

// RemovePending removes the temporary files of every Write in progress. A
// command's interrupt handler calls it just before the process exits; the
// writes it cuts short then fail, and no file, whole or partial, appears
// under their names.
func RemovePending() {
	mu.Lock()
	defer mu.Unlock()
	stopped = true
	for name := range pending {
		os.Remove(name)
		delete(pending, name)
	}
}

// errInterrupted is what a Write started after RemovePending returns.
var errInterrupted = errors.New("interrupted")

// createTracked creates a temporary file and records it as pending in one
// step under the lock, so that RemovePending either runs first (and no file
// is created) or sees the file.
func createTracked(dir, pattern string) (*os.File, error) {
	mu.Lock()
	defer mu.Unlock()
	if stopped {
		return nil, errInterrupted
	}
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	pending[f.Name()] = true
	return f, nil
}

// untrack records that a temporary file was renamed or removed.
func untrack(name string) {
	mu.Lock()
	defer mu.Unlock()
	delete(pending, name)
}

// Write calls fill with a writer for a temporary file beside path and, if fill
// succeeds, renames the file to path. On any error path is left untouched and
// the temporary file removed.
func Write(path string, fill func(w io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := createTracked(dir, "."+base+".tmp*")
	if err != nil {
		// Say what is wrong with path, not with the temporary name.
		if cerr := CheckWritable(path); cerr != nil {
			return cerr
		}
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
		untrack(f.Name())
	}()
	if err := fill(f); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// CreateTemp makes the file 0600; an output file gets the usual mode.
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// CheckWritable reports whether Write could create path: its directory
// exists and takes new files, and path is not itself a directory. Tools
// call it before long work, so that a mistyped output path fails at once.
// It creates and removes a temporary file to find out.
func CheckWritable(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("cannot write %s: directory %s does not exist", path, dir)
	case err != nil:
		return fmt.Errorf("cannot write %s: %w", path, err)
	case !fi.IsDir():
		return fmt.Errorf("cannot write %s: %s is not a directory", path, dir)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("cannot write %s: it is a directory, want a file name", path)
	}
	// The probe is tracked like a write's temporary file, so an interrupt
	// in between removes it too.
	f, err := createTracked(dir, "."+filepath.Base(path)+".check*")
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("cannot write %s: directory %s is not writable", path, dir)
		}
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	untrack(name)
	return nil
}

// WriteFile is Write for data already in memory.
func WriteFile(path string, data []byte) error {
	return Write(path, func(w io.Writer) error { _, err := w.Write(data); return err })
}

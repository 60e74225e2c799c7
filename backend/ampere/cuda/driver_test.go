package cuda

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// haveDriver reports whether this machine has a loadable libcuda; the
// no-driver tests only make sense without one.
func haveDriver() bool { return Load() == nil }

// TestNoDriverError: without libcuda.so.1 every entry point fails with one
// clear error naming the library and the loader's reason, and never
// panics.
func TestNoDriverError(t *testing.T) {
	if haveDriver() {
		t.Skip("a CUDA driver is present; the no-driver path is tested on machines without one")
	}
	err := Load()
	if err == nil || !strings.HasPrefix(err.Error(), "no CUDA driver: libcuda.so.1: ") {
		t.Fatalf("Load() = %v, want an error starting %q", err, "no CUDA driver: libcuda.so.1: ")
	}
	if !IsNoDevice(err) {
		t.Errorf("IsNoDevice(%v) = false", err)
	}
	// Later calls give the same error instead of retrying or crashing.
	if _, err2 := DeviceCount(); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("DeviceCount error %v, want %v", err2, err)
	}
	if _, err2 := GetDevice(0); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("GetDevice error %v, want %v", err2, err)
	}
	if _, err2 := DriverVersion(); err2 == nil {
		t.Errorf("DriverVersion succeeded without a driver")
	}
	var dev Device
	if _, err2 := dev.RetainPrimaryContext(); err2 == nil {
		t.Errorf("RetainPrimaryContext succeeded without a driver")
	}
}

// TestOpenMissingFile: a library path that does not exist is reported with
// its name, once ("no CUDA driver: /x/libcuda.so.1: ...", not the name
// twice).
func TestOpenMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "libcuda.so.1")
	_, err := open(path)
	if err == nil {
		t.Fatal("opening a missing file succeeded")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "no CUDA driver: "+path) || strings.Count(msg, path) != 1 {
		t.Errorf("error %q, want it to start with %q and name the path once", msg, "no CUDA driver: "+path)
	}
}

// TestOpenNotADriver: a shared library that is not the driver (the C
// library, always present) is refused by the first missing entry point.
func TestOpenNotADriver(t *testing.T) {
	lib := ""
	for _, p := range []string{"/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib64/libc.so.6", "/usr/lib64/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6"} {
		if _, err := os.Stat(p); err == nil {
			lib = p
			break
		}
	}
	if lib == "" {
		t.Skip("no libc.so.6 at a known path")
	}
	_, err := open(lib)
	if err == nil {
		t.Fatalf("opening %s as the CUDA driver succeeded", lib)
	}
	want := "no CUDA driver: " + lib + " has no cuInit"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start with %q", err, want)
	}
}

// TestErrorText: the error of a failed call names the entry point, the
// code's name and number, the description and, for a module load, the JIT
// log on the lines after.
func TestErrorText(t *testing.T) {
	e := &Error{Op: "cuModuleLoadDataEx", Code: 218, Name: "CUDA_ERROR_INVALID_PTX", Msg: "a PTX JIT compilation failed",
		Log: "ptxas application ptx input, line 7; error   : Unknown symbol 'x'\n"}
	want := "cuModuleLoadDataEx: CUDA_ERROR_INVALID_PTX (218): a PTX JIT compilation failed\nptxas application ptx input, line 7; error   : Unknown symbol 'x'"
	if got := e.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
	wrapped := errors.Join(errors.New("context"), e)
	var ce *Error
	if !errors.As(wrapped, &ce) || ce.Code != 218 {
		t.Errorf("errors.As did not find the *Error in %v", wrapped)
	}
}

// TestLogText: JIT logs are NUL-terminated in a fixed buffer.
func TestLogText(t *testing.T) {
	b := make([]byte, 32)
	copy(b, "line 1\nline 2\n")
	if got := logText(b); got != "line 1\nline 2" {
		t.Errorf("logText = %q", got)
	}
	if got := logText([]byte("no terminator")); got != "no terminator" {
		t.Errorf("logText without NUL = %q", got)
	}
}

// TestLaunchArgumentTypes: a parameter of a type whose size the launcher
// would have to guess is refused before the driver is called.
func TestLaunchArgumentTypes(t *testing.T) {
	s := &Stream{ctx: &Context{}}
	f := &Function{Name: "k"}
	err := s.Launch(f, D1(1), D1(32), 0, DevicePtr(0), 3) // an untyped int
	if err == nil || !strings.Contains(err.Error(), "argument 1 has type int") {
		t.Errorf("launch with an int argument: %v, want a type error for argument 1", err)
	}
	err = s.Launch(f, Dim3{1, 0, 1}, D1(32), 0)
	if err == nil || !strings.Contains(err.Error(), "want every dimension > 0") {
		t.Errorf("launch with an empty grid: %v", err)
	}
}

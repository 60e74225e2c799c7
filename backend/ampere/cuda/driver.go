// Package cuda is the only package of sqc that talks to the NVIDIA driver.
//
// It opens libcuda.so.1 when a program first asks for the GPU, through
// github.com/ebitengine/purego, so that sqc builds with CGO_ENABLED=0 and
// `sqc compile` runs on machines with no driver at all; only `run`, `bench`
// and the GPU tests reach this package. It binds the versioned symbols of
// the driver API (cuMemAlloc_v2 and friends, the ones cuda.h maps the plain
// names to) and wraps what the backend needs: device queries, the primary
// context, modules loaded from PTX text with the JIT's error and info logs,
// memory, streams, events, kernel launches and CUDA graphs built by stream
// capture.
//
// A CUDA context is current per OS thread, and goroutines move between
// threads, so every call that needs the context locks its goroutine to the
// thread, makes the context current and calls the driver before unlocking
// (Context.do). Callers need not know about threads.
package cuda

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Result is a CUresult, the status code every driver call returns.
type Result int32

// Error is a driver call that did not return CUDA_SUCCESS.
type Error struct {
	Op   string // the driver entry point, such as "cuMemAlloc_v2"
	Code Result
	Name string // CUDA_ERROR_..., from cuGetErrorName
	Msg  string // the driver's description, from cuGetErrorString
	Log  string // the JIT's error log, for a failed module load
}

// Error formats the failure as "op: NAME (code): description", with the
// JIT log, if any, on the following lines.
func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s (%d)", e.Op, e.Name, int32(e.Code))
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Log != "" {
		s += "\n" + strings.TrimRight(e.Log, "\n")
	}
	return s
}

// Result codes the package checks for by value.
const (
	success     Result = 0
	errNoDevice Result = 100 // CUDA_ERROR_NO_DEVICE
)

// libraryName is the driver's soname: the unversioned libcuda.so comes only
// with the toolkit's development files, the .1 with every driver.
const libraryName = "libcuda.so.1"

// driver holds the bound entry points of one opened libcuda.
type driver struct {
	path   string
	handle uintptr

	cuInit                      func(flags uint32) Result
	cuDriverGetVersion          func(v *int32) Result
	cuGetErrorName              func(r Result, s **byte) Result
	cuGetErrorString            func(r Result, s **byte) Result
	cuDeviceGetCount            func(n *int32) Result
	cuDeviceGet                 func(d *int32, ordinal int32) Result
	cuDeviceGetName             func(name *byte, n int32, d int32) Result
	cuDeviceGetAttribute        func(v *int32, attr int32, d int32) Result
	cuDeviceTotalMem            func(bytes *uint64, d int32) Result
	cuDevicePrimaryCtxRetain    func(ctx *uintptr, d int32) Result
	cuDevicePrimaryCtxRelease   func(d int32) Result
	cuCtxSetCurrent             func(ctx uintptr) Result
	cuCtxSynchronize            func() Result
	cuMemGetInfo                func(free, total *uint64) Result
	cuModuleLoadDataEx          func(mod *uintptr, image *byte, n uint32, opts *int32, vals *uintptr) Result
	cuModuleUnload              func(mod uintptr) Result
	cuModuleGetFunction         func(fn *uintptr, mod uintptr, name string) Result
	cuFuncGetAttribute          func(v *int32, attr int32, fn uintptr) Result
	cuFuncSetAttribute          func(fn uintptr, attr int32, v int32) Result
	cuOccupancyMaxActiveBlocks  func(n *int32, fn uintptr, blockSize int32, dynamicShared uintptr) Result
	cuMemAlloc                  func(p *uint64, size uintptr) Result
	cuMemFree                   func(p uint64) Result
	cuMemcpyHtoD                func(dst uint64, src unsafe.Pointer, n uintptr) Result
	cuMemcpyDtoH                func(dst unsafe.Pointer, src uint64, n uintptr) Result
	cuMemcpyDtoD                func(dst, src uint64, n uintptr) Result
	cuMemcpyHtoDAsync           func(dst uint64, src unsafe.Pointer, n uintptr, s uintptr) Result
	cuMemcpyDtoHAsync           func(dst unsafe.Pointer, src uint64, n uintptr, s uintptr) Result
	cuMemsetD8                  func(p uint64, v uint8, n uintptr) Result
	cuMemsetD32                 func(p uint64, v uint32, n uintptr) Result
	cuMemsetD8Async             func(p uint64, v uint8, n uintptr, s uintptr) Result
	cuStreamCreate              func(s *uintptr, flags uint32) Result
	cuStreamDestroy             func(s uintptr) Result
	cuStreamSynchronize         func(s uintptr) Result
	cuEventCreate               func(e *uintptr, flags uint32) Result
	cuEventDestroy              func(e uintptr) Result
	cuEventRecord               func(e, s uintptr) Result
	cuEventSynchronize          func(e uintptr) Result
	cuEventElapsedTime          func(ms *float32, start, end uintptr) Result
	cuStreamWaitEvent           func(s, e uintptr, flags uint32) Result
	cuLaunchKernel              func(fn uintptr, gx, gy, gz, bx, by, bz, shmem uint32, s uintptr, params *uintptr, extra *uintptr) Result
	cuStreamBeginCapture        func(s uintptr, mode int32) Result
	cuStreamEndCapture          func(s uintptr, g *uintptr) Result
	cuGraphInstantiateWithFlags func(exec *uintptr, g uintptr, flags uint64) Result
	cuGraphLaunch               func(exec, s uintptr) Result
	cuGraphExecDestroy          func(exec uintptr) Result
	cuGraphDestroy              func(g uintptr) Result
}

// symbols lists every entry point with the exact (versioned) name it is
// exported under; cuda.h #defines the plain names to these.
func (d *driver) symbols() []struct {
	name string
	fn   any
} {
	return []struct {
		name string
		fn   any
	}{
		{"cuInit", &d.cuInit},
		{"cuDriverGetVersion", &d.cuDriverGetVersion},
		{"cuGetErrorName", &d.cuGetErrorName},
		{"cuGetErrorString", &d.cuGetErrorString},
		{"cuDeviceGetCount", &d.cuDeviceGetCount},
		{"cuDeviceGet", &d.cuDeviceGet},
		{"cuDeviceGetName", &d.cuDeviceGetName},
		{"cuDeviceGetAttribute", &d.cuDeviceGetAttribute},
		{"cuDeviceTotalMem_v2", &d.cuDeviceTotalMem},
		{"cuDevicePrimaryCtxRetain", &d.cuDevicePrimaryCtxRetain},
		{"cuDevicePrimaryCtxRelease_v2", &d.cuDevicePrimaryCtxRelease},
		{"cuCtxSetCurrent", &d.cuCtxSetCurrent},
		{"cuCtxSynchronize", &d.cuCtxSynchronize},
		{"cuMemGetInfo_v2", &d.cuMemGetInfo},
		{"cuModuleLoadDataEx", &d.cuModuleLoadDataEx},
		{"cuModuleUnload", &d.cuModuleUnload},
		{"cuModuleGetFunction", &d.cuModuleGetFunction},
		{"cuFuncGetAttribute", &d.cuFuncGetAttribute},
		{"cuFuncSetAttribute", &d.cuFuncSetAttribute},
		{"cuOccupancyMaxActiveBlocksPerMultiprocessor", &d.cuOccupancyMaxActiveBlocks},
		{"cuMemAlloc_v2", &d.cuMemAlloc},
		{"cuMemFree_v2", &d.cuMemFree},
		{"cuMemcpyHtoD_v2", &d.cuMemcpyHtoD},
		{"cuMemcpyDtoH_v2", &d.cuMemcpyDtoH},
		{"cuMemcpyDtoD_v2", &d.cuMemcpyDtoD},
		{"cuMemcpyHtoDAsync_v2", &d.cuMemcpyHtoDAsync},
		{"cuMemcpyDtoHAsync_v2", &d.cuMemcpyDtoHAsync},
		{"cuMemsetD8_v2", &d.cuMemsetD8},
		{"cuMemsetD32_v2", &d.cuMemsetD32},
		{"cuMemsetD8Async", &d.cuMemsetD8Async},
		{"cuStreamCreate", &d.cuStreamCreate},
		{"cuStreamDestroy_v2", &d.cuStreamDestroy},
		{"cuStreamSynchronize", &d.cuStreamSynchronize},
		{"cuEventCreate", &d.cuEventCreate},
		{"cuEventDestroy_v2", &d.cuEventDestroy},
		{"cuEventRecord", &d.cuEventRecord},
		{"cuEventSynchronize", &d.cuEventSynchronize},
		{"cuEventElapsedTime", &d.cuEventElapsedTime},
		{"cuStreamWaitEvent", &d.cuStreamWaitEvent},
		{"cuLaunchKernel", &d.cuLaunchKernel},
		{"cuStreamBeginCapture_v2", &d.cuStreamBeginCapture},
		{"cuStreamEndCapture", &d.cuStreamEndCapture},
		{"cuGraphInstantiateWithFlags", &d.cuGraphInstantiateWithFlags},
		{"cuGraphLaunch", &d.cuGraphLaunch},
		{"cuGraphExecDestroy", &d.cuGraphExecDestroy},
		{"cuGraphDestroy", &d.cuGraphDestroy},
	}
}

var (
	loadOnce sync.Once
	loaded   *driver
	loadErr  error
)

// Load opens the driver library and initialises it (cuInit). It is called
// by every function that needs the driver, runs once per process, and
// returns the same error on every call when there is no usable driver:
// "no CUDA driver: libcuda.so.1: ..." with the loader's reason.
func Load() error {
	_, err := get()
	return err
}

func get() (*driver, error) {
	loadOnce.Do(func() {
		loaded, loadErr = open(libraryName)
		if loadErr == nil || !strings.HasPrefix(loadErr.Error(), "no CUDA driver: "+libraryName+":") {
			return
		}
		// The soname was not on the loader's path. Container images often
		// mount the driver where only the environment of a login shell
		// points; try the usual places before giving up, and report the
		// soname's error if none has it.
		for _, p := range fallbackPaths {
			if _, err := os.Stat(p); err == nil {
				loaded, loadErr = open(p)
				return
			}
		}
	})
	return loaded, loadErr
}

// fallbackPaths are where drivers are commonly installed when libcuda.so.1
// is not on the loader's search path.
var fallbackPaths = []string{
	"/usr/local/nvidia/lib64/libcuda.so.1",
	"/usr/lib/x86_64-linux-gnu/libcuda.so.1",
	"/usr/lib64/libcuda.so.1",
	"/usr/lib/aarch64-linux-gnu/libcuda.so.1",
	"/usr/lib/wsl/lib/libcuda.so.1",
}

// open loads the library at path (a soname or a file), binds every entry
// point and calls cuInit. Every failure is reported as "no CUDA driver".
func open(path string) (*driver, error) {
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		msg := err.Error()
		// dlerror already names the file it could not open; don't say it twice.
		if !strings.HasPrefix(msg, path) {
			msg = path + ": " + msg
		}
		return nil, fmt.Errorf("no CUDA driver: %s", msg)
	}
	d := &driver{path: path, handle: h}
	for _, s := range d.symbols() {
		p, err := purego.Dlsym(h, s.name)
		if err != nil || p == 0 {
			_ = purego.Dlclose(h)
			return nil, fmt.Errorf("no CUDA driver: %s has no %s (a driver older than CUDA 11.4, or not the CUDA driver)", path, s.name)
		}
		purego.RegisterFunc(s.fn, p)
	}
	if r := d.cuInit(0); r != success {
		err := d.err("cuInit", r)
		_ = purego.Dlclose(h)
		return nil, fmt.Errorf("no usable CUDA device: %w", err)
	}
	return d, nil
}

// err builds the Error of a failed call, asking the driver for the code's
// name and description.
func (d *driver) err(op string, r Result) *Error {
	e := &Error{Op: op, Code: r, Name: fmt.Sprintf("CUresult %d", int32(r))}
	var p *byte
	if d.cuGetErrorName(r, &p) == success && p != nil {
		e.Name = cString(p)
	}
	p = nil
	if d.cuGetErrorString(r, &p) == success && p != nil {
		e.Msg = cString(p)
	}
	return e
}

// check turns a result into nil or an *Error.
func (d *driver) check(op string, r Result) error {
	if r == success {
		return nil
	}
	return d.err(op, r)
}

// cString copies a NUL-terminated string that the driver owns (static
// storage, never freed) into Go memory.
func cString(p *byte) string {
	var b []byte
	for q := unsafe.Pointer(p); *(*byte)(q) != 0; q = unsafe.Add(q, 1) {
		b = append(b, *(*byte)(q))
		if len(b) > 1<<16 { // a driver string is short; stop on garbage
			break
		}
	}
	return string(b)
}

// DriverVersion returns the CUDA version the driver supports, as
// 1000·major + 10·minor (13000 for CUDA 13.0).
func DriverVersion() (int, error) {
	d, err := get()
	if err != nil {
		return 0, err
	}
	var v int32
	if err := d.check("cuDriverGetVersion", d.cuDriverGetVersion(&v)); err != nil {
		return 0, err
	}
	return int(v), nil
}

// IsNoDevice reports whether err says there is no driver or no device, the
// condition under which GPU tests skip and `sqc run` suggests --cpu.
func IsNoDevice(err error) bool {
	if err == nil {
		return false
	}
	if e, ok := err.(interface{ Unwrap() error }); ok {
		if ce, ok := e.Unwrap().(*Error); ok && ce.Code == errNoDevice {
			return true
		}
	}
	if ce, ok := err.(*Error); ok && ce.Code == errNoDevice {
		return true
	}
	return strings.HasPrefix(err.Error(), "no CUDA driver") || strings.HasPrefix(err.Error(), "no usable CUDA device")
}

package cuda

import (
	"fmt"
	"runtime"
	"strings"
)

// JIT options of cuModuleLoadDataEx (CUjit_option in cuda.h).
const (
	jitWallTime           = 2
	jitInfoLogBuffer      = 3
	jitInfoLogBufferSize  = 4
	jitErrorLogBuffer     = 5
	jitErrorLogBufferSize = 6
	jitLogVerbose         = 12
)

// jitLogSize is the size of each JIT log buffer. ptxas writes one line per
// kernel (registers, shared memory, spills) and one per error, so 64 KiB
// holds the logs of a large module.
const jitLogSize = 64 << 10

// Module is a loaded module: PTX compiled by the driver's JIT for the
// context's device.
type Module struct {
	ctx *Context
	h   uintptr
	// InfoLog is the JIT's information log (with verbose logging, ptxas's
	// resource report for every kernel: registers, spills, shared memory).
	InfoLog string
	// WallTimeMs is how long the JIT took.
	WallTimeMs float32
}

// LoadPTX compiles PTX text with the driver's JIT and loads it. On failure
// the error carries the JIT's error log, which names the PTX line and what
// is wrong with it ("ptxas application ptx input, line 12; error : ...").
func (c *Context) LoadPTX(ptx string) (*Module, error) {
	image := make([]byte, len(ptx)+1) // NUL-terminated, as the driver wants
	copy(image, ptx)
	infoLog := make([]byte, jitLogSize)
	errLog := make([]byte, jitLogSize)
	opts := []int32{jitInfoLogBuffer, jitInfoLogBufferSize, jitErrorLogBuffer, jitErrorLogBufferSize, jitLogVerbose, jitWallTime}
	// Option values are pointer-sized slots: buffers by address, sizes and
	// flags by value. The driver writes back the bytes used into the size
	// slots and the wall time (a float) into its slot.
	vals := make([]uintptr, len(opts))
	var pin runtime.Pinner
	pin.Pin(&infoLog[0])
	pin.Pin(&errLog[0])
	defer pin.Unpin()
	vals[0] = uintptrOf(&infoLog[0])
	vals[1] = uintptr(len(infoLog))
	vals[2] = uintptrOf(&errLog[0])
	vals[3] = uintptr(len(errLog))
	vals[4] = 1
	vals[5] = 0
	var h uintptr
	err := c.do("cuModuleLoadDataEx", func() Result {
		return c.d.cuModuleLoadDataEx(&h, &image[0], uint32(len(opts)), &opts[0], &vals[0])
	})
	runtime.KeepAlive(image)
	runtime.KeepAlive(infoLog)
	runtime.KeepAlive(errLog)
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.Log = logText(errLog)
			if e.Log == "" {
				e.Log = logText(infoLog)
			}
		}
		return nil, fmt.Errorf("loading PTX module: %w", err)
	}
	m := &Module{ctx: c, h: h, InfoLog: logText(infoLog), WallTimeMs: float32FromSlot(vals[5])}
	return m, nil
}

// logText returns the NUL-terminated text of a JIT log buffer.
func logText(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return strings.TrimSpace(string(b[:i]))
		}
	}
	return strings.TrimSpace(string(b))
}

// Unload unloads the module; its functions become invalid.
func (m *Module) Unload() error {
	if m == nil || m.h == 0 {
		return nil
	}
	h := m.h
	m.h = 0
	return m.ctx.do("cuModuleUnload", func() Result { return m.ctx.d.cuModuleUnload(h) })
}

// FunctionAttribute is a CUfunction_attribute.
type FunctionAttribute int32

// Function attributes (values from cuda.h).
const (
	FuncMaxThreadsPerBlock        FunctionAttribute = 0
	FuncSharedSizeBytes           FunctionAttribute = 1
	FuncLocalSizeBytes            FunctionAttribute = 3
	FuncNumRegs                   FunctionAttribute = 4
	FuncPTXVersion                FunctionAttribute = 5
	FuncBinaryVersion             FunctionAttribute = 6
	FuncMaxDynamicSharedSizeBytes FunctionAttribute = 8
)

// Function is a kernel of a loaded module.
type Function struct {
	Name string
	mod  *Module
	h    uintptr
}

// Function looks up a kernel by its (unmangled, .entry) name.
func (m *Module) Function(name string) (*Function, error) {
	if m == nil || m.h == 0 {
		return nil, fmt.Errorf("kernel %s: module is unloaded", name)
	}
	var h uintptr
	if err := m.ctx.do("cuModuleGetFunction", func() Result { return m.ctx.d.cuModuleGetFunction(&h, m.h, name) }); err != nil {
		return nil, fmt.Errorf("kernel %s: %w", name, err)
	}
	return &Function{Name: name, mod: m, h: h}, nil
}

// Attribute reads a function attribute (registers, local memory ...).
func (f *Function) Attribute(a FunctionAttribute) (int, error) {
	var v int32
	c := f.mod.ctx
	if err := c.do("cuFuncGetAttribute", func() Result { return c.d.cuFuncGetAttribute(&v, int32(a), f.h) }); err != nil {
		return 0, fmt.Errorf("kernel %s: %w", f.Name, err)
	}
	return int(v), nil
}

// MaxActiveBlocks is the number of blocks of the given size, with the
// given dynamic shared memory, that one SM holds at once, as the driver
// works it out from the kernel's registers and shared memory (its
// occupancy).
func (f *Function) MaxActiveBlocks(threads, dynamicShared int) (int, error) {
	var n int32
	c := f.mod.ctx
	if err := c.do("cuOccupancyMaxActiveBlocksPerMultiprocessor", func() Result {
		return c.d.cuOccupancyMaxActiveBlocks(&n, f.h, int32(threads), uintptr(dynamicShared))
	}); err != nil {
		return 0, fmt.Errorf("kernel %s: blocks an SM: %w", f.Name, err)
	}
	return int(n), nil
}

// SetMaxDynamicSharedMemory allows launches with up to n bytes of dynamic
// shared memory; a kernel may use more than 48 KiB only after this.
func (f *Function) SetMaxDynamicSharedMemory(n int) error {
	c := f.mod.ctx
	if err := c.do("cuFuncSetAttribute", func() Result {
		return c.d.cuFuncSetAttribute(f.h, int32(FuncMaxDynamicSharedSizeBytes), int32(n))
	}); err != nil {
		return fmt.Errorf("kernel %s: allowing %d bytes of dynamic shared memory: %w", f.Name, n, err)
	}
	return nil
}

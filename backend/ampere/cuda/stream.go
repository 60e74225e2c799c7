package cuda

import (
	"fmt"
	"math"
	"runtime"
	"unsafe"
)

// uintptrOf returns the address of a pinned or otherwise immovable object
// for a table the driver reads (JIT option values, kernel parameters).
func uintptrOf[T any](p *T) uintptr { return uintptr(unsafe.Pointer(p)) }

// float32FromSlot reads a float the driver stored in a pointer-sized slot
// (little-endian: the float's four bytes are the slot's low half).
func float32FromSlot(v uintptr) float32 { return math.Float32frombits(uint32(v)) }

// streamDefault is CU_STREAM_DEFAULT: the stream is ordered with the
// legacy default stream, on which the synchronous copies and memsets of
// this package (Upload, Download, MemsetD8 ...) run. A non-blocking stream
// would race with them: a synchronous host-to-device copy from pageable
// memory may return before its DMA has finished.
const streamDefault = 0

// Stream is a CUDA stream, an ordered queue of device work.
type Stream struct {
	ctx *Context
	h   uintptr
}

// NewStream creates a stream ordered with the synchronous copies.
func (c *Context) NewStream() (*Stream, error) {
	var h uintptr
	if err := c.do("cuStreamCreate", func() Result { return c.d.cuStreamCreate(&h, streamDefault) }); err != nil {
		return nil, err
	}
	return &Stream{ctx: c, h: h}, nil
}

// Destroy destroys the stream once its work is done.
func (s *Stream) Destroy() error {
	if s == nil || s.h == 0 {
		return nil
	}
	h := s.h
	s.h = 0
	return s.ctx.do("cuStreamDestroy_v2", func() Result { return s.ctx.d.cuStreamDestroy(h) })
}

// Synchronize waits for the stream's work to finish and reports the first
// error of an asynchronous launch (an illegal address, say).
func (s *Stream) Synchronize() error {
	return s.ctx.do("cuStreamSynchronize", func() Result { return s.ctx.d.cuStreamSynchronize(s.h) })
}

// Dim3 is a grid or block size.
type Dim3 struct{ X, Y, Z uint32 }

// D1 is a one-dimensional size.
func D1(x int) Dim3 { return Dim3{uint32(x), 1, 1} }

// Launch queues kernel f on the stream. Each argument is one kernel
// parameter, in the order of the .entry's parameter list: DevicePtr,
// uint64 and int64 for 8-byte parameters, int32, uint32 and float32 for
// 4-byte ones, float64 for .f64; any other type is an error rather than a
// guess at the parameter's size.
func (s *Stream) Launch(f *Function, grid, block Dim3, sharedMem int, args ...any) error {
	// Every parameter gets an 8-byte slot (PTX parameters are at most 8
	// bytes here, and a slot's start is aligned for any of them); the
	// driver reads each through the pointer table.
	slots := make([]uint64, max(len(args), 1))
	ptrs := make([]uintptr, max(len(args), 1))
	var pin runtime.Pinner
	pin.Pin(&slots[0])
	defer pin.Unpin()
	for i, a := range args {
		switch v := a.(type) {
		case DevicePtr:
			slots[i] = uint64(v)
		case uint64:
			slots[i] = v
		case int64:
			slots[i] = uint64(v)
		case int32:
			slots[i] = uint64(uint32(v))
		case uint32:
			slots[i] = uint64(v)
		case float32:
			slots[i] = uint64(math.Float32bits(v))
		case float64:
			slots[i] = math.Float64bits(v)
		case *Buffer:
			if v == nil || v.Ptr == 0 {
				return fmt.Errorf("launching %s: argument %d is a freed buffer", f.Name, i)
			}
			slots[i] = uint64(v.Ptr)
		default:
			return fmt.Errorf("launching %s: argument %d has type %T, want DevicePtr, *Buffer, uint64, int64, int32, uint32, float32 or float64", f.Name, i, a)
		}
		ptrs[i] = uintptrOf(&slots[i])
	}
	if grid.X == 0 || grid.Y == 0 || grid.Z == 0 || block.X == 0 || block.Y == 0 || block.Z == 0 {
		return fmt.Errorf("launching %s: grid %v and block %v, want every dimension > 0", f.Name, grid, block)
	}
	var params *uintptr
	if len(args) > 0 {
		params = &ptrs[0]
	}
	err := s.ctx.do("cuLaunchKernel", func() Result {
		return s.ctx.d.cuLaunchKernel(f.h, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, uint32(sharedMem), s.h, params, nil)
	})
	runtime.KeepAlive(slots)
	runtime.KeepAlive(ptrs)
	if err != nil {
		return fmt.Errorf("launching %s (grid %v, block %v, %d bytes shared): %w", f.Name, grid, block, sharedMem, err)
	}
	return nil
}

// Event marks a point in a stream, for timing and waiting.
type Event struct {
	ctx *Context
	h   uintptr
}

// NewEvent creates an event that records time (flags 0:
// CU_EVENT_DEFAULT).
func (c *Context) NewEvent() (*Event, error) {
	var h uintptr
	if err := c.do("cuEventCreate", func() Result { return c.d.cuEventCreate(&h, 0) }); err != nil {
		return nil, err
	}
	return &Event{ctx: c, h: h}, nil
}

// NewOrderEvent creates an event for ordering streams only, which takes
// no timestamp (CU_EVENT_DISABLE_TIMING): cheaper to record and wait on.
func (c *Context) NewOrderEvent() (*Event, error) {
	var h uintptr
	if err := c.do("cuEventCreate", func() Result { return c.d.cuEventCreate(&h, eventDisableTiming) }); err != nil {
		return nil, err
	}
	return &Event{ctx: c, h: h}, nil
}

// eventDisableTiming is CU_EVENT_DISABLE_TIMING.
const eventDisableTiming = 0x2

// Wait makes the stream's later work wait until the device has passed
// the event's last record. Under capture it becomes an edge of the graph
// (the stream joins the capture if the record was captured).
func (s *Stream) Wait(e *Event) error {
	return s.ctx.do("cuStreamWaitEvent", func() Result { return s.ctx.d.cuStreamWaitEvent(s.h, e.h, 0) })
}

// Destroy destroys the event.
func (e *Event) Destroy() error {
	if e == nil || e.h == 0 {
		return nil
	}
	h := e.h
	e.h = 0
	return e.ctx.do("cuEventDestroy_v2", func() Result { return e.ctx.d.cuEventDestroy(h) })
}

// Record records the event at the stream's current end.
func (e *Event) Record(s *Stream) error {
	return e.ctx.do("cuEventRecord", func() Result { return e.ctx.d.cuEventRecord(e.h, s.h) })
}

// Synchronize waits until the device has passed the event.
func (e *Event) Synchronize() error {
	return e.ctx.do("cuEventSynchronize", func() Result { return e.ctx.d.cuEventSynchronize(e.h) })
}

// ElapsedMs returns the device time between two recorded events, in
// milliseconds (resolution about half a microsecond).
func ElapsedMs(start, end *Event) (float32, error) {
	var ms float32
	err := start.ctx.do("cuEventElapsedTime", func() Result { return start.ctx.d.cuEventElapsedTime(&ms, start.h, end.h) })
	return ms, err
}

// Stream capture modes (CUstreamCaptureMode). Relaxed lets other threads
// (other goroutines' OS threads) make driver calls, allocations included,
// while a capture is open: Go gives no control over which thread runs
// what, so the stricter modes would fail at random.
const captureModeRelaxed = 2

// BeginCapture starts recording the stream's work into a graph instead of
// running it.
func (s *Stream) BeginCapture() error {
	return s.ctx.do("cuStreamBeginCapture_v2", func() Result { return s.ctx.d.cuStreamBeginCapture(s.h, captureModeRelaxed) })
}

// Graph is a captured CUDA graph.
type Graph struct {
	ctx *Context
	h   uintptr
}

// EndCapture ends the capture begun by BeginCapture and returns the graph.
func (s *Stream) EndCapture() (*Graph, error) {
	var h uintptr
	if err := s.ctx.do("cuStreamEndCapture", func() Result { return s.ctx.d.cuStreamEndCapture(s.h, &h) }); err != nil {
		return nil, err
	}
	return &Graph{ctx: s.ctx, h: h}, nil
}

// Destroy destroys the graph (instantiated executables stay valid).
func (g *Graph) Destroy() error {
	if g == nil || g.h == 0 {
		return nil
	}
	h := g.h
	g.h = 0
	return g.ctx.do("cuGraphDestroy", func() Result { return g.ctx.d.cuGraphDestroy(h) })
}

// GraphExec is an instantiated graph, launchable many times.
type GraphExec struct {
	ctx *Context
	h   uintptr
}

// Instantiate makes an executable graph.
func (g *Graph) Instantiate() (*GraphExec, error) {
	var h uintptr
	if err := g.ctx.do("cuGraphInstantiateWithFlags", func() Result { return g.ctx.d.cuGraphInstantiateWithFlags(&h, g.h, 0) }); err != nil {
		return nil, err
	}
	return &GraphExec{ctx: g.ctx, h: h}, nil
}

// Launch replays the graph on a stream.
func (x *GraphExec) Launch(s *Stream) error {
	return x.ctx.do("cuGraphLaunch", func() Result { return x.ctx.d.cuGraphLaunch(x.h, s.h) })
}

// Destroy destroys the executable graph.
func (x *GraphExec) Destroy() error {
	if x == nil || x.h == 0 {
		return nil
	}
	h := x.h
	x.h = 0
	return x.ctx.do("cuGraphExecDestroy", func() Result { return x.ctx.d.cuGraphExecDestroy(h) })
}

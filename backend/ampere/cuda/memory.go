package cuda

import (
	"fmt"
	"runtime"
)

// DevicePtr is a device address (CUdeviceptr).
type DevicePtr uint64

// Offset returns the address n bytes further.
func (p DevicePtr) Offset(n int) DevicePtr { return p + DevicePtr(n) }

// Plain is the element types that copy to and from the device as raw
// bytes: no pointers, fixed size.
type Plain interface {
	~int8 | ~uint8 | ~int16 | ~uint16 | ~int32 | ~uint32 | ~int64 | ~uint64 | ~float32 | ~float64
}

// Buffer is a device allocation.
type Buffer struct {
	Ptr  DevicePtr
	Size int
	ctx  *Context
}

// Alloc allocates size bytes of device memory (cuMemAlloc_v2: plain device
// memory, never managed memory).
func (c *Context) Alloc(size int) (*Buffer, error) {
	if size <= 0 {
		return nil, fmt.Errorf("cuda alloc: size %d, want > 0", size)
	}
	var p uint64
	if err := c.do("cuMemAlloc_v2", func() Result { return c.d.cuMemAlloc(&p, uintptr(size)) }); err != nil {
		return nil, fmt.Errorf("allocating %d bytes: %w", size, err)
	}
	return &Buffer{Ptr: DevicePtr(p), Size: size, ctx: c}, nil
}

// Free releases the allocation; freeing twice is a no-op.
func (b *Buffer) Free() error {
	if b == nil || b.Ptr == 0 {
		return nil
	}
	p := b.Ptr
	b.Ptr = 0
	return b.ctx.do("cuMemFree_v2", func() Result { return b.ctx.d.cuMemFree(uint64(p)) })
}

// checkRange verifies that n bytes at offset off fit in the buffer.
func (b *Buffer) checkRange(op string, off, n int) error {
	if b == nil || b.Ptr == 0 {
		return fmt.Errorf("%s: buffer is freed", op)
	}
	if off < 0 || n < 0 || off+n > b.Size {
		return fmt.Errorf("%s: %d bytes at offset %d do not fit a %d-byte buffer", op, n, off, b.Size)
	}
	return nil
}

// Upload copies src into the buffer at byte offset off, synchronously.
func Upload[T Plain](b *Buffer, off int, src []T) error {
	p, n := bytesOf(src)
	if err := b.checkRange("upload", off, n); err != nil || n == 0 {
		return err
	}
	err := b.ctx.do("cuMemcpyHtoD_v2", func() Result {
		return b.ctx.d.cuMemcpyHtoD(uint64(b.Ptr)+uint64(off), p, uintptr(n))
	})
	runtime.KeepAlive(src)
	return err
}

// Download copies len(dst) elements from the buffer at byte offset off into
// dst, synchronously.
func Download[T Plain](b *Buffer, off int, dst []T) error {
	p, n := bytesOf(dst)
	if err := b.checkRange("download", off, n); err != nil || n == 0 {
		return err
	}
	err := b.ctx.do("cuMemcpyDtoH_v2", func() Result {
		return b.ctx.d.cuMemcpyDtoH(p, uint64(b.Ptr)+uint64(off), uintptr(n))
	})
	runtime.KeepAlive(dst)
	return err
}

// NewBufferFrom allocates a buffer holding a copy of src.
func NewBufferFrom[T Plain](c *Context, src []T) (*Buffer, error) {
	_, n := bytesOf(src)
	b, err := c.Alloc(max(n, 1))
	if err != nil {
		return nil, err
	}
	if err := Upload(b, 0, src); err != nil {
		_ = b.Free()
		return nil, err
	}
	return b, nil
}

// CopyDtoD copies n bytes between device addresses, synchronously.
func (c *Context) CopyDtoD(dst, src DevicePtr, n int) error {
	return c.do("cuMemcpyDtoD_v2", func() Result { return c.d.cuMemcpyDtoD(uint64(dst), uint64(src), uintptr(n)) })
}

// MemsetD8 sets n bytes at p to v.
func (c *Context) MemsetD8(p DevicePtr, v uint8, n int) error {
	return c.do("cuMemsetD8_v2", func() Result { return c.d.cuMemsetD8(uint64(p), v, uintptr(n)) })
}

// MemsetD32 sets n 32-bit words at p (4-byte aligned) to v.
func (c *Context) MemsetD32(p DevicePtr, v uint32, n int) error {
	return c.do("cuMemsetD32_v2", func() Result { return c.d.cuMemsetD32(uint64(p), v, uintptr(n)) })
}

// Fill sets every byte of the buffer to v (tests poison outputs with it).
func (b *Buffer) Fill(v uint8) error {
	if err := b.checkRange("fill", 0, b.Size); err != nil {
		return err
	}
	return b.ctx.MemsetD8(b.Ptr, v, b.Size)
}

// UploadAsync copies src to device address dst in stream order. src must
// stay unchanged and reachable until the stream has passed the copy; for
// pageable host memory the driver stages the data before returning, so
// the common case is safe, but callers should not rely on it.
func UploadAsync[T Plain](s *Stream, dst DevicePtr, src []T) error {
	p, n := bytesOf(src)
	if n == 0 {
		return nil
	}
	err := s.ctx.do("cuMemcpyHtoDAsync_v2", func() Result {
		return s.ctx.d.cuMemcpyHtoDAsync(uint64(dst), p, uintptr(n), s.h)
	})
	runtime.KeepAlive(src)
	return err
}

// DownloadAsync copies from device address src into dst in stream order;
// dst is valid once the stream has been synchronized.
func DownloadAsync[T Plain](s *Stream, dst []T, src DevicePtr) error {
	p, n := bytesOf(dst)
	if n == 0 {
		return nil
	}
	err := s.ctx.do("cuMemcpyDtoHAsync_v2", func() Result {
		return s.ctx.d.cuMemcpyDtoHAsync(p, uint64(src), uintptr(n), s.h)
	})
	runtime.KeepAlive(dst)
	return err
}

// MemsetD8Async sets n bytes at p to v in stream order.
func (s *Stream) MemsetD8Async(p DevicePtr, v uint8, n int) error {
	return s.ctx.do("cuMemsetD8Async", func() Result { return s.ctx.d.cuMemsetD8Async(uint64(p), v, uintptr(n), s.h) })
}

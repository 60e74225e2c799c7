package cuda

import (
	"fmt"
	"runtime"
	"unsafe"
)

// DeviceAttribute is a CUdevice_attribute.
type DeviceAttribute int32

// The device attributes the backend reads (values from cuda.h).
const (
	AttrMaxThreadsPerBlock           DeviceAttribute = 1
	AttrClockRateKHz                 DeviceAttribute = 13
	AttrMultiprocessorCount          DeviceAttribute = 16
	AttrMemoryClockRateKHz           DeviceAttribute = 36
	AttrGlobalMemoryBusWidth         DeviceAttribute = 37
	AttrL2CacheSize                  DeviceAttribute = 38
	AttrComputeCapabilityMajor       DeviceAttribute = 75
	AttrComputeCapabilityMinor       DeviceAttribute = 76
	AttrMaxSharedMemoryPerBlockOptin DeviceAttribute = 97
)

// Device is one GPU, by ordinal.
type Device struct {
	Ordinal int
	h       int32
}

// DeviceCount returns the number of CUDA devices.
func DeviceCount() (int, error) {
	d, err := get()
	if err != nil {
		return 0, err
	}
	var n int32
	if err := d.check("cuDeviceGetCount", d.cuDeviceGetCount(&n)); err != nil {
		return 0, err
	}
	return int(n), nil
}

// GetDevice returns device number ordinal.
func GetDevice(ordinal int) (Device, error) {
	d, err := get()
	if err != nil {
		return Device{}, err
	}
	n, err := DeviceCount()
	if err != nil {
		return Device{}, err
	}
	if ordinal < 0 || ordinal >= n {
		return Device{}, fmt.Errorf("cuda device %d: there are %d devices", ordinal, n)
	}
	var h int32
	if err := d.check("cuDeviceGet", d.cuDeviceGet(&h, int32(ordinal))); err != nil {
		return Device{}, err
	}
	return Device{Ordinal: ordinal, h: h}, nil
}

// Name returns the device's marketing name ("NVIDIA H100 80GB HBM3").
func (dev Device) Name() (string, error) {
	d, err := get()
	if err != nil {
		return "", err
	}
	buf := make([]byte, 256)
	if err := d.check("cuDeviceGetName", d.cuDeviceGetName(&buf[0], int32(len(buf)), dev.h)); err != nil {
		return "", err
	}
	for i, c := range buf {
		if c == 0 {
			return string(buf[:i]), nil
		}
	}
	return string(buf), nil
}

// Attribute returns one device attribute.
func (dev Device) Attribute(a DeviceAttribute) (int, error) {
	d, err := get()
	if err != nil {
		return 0, err
	}
	var v int32
	if err := d.check("cuDeviceGetAttribute", d.cuDeviceGetAttribute(&v, int32(a), dev.h)); err != nil {
		return 0, fmt.Errorf("device attribute %d: %w", a, err)
	}
	return int(v), nil
}

// ComputeCapability returns the SM version, such as 9, 0 for Hopper.
func (dev Device) ComputeCapability() (major, minor int, err error) {
	if major, err = dev.Attribute(AttrComputeCapabilityMajor); err != nil {
		return 0, 0, err
	}
	minor, err = dev.Attribute(AttrComputeCapabilityMinor)
	return major, minor, err
}

// MemoryBandwidth returns the device memory's peak bandwidth in bytes a
// second, as the driver reports its clock and bus width: two transfers a
// clock (DDR, and HBM as the driver reports it) of the bus's width.
func (dev Device) MemoryBandwidth() (float64, error) {
	khz, err := dev.Attribute(AttrMemoryClockRateKHz)
	if err != nil {
		return 0, err
	}
	bits, err := dev.Attribute(AttrGlobalMemoryBusWidth)
	if err != nil {
		return 0, err
	}
	return 2 * float64(khz) * 1e3 * float64(bits) / 8, nil
}

// MultiprocessorCount returns the number of SMs.
func (dev Device) MultiprocessorCount() (int, error) {
	return dev.Attribute(AttrMultiprocessorCount)
}

// TotalMem returns the device memory in bytes.
func (dev Device) TotalMem() (uint64, error) {
	d, err := get()
	if err != nil {
		return 0, err
	}
	var n uint64
	if err := d.check("cuDeviceTotalMem_v2", d.cuDeviceTotalMem(&n, dev.h)); err != nil {
		return 0, err
	}
	return n, nil
}

// Describe returns a one-line summary: name, compute capability, SMs and
// memory, for logs and benchmark reports.
func (dev Device) Describe() string {
	name, err := dev.Name()
	if err != nil {
		return fmt.Sprintf("cuda device %d (%v)", dev.Ordinal, err)
	}
	maj, min, _ := dev.ComputeCapability()
	sms, _ := dev.MultiprocessorCount()
	mem, _ := dev.TotalMem()
	return fmt.Sprintf("%s (sm_%d%d, %d SMs, %.0f GiB)", name, maj, min, sms, float64(mem)/(1<<30))
}

// Context is a device's primary context, shared with every other user of
// the driver API or the runtime API in the process (the runtime uses the
// primary context too, so sqc and, say, a profiler see the same
// allocations).
type Context struct {
	Device Device
	d      *driver
	h      uintptr
}

// RetainPrimaryContext retains the device's primary context; Release gives
// it back.
func (dev Device) RetainPrimaryContext() (*Context, error) {
	d, err := get()
	if err != nil {
		return nil, err
	}
	var h uintptr
	if err := d.check("cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain(&h, dev.h)); err != nil {
		return nil, err
	}
	return &Context{Device: dev, d: d, h: h}, nil
}

// Release releases the primary context retained by RetainPrimaryContext.
// Objects made in it (buffers, modules, streams) must be freed first.
func (c *Context) Release() error {
	if c.h == 0 {
		return nil
	}
	c.h = 0
	return c.d.check("cuDevicePrimaryCtxRelease_v2", c.d.cuDevicePrimaryCtxRelease(c.Device.h))
}

// do runs f with the context current on the calling OS thread: the
// goroutine is locked to its thread for the duration, so the driver sees
// the context that cuCtxSetCurrent set.
func (c *Context) do(op string, f func() Result) error {
	if c == nil || c.h == 0 {
		return fmt.Errorf("%s: the CUDA context was released", op)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if r := c.d.cuCtxSetCurrent(c.h); r != success {
		return c.d.err("cuCtxSetCurrent", r)
	}
	return c.d.check(op, f())
}

// Synchronize waits for all work in the context.
func (c *Context) Synchronize() error {
	return c.do("cuCtxSynchronize", c.d.cuCtxSynchronize)
}

// MemInfo returns the free and total device memory in bytes.
func (c *Context) MemInfo() (free, total uint64, err error) {
	err = c.do("cuMemGetInfo_v2", func() Result { return c.d.cuMemGetInfo(&free, &total) })
	return free, total, err
}

// bytesOf views a slice of fixed-size elements as its bytes, for copies.
func bytesOf[T any](s []T) (unsafe.Pointer, int) {
	if len(s) == 0 {
		return nil, 0
	}
	var z T
	return unsafe.Pointer(&s[0]), len(s) * int(unsafe.Sizeof(z))
}

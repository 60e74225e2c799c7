package wire

import (
	"fmt"
	"os"
	"unsafe"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/plugins/internal/wirepb"
)

// Writer places tensors in a weights file, each at an offset aligned to
// Align, and returns their extents. A tensor whose data several values share
// is written once.
type Writer struct {
	f *os.File
	// input marks the extents it returns as lying in the request's file.
	input bool
	end   int64
	seen  map[dataKey]*wirepb.Extent
}

// dataKey identifies a tensor's memory: its first byte and its length.
type dataKey struct {
	p *byte
	n int
}

// NewWriter returns a writer that appends to f, which is empty. input says
// whether f is a request's weights file (the host writes it) or a
// response's (the plugin writes it).
func NewWriter(f *os.File, input bool) *Writer {
	return &Writer{f: f, input: input, seen: map[dataKey]*wirepb.Extent{}}
}

// Write stores t's data and returns its extent.
func (w *Writer) Write(t *ir.Tensor) (*wirepb.Extent, error) {
	if !littleEndian {
		return nil, errBigEndian
	}
	b := bytesOf(t.Data)
	if b == nil {
		return nil, fmt.Errorf("%v tensor holds %T", t.DType, t.Data)
	}
	key := dataKey{unsafe.SliceData(b), len(b)}
	if x, ok := w.seen[key]; ok && len(b) > 0 {
		return x, nil
	}
	off := alignUp(w.end)
	if _, err := w.f.WriteAt(b, off); err != nil {
		return nil, fmt.Errorf("writing weights file: %w", err)
	}
	w.end = off + int64(len(b))
	x := &wirepb.Extent{Input: w.input, Offset: uint64(off), Length: uint64(len(b))}
	w.seen[key] = x
	return x, nil
}

// Size is the file's length so far.
func (w *Writer) Size() int64 { return w.end }

// ReadExtent reads n elements of dt from extent x of f, a file size bytes
// long, into new memory. The extent comes from the other side of the
// protocol, so everything about it is checked.
func ReadExtent(f *os.File, size int64, dt ir.DType, n int, x *wirepb.Extent) (any, error) {
	if !littleEndian {
		return nil, errBigEndian
	}
	if err := checkExtent(x, size, dt, n); err != nil {
		return nil, err
	}
	data := ir.MakeData(dt, n)
	b := bytesOf(data)
	if _, err := f.ReadAt(b, int64(x.Offset)); err != nil {
		return nil, fmt.Errorf("reading weights file at %d: %w", x.Offset, err)
	}
	if dt == ir.Bool {
		if err := checkBools(b); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// checkExtent checks that x lies within a file of size bytes and holds
// exactly n elements of dt.
func checkExtent(x *wirepb.Extent, size int64, dt ir.DType, n int) error {
	want := uint64(n) * uint64(dt.Size())
	switch {
	case x.Length != want:
		return fmt.Errorf("extent of %d bytes for %d %v elements, want %d bytes", x.Length, n, dt, want)
	case x.Offset > uint64(size) || x.Length > uint64(size)-x.Offset:
		return fmt.Errorf("extent [%d, +%d) lies outside the %d-byte weights file", x.Offset, x.Length, size)
	}
	return nil
}

package wire

import (
	"bytes"
	"fmt"
	"os"
	"unsafe"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/plugins/internal/wirepb"
)

// Mapping is a request's weights file as the plugin sees it: the tensors of
// the decoded graph point into it, without a copy.
type Mapping struct {
	work, orig []byte
	unmap      func() error
	// given are the request's extents: only these may go back as input
	// extents, so the host finds each among the tensors it sent.
	given map[[2]uint64]bool
}

// Map maps the weights file at path; "" (a graph without large constants)
// gives an empty mapping.
func Map(path string) (*Mapping, error) {
	m := &Mapping{given: map[[2]uint64]bool{}, unmap: func() error { return nil }}
	if path == "" {
		return m, nil
	}
	if !littleEndian {
		return nil, errBigEndian
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close() // a mapping outlives its descriptor
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() == 0 {
		return m, nil
	}
	m.work, m.orig, m.unmap, err = mapFile(f, st.Size())
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Data returns n elements of dt in extent x of the mapping, pointing into
// the mapping.
func (m *Mapping) Data(dt ir.DType, n int, x *wirepb.Extent) (any, error) {
	if !x.Input {
		return nil, fmt.Errorf("a request's extent must lie in its weights file")
	}
	if err := checkExtent(x, int64(len(m.work)), dt, n); err != nil {
		return nil, err
	}
	b := m.work[x.Offset : x.Offset+x.Length]
	m.given[[2]uint64{x.Offset, x.Length}] = true
	if !aligned(b, dt.Size()) {
		// Only a writer other than ours misaligns: copy rather than fault.
		data := ir.MakeData(dt, n)
		copy(bytesOf(data), b)
		return data, nil
	}
	return over(dt, b, n), nil
}

// Unchanged returns an input extent for t when its data is still one of the
// request's extents, bytes unchanged: the host then keeps the tensor it
// sent and nothing is written.
func (m *Mapping) Unchanged(t *ir.Tensor) (*wirepb.Extent, bool) {
	b := bytesOf(t.Data)
	if len(b) == 0 || len(m.work) == 0 {
		return nil, false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(m.work)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if p < base || p-base > uintptr(len(m.work)) || uintptr(len(b)) > uintptr(len(m.work))-(p-base) {
		return nil, false
	}
	off := uint64(p - base)
	if !m.given[[2]uint64{off, uint64(len(b))}] || !bytes.Equal(b, m.orig[off:off+uint64(len(b))]) {
		return nil, false
	}
	return &wirepb.Extent{Input: true, Offset: off, Length: uint64(len(b))}, true
}

// Close unmaps the file; no tensor of the decoded graph may be used after.
func (m *Mapping) Close() error {
	m.work, m.orig = nil, nil
	unmap := m.unmap
	m.unmap = func() error { return nil }
	return unmap()
}

//go:build !unix

package wire

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// mapFile reads the file where memory maps are not available: the working
// copy the tensors point into, and the original to compare against.
func mapFile(f *os.File, size int64) (work, orig []byte, unmap func() error, err error) {
	if size > maxInt {
		return nil, nil, nil, fmt.Errorf("weights file of %d bytes is too large to read", size)
	}
	orig = make([]byte, size)
	if _, err := io.ReadFull(f, orig); err != nil {
		return nil, nil, nil, fmt.Errorf("reading weights file: %w", err)
	}
	return bytes.Clone(orig), orig, func() error { return nil }, nil
}

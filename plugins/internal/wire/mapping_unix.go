//go:build unix

package wire

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps the file twice: a private, writable copy-on-write view whose
// pages the plugin's tensors point into (a pass may change a weight in
// place without touching the file), and a shared read-only view of the file
// as the host wrote it, to tell later which tensors came back unchanged.
func mapFile(f *os.File, size int64) (work, orig []byte, unmap func() error, err error) {
	if size > maxInt {
		return nil, nil, nil, fmt.Errorf("weights file of %d bytes is too large to map", size)
	}
	fd := int(f.Fd())
	work, err = unix.Mmap(fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("mapping weights file: %w", err)
	}
	orig, err = unix.Mmap(fd, 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		unix.Munmap(work)
		return nil, nil, nil, fmt.Errorf("mapping weights file: %w", err)
	}
	unmap = func() error {
		err1 := unix.Munmap(work)
		err2 := unix.Munmap(orig)
		if err1 != nil {
			return err1
		}
		return err2
	}
	return work, orig, unmap, nil
}

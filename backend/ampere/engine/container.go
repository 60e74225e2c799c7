package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"google.golang.org/protobuf/proto"
)

// FormatVersion is the version of the container and its messages this
// build writes; a change that old readers would misread bumps it. Version
// 2: the graph text's GEMM weights are `external` references to the packed
// weights (sqir.PrintOptions.External) instead of a second copy. This
// build reads versions 1 and 2.
const FormatVersion = 2

// oldestVersion is the oldest format this build still reads.
const oldestVersion = 1

// Magic opens every engine file.
var Magic = [8]byte{'S', 'Q', 'C', 'E', 'N', 'G', '\r', '\n'}

// headerSize: magic, u32 version, u32 reserved (zero), u64 payload length,
// SHA-256 of the payload.
const headerSize = 8 + 4 + 4 + 8 + sha256.Size

// Marshal encodes e with its header. Deterministic marshalling and the
// absence of maps in the messages make equal engines equal bytes.
func Marshal(e *Engine) ([]byte, error) {
	payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encoding engine: %w", err)
	}
	var b bytes.Buffer
	b.Grow(headerSize + len(payload))
	b.Write(Magic[:])
	var hdr [16]byte
	binary.LittleEndian.PutUint32(hdr[0:], FormatVersion)
	binary.LittleEndian.PutUint64(hdr[8:], uint64(len(payload)))
	b.Write(hdr[:])
	sum := sha256.Sum256(payload)
	b.Write(sum[:])
	b.Write(payload)
	return b.Bytes(), nil
}

// Write writes e to w.
func Write(w io.Writer, e *Engine) error {
	b, err := Marshal(e)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// ErrNotEngine is returned (wrapped) for data that does not start with
// the engine magic.
var ErrNotEngine = errors.New("not an sqc engine file (bad magic number)")

// Unmarshal decodes an engine file's bytes, checking magic, version,
// length and checksum before the payload is parsed.
func Unmarshal(b []byte) (*Engine, error) {
	if len(b) < len(Magic) || !bytes.Equal(b[:len(Magic)], Magic[:]) {
		return nil, ErrNotEngine
	}
	if len(b) < headerSize {
		return nil, fmt.Errorf("truncated engine: %d bytes, shorter than the %d-byte header", len(b), headerSize)
	}
	version := binary.LittleEndian.Uint32(b[8:])
	if version < oldestVersion || version > FormatVersion {
		return nil, fmt.Errorf("engine format version %d, this sqc reads versions %d to %d (recompile the model with this sqc)", version, oldestVersion, FormatVersion)
	}
	n := binary.LittleEndian.Uint64(b[16:])
	payload := b[headerSize:]
	switch {
	case uint64(len(payload)) < n:
		return nil, fmt.Errorf("truncated engine: header says %d payload bytes, the file has %d", n, len(payload))
	case uint64(len(payload)) > n:
		return nil, fmt.Errorf("corrupt engine: %d bytes of trailing data after the %d-byte payload", uint64(len(payload))-n, n)
	}
	sum := sha256.Sum256(payload)
	if !bytes.Equal(sum[:], b[24:24+sha256.Size]) {
		return nil, errors.New("corrupt engine: the payload's SHA-256 does not match the header's checksum")
	}
	e := &Engine{}
	if err := proto.Unmarshal(payload, e); err != nil {
		return nil, fmt.Errorf("corrupt engine: %w", err)
	}
	return e, nil
}

// ReadFile reads and checks the engine at path; errors name the file.
func ReadFile(path string) (*Engine, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	e, err := Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return e, nil
}

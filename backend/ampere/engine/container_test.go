package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

func sample() *Engine {
	return &Engine{Target: &Target{Arch: "sm_80", PtxVersion: "8.5"}, Producer: "test", Graph: "graph \"g\" () -> () {}\n",
		Weights: []*Weight{{Name: "w", Kind: "dense", Data: []byte{1, 2, 3}}},
		Kernels: []*Kernel{{Name: "k", Ptx: ".version 8.5"}},
		Steps: []*Step{{Node: "n", Op: "QConv", Kernel: "k", Sparse: true, WorkPerSample: 7, WorkPerBlockX: 128, BlockX: 128,
			Args: []*Arg{{V: &Arg_Buffer{Buffer: "x"}}, {V: &Arg_U32PerSample{U32PerSample: 9}}, {V: &Arg_F32{F32: 0.5}}}}}}
}

func TestRoundTripAndDeterminism(t *testing.T) {
	b1, err := Marshal(sample())
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := Marshal(sample())
	if !bytes.Equal(b1, b2) {
		t.Fatal("two encodings of the same engine differ")
	}
	if !bytes.Equal(b1[:8], []byte("SQCENG\r\n")) || binary.LittleEndian.Uint32(b1[8:]) != FormatVersion {
		t.Fatalf("header %q", b1[:12])
	}
	e, err := Unmarshal(b1)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(e, sample()) {
		t.Fatalf("round trip changed the engine: %v", e)
	}
}

func TestBadFiles(t *testing.T) {
	good, _ := Marshal(sample())
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "not an sqc engine"},
		{"onnx", []byte("\x08\x07\x12\x04sqc"), "not an sqc engine"},
		{"header only", good[:20], "truncated engine"},
		{"truncated payload", good[:len(good)-5], "truncated engine: header says"},
		{"trailing", append(append([]byte(nil), good...), 0), "trailing data"},
		{"flipped payload byte", mod(func(b []byte) []byte { b[len(b)-3] ^= 1; return b }), "SHA-256 does not match"},
		{"flipped checksum", mod(func(b []byte) []byte { b[30] ^= 1; return b }), "SHA-256 does not match"},
		{"version 3", mod(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 3); return b }), "engine format version 3, this sqc reads versions 1 to 2"},
		{"version 0", mod(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 0); return b }), "engine format version 0, this sqc reads versions 1 to 2"},
	}
	for _, c := range cases {
		_, err := Unmarshal(c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	// Version 1 files (full graph text) are still read.
	if _, err := Unmarshal(mod(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 1); return b })); err != nil {
		t.Errorf("a version 1 engine: %v", err)
	}
	if _, err := Unmarshal(nil); !errors.Is(err, ErrNotEngine) {
		t.Errorf("empty input: %v, want ErrNotEngine", err)
	}
}

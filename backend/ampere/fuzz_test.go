package ampere

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/ir/sqir"
)

// The engine fuzz targets read arbitrary bytes as sqc inspect and sqc run
// read an engine file: the container (magic, version, length, checksum,
// protobuf), then the lowered graph (parsed and verified) and the launch
// plan's fields. Any input must give an engine or an error, never a panic.
// The checksum stops almost every mutation of a whole file early, so
// FuzzEnginePayload puts the mutated payload behind a valid header to reach
// the protobuf and graph decoding. (What the GPU runtime checks when it
// loads a plan needs a GPU and is not fuzzed here.)

func FuzzEngineFile(f *testing.F) {
	file, _ := tinyEngine(f)
	f.Add(file)
	f.Add(file[:40])
	f.Add(engine.Magic[:])
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := engine.Unmarshal(data)
		if err != nil {
			return
		}
		readAsTools(e)
	})
}

func FuzzEnginePayload(f *testing.F) {
	_, payload := tinyEngine(f)
	f.Add(payload)
	f.Add(payload[:len(payload)/2])
	f.Fuzz(func(t *testing.T, payload []byte) {
		e, err := engine.Unmarshal(withHeader(payload))
		if err != nil {
			return
		}
		readAsTools(e)
	})
}

// readAsTools does with an engine what inspect and run --cpu do before
// running it: parse and verify its graph, and read every step's fields.
func readAsTools(e *engine.Engine) {
	Graph(e)
	var weightBytes int
	for _, w := range e.Weights {
		weightBytes += len(w.Data)
	}
	for _, s := range e.Steps {
		_ = s.Node + s.Op + s.Precision + s.Kernel + s.Note
		for _, a := range s.Args {
			_ = a.GetBuffer() + a.GetWeight()
		}
	}
	_ = e.GetTarget().GetArch() + e.GetTarget().GetPtxVersion()
}

// tinyEngine is the engine of a one-node float graph: a small seed, since
// the fuzzer minimises what it finds and a large seed makes that slow.
func tinyEngine(f *testing.F) (file, payload []byte) {
	g, err := sqir.ParseAndVerify("tiny", []byte(`graph "tiny" (%x: f32[1,8]) -> (%y) {
  %y: f32[1,8] = Relu "r" (%x)
}
`))
	if err != nil {
		f.Fatal(err)
	}
	e, err := Plan(g, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	if file, err = engine.Marshal(e); err != nil {
		f.Fatal(err)
	}
	if payload, err = (proto.MarshalOptions{Deterministic: true}).Marshal(e); err != nil {
		f.Fatal(err)
	}
	return file, payload
}

// withHeader puts a payload behind a valid engine header.
func withHeader(payload []byte) []byte {
	var b bytes.Buffer
	b.Write(engine.Magic[:])
	var hdr [16]byte
	binary.LittleEndian.PutUint32(hdr[0:], engine.FormatVersion)
	binary.LittleEndian.PutUint64(hdr[8:], uint64(len(payload)))
	b.Write(hdr[:])
	sum := sha256.Sum256(payload)
	b.Write(sum[:])
	b.Write(payload)
	return b.Bytes()
}

package onnx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sqc-project/sqc/frontend/onnx/internal/onnxpb"
	"github.com/sqc-project/sqc/frontend/onnx/onnxbuild"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// sharedDir is the project's third-party test material (models, reference
// tensors): ../shared from the repository root.
const sharedDir = "../../../shared"

func sharedPath(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(sharedDir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test material %s is absent (it lives in ../shared next to the repository): %v", p, err)
	}
	return p
}

// modelBytes serializes a builder's model or fails the test.
func modelBytes(t testing.TB, b *onnxbuild.Builder) []byte {
	t.Helper()
	data, err := b.Bytes()
	if err != nil {
		t.Fatalf("building the model: %v", err)
	}
	return data
}

// lowerBuilt decodes and lowers a built model.
func lowerBuilt(t testing.TB, b *onnxbuild.Builder) (*ir.Graph, error) {
	t.Helper()
	m, err := Decode(modelBytes(t, b), "")
	if err != nil {
		return nil, err
	}
	return m.Lower()
}

// mustLower lowers a built model and fails the test on error.
func mustLower(t testing.TB, b *onnxbuild.Builder) *ir.Graph {
	t.Helper()
	g, err := lowerBuilt(t, b)
	if err != nil {
		t.Fatalf("lowering: %v", err)
	}
	return g
}

// wantErr fails unless err is non-nil and contains every fragment.
func wantErr(t testing.TB, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", fragments)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Fatalf("error %q does not contain %q", err, f)
		}
	}
}

// editModel decodes a built model, lets edit change its protobuf form (to
// make files the builder would not write), and re-encodes it.
func editModel(t testing.TB, b *onnxbuild.Builder, edit func(m *onnxpb.ModelProto)) []byte {
	t.Helper()
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(modelBytes(t, b), mp); err != nil {
		t.Fatal(err)
	}
	edit(mp)
	data, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// nodeByName finds an IR node.
func nodeByName(t testing.TB, g *ir.Graph, name string) *ir.Node {
	t.Helper()
	for _, n := range g.Nodes {
		if n.Name == name {
			return n
		}
	}
	var names []string
	for _, n := range g.Nodes {
		names = append(names, n.Name+":"+n.Op)
	}
	t.Fatalf("no node %q in %v", name, names)
	return nil
}

// ops lists the graph's ops in order.
func opList(g *ir.Graph) string {
	var s []string
	for _, n := range g.Nodes {
		s = append(s, n.Op)
	}
	return strings.Join(s, " ")
}

// run executes a graph on the reference executor, skipping the test when an
// op's kernel is not written yet (other packages are being filled in).
func run(t testing.TB, g *ir.Graph, inputs ...*ir.Tensor) []*ir.Tensor {
	t.Helper()
	for _, n := range g.Nodes {
		if !ref.Supports(n.Op) {
			t.Skipf("the reference executor has no kernel for %s yet", n.Op)
		}
	}
	out, err := ref.Run(g, inputs...)
	if err != nil {
		t.Fatalf("running the lowered graph: %v", err)
	}
	return out
}

// constInts returns the int64 data of a constant input.
func constInts(t testing.TB, v *ir.Value) []int64 {
	t.Helper()
	if v == nil || !v.IsConst() {
		t.Fatalf("value %v is not a constant", v)
	}
	if v.Const.DType != ir.Int64 {
		t.Fatalf("constant %q is %v, want i64", v.Name, v.Const.DType)
	}
	return v.Const.Int64s()
}

func sameInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

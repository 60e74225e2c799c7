package onnx

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx/internal/onnxpb"
	"github.com/sqc-project/sqc/frontend/onnx/onnxbuild"
	"github.com/sqc-project/sqc/ir"
)

// reluModel is the smallest useful model: y = Relu(x).
func reluModel(opset int64) *onnxbuild.Builder {
	b := onnxbuild.New("tiny", opset)
	x := b.Input("x", ir.Float32, 2, 3)
	b.Add(onnxbuild.NodeSpec{Name: "relu", Op: "Relu", Inputs: []string{x}, Outputs: []string{"y"}})
	b.Output("y", ir.Float32, 2, 3)
	return b
}

func TestDecodeMetadata(t *testing.T) {
	b := reluModel(13).Import("com.microsoft", 1).Import("ai.onnx.ml", 3)
	m, err := Decode(modelBytes(t, b), "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Opset != 13 || m.IRVersion != 7 || m.Producer != "sqc-onnxbuild 1" || m.GraphName != "tiny" || m.Path != "" {
		t.Errorf("got opset %d, ir %d, producer %q, graph %q, path %q", m.Opset, m.IRVersion, m.Producer, m.GraphName, m.Path)
	}
	want := map[string]int64{"": 13, "com.microsoft": 1, "ai.onnx.ml": 3}
	if !reflect.DeepEqual(m.Imports, want) {
		t.Errorf("imports %v, want %v", m.Imports, want)
	}
	// "ai.onnx" is another spelling of the default domain.
	data := editModel(t, reluModel(13), func(mp *onnxpb.ModelProto) { mp.OpsetImport[0].Domain = "ai.onnx" })
	if m, err := Decode(data, ""); err != nil || m.Opset != 13 {
		t.Errorf("ai.onnx import: opset %v, err %v", m, err)
	}
}

func TestOpsetRange(t *testing.T) {
	for _, v := range []int64{MinOpset, 6, 7, 12, MaxOpset} {
		if _, err := lowerBuilt(t, reluModel(v)); err != nil {
			t.Errorf("opset %d: %v", v, err)
		}
	}
	for _, v := range []int64{0, -3, 22, 100} {
		_, err := Decode(modelBytes(t, reluModel(v)), "")
		wantErr(t, err, fmt.Sprintf("imports default-domain opset %d", v), "want 1 to 21")
	}
	data := editModel(t, reluModel(13), func(mp *onnxpb.ModelProto) {
		mp.OpsetImport = append(mp.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: "ai.onnx", Version: 11})
	})
	_, err := Decode(data, "")
	wantErr(t, err, "opset ai.onnx is imported twice", "13 and 11")
}

// TestMissingDefaultImport covers models that do not import the default
// domain: files from before opset_import existed are opset 1, a model whose
// nodes are all of another domain fails on its first node as an unsupported
// op, and a default-domain node without the import is an error naming it.
func TestMissingDefaultImport(t *testing.T) {
	// IR versions 1 and 2 had no opset_import: opset 1.
	data := editModel(t, reluModel(13), func(mp *onnxpb.ModelProto) { mp.OpsetImport = nil; mp.IrVersion = 2 })
	m, err := Decode(data, "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Opset != 1 || m.Imports[""] != 1 {
		t.Errorf("ir_version 2 without imports: opset %d, imports %v; want opset 1", m.Opset, m.Imports)
	}
	if _, err := m.Lower(); err != nil {
		t.Errorf("lowering Relu at opset 1: %v", err)
	}

	// Only a training domain, as ONNX's test_adagrad imports.
	b := onnxbuild.New("g", 13)
	x := b.Input("x", ir.Float32, 2)
	b.Add(onnxbuild.NodeSpec{Name: "opt", Op: "Adagrad", Domain: "ai.onnx.preview.training", Inputs: []string{x}, Outputs: []string{"y"}})
	b.Output("y", ir.Float32, 2)
	data = editModel(t, b, func(mp *onnxpb.ModelProto) {
		mp.OpsetImport = []*onnxpb.OperatorSetIdProto{{Domain: "ai.onnx.preview.training", Version: 1}}
	})
	m, err = Decode(data, "")
	if err != nil {
		t.Fatalf("a model importing only another domain must decode: %v", err)
	}
	if m.Opset != 0 {
		t.Errorf("opset %d, want 0 (not imported)", m.Opset)
	}
	_, err = m.Lower()
	wantErr(t, err, `node "opt": unsupported op Adagrad (domain ai.onnx.preview.training, opset 1)`)

	// A default-domain node in such a model.
	data = editModel(t, reluModel(13), func(mp *onnxpb.ModelProto) { mp.OpsetImport[0].Domain = "com.example" })
	m, err = Decode(data, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Lower()
	wantErr(t, err, `node "relu": op Relu is of the default domain ai.onnx, which the model does not import`, "opset 1 to 21")

	// No import at all in a file of IR version 3 or later.
	data = editModel(t, reluModel(13), func(mp *onnxpb.ModelProto) { mp.OpsetImport = nil })
	m, err = Decode(data, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Lower()
	wantErr(t, err, `node "relu": op Relu is of the default domain ai.onnx, but the model imports no opset (ir_version 7)`)
}

func TestBadBytes(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		data := make([]byte, rng.Intn(300))
		rng.Read(data)
		_, err := Decode(data, "")
		if err == nil {
			t.Fatalf("random bytes % x decoded", data)
		}
	}
	_, err := Decode([]byte("\x0a\x05hello world"), "")
	wantErr(t, err, "not a serialized ONNX ModelProto")
	_, err = Decode(nil, "")
	wantErr(t, err, "model has no graph")

	// A real model cut in half.
	src, err := os.ReadFile(sharedPath(t, "models/mnist-8.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "truncated.onnx")
	os.WriteFile(path, src[:len(src)/2], 0o644)
	_, err = Load(path)
	wantErr(t, err, path+": ", "not a serialized ONNX ModelProto: the file is truncated: field 7 at byte ", fmt.Sprintf("(%d bytes in all; was a download or copy interrupted?)", len(src)/2))
	// A text file named .onnx says so, not that it was cut short.
	os.WriteFile(path, []byte("graph \"g\" (%x: f32[2]) -> (%x) {\n}\n"), 0o644)
	_, err = Load(path)
	wantErr(t, err, path+": ", "not a serialized ONNX ModelProto: this is a text file, and ONNX models are binary protobuf")
	_, err = Load(filepath.Join(t.TempDir(), "absent.onnx"))
	wantErr(t, err, "absent.onnx", "no such file")
}

func TestGraphStructureErrors(t *testing.T) {
	t.Run("cycle", func(t *testing.T) {
		b := onnxbuild.New("g", 13)
		x := b.Input("x", ir.Float32, 2)
		b.Add(onnxbuild.NodeSpec{Name: "a", Op: "Add", Inputs: []string{x, "c_out"}, Outputs: []string{"a_out"}})
		b.Add(onnxbuild.NodeSpec{Name: "b", Op: "Relu", Inputs: []string{"a_out"}, Outputs: []string{"b_out"}})
		b.Add(onnxbuild.NodeSpec{Name: "c", Op: "Relu", Inputs: []string{"b_out"}, Outputs: []string{"c_out"}})
		b.Add(onnxbuild.NodeSpec{Name: "d", Op: "Relu", Inputs: []string{"c_out"}, Outputs: []string{"y"}})
		b.Output("y", ir.Float32, 2)
		_, err := lowerBuilt(t, b)
		wantErr(t, err, "is part of a cycle", `"a" -> "b" -> "c" -> "a"`, "must be acyclic")
	})
	t.Run("self loop", func(t *testing.T) {
		b := onnxbuild.New("g", 13)
		b.Add(onnxbuild.NodeSpec{Name: "s", Op: "Relu", Inputs: []string{"y"}, Outputs: []string{"y"}})
		b.Output("y", ir.Float32, 2)
		_, err := lowerBuilt(t, b)
		wantErr(t, err, `node "s" is part of a cycle`)
	})
	t.Run("undefined input", func(t *testing.T) {
		b := onnxbuild.New("g", 13)
		x := b.Input("x", ir.Float32, 2)
		b.Add(onnxbuild.NodeSpec{Name: "n", Op: "Add", Inputs: []string{x, "nope"}, Outputs: []string{"y"}})
		b.Output("y", ir.Float32, 2)
		_, err := lowerBuilt(t, b)
		wantErr(t, err, `node "n": input "nope" is not produced by any node, graph input or initializer`)
	})
	t.Run("two producers", func(t *testing.T) {
		b := onnxbuild.New("g", 13)
		x := b.Input("x", ir.Float32, 2)
		b.Add(onnxbuild.NodeSpec{Name: "p", Op: "Relu", Inputs: []string{x}, Outputs: []string{"y"}})
		b.Add(onnxbuild.NodeSpec{Name: "q", Op: "Relu", Inputs: []string{x}, Outputs: []string{"y"}})
		b.Output("y", ir.Float32, 2)
		_, err := lowerBuilt(t, b)
		wantErr(t, err, `node "q": output "y" is also produced by node "p"`)
	})
	t.Run("output shadows initializer", func(t *testing.T) {
		b := onnxbuild.New("g", 13)
		x := b.Input("x", ir.Float32, 2)
		b.Initializer("w", ir.FromFloat32([]float32{1, 2}, 2))
		b.Add(onnxbuild.NodeSpec{Name: "p", Op: "Relu", Inputs: []string{x}, Outputs: []string{"w"}})
		b.Output("w", ir.Float32, 2)
		_, err := lowerBuilt(t, b)
		wantErr(t, err, `node "p": output "w" has the name of an initializer`)
	})
	t.Run("missing graph output", func(t *testing.T) {
		b := reluModel(13)
		b.Output("nothing", ir.Float32, 2, 3)
		_, err := lowerBuilt(t, b)
		wantErr(t, err, `graph output 1 "nothing" is not produced`)
	})
	t.Run("input without shape", func(t *testing.T) {
		data := editModel(t, reluModel(13), func(mp *onnxpb.ModelProto) {
			mp.Graph.Input[0].Type.GetTensorType().Shape = nil
		})
		m, err := Decode(data, "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Lower()
		wantErr(t, err, `graph input "x": has no shape`)
	})
	t.Run("input of string type", func(t *testing.T) {
		data := editModel(t, reluModel(13), func(mp *onnxpb.ModelProto) {
			mp.Graph.Input[0].Type.GetTensorType().ElemType = 8
		})
		m, _ := Decode(data, "")
		_, err := m.Lower()
		wantErr(t, err, `graph input "x"`, "unsupported dtype STRING")
	})
	t.Run("wrong dtype initializer", func(t *testing.T) {
		b := onnxbuild.New("g", 13)
		x := b.Input("x", ir.Float32, 2)
		w := b.Initializer("w", ir.FromInt64([]int64{1, 2}, 2))
		b.Add(onnxbuild.NodeSpec{Name: "add", Op: "Add", Inputs: []string{x, w}, Outputs: []string{"y"}})
		b.Output("y", ir.Float32, 2)
		_, err := lowerBuilt(t, b)
		wantErr(t, err, `node "add"`, "f32 and i64", "want the same dtype")
	})
	t.Run("declared output type disagrees", func(t *testing.T) {
		b := onnxbuild.New("g", 13)
		x := b.Input("x", ir.Float32, 2, 3)
		b.Add(onnxbuild.NodeSpec{Name: "relu", Op: "Relu", Inputs: []string{x}, Outputs: []string{"y"}})
		b.Output("y", ir.Int64, 2, 3)
		_, err := lowerBuilt(t, b)
		wantErr(t, err, `graph output "y": declared i64, but the graph computes f32`)
		b = onnxbuild.New("g", 13)
		x = b.Input("x", ir.Float32, 2, 3)
		b.Add(onnxbuild.NodeSpec{Name: "relu", Op: "Relu", Inputs: []string{x}, Outputs: []string{"y"}})
		b.Output("y", ir.Float32, 3, 2)
		_, err = lowerBuilt(t, b)
		wantErr(t, err, `graph output "y": declared shape [3,2], but the graph computes [2,3]`)
	})
	t.Run("path prefix", func(t *testing.T) {
		b := onnxbuild.New("g", 13)
		x := b.Input("x", ir.Float32, 2)
		b.Add(onnxbuild.NodeSpec{Name: "r", Op: "Trilu", Inputs: []string{x}, Outputs: []string{"y"}})
		b.Output("y", ir.Float32, 2)
		path := filepath.Join(t.TempDir(), "m.onnx")
		if err := b.WriteFile(path); err != nil {
			t.Fatal(err)
		}
		_, err := Import(path)
		wantErr(t, err, path+`: node "r": unsupported op Trilu (opset 13)`)
	})
}

func TestUnsupportedOps(t *testing.T) {
	b := onnxbuild.New("g", 13)
	x := b.Input("x", ir.Float32, 2)
	b.Add(onnxbuild.NodeSpec{Name: "foo", Op: "Trilu", Inputs: []string{x}, Outputs: []string{"y"}})
	b.Output("y", ir.Float32, 2)
	_, err := lowerBuilt(t, b)
	wantErr(t, err, `node "foo": unsupported op Trilu (opset 13)`)

	b = onnxbuild.New("g", 12).Import("com.microsoft", 1)
	x = b.Input("x", ir.Float32, 2)
	b.Add(onnxbuild.NodeSpec{Name: "gelu", Op: "FastGelu", Domain: "com.microsoft", Inputs: []string{x}, Outputs: []string{"y"}})
	b.Output("y", ir.Float32, 2)
	_, err = lowerBuilt(t, b)
	wantErr(t, err, `node "gelu": unsupported op FastGelu (domain com.microsoft, opset 1)`)

	b = onnxbuild.New("g", 12)
	x = b.Input("x", ir.Float32, 2)
	b.Add(onnxbuild.NodeSpec{Name: "q", Op: "Relu", Domain: "com.example", Inputs: []string{x}, Outputs: []string{"y"}})
	b.Output("y", ir.Float32, 2)
	_, err = lowerBuilt(t, b)
	wantErr(t, err, `node "q": unsupported op Relu (domain com.example, which the model does not import)`)

	// A model may import other domains as long as no node uses them.
	b = reluModel(12).Import("com.microsoft", 1).Import("ai.onnx.ml", 3)
	if _, err := lowerBuilt(t, b); err != nil {
		t.Errorf("unused domain imports: %v", err)
	}
}

// TestNamesAndOrder covers generated and de-duplicated node names, odd value
// names, initializers listed as inputs, unused initializers, extra outputs
// and a graph whose nodes are out of order.
func TestNamesAndOrder(t *testing.T) {
	b := onnxbuild.New("names", 13)
	x := b.Input("x:0 /odd \"name\"", ir.Float32, 2)
	b.InitializerAsInput("w", ir.FromFloat32([]float32{1, 2}, 2))
	b.Initializer("unused", ir.FromFloat32([]float32{7}, 1))
	// Out of order: the consumer comes before its producer.
	b.Add(onnxbuild.NodeSpec{Name: "", Op: "Relu", Inputs: []string{"t1"}, Outputs: []string{"t2"}})     // index 0 -> Relu_0
	b.Add(onnxbuild.NodeSpec{Name: "dup", Op: "Add", Inputs: []string{x, "w"}, Outputs: []string{"t1"}}) // keeps dup
	b.Add(onnxbuild.NodeSpec{Name: "dup", Op: "Relu", Inputs: []string{"t2"}, Outputs: []string{"t3"}})  // dup_2
	b.Add(onnxbuild.NodeSpec{Name: "Relu_4", Op: "Relu", Inputs: []string{"t3"}, Outputs: []string{"t4"}})
	b.Add(onnxbuild.NodeSpec{Name: "", Op: "Relu", Inputs: []string{"t4"}, Outputs: []string{"y"}}) // Relu_4 taken -> Relu_4_2
	b.Output("y", ir.Float32, 2)
	b.Output("t1", ir.Float32, 2) // an intermediate value listed as an output
	data := modelBytes(t, b)
	m, err := Decode(data, "")
	if err != nil {
		t.Fatal(err)
	}
	var infos []string
	for _, n := range m.Nodes() {
		infos = append(infos, n.Name)
	}
	wantNames := []string{"Relu_0", "dup", "dup_2", "Relu_4", "Relu_4_2"}
	if !reflect.DeepEqual(infos, wantNames) {
		t.Errorf("Nodes() names %v, want %v (file order)", infos, wantNames)
	}
	g, err := m.Lower()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range g.Nodes {
		got = append(got, n.Name)
	}
	if want := []string{"dup", "Relu_0", "dup_2", "Relu_4", "Relu_4_2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("IR node order %v, want %v", got, want)
	}
	if len(g.Inputs) != 1 || g.Inputs[0].Name != "x:0 /odd \"name\"" {
		t.Errorf("graph inputs %v, want only the odd-named x (w is an initializer)", g.Inputs)
	}
	if g.Name != "names" {
		t.Errorf("graph name %q", g.Name)
	}
	var consts []string
	for _, c := range g.Constants() {
		consts = append(consts, c.Name)
	}
	if !reflect.DeepEqual(consts, []string{"w"}) {
		t.Errorf("constants %v, want [w] (the unused initializer dropped)", consts)
	}
	if len(g.Outputs) != 2 || g.Outputs[0].Name != "y" || g.Outputs[1].Name != "t1" {
		t.Errorf("outputs %v", g.Outputs)
	}
	// Values keep ONNX's names exactly.
	if in := nodeByName(t, g, "dup").Inputs[0]; in != g.Inputs[0] {
		t.Errorf("dup reads %v", in)
	}
	out := run(t, g, ir.FromFloat32([]float32{-5, 1}, 2))
	if got := out[0].Float32s(); !reflect.DeepEqual(got, []float32{0, 3}) {
		t.Errorf("y = %v, want [0 3]", got)
	}
}

func TestSymbolicDims(t *testing.T) {
	b := onnxbuild.New("g", 13)
	x := b.InputSym("x", ir.Float32, []string{"N", "3", "?", "4"})
	b.Add(onnxbuild.NodeSpec{Name: "relu", Op: "Relu", Inputs: []string{x}, Outputs: []string{"y"}})
	b.OutputSym("y", ir.Float32, []string{"N", "3", "H", "4"})
	g := mustLower(t, b)
	in := g.Inputs[0].Type.Shape
	if in[0] != ir.SymDim("N") || in[1] != ir.D(3) || in[2] != ir.UnknownDim || in[3] != ir.D(4) {
		t.Errorf("input shape %v, want [N,3,?,4]", in)
	}
	// The declared output names the dim inference could not know.
	if got := g.Outputs[0].Type.String(); got != "f32[N,3,H,4]" {
		t.Errorf("output type %s, want f32[N,3,H,4]", got)
	}
}

func TestNodesInfo(t *testing.T) {
	b := onnxbuild.New("g", 13)
	x := b.Input("x", ir.Float32, 1, 1, 4, 4)
	w := b.Initializer("w", ir.NewTensor(ir.Float32, 1, 1, 3, 3))
	b.Add(onnxbuild.NodeSpec{Name: "conv", Op: "Conv", Inputs: []string{x, w}, Outputs: []string{"c"},
		Attrs: map[string]any{"pads": []int64{1, 1, 1, 1}, "auto_pad": "NOTSET", "group": 1}})
	b.Add(onnxbuild.NodeSpec{Op: "Constant", Outputs: []string{"k"}, Attrs: map[string]any{"value": ir.FromInt64([]int64{1, -1}, 2)}})
	b.Add(onnxbuild.NodeSpec{Name: "lr", Op: "LeakyRelu", Inputs: []string{"c"}, Outputs: []string{"y"}, Attrs: map[string]any{"alpha": float32(0.5)}})
	b.Output("y", ir.Float32, 1, 1, 4, 4)
	m, err := Decode(modelBytes(t, b), "")
	if err != nil {
		t.Fatal(err)
	}
	nodes := m.Nodes()
	want := []NodeInfo{
		{Name: "conv", OpType: "Conv", Inputs: []string{"x", "w"}, Outputs: []string{"c"},
			Attrs: []AttrInfo{{"auto_pad", `"NOTSET"`}, {"group", "1"}, {"pads", "[1,1,1,1]"}}},
		{Name: "Constant_1", OpType: "Constant", Outputs: []string{"k"}, Attrs: []AttrInfo{{"value", "i64[2]{1,-1}"}}},
		{Name: "lr", OpType: "LeakyRelu", Inputs: []string{"c"}, Outputs: []string{"y"}, Attrs: []AttrInfo{{"alpha", "0.5"}}},
	}
	if !reflect.DeepEqual(nodes, want) {
		t.Errorf("Nodes() =\n%+v\nwant\n%+v", nodes, want)
	}
}

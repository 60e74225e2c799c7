package onnxexport_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/frontend/onnx/internal/onnxpb"
	"github.com/sqc-project/sqc/frontend/onnx/onnxexport"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/ir/sqir"
)

func decodeModel(t *testing.T, data []byte) *onnxpb.ModelProto {
	t.Helper()
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		t.Fatal(err)
	}
	return m
}

// nodeSummary writes a graph's nodes as "Op(in,in)->out" lines.
func nodeSummary(gp *onnxpb.GraphProto) string {
	var b strings.Builder
	for _, n := range gp.GetNode() {
		b.WriteString(n.GetName() + ": " + n.GetOpType() + "(" + strings.Join(n.GetInput(), ",") + ")->" + strings.Join(n.GetOutput(), ",") + "\n")
	}
	return b.String()
}

// TestEncodeStructure checks the ModelProto written for epilogueGraph field
// by field: header, typed inputs with dim_param, the decomposed nodes with
// their names and "" for absent inputs, attribute types, and the raw bytes
// of 16-bit float, bool and int8 initializers.
func TestEncodeStructure(t *testing.T) {
	g := epilogueGraph(t)
	data, err := onnxexport.Encode(g, onnxexport.Options{Producer: "sqc-test"})
	if err != nil {
		t.Fatal(err)
	}
	m := decodeModel(t, data)
	if m.GetIrVersion() != 10 || len(m.GetOpsetImport()) != 1 || m.GetOpsetImport()[0].GetDomain() != "" || m.GetOpsetImport()[0].GetVersion() != 21 {
		t.Errorf("ir_version %d, opset_import %v; want 10 and ai.onnx 21", m.GetIrVersion(), m.GetOpsetImport())
	}
	if m.GetProducerName() != "sqc-test" {
		t.Errorf("producer %q, want sqc-test", m.GetProducerName())
	}
	gp := m.GetGraph()
	if gp.GetName() != "epilogue" {
		t.Errorf("graph name %q", gp.GetName())
	}

	x := gp.GetInput()[0]
	tt := x.GetType().GetTensorType()
	dims := tt.GetShape().GetDim()
	if x.GetName() != "x" || tt.GetElemType() != 1 || len(dims) != 4 || dims[0].GetDimParam() != "N" || dims[1].GetDimValue() != 2 {
		t.Errorf("input x written as %v", x)
	}
	if len(gp.GetInput()) != 3 || len(gp.GetOutput()) != 7 {
		t.Fatalf("%d inputs and %d outputs, want 3 and 7", len(gp.GetInput()), len(gp.GetOutput()))
	}

	want := `FusedConv_0: Conv(x,W,B)->FusedConv_0_out0/Conv
FusedConv_0/Add: Add(FusedConv_0_out0/Conv,r)->FusedConv_0_out0/residual
FusedConv_0/Clip: Clip(FusedConv_0_out0/residual,,FusedConv_0_out0/clip_max)->FusedConv_0_out0
FusedGemm_1: Gemm(a,Bg,C)->FusedGemm_1_out0/Gemm
FusedGemm_1/Relu: Relu(FusedGemm_1_out0/Gemm)->FusedGemm_1_out0
Relu_3: Relu(FusedConv_0_out0)->Relu_3_out0
Relayout_4: Identity(Relu_3_out0)->Relayout_4_out0
Cast_5: Cast(h)->Cast_5_out0
Cast_6: Cast(bf)->Cast_6_out0
Cast_7: Cast(bo)->Cast_7_out0
DequantizeLinear_8: DequantizeLinear(q,q_scale,q_zp)->DequantizeLinear_8_out0
`
	if got := nodeSummary(gp); got != want {
		t.Errorf("nodes:\n%s\nwant:\n%s", got, want)
	}

	// Conv keeps its attributes with their ONNX types and loses the
	// epilogue's; Gemm's float and int attributes keep theirs.
	attrs := func(n *onnxpb.NodeProto) map[string]*onnxpb.AttributeProto {
		m := map[string]*onnxpb.AttributeProto{}
		for _, a := range n.GetAttribute() {
			m[a.GetName()] = a
		}
		return m
	}
	conv := attrs(gp.GetNode()[0])
	if len(conv) != 2 || conv["strides"].GetType() != onnxpb.AttributeProto_INTS || len(conv["strides"].GetInts()) != 2 ||
		conv["group"].GetType() != onnxpb.AttributeProto_INT || conv["group"].GetI() != 1 {
		t.Errorf("Conv attributes %v, want strides (ints) and group (int) only", gp.GetNode()[0].GetAttribute())
	}
	gemm := attrs(gp.GetNode()[3])
	if len(gemm) != 2 || gemm["alpha"].GetType() != onnxpb.AttributeProto_FLOAT || gemm["alpha"].GetF() != 0.5 ||
		gemm["transB"].GetType() != onnxpb.AttributeProto_INT || gemm["transB"].GetI() != 1 {
		t.Errorf("Gemm attributes %v, want alpha 0.5 and transB 1", gp.GetNode()[3].GetAttribute())
	}
	if a := gp.GetNode()[7].GetAttribute(); len(a) != 1 || a[0].GetName() != "to" || a[0].GetType() != onnxpb.AttributeProto_INT || a[0].GetI() != 1 {
		t.Errorf("Cast attributes %v, want to=1", a)
	}

	inits := map[string]*onnxpb.TensorProto{}
	var order []string
	for _, tp := range gp.GetInitializer() {
		inits[tp.GetName()] = tp
		order = append(order, tp.GetName())
	}
	if got := strings.Join(order, ","); got != "W,B,FusedConv_0_out0/clip_max,Bg,C,h,bf,bo,q,q_scale,q_zp" {
		t.Errorf("initializers in order %s, want first use order", got)
	}
	for _, c := range []struct {
		name string
		code int32
		dims []int64
		raw  []byte
	}{
		{"h", 10, []int64{3}, []byte{0x00, 0x3C, 0x00, 0xC0, 0x00, 0x38}},
		{"bf", 16, []int64{2}, []byte{0x80, 0x3F, 0x40, 0xC0}},
		{"bo", 9, []int64{3}, []byte{1, 0, 1}},
		{"q", 3, []int64{4}, []byte{0x80, 0xFF, 0x00, 0x7F}},
		{"q_zp", 3, []int64{}, []byte{1}},
		{"B", 1, []int64{3}, []byte{0, 0, 0, 0x3F, 0, 0, 0, 0xBF, 0, 0, 0, 0}},
		{"FusedConv_0_out0/clip_max", 1, []int64{}, []byte{0, 0, 0xC0, 0x3F}},
	} {
		tp := inits[c.name]
		if tp == nil {
			t.Errorf("no initializer %s", c.name)
			continue
		}
		if tp.GetDataType() != c.code || len(tp.GetDims()) != len(c.dims) || !bytes.Equal(tp.GetRawData(), c.raw) {
			t.Errorf("initializer %s: type %d dims %v raw % x; want %d %v % x", c.name, tp.GetDataType(), tp.GetDims(), tp.GetRawData(), c.code, c.dims, c.raw)
		}
		for i := range c.dims {
			if tp.GetDims()[i] != c.dims[i] {
				t.Errorf("initializer %s: dims %v, want %v", c.name, tp.GetDims(), c.dims)
			}
		}
	}

	// Intermediate values are described, graph outputs are not repeated
	// there, and the aliased Relayout output appears nowhere.
	vis := map[string]*onnxpb.ValueInfoProto{}
	for _, vi := range gp.GetValueInfo() {
		vis[vi.GetName()] = vi
	}
	if vi := vis["FusedConv_0_out0/Conv"]; vi == nil || len(vi.GetType().GetTensorType().GetShape().GetDim()) != 4 ||
		vi.GetType().GetTensorType().GetShape().GetDim()[0].GetDimParam() != "N" || vi.GetType().GetTensorType().GetShape().GetDim()[1].GetDimValue() != 3 {
		t.Errorf("value_info of the conv temporary: %v", vi)
	}
	if vis["FusedConv_0_out0"] != nil || vis["Relayout_2_out0"] != nil {
		t.Errorf("value_info repeats a graph output or names the dropped Relayout's output")
	}
	if strings.Contains(string(data), "Relayout_2_out0") {
		t.Errorf("the dropped Relayout's output name is in the model")
	}
}

// TestEpilogueValues runs the re-imported epilogueGraph on the reference
// executor and compares with values computed from the ops' definitions.
func TestEpilogueValues(t *testing.T) {
	g := epilogueGraph(t)
	in := epilogueInputs()
	want := epilogueWant(in)
	for _, opset := range []int64{13, 17, 21} {
		g2 := reimport(t, g, onnxexport.Options{Opset: opset})
		got, err := ref.Run(g2, in...)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range want {
			d := got[i].Float32s()
			if len(d) != len(w) {
				t.Fatalf("opset %d: output %d has %d values, want %d", opset, i, len(d), len(w))
			}
			for k := range w {
				if d[k] != w[k] {
					t.Errorf("opset %d: output %s[%d] = %v, want %v", opset, g.Outputs[i].Name, k, d[k], w[k])
				}
			}
		}
	}
}

// TestDeterministic encodes the same graph twice, and two graphs imported
// separately from one file, and expects the same bytes.
func TestDeterministic(t *testing.T) {
	a, err := onnxexport.Encode(epilogueGraph(t), onnxexport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		b, err := onnxexport.Encode(epilogueGraph(t), onnxexport.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatal("two encodings of the same graph differ")
		}
	}
	_, paths := allModels(t)
	for name, path := range paths {
		var first []byte
		for i := 0; i < 2; i++ {
			g, err := onnx.Import(path)
			if err != nil {
				t.Fatal(err)
			}
			b, err := onnxexport.Encode(g, onnxexport.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if i == 1 && !bytes.Equal(first, b) {
				t.Errorf("%s: two imports of one file encode differently", name)
			}
			first = b
		}
	}
}

func init() {
	// Ops of a make-believe package, to exercise the decomposer registry
	// from outside as such a package would.
	infer := func(c *ir.InferContext) error { c.SetOut(0, c.In[0]); return nil }
	ir.Register(&ir.OpSchema{Name: "TestAffine", Doc: "2x + 1, a test op with a decomposer", MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1, Infer: infer})
	ir.Register(&ir.OpSchema{Name: "TestOrphan", Doc: "a test op with no decomposer", MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1, Infer: infer})
	ir.Register(&ir.OpSchema{Name: "TestForgetful", Doc: "a test op whose decomposer writes nothing", MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1, Infer: infer})
	ir.Register(&ir.OpSchema{Name: "TestPanicky", Doc: "a test op whose decomposer panics", MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1, Infer: infer})
	ir.Register(&ir.OpSchema{Name: "TestCustom", Doc: "a test op whose decomposer writes a non-ONNX op", MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1, Infer: infer})
	onnxexport.RegisterDecomposer("TestAffine", func(e onnxexport.Emitter, n *ir.Node) error {
		x, y := n.Inputs[0], n.Outputs[0]
		two := e.Const(y.Name+"/two", f32s(nil, 2))
		tmp := e.Temp(y.Name+"/doubled", y.Type)
		if err := e.Node("Mul", []*ir.Value{x, two}, []*ir.Value{tmp}, nil); err != nil {
			return err
		}
		return e.Node("Add", []*ir.Value{tmp, e.Const(y.Name+"/one", f32s(nil, 1))}, []*ir.Value{y}, nil)
	})
	onnxexport.RegisterDecomposer("TestForgetful", func(e onnxexport.Emitter, n *ir.Node) error { return nil })
	onnxexport.RegisterDecomposer("TestPanicky", func(e onnxexport.Emitter, n *ir.Node) error {
		_ = n.Inputs[5] // out of range: a bug in the decomposer
		return nil
	})
	onnxexport.RegisterDecomposer("TestCustom", func(e onnxexport.Emitter, n *ir.Node) error {
		return e.Node("TestCustom", n.Inputs, n.Outputs, nil)
	})
}

func oneOpGraph(t *testing.T, op string) *ir.Graph {
	b := newBuilder(t, "one")
	x := b.input("x", ir.Float32, ir.D(3))
	b.output(b.one(op, []*ir.Value{x}, nil))
	return b.graph()
}

func TestRegisteredDecomposer(t *testing.T) {
	g := oneOpGraph(t, "TestAffine")
	g2 := reimport(t, g, onnxexport.Options{})
	got, err := ref.Run(g2, f32s([]int{3}, -1, 0, 2.5))
	if err != nil {
		t.Fatal(err)
	}
	if d := got[0].Float32s(); d[0] != -1 || d[1] != 1 || d[2] != 6 {
		t.Errorf("2x+1 of (-1, 0, 2.5) = %v", d)
	}
	found := false
	for _, op := range onnxexport.Decomposers() {
		found = found || op == "TestAffine"
	}
	if !found {
		t.Errorf("Decomposers() = %v, want TestAffine listed", onnxexport.Decomposers())
	}
	defer func() {
		if recover() == nil {
			t.Error("registering TestAffine twice did not panic")
		}
	}()
	onnxexport.RegisterDecomposer("TestAffine", func(onnxexport.Emitter, *ir.Node) error { return nil })
}

// TestErrors checks that bad input gives an error that names the problem.
func TestErrors(t *testing.T) {
	unknown := oneOpGraph(t, "Relu")
	unknown.Nodes[0].Op = "Frobnicate"
	invalid := oneOpGraph(t, "Relu")
	invalid.Outputs[0].Type.DType = ir.Int64 // disagrees with inference
	cases := []struct {
		name string
		g    *ir.Graph
		opt  onnxexport.Options
		want []string
	}{
		{"nil graph", nil, onnxexport.Options{}, []string{"graph is nil"}},
		{"unknown op", unknown, onnxexport.Options{}, []string{`node "Relu_0"`, `unknown op "Frobnicate"`}},
		{"sqc op without decomposer", oneOpGraph(t, "TestOrphan"), onnxexport.Options{}, []string{`node "TestOrphan_0"`, `"TestOrphan"`, "no decomposer"}},
		{"decomposer defines nothing", oneOpGraph(t, "TestForgetful"), onnxexport.Options{}, []string{`node "TestForgetful_0"`, "did not define output"}},
		{"decomposer panics", oneOpGraph(t, "TestPanicky"), onnxexport.Options{}, []string{`node "TestPanicky_0"`, "internal error in the decomposer of TestPanicky", "index out of range"}},
		{"decomposer writes a non-ONNX op", oneOpGraph(t, "TestCustom"), onnxexport.Options{}, []string{`node "TestCustom_0"`, "not an ONNX operator"}},
		{"opset 12", oneOpGraph(t, "Relu"), onnxexport.Options{Opset: 12}, []string{"opset 12", "13 to 21"}},
		{"opset 22", oneOpGraph(t, "Relu"), onnxexport.Options{Opset: 22}, []string{"opset 22", "13 to 21"}},
		{"invalid graph", invalid, onnxexport.Options{}, []string{"not valid", "Relu_0"}},
		{"external data in Encode", oneOpGraph(t, "Relu"), onnxexport.Options{ExternalDataThreshold: 16}, []string{"ExternalDataThreshold", "WriteFile"}},
		{"negative threshold", oneOpGraph(t, "Relu"), onnxexport.Options{ExternalDataThreshold: -1}, []string{"ExternalDataThreshold is -1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, err := onnxexport.Encode(c.g, c.opt)
			if err == nil {
				t.Fatalf("no error (%d bytes)", len(data))
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if msg := err.Error(); msg[:1] != strings.ToLower(msg[:1]) {
				t.Errorf("error %q starts with an upper-case letter", msg)
			}
		})
	}
}

// TestWriteFile writes a model inline and with external data, reads both
// back with the frontend, and checks the external data file's layout.
func TestWriteFile(t *testing.T) {
	_, paths := allModels(t)
	g, err := onnx.Import(paths["resnet18.onnx"])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	inline := filepath.Join(dir, "inline.onnx")
	if err := onnxexport.WriteFile(inline, g, onnxexport.Options{}); err != nil {
		t.Fatal(err)
	}
	ext := filepath.Join(dir, "ext.onnx")
	opt := onnxexport.Options{ExternalDataThreshold: 4096}
	if err := onnxexport.WriteFile(ext, g, opt); err != nil {
		t.Fatal(err)
	}
	inlineData, _ := os.ReadFile(inline)
	extModel, _ := os.ReadFile(ext)
	extData, err := os.ReadFile(ext + ".data")
	if err != nil {
		t.Fatalf("no external data file: %v", err)
	}
	if len(extModel) >= len(inlineData)/2 || len(extData) < len(inlineData)/2 {
		t.Errorf("model %d bytes + data %d bytes, inline %d: the weights did not move out", len(extModel), len(extData), len(inlineData))
	}
	// The bytes match EncodeExternal's, which match what Encode would
	// write but for the moved tensors.
	m2, d2, err := onnxexport.EncodeExternal(g, opt, "ext.onnx.data")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m2, extModel) || !bytes.Equal(d2, extData) {
		t.Error("WriteFile and EncodeExternal wrote different bytes")
	}
	m := decodeModel(t, extModel)
	external := 0
	for _, tp := range m.GetGraph().GetInitializer() {
		size := int64(len(tp.GetRawData()))
		if tp.GetDataLocation() != onnxpb.TensorProto_EXTERNAL {
			if size >= 4096 {
				t.Errorf("initializer %s (%d bytes) stayed inline", tp.GetName(), size)
			}
			continue
		}
		external++
		kv := map[string]string{}
		for _, e := range tp.GetExternalData() {
			kv[e.GetKey()] = e.GetValue()
		}
		if kv["location"] != "ext.onnx.data" || kv["offset"] == "" || kv["length"] == "" {
			t.Errorf("initializer %s: external_data %v", tp.GetName(), kv)
		}
		var off int64
		for _, c := range kv["offset"] {
			off = off*10 + int64(c-'0')
		}
		if off%64 != 0 {
			t.Errorf("initializer %s at offset %d, want a multiple of 64", tp.GetName(), off)
		}
	}
	if external == 0 {
		t.Fatal("no initializer is external")
	}
	in := randomInputs(t, g, 5)
	want, err := ref.Run(g, in...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{inline, ext} {
		g2, err := onnx.Import(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ref.Run(g2, in...)
		if err != nil {
			t.Fatal(err)
		}
		if msg := sameBits(want[0], got[0]); msg != "" {
			t.Errorf("%s: %s", filepath.Base(p), msg)
		}
	}
}

// TestWriteFileFailures checks that a failed export leaves no file behind
// and an existing file untouched.
func TestWriteFileFailures(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(path, []byte("previous"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := oneOpGraph(t, "TestOrphan")
	if err := onnxexport.WriteFile(path, bad, onnxexport.Options{ExternalDataThreshold: 1}); err == nil {
		t.Fatal("exporting an op with no decomposer succeeded")
	}
	if b, _ := os.ReadFile(path); string(b) != "previous" {
		t.Errorf("the existing file now holds %q", b)
	}
	// The target is a directory: the rename fails after the data was
	// written to a temporary file, which must be removed.
	sub := filepath.Join(dir, "sub.onnx")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := onnxexport.WriteFile(sub, oneOpGraph(t, "Relu"), onnxexport.Options{}); err == nil {
		t.Fatal("writing over a directory succeeded")
	}
	if err := onnxexport.WriteFile(filepath.Join(dir, "missing", "m.onnx"), oneOpGraph(t, "Relu"), onnxexport.Options{}); err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "model.onnx,sub.onnx" {
		t.Errorf("directory holds %v after the failures, want model.onnx and sub.onnx only", names)
	}
}

// TestConstantAndInputOutputs covers graph outputs that no node produces: a
// graph input passed straight through and a constant.
func TestConstantAndInputOutputs(t *testing.T) {
	g := passthroughGraph(t)
	g2 := reimport(t, g, onnxexport.Options{})
	got, err := ref.Run(g2, f32s([]int{2}, 1, 2))
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float32{{1, 2}, {3, -4}, {4, -2}, {4, -2}}
	for i, w := range want {
		d := got[i].Float32s()
		if d[0] != w[0] || d[1] != w[1] {
			t.Errorf("output %d = %v, want %v", i, d, w)
		}
	}
}

// passthroughGraph has outputs that no node produces and one listed twice:
// outputs x (a graph input), k (a constant), x+k and x+k again.
func passthroughGraph(t *testing.T) *ir.Graph {
	b := newBuilder(t, "passthrough")
	x := b.input("x", ir.Float32, ir.D(2))
	k := constant("k", f32s([]int{2}, 3, -4))
	sum := b.one("Add", []*ir.Value{x, k}, nil)
	b.output(x, k, sum, sum)
	return b.graph()
}

// TestGraphUnchanged checks that encoding leaves the graph as it was, for a
// graph whose Relayouts are dropped and whose fused ops are decomposed.
func TestGraphUnchanged(t *testing.T) {
	g := epilogueGraph(t)
	before := sqir.Format(g)
	if _, err := onnxexport.Encode(g, onnxexport.Options{Opset: 13}); err != nil {
		t.Fatal(err)
	}
	if after := sqir.Format(g); after != before {
		t.Errorf("the graph changed:\n%s\nwas:\n%s", after, before)
	}
}

func TestExternalLocation(t *testing.T) {
	g := epilogueGraph(t)
	for _, loc := range []string{"", "../w.data", "/tmp/w.data"} {
		if _, _, err := onnxexport.EncodeExternal(g, onnxexport.Options{ExternalDataThreshold: 1}, loc); err == nil || !strings.Contains(err.Error(), "location") {
			t.Errorf("location %q: error %v, want one about the location", loc, err)
		}
	}
	model, data, err := onnxexport.EncodeExternal(g, onnxexport.Options{ExternalDataThreshold: 1}, "w.data")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "w.data"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Decode(model, dir)
	if err != nil {
		t.Fatal(err)
	}
	g2, err := m.Lower()
	if err != nil {
		t.Fatal(err)
	}
	in := epilogueInputs()
	got, err := ref.Run(g2, in...)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range epilogueWant(in) {
		for k, v := range got[i].Float32s() {
			if v != w[k] {
				t.Fatalf("output %d[%d] = %v, want %v (every tensor external)", i, k, v, w[k])
			}
		}
	}
}

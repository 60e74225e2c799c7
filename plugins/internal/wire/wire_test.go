package wire

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/plugins/internal/wirepb"
)

// every dtype with storage, for the round trips.
var dtypes = []ir.DType{ir.Float32, ir.Float64, ir.Float16, ir.BFloat16, ir.Int8, ir.Uint8, ir.Int16, ir.Uint16,
	ir.Int32, ir.Uint32, ir.Int64, ir.Uint64, ir.Bool}

// ramp fills a tensor with distinct, awkward values: negative zero, a NaN
// with a payload, infinities for floats; extremes for integers.
func ramp(dt ir.DType, dims ...int) *ir.Tensor {
	t := ir.NewTensor(dt, dims...)
	for i := range t.Len() {
		switch s := t.Data.(type) {
		case []float32:
			s[i] = float32(i) * -0.37
			if i == 1 {
				s[i] = math.Float32frombits(0x7fc00001)
			}
			if i == 2 {
				s[i] = float32(math.Copysign(0, -1))
			}
		case []float64:
			s[i] = float64(i) / 3
			if i == 1 {
				s[i] = math.Inf(-1)
			}
		case []uint16:
			s[i] = uint16(i * 2654435761)
		case []int8:
			s[i] = int8(i*37 - 128)
		case []uint8:
			s[i] = uint8(i * 91)
		case []int16:
			s[i] = int16(i * -1009)
		case []int32:
			s[i] = int32(i) * -2147483
		case []uint32:
			s[i] = uint32(i) * 4294967
		case []int64:
			s[i] = int64(i) * math.MinInt64 / 7
		case []uint64:
			s[i] = uint64(i) * math.MaxUint64 / 5
		case []bool:
			s[i] = i%3 == 0
		}
	}
	return t
}

// features is a graph with something of every kind the IR holds. It need
// not verify: the wire carries broken graphs too, for the verifier to judge.
func features() *ir.Graph {
	x := &ir.Value{Name: "x", Type: ir.Type{DType: ir.Float32, Shape: ir.Shape{ir.SymDim("N"), ir.D(3), ir.UnknownDim}, Layout: "NHWC"}}
	untyped := &ir.Value{Name: "untyped", Type: ir.Type{Shape: ir.Shape{}}}
	g := &ir.Graph{Name: "features \"g\"", Inputs: []*ir.Value{x, untyped}}
	cat := &ir.Node{Name: "cat", Op: "Concat", Attrs: ir.Attrs{"axis": ir.IntAttr(0)}, Notes: map[string]string{"why": "a note"}}
	for _, dt := range dtypes {
		cat.Inputs = append(cat.Inputs, ir.NewConst("small_"+dt.String(), ramp(dt, 2, 3)))
		cat.Inputs = append(cat.Inputs, ir.NewConst("large_"+dt.String(), ramp(dt, 64, 80))) // 5120 elements: out of band
	}
	w := ir.NewConst("w", ir.FromFloat32(make([]float32, 4096), 64, 64))
	w.Sparsity = &ir.Sparsity{N: 2, M: 4, Axis: 1}
	w.Quant = &ir.QuantParams{Scale: []float32{0.5, float32(math.Inf(1))}, ZeroPoint: []int32{0, math.MinInt32}, Axis: 0}
	shared := &ir.Value{Name: "w_shared", Type: w.Type, Const: w.Const} // shares w's data
	cat.Inputs = append(cat.Inputs, w, shared, nil, x, ir.NewConst("empty", ir.NewTensor(ir.Float32, 3, 0)),
		ir.NewConst("scalar", ir.FromFloat32([]float32{2.5})))
	out := &ir.Value{Name: "cat out", Type: ir.Type{DType: ir.Float32, Shape: ir.Shape{ir.UnknownDim}}}
	cat.Outputs = []*ir.Value{out, nil}
	attrs := &ir.Node{Name: "attrs", Op: "com.example.Attrs", Inputs: []*ir.Value{nil, out},
		Attrs: ir.Attrs{"i": ir.IntAttr(math.MinInt64), "f": ir.FloatAttr(math.Float32frombits(0x7fa00001)), "s": ir.StringAttr("a\x00\xff"),
			"is": ir.IntsAttr(), "fs": ir.FloatsAttr(1, -0.5), "ss": ir.StringsAttr("", "b")},
		Outputs: []*ir.Value{{Name: "q", Type: ir.Type{DType: ir.Int8, Shape: ir.ShapeOf(2)}, Quant: &ir.QuantParams{Scale: []float32{0.1}, ZeroPoint: []int32{-3}, Axis: -1}}}}
	// Reads a value nothing defines: a broken graph still crosses.
	dangling := &ir.Node{Name: "dangling", Op: "Relu", Inputs: []*ir.Value{{Name: "nowhere", Type: ir.TensorType(ir.Float32, 1)}},
		Outputs: []*ir.Value{{Name: "r", Type: ir.TensorType(ir.Float32, 1)}}}
	g.Nodes = []*ir.Node{cat, attrs, dangling}
	g.Outputs = []*ir.Value{out, attrs.Outputs[0], x, ir.NewConst("only_output", ramp(ir.Int64, 3)), out}
	return g
}

// trip sends g as the host does and decodes it as a plugin does; change
// runs in the plugin (while its graph's memory is mapped); the result comes
// back as the host reads it. It returns the host's result, and how many
// extents came back unchanged and through the response's file.
func trip(t *testing.T, g *ir.Graph, change func(*ir.Graph)) (back *ir.Graph, unchanged, written int) {
	t.Helper()
	dir := t.TempDir()
	in, err := os.Create(filepath.Join(dir, "in"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	w := NewWriter(in, true)
	sent := map[uint64]*ir.Tensor{}
	enc := Encoder{Extent: func(t *ir.Tensor) (*wirepb.Extent, error) {
		x, err := w.Write(t)
		if err == nil {
			sent[x.Offset] = t
		}
		return x, err
	}}
	msg, err := enc.Graph(g)
	if err != nil {
		t.Fatal(err)
	}

	m, err := Map(in.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	inPlugin, err := (&Decoder{Extent: m.Data}).Graph(msg)
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(inPlugin)
	}
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	ow := NewWriter(out, false)
	penc := Encoder{Extent: func(t *ir.Tensor) (*wirepb.Extent, error) {
		if x, ok := m.Unchanged(t); ok {
			unchanged++
			return x, nil
		}
		written++
		return ow.Write(t)
	}}
	reply, err := penc.Graph(inPlugin)
	if err != nil {
		t.Fatal(err)
	}

	reused := map[*ir.Tensor]bool{}
	dec := Decoder{Extent: func(dt ir.DType, n int, x *wirepb.Extent) (any, error) {
		if !x.Input {
			return ReadExtent(out, ow.Size(), dt, n, x)
		}
		data, err := Reuse(sent[x.Offset], dt, n, reused[sent[x.Offset]])
		reused[sent[x.Offset]] = true
		return data, err
	}}
	back, err = dec.Graph(reply)
	if err != nil {
		t.Fatal(err)
	}
	return back, unchanged, written
}

func TestRoundTrip(t *testing.T) {
	g := features()
	back, unchanged, written := trip(t, g, func(inPlugin *ir.Graph) {
		if err := ir.Equal(g, inPlugin); err != nil {
			t.Errorf("the plugin's graph differs: %v", err)
		}
	})
	if err := ir.Equal(g, back); err != nil {
		t.Errorf("the graph that came back differs: %v", err)
	}
	// 13 large constants and w (shared by two values) lie out of band; all
	// come back as they were, and none is written back.
	if unchanged != 15 || written != 0 {
		t.Errorf("%d extents unchanged and %d written, want 15 and 0", unchanged, written)
	}
	// The two values that shared w's data no longer share memory.
	var a, b *ir.Value
	for _, v := range back.Nodes[0].Inputs {
		switch {
		case v == nil:
		case v.Name == "w":
			a = v
		case v.Name == "w_shared":
			b = v
		}
	}
	if &a.Const.Float32s()[0] == &b.Const.Float32s()[0] {
		t.Error("two values of the result share one tensor's memory")
	}
}

func TestRoundTripChanged(t *testing.T) {
	g := features()
	var negated []float32
	back, unchanged, written := trip(t, g, func(p *ir.Graph) {
		for _, v := range p.Nodes[0].Inputs {
			if v != nil && v.Name == "large_f32" {
				// Changed in place, in the copy-on-write mapping.
				for i, x := range v.Const.Float32s() {
					v.Const.Float32s()[i] = -x
				}
				negated = append([]float32(nil), v.Const.Float32s()...)
			}
		}
		added := ir.NewConst("added", ramp(ir.Int32, 100, 100))
		p.Nodes[2].Inputs = append(p.Nodes[2].Inputs, added)
	})
	if unchanged != 14 || written != 2 {
		t.Errorf("%d extents unchanged and %d written, want 14 and 2", unchanged, written)
	}
	for _, v := range back.Nodes[0].Inputs {
		if v != nil && v.Name == "large_f32" {
			for i, x := range v.Const.Float32s() {
				if math.Float32bits(x) != math.Float32bits(negated[i]) {
					t.Fatalf("element %d came back %v, want %v", i, x, negated[i])
				}
			}
		}
	}
	// The host's own tensor was not touched by the change in the plugin.
	for _, v := range g.Nodes[0].Inputs {
		if v != nil && v.Name == "large_f32" && v.Const.Float32s()[3] != float32(3)*-0.37 {
			t.Errorf("the host's tensor changed: %v", v.Const.Float32s()[3])
		}
	}
	last := int32(9999)
	if got := back.Nodes[2].Inputs[1].Const.Int32s()[9999]; got != last*-2147483 {
		t.Errorf("added constant's last element %d", got)
	}
}

// TestDecodeMalformed feeds the decoder messages a broken or hostile peer
// could send: every one is an error, none a panic.
func TestDecodeMalformed(t *testing.T) {
	good := func() *wirepb.Graph {
		m, err := (&Encoder{}).Graph(features())
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, c := range []struct {
		name   string
		breaks func(m *wirepb.Graph)
		want   string
	}{
		{"input index", func(m *wirepb.Graph) { m.Inputs[0] = 9999 }, "graph input 0 refers to value 9999"},
		{"absent input", func(m *wirepb.Graph) { m.Inputs[0] = -1 }, "graph input 0 refers to value -1"},
		{"node operand", func(m *wirepb.Graph) { m.Nodes[1].Inputs[1] = -2 }, "node attrs: input 1 refers to value -2"},
		{"dtype", func(m *wirepb.Graph) { m.Values[0].Type.Dtype = "f8" }, `value 0 ("x"): unknown dtype "f8"`},
		{"dim", func(m *wirepb.Graph) { m.Values[0].Type.Shape[0].Size = -7 }, "dim 0: want a size, or -1"},
		{"no type", func(m *wirepb.Graph) { m.Values[0].Type = nil }, "no type"},
		{"inline length", func(m *wirepb.Graph) {
			m.Values[2].Constant.Data = &wirepb.Tensor_Inline{Inline: []byte{1, 2, 3}}
		}, "3 bytes of data for 6 f32 elements, want 24"},
		{"huge shape", func(m *wirepb.Graph) { m.Values[2].Constant.Shape = []int64{1 << 40, 1 << 40} }, "is too large"},
		{"negative shape", func(m *wirepb.Graph) { m.Values[2].Constant.Shape = []int64{-1} }, "negative dim"},
		{"bool byte", func(m *wirepb.Graph) {
			for _, v := range m.Values {
				if v.Name == "small_bool" {
					v.Constant.GetInline()[1] = 7
				}
			}
		}, "bool element 1 is byte 7"},
		{"extent without file", func(m *wirepb.Graph) {
			m.Values[2].Constant.Data = &wirepb.Tensor_Extent{Extent: &wirepb.Extent{Length: 24}}
		}, "an extent, but no weights file"},
		{"no data", func(m *wirepb.Graph) { m.Values[2].Constant.Data = nil }, "a constant without data"},
		{"attr kind", func(m *wirepb.Graph) { m.Nodes[1].Attrs["i"].Kind = 99 }, "node attrs: attribute i: unknown kind"},
		{"nil node", func(m *wirepb.Graph) { m.Nodes[0] = nil }, "node 0 is empty"},
	} {
		m := good()
		c.breaks(m)
		_, err := (&Decoder{}).Graph(m)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}

func TestExtentChecks(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "w"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		x    *wirepb.Extent
		n    int
		want string
	}{
		{&wirepb.Extent{Offset: 96, Length: 8}, 2, "lies outside the 100-byte weights file"},
		{&wirepb.Extent{Offset: math.MaxUint64 - 3, Length: 8}, 2, "lies outside"},
		{&wirepb.Extent{Offset: 0, Length: 12}, 2, "extent of 12 bytes for 2 f32 elements, want 8 bytes"},
	} {
		_, err := ReadExtent(f, 100, ir.Float32, c.n, c.x)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want %q", c.x, err, c.want)
		}
	}
	// A request's mapping refuses extents that point outside it, or into the
	// response's file.
	m, err := Map(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Data(ir.Float32, 2, &wirepb.Extent{Input: true, Offset: 96, Length: 8}); err == nil {
		t.Error("an extent past the mapping was accepted")
	}
	if _, err := m.Data(ir.Float32, 2, &wirepb.Extent{Offset: 0, Length: 8}); err == nil {
		t.Error("a response extent in a request was accepted")
	}
}

func TestOptionValues(t *testing.T) {
	sel, err := passes.ParseSelector("name:layer4.*|op~^Conv$")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{true, int64(-3), 0.25, "magnitude", []string{"a", ""}, []string{}, passes.Ratio{N: 2, M: 4}, sel, passes.Selector{}} {
		pv, err := ValueToProto(v)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ValueFromProto(pv)
		if err != nil {
			t.Fatal(err)
		}
		if s, ok := v.(passes.Selector); ok {
			if back.(passes.Selector).String() != s.String() {
				t.Errorf("selector %v came back %v", s, back)
			}
			continue
		}
		if got, want := describeValue(back), describeValue(v); got != want {
			t.Errorf("%s came back %s", want, got)
		}
	}
	bad := &wirepb.OptionValue{Value: &wirepb.OptionValue_Selector{Selector: &wirepb.Selector{Patterns: []*wirepb.Pattern{{Field: "name", Regexp: "("}}}}}
	if _, err := ValueFromProto(bad); err == nil || !strings.Contains(err.Error(), "bad regular expression") {
		t.Errorf("bad regexp: got %v", err)
	}
	if _, err := ValueFromProto(&wirepb.OptionValue{Value: &wirepb.OptionValue_Ratio{Ratio: &wirepb.Ratio{N: 5, M: 4}}}); err == nil {
		t.Error("ratio 5:4 was accepted")
	}
	if _, err := ValueFromProto(&wirepb.OptionValue{}); err == nil {
		t.Error("an empty value was accepted")
	}
}

func describeValue(v any) string {
	switch x := v.(type) {
	case []string:
		return "list " + strings.Join(x, "|") + "#" + string(rune('0'+len(x)))
	}
	return strings.TrimSpace(strings.ReplaceAll(fmtValue(v), "\n", ""))
}

func fmtValue(v any) string { return fmt.Sprintf("%T %v", v, v) }

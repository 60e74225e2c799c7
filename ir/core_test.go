package ir

import (
	"math"
	"strings"
	"testing"
)

func TestHalfRoundTrip(t *testing.T) {
	// Every finite binary16 value decodes to a float32 that encodes back to it.
	for h := 0; h < 1<<16; h++ {
		f := HalfToFloat32(uint16(h))
		if f != f {
			continue
		}
		if got := Float32ToHalf(f); got != uint16(h) {
			t.Fatalf("half %#04x -> %v -> %#04x", h, f, got)
		}
	}
	cases := []struct {
		in   float32
		want uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {65520, 0x7c00}, // 65520 rounds up to +Inf
		{5.960464477539063e-08, 0x0001}, {2.9802322387695312e-08, 0x0000}, // tie rounds to even (0)
		{1.0009765625, 0x3c01}, {1.00048828125, 0x3c00}, // halfway between 1 and 1+2^-10: even
	}
	for _, c := range cases {
		if got := Float32ToHalf(c.in); got != c.want {
			t.Errorf("Float32ToHalf(%v) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
}

func TestBFloat16(t *testing.T) {
	if got := Float32ToBFloat16(1); got != 0x3f80 {
		t.Errorf("bf16(1) = %#x", got)
	}
	// 1 + 2^-8 is halfway between two bf16 values: round to even (1).
	if got := Float32ToBFloat16(1 + 1.0/256); got != 0x3f80 {
		t.Errorf("bf16(1+2^-8) = %#x, want 0x3f80", got)
	}
	if got := BFloat16ToFloat32(Float32ToBFloat16(float32(math.NaN()))); got == got {
		t.Errorf("NaN did not stay NaN")
	}
}

func TestBroadcastShapes(t *testing.T) {
	cases := []struct {
		a, b Shape
		want string
	}{
		{ShapeOf(2, 3, 4), ShapeOf(4), "[2,3,4]"},
		{ShapeOf(2, 1, 4), ShapeOf(3, 1), "[2,3,4]"},
		{Shape{SymDim("N"), D(8)}, ShapeOf(1, 8), "[N,8]"},
		{ShapeOf(), ShapeOf(5), "[5]"},
		{ShapeOf(2, 3), ShapeOf(4, 3), "error"},
	}
	for _, c := range cases {
		got, err := BroadcastShapes(c.a, c.b)
		if c.want == "error" {
			if err == nil || !strings.Contains(err.Error(), "do not broadcast") {
				t.Errorf("%v,%v: err %v, want a broadcast error", c.a, c.b, err)
			}
			continue
		}
		if err != nil || got.String() != c.want {
			t.Errorf("%v,%v = %v, %v; want %s", c.a, c.b, got, err, c.want)
		}
	}
}

func TestResolveConvGeom(t *testing.T) {
	spatial := []Dim{D(224), D(224)}
	g, err := ResolveConvGeom(Attrs{"strides": IntsAttr(2, 2), "pads": IntsAttr(3, 3, 3, 3)}, spatial, []int{7, 7}, false)
	if err != nil || g.Out[0] != 112 || g.Out[1] != 112 {
		t.Fatalf("resnet conv1: %+v, %v", g, err)
	}
	// SAME_UPPER with stride 2 on an odd size: out = ceil(5/2) = 3, total pad 2 split 1/1.
	g, err = ResolveConvGeom(Attrs{"strides": IntsAttr(2), "auto_pad": StringAttr("SAME_UPPER")}, []Dim{D(5)}, []int{3}, false)
	if err != nil || g.Out[0] != 3 || g.PadBegin[0] != 1 || g.PadEnd[0] != 1 {
		t.Fatalf("SAME_UPPER: %+v, %v", g, err)
	}
	// SAME_LOWER puts the odd pad at the beginning.
	g, err = ResolveConvGeom(Attrs{"auto_pad": StringAttr("SAME_LOWER")}, []Dim{D(4)}, []int{2}, false)
	if err != nil || g.PadBegin[0] != 1 || g.PadEnd[0] != 0 {
		t.Fatalf("SAME_LOWER: %+v, %v", g, err)
	}
	// ceil mode: 6 with window 3 stride 2 -> floor 2, ceil 3.
	g, _ = ResolveConvGeom(Attrs{"strides": IntsAttr(2)}, []Dim{D(6)}, []int{3}, true)
	if g.Out[0] != 3 {
		t.Errorf("ceil_mode out = %d, want 3", g.Out[0])
	}
	g, _ = ResolveConvGeom(nil, []Dim{SymDim("H")}, []int{3}, false)
	if g.Out[0] != -1 {
		t.Errorf("symbolic spatial dim gave %d", g.Out[0])
	}
	for _, bad := range []Attrs{
		{"strides": IntsAttr(0, 1)},
		{"pads": IntsAttr(1, 1)},
		{"pads": IntsAttr(1, 1, 1, 1), "auto_pad": StringAttr("VALID")},
		{"auto_pad": StringAttr("SAME")},
	} {
		if _, err := ResolveConvGeom(bad, spatial, []int{3, 3}, false); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
	if _, err := ResolveConvGeom(nil, []Dim{D(2)}, []int{5}, false); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("window larger than input: %v", err)
	}
}

func TestTensorCheck(t *testing.T) {
	good := NewTensor(Int8, 2, 3)
	if err := good.Check(); err != nil {
		t.Fatal(err)
	}
	bad := &Tensor{DType: Float32, Shape: []int{2, 3}, Data: make([]float32, 5)}
	if err := bad.Check(); err == nil || !strings.Contains(err.Error(), "5 elements, want 6") {
		t.Errorf("short data: %v", err)
	}
	wrong := &Tensor{DType: Int8, Shape: []int{1}, Data: []uint8{1}}
	if err := wrong.Check(); err == nil {
		t.Errorf("i8 tensor holding []uint8 passed Check")
	}
}

// tiny builds x -> Relu -> Add(w) -> out.
func tiny() *Graph {
	x := &Value{Name: "x", Type: TensorType(Float32, 2, 4)}
	w := NewConst("w", FromFloat32([]float32{1, 0, 0, 2, 0, 3, 0, 0}, 2, 4))
	r := &Value{Name: "r", Type: TensorType(Float32, 2, 4)}
	y := &Value{Name: "y", Type: TensorType(Float32, 2, 4)}
	return &Graph{Name: "tiny", Inputs: []*Value{x}, Outputs: []*Value{y}, Nodes: []*Node{
		{Name: "relu", Op: "Relu", Inputs: []*Value{x}, Outputs: []*Value{r}},
		{Name: "add", Op: "Add", Inputs: []*Value{r, w}, Outputs: []*Value{y}},
	}}
}

func TestVerify(t *testing.T) {
	if err := Verify(tiny()); err != nil {
		t.Fatalf("valid graph: %v", err)
	}
	cases := []struct {
		name   string
		mutate func(g *Graph)
		want   string
	}{
		{"use before def", func(g *Graph) { g.Nodes[0], g.Nodes[1] = g.Nodes[1], g.Nodes[0] },
			`node add (Add): input 0 "r" is not defined before the node`},
		{"unknown op", func(g *Graph) { g.Nodes[0].Op = "Frobnicate" }, `relu: unknown op "Frobnicate"`},
		{"wrong type", func(g *Graph) { g.Nodes[1].Outputs[0].Type = TensorType(Float32, 2, 5) },
			`node add (Add): output "y" has type f32[2,5], but its inputs give f32[2,4]`},
		{"duplicate name", func(g *Graph) { g.Nodes[0].Outputs[0].Name = "x" }, `value name "x" is used by two values`},
		{"unknown attr", func(g *Graph) { g.Nodes[0].Attrs = Attrs{"alpha": FloatAttr(1)} }, `relu (Relu): unknown attribute "alpha"`},
		{"undefined output", func(g *Graph) { g.Outputs = append(g.Outputs, &Value{Name: "z"}) }, `graph output "z" is not produced`},
		{"sparsity violated", func(g *Graph) {
			g.Nodes[1].Inputs[1].Const.Float32s()[1] = 5 // group [1,5,0,2] has 3 non-zeros
			g.Nodes[1].Inputs[1].Sparsity = &Sparsity{N: 2, M: 4, Axis: 1}
		}, `claims 2:4 sparsity along axis 1, but the group starting at [0 0] has 3 non-zeros`},
		{"quant on float", func(g *Graph) {
			g.Inputs[0].Quant = &QuantParams{Scale: []float32{0.1}, ZeroPoint: []int32{0}, Axis: -1}
		}, `quantization parameters on a f32 value`},
		{"bad scale", func(g *Graph) {
			g.Nodes[1].Inputs[1].Const = &Tensor{DType: Int8, Shape: []int{2, 4}, Data: make([]int8, 8)}
			g.Nodes[1].Inputs[1].Type.DType = Int8
			g.Nodes[1].Inputs[1].Quant = &QuantParams{Scale: []float32{0.1, -1}, ZeroPoint: []int32{0, 0}, Axis: 0}
		}, `scale[1] = -1, want a finite positive number`},
	}
	for _, c := range cases {
		g := tiny()
		c.mutate(g)
		err := Verify(g)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

func TestSparsityHolds(t *testing.T) {
	g := tiny()
	g.Nodes[1].Inputs[1].Sparsity = &Sparsity{N: 2, M: 4, Axis: 1}
	if err := Verify(g); err != nil {
		t.Fatalf("2:4 weight rejected: %v", err)
	}
}

// TestSetInt64 stores into every integer dtype and reads back through
// AsInt64, wrapping as a Go conversion does, and refuses a float tensor.
func TestSetInt64(t *testing.T) {
	for _, dt := range []DType{Int8, Uint8, Int16, Uint16, Int32, Uint32, Int64, Uint64} {
		x := NewTensor(dt, 2)
		x.SetInt64(1, 100)
		if got := x.AsInt64(1); got != 100 {
			t.Errorf("%v: element 1 is %d, want 100", dt, got)
		}
		if got := x.AsInt64(0); got != 0 {
			t.Errorf("%v: element 0 is %d, want it untouched", dt, got)
		}
	}
	x := NewTensor(Int8, 1)
	x.SetInt64(0, 200)
	if got := x.AsInt64(0); got != -56 {
		t.Errorf("int8 200: %d, want -56 (wrapped)", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("SetInt64 on a float tensor did not panic")
		}
	}()
	NewTensor(Float32, 1).SetInt64(0, 1)
}

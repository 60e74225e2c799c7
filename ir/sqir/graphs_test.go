package sqir_test

import (
	"math"
	"strconv"

	"github.com/sqc-project/sqc/ir"
)

// Graphs built with the ir API directly, for the round-trip and golden tests.

func f32bits(b uint32) float32 { return math.Float32frombits(b) }

// constOf wraps data as a constant of the given dtype and shape.
func constOf(name string, dt ir.DType, data any, shape ...int) *ir.Value {
	return ir.NewConst(name, &ir.Tensor{DType: dt, Shape: shape, Data: data})
}

// ramp fills a tensor of n elements with varied, exactly representable data.
func ramp(dt ir.DType, n int) any {
	t := ir.NewTensor(dt, n)
	switch s := t.Data.(type) {
	case []float32:
		for i := range s {
			s[i] = float32(i)*0.37 - 3
		}
	case []float64:
		for i := range s {
			s[i] = float64(i)*0.1 - 1
		}
	case []uint16:
		for i := range s {
			s[i] = uint16(i*2654435761>>7) ^ uint16(i)
		}
	case []int8:
		for i := range s {
			s[i] = int8(i*37 - 128)
		}
	case []uint8:
		for i := range s {
			s[i] = uint8(i * 91)
		}
	case []int16:
		for i := range s {
			s[i] = int16(i*7919 - 30000)
		}
	case []int32:
		for i := range s {
			s[i] = int32(i*1000003) - 1<<30
		}
	case []uint32:
		for i := range s {
			s[i] = uint32(i) * 2654435761
		}
	case []int64:
		for i := range s {
			s[i] = int64(i)*0x123456789abc - 1<<62
		}
	case []uint64:
		for i := range s {
			s[i] = uint64(i) * 0x9e3779b97f4a7c15
		}
	case []bool:
		for i := range s {
			s[i] = i%3 == 0
		}
	}
	return t.Data
}

var allDTypes = []ir.DType{ir.Float32, ir.Float64, ir.Float16, ir.BFloat16, ir.Int8, ir.Uint8, ir.Int16,
	ir.Uint16, ir.Int32, ir.Uint32, ir.Int64, ir.Uint64, ir.Bool}

// featureGraph uses every feature of the textual form at least once.
func featureGraph() *ir.Graph {
	x := &ir.Value{Name: "input.1", Type: ir.Type{DType: ir.Float32, Shape: ir.Shape{ir.SymDim("N"), ir.D(3), ir.UnknownDim, ir.SymDim("batch size")}}}
	q := &ir.Value{Name: "/layer1/conv/Conv_output_0", Type: ir.Type{DType: ir.Int8, Shape: ir.Shape{ir.SymDim("N"), ir.D(4), ir.D(2), ir.D(2)}, Layout: "NHWC"},
		Quant: &ir.QuantParams{Scale: []float32{0.1, 1e-30, f32bits(1), 3.4028235e38}, ZeroPoint: []int32{0, -128, 127, math.MinInt32}, Axis: 1}}
	s := &ir.Value{Name: "33", Type: ir.Type{DType: ir.Float32}} // a scalar
	u := &ir.Value{Name: "untyped", Type: ir.Type{}}             // not inferred yet
	g := &ir.Graph{Name: "feature test \"graph\"", Inputs: []*ir.Value{x, q, s, u}}

	var consts []*ir.Value
	for _, dt := range allDTypes {
		// a small one printed as a list, a large one printed as a blob
		consts = append(consts, constOf("small_"+dt.String(), dt, ramp(dt, 6), 2, 3))
		consts = append(consts, constOf("large_"+dt.String(), dt, ramp(dt, 4*5*3), 4, 5, 3))
	}
	// Float specials, in lists and in blobs.
	f32s := []float32{0, f32bits(0x80000000), float32(math.Inf(1)), float32(math.Inf(-1)), f32bits(0x7fc00000),
		f32bits(0x7fc00001), f32bits(0xffc00000), f32bits(0x7f800001), f32bits(1), 0.1, 1e-45, 3.4028235e38, 16777217, -2.5}
	consts = append(consts, constOf("specials_f32", ir.Float32, f32s, len(f32s)))
	consts = append(consts, constOf("specials_f32_blob", ir.Float32, append(append([]float32{}, f32s...), f32s...), 2, len(f32s)))
	f64s := []float64{math.Copysign(0, -1), math.Inf(1), math.NaN(), math.Float64frombits(0x7ff8000000000000),
		math.Float64frombits(0xfff0000000000001), 5e-324, math.MaxFloat64, 0.1, 1.0 / 3}
	consts = append(consts, constOf("specials_f64", ir.Float64, f64s, len(f64s)))
	halves := []uint16{0x0000, 0x8000, 0x0001, 0x03ff, 0x3c00, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x7e01, 0xfe00, 0x7c01, 0x3555}
	consts = append(consts, constOf("specials_f16", ir.Float16, halves, len(halves)))
	consts = append(consts, constOf("specials_bf16", ir.BFloat16, halves, len(halves)))
	bf := []uint16{0x7fc0, 0x7fc1, 0xffc0, 0x7f80, 0xff80, 0x0001, 0x3f80}
	consts = append(consts, constOf("specials_bf16b", ir.BFloat16, bf, len(bf)))
	ints := []int64{math.MinInt64, math.MaxInt64, 0, -1}
	consts = append(consts, constOf("extreme_i64", ir.Int64, ints, 4))
	consts = append(consts, constOf("extreme_u64", ir.Uint64, []uint64{math.MaxUint64, 0}, 2))
	consts = append(consts, constOf("extreme_i8", ir.Int8, []int8{-128, 127}, 2))
	// Scalars and empty tensors.
	consts = append(consts, constOf("scalar", ir.Float32, []float32{2.5}))
	consts = append(consts, constOf("scalar_bool", ir.Bool, []bool{true}))
	consts = append(consts, constOf("empty", ir.Int64, []int64{}, 0))
	consts = append(consts, constOf("empty2", ir.Float32, []float32{}, 3, 0, 2))
	// A layout, quantization and sparsity on a constant.
	w := constOf("w", ir.Int8, []int8{1, 0, 0, 2, 0, 3, 4, 0, 5, 0, 0, 0, 0, 6, 7, 0, 0, 0, 8, 9}, 1, 4, 5, 1)
	w.Type.Layout = "OHWI"
	w.Quant = &ir.QuantParams{Scale: []float32{0.25}, ZeroPoint: []int32{0}, Axis: -1}
	w.Sparsity = &ir.Sparsity{N: 2, M: 4, Axis: 1}
	consts = append(consts, w)

	// One node reads every constant, the last operands absent.
	big := &ir.Node{Name: "every constant", Op: "Concat", Attrs: ir.Attrs{"axis": ir.IntAttr(0)}}
	big.Inputs = append(big.Inputs, consts...)
	big.Inputs = append(big.Inputs, nil, x, nil, nil)
	catOut := &ir.Value{Name: "cat", Type: ir.Type{DType: ir.Float32, Shape: ir.Shape{ir.UnknownDim}}}
	big.Outputs = []*ir.Value{catOut}

	// Every attribute kind, with the awkward values.
	attrs := &ir.Node{Name: "", Op: "com.example.Attrs", Inputs: []*ir.Value{nil, catOut, nil},
		Attrs: ir.Attrs{
			"i":             ir.IntAttr(-7),
			"i_min":         ir.IntAttr(math.MinInt64),
			"f":             ir.FloatAttr(1),
			"f_neg0":        ir.FloatAttr(f32bits(0x80000000)),
			"f_nan":         ir.FloatAttr(f32bits(0x7fc00000)),
			"f_nan_payload": ir.FloatAttr(f32bits(0x7fa00001)),
			"f_inf":         ir.FloatAttr(float32(math.Inf(-1))),
			"f_small":       ir.FloatAttr(1e-45),
			"f_big":         ir.FloatAttr(1e20),
			"s":             ir.StringAttr("a \"quoted\"\nline\twith \\ and é and \xff"),
			"s_empty":       ir.StringAttr(""),
			"is":            ir.IntsAttr(3, -3, 0, math.MaxInt64),
			"is_empty":      ir.IntsAttr(),
			"fs":            ir.FloatsAttr(1, 0.5, -2),
			"fs_bits":       ir.FloatsAttr(1, f32bits(0xffc00000)),
			"fs_empty":      ir.FloatsAttr(),
			"ss":            ir.StringsAttr("NOTSET", "", "x y"),
			"ss_empty":      ir.StringsAttr(),
			"odd name/1":    ir.IntAttr(1),
		},
		Outputs: []*ir.Value{
			{Name: "Plus214_Output_0", Type: ir.Type{DType: ir.Float16, Shape: ir.Shape{ir.SymDim("2*N"), ir.SymDim("?"), ir.SymDim("3")}}},
			{Name: "é", Type: ir.Type{DType: ir.Bool, Shape: ir.Shape{}, Layout: "with space"}, Sparsity: &ir.Sparsity{N: 0, M: 1, Axis: -3}},
			{Name: "q\"uote\\\n", Type: ir.Type{DType: ir.Uint8, Shape: ir.Shape{ir.D(0)}},
				Quant: &ir.QuantParams{Scale: []float32{f32bits(0x7fc00001), float32(math.Inf(1)), f32bits(0x80000000)}, ZeroPoint: []int32{}, Axis: -5}},
		},
	}
	// Ops whose names need quotes, a node with no outputs, one with no
	// inputs, and one that reads a value defined later (a broken order the
	// printer must still write).
	early := &ir.Node{Name: "reads later value", Op: "const", Inputs: []*ir.Value{nil}, Outputs: []*ir.Value{{Name: "early", Type: ir.TensorType(ir.Int32, 1)}}}
	late := &ir.Node{Name: "late", Op: "", Outputs: []*ir.Value{{Name: "later", Type: ir.TensorType(ir.Int32, 1)}}}
	early.Inputs[0] = late.Outputs[0]
	sink := &ir.Node{Name: "sink", Op: "Print", Inputs: []*ir.Value{attrs.Outputs[0], u, s, q, early.Outputs[0]}}
	noAttrs := &ir.Node{Name: "empty attrs", Op: "Identity", Inputs: []*ir.Value{s}, Outputs: []*ir.Value{{Name: "s2", Type: ir.Type{DType: ir.Float32}}}, Attrs: ir.Attrs{}}
	g.Nodes = []*ir.Node{big, attrs, early, late, sink, noAttrs}

	// A constant used only as a graph output, a graph input as an output,
	// and one value listed twice.
	onlyOut := constOf("only_output", ir.Float32, []float32{1, 2, 3}, 3)
	g.Outputs = []*ir.Value{catOut, onlyOut, x, attrs.Outputs[2], catOut}
	return g
}

// smallGraph is a quantized conv block as the INT8 passes leave it: the
// graph of the golden test.
func smallGraph() *ir.Graph {
	x := &ir.Value{Name: "x", Type: ir.Type{DType: ir.Float32, Shape: ir.Shape{ir.SymDim("N"), ir.D(8), ir.D(4), ir.D(4)}}}
	xs := constOf("x_scale", ir.Float32, []float32{0.0125})
	xz := constOf("x_zp", ir.Int8, []int8{0})
	wData := make([]int8, 8*8*1*1)
	for o := 0; o < 8; o++ {
		for i := 0; i < 8; i += 4 {
			wData[o*8+i+o%4] = int8(o*8 + i - 32)
			wData[o*8+i+(o+1)%4] = int8(5 - o)
		}
	}
	w := constOf("conv1.weight", ir.Int8, wData, 8, 8, 1, 1)
	w.Quant = &ir.QuantParams{Scale: []float32{0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08}, ZeroPoint: make([]int32, 8), Axis: 0}
	w.Sparsity = &ir.Sparsity{N: 2, M: 4, Axis: 1}
	bias := constOf("conv1.bias", ir.Int32, []int32{1, -2, 3, -4, 5, -6, 7, -8}, 8)
	shape := constOf("shape", ir.Int64, []int64{0, -1}, 2)
	qx := &ir.Value{Name: "x_q", Type: ir.Type{DType: ir.Int8, Shape: x.Type.Shape.Clone(), Layout: "NHWC"},
		Quant: &ir.QuantParams{Scale: []float32{0.0125}, ZeroPoint: []int32{0}, Axis: -1}}
	y := &ir.Value{Name: "/layer1/conv/Conv_output_0", Type: ir.Type{DType: ir.Int8, Shape: ir.Shape{ir.SymDim("N"), ir.D(8), ir.D(4), ir.D(4)}, Layout: "NHWC"},
		Quant: &ir.QuantParams{Scale: []float32{0.05}, ZeroPoint: []int32{-3}, Axis: -1}}
	r := &ir.Value{Name: "relu", Type: y.Type, Quant: y.Quant}
	flat := &ir.Value{Name: "logits", Type: ir.Type{DType: ir.Float32, Shape: ir.Shape{ir.SymDim("N"), ir.UnknownDim}}}
	deq := &ir.Value{Name: "deq", Type: ir.Type{DType: ir.Float32, Shape: y.Type.Shape.Clone()}}
	ys := constOf("y_scale", ir.Float32, []float32{0.05})
	yz := constOf("y_zp", ir.Int8, []int8{-3})
	return &ir.Graph{
		Name:   "main",
		Inputs: []*ir.Value{x},
		Nodes: []*ir.Node{
			{Name: "q1", Op: "QuantizeLinear", Inputs: []*ir.Value{x, xs, xz}, Outputs: []*ir.Value{qx}, Attrs: ir.Attrs{"axis": ir.IntAttr(1)}},
			{Name: "conv1", Op: "QLinearConvInteger", Inputs: []*ir.Value{qx, w, bias, nil}, Outputs: []*ir.Value{y},
				Attrs: ir.Attrs{"pads": ir.IntsAttr(0, 0, 0, 0), "strides": ir.IntsAttr(1, 1), "group": ir.IntAttr(1), "epilogue": ir.StringAttr("relu"), "alpha": ir.FloatAttr(1)}},
			{Name: "relu1", Op: "Relu", Inputs: []*ir.Value{y}, Outputs: []*ir.Value{r}},
			{Name: "dq", Op: "DequantizeLinear", Inputs: []*ir.Value{r, ys, yz}, Outputs: []*ir.Value{deq}},
			{Name: "flatten", Op: "Reshape", Inputs: []*ir.Value{deq, shape}, Outputs: []*ir.Value{flat}},
		},
		Outputs: []*ir.Value{flat},
	}
}

// resnet50Graph has the convolutions and the classifier of ResNet-50 (25.5
// million float32 weights, 102 MB), with batch-norm folded away, as the
// frontend would hand it over; the weights are pseudo-random.
func resnet50Graph() (g *ir.Graph, weightBytes int) {
	seed := uint32(1)
	rnd := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			seed = seed*1664525 + 1013904223
			s[i] = float32(int32(seed)>>8) * (1.0 / (1 << 26))
		}
		weightBytes += 4 * n
		return s
	}
	x := &ir.Value{Name: "input", Type: ir.Type{DType: ir.Float32, Shape: ir.Shape{ir.SymDim("N"), ir.D(3), ir.D(224), ir.D(224)}}}
	g = &ir.Graph{Name: "resnet50", Inputs: []*ir.Value{x}}
	id := 0
	conv := func(in *ir.Value, cin, cout, k, stride int, relu bool) *ir.Value {
		id++
		name := "/layer/conv" + strconv.Itoa(id)
		w := constOf(name+".weight", ir.Float32, rnd(cout*cin*k*k), cout, cin, k, k)
		b := constOf(name+".bias", ir.Float32, rnd(cout), cout)
		h := in.Type.Shape[2].Size / int64(stride)
		out := &ir.Value{Name: name + "_output_0", Type: ir.Type{DType: ir.Float32, Shape: ir.Shape{ir.SymDim("N"), ir.D(int64(cout)), ir.D(h), ir.D(h)}}}
		p := int64(k / 2)
		g.Nodes = append(g.Nodes, &ir.Node{Name: name, Op: "Conv", Inputs: []*ir.Value{in, w, b}, Outputs: []*ir.Value{out},
			Attrs: ir.Attrs{"kernel_shape": ir.IntsAttr(int64(k), int64(k)), "pads": ir.IntsAttr(p, p, p, p), "strides": ir.IntsAttr(int64(stride), int64(stride))}})
		if !relu {
			return out
		}
		r := &ir.Value{Name: name + "_relu", Type: out.Type}
		g.Nodes = append(g.Nodes, &ir.Node{Name: name + "/Relu", Op: "Relu", Inputs: []*ir.Value{out}, Outputs: []*ir.Value{r}})
		return r
	}
	v := conv(x, 3, 64, 7, 2, true)
	cin := 64
	for stage, blocks := range []int{3, 4, 6, 3} {
		width := 64 << stage
		for blk := 0; blk < blocks; blk++ {
			stride := 1
			if blk == 0 && stage > 0 {
				stride = 2
			}
			a := conv(v, cin, width, 1, 1, true)
			a = conv(a, width, width, 3, stride, true)
			a = conv(a, width, 4*width, 1, 1, false)
			skip := v
			if blk == 0 {
				skip = conv(v, cin, 4*width, 1, stride, false)
			}
			sum := &ir.Value{Name: "add" + strconv.Itoa(id), Type: a.Type}
			g.Nodes = append(g.Nodes, &ir.Node{Name: "Add" + strconv.Itoa(id), Op: "Add", Inputs: []*ir.Value{a, skip}, Outputs: []*ir.Value{sum}})
			v = sum
			cin = 4 * width
		}
	}
	fc := constOf("fc.weight", ir.Float32, rnd(1000*2048), 1000, 2048)
	logits := &ir.Value{Name: "logits", Type: ir.Type{DType: ir.Float32, Shape: ir.Shape{ir.SymDim("N"), ir.D(1000)}}}
	g.Nodes = append(g.Nodes, &ir.Node{Name: "fc", Op: "Gemm", Inputs: []*ir.Value{v, fc}, Outputs: []*ir.Value{logits}, Attrs: ir.Attrs{"transB": ir.IntAttr(1)}})
	g.Outputs = []*ir.Value{logits}
	return g, weightBytes
}

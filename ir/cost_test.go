package ir

import "testing"

// costVal makes a typed, non-constant value.
func costVal(name string, dt DType, dims ...Dim) *Value {
	return &Value{Name: name, Type: Type{DType: dt, Shape: Shape(dims)}}
}

// costF32 makes a float32 value of a static shape.
func costF32(name string, dims ...int) *Value {
	return &Value{Name: name, Type: TensorType(Float32, dims...)}
}

// costConst makes a float32 constant of a static shape.
func costConst(name string, dims ...int) *Value {
	return NewConst(name, NewTensor(Float32, dims...))
}

func TestMACs(t *testing.T) {
	n := SymDim("N")
	tests := []struct {
		name string
		node *Node
		want int64
	}{
		// 16 output channels × 32×32 positions, each a 3·3·3 = 27-long dot product.
		{"conv", &Node{Op: "Conv", Inputs: []*Value{costF32("x", 1, 3, 32, 32), costConst("w", 16, 3, 3, 3), costConst("b", 16)},
			Outputs: []*Value{costF32("y", 1, 16, 32, 32)}}, 16 * 32 * 32 * 27},
		// group 4 over 8 channels: each output reads 8/4 = 2 channels × 3×3.
		{"grouped conv", &Node{Op: "Conv", Attrs: Attrs{"group": IntAttr(4)},
			Inputs: []*Value{costF32("x", 2, 8, 10, 10), costConst("w", 8, 2, 3, 3)}, Outputs: []*Value{costF32("y", 2, 8, 8, 8)}}, 2 * 8 * 64 * 18},
		// every spatial dim counts: a 3-D convolution.
		{"conv3d", &Node{Op: "Conv", Inputs: []*Value{costF32("x", 1, 4, 8, 8, 8), costConst("w", 6, 4, 3, 3, 3)},
			Outputs: []*Value{costF32("y", 1, 6, 6, 6, 6)}}, 6 * 216 * 108},
		// 100 input elements, each scattered into 3 channels × 3×3 outputs.
		{"conv transpose", &Node{Op: "ConvTranspose", Attrs: Attrs{"strides": IntsAttr(2, 2)},
			Inputs: []*Value{costF32("x", 1, 4, 5, 5), costConst("w", 4, 3, 3, 3)}, Outputs: []*Value{costF32("y", 1, 3, 11, 11)}}, 2700},
		{"conv integer", &Node{Op: "ConvInteger", Inputs: []*Value{costVal("x", Uint8, D(1), D(1), D(28), D(28)), costVal("w", Uint8, D(8), D(1), D(5), D(5))},
			Outputs: []*Value{costVal("y", Int32, D(1), D(8), D(24), D(24))}}, 8 * 576 * 25},
		// QLinearConv's weight is input 3, after x, x_scale and x_zero_point.
		{"qlinear conv", &Node{Op: "QLinearConv", Inputs: []*Value{costVal("x", Int8, D(1), D(4), D(6), D(6)), costF32("xs"), costVal("xz", Int8),
			costVal("w", Int8, D(2), D(4), D(3), D(3)), costF32("ws"), costVal("wz", Int8), costF32("ys"), costVal("yz", Int8)},
			Outputs: []*Value{costVal("y", Int8, D(1), D(2), D(4), D(4))}}, 2 * 16 * 36},
		{"gemm", &Node{Op: "Gemm", Inputs: []*Value{costF32("a", 8, 64), costConst("b", 64, 10)}, Outputs: []*Value{costF32("y", 8, 10)}}, 8 * 10 * 64},
		// with transA, A is K×M.
		{"gemm transA", &Node{Op: "Gemm", Attrs: Attrs{"transA": IntAttr(1)}, Inputs: []*Value{costF32("a", 64, 8), costF32("b", 64, 10)},
			Outputs: []*Value{costF32("y", 8, 10)}}, 8 * 10 * 64},
		{"qgemm batch of rows", &Node{Op: "QGemm", Inputs: []*Value{costVal("a", Int8, D(2), D(7), D(7), D(96)), costVal("b", Int8, D(384), D(96)), costF32("m", 384)},
			Outputs: []*Value{costVal("y", Int8, D(2), D(7), D(7), D(384))}}, 2 * 49 * 384 * 96},
		// batch dims multiply: 2·3 matrices of 4×5 times 5×6.
		{"batched matmul", &Node{Op: "MatMul", Inputs: []*Value{costF32("a", 2, 3, 4, 5), costF32("b", 5, 6)}, Outputs: []*Value{costF32("y", 2, 3, 4, 6)}}, 2 * 3 * 4 * 6 * 5},
		// a 1-D A is a row vector: 6 dot products of length 5.
		{"vector matmul", &Node{Op: "MatMul", Inputs: []*Value{costF32("a", 5), costF32("b", 5, 6)}, Outputs: []*Value{costF32("y", 6)}}, 30},
		{"matmul integer", &Node{Op: "MatMulInteger", Inputs: []*Value{costVal("a", Uint8, D(1), D(256)), costVal("b", Int8, D(256), D(10))},
			Outputs: []*Value{costVal("y", Int32, D(1), D(10))}}, 2560},
		{"qlinear matmul", &Node{Op: "QLinearMatMul", Inputs: []*Value{costVal("a", Int8, D(3), D(7)), costF32("as"), costVal("az", Int8), costVal("b", Int8, D(7), D(2))},
			Outputs: []*Value{costVal("y", Int8, D(3), D(2))}}, 42},
		// sqc's own forms count as the ops they fuse or quantize.
		{"fused conv", &Node{Op: "FusedConv", Inputs: []*Value{costF32("x", 1, 3, 32, 32), costConst("w", 16, 3, 3, 3), costConst("b", 16), costF32("r", 1, 16, 32, 32)},
			Outputs: []*Value{costF32("y", 1, 16, 32, 32)}}, 16 * 32 * 32 * 27},
		{"qconv", &Node{Op: "QConv", Inputs: []*Value{costVal("x", Int8, D(1), D(4), D(6), D(6)), costVal("w", Int8, D(2), D(4), D(3), D(3)), costF32("m", 2)},
			Outputs: []*Value{costVal("y", Int8, D(1), D(2), D(4), D(4))}}, 2 * 16 * 36},
		{"qgemm", &Node{Op: "QGemm", Attrs: Attrs{"transB": IntAttr(1)}, Inputs: []*Value{costVal("a", Int8, D(8), D(64)), costVal("b", Int8, D(10), D(64)), costF32("m", 10)},
			Outputs: []*Value{costF32("y", 8, 10)}}, 8 * 10 * 64},
		{"qgemm batch of rows", &Node{Op: "QGemm", Inputs: []*Value{costVal("a", Int8, D(2), D(7), D(7), D(96)), costVal("b", Int8, D(384), D(96)), costF32("m", 384)},
			Outputs: []*Value{costVal("y", Int8, D(2), D(7), D(7), D(384))}}, 2 * 49 * 384 * 96},
		{"relu", &Node{Op: "Relu", Inputs: []*Value{costF32("x", 4, 4)}, Outputs: []*Value{costF32("y", 4, 4)}}, 0},
		{"nil", nil, 0},
		// a symbolic batch leaves the count unknown.
		{"symbolic conv", &Node{Op: "Conv", Inputs: []*Value{costVal("x", Float32, n, D(3), D(8), D(8)), costConst("w", 4, 3, 3, 3)},
			Outputs: []*Value{costVal("y", Float32, n, D(4), D(6), D(6))}}, -1},
		{"symbolic matmul", &Node{Op: "MatMul", Inputs: []*Value{costVal("a", Float32, n, D(5)), costF32("b", 5, 6)},
			Outputs: []*Value{costVal("y", Float32, n, D(6))}}, -1},
		{"symbolic K", &Node{Op: "MatMul", Inputs: []*Value{costVal("a", Float32, D(2), n), costVal("b", Float32, n, D(6))},
			Outputs: []*Value{costF32("y", 2, 6)}}, -1},
		{"untyped output", &Node{Op: "Gemm", Inputs: []*Value{costF32("a", 8, 64), costF32("b", 64, 10)}, Outputs: []*Value{{Name: "y"}}}, -1},
		{"missing weight", &Node{Op: "Conv", Inputs: []*Value{costF32("x", 1, 3, 8, 8)}, Outputs: []*Value{costF32("y", 1, 4, 6, 6)}}, -1},
		{"rank-1 gemm", &Node{Op: "Gemm", Inputs: []*Value{costF32("a", 8), costF32("b", 8, 2)}, Outputs: []*Value{costF32("y", 2)}}, -1},
	}
	for _, tt := range tests {
		if got := MACs(tt.node); got != tt.want {
			t.Errorf("%s: MACs = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestParams(t *testing.T) {
	w, b := costConst("w", 16, 3, 3, 3), costConst("b", 16)
	conv := &Node{Op: "Conv", Inputs: []*Value{costF32("x", 1, 3, 8, 8), w, b}, Outputs: []*Value{costF32("y", 1, 16, 6, 6)}}
	if got := Params(conv); got != 16*27+16 {
		t.Errorf("conv: Params = %d, want %d", got, 16*27+16)
	}
	// a shape operand is not a parameter.
	shape := NewConst("shape", FromInt64([]int64{1, -1}, 2))
	reshape := &Node{Op: "Reshape", Inputs: []*Value{costF32("x", 2, 8), shape}, Outputs: []*Value{costF32("y", 1, 16)}}
	if got := Params(reshape); got != 0 {
		t.Errorf("reshape: Params = %d, want 0", got)
	}
	// the same constant read twice is one set of parameters.
	sq := &Node{Op: "Mul", Inputs: []*Value{b, b}, Outputs: []*Value{costF32("y", 16)}}
	if got := Params(sq); got != 16 {
		t.Errorf("mul b b: Params = %d, want 16", got)
	}
	// int8 weights, scalar scale and zero point, int32 bias all count.
	qw := NewConst("qw", NewTensor(Int8, 4, 2, 1, 1))
	qb := NewConst("qb", NewTensor(Int32, 4))
	qc := &Node{Op: "QLinearConv", Inputs: []*Value{costVal("x", Int8, D(1), D(2), D(3), D(3)), costConst("xs"), NewConst("xz", NewTensor(Int8)),
		qw, costConst("ws"), NewConst("wz", NewTensor(Int8)), costConst("ys"), NewConst("yz", NewTensor(Int8)), qb}}
	if got := Params(qc); got != 8+4+6 {
		t.Errorf("qlinearconv: Params = %d, want %d", got, 8+4+6)
	}
	if got := Params(nil); got != 0 {
		t.Errorf("nil: Params = %d, want 0", got)
	}
}

func TestCost(t *testing.T) {
	// A BatchNormalization lowered to Mul and Add of per-channel constants,
	// behind a Gemm; the Add reuses the Mul's scale, which counts once.
	scale, shift := costConst("s", 10), costConst("t", 10)
	gemm := &Node{Op: "Gemm", Inputs: []*Value{costF32("a", 4, 32), costConst("w", 32, 10)}, Outputs: []*Value{costF32("g", 4, 10)}}
	mul := &Node{Op: "Mul", Inputs: []*Value{gemm.Outputs[0], scale}, Outputs: []*Value{costF32("m", 4, 10)}}
	add := &Node{Op: "Add", Inputs: []*Value{mul.Outputs[0], shift, scale}, Outputs: []*Value{costF32("y", 4, 10)}}
	macs, params := Cost([]*Node{gemm, mul, add})
	if macs != 4*10*32 || params != 320+10+10 {
		t.Errorf("Cost = %d MACs, %d params; want %d, %d", macs, params, 4*10*32, 340)
	}
	// one unknown count makes the sum unknown, whatever its position.
	sym := &Node{Op: "MatMul", Inputs: []*Value{costVal("a", Float32, SymDim("N"), D(10)), costConst("v", 10, 2)},
		Outputs: []*Value{costVal("y", Float32, SymDim("N"), D(2))}}
	for _, nodes := range [][]*Node{{sym, gemm}, {gemm, sym}, {gemm, sym, mul}} {
		if macs, params := Cost(nodes); macs != -1 || params <= 0 {
			t.Errorf("Cost with a symbolic node = %d MACs, %d params; want -1 MACs and the params", macs, params)
		}
	}
	if macs, params := Cost(nil); macs != 0 || params != 0 {
		t.Errorf("Cost(nil) = %d, %d; want 0, 0", macs, params)
	}
}

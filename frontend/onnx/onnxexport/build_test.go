package onnxexport_test

import (
	"fmt"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// builder writes small IR graphs by hand for the tests, inferring each
// node's output types as it goes.
type builder struct {
	t *testing.T
	g *ir.Graph
}

func newBuilder(t *testing.T, name string) *builder {
	return &builder{t: t, g: &ir.Graph{Name: name}}
}

func (b *builder) input(name string, dt ir.DType, dims ...ir.Dim) *ir.Value {
	v := &ir.Value{Name: name, Type: ir.Type{DType: dt, Shape: append(ir.Shape{}, dims...)}}
	b.g.Inputs = append(b.g.Inputs, v)
	return v
}

// node adds a node named after its op and position with nout outputs
// ("<node>_out<i>") and infers their types.
func (b *builder) node(op string, ins []*ir.Value, attrs ir.Attrs, nout int) []*ir.Value {
	b.t.Helper()
	name := fmt.Sprintf("%s_%d", op, len(b.g.Nodes))
	outs := make([]*ir.Value, nout)
	for i := range outs {
		outs[i] = &ir.Value{Name: fmt.Sprintf("%s_out%d", name, i)}
	}
	if attrs == nil {
		attrs = ir.Attrs{}
	}
	n := &ir.Node{Name: name, Op: op, Inputs: ins, Outputs: outs, Attrs: attrs}
	b.g.Nodes = append(b.g.Nodes, n)
	if err := ir.InferNode(n); err != nil {
		b.t.Fatalf("building the test graph: %v", err)
	}
	return outs
}

func (b *builder) one(op string, ins []*ir.Value, attrs ir.Attrs) *ir.Value {
	b.t.Helper()
	return b.node(op, ins, attrs, 1)[0]
}

func (b *builder) output(vs ...*ir.Value) { b.g.Outputs = append(b.g.Outputs, vs...) }

func (b *builder) graph() *ir.Graph {
	b.t.Helper()
	if err := ir.Verify(b.g); err != nil {
		b.t.Fatalf("the test graph does not verify: %v", err)
	}
	return b.g
}

// constant makes a named constant value.
func constant(name string, t *ir.Tensor) *ir.Value { return ir.NewConst(name, t) }

func f32s(shape []int, v ...float32) *ir.Tensor { return ir.FromFloat32(v, shape...) }

func i64s(v ...int64) *ir.Tensor { return ir.FromInt64(v, len(v)) }

// epilogueGraph holds each of sqc's own ops in the forms their decomposers
// handle, and constants of the dtypes whose encoding is special:
//
//	y1   = FusedConv(x, W, B, r), clip to max 1.5 (no lower bound)
//	y2   = FusedGemm(a, Bg, C), transB, alpha 0.5, relu
//	y3   = Relayout(Relu(Relayout(y1, NHWC)), "") (one dropped, one Identity)
//	yh   = Cast(f16 constant), ybf = Cast(bf16 constant), ybo = Cast(bool constant)
//	ydq  = DequantizeLinear(i8 constant, 0.5, 1)
func epilogueGraph(t *testing.T) *ir.Graph {
	b := newBuilder(t, "epilogue")
	n := ir.SymDim("N")
	x := b.input("x", ir.Float32, n, ir.D(2), ir.D(2), ir.D(2))
	r := b.input("r", ir.Float32, n, ir.D(3), ir.D(2), ir.D(2))
	a := b.input("a", ir.Float32, ir.D(2), ir.D(3))
	// W: 3 output channels, 2 input channels, 1×1: out[o] = Σ_c W[o][c]·x[c].
	w := constant("W", f32s([]int{3, 2, 1, 1}, 1, 0, 0, 1, 1, -1))
	bias := constant("B", f32s([]int{3}, 0.5, -0.5, 0))
	y1 := b.one("FusedConv", []*ir.Value{x, w, bias, r}, ir.Attrs{
		"activation": ir.StringAttr(ir.ActClip), "clip_max": ir.FloatAttr(1.5),
		"strides": ir.IntsAttr(1, 1), "group": ir.IntAttr(1)})
	// Bg is 4×3, read transposed: y2 = relu(0.5·a·Bgᵀ + C).
	bg := constant("Bg", f32s([]int{4, 3}, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1))
	c := constant("C", f32s([]int{4}, 0, 0, 0, -1))
	y2 := b.one("FusedGemm", []*ir.Value{a, bg, c}, ir.Attrs{
		"activation": ir.StringAttr(ir.ActRelu), "alpha": ir.FloatAttr(0.5), "transB": ir.IntAttr(1)})
	nhwc := b.one("Relayout", []*ir.Value{y1}, ir.Attrs{"to": ir.StringAttr("NHWC")})
	relu := b.one("Relu", []*ir.Value{nhwc}, nil)
	y3 := b.one("Relayout", []*ir.Value{relu}, ir.Attrs{"to": ir.StringAttr("")})
	h := constant("h", &ir.Tensor{DType: ir.Float16, Shape: []int{3}, Data: []uint16{0x3C00, 0xC000, 0x3800}}) // 1, -2, 0.5
	bf := constant("bf", &ir.Tensor{DType: ir.BFloat16, Shape: []int{2}, Data: []uint16{0x3F80, 0xC040}})      // 1, -3
	bo := constant("bo", &ir.Tensor{DType: ir.Bool, Shape: []int{3}, Data: []bool{true, false, true}})
	q := constant("q", &ir.Tensor{DType: ir.Int8, Shape: []int{4}, Data: []int8{-128, -1, 0, 127}})
	yh := b.one("Cast", []*ir.Value{h}, ir.Attrs{"to": ir.IntAttr(1)})
	ybf := b.one("Cast", []*ir.Value{bf}, ir.Attrs{"to": ir.IntAttr(1)})
	ybo := b.one("Cast", []*ir.Value{bo}, ir.Attrs{"to": ir.IntAttr(1)})
	ydq := b.one("DequantizeLinear", []*ir.Value{q,
		constant("q_scale", f32s(nil, 0.5)),
		constant("q_zp", &ir.Tensor{DType: ir.Int8, Shape: []int{}, Data: []int8{1}})}, nil)
	b.output(y1, y2, y3, yh, ybf, ybo, ydq)
	return b.graph()
}

// epilogueInputs are inputs for epilogueGraph with batch 2.
func epilogueInputs() []*ir.Tensor {
	x := make([]float32, 2*2*2*2)
	r := make([]float32, 2*3*2*2)
	for i := range x {
		x[i] = float32(i%7) - 3 + 0.25
	}
	for i := range r {
		r[i] = float32(i%5)*0.5 - 1
	}
	return []*ir.Tensor{f32s([]int{2, 2, 2, 2}, x...), f32s([]int{2, 3, 2, 2}, r...), f32s([]int{2, 3}, 1, -2, 3, 0.5, 0.25, -4)}
}

// epilogueWant computes epilogueGraph's outputs from its definition, with
// none of the code under test.
func epilogueWant(in []*ir.Tensor) [][]float32 {
	x, r, a := in[0].Float32s(), in[1].Float32s(), in[2].Float32s()
	w := [3][2]float32{{1, 0}, {0, 1}, {1, -1}}
	bias := [3]float32{0.5, -0.5, 0}
	y1 := make([]float32, 2*3*4)
	for nb := 0; nb < 2; nb++ {
		for o := 0; o < 3; o++ {
			for p := 0; p < 4; p++ {
				acc := w[o][0]*x[(nb*2+0)*4+p] + w[o][1]*x[(nb*2+1)*4+p] + bias[o]
				v := acc + r[(nb*3+o)*4+p]
				if v > 1.5 {
					v = 1.5
				}
				y1[(nb*3+o)*4+p] = v
			}
		}
	}
	bg := [4][3]float32{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 1, 1}}
	c := [4]float32{0, 0, 0, -1}
	y2 := make([]float32, 2*4)
	for i := 0; i < 2; i++ {
		for j := 0; j < 4; j++ {
			var s float32
			for k := 0; k < 3; k++ {
				s += a[i*3+k] * bg[j][k]
			}
			v := 0.5*s + c[j]
			if v < 0 {
				v = 0
			}
			y2[i*4+j] = v
		}
	}
	y3 := make([]float32, len(y1))
	for i, v := range y1 {
		if v > 0 {
			y3[i] = v
		}
	}
	return [][]float32{y1, y2, y3, {1, -2, 0.5}, {1, -3}, {1, 0, 1}, {-64.5, -1, -0.5, 63}}
}

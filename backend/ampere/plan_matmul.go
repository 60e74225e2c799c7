package ampere

import (
	"fmt"
	"math"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// floatMatMulRows plans an f32 MatMul by a constant 2-D right operand, or
// one dequantized at plan time (foldDequantize), of a left operand of any
// rank (ConvNeXt's and ViT's MLPs, applied to every pixel or token) on the
// float fallback convolution: the left
// operand's rows, consecutive in memory (an NHWC image is first copied to
// NCHW order), are a column of pixels (H = rows,
// W = 1, C = K) and the weight a 1×1 convolution of M output channels, so
// the output rows come out in logical order. Like the rank-2 Gemm on that
// kernel it sums in its own order: approximate (kernels.ApproxKernels).
func (p *planner) floatMatMulRows(n *ir.Node) error {
	a, err := p.input(n, 0)
	if err != nil {
		return err
	}
	if a.Dtype != "f32" {
		return fmt.Errorf("input %s is %s, the GPU row MatMul takes f32", a.Name, a.Dtype)
	}
	k := a.SampleShape[len(a.SampleShape)-1]
	if a, err = p.asRowMajor(n, a); err != nil {
		return err
	}
	bt, err := p.weight(n, 1, "B")
	if err != nil {
		return err
	}
	if len(bt.Shape) != 2 {
		return fmt.Errorf("input B %s has shape %v, the GPU row MatMul takes a 2-D weight", n.Inputs[1].Name, bt.Shape)
	}
	if int64(bt.Shape[0]) != k {
		return fmt.Errorf("input B %v does not fit K = %d", bt.Shape, k)
	}
	m := int64(bt.Shape[1])
	rows := a.ElemsPerSample / k
	bs := bt.Float32s()
	wt := make([]float32, m*k)
	for j := int64(0); j < m; j++ {
		for i := int64(0); i < k; i++ {
			wt[j*k+i] = bs[i*m+j]
		}
	}
	y, err := p.newBuffer(n.Outputs[0], LayoutNCHW)
	if err != nil {
		return err
	}
	if y.ElemsPerSample != rows*m {
		return fmt.Errorf("output %s has %d elements a sample, want %d rows of %d", y.Name, y.ElemsPerSample, rows, m)
	}
	wn, bn := n.Name+"/w_f32", n.Name+"/b_f32"
	p.e.Weights = append(p.e.Weights, &engine.Weight{Name: wn, Kind: "f32", Data: leBytes(wt)},
		&engine.Weight{Name: bn, Kind: "f32", Data: leBytes(make([]float32, m))})
	p.floatLaunch(n, "float fallback matmul over rows", y.ElemsPerSample, bufArg(a), bufArg(y), weightArg(wn), weightArg(bn), bufArg(y),
		perSample(y.ElemsPerSample), u32(k), u32(rows), u32(1), u32(m), u32(rows), u32(1), u32(1), u32(1), u32(1), u32(1),
		u32(0), u32(0), u32(1), u32(1), u32(k), u32(m), u32(1), u32(1), u32(0), f32(float32(math.Inf(-1))), f32(float32(math.Inf(1))))
	return nil
}

// weight returns input i of n as an f32 constant: a constant, or a value
// folded at plan time.
func (p *planner) weight(n *ir.Node, i int, what string) (*ir.Tensor, error) {
	if i < len(n.Inputs) && n.Inputs[i] != nil {
		if t := p.folded[n.Inputs[i]]; t != nil {
			return t, nil
		}
	}
	return constWeight(n, i, what)
}

// foldDequantize plans a DequantizeLinear of constants (a weight that the
// INT8 recipe fake-quantized in front of a MatMul it left float, as in
// ConvNeXt's MLPs) as a value computed at plan time by the reference
// executor: no buffer and no launch; the MatMuls reading it take it as
// their constant weight. Only MatMuls reading it as the weight are
// accepted, since nothing else can read a value that has no buffer.
func (p *planner) foldDequantize(n *ir.Node) error {
	for _, v := range n.Inputs {
		if v != nil && !v.IsConst() {
			return fmt.Errorf("input %s is computed, only a constant's dequantization folds", v.Name)
		}
	}
	out := n.Outputs[0]
	if p.g.IsOutput(out) {
		return fmt.Errorf("output %s is a graph output, which needs a buffer", out.Name)
	}
	for _, u := range p.users[out] {
		if u.Op != "MatMul" || len(u.Inputs) != 2 || u.Inputs[1] != out || u.Inputs[0] == out || u.Inputs[0].IsConst() ||
			u.Inputs[0].Type.DType != ir.Float32 || len(out.Type.Shape) != 2 {
			return fmt.Errorf("%s is read by %s (%s) other than as the 2-D weight of a float MatMul: a value folded at plan time has no buffer", out.Name, u.Name, u.Op)
		}
	}
	res, err := ref.Run(&ir.Graph{Name: n.Name, Nodes: []*ir.Node{n}, Outputs: []*ir.Value{out}})
	if err != nil {
		return fmt.Errorf("folding the dequantization on the reference executor: %w", err)
	}
	if res[0].DType != ir.Float32 {
		return fmt.Errorf("folded %s is %v, want f32", out.Name, res[0].DType)
	}
	if p.folded == nil {
		p.folded = map[*ir.Value]*ir.Tensor{}
	}
	p.folded[out] = res[0]
	return nil
}

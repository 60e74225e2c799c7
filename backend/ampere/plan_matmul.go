package ampere

import (
	"fmt"
	"math"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/ir"
)

// floatMatMulRows plans an f32 MatMul of a rank-3 or higher left operand
// by a constant 2-D right operand (ConvNeXt's and ViT's MLPs, applied to
// every pixel or token) on the float fallback convolution: the left
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
	if a.Dtype != "f32" || len(a.SampleShape) < 2 {
		return fmt.Errorf("input %s is %s of rank %d, the GPU row MatMul takes f32 of rank 3 or more", a.Name, a.Dtype, len(a.SampleShape)+1)
	}
	k := a.SampleShape[len(a.SampleShape)-1]
	if a, err = p.asRowMajor(n, a); err != nil {
		return err
	}
	bt, err := constWeight(n, 1, "B")
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

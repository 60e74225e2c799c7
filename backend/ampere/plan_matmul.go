package ampere

import (
	"fmt"
	"math"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
)

// floatMatMulRows plans an f32 MatMul by a constant 2-D right operand, or
// one dequantized before planning (foldConstantNodes), of a left operand of any
// rank (ConvNeXt's and ViT's MLPs, applied to every pixel or token) on the
// float fallback convolution: the left
// operand's rows, consecutive in memory (an NHWC image is first copied to
// NCHW order), are a column of pixels (H = rows,
// W = 1, C = K) and the weight a 1×1 convolution of M output channels, so
// the output rows come out in logical order. Like the rank-2 Gemm on that
// kernel it sums in ir/ref's order, so it equals the reference bit for bit.
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
	wt := transpose2(bt.Float32s(), int(k), int(m))
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

// weight returns input i of n as an f32 constant (a weight the INT8 recipe
// quantized and dequantized again arrives here as a constant too:
// foldConstantNodes computed its DequantizeLinear before planning).
func (p *planner) weight(n *ir.Node, i int, what string) (*ir.Tensor, error) {
	return constWeight(n, i, what)
}

// floatBatchMatMul plans an f32 MatMul whose right operand is computed (a
// transformer's attention products) or a constant stack of matrices on
// kernels.BatchMatMulKernel: the left operand is per sample a stack of M×K
// matrices, the right one a stack of K×P matrices (per sample, or one
// constant stack shared by the batch), each stack either the output's
// stack or one matrix broadcast over it. Operands held as NHWC images are
// first copied to NCHW order; the output is in logical order.
func (p *planner) floatBatchMatMul(n *ir.Node) error {
	out := n.Outputs[0]
	rank := len(out.Type.Shape)
	if rank < 3 {
		return fmt.Errorf("output %s has rank %d, the batched MatMul takes rank 3 or more", out.Name, rank)
	}
	m, pdim := out.Type.Shape[rank-2].Size, out.Type.Shape[rank-1].Size
	mats := int64(1)
	for _, d := range out.Type.Shape[1 : rank-2] {
		mats *= d.Size
	}
	// operand returns an operand's argument, its elements a sample (0 for
	// a constant) and its matrix stride (0 when broadcast).
	operand := func(i int, rows, cols int64) (*engine.Arg, int64, int64, error) {
		v := n.Inputs[i]
		shape := v.Type.Shape
		var stack int64 = 1
		if v.IsConst() {
			t := v.Const
			if t.DType != ir.Float32 {
				return nil, 0, 0, fmt.Errorf("input %s is %v, want f32", v.Name, t.DType)
			}
			// A constant has no batch dim: its dims align with the
			// output's from the right, a leading 1 broadcast over the batch.
			if len(t.Shape) == rank && t.Shape[0] != 1 {
				return nil, 0, 0, fmt.Errorf("constant %s has a batch dim of %d: the GPU broadcasts constants over the batch", v.Name, t.Shape[0])
			}
			for _, d := range t.Shape[:len(t.Shape)-2] {
				stack *= int64(d)
			}
			if int64(t.Shape[len(t.Shape)-2]) != rows || int64(t.Shape[len(t.Shape)-1]) != cols {
				return nil, 0, 0, fmt.Errorf("constant %s has shape %v, want %d×%d matrices", v.Name, t.Shape, rows, cols)
			}
			wn := fmt.Sprintf("%s/in%d_f32", n.Name, i)
			p.e.Weights = append(p.e.Weights, &engine.Weight{Name: wn, Kind: "f32", Data: leBytes(t.Float32s())})
			stride, err := stackStride(v.Name, stack, mats, rows*cols)
			return weightArg(wn), 0, stride, err
		}
		b, err := p.input(n, i)
		if err != nil {
			return nil, 0, 0, err
		}
		if b.Dtype != "f32" || len(shape) != rank {
			return nil, 0, 0, fmt.Errorf("input %s is %s of rank %d, the batched MatMul takes f32 of the output's rank %d", v.Name, b.Dtype, len(shape), rank)
		}
		if shape[rank-2].Size != rows || shape[rank-1].Size != cols {
			return nil, 0, 0, fmt.Errorf("input %s has shape %v, want %d×%d matrices", v.Name, shape, rows, cols)
		}
		for _, d := range shape[1 : rank-2] {
			stack *= d.Size
		}
		if b, err = p.asRowMajor(n, b); err != nil {
			return nil, 0, 0, err
		}
		stride, err := stackStride(v.Name, stack, mats, rows*cols)
		return bufArg(b), b.ElemsPerSample, stride, err
	}
	a := n.Inputs[0]
	if a == nil || n.Inputs[1] == nil || len(a.Type.Shape) < 2 {
		return fmt.Errorf("the batched MatMul takes two operands of rank 2 or more")
	}
	k := a.Type.Shape[len(a.Type.Shape)-1].Size
	if a.IsConst() {
		return fmt.Errorf("input A %s is constant, the batched MatMul takes a computed left operand", a.Name)
	}
	aArg, aSample, aMat, err := operand(0, m, k)
	if err != nil {
		return err
	}
	bArg, bSample, bMat, err := operand(1, k, pdim)
	if err != nil {
		return err
	}
	y, err := p.newBuffer(out, LayoutNCHW)
	if err != nil {
		return err
	}
	if y.ElemsPerSample != mats*m*pdim {
		return fmt.Errorf("output %s has %d elements a sample, want %d matrices of %d×%d", out.Name, y.ElemsPerSample, mats, m, pdim)
	}
	// One block a 64×64 output tile of one matrix.
	tiles := kernels.BatchMatMulTiles(mats, m, pdim)
	p.useKernel(kernels.BatchMatMulKernel, kernels.BatchMatMulPTX())
	p.e.Steps = append(p.e.Steps, &engine.Step{Node: n.Name, Op: n.Op, Kernel: kernels.BatchMatMulKernel, Precision: "f32",
		WorkPerSample: uint64(tiles), WorkPerBlockX: 1, GridY: 1, GridZ: 1, BlockX: kernels.BatchMatMulThreads,
		Args: []*engine.Arg{aArg, bArg, bufArg(y), perSample(tiles), u32(m), u32(k), u32(pdim), u32(mats),
			u32(aSample), u32(bSample), u32(aMat), u32(bMat)},
		Note: fmt.Sprintf("float batched matmul, %d products of %d×%d by %d×%d a sample", mats, m, k, k, pdim)})
	return nil
}

// stackStride is the distance between an operand's matrices: one matrix a
// product when its stack is the output's, 0 when one matrix serves all.
func stackStride(name string, stack, mats, size int64) (int64, error) {
	switch {
	case stack == mats:
		return size, nil
	case stack == 1:
		return 0, nil
	}
	return 0, fmt.Errorf("input %s stacks %d matrices against the output's %d: the batched MatMul broadcasts one matrix or none", name, stack, mats)
}

package ref

import (
	"fmt"

	"github.com/sqc-project/sqc/ir"
)

// Kernels of sqc's quantized ops QConv and QGemm (ir/ops_qint8.go, which
// states their arithmetic). They share the exact integer accumulation of
// QLinearConv and QLinearMatMul (quant_conv.go, quant_gemm.go) and differ
// only in the epilogue, qEpilogueRow, which is the definition the GPU
// backend reproduces:
//
//	acc = Σ (x − zx)·w + B[k]                   int32 (bias added with wraparound)
//	y   = float32(float32(acc) · M[k])
//	y   = float32(y + float32(float32(r − zr) · MR))    when there is a residual
//	q   = sat(rne(y) + zy) over [lo, hi]        (ir.QActivationRange)
//
// or, for a float32 output, y after max(y, 0) or min(max(y, lo), hi). The
// explicit float32 conversions keep Go from fusing a multiply and an add
// (the Go spec guarantees an explicit conversion rounds).

func init() {
	register("QConv", qConvOpKernel)
	register("QGemm", qGemmOpKernel)
}

// qEpilogue is the resolved epilogue of a QConv or QGemm node.
type qEpilogue struct {
	bias   []int32   // one per output channel, zeros when absent
	mult   []float32 // M
	r      []int8    // residual, nil when absent
	zr     int32
	mr     float32
	float  bool // float32 output
	zy     int32
	lo, hi int32   // int8 output range after the activation
	act    string  // for a float32 output
	flo    float32 // clip bounds for a float32 output
	fhi    float32
}

// qPrepare reads the epilogue inputs and attributes of node n whose output
// has the given number of channels.
func qPrepare(n *ir.Node, in, out []*ir.Tensor, channels int) (*qEpilogue, error) {
	e := &qEpilogue{bias: make([]int32, channels)}
	if b := qOpt(in, 3); b != nil {
		bd, ok := b.Data.([]int32)
		if !ok || len(bd) != channels {
			return nil, fmt.Errorf("bias B is %v%v, want i32[%d]", b.DType, b.Shape, channels)
		}
		copy(e.bias, bd)
	}
	m, ok := in[2].Data.([]float32)
	if !ok || len(m) != channels {
		return nil, fmt.Errorf("multiplier M is %v%v, want f32[%d]", in[2].DType, in[2].Shape, channels)
	}
	e.mult = m
	if r := qOpt(in, 4); r != nil {
		rd, ok := r.Data.([]int8)
		if !ok || len(rd) != out[0].Len() {
			return nil, fmt.Errorf("residual R is %v%v, want i8 of the output's shape %v", r.DType, r.Shape, out[0].Shape)
		}
		rq := n.Inputs[4].Quant
		if rq == nil || len(rq.ZeroPoint) != 1 {
			return nil, fmt.Errorf("residual R carries no per-tensor quantization parameters")
		}
		mr := qOpt(in, 5)
		if mr == nil || mr.DType != ir.Float32 || mr.Len() != 1 {
			return nil, fmt.Errorf("residual multiplier MR is missing or not an f32 scalar")
		}
		e.r, e.zr, e.mr = rd, rq.ZeroPoint[0], mr.Float32s()[0]
	}
	act, lo, hi, err := ir.FusedActivation(n.Attrs)
	if err != nil {
		return nil, err
	}
	switch out[0].DType {
	case ir.Float32:
		e.float, e.act, e.flo, e.fhi = true, act, lo, hi
	case ir.Int8:
		yq := n.Outputs[0].Quant
		if yq == nil || len(yq.Scale) != 1 || len(yq.ZeroPoint) != 1 {
			return nil, fmt.Errorf("int8 output carries no per-tensor quantization parameters")
		}
		e.zy = yq.ZeroPoint[0]
		if e.lo, e.hi, err = ir.QActivationRange(act, lo, hi, yq.Scale[0], e.zy); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("output is %v, want i8 or f32", out[0].DType)
	}
	return e, nil
}

// row applies the epilogue of channel k to accumulators acc, whose outputs
// (and residual elements) start at flat index base and follow each other
// at the given stride.
func (e *qEpilogue) row(k int, acc []int32, out *ir.Tensor, base, stride int) {
	b, m := e.bias[k], e.mult[k]
	switch y := out.Data.(type) {
	case []int8:
		for i, a := range acc {
			o := base + i*stride
			v := float32(float32(a+b) * m)
			if e.r != nil {
				v = float32(v + float32(float32(int32(e.r[o])-e.zr)*e.mr))
			}
			y[o] = int8(roundSat(v, e.zy, e.lo, e.hi))
		}
	case []float32:
		for i, a := range acc {
			o := base + i*stride
			v := float32(float32(a+b) * m)
			if e.r != nil {
				v = float32(v + float32(float32(int32(e.r[o])-e.zr)*e.mr))
			}
			switch e.act {
			case ir.ActRelu:
				v = max(v, 0)
			case ir.ActClip:
				v = min(max(v, e.flo), e.fhi)
			}
			y[o] = v
		}
	}
}

// qZeroPoint returns the per-tensor zero point of node input i.
func qZeroPoint(n *ir.Node, i int, what string) (int32, error) {
	q := n.Inputs[i].Quant
	if q == nil || len(q.ZeroPoint) != 1 {
		return 0, fmt.Errorf("%s carries no per-tensor quantization parameters", what)
	}
	return q.ZeroPoint[0], nil
}

func qConvOpKernel(n *ir.Node, in, out []*ir.Tensor) error {
	x, w := in[0], in[1]
	if x.DType != ir.Int8 || w.DType != ir.Int8 {
		return fmt.Errorf("input X is %v and weight W %v, want i8", x.DType, w.DType)
	}
	if len(w.Shape) < 3 {
		return fmt.Errorf("weight W has shape %v, want M×C/group×K1…", w.Shape)
	}
	zx, err := qZeroPoint(n, 0, "input X")
	if err != nil {
		return err
	}
	m := w.Shape[0]
	e, err := qPrepare(n, in, out, m)
	if err != nil {
		return err
	}
	return qConvAcc(n, x, w, zx, []int32{0}, func(img, m0, mg, p int, acc []int32) {
		parallelFor(mg, max(1, 4096/max(1, p)), func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				oc := m0 + r
				e.row(oc, acc[r*p:(r+1)*p], out[0], (img*m+oc)*p, 1)
			}
		})
	})
}

func qGemmOpKernel(n *ir.Node, in, out []*ir.Tensor) error {
	a, w := in[0], in[1]
	if a.DType != ir.Int8 || w.DType != ir.Int8 {
		return fmt.Errorf("input A is %v and weight W %v, want i8", a.DType, w.DType)
	}
	if len(a.Shape) < 2 || len(w.Shape) != 2 || a.Shape[len(a.Shape)-1] != w.Shape[1] {
		return fmt.Errorf("input A %v and weight W %v, want [...,K] (rank 2 or more) and [N,K]", a.Shape, w.Shape)
	}
	za, err := qZeroPoint(n, 0, "input A")
	if err != nil {
		return err
	}
	if err := qCheck8Bit("A", a.DType, za); err != nil {
		return err
	}
	// A batch of rows [...,K] is the matrix of its rows: the leading dims
	// flatten into M, and the output, [...,N], is row-major like [M,N].
	k, cols := w.Shape[1], w.Shape[0]
	rows := a.Len() / max(k, 1)
	e, err := qPrepare(n, in, out, cols)
	if err != nil {
		return err
	}
	// acc (cols×rows) = W · (A − za)ᵀ: the weights are the packed left
	// operand, as in a convolution, so each output channel's accumulators
	// are one contiguous row for the epilogue.
	ww := make([]int16, cols*k)
	qWiden(w, 0, cols*k, 0, ww)
	at := make([]int16, k*rows)
	ad := a.Int8s()
	for i := 0; i < rows; i++ {
		for kk := 0; kk < k; kk++ {
			at[kk*rows+i] = int16(ad[i*k+kk]) - int16(za)
		}
	}
	acc := make([]int32, cols*rows)
	qgemm(qPackA(cols, k, ww), rows, at, acc)
	parallelFor(cols, max(1, 4096/max(1, rows)), func(c0, c1 int) {
		for j := c0; j < c1; j++ {
			e.row(j, acc[j*rows:(j+1)*rows], out[0], j, cols)
		}
	})
	return nil
}

package ref

import (
	"fmt"

	"github.com/sqc-project/sqc/ir"
)

// MatMulInteger and QLinearMatMul, with numpy matmul's shapes (a 1-D
// operand is a row or a column vector, batch dims broadcast).
//
// Both compute the exact int32 accumulator
//
//	acc[…,i,j] = Σ_k (a[…,i,k] - a_zp[i]) · (b[…,k,j] - b_zp[j])
//
// where a_zp is per tensor or per row of a (MatMulInteger only) and b_zp per
// tensor or per column of b. MatMulInteger outputs acc; QLinearMatMul
// outputs Requantize(acc, RequantMultiplier(a_scale, b_scale[j], y_scale),
// y_zp) in y_zp's type (see quant.go).

func init() {
	register("MatMulInteger", matMulInteger)
	register("QLinearMatMul", qlinearMatMul)
}

func matMulInteger(n *ir.Node, in, out []*ir.Tensor) error {
	azp, bzp := []int32{0}, []int32{0}
	if z := qOpt(in, 2); z != nil {
		azp = qZeroPoints(z)
	}
	if z := qOpt(in, 3); z != nil {
		bzp = qZeroPoints(z)
	}
	y := out[0].Int32s()
	return qMatMulAcc(in[0], in[1], azp, bzp, func(row0, rows, cols int, acc []int32) {
		copy(y[row0*cols:], acc[:rows*cols])
	})
}

func qlinearMatMul(n *ir.Node, in, out []*ir.Tensor) error {
	as, err := qScalar(in[1], "a_scale")
	if err != nil {
		return err
	}
	ys, err := qScalar(in[6], "y_scale")
	if err != nil {
		return err
	}
	bs, err := qScales(in[4])
	if err != nil {
		return fmt.Errorf("b_scale: %v", err)
	}
	if in[2].Len() != 1 || in[7].Len() != 1 {
		return fmt.Errorf("a_zero_point and y_zero_point have %d and %d elements, want 1 each", in[2].Len(), in[7].Len())
	}
	yzp := int32(in[7].AsInt64(0))
	lo, hi, ok := QuantRange(out[0].DType)
	if !ok || (out[0].DType != ir.Int8 && out[0].DType != ir.Uint8) {
		return fmt.Errorf("output is %v, want i8 or u8", out[0].DType)
	}
	bShape := in[3].Shape
	cols := 1
	if len(bShape) > 1 {
		cols = bShape[len(bShape)-1]
	}
	if len(bs) != 1 && len(bs) != cols {
		return fmt.Errorf("b_scale has %d elements, want 1 or %d (columns of b)", len(bs), cols)
	}
	mult := make([]float32, cols)
	for j := range mult {
		mult[j] = RequantMultiplier(as, bs[min(j, len(bs)-1)], ys)
	}
	return qMatMulAcc(in[0], in[3], qZeroPoints(in[2]), qZeroPoints(in[5]), func(row0, rows, cols int, acc []int32) {
		parallelFor(rows, max(1, 4096/max(1, cols)), func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				src := acc[r*cols : (r+1)*cols]
				base := (row0 + r) * cols
				switch y := out[0].Data.(type) {
				case []uint8:
					qRequantCols(y[base:base+cols], src, mult, yzp, lo, hi)
				case []int8:
					qRequantCols(y[base:base+cols], src, mult, yzp, lo, hi)
				}
			}
		})
	})
}

// qRequantCols writes Requantize(acc[j], mult[j], zp) into dst.
func qRequantCols[T quantInt](dst []T, acc []int32, mult []float32, zp, lo, hi int32) {
	dst, mult = dst[:len(acc)], mult[:len(acc)]
	for j, a := range acc {
		dst[j] = T(roundSat(float32(float32(a)*mult[j]), zp, lo, hi))
	}
}

// qMatMulAcc computes the accumulators of a·b with the given zero points
// (azp: 1 or rows-of-a entries; bzp: 1 or columns-of-b entries) and hands
// them to emit in blocks of whole output rows: acc holds rows×cols values
// that belong at output rows [row0, row0+rows) of the result viewed as a
// (batch·M)×N matrix. acc is reused after emit returns.
func qMatMulAcc(a, b *ir.Tensor, azp, bzp []int32, emit func(row0, rows, cols int, acc []int32)) error {
	as, bs := a.Shape, b.Shape
	if len(as) == 0 || len(bs) == 0 {
		return fmt.Errorf("operands have shapes %v and %v, want rank 1 or more", as, bs)
	}
	if len(as) == 1 {
		as = []int{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int{bs[0], 1}
	}
	m, k := as[len(as)-2], as[len(as)-1]
	kb, nc := bs[len(bs)-2], bs[len(bs)-1]
	if k != kb {
		return fmt.Errorf("inner dims differ: %v × %v", a.Shape, b.Shape)
	}
	if len(azp) != 1 && len(azp) != m {
		return fmt.Errorf("a_zero_point has %d elements, want 1 or %d (rows of a)", len(azp), m)
	}
	if len(bzp) != 1 && len(bzp) != nc {
		return fmt.Errorf("b_zero_point has %d elements, want 1 or %d (columns of b)", len(bzp), nc)
	}
	for _, z := range azp {
		if err := qCheck8Bit("a", a.DType, z); err != nil {
			return err
		}
	}
	for _, z := range bzp {
		if err := qCheck8Bit("b", b.DType, z); err != nil {
			return err
		}
	}
	aBatch, bBatch := as[:len(as)-2], bs[:len(bs)-2]
	batch, err := qBroadcast(aBatch, bBatch)
	if err != nil {
		return err
	}
	nb := ir.NumElements(batch)
	widenA := func(off, rows int, dst []int16) {
		for r := 0; r < rows; r++ {
			qWiden(a, off+r*k, off+(r+1)*k, azp[min(r%m, len(azp)-1)], dst[r*k:(r+1)*k])
		}
	}
	widenB := func(off int, dst []int16) {
		if len(bzp) == 1 {
			qWiden(b, off, off+k*nc, bzp[0], dst)
			return
		}
		for kk := 0; kk < k; kk++ {
			row := dst[kk*nc : (kk+1)*nc]
			qWiden(b, off+kk*nc, off+(kk+1)*nc, 0, row)
			for j := range row {
				row[j] -= int16(bzp[j])
			}
		}
	}
	bw := make([]int16, k*nc)
	if ir.NumElements(bBatch) == 1 {
		// One b for every batch: a's batches stack into one tall matrix (the
		// result's batch is a's, since b's batch dims are all 1).
		rows := ir.NumElements(aBatch) * m
		aw := make([]int16, rows*k)
		widenA(0, rows, aw)
		widenB(0, bw)
		acc := make([]int32, rows*nc)
		qgemm(qPackA(rows, k, aw), nc, bw, acc)
		emit(0, rows, nc, acc)
		return nil
	}
	aw := make([]int16, m*k)
	acc := make([]int32, m*nc)
	idx := make([]int, len(batch))
	aStr, bStr := qBroadcastStrides(aBatch, batch), qBroadcastStrides(bBatch, batch)
	for bi := 0; bi < nb; bi++ {
		unravelInto(bi, batch, idx)
		ao, bo := 0, 0
		for d, i := range idx {
			ao += i * aStr[d]
			bo += i * bStr[d]
		}
		widenA(ao*m*k, m, aw)
		widenB(bo*k*nc, bw)
		qgemm(qPackA(m, k, aw), nc, bw, acc)
		emit(bi*m, m, nc, acc)
	}
	return nil
}

// qBroadcast broadcasts two static batch shapes (numpy rules).
func qBroadcast(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := range out {
		da, db := 1, 1
		if j := i - (n - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (n - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("batch dims %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

// qBroadcastStrides returns, for each dim of the broadcast shape out, the
// stride (in matrices) of the operand with batch shape s: 0 along the dims
// it is broadcast over.
func qBroadcastStrides(s, out []int) []int {
	st := make([]int, len(out))
	acc := 1
	for i := len(out) - 1; i >= 0; i-- {
		j := i - (len(out) - len(s))
		if j < 0 {
			continue
		}
		if s[j] != 1 {
			st[i] = acc
		}
		acc *= s[j]
	}
	return st
}

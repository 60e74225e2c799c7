package ref

import (
	"fmt"

	"github.com/sqc-project/sqc/ir"
)

// ConvInteger and QLinearConv.
//
// Both compute, for every image n, output channel m and output position p,
// the exact int32 accumulator
//
//	acc[n,m,p] = Σ over the window of (x[n,c,…] - x_zp) · (w[m,c,…] - w_zp[m])
//
// where window positions in the padding hold x_zp (so they contribute
// exactly 0: the padding is real zero, whatever the zero point). x_zp is
// per tensor; w_zp per tensor or per output channel. ConvInteger outputs acc;
// QLinearConv outputs Requantize(acc + B[m], RequantMultiplier(x_scale,
// w_scale[m], y_scale), y_zp) in y_zp's type (see quant.go).
//
// The accumulation is an integer im2col (of x - x_zp, whose padding is
// therefore 0) followed by the int32 GEMM of quant_gemm.go, with the weights
// (w - w_zp) packed once per call for all images.

func init() {
	register("ConvInteger", convInteger)
	register("QLinearConv", qlinearConv)
}

func convInteger(n *ir.Node, in, out []*ir.Tensor) error {
	xzp := int32(0)
	if z := qOpt(in, 2); z != nil {
		if z.Len() != 1 {
			return fmt.Errorf("x_zero_point has %d elements, want 1", z.Len())
		}
		xzp = int32(z.AsInt64(0))
	}
	wzp := []int32{0}
	if z := qOpt(in, 3); z != nil {
		wzp = qZeroPoints(z)
	}
	y := out[0].Int32s()
	return qConvAcc(n, in[0], in[1], xzp, wzp, func(img, m0, mg, p int, acc []int32) {
		copy(y[(img*out[0].Shape[1]+m0)*p:], acc[:mg*p])
	})
}

func qlinearConv(n *ir.Node, in, out []*ir.Tensor) error {
	x, w := in[0], in[3]
	if len(w.Shape) < 3 {
		return fmt.Errorf("w has shape %v, want M×C/group×k1×…×kk", w.Shape)
	}
	xs, err := qScalar(in[1], "x_scale")
	if err != nil {
		return err
	}
	ys, err := qScalar(in[6], "y_scale")
	if err != nil {
		return err
	}
	if in[2].Len() != 1 || in[7].Len() != 1 {
		return fmt.Errorf("x_zero_point and y_zero_point have %d and %d elements, want 1 each", in[2].Len(), in[7].Len())
	}
	xzp, yzp := int32(in[2].AsInt64(0)), int32(in[7].AsInt64(0))
	ws, err := qScales(in[4])
	if err != nil {
		return fmt.Errorf("w_scale: %v", err)
	}
	m := w.Shape[0]
	if len(ws) != 1 && len(ws) != m {
		return fmt.Errorf("w_scale has %d elements, want 1 or %d", len(ws), m)
	}
	mult := make([]float32, m)
	for i := range mult {
		mult[i] = RequantMultiplier(xs, ws[min(i, len(ws)-1)], ys)
	}
	bias := make([]int32, m)
	if bt := qOpt(in, 8); bt != nil {
		b := bt.Int32s()
		if len(b) != m {
			return fmt.Errorf("input B has %d elements, want %d", len(b), m)
		}
		copy(bias, b)
	}
	lo, hi, ok := QuantRange(out[0].DType)
	if !ok || (out[0].DType != ir.Int8 && out[0].DType != ir.Uint8) {
		return fmt.Errorf("output is %v, want i8 or u8", out[0].DType)
	}
	return qConvAcc(n, x, w, xzp, qZeroPoints(in[5]), func(img, m0, mg, p int, acc []int32) {
		parallelFor(mg, max(1, 4096/max(1, p)), func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				oc := m0 + r
				base := (img*m + oc) * p
				src := acc[r*p : (r+1)*p]
				switch y := out[0].Data.(type) {
				case []uint8:
					qRequantRow(y[base:base+p], src, bias[oc], mult[oc], yzp, lo, hi)
				case []int8:
					qRequantRow(y[base:base+p], src, bias[oc], mult[oc], yzp, lo, hi)
				}
			}
		})
	})
}

// qRequantRow writes Requantize(acc[i] + bias, mult, zp) into dst, bias
// added with int32 wraparound.
func qRequantRow[T quantInt](dst []T, acc []int32, bias int32, mult float32, zp, lo, hi int32) {
	dst = dst[:len(acc)]
	for i, a := range acc {
		dst[i] = T(roundSat(float32(float32(a+bias)*mult), zp, lo, hi))
	}
}

// qScalar reads a per-tensor scale.
func qScalar(t *ir.Tensor, name string) (float32, error) {
	s, err := qScales(t)
	if err != nil {
		return 0, fmt.Errorf("%s: %v", name, err)
	}
	if len(s) != 1 {
		return 0, fmt.Errorf("%s has %d elements, want 1 (per-tensor)", name, len(s))
	}
	return s[0], nil
}

// qConvAcc computes the accumulators of an integer convolution of x by w
// with the given zero points (wzp has 1 or M entries) and hands them to emit
// one image and one group at a time: acc is mg×p row-major for output
// channels [m0, m0+mg) and the p output positions of image img. acc is reused
// after emit returns.
func qConvAcc(n *ir.Node, x, w *ir.Tensor, xzp int32, wzp []int32, emit func(img, m0, mg, p int, acc []int32)) error {
	if len(x.Shape) < 3 || len(w.Shape) != len(x.Shape) {
		return fmt.Errorf("x %v and w %v, want N×C×D1×…×Dk and M×C/group×k1×…×kk", x.Shape, w.Shape)
	}
	batch, c, m := x.Shape[0], x.Shape[1], w.Shape[0]
	group := int(n.Attrs.Int("group", 1))
	if group < 1 || c%group != 0 || m%group != 0 || w.Shape[1] != c/group {
		return fmt.Errorf("x has %d channels and w %v with group %d, want C = group·w.shape[1] and M a multiple of group", c, w.Shape, group)
	}
	if len(wzp) != 1 && len(wzp) != m {
		return fmt.Errorf("w_zero_point has %d elements, want 1 or %d", len(wzp), m)
	}
	if err := qCheck8Bit("x", x.DType, xzp); err != nil {
		return err
	}
	for _, z := range wzp {
		if err := qCheck8Bit("w", w.DType, z); err != nil {
			return err
		}
	}
	spatial := make([]ir.Dim, len(x.Shape)-2)
	for i, d := range x.Shape[2:] {
		spatial[i] = ir.D(int64(d))
	}
	geom, err := ir.ResolveConvGeom(n.Attrs, spatial, w.Shape[2:], false)
	if err != nil {
		return err
	}
	cg, mg := c/group, m/group
	kArea := ir.NumElements(geom.Kernel)
	inArea, p := ir.NumElements(geom.In), ir.NumElements(geom.Out)
	k := cg * kArea

	// Weights of each group as an mg×k matrix of w - w_zp, packed once.
	packed := make([]*qPackedA, group)
	wrow := make([]int16, mg*k)
	for g := range packed {
		parallelFor(mg, max(1, (1<<15)/max(1, k)), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				oc := g*mg + r
				qWiden(w, oc*k, (oc+1)*k, wzp[min(oc, len(wzp)-1)], wrow[r*k:(r+1)*k])
			}
		})
		packed[g] = qPackA(mg, k, wrow)
	}

	// A 1×1 window with unit strides and no padding reads x as it is: its
	// im2col matrix is x itself.
	direct := kArea == 1
	for i := range geom.Kernel {
		direct = direct && geom.Strides[i] == 1 && geom.PadBegin[i] == 0 && geom.PadEnd[i] == 0
	}
	xg := make([]int16, cg*inArea)
	col := xg
	if !direct {
		col = make([]int16, k*p)
	}
	acc := make([]int32, mg*p)
	for img := 0; img < batch; img++ {
		for g := 0; g < group; g++ {
			// Widening and im2col split over the channels: channel ci owns
			// rows [ci·kArea, (ci+1)·kArea) of col.
			off := (img*c + g*cg) * inArea
			parallelFor(cg, max(1, (1<<15)/max(1, kArea*p)), func(lo, hi int) {
				qWiden(x, off+lo*inArea, off+hi*inArea, xzp, xg[lo*inArea:hi*inArea])
				if !direct {
					im2col(xg[lo*inArea:], hi-lo, geom, 0, col[lo*kArea*p:hi*kArea*p])
				}
			})
			qgemm(packed[g], p, col, acc)
			emit(img, g*mg, mg, p, acc)
		}
	}
	return nil
}

// qCheck8Bit checks that a tensor the integer GEMM reads is int8 or uint8
// and that its zero point is in that type's range, which keeps every
// difference v - zp within ±255.
func qCheck8Bit(name string, dt ir.DType, zp int32) error {
	lo, hi, _ := QuantRange(dt)
	if dt != ir.Int8 && dt != ir.Uint8 {
		return fmt.Errorf("%s is %v, want i8 or u8", name, dt)
	}
	if zp < lo || zp > hi {
		return fmt.Errorf("%s zero point %d is outside the %v range [%d, %d]", name, zp, dt, lo, hi)
	}
	return nil
}

// qWiden writes t's elements [lo, hi) minus zp into dst as int16. t is int8
// or uint8 and zp in its range (qCheck8Bit), so every difference fits in
// ±255.
func qWiden(t *ir.Tensor, lo, hi int, zp int32, dst []int16) {
	z := int16(zp)
	switch s := t.Data.(type) {
	case []int8:
		for i, v := range s[lo:hi] {
			dst[i] = int16(v) - z
		}
	case []uint8:
		for i, v := range s[lo:hi] {
			dst[i] = int16(v) - z
		}
	default:
		panic(fmt.Sprintf("ref: integer convolution of %v data", t.DType))
	}
}

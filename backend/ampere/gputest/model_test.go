package gputest

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/backend/ampere/pack"
	"github.com/sqc-project/sqc/ir"
)

// model computes the problem the way the GEMM kernel does, on the CPU:
// packed weights and the instruction models of package pack for the
// products (tile by tile, K step by K step, accumulating in the
// instruction's registers), the folded bias, and the kernel's epilogue
// written with the same float32 operations in the same order. It returns
// int8 or float32 outputs [m][n]. Comparing it with the reference on the
// CPU checks the kernel's arithmetic (the zero-point fold, the clamp
// before the zero point, the rounding) without a GPU; the GPU tests then
// only have to show the kernel does what the model does.
func (p *qgemmProblem) model(t *testing.T) (i8 []int8, f32 []float32) {
	t.Helper()
	var npad, kpad int
	var sp *pack.Sparse
	var dn *pack.Dense
	var err error
	if p.sparse {
		sp, err = pack.PackSparse(p.w, p.n, p.k, kernels.GemmBN)
		if err == nil {
			npad, kpad = sp.NPad, sp.KPad
		}
	} else {
		dn, err = pack.PackDense(p.w, p.n, p.k, kernels.GemmBN)
		if err == nil {
			npad, kpad = dn.NPad, dn.KPad
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	bias, err := pack.FoldZeroPoint(p.bias, p.w, p.n, p.k, npad, p.zx)
	if err != nil {
		t.Fatal(err)
	}
	sy := p.sy
	if p.outF32 {
		sy = 0
	}
	mult := ir.QOutputMultipliers(p.sx, p.sw, p.n, sy)
	kt := kpad / pack.TileK
	acc := make([]int32, p.m*npad) // [pixel][channel]
	for n0 := 0; n0 < npad; n0 += pack.TileM {
		for m0 := 0; m0 < p.m; m0 += pack.TileN {
			var d [32][4]int32
			for k := 0; k < kt; k++ {
				tile := n0/pack.TileM*kt + k
				b := pack.BRegs(p.a, p.k, p.m, p.k, m0, k*pack.TileK, 4)
				if p.sparse {
					regs := pack.SparseRegs{B: b, C: d}
					regs.A, regs.E = sp.SparseTileRegs(tile)
					if d, err = pack.EmulateSparse(&regs); err != nil {
						t.Fatal(err)
					}
				} else {
					for half := 0; half < 2; half++ {
						regs := pack.DenseRegs{C: d}
						regs.A = dn.DenseTileRegs(tile, half)
						for l := range regs.B {
							regs.B[l] = [2]uint32{b[l][2*half], b[l][2*half+1]}
						}
						d = pack.EmulateDense(&regs)
					}
				}
			}
			for l := 0; l < 32; l++ {
				for r := 0; r < 4; r++ {
					row, col := pack.CPos(l, r)
					if m0+col < p.m {
						acc[(m0+col)*npad+n0+row] = d[l][r]
					}
				}
			}
		}
	}
	var qlo, qhi int32
	if !p.outF32 {
		lo, hi, err := ir.QActivationRange(orNone(p.act), p.clipLo, p.clipHi, p.sy, p.zy)
		if err != nil {
			t.Fatal(err)
		}
		qlo, qhi = lo-p.zy, hi-p.zy
		i8 = make([]int8, p.m*p.n)
	} else {
		f32 = make([]float32, p.m*p.n)
	}
	mr := p.sr
	if !p.outF32 {
		mr = ir.QResidualMultiplier(p.sr, p.sy)
	}
	for i := 0; i < p.m; i++ {
		for j := 0; j < p.n; j++ {
			y := float32(acc[i*npad+j] + bias[j]) // add.s32, cvt.rn.f32.s32
			y = float32(y * mult[j])              // mul.rn.f32
			if p.r != nil {
				rf := float32(int32(p.r[i*p.n+j]) - p.zr) // sub.s32, cvt.rn.f32.s32
				rf = float32(rf * mr)                     // mul.rn.f32
				y = float32(y + rf)                       // add.rn.f32
			}
			if p.outF32 {
				switch p.act {
				case ir.ActRelu:
					y = max(y, 0)
				case ir.ActClip:
					y = min(max(y, p.clipLo), p.clipHi)
				}
				f32[i*p.n+j] = y
				continue
			}
			q := cvtRNI(y)               // cvt.rni.s32.f32
			q = min(max(q, qlo), qhi)    // max.s32, min.s32
			i8[i*p.n+j] = int8(q + p.zy) // add.s32, st.s8
		}
	}
	return i8, f32
}

// cvtRNI is cvt.rni.s32.f32: round to nearest even, saturate to int32,
// NaN to 0.
func cvtRNI(y float32) int32 {
	v := math.RoundToEven(float64(y))
	switch {
	case v != v:
		return 0
	case v >= math.MaxInt32:
		return math.MaxInt32
	case v <= math.MinInt32:
		return math.MinInt32
	}
	return int32(v)
}

// TestKernelModelMatchesReference runs on every machine: the kernel's
// arithmetic, modelled on the CPU, equals ir/ref's QGemm bit for bit on
// ragged shapes, sparse and dense, every epilogue variant.
func TestKernelModelMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	variants := []struct {
		res, f32 bool
		act      string
	}{
		{false, false, ir.ActNone}, {true, false, ir.ActRelu}, {false, false, ir.ActClip}, {true, false, ir.ActClip},
		{false, true, ir.ActNone}, {true, true, ir.ActRelu}, {true, true, ir.ActClip},
	}
	for _, sparse := range []bool{false, true} {
		for _, sh := range [][3]int{{1, 1, 1}, {21, 40, 70}, {9, 70, 150}, {16, 64, 64}} {
			for _, v := range variants {
				p := newQGemm(r, sh[0], sh[1], sh[2], sparse, v.res, v.f32, v.act)
				t.Run(p.name(), func(t *testing.T) {
					want := p.reference(t)
					i8, f32 := p.model(t)
					for i := 0; i < p.m*p.n; i++ {
						if p.outF32 {
							if math.Float32bits(f32[i]) != math.Float32bits(want.Float32s()[i]) {
								t.Fatalf("Y[%d][%d] = %v, reference %v", i/p.n, i%p.n, f32[i], want.Float32s()[i])
							}
						} else if i8[i] != want.Int8s()[i] {
							t.Fatalf("Y[%d][%d] = %d, reference %d", i/p.n, i%p.n, i8[i], want.Int8s()[i])
						}
					}
				})
			}
		}
	}
}

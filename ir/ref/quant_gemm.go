package ref

import "runtime"

// The integer GEMM under ConvInteger, QLinearConv, MatMulInteger and
// QLinearMatMul: C = A·B for an M×K matrix A and a K×N matrix B whose
// elements are zero-point-adjusted 8-bit values (x - zp, so |v| <= 255),
// accumulated in int32. The sums are exact; a sum that leaves the int32 range
// wraps (two's complement), which ONNX allows ("accumulation may overflow if
// and only if in 32 bits") and the GPU's s32 accumulators do too. For 8-bit
// operands no sum of fewer than 33,026 products can overflow, so for every
// real layer the result is simply the exact dot product.
//
// Go has no SIMD, so the kernel multiplies two products per 64-bit multiply
// (SWAR): B's columns are packed in pairs, p = b0 + b1·2³², and
// a·p = a·b0 + a·b1·2³² in wrapping int64 arithmetic. Summed over k, a
// packed accumulator holds S0 + S1·2³², from which S0 is the low 32 bits
// (sign-extended) and S1 the high 32 bits after removing S0, exactly as long
// as S0 fits in int32. qgemmKC bounds the depth summed before the lanes are
// split so that it always does: 255·255·qgemmKC < 2³¹.
//
// Blocking: A is packed once into panels of qgemmMR rows (k-major, int16, so
// a panel's rows for one k are adjacent), B into panels of 2·qgemmNP columns
// (k-major, packed pairs). The micro-kernel keeps qgemmMR×qgemmNP packed
// accumulators in registers (12 products per step for 6 multiplies), and
// the work is split over the cores by column panels (or row panels when
// there are too few columns).

const (
	qgemmMR = 2 // rows of A per micro-kernel
	qgemmNP = 3 // packed column pairs of B per micro-kernel (6 columns)
	qgemmNR = 2 * qgemmNP
	qgemmKC = 512 // depth per block: keeps a B panel in L1 and the lane sums in int32
)

// qPackedA is the left operand of qgemm, packed into row panels once so that
// a convolution's weights serve every image and every call.
type qPackedA struct {
	m, k int
	// panels[p][kk][r] is element (p·MR + r, kk): a panel's MR rows for one
	// depth are adjacent; rows past m are zero.
	panels [][][qgemmMR]int16
}

// qPackA packs the row-major m×k matrix a, whose values are within ±255 so
// that the lane sums stay exact (see above).
func qPackA(m, k int, a []int16) *qPackedA {
	p := &qPackedA{m: m, k: k, panels: make([][][qgemmMR]int16, (m+qgemmMR-1)/qgemmMR)}
	parallelFor(len(p.panels), max(1, (1<<15)/max(1, k*qgemmMR)), func(lo, hi int) {
		for pi := lo; pi < hi; pi++ {
			panel := make([][qgemmMR]int16, k)
			for r := 0; r < qgemmMR; r++ {
				i := pi*qgemmMR + r
				if i >= m {
					break
				}
				for kk, v := range a[i*k : (i+1)*k] {
					panel[kk][r] = v
				}
			}
			p.panels[pi] = panel
		}
	})
	return p
}

// qPackB packs columns [j0, j0+NR) of the row-major k×n matrix b into a
// k-major panel of packed pairs; columns past n are zero.
func qPackB(b []int16, k, n, j0 int, panel [][qgemmNP]int64) {
	if j0+qgemmNR <= n {
		for kk := 0; kk < k; kk++ {
			src := b[kk*n+j0 : kk*n+j0+qgemmNR : kk*n+j0+qgemmNR]
			dst := &panel[kk]
			dst[0] = int64(src[0]) + int64(src[1])<<32
			dst[1] = int64(src[2]) + int64(src[3])<<32
			dst[2] = int64(src[4]) + int64(src[5])<<32
		}
		return
	}
	for kk := 0; kk < k; kk++ {
		var v [qgemmNR]int64
		for j := j0; j < n; j++ {
			v[j-j0] = int64(b[kk*n+j])
		}
		for q := 0; q < qgemmNP; q++ {
			panel[kk][q] = v[2*q] + v[2*q+1]<<32
		}
	}
}

// qgemm computes c = a·b for the packed m×k a and the row-major k×n b,
// writing the row-major m×n c (overwritten, not accumulated into).
func qgemm(a *qPackedA, n int, b []int16, c []int32) {
	m, k := a.m, a.k
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		clear(c[:m*n])
		return
	}
	nPanels := (n + qgemmNR - 1) / qgemmNR
	mPanels := len(a.panels)
	// Each task packs its own B panel (k·NP int64s), so tasks over columns
	// share nothing; when the columns are too few to feed every core, split
	// the rows instead and let each task pack the B panels it needs.
	work := func(jp0, jp1, ip0, ip1 int) {
		panel := make([][qgemmNP]int64, k)
		var acc [qgemmMR * qgemmNR]int32
		for jp := jp0; jp < jp1; jp++ {
			j0 := jp * qgemmNR
			qPackB(b, k, n, j0, panel)
			for ip := ip0; ip < ip1; ip++ {
				clear(acc[:])
				ap := a.panels[ip]
				for k0 := 0; k0 < k; k0 += qgemmKC {
					k1 := min(k0+qgemmKC, k)
					qgemmKernel(ap[k0:k1], panel[k0:k1], &acc)
				}
				i0 := ip * qgemmMR
				for r := 0; r < qgemmMR && i0+r < m; r++ {
					row := c[(i0+r)*n : (i0+r+1)*n]
					for q := 0; q < qgemmNR && j0+q < n; q++ {
						row[j0+q] = acc[r*qgemmNR+q]
					}
				}
			}
		}
	}
	// A task of one column panel against all of A is m·k·NR MACs.
	grain := max(1, (1<<16)/max(1, m*k))
	if nPanels >= 2*runtime.GOMAXPROCS(0) || mPanels < 2 {
		parallelFor(nPanels, grain, func(lo, hi int) { work(lo, hi, 0, mPanels) })
		return
	}
	grain = max(1, (1<<16)/max(1, n*k))
	parallelFor(mPanels, grain, func(lo, hi int) { work(0, nPanels, lo, hi) })
}

// qgemmKernel accumulates the product of an MR-row panel slice of A and an
// NP-pair panel slice of B (both k-major, the same depth <= qgemmKC) into
// acc (row-major MR×NR int32, wrapping).
func qgemmKernel(ap [][qgemmMR]int16, bp [][qgemmNP]int64, acc *[qgemmMR * qgemmNR]int32) {
	// Two rows by three pairs: six accumulators, two A and three B values
	// live, which Go's register allocator keeps in registers (bigger tiles
	// spill; the loop is bound by the 64-bit multiplier either way).
	var c00, c01, c02, c10, c11, c12 int64
	bp = bp[:len(ap)]
	for i := range ap {
		a, b := &ap[i], &bp[i]
		a0, a1 := int64(a[0]), int64(a[1])
		b0 := b[0]
		c00 += a0 * b0
		c10 += a1 * b0
		b1 := b[1]
		c01 += a0 * b1
		c11 += a1 * b1
		b2 := b[2]
		c02 += a0 * b2
		c12 += a1 * b2
	}
	for i, p := range [...]int64{c00, c01, c02, c10, c11, c12} {
		lo := int32(p)
		hi := int32((p - int64(lo)) >> 32)
		r, q := i/qgemmNP, i%qgemmNP
		acc[r*qgemmNR+2*q] += lo
		acc[r*qgemmNR+2*q+1] += hi
	}
}

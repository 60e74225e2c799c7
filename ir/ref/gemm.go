package ref

import (
	"math"
	"runtime"
	"sync"
)

// The float32 GEMM behind Conv, ConvTranspose, Gemm and MatMul.
//
// It is the classic Goto/BLIS structure: C is computed in blocks of
// kc×nc of B (packed into nr-wide column panels, kept in L2) and mc×kc of A
// (packed into mr-tall row panels), and an mr×nr micro-kernel multiplies
// one A panel by one B panel with its accumulators in registers. Packing
// makes every kernel call read memory sequentially, whatever the
// transposition and strides of the operands, and lets B be built on the
// fly (a convolution's im2col matrix, see sgemmPacker).
//
// Go does not vectorise, so the micro-kernels are assembly: on amd64
// (gemm_amd64.s) 8×32 in zmm registers with AVX-512, 6×16 in ymm with
// AVX2+FMA; on arm64 (gemm_arm64.s) 8×12 in 24 NEON registers, FMLA by
// lane of A. The portable Go kernel serves other CPUs. Measured on this
// project's 2-core Xeon (Sapphire Rapids) build machine, one core, operands
// in L1: AVX-512 229 GFLOP/s, AVX2 124, Go 0.4 (each fused multiply-add a
// correctly rounded FMA32). The NEON kernel is tested under emulation but
// not yet timed on arm64 hardware.
//
// gonum's blas32 Sgemm was the first choice and is kept as the yardstick
// (gemm_bench_test.go): on ResNet-34's 3×3 layer shapes it runs at 13–20
// GFLOP/s on two cores, this code at 145–250, because gonum's float32
// kernels are SSE axpy loops without FMA or register blocking.

// Blocking parameters. kc×NR floats of B (16–32 KiB) stay in L1 while
// the panels of A stream past; mc×kc of A (at most 144 KiB) stays in L2.
// kc is also the summation order's chunk (sumorder.go): a micro-kernel
// call sums one chunk of k in registers, then adds it to C.
const (
	sgemmKC = SumChunk
	sgemmMC = 144 // a multiple of every kernel's MR
	sgemmNC = 4096
)

// sgemmMicro is a micro-kernel: fn computes, for the full mr×nr tile,
// C[i*ldc+j] += Σ_p a[p*mr+i]·b[p*nr+j] over kc steps, reading A and B as
// the packers lay them out, in the summation order (sumorder.go): each
// sum starts at +0, takes the products by fused multiply-adds in p order,
// and is added to C once.
type sgemmMicro struct {
	name   string
	mr, nr int
	fn     func(kc int, a, b, c []float32, ldc int)
}

// sgemmMaxTile bounds mr·nr over the kernels (the edge-tile scratch).
const sgemmMaxTile = 8 * 32

// sgemmNegZeros is an edge tile of −0, copied (a vectorized move) to start
// the scratch of each edge tile.
var sgemmNegZeros = func() (t [sgemmMaxTile]float32) {
	for i := range t {
		t[i] = negZero
	}
	return t
}()

// sgemmGo is the portable micro-kernel, for CPUs without the vector
// instructions of the assembly ones.
var sgemmGo = sgemmMicro{"go", sgemmGoMR, sgemmGoNR, sgemmKernelGo}

// sgemmKernel is the micro-kernel in use: the fastest one the CPU runs
// (set by gemm_amd64.go's or gemm_arm64.go's init).
var sgemmKernel = sgemmGo

const (
	sgemmGoMR = 4
	sgemmGoNR = 8
)

// sgemmKernelGo is the portable micro-kernel: plain loops over a 4×8
// tile. Its multiply-adds are FMA32s, not `acc += a*b`: whether Go fuses
// that depends on the architecture and GOAMD64, and the order is defined
// with the fused one.
func sgemmKernelGo(kc int, a, b, c []float32, ldc int) {
	var acc [sgemmGoMR * sgemmGoNR]float32
	for p := 0; p < kc; p++ {
		bp := b[p*sgemmGoNR : p*sgemmGoNR+sgemmGoNR : p*sgemmGoNR+sgemmGoNR]
		ap := a[p*sgemmGoMR : p*sgemmGoMR+sgemmGoMR : p*sgemmGoMR+sgemmGoMR]
		for i, av := range ap {
			row := acc[i*sgemmGoNR : i*sgemmGoNR+sgemmGoNR : i*sgemmGoNR+sgemmGoNR]
			for j, bv := range bp {
				// FMA32, its common case written out: Go does not
				// inline FMA32, and the call was most of the time.
				if s := float64(av)*float64(bv) + float64(row[j]); fma32Rounds(s) { // an exact product
					row[j] = float32(s)
				} else {
					row[j] = FMA32(av, bv, row[j])
				}
			}
		}
	}
	for i := 0; i < sgemmGoMR; i++ {
		cr := c[i*ldc : i*ldc+sgemmGoNR]
		for j, v := range acc[i*sgemmGoNR : i*sgemmGoNR+sgemmGoNR] {
			cr[j] += v
		}
	}
}

// sgemmMatrix is a row-major matrix view: element (i, j) is
// data[i*ld+j], or data[j*ld+i] when trans is set (the stored matrix is
// the transpose of the one meant).
type sgemmMatrix struct {
	data  []float32
	ld    int
	trans bool
}

// sgemm computes C = op(A)·(alpha·op(B)) + beta·C, where op(A) is m×k,
// op(B) k×n and C m×n, row-major with leading dimension ldc, in the
// summation order (sumorder.go): alpha scales B's elements and beta C's
// before the products are summed. When parallel is set the work is split
// over every core (never along k); callers that already run one sgemm per
// core pass false.
//
// beta == 0 overwrites C without reading it (NaNs in C do not leak), as
// BLAS does. alpha == 0 still forms the products (0·B), as ONNX's
// alpha·A·B does.
func sgemm(m, n, k int, alpha float32, a, b sgemmMatrix, beta float32, c []float32, ldc int, parallel bool) {
	sgemmDiag(m, n, k, alpha, a, b, beta, c, ldc, parallel, sgemmAllTiles)
}

// sgemmDiag is sgemm computing only the tiles sgemmRun's diag
// selects.
func sgemmDiag(m, n, k int, alpha float32, a, b sgemmMatrix, beta float32, c []float32, ldc int, parallel bool, diag int) {
	if m == 0 || n == 0 {
		return
	}
	switch beta {
	case 1:
	case 0:
		for i := 0; i < m; i++ {
			clear(c[i*ldc : i*ldc+n])
		}
	default:
		for i := 0; i < m; i++ {
			for j := range c[i*ldc : i*ldc+n] {
				c[i*ldc+j] *= beta
			}
		}
	}
	if k == 0 {
		return
	}
	// Every product is packed, even a tiny one or a matrix-vector
	// product: the micro-kernels are the only arithmetic (one summation
	// order), and on this project's build machine they beat the unpacked
	// loop this replaced at 16×16×16 (0.89 µs, was 2.7) and 1024×1×1024
	// (0.93 ms, was 2.5).
	sgemmRun(m, n, k, a, func(dst []float32, nr, p0, kc, j0, nc int) {
		sgemmPackB(dst, b, alpha, nr, p0, kc, j0, nc)
	}, c, ldc, parallel, diag)
}

// sgemmPacker packs rows [p0, p0+kc) and columns [j0, j0+nc) of a k×n
// matrix B into nr-column panels: panel r holds
// dst[(r*kc + p)*nr + j] = B[p0+p][j0 + r*nr + j], columns past n zero.
// A packer may build B on the fly (a convolution's im2col matrix is read
// straight from the image), so B need never exist in memory.
type sgemmPacker func(dst []float32, nr, p0, kc, j0, nc int)

// sgemmPacked computes C += op(A)·B for a B given by its packer, on every
// core when parallel is set. It is sgemm's packed path.
func sgemmPacked(m, n, k int, a sgemmMatrix, packB sgemmPacker, c []float32, ldc int, parallel bool) {
	sgemmRun(m, n, k, a, packB, c, ldc, parallel, sgemmAllTiles)
}

// sgemmAllTiles is the diag of a product that computes every tile.
const sgemmAllTiles = math.MaxInt / 2

// sgemmRun computes C += op(A)·B, on every core when parallel is set,
// for the micro-tiles that hold an element (i, j) with j + diag >= i: with
// diag 0, those on or above the diagonal (a symmetric product needs no
// more; the other elements of C are left as they were), with sgemmAllTiles
// every one. Which tiles run does not change what a computed element sums,
// nor in which order.
func sgemmRun(m, n, k int, a sgemmMatrix, packB sgemmPacker, c []float32, ldc int, parallel bool, diag int) {
	if m == 0 || n == 0 || k == 0 {
		return
	}
	kern := sgemmKernel
	workers := 1
	if parallel {
		workers = runtime.GOMAXPROCS(0)
	}
	nPanels := (n + kern.nr - 1) / kern.nr
	mPanels := (m + kern.mr - 1) / kern.mr
	// Below about a million multiply-adds, a goroutine costs more than it saves.
	if int64(m)*int64(n)*int64(k) < 1<<20 {
		workers = 1
	}
	if workers <= 1 || (nPanels < 2 && mPanels < 2) {
		sgemmSerial(kern, m, n, k, a, packB, c, ldc, diag)
		return
	}
	// C is split over the workers in whole panels, so no worker computes a
	// tile another also pads. Each worker packs the whole of the operand
	// not split, so split the dimension that leaves the smaller one whole:
	// n when op(A) (m×k) is the smaller, unless m has too few panels to go
	// round. A triangle (SparseGPT's XᵀX) has fewer elements in its left
	// columns: its columns are cut into shares of equal work, not equal
	// width, which left one of two workers 1.8 times the other's work on a
	// 256×576 panel.
	var wg sync.WaitGroup
	if mPanels < workers || (m <= n && nPanels >= workers) {
		w := min(workers, nPanels)
		var cuts []int
		if diag != sgemmAllTiles {
			cuts = sgemmBalancedCols(m, n, kern.nr, diag, w)
		}
		for t := 0; t < w; t++ {
			j0 := nPanels * t / w * kern.nr
			j1 := min(n, nPanels*(t+1)/w*kern.nr)
			if cuts != nil {
				j0, j1 = cuts[t], cuts[t+1]
			}
			if j0 == j1 {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				shifted := func(dst []float32, nr, p0, kc, jj, nc int) { packB(dst, nr, p0, kc, j0+jj, nc) }
				sgemmSerial(kern, m, j1-j0, k, a, shifted, c[j0:], ldc, diag+j0)
			}()
		}
	} else {
		w := min(workers, mPanels)
		for t := 0; t < w; t++ {
			i0 := mPanels * t / w * kern.mr
			i1 := min(m, mPanels*(t+1)/w*kern.mr)
			wg.Add(1)
			go func() {
				defer wg.Done()
				sub := a
				if a.trans {
					sub.data = a.data[i0:]
				} else {
					sub.data = a.data[i0*a.ld:]
				}
				sgemmSerial(kern, i1-i0, n, k, sub, packB, c[i0*ldc:], ldc, diag-i0)
			}()
		}
	}
	wg.Wait()
}

// sgemmBalancedCols cuts the n columns of a product computed on and
// above its diagonal (the elements with j + diag >= i, m rows) into
// workers ranges of whole panels of nr columns holding about as many
// elements each: cuts[t] to cuts[t+1] is worker t's.
func sgemmBalancedCols(m, n, nr, diag, workers int) []int {
	rows := func(j int) int { return max(0, min(m, j+diag+1)) } // the elements of column j computed
	total := 0
	for j := 0; j < n; j++ {
		total += rows(j)
	}
	cuts := make([]int, 1, workers+1)
	done := 0
	for j := 0; j < n && len(cuts) < workers; j += nr {
		for c := j; c < min(n, j+nr); c++ {
			done += rows(c)
		}
		if done*workers >= total*len(cuts) {
			cuts = append(cuts, min(n, j+nr))
		}
	}
	for len(cuts) <= workers {
		cuts = append(cuts, n)
	}
	return cuts
}

// sgemmBufs are one worker's packing buffers, recycled across calls.
type sgemmBufs struct {
	a, b []float32
	tile [sgemmMaxTile]float32
}

var sgemmBufPool = sync.Pool{New: func() any { return new(sgemmBufs) }}

// sgemmSerial is C += op(A)·B on the calling goroutine with micro-kernel
// kern, for the tiles sgemmRun's diag selects.
func sgemmSerial(kern sgemmMicro, m, n, k int, a sgemmMatrix, packB sgemmPacker, c []float32, ldc int, diag int) {
	bufs := sgemmBufPool.Get().(*sgemmBufs)
	defer sgemmBufPool.Put(bufs)
	mr, nr := kern.mr, kern.nr
	// The buffers hold whole panels: the last may be padded.
	if need := (min(sgemmMC, m) + mr - 1) / mr * mr * min(sgemmKC, k); len(bufs.a) < need {
		bufs.a = make([]float32, need)
	}
	if need := (min(sgemmNC, n) + nr - 1) / nr * nr * min(sgemmKC, k); len(bufs.b) < need {
		bufs.b = make([]float32, need)
	}
	for jc := 0; jc < n; jc += sgemmNC {
		nc := min(sgemmNC, n-jc)
		for pc := 0; pc < k; pc += sgemmKC {
			kc := min(sgemmKC, k-pc)
			packB(bufs.b, nr, pc, kc, jc, nc)
			for ic := 0; ic < m; ic += sgemmMC {
				mc := min(sgemmMC, m-ic)
				if jc+nc-1+diag < ic {
					break // this row block and the ones below are all skipped
				}
				sgemmPackA(bufs.a, a, mr, ic, mc, pc, kc)
				for jr := 0; jr < nc; jr += nr {
					nrr := min(nr, nc-jr)
					bp := bufs.b[jr*kc : jr*kc+kc*nr]
					for ir := 0; ir < mc; ir += mr {
						mrr := min(mr, mc-ir)
						if jc+jr+nrr-1+diag < ic+ir {
							break // every element of this tile and the ones below lies under the diagonal
						}
						ap := bufs.a[ir*kc : ir*kc+kc*mr]
						off := (ic+ir)*ldc + jc + jr
						if mrr == mr && nrr == nr {
							kern.fn(kc, ap, bp, c[off:], ldc)
							continue
						}
						// An edge tile: compute the whole padded tile
						// into scratch, add the part that exists. The
						// scratch starts at −0, which adds to any sum
						// exactly (+0 would turn a −0 sum into +0), so C
						// gets the sum itself, as from a full tile.
						t := bufs.tile[:mr*nr]
						copy(t, sgemmNegZeros[:])
						kern.fn(kc, ap, bp, t, nr)
						for i := 0; i < mrr; i++ {
							cr := c[off+i*ldc : off+i*ldc+nrr]
							for j := range cr {
								cr[j] += t[i*nr+j]
							}
						}
					}
				}
			}
		}
	}
}

// sgemmPackA packs rows [i0, i0+mc) and columns [p0, p0+kc) of op(A) into
// mr-row panels: panel r holds a[(r*kc + p)*mr + i] = op(A)[i0 + r*mr +
// i][p0 + p], rows past m zero.
func sgemmPackA(dst []float32, a sgemmMatrix, mr, i0, mc, p0, kc int) {
	for ir := 0; ir < mc; ir += mr {
		rows := min(mr, mc-ir)
		panel := dst[ir*kc : ir*kc+kc*mr]
		if !a.trans && rows == mr && (mr == 8 || mr == 6) {
			// The common case, weights row-major: read the panel's rows
			// side by side and write it sequentially.
			row := (i0+ir)*a.ld + p0
			r0 := a.data[row : row+kc]
			r1 := a.data[row+a.ld : row+a.ld+kc]
			r2 := a.data[row+2*a.ld : row+2*a.ld+kc]
			r3 := a.data[row+3*a.ld : row+3*a.ld+kc]
			r4 := a.data[row+4*a.ld : row+4*a.ld+kc]
			r5 := a.data[row+5*a.ld : row+5*a.ld+kc]
			if mr == 8 {
				r6 := a.data[row+6*a.ld : row+6*a.ld+kc]
				r7 := a.data[row+7*a.ld : row+7*a.ld+kc]
				for p := range r0 {
					d := panel[p*8 : p*8+8 : p*8+8]
					d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
					d[4], d[5], d[6], d[7] = r4[p], r5[p], r6[p], r7[p]
				}
			} else {
				for p := range r0 {
					d := panel[p*6 : p*6+6 : p*6+6]
					d[0], d[1], d[2], d[3], d[4], d[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
				}
			}
			continue
		}
		if a.trans && rows == mr {
			// A transposed (SparseGPT's XᵀX): the panel's mr values of
			// each column p lie side by side in the stored matrix, so copy
			// them p by p; the loop below would read them a row apart.
			if mr == 8 { // the AVX-512 and NEON kernels: a copy call a column cost more than its 32 bytes
				for p := 0; p < kc; p++ {
					src := (p0+p)*a.ld + i0 + ir
					s := a.data[src : src+8 : src+8]
					d := panel[p*8 : p*8+8 : p*8+8]
					d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7] = s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
				}
				continue
			}
			for p := 0; p < kc; p++ {
				src := (p0+p)*a.ld + i0 + ir
				copy(panel[p*mr:p*mr+mr], a.data[src:src+mr])
			}
			continue
		}
		for i := 0; i < mr; i++ {
			if i >= rows {
				for p := 0; p < kc; p++ {
					panel[p*mr+i] = 0
				}
				continue
			}
			row := i0 + ir + i
			if a.trans {
				for p := 0; p < kc; p++ {
					panel[p*mr+i] = a.data[(p0+p)*a.ld+row]
				}
			} else {
				src := a.data[row*a.ld+p0 : row*a.ld+p0+kc]
				for p, v := range src {
					panel[p*mr+i] = v
				}
			}
		}
	}
}

// sgemmPackB is the sgemmPacker of a stored matrix alpha·op(B).
func sgemmPackB(dst []float32, b sgemmMatrix, alpha float32, nr, p0, kc, j0, nc int) {
	sgemmPackBPlain(dst, b, nr, p0, kc, j0, nc)
	if alpha != 1 {
		for i := range dst[:(nc+nr-1)/nr*nr*kc] {
			dst[i] *= alpha
		}
	}
}

// sgemmPackBPlain packs op(B) itself (see sgemmPackB).
func sgemmPackBPlain(dst []float32, b sgemmMatrix, nr, p0, kc, j0, nc int) {
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		panel := dst[jr*kc : jr*kc+kc*nr]
		if b.trans {
			for j := 0; j < nr; j++ {
				if j >= cols {
					for p := 0; p < kc; p++ {
						panel[p*nr+j] = 0
					}
					continue
				}
				src := b.data[(j0+jr+j)*b.ld+p0 : (j0+jr+j)*b.ld+p0+kc]
				for p, v := range src {
					panel[p*nr+j] = v
				}
			}
			continue
		}
		for p := 0; p < kc; p++ {
			d := panel[p*nr : p*nr+nr]
			src := b.data[(p0+p)*b.ld+j0+jr : (p0+p)*b.ld+j0+jr+cols]
			copy(d, src)
			clear(d[cols:])
		}
	}
}

// Package sparsegpt prunes a layer's weights to an N:M pattern in one shot,
// without retraining, by the method of Frantar & Alistarh, "SparseGPT:
// Massive Language Models Can Be Accurately Pruned in One-Shot" (ICML 2023).
//
// The layer computes W·x for inputs x; calibration data gives the inputs
// X (one column per sample, or per output position of a convolution after
// im2col) and so the Hessian of the layer's squared output error,
// H = 2·X·Xᵀ (up to scale). SparseGPT walks the columns of W (the inputs)
// in order; at the first column of each group of M it chooses, for every
// row, which N weights of the group to keep: those with the largest
// w²/[H⁻¹]_cc², the optimal-brain-surgeon saliency. Each pruned weight's
// error is then spread over the row's not-yet-visited weights through the
// row of the Cholesky factor of H⁻¹, which is the optimal (least-squares)
// compensation given the columns already fixed. That is Algorithm 1 of the
// paper with its N:M mask selection, including the "lazy batch" blocking:
// updates within a block of B columns are applied at once, and the rest of
// the matrix is updated by one matrix product per block.
//
// Details as the paper's reference implementation does them: H is damped
// by λ = damp·mean(diag H) (damp 0.01) before inversion; an input that is
// zero in every sample (diag 0) gets H_cc = 1 and its weights are pruned
// first, being worthless. The weights, H and its factors are kept in
// float64; the matrix products (the Hessian's accumulation, the blocked
// factorizations' trailing updates and the lazy-batch updates, see
// linalg.go) run on the reference executor's float32 GEMM, as the paper's
// implementation computes everything in float32.
//
// The upper Cholesky factor U of H⁻¹ (UᵀU = H⁻¹), which the method reads
// row by row, is computed from one Cholesky factorization, of H with its
// rows and columns reversed (J·H·J = L·Lᵀ gives H⁻¹ = (J·L⁻¹·J)ᵀ(J·L⁻¹·J),
// and J·L⁻¹·J is upper triangular), instead of the reference code's
// three (factor H, invert, factor H⁻¹).
//
// Very wide layers (a fully connected layer over 11,616 inputs, say) would
// need a factorization of a matrix of that size; Options.MaxBlock bounds it
// by treating H as block diagonal: the columns are split into blocks of at
// most MaxBlock and each block is pruned and compensated on its own
// (compensation then never crosses a block boundary).
//
// Products that feed an addition are rounded explicitly (float64(x*y),
// float32(x*y)) so that Go cannot fuse them into one multiply-add on arm64 or
// with GOAMD64=v3: the same data gives the same masks and weights on every host (the rule
// of ir/ref's package doc; cmd/sqc's TestNoImplicitFusedMultiplyAdd checks it).
package sparsegpt

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/sqc-project/sqc/ir/ref"
)

// Options tune the method.
type Options struct {
	// N and M give the pattern: at most N non-zeros in each group of M
	// consecutive columns.
	N, M int
	// Damp is the relative damping: λ = Damp·mean(diag H).
	Damp float64
	// BlockSize is the lazy-batch width B (128 in the paper); a multiple of M.
	BlockSize int
	// MaxBlock bounds the columns whose Hessian is treated as one (0: no
	// bound); a multiple of M.
	MaxBlock int
}

// DefaultOptions are the paper's settings for 2:4.
var DefaultOptions = Options{N: 2, M: 4, Damp: 0.01, BlockSize: 128, MaxBlock: 4096}

func (o Options) check(cols int) error {
	switch {
	case o.M <= 0 || o.N < 0 || o.N > o.M:
		return fmt.Errorf("pattern %d:%d: want 0 <= N <= M, M > 0", o.N, o.M)
	case cols%o.M != 0:
		return fmt.Errorf("%d columns: want a multiple of %d", cols, o.M)
	case o.BlockSize <= 0 || o.BlockSize%o.M != 0:
		return fmt.Errorf("block size %d: want a positive multiple of %d", o.BlockSize, o.M)
	case o.MaxBlock < 0 || o.MaxBlock%o.M != 0:
		return fmt.Errorf("largest Hessian block %d: want 0 or a multiple of %d", o.MaxBlock, o.M)
	case !(o.Damp >= 0) || math.IsInf(o.Damp, 0):
		return fmt.Errorf("damping %v: want a finite number >= 0", o.Damp)
	}
	return nil
}

// Spans returns the column ranges [lo, hi) whose Hessians are treated as
// independent under MaxBlock: cols split into near-equal blocks of at
// most MaxBlock, each a multiple of M.
func (o Options) Spans(cols int) [][2]int {
	if o.MaxBlock <= 0 || cols <= o.MaxBlock {
		return [][2]int{{0, cols}}
	}
	groups := cols / o.M
	nb := (cols + o.MaxBlock - 1) / o.MaxBlock
	var spans [][2]int
	lo := 0
	for b := range nb {
		g := groups / nb
		if b < groups%nb {
			g++
		}
		spans = append(spans, [2]int{lo, lo + g*o.M})
		lo += g * o.M
	}
	return spans
}

// Result is a pruned weight.
type Result struct {
	// W is the new weight, rows × cols, with exact zeros where Keep is false.
	W []float64
	// Keep is the mask.
	Keep []bool
	// Damp is the relative damping that made H positive definite (Damp,
	// or a larger value when it was not enough).
	Damp float64
}

// Prune prunes w (rows × cols, row-major, not modified) with the Hessian
// h: one cols×cols symmetric matrix per span of o.Spans(cols), each
// holding Σ x·xᵀ over the calibration inputs of those columns (only the
// upper triangles are read). The blocks of h are the working storage of
// the factorization: on a successful return each holds its matrix again,
// whole (both triangles); after an error their contents are undefined.
func Prune(w []float64, rows, cols int, h [][]float64, o Options) (*Result, error) {
	if err := o.check(cols); err != nil {
		return nil, err
	}
	if len(w) != rows*cols {
		return nil, fmt.Errorf("weight has %d elements, want %d×%d", len(w), rows, cols)
	}
	spans := o.Spans(cols)
	if len(h) != len(spans) {
		return nil, fmt.Errorf("%d Hessian blocks, want %d", len(h), len(spans))
	}
	for si, sp := range spans {
		if d := sp[1] - sp[0]; len(h[si]) != d*d {
			return nil, fmt.Errorf("Hessian block %d has %d elements, want %d×%d", si, len(h[si]), d, d)
		}
	}
	res := &Result{W: append([]float64(nil), w...), Keep: make([]bool, rows*cols), Damp: o.Damp}
	for i := range res.Keep {
		res.Keep[i] = true
	}
	for si, sp := range spans {
		d := sp[1] - sp[0]
		// Work on a copy of the span's columns, or on the result itself
		// when the span is all of them.
		ws, keep := res.W, res.Keep
		if d != cols {
			ws, keep = make([]float64, rows*d), make([]bool, rows*d)
			for r := range rows {
				copy(ws[r*d:(r+1)*d], res.W[r*cols+sp[0]:r*cols+sp[1]])
			}
		}
		a := h[si]
		mirrorUpper(a, d)
		diag := make([]float64, d)
		for i := range d {
			diag[i] = a[i*d+i]
		}
		dead := deadColumns(a, d)
		for _, c := range dead {
			for r := range rows {
				ws[r*d+c] = 0
			}
		}
		damp, err := invCholUpper(a, d, o.Damp)
		if err != nil {
			return nil, err
		}
		res.Damp = max(res.Damp, damp)
		obs(ws, keep, rows, d, a, o)
		// a holds U above the diagonal and H below: make it H again.
		mirrorLower(a, d)
		for i, v := range diag {
			a[i*d+i] = v
		}
		if d != cols {
			for r := range rows {
				copy(res.W[r*cols+sp[0]:r*cols+sp[1]], ws[r*d:(r+1)*d])
				copy(res.Keep[r*cols+sp[0]:r*cols+sp[1]], keep[r*d:(r+1)*d])
			}
		}
	}
	return res, nil
}

// deadColumns finds inputs that were zero in every sample (diag 0), gives
// them H_cc = 1 so H stays invertible, and returns them.
func deadColumns(h []float64, d int) []int {
	var dead []int
	for c := range d {
		if h[c*d+c] == 0 {
			h[c*d+c] = 1
			dead = append(dead, c)
		}
	}
	return dead
}

// invCholUpper computes the upper triangular U with UᵀU = (H + λI)⁻¹,
// λ = damp·mean(diag H), by one Cholesky factorization of the reversed H
// (rows and columns in reverse order), in place: h holds the symmetric H
// (both triangles) on entry and, on success, U in its upper triangle and
// diagonal, H's strict lower triangle untouched. When H + λI is not
// numerically positive definite the damping grows tenfold, up to five
// times; it returns the damping used.
//
// Reversing rows and columns is reversing the row-major array, so both
// reversals are in place: the factorization works on the lower triangle
// of the reversed H, whose upper triangle keeps the original for retries,
// and reversing back puts J·L⁻¹·J = U above the diagonal and the untouched
// triangle, H's own lower one, below it.
func invCholUpper(h []float64, d int, damp float64) (float64, error) {
	mean := 0.0
	for i := range d {
		mean += h[i*d+i]
	}
	mean /= float64(d)
	slices.Reverse(h)
	diag := make([]float64, d)
	for i := range d {
		diag[i] = h[i*d+i]
	}
	for try := 0; try < 6; try++ {
		if try > 0 {
			// The failed factorization overwrote the lower triangle.
			mirrorUpper(h, d)
		}
		lambda := float64(damp * mean) // rounded: Go would fuse it into the sum below
		for i, v := range diag {
			h[i*d+i] = v + lambda
		}
		if choleskyLower(h, d) && invertLower(h, d) {
			slices.Reverse(h)
			return damp, nil
		}
		if damp == 0 {
			damp = 1e-6
		} else {
			damp *= 10
		}
	}
	return damp, errors.New("the Hessian is not positive definite even with damping (calibration inputs are degenerate)")
}

// obs runs the blocked optimal-brain-surgeon sweep over w (rows × d) with
// the inverse Hessian's Cholesky factor u (upper triangle read), choosing the N:M mask as it
// goes. Rows are independent given u, so they are shared out over the
// cores within each block; the trailing update is one matrix product.
func obs(w []float64, keep []bool, rows, d int, u []float64, o Options) {
	var errs32, u32, prod []float32
	for i1 := 0; i1 < d; i1 += o.BlockSize {
		i2 := min(i1+o.BlockSize, d)
		cnt := i2 - i1
		errs := make([]float64, rows*cnt)
		parallelRows(rows, func(lo, hi int) {
			sal := make([]float64, o.M)
			for r := lo; r < hi; r++ {
				row := w[r*d : (r+1)*d]
				e := errs[r*cnt : (r+1)*cnt]
				for i := i1; i < i2; i++ {
					if (i-i1)%o.M == 0 {
						selectGroup(row[i:i+o.M], u, d, i, sal, keep[r*d+i:r*d+i+o.M], o.N)
					}
					q := row[i]
					if !keep[r*d+i] {
						q = 0
					}
					err := (row[i] - q) / u[i*d+i]
					e[i-i1] = err
					if err != 0 {
						uRow := u[i*d : i*d+i2]
						for j := i; j < i2; j++ {
							row[j] -= float64(err * uRow[j])
						}
					}
					row[i] = q
				}
			}
		})
		if i2 < d {
			// w[:, i2:] −= errs · u[i1:i2, i2:], as a float32 product (the
			// executor's GEMM) subtracted in float64.
			rest := d - i2
			errs32 = toFloat32(grow(errs32, rows*cnt), errs, cnt, rows, cnt)
			u32 = toFloat32(grow(u32, cnt*rest), u[i1*d+i2:], d, cnt, rest)
			prod = grow(prod, rows*rest)
			ref.Sgemm(false, false, rows, rest, cnt, 1, errs32, cnt, u32, rest, 0, prod, rest)
			parallelRows(rows, func(lo, hi int) {
				for r := lo; r < hi; r++ {
					row := w[r*d+i2 : (r+1)*d]
					for j, p := range prod[r*rest : (r+1)*rest] {
						row[j] -= float64(p)
					}
				}
			})
		}
	}
}

// selectGroup marks the n weights of one group with the largest saliency
// w²/u_cc² as kept, the others as pruned (ties keep the lower column).
func selectGroup(g []float64, u []float64, d, c0 int, sal []float64, keep []bool, n int) {
	for j := range g {
		dj := u[(c0+j)*d+c0+j]
		sal[j] = g[j] * g[j] / (dj * dj)
		keep[j] = false
	}
	for range n {
		best := -1
		for j := range g {
			if !keep[j] && (best < 0 || sal[j] > sal[best]) {
				best = j
			}
		}
		keep[best] = true
	}
}

// parallelRows runs body over [0, rows) split across the cores.
func parallelRows(rows int, body func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), max(1, rows/8))
	if workers <= 1 {
		body(0, rows)
		return
	}
	var wg sync.WaitGroup
	chunk := (rows + workers - 1) / workers
	for lo := 0; lo < rows; lo += chunk {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			body(lo, hi)
		}(lo, min(lo+chunk, rows))
	}
	wg.Wait()
}

// OutputErrors returns, for each v of vs, Σ_rows (w−v)·H·(w−v)ᵀ over the
// spans: the squared error of the layer's output over the calibration
// inputs that made h when its weight w is replaced by v. With a = w − v
// and H symmetric, a·H·aᵀ = Σ_j a_j·(a_j·H_jj + 2·(a·T)_j) for T the strict
// upper triangle of H: the products a·T, every v's rows at once, run as
// float32 matrix products on the reference executor's GEMM, a band of
// errorPanel columns of T at a time, each band reading only the rows above
// its diagonal (half the work of a·H); the sums are float64, each row's in
// column order and the rows' in row order. An error measure needs no more
// precision, and the scalar loop took seconds on a 2304-wide layer. A nil
// v stands for the zero weight (the error of the output itself), which
// then takes no memory: on a 512×4608 layer, 19 MB at the prune pass's
// peak.
func OutputErrors(w []float64, vs [][]float64, rows, cols int, h [][]float64, spans [][2]int) ([]float64, error) {
	if len(h) != len(spans) {
		return nil, fmt.Errorf("%d Hessian blocks, want %d", len(h), len(spans))
	}
	out := make([]float64, len(vs))
	k := len(vs) * rows
	var diff, prod, band []float32
	rowSums := make([]float64, k)
	for si, sp := range spans {
		d := sp[1] - sp[0]
		hs := h[si]
		if len(hs) != d*d {
			return nil, fmt.Errorf("Hessian block %d has %d elements, want %d×%d", si, len(hs), d, d)
		}
		diff = grow(diff, k*d)
		parallelRows(k, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				v, r := vs[i/rows], i%rows
				dst := diff[i*d : (i+1)*d]
				if v == nil {
					for j := range dst {
						dst[j] = float32(w[r*cols+sp[0]+j] - 0) // as w − v for v = +0
					}
					continue
				}
				for j := range dst {
					dst[j] = float32(w[r*cols+sp[0]+j] - v[r*cols+sp[0]+j])
				}
			}
		})
		clear(rowSums)
		for j0 := 0; j0 < d; j0 += errorPanel {
			n := min(errorPanel, d-j0)
			// Rows [0, j0+n) of T's columns [j0, j0+n): zero on and
			// below the diagonal.
			m := j0 + n
			band = grow(band, m*n)
			parallelRows(m, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					dst := band[i*n : (i+1)*n]
					above := min(n, max(0, i+1-j0)) // columns j <= i
					clear(dst[:above])
					for j := above; j < n; j++ {
						dst[j] = float32(hs[i*d+j0+j])
					}
				}
			})
			prod = grow(prod, k*n)
			ref.Sgemm(false, false, k, n, m, 1, diff, d, band, n, 0, prod, n)
			// Each row's sum goes on in column order, band after band.
			parallelRows(k, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					a := diff[i*d+j0 : i*d+j0+n]
					sum := rowSums[i]
					for j, p := range prod[i*n : (i+1)*n] {
						aj := float64(a[j])
						hjj := hs[(j0+j)*d+j0+j]
						sum += float64(aj * (float64(aj*hjj) + float64(2*float64(p))))
					}
					rowSums[i] = sum
				}
			})
		}
		for i, sum := range rowSums {
			out[i/rows] += sum
		}
	}
	return out, nil
}

// errorPanel is the width of the bands of H that OutputErrors rounds to
// float32 at a time.
const errorPanel = 512

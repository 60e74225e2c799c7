package sparsegpt

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// correlated returns n samples of d inputs with strong correlations
// between neighbouring inputs (x = z·A, A banded) and uneven scales, the
// situation where compensation pays.
func correlated(rng *rand.Rand, n, d int) [][]float64 {
	xs := make([][]float64, n)
	for s := range xs {
		z := make([]float64, d+3)
		for i := range z {
			z[i] = rng.NormFloat64()
		}
		x := make([]float64, d)
		for i := range x {
			scale := 0.5 + float64(i%7)/4
			x[i] = scale * (z[i] + 0.8*z[i+1] + 0.6*z[i+2] + 0.4*z[i+3])
		}
		xs[s] = x
	}
	return xs
}

func hessianOf(xs [][]float64, spans [][2]int) *Hessian {
	d := len(xs[0])
	h := NewHessian(d, spans)
	for _, x := range xs {
		r, err := h.row()
		if err != nil {
			panic(err)
		}
		for i, v := range x {
			r[i] = float32(v)
		}
	}
	if err := h.Flush(); err != nil {
		panic(err)
	}
	return h
}

// outErr computes Σ_samples ||W·x − V·x||² directly.
func outErr(w, v []float64, rows, cols int, xs [][]float64) float64 {
	total := 0.0
	for _, x := range xs {
		for r := range rows {
			s := 0.0
			for c := range cols {
				s += (w[r*cols+c] - v[r*cols+c]) * x[c]
			}
			total += s * s
		}
	}
	return total
}

// magnitude is the 2:4 magnitude baseline, computed here independently.
func magnitude(w []float64, rows, cols int) []float64 {
	v := append([]float64(nil), w...)
	for i := 0; i < rows*cols; i += 4 {
		// Zero the two smallest |w| of each group.
		for range 2 {
			small := -1
			for j := i; j < i+4; j++ {
				if v[j] != 0 && (small < 0 || math.Abs(v[j]) < math.Abs(v[small])) {
					small = j
				}
			}
			if small >= 0 {
				v[small] = 0
			}
		}
	}
	return v
}

func check24(t *testing.T, v []float64, keep []bool) {
	t.Helper()
	for i := 0; i < len(v); i += 4 {
		nz, kept := 0, 0
		for j := i; j < i+4; j++ {
			if v[j] != 0 {
				nz++
			}
			if keep[j] {
				kept++
			}
			if !keep[j] && v[j] != 0 {
				t.Fatalf("element %d is pruned but holds %v", j, v[j])
			}
		}
		if nz > 2 || kept != 2 {
			t.Fatalf("group at %d: %d non-zeros, %d kept; want at most 2 and 2", i, nz, kept)
		}
	}
}

// TestBeatsMagnitude: on correlated inputs SparseGPT's output error
// ||WX − W'X||² is well below magnitude pruning's, measured directly on
// the samples, and the H-based OutputError agrees with the direct one.
func TestBeatsMagnitude(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	rows, cols, n := 24, 64, 400
	w := make([]float64, rows*cols)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	xs := correlated(rng, n, cols)
	for _, maxBlock := range []int{0, 32} {
		o := DefaultOptions
		o.BlockSize = 16 // several lazy batches
		o.MaxBlock = maxBlock
		spans := o.Spans(cols)
		h := hessianOf(xs, spans)
		res, err := Prune(w, rows, cols, h.H, o)
		if err != nil {
			t.Fatal(err)
		}
		check24(t, res.W, res.Keep)
		mag := magnitude(w, rows, cols)
		eg, em := outErr(w, res.W, rows, cols, xs), outErr(w, mag, rows, cols, xs)
		t.Logf("max block %d: output error sparsegpt %.1f, magnitude %.1f (%.0f%%)", maxBlock, eg, em, 100*eg/em)
		if eg > 0.7*em {
			t.Errorf("max block %d: sparsegpt error %.1f is not well below magnitude's %.1f", maxBlock, eg, em)
		}
		if maxBlock == 0 {
			got, err := OutputErrors(w, [][]float64{res.W, mag}, rows, cols, h.H, spans)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got[0]-eg) > 1e-4*eg || math.Abs(got[1]-em) > 1e-4*em {
				t.Errorf("OutputErrors = %v, direct = %v, %v", got, eg, em)
			}
		}
	}
}

// TestUncorrelatedIsMagnitude: with H = I (orthogonal inputs of equal
// scale) there is nothing to compensate through and every saliency is
// w²: SparseGPT must return the magnitude mask and keep the kept weights.
func TestUncorrelatedIsMagnitude(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	rows, cols := 8, 32
	w := make([]float64, rows*cols)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	h := make([]float64, cols*cols)
	for i := range cols {
		h[i*cols+i] = 5
	}
	res, err := Prune(w, rows, cols, [][]float64{h}, DefaultOptions)
	if err != nil {
		t.Fatal(err)
	}
	mag := magnitude(w, rows, cols)
	for i := range w {
		if math.Abs(res.W[i]-mag[i]) > 1e-12 {
			t.Fatalf("element %d: %v, magnitude pruning gives %v", i, res.W[i], mag[i])
		}
	}
}

// TestInverseCholesky: UᵀU·(H + λI) = I for the factor of the reversed
// factorization.
func TestInverseCholesky(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	d := 20
	xs := correlated(rng, 50, d)
	h := hessianOf(xs, [][2]int{{0, d}}).H[0]
	damped := append([]float64(nil), h...)
	mean := 0.0
	for i := range d {
		mean += h[i*d+i]
	}
	lambda := 0.01 * mean / float64(d)
	for i := range d {
		damped[i*d+i] += lambda
	}
	work := append([]float64(nil), h...)
	if _, err := invCholUpper(work, d, 0.01); err != nil {
		t.Fatal(err)
	}
	// work holds U on and above the diagonal and H's own entries below.
	u := make([]float64, d*d)
	for i := range d {
		for j := range d {
			switch {
			case j >= i:
				u[i*d+j] = work[i*d+j]
			case work[i*d+j] != h[i*d+j]:
				t.Fatalf("work[%d,%d] = %v below the diagonal, want H's %v", i, j, work[i*d+j], h[i*d+j])
			}
		}
	}
	for i := range d {
		for j := range d {
			s := 0.0
			for k := range d {
				// (UᵀU)[i,k] = Σ_m U[m,i]·U[m,k]
				uu := 0.0
				for m := range d {
					uu += u[m*d+i] * u[m*d+k]
				}
				s += uu * damped[k*d+j]
			}
			want := 0.0
			if i == j {
				want = 1
			}
			if math.Abs(s-want) > 1e-8 {
				t.Fatalf("(UᵀU·H)[%d,%d] = %v, want %v", i, j, s, want)
			}
		}
	}
}

// TestDeadInputs: an input that is zero in every sample has its weights
// pruned first (they contribute nothing) and the Hessian stays invertible.
func TestDeadInputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	rows, cols := 4, 8
	xs := correlated(rng, 100, cols)
	for _, x := range xs {
		x[1] = 0
	}
	w := make([]float64, rows*cols)
	for i := range w {
		w[i] = 1 + rng.Float64()
	}
	h := hessianOf(xs, [][2]int{{0, cols}})
	res, err := Prune(w, rows, cols, h.H, DefaultOptions)
	if err != nil {
		t.Fatal(err)
	}
	check24(t, res.W, res.Keep)
	for r := range rows {
		if res.W[r*cols+1] != 0 {
			t.Errorf("row %d: the weight of the dead input is %v, want 0", r, res.W[r*cols+1])
		}
	}
}

// TestOptionErrors: bad patterns and shapes are errors, not panics.
func TestOptionErrors(t *testing.T) {
	w := make([]float64, 8)
	h := [][]float64{make([]float64, 64)}
	for _, tc := range []struct {
		o    Options
		cols int
	}{
		{Options{N: 2, M: 4, BlockSize: 6, Damp: 0.01}, 8},
		{Options{N: 5, M: 4, BlockSize: 8, Damp: 0.01}, 8},
		{Options{N: 2, M: 4, BlockSize: 8, Damp: math.NaN()}, 8},
		{Options{N: 2, M: 4, BlockSize: 8, Damp: 0.01}, 6},
	} {
		if _, err := Prune(w, 8/tc.cols, tc.cols, h, tc.o); err == nil {
			t.Errorf("%+v with %d columns: no error", tc.o, tc.cols)
		}
	}
}

// TestAddConv checks the im2col rows against a direct computation for a
// padded, strided 3×3 convolution: Σ rows = the Hessian of hand-built rows.
func TestAddConv(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	C, H, W := 4, 5, 6
	x := ir.NewTensor(ir.Float32, 2, C, H, W)
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(rng.NormFloat64())
	}
	attrs := ir.Attrs{"pads": ir.IntsAttr(1, 1, 1, 1), "strides": ir.IntsAttr(2, 1)}
	g, err := ir.ResolveConvGeom(attrs, []ir.Dim{ir.D(int64(H)), ir.D(int64(W))}, []int{3, 3}, false)
	if err != nil {
		t.Fatal(err)
	}
	cols := 9 * C
	h := NewHessian(cols, [][2]int{{0, cols}})
	if err := h.AddConv(x, g); err != nil {
		t.Fatal(err)
	}
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	want := make([]float64, cols*cols)
	rows := 0
	for n := range 2 {
		for oy := range g.Out[0] {
			for ox := range g.Out[1] {
				row := make([]float64, cols)
				for ky := range 3 {
					for kx := range 3 {
						iy, ix := oy*2-1+ky, ox-1+kx
						if iy < 0 || iy >= H || ix < 0 || ix >= W {
							continue
						}
						for c := range C {
							row[(ky*3+kx)*C+c] = float64(x.Float32s()[((n*C+c)*H+iy)*W+ix])
						}
					}
				}
				rows++
				for i := range cols {
					for j := range cols {
						want[i*cols+j] += row[i] * row[j]
					}
				}
			}
		}
	}
	if h.Rows != rows {
		t.Fatalf("%d rows, want %d", h.Rows, rows)
	}
	for i := range want {
		if math.Abs(h.H[0][i]-want[i]) > 1e-5*(1+math.Abs(want[i])) {
			t.Fatalf("H[%d] = %v, want %v", i, h.H[0][i], want[i])
		}
	}
}

// TestAddConvChunks checks that AddConv, which fills an image's rows over
// both cores a chunk's share at a time, gives H bit for bit as the same
// rows added one by one, with chunks that end inside an image.
func TestAddConvChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	C, H, W := 3, 9, 8
	x := ir.NewTensor(ir.Float32, 3, C, H, W)
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(rng.NormFloat64())
	}
	g, err := ir.ResolveConvGeom(ir.Attrs{"pads": ir.IntsAttr(1, 1, 1, 1)}, []ir.Dim{ir.D(int64(H)), ir.D(int64(W))}, []int{3, 3}, false)
	if err != nil {
		t.Fatal(err)
	}
	cols := 9 * C
	got, want := NewHessian(cols, [][2]int{{0, cols}}), NewHessian(cols, [][2]int{{0, cols}})
	got.chunk, want.chunk = 29, 29 // 72 rows an image
	if err := got.AddConv(x, g); err != nil {
		t.Fatal(err)
	}
	for n := range 3 {
		for oy := range H {
			for ox := range W {
				row, _ := want.row()
				clear(row)
				for ky := range 3 {
					for kx := range 3 {
						iy, ix := oy-1+ky, ox-1+kx
						if iy < 0 || iy >= H || ix < 0 || ix >= W {
							continue
						}
						for c := range C {
							row[(ky*3+kx)*C+c] = x.Float32s()[((n*C+c)*H+iy)*W+ix]
						}
					}
				}
			}
		}
	}
	if err := got.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := want.Flush(); err != nil {
		t.Fatal(err)
	}
	if got.Rows != want.Rows {
		t.Fatalf("%d rows, want %d", got.Rows, want.Rows)
	}
	for i, v := range want.H[0] {
		if got.H[0][i] != v {
			t.Fatalf("H[%d] = %v, want %v", i, got.H[0][i], v)
		}
	}
}

// TestOutputErrorsBands: OutputErrors, which multiplies by H's strict upper
// triangle one band of columns at a time, agrees with a·H·aᵀ summed
// directly in float64, on spans wider than a band and not a multiple of
// one.
func TestOutputErrorsBands(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	rows, cols := 3, 2*errorPanel+76
	spans := [][2]int{{0, errorPanel + 40}, {errorPanel + 40, cols}}
	var h [][]float64
	for _, sp := range spans {
		h = append(h, gram(rng, sp[1]-sp[0]+10, sp[1]-sp[0], 0))
	}
	w := make([]float64, rows*cols)
	v := make([]float64, rows*cols)
	for i := range w {
		w[i] = rng.NormFloat64()
		if i%3 != 0 {
			v[i] = w[i] + 0.1*rng.NormFloat64()
		}
	}
	got, err := OutputErrors(w, [][]float64{v, w}, rows, cols, h, spans)
	if err != nil {
		t.Fatal(err)
	}
	want := 0.0
	for si, sp := range spans {
		d := sp[1] - sp[0]
		for r := range rows {
			for i := range d {
				ai := w[r*cols+sp[0]+i] - v[r*cols+sp[0]+i]
				for j := range d {
					aj := w[r*cols+sp[0]+j] - v[r*cols+sp[0]+j]
					want += ai * h[si][i*d+j] * aj
				}
			}
		}
	}
	if math.Abs(got[0]-want) > 1e-5*want || got[1] != 0 {
		t.Errorf("OutputErrors = %v, want %v and 0", got, want)
	}
	// A nil weight is the zero weight, bit for bit.
	zero, err := OutputErrors(w, [][]float64{nil, make([]float64, rows*cols)}, rows, cols, h, spans)
	if err != nil {
		t.Fatal(err)
	}
	if zero[0] != zero[1] || zero[0] == 0 {
		t.Errorf("OutputErrors of nil and of zeros = %v, want equal and nonzero", zero)
	}
}

// TestPruneIndependentOfCores: the mask and weights are the same bits
// whatever the number of cores the work is shared over, and the Hessian
// Prune works in is itself again afterwards.
func TestPruneIndependentOfCores(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	rows, cols := 40, 600 // several blocks of the factorizations, two spans
	w := make([]float64, rows*cols)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	o := DefaultOptions
	o.MaxBlock = 320
	var h [][]float64
	for _, sp := range o.Spans(cols) {
		h = append(h, gram(rng, 2*(sp[1]-sp[0]), sp[1]-sp[0], 0))
	}
	orig := make([][]float64, len(h))
	for i := range h {
		orig[i] = append([]float64(nil), h[i]...)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var first *Result
	for _, procs := range []int{1, 2, 3, 8} {
		runtime.GOMAXPROCS(procs)
		res, err := Prune(w, rows, cols, h, o)
		if err != nil {
			t.Fatal(err)
		}
		for i := range h {
			if !slices.Equal(h[i], orig[i]) {
				t.Fatalf("GOMAXPROCS %d: Hessian block %d is not restored", procs, i)
			}
		}
		if first == nil {
			first = res
			continue
		}
		if !slices.Equal(res.Keep, first.Keep) {
			t.Fatalf("GOMAXPROCS %d: the mask differs from GOMAXPROCS 1's", procs)
		}
		for i := range res.W {
			if math.Float64bits(res.W[i]) != math.Float64bits(first.W[i]) {
				t.Fatalf("GOMAXPROCS %d: W[%d] = %v, GOMAXPROCS 1 gives %v", procs, i, res.W[i], first.W[i])
			}
		}
	}
}

// TestDampingRetry: an indefinite H (3 off the diagonal, 1 on it:
// eigenvalues 3d−2 and −2) fails the factorization until the damping
// exceeds 2, three retries from 0.01; each retry starts
// again from H, which the failed attempt overwrote, and the U returned is
// the factor of (H + λI)⁻¹ for the damping it reports.
func TestDampingRetry(t *testing.T) {
	d := 8
	h := make([]float64, d*d)
	for i := range h {
		h[i] = 3
	}
	for i := range d {
		h[i*d+i] = 1
	}
	work := append([]float64(nil), h...)
	damp, err := invCholUpper(work, d, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	if damp <= 2 {
		t.Fatalf("damping %v, want it raised above 2", damp)
	}
	lambda := damp // mean diag H is 1
	for i := range d {
		for j := range d {
			s := 0.0
			for k := range d {
				uu := 0.0
				for m := 0; m <= min(i, k); m++ {
					uu += work[m*d+i] * work[m*d+k]
				}
				hk := h[k*d+j]
				if k == j {
					hk += lambda
				}
				s += uu * hk
			}
			want := 0.0
			if i == j {
				want = 1
			}
			if math.Abs(s-want) > 1e-9 {
				t.Fatalf("damping %v: (UᵀU·(H+λI))[%d,%d] = %v, want %v", damp, i, j, s, want)
			}
		}
	}
}

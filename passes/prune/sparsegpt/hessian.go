package sparsegpt

import (
	"fmt"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// Hessian accumulates Σ x·xᵀ over a layer's input rows x (cols long, in
// the column order of the layer's weight view) for each span of columns.
//
// Rows are gathered in float32 chunks and each chunk's XᵀX is computed by
// the reference executor's GEMM (ref.SgemmUpper), whose vectorised float32
// kernels run some 50 times faster here than gonum's float64 one (a
// 4608-wide conv layer's Hessian took 80 s with gonum's Dgemm); only the
// upper triangle is computed, one panel of hessianPanel rows at a time,
// each product skipping the tiles below the diagonal (half the work of
// the full product; whole panels computed the lower half of each
// diagonal block too, 40% more work than the triangle on a 576-wide
// layer, twice it on a 256-wide one), then mirrored. The chunk products
// are summed in float64. The paper's implementation accumulates H in
// float32 too.
type Hessian struct {
	Cols  int
	Spans [][2]int
	// H holds one span×span matrix per span (full, symmetric).
	H [][]float64
	// Rows counts the rows added.
	Rows int

	buf   []float32
	n     int
	chunk int
	// prod receives one panel of a chunk's product.
	prod []float32
	// nhwc holds one image of AddConv's input with its channels last.
	nhwc []float32
}

// hessianPanel is the number of Hessian rows computed by one product.
const hessianPanel = 256

// NewHessian returns an empty accumulator for the spans of cols columns.
func NewHessian(cols int, spans [][2]int) *Hessian {
	h := &Hessian{Cols: cols, Spans: spans}
	for _, sp := range spans {
		d := sp[1] - sp[0]
		h.H = append(h.H, make([]float64, d*d))
	}
	// Rows are gathered into chunks so that the products run as matrix
	// products; about 4 M elements (16 MiB) a chunk.
	h.chunk = max(64, min(4096, (4<<20)/max(1, cols)))
	return h
}

// row returns the next row to fill, flushing a full chunk first. It holds
// an earlier row's values: the caller writes every element.
func (h *Hessian) row() ([]float32, error) {
	if h.n == h.chunk {
		h.flush()
	}
	h.buf = grow(h.buf, h.chunk*h.Cols)
	r := h.buf[h.n*h.Cols : (h.n+1)*h.Cols]
	h.n++
	h.Rows++
	return r, nil
}

// Flush adds the buffered rows to the sums and makes H whole: call it
// before reading H.
func (h *Hessian) Flush() error {
	h.flush()
	// Mirror the upper triangle into the lower, once: the chunks add to
	// the upper triangle only.
	for si, sp := range h.Spans {
		mirrorUpper(h.H[si], sp[1]-sp[0])
	}
	// The working buffers (16 MiB and more) go now rather than with H,
	// which the solve keeps; more rows allocate them again.
	h.buf, h.prod, h.nhwc = nil, nil, nil
	return nil
}

// flush adds the buffered rows to the upper triangles of the sums.
func (h *Hessian) flush() {
	if h.n == 0 {
		return
	}
	rows := h.n
	for si, sp := range h.Spans {
		d := sp[1] - sp[0]
		acc := h.H[si]
		// X is the span's columns of the buffered rows: element (r, c) at
		// buf[r*Cols + sp[0] + c]. Panel [i, i+p) of the upper triangle is
		// X[:, i:i+p]ᵀ · X[:, i:].
		x := h.buf[sp[0]:]
		for i := 0; i < d; i += hessianPanel {
			p := min(hessianPanel, d-i)
			w := d - i
			h.prod = grow(h.prod, p*w)
			ref.SgemmUpper(true, false, p, w, rows, x[i:], h.Cols, x[i:], h.Cols, h.prod, w)
			parallelRows(p, func(lo, hi int) {
				for r := lo; r < hi; r++ {
					row := acc[(i+r)*d+i+r : (i+r+1)*d]
					for j, v := range h.prod[r*w+r : (r+1)*w] {
						row[j] += float64(v)
					}
				}
			})
		}
	}
	h.n = 0
}

// AddMatrix adds the rows of x, a Gemm's or MatMul's activation whose axis
// holds the reduction (cols long): every index of the other axes is one row.
func (h *Hessian) AddMatrix(x *ir.Tensor, axis int) error {
	if x.DType != ir.Float32 {
		return fmt.Errorf("activation is %v, want f32", x.DType)
	}
	if axis < 0 || axis >= len(x.Shape) || x.Shape[axis] != h.Cols {
		return fmt.Errorf("activation has shape %v, want %d on axis %d", x.Shape, h.Cols, axis)
	}
	data := x.Float32s()
	inner := ir.NumElements(x.Shape[axis+1:])
	outer := ir.NumElements(x.Shape[:axis])
	for o := range outer {
		for in := range inner {
			r, err := h.row()
			if err != nil {
				return err
			}
			base := o*h.Cols*inner + in
			for c := range h.Cols {
				r[c] = data[base+c*inner]
			}
		}
	}
	return nil
}

// AddConv adds the im2col rows of x (N × C × spatial) for a convolution of
// geometry g with C input channels (group 1): one row per image and output
// position, column s·C + c for kernel position s and channel c, zero where
// the window reads padding.
func (h *Hessian) AddConv(x *ir.Tensor, g *ir.ConvGeom) error {
	if x.DType != ir.Float32 {
		return fmt.Errorf("activation is %v, want f32", x.DType)
	}
	k := len(g.Kernel)
	if len(x.Shape) != k+2 {
		return fmt.Errorf("activation has shape %v, want %d spatial dims", x.Shape, k)
	}
	C := x.Shape[1]
	kn := ir.NumElements(g.Kernel)
	if C*kn != h.Cols {
		return fmt.Errorf("activation has %d channels and the kernel %d positions, want %d columns", C, kn, h.Cols)
	}
	for i := range k {
		if g.In[i] != x.Shape[2+i] || g.Out[i] < 0 {
			return fmt.Errorf("activation has shape %v, the geometry was resolved for %v", x.Shape, g.In)
		}
	}
	data := x.Float32s()
	inSize := ir.NumElements(g.In)
	outN := ir.NumElements(g.Out)
	inStrides := ir.Strides(g.In)
	for n := range x.Shape[0] {
		// The image with its channels last, so that each kernel position's
		// C values are one copy (NCHW would gather them a plane apart).
		// This and the rows below are split over the cores: on one, while
		// the other waited, they were a fifth of SparseGPT's time on
		// ResNet-50.
		h.nhwc = grow(h.nhwc, C*inSize)
		img := h.nhwc
		src := data[n*C*inSize : (n+1)*C*inSize]
		parallelRows(inSize, func(lo, hi int) {
			for c := range C {
				for p, v := range src[c*inSize+lo : c*inSize+hi] {
					img[(lo+p)*C+c] = v
				}
			}
		})
		// The image's rows, output position by position, in as many
		// pieces as the chunks they fall in need.
		for o0 := 0; o0 < outN; {
			if h.n == h.chunk {
				h.flush()
			}
			h.buf = grow(h.buf, h.chunk*h.Cols)
			cnt := min(outN-o0, h.chunk-h.n)
			rows := h.buf[h.n*h.Cols : (h.n+cnt)*h.Cols]
			parallelRows(cnt, func(lo, hi int) {
				kIdx := make([]int, k)
				oIdx := make([]int, k)
				for o := lo; o < hi; o++ {
					unravel(o0+o, g.Out, oIdx)
					r := rows[o*h.Cols : (o+1)*h.Cols]
					for s := range kn {
						unravel(s, g.Kernel, kIdx)
						off, inside := 0, true
						for d := range k {
							i := oIdx[d]*g.Strides[d] - g.PadBegin[d] + kIdx[d]*g.Dilations[d]
							if i < 0 || i >= g.In[d] {
								inside = false
								break
							}
							off += i * inStrides[d]
						}
						if !inside {
							clear(r[s*C : (s+1)*C]) // padding reads zero
							continue
						}
						copy(r[s*C:(s+1)*C], img[off*C:(off+1)*C])
					}
				}
			})
			h.n += cnt
			h.Rows += cnt
			o0 += cnt
		}
	}
	return nil
}

func unravel(i int, dims, idx []int) {
	for d := len(dims) - 1; d >= 0; d-- {
		idx[d] = i % dims[d]
		i /= dims[d]
	}
}

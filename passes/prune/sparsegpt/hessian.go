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
// the reference executor's Gemm (transA), whose vectorised float32 kernel
// runs some 50 times faster here than gonum's float64 one (a 4608-wide
// conv layer's Hessian took 80 s with gonum's Dgemm); the chunk products
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
	// gram[s] computes XᵀX of a chunk of span s.
	gram []*ref.Executor
	// part holds one span's columns of a chunk when there are several spans.
	part []float32
}

// NewHessian returns an empty accumulator for the spans of cols columns.
func NewHessian(cols int, spans [][2]int) *Hessian {
	h := &Hessian{Cols: cols, Spans: spans}
	for _, sp := range spans {
		d := sp[1] - sp[0]
		h.H = append(h.H, make([]float64, d*d))
	}
	// Rows are gathered into chunks so that the products run as matrix
	// products; about 4 M elements (32 MiB) a chunk.
	h.chunk = max(64, min(4096, (4<<20)/max(1, cols)))
	h.buf = make([]float32, h.chunk*cols)
	return h
}

// gramGraph is Y = XᵀX for X of rows × d, as a Gemm with transA.
func gramGraph(rows, d int) (*ref.Executor, error) {
	x := &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, rows, d)}
	y := &ir.Value{Name: "y", Type: ir.TensorType(ir.Float32, d, d)}
	g := &ir.Graph{Name: "gram", Inputs: []*ir.Value{x}, Outputs: []*ir.Value{y}, Nodes: []*ir.Node{
		{Name: "xtx", Op: "Gemm", Inputs: []*ir.Value{x, x}, Outputs: []*ir.Value{y}, Attrs: ir.Attrs{"transA": ir.IntAttr(1)}},
	}}
	return ref.New(g)
}

// row returns the next row to fill (zeroed), flushing a full chunk first.
func (h *Hessian) row() ([]float32, error) {
	if h.n == h.chunk {
		if err := h.Flush(); err != nil {
			return nil, err
		}
	}
	r := h.buf[h.n*h.Cols : (h.n+1)*h.Cols]
	clear(r)
	h.n++
	h.Rows++
	return r, nil
}

// Flush adds the buffered rows to the sums.
func (h *Hessian) Flush() error {
	if h.n == 0 {
		return nil
	}
	// The chunk's shape is fixed (the executors are built for it): rows
	// past n are zeroed, and zero rows add nothing.
	clear(h.buf[h.n*h.Cols:])
	if h.gram == nil {
		for _, sp := range h.Spans {
			e, err := gramGraph(h.chunk, sp[1]-sp[0])
			if err != nil {
				return err
			}
			h.gram = append(h.gram, e)
		}
	}
	for si, sp := range h.Spans {
		d := sp[1] - sp[0]
		x := h.buf
		if len(h.Spans) > 1 {
			if h.part == nil {
				h.part = make([]float32, h.chunk*h.Cols)
			}
			x = h.part[:h.chunk*d]
			for r := range h.chunk {
				copy(x[r*d:(r+1)*d], h.buf[r*h.Cols+sp[0]:r*h.Cols+sp[1]])
			}
		}
		out, err := h.gram[si].Run([]*ir.Tensor{ir.FromFloat32(x, h.chunk, d)})
		if err != nil {
			return err
		}
		acc := h.H[si]
		for i, v := range out[0].Float32s() {
			acc[i] += float64(v)
		}
	}
	h.n = 0
	return nil
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
	kIdx := make([]int, k)
	oIdx := make([]int, k)
	for n := range x.Shape[0] {
		img := data[n*C*inSize : (n+1)*C*inSize]
		for o := range outN {
			unravel(o, g.Out, oIdx)
			r, err := h.row()
			if err != nil {
				return err
			}
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
					continue // padding reads zero; the row is zeroed
				}
				dst := r[s*C : (s+1)*C]
				for c := range dst {
					dst[c] = img[c*inSize+off]
				}
			}
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

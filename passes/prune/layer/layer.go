// Package layer describes the layers structured sparsity applies to: the
// nodes that multiply an activation by a constant weight (Conv, FusedConv,
// Gemm, FusedGemm, MatMul), where the weight's reduction dimension lies in
// its tensor, and a matrix view of that weight in which the N:M groups are
// runs of consecutive columns.
//
// The prune pass, the channel-permutation search and SparseGPT all work on
// that view, so the knowledge of where each op keeps its reduction dimension
// lives here, once.
//
// # The view
//
// A weight is seen as a Rows × Cols matrix: one row per output channel, one
// column per element of the reduction. For a Conv weight K × C × R × S
// (any number of spatial dims) the columns are ordered spatial-major and
// channel-minor, column (r·S + s)·C + c, so that the 2:4 groups along C at a
// fixed (k, r, s), the groups the sparse Tensor Core instructions read, are
// four consecutive columns. For Gemm the rows are the columns of op(B) and
// the columns its rows; for MatMul (2-D constant B only) likewise.
package layer

import (
	"fmt"
	"math"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// Kind says what sort of op a layer is.
type Kind uint8

// The layer kinds.
const (
	Conv   Kind = iota + 1 // Conv, FusedConv: weight K × C/group × spatial
	Gemm                   // Gemm, FusedGemm: Y = op(A)·op(B), B constant
	MatMul                 // MatMul with a 2-D constant B
)

// Layer is one node whose weight a sparsity pattern can apply to.
type Layer struct {
	Node *ir.Node
	Kind Kind

	// Data is the activation input (input 0), DataAxis its axis that holds
	// the reduction channels (1 for a conv, the last axis for MatMul, 1 or
	// 0 for Gemm according to transA).
	Data     *ir.Value
	DataAxis int

	// Weight is input 1 as the node reads it; Const is the constant that
	// holds its data: Weight itself, or the constant under a
	// DequantizeLinear (and QuantizeLinear) chain.
	Weight *ir.Value
	Const  *ir.Value
	// Quant describes the dequantization of Const when Weight is a
	// DequantizeLinear of it; nil for a float weight.
	Quant *WeightQuant

	// Axis is the reduction axis of Const's tensor: the axis a Sparsity
	// claim names (1 for a conv, 1 for Gemm with transB, 0 otherwise).
	Axis int
	// Rows is the number of output channels; In the reduction length along
	// Axis; Spatial the product of a conv's kernel dims (1 otherwise).
	// Cols = In·Spatial.
	Rows, In, Spatial int
	// Group is a conv's group attribute (1 otherwise).
	Group int
	// TransB is Gemm's transB (the weight is N × K).
	TransB bool
}

// WeightQuant is the dequantization of a weight stored as integers (a QAT
// export's DequantizeLinear over a constant), or of a float constant run
// through QuantizeLinear and DequantizeLinear (fake quantization).
type WeightQuant struct {
	// Dequant is the DequantizeLinear node; Quantize the QuantizeLinear
	// before it when the constant is float, else nil.
	Dequant, Quantize *ir.Node
	// Scale has one entry (per tensor) or one per index of Axis.
	Scale []float64
	// ZeroPoint has as many entries as Scale.
	ZeroPoint []int64
	// Axis is the quantized axis of the weight, -1 per tensor.
	Axis int
}

// Of returns the layer n is, or nil with a reason when n is an op layers
// are made of but this node can't be one (its weight is not a constant, say);
// nil and "" when n's op never is a layer.
func Of(n *ir.Node, producers map[*ir.Value]*ir.Node) (*Layer, string) {
	var kind Kind
	switch n.Op {
	case "Conv", "FusedConv":
		kind = Conv
	case "Gemm", "FusedGemm":
		kind = Gemm
	case "MatMul":
		kind = MatMul
	default:
		return nil, ""
	}
	x, w := n.Input(0), n.Input(1)
	if x == nil || w == nil || len(n.Outputs) != 1 {
		return nil, "malformed node"
	}
	l := &Layer{Node: n, Kind: kind, Data: x, Weight: w, Group: 1, Spatial: 1}
	if w.IsConst() {
		l.Const = w
	} else {
		q, c, why := dequantChain(w, producers)
		if q == nil {
			return nil, why
		}
		l.Quant, l.Const = q, c
	}
	if !l.Const.Type.DType.IsFloat() && l.Quant == nil {
		return nil, fmt.Sprintf("weight is %v, want a float constant", l.Const.Type.DType)
	}
	if l.Quant == nil && l.Const.Type.DType != ir.Float32 {
		return nil, fmt.Sprintf("weight is %v, want f32", l.Const.Type.DType)
	}
	dims := l.Const.Const.Shape
	switch kind {
	case Conv:
		if len(dims) < 3 {
			return nil, fmt.Sprintf("weight has shape %v, want K×C×kernel", dims)
		}
		l.Group = int(n.Attrs.Int("group", 1))
		l.Rows, l.In, l.Spatial, l.Axis, l.DataAxis = dims[0], dims[1], ir.NumElements(dims[2:]), 1, 1
	case Gemm:
		if len(dims) != 2 {
			return nil, fmt.Sprintf("weight has shape %v, want a matrix", dims)
		}
		l.TransB = n.Attrs.Int("transB", 0) != 0
		if l.TransB {
			l.Rows, l.In, l.Axis = dims[0], dims[1], 1
		} else {
			l.Rows, l.In, l.Axis = dims[1], dims[0], 0
		}
		l.DataAxis = 1
		if n.Attrs.Int("transA", 0) != 0 {
			l.DataAxis = 0
		}
	case MatMul:
		if len(dims) != 2 {
			return nil, fmt.Sprintf("weight has shape %v, want a 2-d matrix (a batched weight has no single reduction layout)", dims)
		}
		if x.Type.Shape.Rank() < 1 {
			return nil, "activation is a scalar"
		}
		l.Rows, l.In, l.Axis, l.DataAxis = dims[1], dims[0], 0, x.Type.Shape.Rank()-1
	}
	if l.Quant != nil && l.Quant.Axis >= 0 && l.Quant.Axis == l.Axis {
		// Scales along the reduction would make the magnitudes of one
		// group incomparable in the stored integers and tie the scales to
		// the channel order; exporters never do it.
		return nil, fmt.Sprintf("weight is quantized along its reduction axis %d, want per tensor or per output channel", l.Axis)
	}
	return l, ""
}

// dequantChain recognises w = DequantizeLinear(q, scale, zp) with q a
// constant, or q = QuantizeLinear(f, scale, zp) of a float constant f, with
// constant parameters.
func dequantChain(w *ir.Value, producers map[*ir.Value]*ir.Node) (*WeightQuant, *ir.Value, string) {
	dq := producers[w]
	if dq == nil || dq.Op != "DequantizeLinear" {
		return nil, nil, "weight is not a constant"
	}
	wq, err := quantParams(dq)
	if err != nil {
		return nil, nil, err.Error()
	}
	wq.Dequant = dq
	src := dq.Inputs[0]
	if src.IsConst() {
		return wq, src, ""
	}
	q := producers[src]
	if q == nil || q.Op != "QuantizeLinear" || !q.Inputs[0].IsConst() {
		return nil, nil, "weight is not a constant"
	}
	qq, err := quantParams(q)
	if err != nil {
		return nil, nil, err.Error()
	}
	if qq.Axis != wq.Axis || !equalF(qq.Scale, wq.Scale) || !equalI(qq.ZeroPoint, wq.ZeroPoint) {
		return nil, nil, "weight's QuantizeLinear and DequantizeLinear disagree on their parameters"
	}
	wq.Quantize = q
	return wq, q.Inputs[0], ""
}

func equalF(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalI(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// quantParams reads the constant scale and zero point of a QuantizeLinear or
// DequantizeLinear.
func quantParams(n *ir.Node) (*WeightQuant, error) {
	s, z := n.Input(1), n.Input(2)
	if s == nil || !s.IsConst() || (z != nil && !z.IsConst()) {
		return nil, fmt.Errorf("weight's %s has computed parameters", n.Op)
	}
	q := &WeightQuant{Axis: -1}
	for i := range s.Const.Len() {
		q.Scale = append(q.Scale, s.Const.AsFloat64(i))
	}
	for i := range s.Const.Len() {
		zp := int64(0)
		if z != nil {
			if z.Const.Len() != s.Const.Len() {
				return nil, fmt.Errorf("weight's %s has %d scales and %d zero points", n.Op, s.Const.Len(), z.Const.Len())
			}
			zp = z.Const.AsInt64(i)
		}
		q.ZeroPoint = append(q.ZeroPoint, zp)
	}
	if len(q.Scale) > 1 {
		rank := n.Inputs[0].Type.Shape.Rank()
		a, err := ir.NormAxis(n.Attrs.Int("axis", 1), rank)
		if err != nil {
			return nil, fmt.Errorf("weight's %s: %v", n.Op, err)
		}
		q.Axis = a
	}
	for _, zp := range q.ZeroPoint {
		if zp != 0 {
			// A pruned weight must dequantize to exactly 0 and a sparsity
			// claim is checked on the stored integers: only a zero point of
			// 0 (symmetric quantization, what QAT exports use) gives both.
			return nil, fmt.Errorf("weight's %s has zero point %d, want 0 (symmetric quantization)", n.Op, zp)
		}
	}
	return q, nil
}

// Cols is the number of columns of the view: In·Spatial.
func (l *Layer) Cols() int { return l.In * l.Spatial }

// Index returns the flat index in Const's tensor of view element (row, col).
func (l *Layer) Index(row, col int) int {
	switch l.Kind {
	case Conv:
		s, c := col/l.In, col%l.In
		return (row*l.In+c)*l.Spatial + s
	case Gemm:
		if l.TransB {
			return row*l.In + col
		}
		return col*l.Rows + row
	}
	return col*l.Rows + row // MatMul: B is K × N
}

// scale returns the dequantization scale of flat element i of Const.
func (l *Layer) scale(i int) float64 {
	q := l.Quant
	if q == nil {
		return 1
	}
	if q.Axis < 0 {
		return q.Scale[0]
	}
	dims := l.Const.Const.Shape
	stride := ir.NumElements(dims[q.Axis+1:])
	return q.Scale[(i/stride)%dims[q.Axis]]
}

// value returns the real value of flat element i of Const: the float
// weight, or the dequantized integer. A float constant under a fake
// quantization is read as the float it stores, since that is what gets
// pruned.
func (l *Layer) value(i int) float64 {
	t := l.Const.Const
	if l.Quant == nil || l.Quant.Quantize != nil {
		return t.AsFloat64(i)
	}
	return t.AsFloat64(i) * l.scale(i)
}

// Matrix returns the view as a dense row-major Rows × Cols matrix of the
// weight's real values.
func (l *Layer) Matrix() []float64 {
	rows, cols := l.Rows, l.Cols()
	m := make([]float64, rows*cols)
	for r := range rows {
		for c := range cols {
			m[r*cols+c] = l.value(l.Index(r, c))
		}
	}
	return m
}

// Abs32 returns |Matrix()| in float32, the magnitudes masks are chosen from.
func (l *Layer) Abs32() []float32 {
	rows, cols := l.Rows, l.Cols()
	m := make([]float32, rows*cols)
	if l.Kind == Conv && l.Quant == nil {
		// The common case, without the per-element index arithmetic.
		w := l.Const.Const.Float32s()
		for r := range rows {
			for c := range l.In {
				src := w[(r*l.In+c)*l.Spatial : (r*l.In+c+1)*l.Spatial]
				for s, v := range src {
					m[r*cols+s*l.In+c] = float32(math.Abs(float64(v)))
				}
			}
		}
		return m
	}
	for r := range rows {
		for c := range cols {
			m[r*cols+c] = float32(math.Abs(l.value(l.Index(r, c))))
		}
	}
	return m
}

// NewData returns a copy of Const's tensor with the view set to m (real
// values; an integer weight is requantized with its scales, rounding half
// to even and saturating, and an exact 0 stays 0). Elements where keep is
// false are set to exactly zero; keep may be nil.
func (l *Layer) NewData(m []float64, keep []bool) (*ir.Tensor, error) {
	src := l.Const.Const
	t := src.Clone()
	rows, cols := l.Rows, l.Cols()
	if len(m) != rows*cols || (keep != nil && len(keep) != len(m)) {
		return nil, fmt.Errorf("layer %s: matrix of %d elements for a %d×%d weight", l.Node.Name, len(m), rows, cols)
	}
	integer := l.Quant != nil && l.Quant.Quantize == nil
	var lo, hi float64
	if integer {
		qlo, qhi, ok := ref.QuantRange(src.DType)
		if !ok {
			return nil, fmt.Errorf("layer %s: weight is %v, want an 8-, 16- or 32-bit integer", l.Node.Name, src.DType)
		}
		lo, hi = float64(qlo), float64(qhi)
	}
	for r := range rows {
		for c := range cols {
			i := l.Index(r, c)
			v := m[r*cols+c]
			if keep != nil && !keep[r*cols+c] {
				v = 0
			}
			if integer {
				q := math.RoundToEven(v / l.scale(i))
				v = math.Max(lo, math.Min(hi, q))
			}
			if err := setElem(t, i, v); err != nil {
				return nil, fmt.Errorf("layer %s: %v", l.Node.Name, err)
			}
		}
	}
	return t, nil
}

// Masked returns a copy of Const's tensor with the elements where keep is
// false set to zero and every other element unchanged (bit for bit).
func (l *Layer) Masked(keep []bool) (*ir.Tensor, error) {
	t := l.Const.Const.Clone()
	rows, cols := l.Rows, l.Cols()
	if len(keep) != rows*cols {
		return nil, fmt.Errorf("layer %s: mask of %d elements for a %d×%d weight", l.Node.Name, len(keep), rows, cols)
	}
	for r := range rows {
		for c := range cols {
			if !keep[r*cols+c] {
				if err := setElem(t, l.Index(r, c), 0); err != nil {
					return nil, fmt.Errorf("layer %s: %v", l.Node.Name, err)
				}
			}
		}
	}
	return t, nil
}

// setElem stores v (already rounded for integer types) at flat index i.
func setElem(t *ir.Tensor, i int, v float64) error {
	switch d := t.Data.(type) {
	case []float32:
		d[i] = float32(v)
	case []float64:
		d[i] = v
	case []int8:
		d[i] = int8(v)
	case []uint8:
		d[i] = uint8(v)
	case []int16:
		d[i] = int16(v)
	case []int32:
		d[i] = int32(v)
	case []uint16:
		switch t.DType {
		case ir.Float16:
			d[i] = ir.Float32ToHalf(float32(v))
		case ir.BFloat16:
			d[i] = ir.Float32ToBFloat16(float32(v))
		default:
			d[i] = uint16(v)
		}
	default:
		return fmt.Errorf("cannot store into a %v weight", t.DType)
	}
	return nil
}

// OutAxis is the axis of Const's tensor that indexes the output channels
// (0 for a conv and for Gemm with transB, 1 otherwise).
func (l *Layer) OutAxis() int {
	if l.Kind == Conv || (l.Kind == Gemm && l.TransB) {
		return 0
	}
	return 1
}

package ref

// Kernels of the binary elementwise ops (Add, Sub, Mul, Div, PRelu) with
// numpy broadcasting, for every numeric dtype.
//
// These run on the largest activations of a network during calibration, so
// there is no per-element index arithmetic: planBroadcast reduces any pair of
// shapes to a few merged dims in which each operand either runs along the
// output or stays put. The innermost merged dim then is one of three tight
// loops (vector-vector, vector-scalar, scalar-vector), which covers the
// same-shape, scalar, per-channel bias ([N,C,H,W] + [1,C,1,1]: a scalar per
// row) and trailing-vector ([N,C,H,W] + [W]: the same vector per row) cases
// without special-casing them. Go instantiates the generic loops per element
// type, so each is native arithmetic on that type.
//
// float16 and bfloat16 operands are widened to float32, computed, and rounded
// back to nearest even, which is what ONNX's reference does.

import (
	"fmt"
	"math"

	"github.com/sqc-project/sqc/ir"
)

// binOp selects the arithmetic of a binary kernel.
type binOp uint8

const (
	opAdd binOp = iota
	opSub
	opMul
	opDiv
	// opPRelu is a where a >= 0, else a*b, computed as max(a,0) + min(a,0)*b:
	// exactly the same value (the other term is 0) without a branch on the
	// sign, which mispredicts on activations. The identity fails only for a
	// slope of inf or NaN (0*inf is NaN), where opPReluBranch takes over.
	opPRelu
	opPReluBranch
	// opMin and opMax are the builtin min and max, which keep NaN (as
	// numpy's minimum and maximum, ONNX's reference, do).
	opMin
	opMax
)

func init() {
	register("Add", binaryKernel(opAdd))
	register("Sub", binaryKernel(opSub))
	register("Mul", binaryKernel(opMul))
	register("Div", binaryKernel(opDiv))
	register("PRelu", binaryKernel(opPRelu))
}

// number is every element type the arithmetic kernels compute on natively.
type number interface {
	~int8 | ~uint8 | ~int16 | ~uint16 | ~int32 | ~uint32 | ~int64 | ~uint64 | ~float32 | ~float64
}

// elementwiseGrain is the number of elements below which an elementwise
// loop runs on one goroutine: smaller tensors finish before a goroutine
// would start.
const elementwiseGrain = 1 << 16

// bcastPlan is how two operands map onto the output: the output's dims with
// size-1 dims dropped and neighbours that broadcast alike merged, and each
// operand's element stride along them (0 where it is broadcast). It always
// has at least one dim, and the last dim is not broadcast in both operands.
type bcastPlan struct {
	dims   []int
	sa, sb []int
}

// planBroadcast builds the plan for operands of shapes a and b broadcast to
// out (which the schema computed, so every dim of a or b is 1 or out's).
func planBroadcast(a, b, out []int) (bcastPlan, error) {
	type dim struct {
		n      int
		ra, rb bool // whether a (b) runs along the dim rather than being broadcast
	}
	var ds []dim
	r := len(out)
	for i, n := range out {
		if n == 1 {
			continue
		}
		da, db := 1, 1
		if j := i - (r - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (r - len(b)); j >= 0 {
			db = b[j]
		}
		if (da != n && da != 1) || (db != n && db != 1) {
			return bcastPlan{}, fmt.Errorf("shapes %v and %v do not broadcast to %v", a, b, out)
		}
		d := dim{n, da == n, db == n}
		if k := len(ds) - 1; k >= 0 && ds[k].ra == d.ra && ds[k].rb == d.rb {
			ds[k].n *= n
			continue
		}
		ds = append(ds, d)
	}
	if len(ds) == 0 {
		ds = []dim{{1, true, true}}
	}
	p := bcastPlan{dims: make([]int, len(ds)), sa: make([]int, len(ds)), sb: make([]int, len(ds))}
	accA, accB := 1, 1
	for i := len(ds) - 1; i >= 0; i-- {
		p.dims[i] = ds[i].n
		if ds[i].ra {
			p.sa[i] = accA
			accA *= ds[i].n
		}
		if ds[i].rb {
			p.sb[i] = accB
			accB *= ds[i].n
		}
	}
	return p, nil
}

func binaryKernel(op binOp) Kernel {
	return func(_ *ir.Node, in, out []*ir.Tensor) error {
		return binaryInto(op, in[0], in[1], out[0])
	}
}

// binaryInto computes y = a op b, broadcasting a and b to y's shape.
func binaryInto(op binOp, a, b, y *ir.Tensor) error {
	if y.Len() == 0 {
		return nil
	}
	if op == opPRelu {
		// The slope broadcasts to X; the output is X's shape.
		if !sameInts(y.Shape, a.Shape) {
			return fmt.Errorf("output shape %v, want X's shape %v", y.Shape, a.Shape)
		}
	}
	p, err := planBroadcast(a.Shape, b.Shape, y.Shape)
	if err != nil {
		return err
	}
	if op == opPRelu && y.DType.IsFloat() && !allFinite(b) {
		op = opPReluBranch
	}
	switch y.DType {
	case ir.Float32:
		runBinary(op, y.Float32s(), a.Float32s(), b.Float32s(), p)
	case ir.Float64:
		runBinary(op, y.Data.([]float64), a.Data.([]float64), b.Data.([]float64), p)
	case ir.Float16, ir.BFloat16:
		ya := make([]float32, y.Len())
		runBinary(op, ya, toFloat32(a), toFloat32(b), p)
		fromFloat32(y, ya)
	case ir.Int8:
		return runIntBinary(op, y.Int8s(), a.Int8s(), b.Int8s(), p)
	case ir.Uint8:
		return runIntBinary(op, y.Uint8s(), a.Uint8s(), b.Uint8s(), p)
	case ir.Int16:
		return runIntBinary(op, y.Data.([]int16), a.Data.([]int16), b.Data.([]int16), p)
	case ir.Uint16:
		return runIntBinary(op, y.Data.([]uint16), a.Data.([]uint16), b.Data.([]uint16), p)
	case ir.Int32:
		return runIntBinary(op, y.Int32s(), a.Int32s(), b.Int32s(), p)
	case ir.Uint32:
		return runIntBinary(op, y.Data.([]uint32), a.Data.([]uint32), b.Data.([]uint32), p)
	case ir.Int64:
		return runIntBinary(op, y.Int64s(), a.Int64s(), b.Int64s(), p)
	case ir.Uint64:
		return runIntBinary(op, y.Data.([]uint64), a.Data.([]uint64), b.Data.([]uint64), p)
	default:
		return fmt.Errorf("no kernel for %v elements", y.DType)
	}
	return nil
}

// allFinite reports whether a float tensor holds no inf or NaN.
func allFinite(t *ir.Tensor) bool {
	for i := range t.Len() {
		if v := t.AsFloat64(i); math.IsInf(v, 0) || v != v {
			return false
		}
	}
	return true
}

func sameInts(a, b []int) bool {
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

// runIntBinary is runBinary for integers, where division by zero is an
// error rather than an infinity. Integer division truncates toward zero, as
// ONNX's Div does (Go's / does the same, and MinInt / -1 wraps to MinInt).
func runIntBinary[T number](op binOp, dst, a, b []T, p bcastPlan) error {
	if op == opDiv {
		for i, v := range b {
			if v == 0 {
				return fmt.Errorf("integer division by zero (element %d of input B)", i)
			}
		}
	}
	runBinary(op, dst, a, b, p)
	return nil
}

// runBinary computes dst = a op b under the plan, spreading the output over
// the cores in contiguous ranges.
func runBinary[T number](op binOp, dst, a, b []T, p bcastPlan) {
	k := len(p.dims)
	inner := p.dims[k-1]
	va, vb := p.sa[k-1] != 0, p.sb[k-1] != 0
	parallelFor(len(dst), elementwiseGrain, func(lo, hi int) {
		// The odometer over the outer dims gives each row's operand offsets.
		row, col := lo/inner, lo%inner
		idx := make([]int, k-1)
		offA, offB := 0, 0
		for d := k - 2; d >= 0; d-- {
			idx[d] = row % p.dims[d]
			row /= p.dims[d]
			offA += idx[d] * p.sa[d]
			offB += idx[d] * p.sb[d]
		}
		for pos := lo; pos < hi; {
			n := min(inner-col, hi-pos)
			d := dst[pos : pos+n]
			switch {
			case va && vb:
				binVV(op, d, a[offA+col:offA+col+n], b[offB+col:offB+col+n])
			case va:
				binVS(op, d, a[offA+col:offA+col+n], b[offB])
			default:
				binSV(op, d, a[offA], b[offB+col:offB+col+n])
			}
			pos += n
			col = 0
			for d := k - 2; d >= 0; d-- {
				idx[d]++
				offA += p.sa[d]
				offB += p.sb[d]
				if idx[d] < p.dims[d] {
					break
				}
				offA -= p.sa[d] * p.dims[d]
				offB -= p.sb[d] * p.dims[d]
				idx[d] = 0
			}
		}
	})
}

// binVV is dst[i] = a[i] op b[i].
func binVV[T number](op binOp, dst, a, b []T) {
	a, b = a[:len(dst)], b[:len(dst)]
	switch op {
	case opMin:
		for i := range dst {
			dst[i] = min(a[i], b[i])
		}
	case opMax:
		for i := range dst {
			dst[i] = max(a[i], b[i])
		}
	case opAdd:
		for i := range dst {
			dst[i] = a[i] + b[i]
		}
	case opSub:
		for i := range dst {
			dst[i] = a[i] - b[i]
		}
	case opMul:
		for i := range dst {
			dst[i] = a[i] * b[i]
		}
	case opDiv:
		for i := range dst {
			dst[i] = a[i] / b[i]
		}
	case opPRelu:
		for i := range dst {
			x := a[i]
			dst[i] = max(x, 0) + T(min(x, 0)*b[i]) // T(): unfused, see unaryFloat's LeakyRelu
		}
	case opPReluBranch:
		for i := range dst {
			if x := a[i]; x < 0 {
				dst[i] = x * b[i]
			} else {
				dst[i] = x
			}
		}
	}
}

// binVS is dst[i] = a[i] op s.
func binVS[T number](op binOp, dst, a []T, s T) {
	a = a[:len(dst)]
	switch op {
	case opMin:
		for i := range dst {
			dst[i] = min(a[i], s)
		}
	case opMax:
		for i := range dst {
			dst[i] = max(a[i], s)
		}
	case opAdd:
		for i := range dst {
			dst[i] = a[i] + s
		}
	case opSub:
		for i := range dst {
			dst[i] = a[i] - s
		}
	case opMul:
		for i := range dst {
			dst[i] = a[i] * s
		}
	case opDiv:
		// Not a multiplication by 1/s: that rounds differently.
		for i := range dst {
			dst[i] = a[i] / s
		}
	case opPRelu:
		for i := range dst {
			x := a[i]
			dst[i] = max(x, 0) + T(min(x, 0)*s)
		}
	case opPReluBranch:
		for i := range dst {
			if x := a[i]; x < 0 {
				dst[i] = x * s
			} else {
				dst[i] = x
			}
		}
	}
}

// binSV is dst[i] = s op b[i].
func binSV[T number](op binOp, dst []T, s T, b []T) {
	b = b[:len(dst)]
	switch op {
	case opMin:
		for i := range dst {
			dst[i] = min(s, b[i])
		}
	case opMax:
		for i := range dst {
			dst[i] = max(s, b[i])
		}
	case opAdd:
		for i := range dst {
			dst[i] = s + b[i]
		}
	case opSub:
		for i := range dst {
			dst[i] = s - b[i]
		}
	case opMul:
		for i := range dst {
			dst[i] = s * b[i]
		}
	case opDiv:
		for i := range dst {
			dst[i] = s / b[i]
		}
	case opPRelu:
		for i := range dst {
			dst[i] = max(s, 0) + T(min(s, 0)*b[i])
		}
	case opPReluBranch:
		for i := range dst {
			if s < 0 {
				dst[i] = s * b[i]
			} else {
				dst[i] = s
			}
		}
	}
}

// toFloat32 returns a float tensor's elements as float32 (a float32
// tensor's own data; a copy for the others).
func toFloat32(t *ir.Tensor) []float32 {
	switch s := t.Data.(type) {
	case []float32:
		return s
	case []uint16:
		out := make([]float32, len(s))
		if t.DType == ir.BFloat16 {
			for i, h := range s {
				out[i] = ir.BFloat16ToFloat32(h)
			}
		} else {
			for i, h := range s {
				out[i] = ir.HalfToFloat32(h)
			}
		}
		return out
	}
	out := make([]float32, t.Len())
	for i := range out {
		out[i] = float32(t.AsFloat64(i))
	}
	return out
}

// fromFloat32 stores float32 values into a float16 or bfloat16 tensor,
// rounding to nearest even.
func fromFloat32(t *ir.Tensor, v []float32) {
	dst := t.Data.([]uint16)
	if t.DType == ir.BFloat16 {
		for i, f := range v {
			dst[i] = ir.Float32ToBFloat16(f)
		}
		return
	}
	for i, f := range v {
		dst[i] = ir.Float32ToHalf(f)
	}
}

package ref

import (
	"fmt"

	"github.com/sqc-project/sqc/ir"
)

// Gemm and MatMul. Float32 runs on the packed GEMM (gemm.go); f16 and bf16
// are computed in float32; f64 and the integer types ONNX allows use a
// plain loop in their own type (integers wrap on overflow, as numpy's do).

func init() {
	register("Gemm", gemmKernel)
	register("MatMul", matMulKernel)
}

// nnNumber is the element types of the plain-loop kernels.
type nnNumber interface {
	~float64 | ~int32 | ~int64 | ~uint32 | ~uint64
}

func gemmKernel(n *ir.Node, in, out []*ir.Tensor) error {
	switch in[0].DType {
	case ir.Float32:
		return gemmF32(n, in, out)
	case ir.Float16, ir.BFloat16:
		return nnViaFloat32(gemmF32)(n, in, out)
	case ir.Float64:
		return gemmPlain[float64](n, in, out)
	case ir.Int32:
		return gemmPlain[int32](n, in, out)
	case ir.Int64:
		return gemmPlain[int64](n, in, out)
	case ir.Uint32:
		return gemmPlain[uint32](n, in, out)
	case ir.Uint64:
		return gemmPlain[uint64](n, in, out)
	}
	return fmt.Errorf("input A is %v, want a float type or i32, i64, u32, u64", in[0].DType)
}

// nnGemmDims returns Gemm's m, k, n and whether A and B are transposed.
func nnGemmDims(node *ir.Node, a, b *ir.Tensor) (m, k, n int, ta, tb bool) {
	ta = node.Attrs.Int("transA", 0) != 0
	tb = node.Attrs.Int("transB", 0) != 0
	m, k = a.Shape[0], a.Shape[1]
	if ta {
		m, k = k, m
	}
	n = b.Shape[1]
	if tb {
		n = b.Shape[0]
	}
	return
}

// nnBroadcastC copies Gemm's C, unidirectionally broadcast, into the m×n
// result y.
func nnBroadcastC[T any](c []T, cshape []int, y []T, m, n int) error {
	cm, cn := 1, 1
	switch len(cshape) {
	case 0:
	case 1:
		cn = cshape[0]
	case 2:
		cm, cn = cshape[0], cshape[1]
	}
	if (cm != 1 && cm != m) || (cn != 1 && cn != n) {
		return fmt.Errorf("input C has shape %v, which does not broadcast to %d×%d", cshape, m, n)
	}
	for i := 0; i < m; i++ {
		ci := 0
		if cm == m {
			ci = i * cn
		}
		row := y[i*n : (i+1)*n]
		if cn == n {
			copy(row, c[ci:ci+n])
			continue
		}
		v := c[ci]
		for j := range row {
			row[j] = v
		}
	}
	return nil
}

func gemmF32(node *ir.Node, in, out []*ir.Tensor) error {
	a, b := in[0], in[1]
	ad, err := nnFloat32(a, "A")
	if err != nil {
		return err
	}
	bd, err := nnFloat32(b, "B")
	if err != nil {
		return err
	}
	yd, err := nnFloat32(out[0], "output")
	if err != nil {
		return err
	}
	m, k, n, ta, tb := nnGemmDims(node, a, b)
	alpha := node.Attrs.Float("alpha", 1)
	beta := node.Attrs.Float("beta", 1)
	if len(yd) != m*n {
		return fmt.Errorf("output has %d elements, want %d×%d", len(yd), m, n)
	}
	if len(in) < 3 || in[2] == nil {
		beta = 0
	} else {
		cd, err := nnFloat32(in[2], "C")
		if err != nil {
			return err
		}
		if err := nnBroadcastC(cd, in[2].Shape, yd, m, n); err != nil {
			return err
		}
	}
	sgemm(m, n, k, alpha, sgemmMatrix{ad, a.Shape[1], ta}, sgemmMatrix{bd, b.Shape[1], tb}, beta, yd, n, true)
	return nil
}

func gemmPlain[T nnNumber](node *ir.Node, in, out []*ir.Tensor) error {
	a, b := in[0], in[1]
	ad, bd, yd := a.Data.([]T), b.Data.([]T), out[0].Data.([]T)
	m, k, n, ta, tb := nnGemmDims(node, a, b)
	alpha := float64(node.Attrs.Float("alpha", 1))
	beta := float64(node.Attrs.Float("beta", 1))
	var c []T
	if len(in) > 2 && in[2] != nil {
		c = make([]T, m*n)
		if err := nnBroadcastC(in[2].Data.([]T), in[2].Shape, c, m, n); err != nil {
			return err
		}
	}
	lda, ldb := a.Shape[1], b.Shape[1]
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var acc T
			for p := 0; p < k; p++ {
				ai, bi := i*lda+p, p*ldb+j
				if ta {
					ai = p*lda + i
				}
				if tb {
					bi = j*ldb + p
				}
				acc += T(ad[ai] * bd[bi]) // the product rounded on its own (see the package doc)
			}
			switch {
			case c == nil && alpha == 1:
				yd[i*n+j] = acc
			case c == nil:
				yd[i*n+j] = T(alpha * float64(acc))
			case alpha == 1 && beta == 1:
				yd[i*n+j] = acc + c[i*n+j]
			default:
				yd[i*n+j] = T(float64(alpha*float64(acc)) + float64(beta*float64(c[i*n+j])))
			}
		}
	}
	return nil
}

// nnMatMulPlan lays out numpy's matmul of operands shaped sa and sb as a
// list of 2-d products: m×k times k×n, for each output batch the offsets
// (in elements) of its A and B matrices. A 1-d operand is promoted (A to
// 1×k, B to k×1); broadcast batch dims repeat the same matrix.
func nnMatMulPlan(sa, sb []int) (m, k, n int, aOff, bOff []int, err error) {
	if len(sa) == 0 || len(sb) == 0 {
		return 0, 0, 0, nil, nil, fmt.Errorf("operands have shapes %v and %v, want rank 1 or more", sa, sb)
	}
	pa, pb := sa, sb
	if len(sa) == 1 {
		pa = []int{1, sa[0]}
	}
	if len(sb) == 1 {
		pb = []int{sb[0], 1}
	}
	m, k, n = pa[len(pa)-2], pa[len(pa)-1], pb[len(pb)-1]
	if kb := pb[len(pb)-2]; kb != k {
		return 0, 0, 0, nil, nil, fmt.Errorf("shapes %v and %v: inner dims %d and %d differ", sa, sb, k, kb)
	}
	ba, bb := pa[:len(pa)-2], pb[:len(pb)-2]
	r := max(len(ba), len(bb))
	// Align the batch dims to the right; a missing or size-1 dim has
	// stride 0, so every output batch index maps to its operand's matrix.
	dims := make([]int, r)
	sA, sB := make([]int, r), make([]int, r)
	accA, accB := m*k, k*n
	for d := r - 1; d >= 0; d-- {
		da, db := 1, 1
		if i := d - (r - len(ba)); i >= 0 {
			da = ba[i]
		}
		if i := d - (r - len(bb)); i >= 0 {
			db = bb[i]
		}
		switch {
		case da == db, db == 1:
			dims[d] = da
		case da == 1:
			dims[d] = db
		default:
			return 0, 0, 0, nil, nil, fmt.Errorf("batch dims of %v and %v do not broadcast", sa, sb)
		}
		if da != 1 {
			sA[d] = accA
		}
		if db != 1 {
			sB[d] = accB
		}
		accA *= da
		accB *= db
	}
	total := ir.NumElements(dims)
	aOff, bOff = make([]int, total), make([]int, total)
	idx := make([]int, r)
	for t := 0; t < total; t++ {
		oa, ob := 0, 0
		for d := 0; d < r; d++ {
			oa += idx[d] * sA[d]
			ob += idx[d] * sB[d]
		}
		aOff[t], bOff[t] = oa, ob
		for d := r - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < dims[d] {
				break
			}
			idx[d] = 0
		}
	}
	return m, k, n, aOff, bOff, nil
}

func matMulKernel(node *ir.Node, in, out []*ir.Tensor) error {
	switch in[0].DType {
	case ir.Float32:
		return matMulF32(node, in, out)
	case ir.Float16, ir.BFloat16:
		return nnViaFloat32(matMulF32)(node, in, out)
	case ir.Float64:
		return matMulPlain[float64](in, out)
	case ir.Int32:
		return matMulPlain[int32](in, out)
	case ir.Int64:
		return matMulPlain[int64](in, out)
	case ir.Uint32:
		return matMulPlain[uint32](in, out)
	case ir.Uint64:
		return matMulPlain[uint64](in, out)
	}
	return fmt.Errorf("input A is %v, want a float type or i32, i64, u32, u64", in[0].DType)
}

func matMulF32(_ *ir.Node, in, out []*ir.Tensor) error {
	ad, err := nnFloat32(in[0], "A")
	if err != nil {
		return err
	}
	bd, err := nnFloat32(in[1], "B")
	if err != nil {
		return err
	}
	yd, err := nnFloat32(out[0], "output")
	if err != nil {
		return err
	}
	m, k, n, aOff, bOff, err := nnMatMulPlan(in[0].Shape, in[1].Shape)
	if err != nil {
		return err
	}
	if len(yd) != len(aOff)*m*n {
		return fmt.Errorf("output has %d elements, want %d", len(yd), len(aOff)*m*n)
	}
	if len(aOff) == 0 {
		return nil // a zero-size batch dim
	}
	// One B for every batch, and A's batches consecutive (they always
	// are when B does not broadcast): the batches stack into one tall
	// product, the fastest shape for the GEMM.
	sameB, stacked := true, true
	for t := range aOff {
		sameB = sameB && bOff[t] == bOff[0]
		stacked = stacked && aOff[t] == t*m*k
	}
	if sameB && stacked {
		sgemm(len(aOff)*m, n, k, 1, sgemmMatrix{ad, k, false}, sgemmMatrix{bd[bOff[0]:], n, false}, 0, yd, n, true)
		return nil
	}
	one := func(t int, parallel bool) {
		sgemm(m, n, k, 1, sgemmMatrix{ad[aOff[t]:], k, false}, sgemmMatrix{bd[bOff[t]:], n, false}, 0, yd[t*m*n:], n, parallel)
	}
	if nnTaskSplit(len(aOff)) {
		parallelFor(len(aOff), 1, func(lo, hi int) {
			for t := lo; t < hi; t++ {
				one(t, false)
			}
		})
		return nil
	}
	for t := range aOff {
		one(t, true)
	}
	return nil
}

func matMulPlain[T nnNumber](in, out []*ir.Tensor) error {
	ad, bd, yd := in[0].Data.([]T), in[1].Data.([]T), out[0].Data.([]T)
	m, k, n, aOff, bOff, err := nnMatMulPlan(in[0].Shape, in[1].Shape)
	if err != nil {
		return err
	}
	if len(yd) != len(aOff)*m*n {
		return fmt.Errorf("output has %d elements, want %d", len(yd), len(aOff)*m*n)
	}
	for t := range aOff {
		a, b, y := ad[aOff[t]:], bd[bOff[t]:], yd[t*m*n:]
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var acc T
				for p := 0; p < k; p++ {
					acc += T(a[i*k+p] * b[p*n+j]) // the product rounded on its own (see the package doc)
				}
				y[i*n+j] = acc
			}
		}
	}
	return nil
}

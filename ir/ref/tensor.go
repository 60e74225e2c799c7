package ref

// Kernels of the ops that only move data (Identity, Reshape, Flatten,
// Squeeze, Unsqueeze, Dropout, Shape) and the storage views the
// data-movement kernels share.
//
// Data movement does not care what an element means, only how wide it is, so
// those kernels work on a tensor's storage reinterpreted as bytes, or as
// unsigned words of the element's width: one generic instantiation per width
// (1, 2, 4, 8) covers every dtype, bool included.

import (
	"fmt"
	"unsafe"

	"github.com/sqc-project/sqc/ir"
)

func init() {
	register("Identity", copyKernel)
	register("Reshape", copyKernel)
	register("Flatten", copyKernel)
	register("Squeeze", copyKernel)
	register("Unsqueeze", copyKernel)
	register("Dropout", dropoutKernel)
	register("Shape", shapeKernel)
}

// rawBytes returns t's storage as bytes, sharing it. Every dtype's Go slice
// is a plain array of fixed-size elements without pointers (bool is one byte
// holding 0 or 1), so the view is exact and writes through it are well
// defined as long as they copy whole elements of the same dtype.
func rawBytes(t *ir.Tensor) []byte {
	var p unsafe.Pointer
	var n int
	switch s := t.Data.(type) {
	case []float32:
		p, n = unsafe.Pointer(unsafe.SliceData(s)), len(s)*4
	case []float64:
		p, n = unsafe.Pointer(unsafe.SliceData(s)), len(s)*8
	case []uint16:
		p, n = unsafe.Pointer(unsafe.SliceData(s)), len(s)*2
	case []int8:
		p, n = unsafe.Pointer(unsafe.SliceData(s)), len(s)
	case []uint8:
		p, n = unsafe.Pointer(unsafe.SliceData(s)), len(s)
	case []int16:
		p, n = unsafe.Pointer(unsafe.SliceData(s)), len(s)*2
	case []int32:
		p, n = unsafe.Pointer(unsafe.SliceData(s)), len(s)*4
	case []uint32:
		p, n = unsafe.Pointer(unsafe.SliceData(s)), len(s)*4
	case []int64:
		p, n = unsafe.Pointer(unsafe.SliceData(s)), len(s)*8
	case []uint64:
		p, n = unsafe.Pointer(unsafe.SliceData(s)), len(s)*8
	case []bool:
		p, n = unsafe.Pointer(unsafe.SliceData(s)), len(s)
	default:
		panic(fmt.Sprintf("ref: tensor data %T", t.Data))
	}
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(p), n)
}

// words reinterprets t's storage as a slice of W, which must be the unsigned
// integer type of t's element width (the storage is aligned for it, since
// the Go slice behind it has elements of that width).
func words[W uint8 | uint16 | uint32 | uint64](t *ir.Tensor) []W {
	b := rawBytes(t)
	var w W
	size := int(unsafe.Sizeof(w))
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*W)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/size)
}

// copyKernel copies input 0 into output 0: the kernel of every op whose
// output is its input with another (or the same) shape.
func copyKernel(_ *ir.Node, in, out []*ir.Tensor) error {
	if out[0].Len() != in[0].Len() || out[0].DType != in[0].DType {
		return fmt.Errorf("output %v%v does not hold the %d elements of input %v%v", out[0].DType, out[0].Shape, in[0].Len(), in[0].DType, in[0].Shape)
	}
	copy(rawBytes(out[0]), rawBytes(in[0]))
	return nil
}

// dropoutKernel is Dropout at inference: the input passes through and the
// optional mask is all true. Training mode with a non-zero ratio would drop
// elements at random, which an inference executor does not do.
func dropoutKernel(n *ir.Node, in, out []*ir.Tensor) error {
	if len(in) > 2 && in[2] != nil && in[2].Len() == 1 && in[2].Data.([]bool)[0] {
		ratio := 0.5
		if len(in) > 1 && in[1] != nil && in[1].Len() == 1 {
			ratio = in[1].AsFloat64(0)
		}
		if ratio != 0 {
			return fmt.Errorf("training_mode is true with ratio %v: random dropout is not supported, want inference (training_mode false or ratio 0)", ratio)
		}
	}
	if err := copyKernel(n, in, out); err != nil {
		return err
	}
	if len(out) > 1 {
		mask := out[1].Data.([]bool)
		for i := range mask {
			mask[i] = true
		}
	}
	return nil
}

// shapeKernel writes the input's dims [start, end) as i64.
func shapeKernel(n *ir.Node, in, out []*ir.Tensor) error {
	start, end := ir.ShapeRange(n.Attrs, len(in[0].Shape))
	dst := out[0].Int64s()
	if len(dst) != end-start {
		return fmt.Errorf("output has %d elements, want %d", len(dst), end-start)
	}
	for i := range dst {
		dst[i] = int64(in[0].Shape[start+i])
	}
	return nil
}

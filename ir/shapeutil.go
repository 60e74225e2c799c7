package ir

import "fmt"

// BroadcastShapes returns the shape two operands broadcast to under ONNX's
// multidirectional (numpy) rules. A symbolic dim broadcasts with 1 and with
// itself; an unknown dim against a known one > 1 gives the known one.
func BroadcastShapes(a, b Shape) (Shape, error) {
	n := max(len(a), len(b))
	out := make(Shape, n)
	for i := 0; i < n; i++ {
		da, db := D(1), D(1)
		if j := i - (n - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (n - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db:
			out[i] = da
		case da.Known() && da.Size == 1:
			out[i] = db
		case db.Known() && db.Size == 1:
			out[i] = da
		case da.Known() && db.Known():
			return nil, fmt.Errorf("shapes %v and %v do not broadcast (dim %d: %d vs %d)", a, b, i, da.Size, db.Size)
		case da.Known():
			out[i] = da
		case db.Known():
			out[i] = db
		default:
			out[i] = UnknownDim
		}
	}
	return out, nil
}

// NormAxis maps a possibly negative axis into [0, rank), or fails.
func NormAxis(axis int64, rank int) (int, error) {
	a := axis
	if a < 0 {
		a += int64(rank)
	}
	if a < 0 || a >= int64(rank) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	return int(a), nil
}

// Strides returns the row-major element strides of a shape.
func Strides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// MulDims multiplies dims; the result is unknown if any factor is.
func MulDims(ds ...Dim) Dim {
	n := int64(1)
	for _, d := range ds {
		if !d.Known() {
			return UnknownDim
		}
		n *= d.Size
	}
	return D(n)
}

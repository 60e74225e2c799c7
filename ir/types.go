package ir

import (
	"fmt"
	"strconv"
	"strings"
)

// DType is the element type of a value or tensor.
type DType uint8

// The element types sqc knows. Float16 and BFloat16 tensors keep their raw
// 16-bit patterns ([]uint16); every other type has its natural Go slice.
const (
	InvalidDType DType = iota
	Float32
	Float64
	Float16
	BFloat16
	Int8
	Uint8
	Int16
	Uint16
	Int32
	Uint32
	Int64
	Uint64
	Bool
)

var dtypeNames = [...]string{
	InvalidDType: "invalid",
	Float32:      "f32",
	Float64:      "f64",
	Float16:      "f16",
	BFloat16:     "bf16",
	Int8:         "i8",
	Uint8:        "u8",
	Int16:        "i16",
	Uint16:       "u16",
	Int32:        "i32",
	Uint32:       "u32",
	Int64:        "i64",
	Uint64:       "u64",
	Bool:         "bool",
}

// String returns the dtype's short name as the textual form writes it (f32, i8 ...).
func (d DType) String() string {
	if int(d) < len(dtypeNames) {
		return dtypeNames[d]
	}
	return "dtype(" + strconv.Itoa(int(d)) + ")"
}

// ParseDType is the inverse of DType.String.
func ParseDType(s string) (DType, error) {
	for i, n := range dtypeNames {
		if n == s && DType(i) != InvalidDType {
			return DType(i), nil
		}
	}
	return InvalidDType, fmt.Errorf("unknown dtype %q (want one of f32 f64 f16 bf16 i8 u8 i16 u16 i32 u32 i64 u64 bool)", s)
}

// Size returns the number of bytes one element occupies.
func (d DType) Size() int {
	switch d {
	case Int8, Uint8, Bool:
		return 1
	case Float16, BFloat16, Int16, Uint16:
		return 2
	case Float32, Int32, Uint32:
		return 4
	case Float64, Int64, Uint64:
		return 8
	}
	return 0
}

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool {
	return d == Float32 || d == Float64 || d == Float16 || d == BFloat16
}

// IsInteger reports whether d is a signed or unsigned integer type.
func (d DType) IsInteger() bool {
	switch d {
	case Int8, Uint8, Int16, Uint16, Int32, Uint32, Int64, Uint64:
		return true
	}
	return false
}

// Dim is one dimension of a shape: a known size, a named symbolic size (a
// batch dimension "N"), or unknown (Size < 0 and no name) before shape
// inference has run.
type Dim struct {
	Size int64  // the size when known; -1 when symbolic or unknown
	Sym  string // the symbol's name for a symbolic dim
}

// D returns a known dim of the given size.
func D(n int64) Dim { return Dim{Size: n} }

// SymDim returns a symbolic dim.
func SymDim(name string) Dim { return Dim{Size: -1, Sym: name} }

// UnknownDim is a dim nothing is known about.
var UnknownDim = Dim{Size: -1}

// Known reports whether the dim has a concrete size.
func (d Dim) Known() bool { return d.Size >= 0 }

// String writes a known dim as its size, a symbolic one as its name and an
// unknown one as "?".
func (d Dim) String() string {
	switch {
	case d.Known():
		return strconv.FormatInt(d.Size, 10)
	case d.Sym != "":
		return d.Sym
	}
	return "?"
}

// Shape is the list of a value's dimensions; a scalar has none.
type Shape []Dim

// ShapeOf builds a fully known shape.
func ShapeOf(dims ...int) Shape {
	s := make(Shape, len(dims))
	for i, d := range dims {
		s[i] = D(int64(d))
	}
	return s
}

// Rank is the number of dimensions.
func (s Shape) Rank() int { return len(s) }

// Static reports whether every dim is known.
func (s Shape) Static() bool {
	for _, d := range s {
		if !d.Known() {
			return false
		}
	}
	return true
}

// Ints returns the sizes of a static shape; ok is false if a dim is not known.
func (s Shape) Ints() (dims []int, ok bool) {
	dims = make([]int, len(s))
	for i, d := range s {
		if !d.Known() {
			return nil, false
		}
		dims[i] = int(d.Size)
	}
	return dims, true
}

// NumElements returns the product of the dims, or -1 if one is not known.
func (s Shape) NumElements() int64 {
	n := int64(1)
	for _, d := range s {
		if !d.Known() {
			return -1
		}
		n *= d.Size
	}
	return n
}

// Equal reports whether two shapes have the same dims (symbols compared by name).
func (s Shape) Equal(t Shape) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range s {
		if s[i] != t[i] {
			return false
		}
	}
	return true
}

// Clone returns a copy of s that shares nothing with it.
func (s Shape) Clone() Shape {
	if s == nil {
		return nil
	}
	return append(Shape{}, s...)
}

// String writes the shape as the textual form does: [1,3,224,224], [N,1000], [].
func (s Shape) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(d.String())
	}
	b.WriteByte(']')
	return b.String()
}

// Layout names the memory order of a value's dims when it matters to a
// backend ("NCHW", "NHWC", "OIHW", "OHWI" ...). The empty layout is the
// default: ONNX's row-major order of the dims as written.
type Layout string

// Type is the static type of a value.
type Type struct {
	DType  DType
	Shape  Shape
	Layout Layout
}

// TensorType is a convenience constructor for a fully known type.
func TensorType(dt DType, dims ...int) Type { return Type{DType: dt, Shape: ShapeOf(dims...)} }

// Equal compares dtypes, shapes and layouts.
func (t Type) Equal(u Type) bool {
	return t.DType == u.DType && t.Layout == u.Layout && t.Shape.Equal(u.Shape)
}

// String writes the type as the textual form does: f32[1,3,224,224] or
// i8[N,56,56,64]{NHWC}.
func (t Type) String() string {
	s := t.DType.String() + t.Shape.String()
	if t.Layout != "" {
		s += "{" + string(t.Layout) + "}"
	}
	return s
}

package ir

import (
	"fmt"
	"math"
)

// Tensor is a concrete, dense, row-major array: the contents of a constant
// value and the runtime data of the reference executor.
//
// Data holds a slice of the dtype's Go type: []float32 for Float32, []int8 for
// Int8, []uint16 (raw bit patterns) for Float16 and BFloat16, []bool for Bool,
// and so on. len(Data) always equals the product of Shape.
type Tensor struct {
	DType DType
	Shape []int
	Data  any
}

// NumElements is the product of the shape (1 for a scalar).
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// NewTensor allocates a zero tensor.
func NewTensor(dt DType, shape ...int) *Tensor {
	n := NumElements(shape)
	return &Tensor{DType: dt, Shape: append([]int{}, shape...), Data: makeSlice(dt, n)}
}

func makeSlice(dt DType, n int) any {
	if d := MakeData(dt, n); d != nil {
		return d
	}
	panic(fmt.Sprintf("ir: no storage for dtype %v", dt))
}

// MakeData allocates n zero elements of dt's Go type (the Data of a
// Tensor), or returns nil for a dtype without storage.
func MakeData(dt DType, n int) any {
	switch dt {
	case Float32:
		return make([]float32, n)
	case Float64:
		return make([]float64, n)
	case Float16, BFloat16, Uint16:
		return make([]uint16, n)
	case Int8:
		return make([]int8, n)
	case Uint8:
		return make([]uint8, n)
	case Int16:
		return make([]int16, n)
	case Int32:
		return make([]int32, n)
	case Uint32:
		return make([]uint32, n)
	case Int64:
		return make([]int64, n)
	case Uint64:
		return make([]uint64, n)
	case Bool:
		return make([]bool, n)
	}
	return nil
}

// FromFloat32 wraps data (not copied) as a float32 tensor.
func FromFloat32(data []float32, shape ...int) *Tensor {
	return &Tensor{DType: Float32, Shape: append([]int{}, shape...), Data: data}
}

// FromInt64 wraps data (not copied) as an int64 tensor.
func FromInt64(data []int64, shape ...int) *Tensor {
	return &Tensor{DType: Int64, Shape: append([]int{}, shape...), Data: data}
}

// Len is the number of elements.
func (t *Tensor) Len() int { return NumElements(t.Shape) }

// Type returns the tensor's static type.
func (t *Tensor) Type() Type {
	return TensorType(t.DType, t.Shape...)
}

// Check reports whether Data's Go type and length agree with DType and Shape.
// Every tensor crossing a package boundary (decoded, parsed) is checked.
func (t *Tensor) Check() error {
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("negative dim in shape %v", t.Shape)
		}
	}
	n, ok := sliceLen(t.DType, t.Data)
	if !ok {
		return fmt.Errorf("%v tensor holds %T", t.DType, t.Data)
	}
	if want := NumElements(t.Shape); n != want {
		return fmt.Errorf("tensor of shape %v has %d elements, want %d", t.Shape, n, want)
	}
	return nil
}

func sliceLen(dt DType, data any) (int, bool) {
	switch s := data.(type) {
	case []float32:
		return len(s), dt == Float32
	case []float64:
		return len(s), dt == Float64
	case []uint16:
		return len(s), dt == Float16 || dt == BFloat16 || dt == Uint16
	case []int8:
		return len(s), dt == Int8
	case []uint8:
		return len(s), dt == Uint8
	case []int16:
		return len(s), dt == Int16
	case []int32:
		return len(s), dt == Int32
	case []uint32:
		return len(s), dt == Uint32
	case []int64:
		return len(s), dt == Int64
	case []uint64:
		return len(s), dt == Uint64
	case []bool:
		return len(s), dt == Bool
	}
	return 0, false
}

// Clone deep-copies the tensor.
func (t *Tensor) Clone() *Tensor {
	c := NewTensor(t.DType, t.Shape...)
	copySlice(c.Data, t.Data)
	return c
}

func copySlice(dst, src any) {
	switch d := dst.(type) {
	case []float32:
		copy(d, src.([]float32))
	case []float64:
		copy(d, src.([]float64))
	case []uint16:
		copy(d, src.([]uint16))
	case []int8:
		copy(d, src.([]int8))
	case []uint8:
		copy(d, src.([]uint8))
	case []int16:
		copy(d, src.([]int16))
	case []int32:
		copy(d, src.([]int32))
	case []uint32:
		copy(d, src.([]uint32))
	case []int64:
		copy(d, src.([]int64))
	case []uint64:
		copy(d, src.([]uint64))
	case []bool:
		copy(d, src.([]bool))
	}
}

// Reshaped returns a tensor sharing t's data with another shape of the same size.
func (t *Tensor) Reshaped(shape ...int) *Tensor {
	if NumElements(shape) != t.Len() {
		panic(fmt.Sprintf("ir: reshape %v to %v changes the element count", t.Shape, shape))
	}
	return &Tensor{DType: t.DType, Shape: append([]int{}, shape...), Data: t.Data}
}

// Float32s returns the data of a Float32 tensor.
func (t *Tensor) Float32s() []float32 { return t.Data.([]float32) }

// Int64s returns the data of an Int64 tensor.
func (t *Tensor) Int64s() []int64 { return t.Data.([]int64) }

// Int32s returns the data of an Int32 tensor.
func (t *Tensor) Int32s() []int32 { return t.Data.([]int32) }

// Int8s returns the data of an Int8 tensor.
func (t *Tensor) Int8s() []int8 { return t.Data.([]int8) }

// Uint8s returns the data of a Uint8 tensor.
func (t *Tensor) Uint8s() []uint8 { return t.Data.([]uint8) }

// AsFloat64 returns element i converted to float64, whatever the dtype
// (Float16/BFloat16 decoded, Bool as 0 or 1).
func (t *Tensor) AsFloat64(i int) float64 {
	switch s := t.Data.(type) {
	case []float32:
		return float64(s[i])
	case []float64:
		return s[i]
	case []uint16:
		switch t.DType {
		case Float16:
			return float64(HalfToFloat32(s[i]))
		case BFloat16:
			return float64(BFloat16ToFloat32(s[i]))
		}
		return float64(s[i])
	case []int8:
		return float64(s[i])
	case []uint8:
		return float64(s[i])
	case []int16:
		return float64(s[i])
	case []int32:
		return float64(s[i])
	case []uint32:
		return float64(s[i])
	case []int64:
		return float64(s[i])
	case []uint64:
		return float64(s[i])
	case []bool:
		if s[i] {
			return 1
		}
		return 0
	}
	panic(fmt.Sprintf("ir: tensor data %T", t.Data))
}

// AsInt64 returns element i as an int64 (integer dtypes exactly; floats truncated).
func (t *Tensor) AsInt64(i int) int64 {
	switch s := t.Data.(type) {
	case []int64:
		return s[i]
	case []int32:
		return int64(s[i])
	case []int8:
		return int64(s[i])
	case []uint8:
		return int64(s[i])
	case []int16:
		return int64(s[i])
	case []uint32:
		return int64(s[i])
	case []uint64:
		return int64(s[i])
	}
	return int64(t.AsFloat64(i))
}

// SetInt64 stores v at element i of an integer tensor, converted as Go
// converts (the caller has saturated it where that matters); it panics on
// a float or bool tensor.
func (t *Tensor) SetInt64(i int, v int64) {
	switch d := t.Data.(type) {
	case []int8:
		d[i] = int8(v)
	case []uint8:
		d[i] = uint8(v)
	case []int16:
		d[i] = int16(v)
	case []uint16:
		d[i] = uint16(v)
	case []int32:
		d[i] = int32(v)
	case []uint32:
		d[i] = uint32(v)
	case []int64:
		d[i] = v
	case []uint64:
		d[i] = uint64(v)
	default:
		panic(fmt.Sprintf("ir: SetInt64 on a %v tensor", t.DType))
	}
}

// Ints returns an integer tensor's elements as ints (shape vectors, axes).
func (t *Tensor) Ints() []int {
	out := make([]int, t.Len())
	for i := range out {
		out[i] = int(t.AsInt64(i))
	}
	return out
}

// HalfToFloat32 decodes an IEEE 754 binary16 bit pattern.
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: renormalise
		e := uint32(127 - 15 + 1)
		for frac&0x400 == 0 {
			frac <<= 1
			e--
		}
		frac &= 0x3ff
		return math.Float32frombits(sign | e<<23 | frac<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

// Float32ToHalf encodes f as binary16, rounding to nearest even.
func Float32ToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	frac := b & 0x7fffff
	if exp == 0xff {
		if frac != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		m := frac | 0x800000
		shift := uint32(14 - e)
		half := m >> shift
		rem := m & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | uint16(half)
	}
	half := uint32(e)<<10 | frac>>13
	rem := frac & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && half&1 == 1) {
		half++ // may carry into the exponent, which is the right answer
	}
	return sign | uint16(half)
}

// BFloat16ToFloat32 decodes a bfloat16 bit pattern.
func BFloat16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Float32ToBFloat16 encodes f as bfloat16, rounding to nearest even.
func Float32ToBFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN stays a quiet NaN
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

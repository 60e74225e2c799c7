package ref

import (
	"math"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// tmCast runs Cast to the dtype whose ONNX code is to.
func tmCast(t *testing.T, x *ir.Tensor, to ir.DType) *ir.Tensor {
	t.Helper()
	return tmRun1(t, "Cast", ir.Attrs{"to": ir.IntAttr(ir.ONNXTypeCode(to))}, x)
}

func tmBits(t *ir.Tensor) []uint16 { return t.Data.([]uint16) }

func tmHalves(dt ir.DType, bits ...uint16) *ir.Tensor {
	return &ir.Tensor{DType: dt, Shape: []int{len(bits)}, Data: bits}
}

func tmCheckBits(t *testing.T, what string, got *ir.Tensor, want ...uint16) {
	t.Helper()
	g := tmBits(got)
	for i := range want {
		if g[i] != want[i] {
			t.Errorf("%s: element %d = %#04x, want %#04x", what, i, g[i], want[i])
		}
	}
}

func TestCastFloatToInt(t *testing.T) {
	nan := float32(math.NaN())
	x := tmF32([]int{7}, 3.7, -3.7, 300, -300, nan, 127.9, -128.9)
	got := tmCast(t, x, ir.Int8)
	tmExpect(t, "f32->i8", got, []int{7}, []float64{3, -3, 127, -128, 0, 127, -128}, 0)
	got = tmCast(t, tmF32([]int{5}, -0.5, 255.9, 256, -1, float32(math.Inf(1))), ir.Uint8)
	tmExpect(t, "f32->u8", got, []int{5}, []float64{0, 255, 255, 0, 255}, 0)

	f64 := &ir.Tensor{DType: ir.Float64, Shape: []int{4}, Data: []float64{1e19, -1e19, 9.2e18, -2.5}}
	got = tmCast(t, f64, ir.Int64)
	if v := got.Int64s(); v[0] != math.MaxInt64 || v[1] != math.MinInt64 || v[2] != 9200000000000000000 || v[3] != -2 {
		t.Errorf("f64->i64 = %v, want [MaxInt64 MinInt64 9200000000000000000 -2]", v)
	}
	// 1.5 * 2^63 is exact in float32 and above MaxInt64.
	got = tmCast(t, tmF32([]int{2}, 1.5*(1<<63), 1e30), ir.Uint64)
	if v := got.Data.([]uint64); v[0] != 13835058055282163712 || v[1] != math.MaxUint64 {
		t.Errorf("f32->u64 = %v, want [13835058055282163712 MaxUint64]", v)
	}
	// float16 -2.46875 truncates to -2.
	tmExpect(t, "f16->i32", tmCast(t, tmHalves(ir.Float16, 0xC0F0, 0x3C00), ir.Int32), []int{2}, []float64{-2, 1}, 0)
}

func TestCastIntToInt(t *testing.T) {
	i16 := &ir.Tensor{DType: ir.Int16, Shape: []int{3}, Data: []int16{200, -129, 127}}
	tmExpect(t, "i16->i8 wraps", tmCast(t, i16, ir.Int8), []int{3}, []float64{-56, 127, 127}, 0)
	i32 := &ir.Tensor{DType: ir.Int32, Shape: []int{3}, Data: []int32{263, -1, 255}}
	tmExpect(t, "i32->u8 wraps", tmCast(t, i32, ir.Uint8), []int{3}, []float64{7, 255, 255}, 0)
	u64 := &ir.Tensor{DType: ir.Uint64, Shape: []int{2}, Data: []uint64{math.MaxUint64, 1 << 40}}
	if v := tmCast(t, u64, ir.Int64).Int64s(); v[0] != -1 || v[1] != 1<<40 {
		t.Errorf("u64->i64 = %v, want [-1 %d]", v, int64(1)<<40)
	}
	if v := tmCast(t, u64, ir.Float32).Float32s(); v[0] != 1<<64 || v[1] != 1<<40 {
		t.Errorf("u64->f32 = %v, want [2^64 2^40]", v)
	}
	i8 := &ir.Tensor{DType: ir.Int8, Shape: []int{3}, Data: []int8{-1, 0, 2}}
	tmExpect(t, "i8->u64", tmCast(t, i8, ir.Uint64), []int{3}, []float64{math.MaxUint64, 0, 2}, 0)
	tmExpect(t, "i8->f64", tmCast(t, i8, ir.Float64), []int{3}, []float64{-1, 0, 2}, 0)
}

func TestCastBool(t *testing.T) {
	x := tmF32([]int{5}, 0, float32(math.Copysign(0, -1)), 0.1, float32(math.NaN()), -3)
	tmExpect(t, "f32->bool", tmCast(t, x, ir.Bool), []int{5}, []float64{0, 0, 1, 1, 1}, 0)
	i8 := &ir.Tensor{DType: ir.Int8, Shape: []int{2}, Data: []int8{0, -7}}
	tmExpect(t, "i8->bool", tmCast(t, i8, ir.Bool), []int{2}, []float64{0, 1}, 0)
	b := &ir.Tensor{DType: ir.Bool, Shape: []int{2}, Data: []bool{true, false}}
	tmExpect(t, "bool->f32", tmCast(t, b, ir.Float32), []int{2}, []float64{1, 0}, 0)
	tmCheckBits(t, "bool->f16", tmCast(t, b, ir.Float16), 0x3C00, 0)
	tmExpect(t, "bool->i64", tmCast(t, b, ir.Int64), []int{2}, []float64{1, 0}, 0)
}

func TestCastHalfRounding(t *testing.T) {
	const u = 1.0 / 2048 // 2^-11: half a float16 ulp at 1
	x := tmF32([]int{8}, 1+u, 1+3*u, 1e-8, 6e-8, 70000, 65504, -2, float32(math.NaN()))
	got := tmCast(t, x, ir.Float16)
	// Ties go to even (1+2^-11 to 1, 1+3*2^-11 up to 1+2^-9); 1e-8 is below
	// half the smallest subnormal, 6e-8 rounds to it; 70000 overflows.
	tmCheckBits(t, "f32->f16", got, 0x3C00, 0x3C02, 0x0000, 0x0001, 0x7C00, 0x7BFF, 0xC000)
	if h := tmBits(got)[7]; h&0x7C00 != 0x7C00 || h&0x3FF == 0 {
		t.Errorf("f32->f16 of NaN = %#04x, want a NaN", h)
	}

	// Integers: 2049 ties to 2048, 65520 ties away into infinity.
	i64 := &ir.Tensor{DType: ir.Int64, Shape: []int{3}, Data: []int64{2049, 65520, -3}}
	tmCheckBits(t, "i64->f16", tmCast(t, i64, ir.Float16), 0x6800, 0x7C00, 0xC200)

	// float64 just above a float16 tie must round up, though rounding to
	// float32 first would land on the tie and go down to even.
	f64 := &ir.Tensor{DType: ir.Float64, Shape: []int{2}, Data: []float64{1 + u + 0x1p-40, 1 + 0x1p-8 + 0x1p-40}}
	tmCheckBits(t, "f64->f16", tmCast(t, f64, ir.Float16), 0x3C01)
	tmCheckBits(t, "f64->bf16", tmCast(t, f64, ir.BFloat16), 0x3F80, 0x3F81)

	// bfloat16 ties: 1+2^-8 to 1, 1+3*2^-8 to 1+2^-6.
	bf := tmCast(t, tmF32([]int{3}, 1+0x1p-8, 1+3*0x1p-8, 3.4e38), ir.BFloat16)
	tmCheckBits(t, "f32->bf16", bf, 0x3F80, 0x3F82, 0x7F80)

	// Widening is exact.
	tmExpect(t, "f16->f32", tmCast(t, tmHalves(ir.Float16, 0x3555, 0x0001, 0xFC00), ir.Float32), []int{3},
		[]float64{0.333251953125, 0x1p-24, math.Inf(-1)}, 0)
	tmExpect(t, "bf16->f64", tmCast(t, tmHalves(ir.BFloat16, 0x3EAB, 0xC2F7), ir.Float64), []int{2},
		[]float64{0.333984375, -123.5}, 0)
	tmCheckBits(t, "f16->bf16", tmCast(t, tmHalves(ir.Float16, 0x3555), ir.BFloat16), 0x3EAB)
}

func TestCastLarge(t *testing.T) {
	// Enough elements for several goroutines and chunks.
	n := 200003
	x := ir.NewTensor(ir.Float32, n)
	want := make([]float64, n)
	for i := range want {
		v := float32(i-n/2) * 0.37
		x.Float32s()[i] = v
		want[i] = math.Trunc(float64(v))
	}
	tmExpect(t, "f32->i32 large", tmCast(t, x, ir.Int32), []int{n}, want, 0)
	same := tmCast(t, x, ir.Float32)
	tmExpect(t, "f32->f32", same, []int{n}, toFloat64s(x), 0)
}

func toFloat64s(t *ir.Tensor) []float64 {
	v := make([]float64, t.Len())
	for i := range v {
		v[i] = t.AsFloat64(i)
	}
	return v
}

// TestCastAllPairs casts values every dtype holds exactly (0, 1, 5, 100)
// between every pair of dtypes: each decoder meets each encoder.
func TestCastAllPairs(t *testing.T) {
	all := []ir.DType{ir.Float32, ir.Float64, ir.Float16, ir.BFloat16, ir.Int8, ir.Uint8, ir.Int16, ir.Uint16,
		ir.Int32, ir.Uint32, ir.Int64, ir.Uint64, ir.Bool}
	vals := []float32{0, 1, 5, 100}
	for _, from := range all {
		src := ir.NewTensor(from, len(vals))
		for i, v := range vals {
			switch s := src.Data.(type) {
			case []float32:
				s[i] = v
			case []float64:
				s[i] = float64(v)
			case []uint16:
				switch from {
				case ir.Float16:
					s[i] = ir.Float32ToHalf(v)
				case ir.BFloat16:
					s[i] = ir.Float32ToBFloat16(v)
				default:
					s[i] = uint16(v)
				}
			case []int8:
				s[i] = int8(v)
			case []uint8:
				s[i] = uint8(v)
			case []int16:
				s[i] = int16(v)
			case []int32:
				s[i] = int32(v)
			case []uint32:
				s[i] = uint32(v)
			case []int64:
				s[i] = int64(v)
			case []uint64:
				s[i] = uint64(v)
			case []bool:
				s[i] = v != 0
			}
		}
		for _, to := range all {
			want := []float64{0, 1, 5, 100}
			if from == ir.Bool || to == ir.Bool {
				want = []float64{0, 1, 1, 1}
			}
			got := tmCast(t, src, to)
			if got.DType != to {
				t.Errorf("%v->%v: result is %v", from, to, got.DType)
				continue
			}
			tmExpect(t, from.String()+"->"+to.String(), got, []int{4}, want, 0)
		}
	}
}

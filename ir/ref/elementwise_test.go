package ref

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// ewNaiveBinary computes a op b under numpy broadcasting one element at a
// time, with the index arithmetic the kernel avoids, in float64.
func ewNaiveBinary(op string, a, b *ir.Tensor) ([]int, []float64) {
	r := max(len(a.Shape), len(b.Shape))
	pad := func(s []int) []int {
		p := make([]int, r)
		for i := range p {
			p[i] = 1
		}
		copy(p[r-len(s):], s)
		return p
	}
	pa, pb := pad(a.Shape), pad(b.Shape)
	out := make([]int, r)
	for i := range out {
		out[i] = pa[i]
		if pa[i] == 1 {
			out[i] = pb[i]
		}
	}
	sa, sb := ir.Strides(pa), ir.Strides(pb)
	want := make([]float64, ir.NumElements(out))
	idx := make([]int, r)
	for o := range want {
		rem := o
		for d := r - 1; d >= 0; d-- {
			idx[d] = rem % out[d]
			rem /= out[d]
		}
		ia, ib := 0, 0
		for d := 0; d < r; d++ {
			if pa[d] != 1 {
				ia += idx[d] * sa[d]
			}
			if pb[d] != 1 {
				ib += idx[d] * sb[d]
			}
		}
		x, y := a.AsFloat64(ia), b.AsFloat64(ib)
		switch op {
		case "Add":
			want[o] = x + y
		case "Sub":
			want[o] = x - y
		case "Mul":
			want[o] = x * y
		case "Div":
			want[o] = x / y
		case "PRelu":
			want[o] = x
			if x < 0 {
				want[o] = x * y
			}
		}
	}
	return out, want
}

// ewRandom fills a float32 tensor with values in [-4, 4) away from zero
// (so it can divide).
func ewRandom(r *rand.Rand, shape ...int) *ir.Tensor {
	t := ir.NewTensor(ir.Float32, shape...)
	for i := range t.Float32s() {
		v := r.Float32()*8 - 4
		if math.Abs(float64(v)) < 0.25 {
			v = 0.5
		}
		t.Float32s()[i] = v
	}
	return t
}

func TestBinaryBroadcast(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	shapes := [][2][]int{
		{{2, 3, 4}, {2, 3, 4}},
		{{2, 3, 4}, {}},
		{{}, {2, 3, 4}},
		{{1, 5, 3, 3}, {1, 5, 1, 1}},
		{{2, 5, 3, 3}, {5, 1, 1}},
		{{2, 3, 4}, {4}},
		{{3, 1}, {1, 4}},
		{{2, 1, 4}, {1, 3, 1}},
		{{2, 3, 1, 5}, {3, 4, 1}},
		{{1}, {1}},
		{{4, 1, 1, 6}, {1, 5, 1, 1}},
		{{2, 0, 3}, {3}},
		// Large enough to be split over goroutines in the middle of rows.
		{{3, 70001}, {3, 1}},
		{{70001, 3}, {3}},
		{{140001}, {}},
		{{2, 64, 33, 33}, {1, 64, 1, 1}},
	}
	for _, s := range shapes {
		a, b := ewRandom(r, s[0]...), ewRandom(r, s[1]...)
		for _, op := range []string{"Add", "Sub", "Mul", "Div"} {
			shape, want := ewNaiveBinary(op, a, b)
			got := tmRun1(t, op, nil, a, b)
			// One float32 rounding of the exact result.
			tmExpect(t, fmt.Sprintf("%s %v %v", op, s[0], s[1]), got, shape, want, 1e-7)
		}
		if len(s[0]) >= len(s[1]) {
			if shape, want := ewNaiveBinary("PRelu", a, b); sameInts(shape, a.Shape) {
				got := tmRun1(t, "PRelu", nil, a, b)
				tmExpect(t, fmt.Sprintf("PRelu %v %v", s[0], s[1]), got, shape, want, 1e-7)
			}
		}
	}
}

func TestBinaryDTypes(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	// Small integers: every dtype holds the operands, and Add and Mul stay
	// in range, so the float64 reference is exact.
	for _, dt := range []ir.DType{ir.Int8, ir.Uint8, ir.Int16, ir.Uint16, ir.Int32, ir.Uint32, ir.Int64, ir.Uint64, ir.Float64, ir.Float16, ir.BFloat16} {
		a := tmCastTo(tmSmall(r, 11, 2, 3, 4), dt)
		b := tmCastTo(tmSmall(r, 11, 3, 1), dt)
		for _, op := range []string{"Add", "Mul"} {
			shape, want := ewNaiveBinary(op, a, b)
			got := tmRun1(t, op, nil, a, b)
			if got.DType != dt {
				t.Errorf("%s %v: result is %v", op, dt, got.DType)
			}
			tmExpect(t, fmt.Sprintf("%s %v", op, dt), got, shape, want, 0)
		}
	}

	// Integer division truncates toward zero, and overflows wrap.
	i32 := func(v ...int32) *ir.Tensor { return &ir.Tensor{DType: ir.Int32, Shape: []int{len(v)}, Data: v} }
	got := tmRun1(t, "Div", nil, i32(-7, 7, -7, 7, math.MinInt32), i32(2, 2, -2, -2, -1))
	tmExpect(t, "Div i32", got, []int{5}, []float64{-3, 3, 3, -3, math.MinInt32}, 0)
	_, err := tmRun("Div", nil, 1, i32(1, 2), i32(1, 0))
	tmWantErr(t, "Div by zero", err, "n1 (Div)", "integer division by zero (element 1 of input B)")
	u8 := func(v ...uint8) *ir.Tensor { return &ir.Tensor{DType: ir.Uint8, Shape: []int{len(v)}, Data: v} }
	tmExpect(t, "Add u8 wraps", tmRun1(t, "Add", nil, u8(250, 3), u8(10)), []int{2}, []float64{4, 13}, 0)
	tmExpect(t, "Sub u8 wraps", tmRun1(t, "Sub", nil, u8(3), u8(5, 2)), []int{2}, []float64{254, 1}, 0)

	// Float division by zero is IEEE.
	got = tmRun1(t, "Div", nil, tmF32([]int{3}, 1, -1, 0), tmF32(nil, 0))
	tmExpect(t, "Div f32 by 0", got, []int{3}, []float64{math.Inf(1), math.Inf(-1), math.NaN()}, 0)

	// float16 arithmetic rounds the float32 result to nearest even:
	// 1 + 2^-11 is a tie that goes down to 1; (1+2^-10) + 2^-11 goes up.
	h := func(bits ...uint16) *ir.Tensor { return tmHalves(ir.Float16, bits...) }
	tmCheckBits(t, "Add f16 ties", tmRun1(t, "Add", nil, h(0x3C00, 0x3C01), h(0x1000)), 0x3C00, 0x3C02)
	bf := tmRun1(t, "Mul", nil, tmHalves(ir.BFloat16, 0x4040, 0xC000), tmHalves(ir.BFloat16, 0x3F00))
	tmCheckBits(t, "Mul bf16", bf, 0x3FC0, 0xBF80) // 3*0.5, -2*0.5

	// An infinite slope still leaves x >= 0 alone.
	inf := float32(math.Inf(1))
	got = tmRun1(t, "PRelu", nil, tmF32([]int{4}, 2, -2, 0, float32(math.Inf(-1))), tmF32([]int{1}, inf))
	tmExpect(t, "PRelu inf slope", got, []int{4}, []float64{2, math.Inf(-1), 0, math.Inf(-1)}, 0)
	got = tmRun1(t, "PRelu", nil, tmF32([]int{3}, inf, -inf, float32(math.NaN())), tmF32([]int{3}, 0.5, 0.5, 0.5))
	tmExpect(t, "PRelu inf x", got, []int{3}, []float64{math.Inf(1), math.Inf(-1), math.NaN()}, 0)

	// PRelu on integers.
	i64 := &ir.Tensor{DType: ir.Int64, Shape: []int{2, 2}, Data: []int64{-3, 4, -5, 6}}
	slope := &ir.Tensor{DType: ir.Int64, Shape: []int{2, 1}, Data: []int64{2, 10}}
	tmExpect(t, "PRelu i64", tmRun1(t, "PRelu", nil, i64, slope), []int{2, 2}, []float64{-6, 4, -50, 6}, 0)
}

// tmSmall is a float32 tensor of integers in [-n/2, n/2].
func tmSmall(r *rand.Rand, n int, shape ...int) *ir.Tensor {
	t := ir.NewTensor(ir.Float32, shape...)
	for i := range t.Float32s() {
		t.Float32s()[i] = float32(r.Intn(n) - n/2)
	}
	return t
}

// tmCastTo converts with the Cast kernel (tested on its own); negative
// values wrap for unsigned types, which the reference then sees as they are.
func tmCastTo(x *ir.Tensor, dt ir.DType) *ir.Tensor {
	y := ir.NewTensor(dt, x.Shape...)
	if dt.IsInteger() && !isSigned(dt) {
		// Shift into range so unsigned types hold the same small values.
		s := ir.NewTensor(ir.Float32, x.Shape...)
		for i, v := range x.Float32s() {
			s.Float32s()[i] = v + 5
		}
		x = s
	}
	if err := castKernel(nil, []*ir.Tensor{x}, []*ir.Tensor{y}); err != nil {
		panic(err)
	}
	return y
}

func isSigned(dt ir.DType) bool {
	return dt == ir.Int8 || dt == ir.Int16 || dt == ir.Int32 || dt == ir.Int64
}

func TestUnary(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	f32 := func(v ...float64) *ir.Tensor {
		t := ir.NewTensor(ir.Float32, len(v))
		for i, x := range v {
			t.Float32s()[i] = float32(x)
		}
		return t
	}
	tmExpect(t, "Relu", tmRun1(t, "Relu", nil, f32(-1, 0, 2.5, nan, -inf, inf)), []int{6}, []float64{0, 0, 2.5, nan, 0, inf}, 0)
	tmExpect(t, "LeakyRelu", tmRun1(t, "LeakyRelu", ir.Attrs{"alpha": ir.FloatAttr(0.1)}, f32(-2, 3)), []int{2},
		[]float64{float64(float32(-2) * float32(0.1)), 3}, 0)
	tmExpect(t, "LeakyRelu default", tmRun1(t, "LeakyRelu", nil, f32(-100, inf, -inf, nan)), []int{4}, []float64{-1, inf, -inf, nan}, 1e-7)
	tmExpect(t, "LeakyRelu inf alpha", tmRun1(t, "LeakyRelu", ir.Attrs{"alpha": ir.FloatAttr(float32(inf))}, f32(-1, 2, 0)), []int{3},
		[]float64{-inf, 2, 0}, 0)
	// Reference values computed in float64 from the definitions.
	tmExpect(t, "Sigmoid", tmRun1(t, "Sigmoid", nil, f32(0, 1, -1, 20, -30, -800, 800)), []int{7},
		[]float64{0.5, 0.7310585786300049, 0.2689414213699951, 0.9999999979388463, 9.357622968839299e-14, 0, 1}, 1e-7)
	tmExpect(t, "Tanh", tmRun1(t, "Tanh", nil, f32(0.5, -3, 50, 0)), []int{4},
		[]float64{0.46211715726000974, -0.9950547536867305, 1, 0}, 1e-7)
	tmExpect(t, "HardSigmoid", tmRun1(t, "HardSigmoid", nil, f32(-3, 0, 1, 3)), []int{4}, []float64{0, 0.5, 0.7, 1}, 1e-7)
	tmExpect(t, "HardSigmoid attrs", tmRun1(t, "HardSigmoid", ir.Attrs{"alpha": ir.FloatAttr(0.5), "beta": ir.FloatAttr(0.25)}, f32(1, -1)),
		[]int{2}, []float64{0.75, 0}, 1e-7)
	tmExpect(t, "HardSwish", tmRun1(t, "HardSwish", nil, f32(-4, -1, 0, 1, 3, 4)), []int{6},
		[]float64{0, -1.0 / 3, 0, 2.0 / 3, 3, 4}, 1e-7)

	i8 := &ir.Tensor{DType: ir.Int8, Shape: []int{4}, Data: []int8{-128, -1, 0, 127}}
	tmExpect(t, "Relu i8", tmRun1(t, "Relu", nil, i8), []int{4}, []float64{0, 0, 0, 127}, 0)
	f64 := &ir.Tensor{DType: ir.Float64, Shape: []int{2}, Data: []float64{1, -2}}
	tmExpect(t, "Sigmoid f64", tmRun1(t, "Sigmoid", nil, f64), []int{2}, []float64{0.7310585786300049, 0.11920292202211755}, 1e-15)

	// float16: sigmoid(0) is 0.5, tanh(1) rounds to 0x3A18 (0.76171875);
	// a large tensor checks the chunked path against float32.
	tmCheckBits(t, "Sigmoid f16", tmRun1(t, "Sigmoid", nil, tmHalves(ir.Float16, 0x0000)), 0x3800)
	tmCheckBits(t, "Tanh f16", tmRun1(t, "Tanh", nil, tmHalves(ir.Float16, 0x3C00)), 0x3A18)
	n := 100001
	x := ir.NewTensor(ir.Float16, n)
	want := make([]float64, n)
	for i := range want {
		v := ir.HalfToFloat32(ir.Float32ToHalf(float32(i-n/2) / 1000))
		x.Data.([]uint16)[i] = ir.Float32ToHalf(v)
		lr := float64(v)
		if v < 0 {
			lr = float64(v * float32(0.01))
		}
		want[i] = float64(ir.HalfToFloat32(ir.Float32ToHalf(float32(lr))))
	}
	tmExpect(t, "LeakyRelu f16 large", tmRun1(t, "LeakyRelu", nil, x), []int{n}, want, 0)
}

func TestClip(t *testing.T) {
	x := tmF32([]int{5}, -2, -0.5, 0.5, 2, float32(math.NaN()))
	lo, hi := tmF32(nil, -1), tmF32(nil, 1)
	tmExpect(t, "Clip", tmRun1(t, "Clip", nil, x, lo, hi), []int{5}, []float64{-1, -0.5, 0.5, 1, math.NaN()}, 0)
	tmExpect(t, "Clip max only", tmRun1(t, "Clip", nil, x, nil, hi), []int{5}, []float64{-2, -0.5, 0.5, 1, math.NaN()}, 0)
	tmExpect(t, "Clip none", tmRun1(t, "Clip", nil, x), []int{5}, []float64{-2, -0.5, 0.5, 2, math.NaN()}, 0)
	tmExpect(t, "Clip min > max", tmRun1(t, "Clip", nil, x, hi, lo), []int{5}, []float64{-1, -1, -1, -1, math.NaN()}, 0)

	i8 := &ir.Tensor{DType: ir.Int8, Shape: []int{4}, Data: []int8{-128, -5, 5, 127}}
	i8lo := &ir.Tensor{DType: ir.Int8, Data: []int8{-6}}
	i8hi := &ir.Tensor{DType: ir.Int8, Data: []int8{6}}
	tmExpect(t, "Clip i8 min", tmRun1(t, "Clip", nil, i8, i8lo), []int{4}, []float64{-6, -5, 5, 127}, 0)
	tmExpect(t, "Clip i8", tmRun1(t, "Clip", nil, i8, i8lo, i8hi), []int{4}, []float64{-6, -5, 5, 6}, 0)
	u64 := &ir.Tensor{DType: ir.Uint64, Shape: []int{2}, Data: []uint64{1, math.MaxUint64}}
	u64hi := &ir.Tensor{DType: ir.Uint64, Data: []uint64{1 << 40}}
	tmExpect(t, "Clip u64", tmRun1(t, "Clip", nil, u64, nil, u64hi), []int{2}, []float64{1, 1 << 40}, 0)
	// ReLU6 in float16.
	h := tmRun1(t, "Clip", nil, tmHalves(ir.Float16, 0xC000, 0x4500, 0x4880), tmHalves(ir.Float16, 0).Reshaped(), tmHalves(ir.Float16, 0x4600).Reshaped())
	tmCheckBits(t, "Clip f16", h, 0x0000, 0x4500, 0x4600) // -2 → 0, 5 → 5, 9 → 6

	_, err := tmRun("Clip", nil, 1, x, tmF32([]int{2}, 0, 1))
	tmWantErr(t, "Clip vector bound", err, "n1 (Clip)", "min has shape [2], want a scalar")
}

// ewNaiveSoftmax is softmax along axis in float64 the textbook way:
// exp(x - max) / sum.
func ewNaiveSoftmax(x *ir.Tensor, axis int, logOut bool) []float64 {
	outer := ir.NumElements(x.Shape[:axis])
	size := x.Shape[axis]
	inner := ir.NumElements(x.Shape[axis+1:])
	want := make([]float64, x.Len())
	for o := 0; o < outer; o++ {
		for j := 0; j < inner; j++ {
			at := func(k int) int { return (o*size+k)*inner + j }
			m := math.Inf(-1)
			for k := 0; k < size; k++ {
				m = math.Max(m, x.AsFloat64(at(k)))
			}
			s := 0.0
			for k := 0; k < size; k++ {
				s += math.Exp(x.AsFloat64(at(k)) - m)
			}
			for k := 0; k < size; k++ {
				if logOut {
					want[at(k)] = x.AsFloat64(at(k)) - m - math.Log(s)
				} else {
					want[at(k)] = math.Exp(x.AsFloat64(at(k))-m) / s
				}
			}
		}
	}
	return want
}

func TestSoftmax(t *testing.T) {
	soft := []float64{0.09003057317038046, 0.24472847105479767, 0.6652409557748219}
	logSoft := []float64{-2.40760596444438, -1.4076059644443801, -0.4076059644443803}
	tmExpect(t, "Softmax", tmRun1(t, "Softmax", nil, tmF32([]int{3}, 1, 2, 3)), []int{3}, soft, 1e-7)
	tmExpect(t, "LogSoftmax", tmRun1(t, "LogSoftmax", nil, tmF32([]int{3}, 1, 2, 3)), []int{3}, logSoft, 1e-7)
	// Large values would overflow exp without the max subtraction.
	big := tmF32([]int{1, 3}, 10000, 10001, 10002)
	tmExpect(t, "Softmax large", tmRun1(t, "Softmax", nil, big), []int{1, 3}, soft, 1e-7)
	tmExpect(t, "LogSoftmax large", tmRun1(t, "LogSoftmax", nil, big), []int{1, 3}, logSoft, 1e-6)
	tmExpect(t, "Softmax -inf", tmRun1(t, "Softmax", nil, tmF32([]int{2}, float32(math.Inf(-1)), 0)), []int{2}, []float64{0, 1}, 0)

	// Axis 0 of [[1,2,3],[4,6,8]]: each column on its own.
	m := tmF32([]int{2, 3}, 1, 2, 3, 4, 6, 8)
	tmExpect(t, "Softmax axis 0", tmRun1(t, "Softmax", ir.Attrs{"axis": ir.IntAttr(0)}, m), []int{2, 3},
		[]float64{0.04742587317756678, 0.01798620996209156, 0.0066928509242848554, 0.9525741268224334, 0.9820137900379085, 0.9933071490757153}, 1e-6)

	r := rand.New(rand.NewSource(5))
	x := ewRandom(r, 4, 37, 5, 19)
	for axis := -4; axis < 4; axis++ {
		a := (axis + 4) % 4
		for _, op := range []string{"Softmax", "LogSoftmax"} {
			got := tmRun1(t, op, ir.Attrs{"axis": ir.IntAttr(int64(axis))}, x)
			tmExpect(t, fmt.Sprintf("%s axis %d", op, axis), got, x.Shape, ewNaiveSoftmax(x, a, op == "LogSoftmax"), 1e-6)
		}
	}
	// float16 goes through float32.
	h := tmRun1(t, "Softmax", nil, tmHalves(ir.Float16, 0x3C00, 0x4000, 0x4200)) // 1, 2, 3
	tmExpect(t, "Softmax f16", h, []int{3}, soft, 1e-3)
}

// ewBenchShape is a ResNet stem activation.
var ewBenchShape = []int{1, 64, 112, 112}

func benchKernel(b *testing.B, op string, bytesPerElem int, in ...*ir.Tensor) {
	out := []*ir.Tensor{ir.NewTensor(ir.Float32, ewBenchShape...)}
	n := &ir.Node{Name: "bench", Op: op, Attrs: ir.Attrs{}}
	k := kernels[op]
	b.SetBytes(int64(out[0].Len() * bytesPerElem))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := k(n, in, out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAdd adds two [1,64,112,112] float32 tensors: 12 bytes moved per
// element (two reads, one write), as SetBytes counts for the GB/s figure.
func BenchmarkAdd(b *testing.B) {
	r := rand.New(rand.NewSource(6))
	benchKernel(b, "Add", 12, ewRandom(r, ewBenchShape...), ewRandom(r, ewBenchShape...))
}

// BenchmarkAddBias adds a per-channel [1,64,1,1] bias: 8 bytes per element.
func BenchmarkAddBias(b *testing.B) {
	r := rand.New(rand.NewSource(6))
	benchKernel(b, "Add", 8, ewRandom(r, ewBenchShape...), ewRandom(r, 1, 64, 1, 1))
}

// BenchmarkRelu is Relu on [1,64,112,112] float32: 8 bytes per element.
func BenchmarkRelu(b *testing.B) {
	r := rand.New(rand.NewSource(6))
	benchKernel(b, "Relu", 8, ewRandom(r, ewBenchShape...))
}

package ref

import (
	"math"
	"math/rand"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// TestPowKernel runs Pow on float32 tensors: the exponents the GPU computes
// (2, 3, 0.5) keep math.Pow's bits, which the GPU's kernels reproduce;
// other exponents, now fmath.Pow, give math.Pow's float32 roundings on
// these samples (both are within a double's few units of x**y); int64
// powers are exact, and 0 to a negative power is an error there.
func TestPowKernel(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	n := 20000
	xs := make([]float32, n)
	for i := range xs {
		xs[i] = float32(r.NormFloat64() * 10)
	}
	xs[0], xs[1], xs[2] = 0, float32(math.Copysign(0, -1)), float32(math.Inf(-1))
	for _, e := range []float32{2, 3, 0.5, -0.5, 1.7, -2.25, 7, -3, 0.1} {
		out := ir.NewTensor(ir.Float32, n)
		if err := powKernel(nil, []*ir.Tensor{ir.FromFloat32(xs, n), ir.FromFloat32([]float32{e})}, []*ir.Tensor{out}); err != nil {
			t.Fatal(err)
		}
		for i, got := range out.Float32s() {
			want := float32(math.Pow(float64(xs[i]), float64(e)))
			if math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
				t.Fatalf("Pow(%v, %v) = %v, math.Pow's %v", xs[i], e, got, want)
			}
		}
	}
	base := ir.FromInt64([]int64{3, -3, 7, 2, -1}, 5)
	out := ir.NewTensor(ir.Int64, 5)
	if err := powKernel(nil, []*ir.Tensor{base, ir.FromInt64([]int64{33, 33, 18, 52, 7}, 5)}, []*ir.Tensor{out}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int64{5559060566555523, -5559060566555523, 1628413597910449, 1 << 52, -1} {
		if got := out.Int64s()[i]; got != want {
			t.Errorf("int64 Pow element %d = %d, want %d", i, got, want)
		}
	}
	if err := powKernel(nil, []*ir.Tensor{ir.FromInt64([]int64{0}, 1), ir.FromInt64([]int64{-1}, 1)}, []*ir.Tensor{ir.NewTensor(ir.Int64, 1)}); err == nil {
		t.Error("int64 0 to the power -1: no error")
	}
}

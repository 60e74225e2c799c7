package ref

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// TestUnfusedProducts checks, bit for bit, ops whose products Go would fuse
// with the addition after them on a CPU with FMA (arm64, amd64 built with
// GOAMD64=v3) unless each product is rounded on its own (see the package
// doc): BatchNormalization, float64 Gemm and MatMul, and Range. The
// definitions below round every product explicitly, so they are the same
// on every CPU; on amd64 without FMA the test cannot tell, under arm64 (qemu
// or hardware) it can.
func TestUnfusedProducts(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))

	// BatchNormalization: (x − mean)·factor + bias in float32.
	x := nnRandTensor(r, 2, 8, 9, 9)
	scale, bias, mean, variance := nnRandTensor(r, 8), nnRandTensor(r, 8), nnRandTensor(r, 8), nnRandTensor(r, 8)
	for i, v := range variance.Float32s() {
		variance.Float32s()[i] = v*v + 0.1
	}
	got, err := nnRunNode("BatchNormalization", nil, 1, x, scale, bias, mean, variance)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, x.Len())
	inner := 9 * 9
	for i, v := range x.Float32s() {
		ch := i / inner % 8
		f := float32(float64(scale.Float32s()[ch]) / math.Sqrt(float64(variance.Float32s()[ch])+float64(float32(1e-5))))
		want[i] = float32((v-mean.Float32s()[ch])*f) + bias.Float32s()[ch]
	}
	sameBits(t, "BatchNormalization", got[0].Float32s(), want)

	// Gemm and MatMul on float64: the products summed in k order.
	f64 := func(shape ...int) *ir.Tensor {
		t := ir.NewTensor(ir.Float64, shape...)
		for i := range t.Data.([]float64) {
			t.Data.([]float64)[i] = r.NormFloat64()
		}
		return t
	}
	const m, k, n = 7, 300, 9
	a, b, c := f64(m, k), f64(k, n), f64(m, n)
	ad, bd, cd := a.Data.([]float64), b.Data.([]float64), c.Data.([]float64)
	alpha, beta := float32(0.3), float32(1.7)
	attrs := ir.Attrs{"alpha": {Kind: ir.AttrFloat, Float: alpha}, "beta": {Kind: ir.AttrFloat, Float: beta}}
	for _, op := range []string{"Gemm", "MatMul"} {
		var got []*ir.Tensor
		if op == "Gemm" {
			got, err = nnRunNode(op, attrs, 1, a, b, c)
		} else {
			got, err = nnRunNode(op, nil, 1, a, b)
		}
		if err != nil {
			t.Fatal(err)
		}
		gd := got[0].Data.([]float64)
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var acc float64
				for p := 0; p < k; p++ {
					acc += float64(ad[i*k+p] * bd[p*n+j])
				}
				if op == "Gemm" {
					acc = float64(float64(alpha)*acc) + float64(float64(beta)*cd[i*n+j])
				}
				if g := gd[i*n+j]; math.Float64bits(g) != math.Float64bits(acc) {
					t.Fatalf("float64 %s: element (%d, %d) is %v, want %v", op, i, j, g, acc)
				}
			}
		}
	}

	// Range: start + i·delta in float64, rounded once.
	start, limit, delta := float32(0.1), float32(1000), float32(0.37)
	got, err = nnRunNode("Range", nil, 1, ir.FromFloat32([]float32{start}), ir.FromFloat32([]float32{limit}), ir.FromFloat32([]float32{delta}))
	if err != nil {
		t.Fatal(err)
	}
	want = want[:0]
	for i := 0; i < got[0].Len(); i++ {
		want = append(want, float32(float64(start)+float64(float64(i)*float64(delta))))
	}
	sameBits(t, fmt.Sprintf("Range(%v, %v, %v)", start, limit, delta), got[0].Float32s(), want)
}

// TestUnfusedLeakyRelu checks LeakyRelu and PRelu (a slope per element, per
// channel and a scalar one) on negative inputs whose product with the slope
// underflows: rounded on its own it is −0, and 0 + −0 is +0; fused with the
// addition it would be −0 on arm64 and with GOAMD64=v3. The results are +0
// on every host, as on amd64 v1.
func TestUnfusedLeakyRelu(t *testing.T) {
	x := ir.FromFloat32([]float32{-1e-30, -3e-25, -1, 2, -1e-30, -5e-26}, 1, 2, 3)
	const slope = float32(1e-20)
	want := make([]float32, x.Len())
	for i, v := range x.Float32s() {
		want[i] = max(v, 0) + float32(min(v, 0)*slope)
	}
	if math.Signbit(float64(want[0])) {
		t.Fatalf("want[0] = %v: the input no longer underflows", want[0])
	}
	got, err := nnRunNode("LeakyRelu", ir.Attrs{"alpha": {Kind: ir.AttrFloat, Float: slope}}, 1, x)
	if err != nil {
		t.Fatal(err)
	}
	sameBits(t, "LeakyRelu", got[0].Float32s(), want)
	full := ir.FromFloat32([]float32{slope, slope, slope, slope, slope, slope}, 1, 2, 3)
	for _, s := range []*ir.Tensor{full, ir.FromFloat32([]float32{slope, slope}, 2, 1), ir.FromFloat32([]float32{slope})} {
		got, err := nnRunNode("PRelu", nil, 1, x, s)
		if err != nil {
			t.Fatal(err)
		}
		sameBits(t, fmt.Sprintf("PRelu with slope %v", s.Shape), got[0].Float32s(), want)
	}
}

package ref

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// ResNet-34's convolutions at 224×224, batch 1, with biases (batch
// normalization folded in), as the reference executor runs them during
// calibration. GFLOP/s counts 2 FLOPs per multiply-accumulate.

// nnBenchLayer is one convolution: c→m channels, a k×k window with stride
// s and padding k/2, over an h×h input.
type nnBenchLayer struct {
	name       string
	c, m, h    int
	k, s       int
	occurrence int // how many times ResNet-34 has the layer
}

func (l nnBenchLayer) out() int { return (l.h+2*(l.k/2)-l.k)/l.s + 1 }

func (l nnBenchLayer) macs() float64 {
	o := l.out()
	return float64(l.m) * float64(o*o) * float64(l.c*l.k*l.k)
}

// nnResNet34 lists every distinct convolution of ResNet-34 and how often
// it occurs (36 convolutions in all).
var nnResNet34 = []nnBenchLayer{
	{"conv1_7x7s2_3to64_224", 3, 64, 224, 7, 2, 1},
	{"3x3_64to64_56", 64, 64, 56, 3, 1, 6},
	{"3x3s2_64to128_56", 64, 128, 56, 3, 2, 1},
	{"3x3_128to128_28", 128, 128, 28, 3, 1, 7},
	{"1x1s2_64to128_56", 64, 128, 56, 1, 2, 1},
	{"3x3s2_128to256_28", 128, 256, 28, 3, 2, 1},
	{"3x3_256to256_14", 256, 256, 14, 3, 1, 11},
	{"1x1s2_128to256_28", 128, 256, 28, 1, 2, 1},
	{"3x3s2_256to512_14", 256, 512, 14, 3, 2, 1},
	{"3x3_512to512_7", 512, 512, 7, 3, 1, 5},
	{"1x1s2_256to512_14", 256, 512, 14, 1, 2, 1},
}

// nnBenchConv holds one layer's node and tensors, ready to run.
type nnBenchConv struct {
	node    *ir.Node
	in, out []*ir.Tensor
}

func nnMakeBenchConv(r *rand.Rand, l nnBenchLayer) nnBenchConv {
	p := int64(l.k / 2)
	node := &ir.Node{Name: l.name, Op: "Conv", Attrs: ir.Attrs{
		"pads":    {Kind: ir.AttrInts, Ints: []int64{p, p, p, p}},
		"strides": {Kind: ir.AttrInts, Ints: []int64{int64(l.s), int64(l.s)}},
	}}
	in := []*ir.Tensor{nnRandTensor(r, 1, l.c, l.h, l.h), nnRandTensor(r, l.m, l.c, l.k, l.k), nnRandTensor(r, l.m)}
	o := l.out()
	return nnBenchConv{node, in, []*ir.Tensor{ir.NewTensor(ir.Float32, 1, l.m, o, o)}}
}

func BenchmarkConvResNet34(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	conv := kernels["Conv"]
	for _, l := range nnResNet34 {
		if l.occurrence == 0 {
			continue
		}
		bc := nnMakeBenchConv(r, l)
		b.Run(l.name, func(b *testing.B) {
			for b.Loop() {
				if err := conv(bc.node, bc.in, bc.out); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(2*l.macs()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkConvResNet34All runs all 36 convolutions of the network once
// per iteration.
func BenchmarkConvResNet34All(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	conv := kernels["Conv"]
	var layers []nnBenchConv
	var macs float64
	for _, l := range nnResNet34 {
		bc := nnMakeBenchConv(r, l)
		for i := 0; i < l.occurrence; i++ {
			layers = append(layers, bc)
			macs += l.macs()
		}
	}
	if len(layers) != 36 {
		b.Fatalf("%d convolutions, ResNet-34 has 36", len(layers))
	}
	b.Run(fmt.Sprintf("%d_convs_%.2f_GMAC", len(layers), macs/1e9), func(b *testing.B) {
		for b.Loop() {
			for _, bc := range layers {
				if err := conv(bc.node, bc.in, bc.out); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(2*macs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}

// BenchmarkConvDepthwise measures depthwise convolutions (the direct tap
// loop, not the GEMM): MobileNetV2's 3×3 at 112² and stride 2, and
// ConvNeXt-Tiny's 7×7 on 56², batch 1.
func BenchmarkConvDepthwise(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	conv := kernels["Conv"]
	for _, l := range []nnBenchLayer{
		{"dw3x3_96_112", 96, 96, 112, 3, 1, 1},
		{"dw3x3s2_144_56", 144, 144, 56, 3, 2, 1},
		{"dw7x7_96_56", 96, 96, 56, 7, 1, 1},
	} {
		p := int64(l.k / 2)
		node := &ir.Node{Name: l.name, Op: "Conv", Attrs: ir.Attrs{
			"group":   {Kind: ir.AttrInt, Int: int64(l.c)},
			"pads":    {Kind: ir.AttrInts, Ints: []int64{p, p, p, p}},
			"strides": {Kind: ir.AttrInts, Ints: []int64{int64(l.s), int64(l.s)}},
		}}
		o := l.out()
		in := []*ir.Tensor{nnRandTensor(r, 1, l.c, l.h, l.h), nnRandTensor(r, l.m, 1, l.k, l.k), nnRandTensor(r, l.m)}
		out := []*ir.Tensor{ir.NewTensor(ir.Float32, 1, l.m, o, o)}
		macs := float64(l.m*o*o) * float64(l.k*l.k)
		b.Run(l.name, func(b *testing.B) {
			for b.Loop() {
				if err := conv(node, in, out); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(2*macs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkFusedConvBatch runs ResNet-50 layers as calibration and
// SparseGPT run them: FusedConv (bias, residual, ReLU) on a batch of 32
// images, where the weights are shared by every image's GEMM and the
// epilogue follows each image's product: the last stage's 3×3 (a large
// weight, a small output) and the first stage's expanding 1×1 (a small
// weight, a large output with a residual). go test ./ir/ref -run '^$'
// -bench FusedConvBatch
func BenchmarkFusedConvBatch(b *testing.B) {
	const batch = 32
	r := rand.New(rand.NewPCG(5, 6))
	conv := kernels["FusedConv"]
	for _, l := range []nnBenchLayer{
		{"3x3_512to512_7", 512, 512, 7, 3, 1, 1},
		{"1x1_64to256_56_residual", 64, 256, 56, 1, 1, 1},
	} {
		p := int64(l.k / 2)
		node := &ir.Node{Name: l.name, Op: "FusedConv", Attrs: ir.Attrs{
			"pads":       {Kind: ir.AttrInts, Ints: []int64{p, p, p, p}},
			"activation": ir.StringAttr(ir.ActRelu),
		}}
		o := l.out()
		in := []*ir.Tensor{nnRandTensor(r, batch, l.c, l.h, l.h), nnRandTensor(r, l.m, l.c, l.k, l.k), nnRandTensor(r, l.m), nnRandTensor(r, batch, l.m, o, o)}
		out := []*ir.Tensor{ir.NewTensor(ir.Float32, batch, l.m, o, o)}
		b.Run(l.name, func(b *testing.B) {
			for b.Loop() {
				if err := conv(node, in, out); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(2*batch*l.macs()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

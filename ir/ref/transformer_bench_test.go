package ref

import (
	"math/rand"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// benchTransformerOp runs one op of ViT-B/16's encoder on a sample's
// tensor of the given shape, its values uniform in [-4·scale, 4·scale],
// reporting elements a second.
func benchTransformerOp(b *testing.B, op string, attrs ir.Attrs, scale float32, shape ...int) {
	r := rand.New(rand.NewSource(7))
	x := ewRandom(r, shape...)
	for i, v := range x.Float32s() {
		x.Float32s()[i] = v * scale
	}
	out := []*ir.Tensor{ir.NewTensor(ir.Float32, shape...)}
	n := &ir.Node{Name: "bench", Op: op, Attrs: attrs}
	k := kernels[op]
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := k(n, []*ir.Tensor{x}, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(x.Len())/b.Elapsed().Seconds()/1e6, "Melem/s")
}

// BenchmarkSoftmaxViT is one attention's Softmax of ViT-B/16: 12 heads of
// 197×197 scores, along the last axis.
func BenchmarkSoftmaxViT(b *testing.B) {
	benchTransformerOp(b, "Softmax", ir.Attrs{"axis": ir.IntAttr(-1)}, 3, 1, 12, 197, 197)
}

// BenchmarkErfViT is the Erf of one MLP's GELU of ViT-B/16: 197 tokens of
// 3072 features (torch's export writes GELU as Div, Erf, Add, Mul, Mul),
// arguments in [-2, 2] where the series does the work.
func BenchmarkErfViT(b *testing.B) { benchTransformerOp(b, "Erf", ir.Attrs{}, 0.5, 1, 197, 3072) }

// BenchmarkSigmoid is Sigmoid on EfficientNet's and MobileNet's [1,64,112,112].
func BenchmarkSigmoid(b *testing.B) { benchTransformerOp(b, "Sigmoid", ir.Attrs{}, 3, ewBenchShape...) }

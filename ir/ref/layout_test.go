package ref

import (
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// TestRelayoutKernel checks that Relayout computes the identity on the
// logical values, for a float and an integer dtype, into a tensor of its
// own (not the input's storage).
func TestRelayoutKernel(t *testing.T) {
	f := ir.NewTensor(ir.Float32, 1, 2, 2, 3)
	for i := range f.Float32s() {
		f.Float32s()[i] = float32(i) - 5.5
	}
	q := ir.NewTensor(ir.Int8, 2, 3, 1, 1)
	for i := range q.Int8s() {
		q.Int8s()[i] = int8(i*37 - 100)
	}
	for _, to := range []string{"NHWC", ""} {
		for _, x := range []*ir.Tensor{f, q} {
			y := tmRun1(t, "Relayout", ir.Attrs{"to": ir.StringAttr(to)}, x)
			if y.DType != x.DType || !ir.ShapeOf(y.Shape...).Equal(ir.ShapeOf(x.Shape...)) {
				t.Fatalf("to=%q: output %v%v, want %v%v", to, y.DType, y.Shape, x.DType, x.Shape)
			}
			for i := 0; i < x.Len(); i++ {
				if y.AsFloat64(i) != x.AsFloat64(i) {
					t.Fatalf("to=%q: element %d is %v, want %v", to, i, y.AsFloat64(i), x.AsFloat64(i))
				}
			}
			if x.Len() > 0 && &rawBytes(y)[0] == &rawBytes(x)[0] {
				t.Errorf("to=%q: output shares the input's storage", to)
			}
		}
	}
}

package ampere

import (
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir/sqir"
)

// TestCopyLayoutFollowsReaders checks the order the gather kernel writes a
// rank-4 copy in: row-major when every reader takes rows (a batched
// MatMul, through a scaling Mul), so that no transpose launch precedes
// the MatMul; NHWC when a convolution reads it, as before.
func TestCopyLayoutFollowsReaders(t *testing.T) {
	for _, c := range []struct {
		name, body, copied, layout string
		toNCHW                     int
	}{
		{"rows", `(%a: f32[N,5,2,4]) -> (%y) {
  const %s: f32[] = [0.5]
  %q: f32[N,2,5,4] = Transpose "tq" (%a) {perm = [0, 2, 1, 3]}
  %k: f32[N,2,4,5] = Transpose "tk" (%a) {perm = [0, 2, 3, 1]}
  %qs: f32[N,2,5,4] = Mul "scale" (%q, %s)
  %y: f32[N,2,5,5] = MatMul "mm" (%qs, %k)
}`, "q", LayoutNCHW, 0},
		{"a convolution reads it", `(%a: f32[N,5,2,4]) -> (%y, %z) {
  const %s: f32[] = [0.5]
  const %w: f32[3,2,1,1] = [1, 2, 3, 4, 5, 6]
  %q: f32[N,2,5,4] = Transpose "tq" (%a) {perm = [0, 2, 1, 3]}
  %k: f32[N,2,4,5] = Transpose "tk" (%a) {perm = [0, 2, 3, 1]}
  %qs: f32[N,2,5,4] = Mul "scale" (%q, %s)
  %y: f32[N,2,5,5] = MatMul "mm" (%qs, %k)
  %z: f32[N,3,5,4] = Conv "conv" (%q, %w)
}`, "q", LayoutNHWC, 1},
	} {
		g, err := sqir.ParseAndVerify("g", []byte(`graph "g" `+c.body))
		if err != nil {
			t.Fatal(err)
		}
		e, err := Plan(g, "test")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, b := range e.Buffers {
			if b.Name == c.copied && b.Layout != c.layout {
				t.Errorf("%s: %s is held %s, want %s", c.name, b.Name, b.Layout, c.layout)
			}
		}
		n := 0
		for _, s := range e.Steps {
			if s.Kernel == kernels.ToNCHW32Kernel {
				n++
			}
		}
		if n != c.toNCHW {
			t.Errorf("%s: %d NHWC-to-NCHW launches, want %d", c.name, n, c.toNCHW)
		}
	}
}

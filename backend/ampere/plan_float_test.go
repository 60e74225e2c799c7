package ampere

import (
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir/sqir"
)

// TestPlanFloatConvGemm plans a float conv chain and a Gemm: every node
// gets one float fallback launch with the expected geometry arguments, and
// the output of a convolution is NHWC.
func TestPlanFloatConvGemm(t *testing.T) {
	text := `graph "g" (%x: f32[N,4,9,7]) -> (%z, %u) {
  const %w1: f32[6,2,3,3] = [` + zeros(6*2*3*3) + `]
  const %w2: f32[6,6,1,1] = [` + zeros(36) + `]
  const %b: f32[10,6] = [` + zeros(60) + `]
  %a: f32[N,6,5,3] = Conv "c1" (%x, %w1) {group = 2, strides = [2, 2], pads = [1, 0, 1, 2], dilations = [1, 2]}
  %z: f32[N,6,5,3] = FusedConv "c2" (%a, %w2, %w2b, %a) {activation = "relu"}
  %p: f32[N,6,1,1] = GlobalAveragePool "gap" (%z)
  %f: f32[N,6] = Flatten "fl" (%p) {axis = 1}
  %u: f32[N,10] = Gemm "fc" (%f, %b) {transB = 1, alpha = 2.0}
}`
	text = insertBias(text)
	g, err := sqir.ParseAndVerify("g", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Plan(g, "test")
	if err != nil {
		t.Fatal(err)
	}
	var convs int
	for _, s := range e.Steps {
		if s.Kernel != kernels.FloatConvKernel {
			continue
		}
		convs++
		if len(s.Args) != len(kernels.FloatConvParams) {
			t.Errorf("%s: %d args, want %d", s.Node, len(s.Args), len(kernels.FloatConvParams))
		}
		if s.Node == "c1" {
			// C H W M OH OW KH KW sh sw ph pw dh dw Cg Mg xnhwc ynhwc hasres
			want := []uint32{4, 9, 7, 6, 5, 3, 3, 3, 2, 2, 1, 0, 1, 2, 2, 3, 0, 1, 0}
			for i, w := range want {
				if got := s.Args[6+i].GetU32(); got != w {
					t.Errorf("c1 arg %s = %d, want %d", kernels.FloatConvParams[6+i], got, w)
				}
			}
		}
		if s.Node == "c2" && s.Args[24].GetU32() != 1 {
			t.Error("c2: residual not read")
		}
	}
	if convs != 3 {
		t.Errorf("%d float launches, want 3", convs)
	}
	for _, b := range e.Buffers {
		if b.Name == "a" && b.Layout != LayoutNHWC {
			t.Errorf("conv output a is %s, want nhwc", b.Layout)
		}
	}
}

func zeros(n int) string {
	s := "0.5"
	for i := 1; i < n; i++ {
		s += ", 0.5"
	}
	return s
}

func insertBias(text string) string {
	return text[:len(`graph "g" (%x: f32[N,4,9,7]) -> (%z, %u) {`)+1] + "  const %w2b: f32[6] = [1, 2, 3, 4, 5, 6]\n" + text[len(`graph "g" (%x: f32[N,4,9,7]) -> (%z, %u) {`)+1:]
}

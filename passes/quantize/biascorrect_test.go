package quantize

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// TestBiasCorrection: a Gemm whose weights all round the same way (0.0302
// on a scale of 1/127 quantizes to 4 steps, 0.0315) over inputs of mean 1
// has its quantized outputs shifted by some 0.08 per channel; bias
// correction removes nearly all of that shift, and the layer's note says so.
func TestBiasCorrection(t *testing.T) {
	const k, n = 64, 16
	var w, b []string
	for i := range k * n {
		v := 0.0302
		if i/n == 0 {
			v = 1 // one weight per output channel sets the scale to 1/127
		}
		w = append(w, fmt.Sprint(v))
	}
	for range n {
		b = append(b, "0.5")
	}
	src := fmt.Sprintf(`graph "g" (%%x: f32[N,%d]) -> (%%y) {
  const %%w: f32[%d,%d] = [%s]
  const %%b: f32[%d] = [%s]
  %%y: f32[N,%d] = Gemm "fc" (%%x, %%w, %%b)
}
`, k, k, n, strings.Join(w, ", "), n, strings.Join(b, ", "), n)
	r := rand.New(rand.NewPCG(1, 1))
	data := make([]float32, 256*k)
	for i := range data {
		data[i] = float32(r.Float64() * 2) // mean 1
	}
	path := filepath.Join(t.TempDir(), "x.npy")
	writeNpy(t, path, []int{256, k}, data)
	test := ir.FromFloat32(data[:64*k], 64, k)

	meanShift := func(opts string) (float64, *ir.Graph) {
		g, err := runPipeline(t, src, "calibrate{data="+path+";method=auto;progress=false},quantize{"+opts+"}")
		if err != nil {
			t.Fatal(err)
		}
		f, err := runPipeline(t, src, "infer-shapes")
		if err != nil {
			t.Fatal(err)
		}
		yq, err := ref.Run(g, test)
		if err != nil {
			t.Fatal(err)
		}
		y, err := ref.Run(f, test)
		if err != nil {
			t.Fatal(err)
		}
		shift := make([]float64, n)
		for i, v := range yq[0].Float32s() {
			shift[i%n] += float64(v-y[0].Float32s()[i]) / 64
		}
		worst := 0.0
		for _, s := range shift {
			worst = math.Max(worst, math.Abs(s))
		}
		return worst, g
	}
	plain, _ := meanShift("")
	corrected, g := meanShift("bias-correction=true")
	t.Logf("mean output shift %.4f without correction, %.4f with", plain, corrected)
	if !(plain > 0.05) || !(corrected < plain/5) {
		t.Errorf("mean output shift %.4f without correction, %.4f with; want > 0.05 and five times less", plain, corrected)
	}
	noted := false
	for _, nd := range g.Nodes {
		noted = noted || strings.HasPrefix(nd.Notes[BiasNoteKey], "bias corrected for weight quantization")
	}
	if !noted {
		t.Errorf("no bias note")
	}
}

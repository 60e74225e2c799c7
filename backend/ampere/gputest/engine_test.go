package gputest

import (
	"flag"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/internal/dataset"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/ir/sqir"
)

var (
	engineFiles = flag.String("engines", "", "comma-separated .sqe files for TestEngineTop1")
	imagesPath  = flag.String("images", "", "input data (IDX, .npy, ...) for TestEngineTop1, read one sample at a time")
	imagesN     = flag.Int("n", 1000, "samples TestEngineTop1 runs through each engine")
)

// The float fallback and the pad kernels, planned from small graphs: the
// GPU must give ir/ref's bits.
var fallbackGraphs = map[string]string{
	// f32 NCHW: BatchNormalization, then a Pad of the channel and
	// spatial dims with a non-zero constant.
	"bn_pad_f32_nchw": `graph "g" (%x: f32[N,4,5,3]) -> (%y) {
  const %s: f32[4] = [1.5, -0.25, 0.75, 2]
  const %b: f32[4] = [0.1, -3, 0, 7.25]
  const %m: f32[4] = [0.3, 1, -2, 0.01]
  const %v: f32[4] = [0.9, 4, 0.001, 1.7]
  const %pads: i64[8] = [0, 1, 2, 0, 0, 0, 1, 3]
  const %cv: f32[] = [0.5]
  %t: f32[N,4,5,3] = BatchNormalization "bn" (%x, %s, %b, %m, %v) {epsilon = 0.001}
  %y: f32[N,5,8,6] = Pad "pad" (%t, %pads, %cv)
}`,
	// i8 NHWC (the quantize kernel's relayout): the pad-channels Pad
	// (3 to 4 channels, with the zero point) plus spatial pads, then
	// dequantize and a BatchNormalization on NHWC f32.
	"pad_i8_bn_nhwc": `graph "g" (%x: f32[N,3,5,7]) -> (%p, %y) {
  const %sc: f32[] = [0.05]
  const %zp: i8[] = [3]
  const %pads: i64[8] = [0, 1, 1, 0, 0, 0, 2, 1]
  const %cv: i8[] = [3]
  const %s: f32[4] = [1.5, -0.25, 0.75, 2]
  const %b: f32[4] = [0.1, -3, 0, 7.25]
  const %m: f32[4] = [0.3, 1, -2, 0.01]
  const %v: f32[4] = [0.9, 4, 0.001, 1.7]
  %q: i8[N,3,5,7] quant(scale=[0.05], zp=[3]) = QuantizeLinear "q" (%x, %sc, %zp)
  %p: i8[N,4,8,8] quant(scale=[0.05], zp=[3]) = Pad "pad" (%q, %pads, %cv)
  %d: f32[N,4,8,8] = DequantizeLinear "dq" (%p, %sc, %zp)
  %y: f32[N,4,8,8] = BatchNormalization "bn" (%d, %s, %b, %m, %v)
}`,
	// The pad kernels four elements a thread (Pad4Fits): f32 NCHW rows
	// of 8 padded by 4 on the left with a constant, and the i8 NHWC
	// channels 8 to 12 with the zero point (a byte four times a word).
	"pad4_f32_nchw": `graph "g" (%x: f32[N,2,3,8]) -> (%y) {
  const %pads: i64[8] = [0, 0, 1, 4, 0, 1, 1, 0]
  const %cv: f32[] = [-1.25]
  %y: f32[N,3,5,12] = Pad "pad" (%x, %pads, %cv)
}`,
	"pad4_i8_nhwc": `graph "g" (%x: f32[N,8,3,5]) -> (%p, %y) {
  const %sc: f32[] = [0.05]
  const %zp: i8[] = [3]
  const %pads: i64[8] = [0, 4, 1, 0, 0, 0, 0, 2]
  const %cv: i8[] = [3]
  %q: i8[N,8,3,5] quant(scale=[0.05], zp=[3]) = QuantizeLinear "q" (%x, %sc, %zp)
  %p: i8[N,12,4,7] quant(scale=[0.05], zp=[3]) = Pad "pad" (%q, %pads, %cv)
  %y: f32[N,12,4,7] = DequantizeLinear "dq" (%p, %sc, %zp)
}`,
	"softmax_f32": `graph "g" (%x: f32[N,37]) -> (%a, %b) {
  %a: f32[N,37] = LogSoftmax "lsm" (%x) {axis = 1}
  %b: f32[N,37] = Softmax "sm" (%x) {axis = -1}
}`,
}

// TestFallbackKernels plans each graph, runs it on the GPU at a few batch
// sizes and compares with the reference executor.
func TestFallbackKernels(t *testing.T) {
	for name, text := range fallbackGraphs {
		t.Run(name, func(t *testing.T) {
			g, err := sqir.ParseAndVerify(name, []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			e, err := ampere.Plan(g, "test")
			if err != nil {
				t.Fatal(err)
			}
			approx := false
			for _, s := range e.Steps {
				approx = approx || kernels.ApproxKernels[s.Kernel]
			}
			needGPU(t)
			for _, batch := range []int{1, 3, 70} {
				r := rand.New(rand.NewPCG(uint64(batch), 9))
				x := randomInput(g, batch, r, 4)
				got, want := runBoth(t, g, e, batch, x)
				for i := range want {
					checkOutput(t, name, i, batch, got[i], want[i], approx)
				}
			}
		})
	}
}

// checkOutput requires equal bits, or with approx a relative 2e-6 or an
// absolute 5e-7 on f32.
func checkOutput(t *testing.T, name string, i, batch int, got, want *ir.Tensor, approx bool) {
	t.Helper()
	if got.DType != want.DType || !slices.Equal(got.Shape, want.Shape) {
		t.Fatalf("%s batch %d output %d: %v%v, want %v%v", name, batch, i, got.DType, got.Shape, want.DType, want.Shape)
	}
	bad := 0
	for j := 0; j < got.Len(); j++ {
		a, b := got.AsFloat64(j), want.AsFloat64(j)
		ok := math.Float64bits(a) == math.Float64bits(b)
		if approx {
			// The approximate kernels (the float convolution, GEMM and
			// batched MatMul) sum in their own order.
			ok = math.Abs(a-b) <= 2e-6*math.Abs(b) || math.Abs(a-b) <= 5e-7
		}
		if !ok {
			if bad < 5 {
				t.Errorf("%s batch %d output %d element %d: %v, want %v", name, batch, i, j, a, b)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s batch %d output %d: %d of %d elements differ", name, batch, i, bad, got.Len())
	}
}

// TestEngineTop1 runs whole engines (-engines) one sample at a time over
// -images and requires the GPU's top-1 class to equal the reference
// executor's on every sample, and bit-equal outputs unless the engine has
// an approximate kernel. Without -engines it skips.
//
//	.gpu/ampere.test -test.run TestEngineTop1 -engines .gpu/m8.sqe,.gpu/mb.sqe -images .gpu/t10k-images-idx3-ubyte.gz -n 1000 -test.v
func TestEngineTop1(t *testing.T) {
	if *engineFiles == "" || *imagesPath == "" {
		t.Skip("no -engines / -images")
	}
	needGPU(t)
	for _, path := range strings.Split(*engineFiles, ",") {
		t.Run(path, func(t *testing.T) {
			e, err := engine.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			g, err := ampere.Graph(e)
			if err != nil {
				t.Fatal(err)
			}
			approx := false
			for _, s := range e.Steps {
				approx = approx || kernels.ApproxKernels[s.Kernel]
			}
			src, err := dataset.Open(dataset.Spec{Path: *imagesPath, Batch: 1, Limit: *imagesN, Inputs: dataset.InputsOf(g)})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			rt, err := ampere.Open(e, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Close()
			n, same, exact := 0, 0, 0
			for ; n < *imagesN; n++ {
				in, err := src.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				want, err := ref.Run(g, in...)
				if err != nil {
					t.Fatal(err)
				}
				got, err := rt.Run(in)
				if err != nil {
					t.Fatal(err)
				}
				if top1(got[0]) == top1(want[0]) {
					same++
				}
				eq := true
				for j := 0; j < got[0].Len(); j++ {
					eq = eq && math.Float64bits(got[0].AsFloat64(j)) == math.Float64bits(want[0].AsFloat64(j))
				}
				if eq {
					exact++
				}
			}
			t.Logf("%s on %s: %d samples, top-1 equal on %d, outputs bit-equal on %d (approximate kernels: %v)", path, rt.Device, n, same, exact, approx)
			if same != n || (!approx && exact != n) {
				t.Errorf("%s: top-1 equal on %d of %d, bit-equal on %d", path, same, n, exact)
			}
		})
	}
}

func top1(t *ir.Tensor) int {
	best := 0
	for j := 1; j < t.Len(); j++ {
		if t.AsFloat64(j) > t.AsFloat64(best) {
			best = j
		}
	}
	return best
}

package ampere

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/internal/zoo"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/all"
)

func init() {
	// The 32-bit pad (pad-channels' Pad of the stem's 3 input channels to
	// 4): output element (o1, o2, o3) of a sample reads input
	// (o1−P1, o2−P2, o3−P3) inside I1×I2×I3, else the value's bits; the
	// four-a-thread form moves the same elements.
	// The byte pads alike, the value's low byte the fill.
	kernelModels[kernels.Pad32Kernel] = pad32Model
	kernelModels[kernels.Pad32x4Kernel] = pad32Model
	kernelModels[kernels.Pad8Kernel] = pad8Model
	kernelModels[kernels.Pad8x4Kernel] = pad8Model
	// Inference BatchNormalization: (x − mean)·factor + bias, each rounded,
	// channel c = i / inner mod C.
	kernelModels[kernels.BatchNormKernel] = func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, weights map[string][]byte) {
		x, y, prm := buf(s.Args[0]).Float32s(), buf(s.Args[1]).Float32s(), f32sOf(weights[s.Args[2].GetWeight()])
		c, inner := int(s.Args[4].GetU32()), int(s.Args[5].GetU32())
		for i, v := range x {
			ch := i / inner % c
			y[i] = float32((v-prm[c+ch])*prm[ch]) + prm[2*c+ch]
		}
	}
}

func pad32Model(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, _ map[string][]byte) {
	padModel(s, buf(s.Args[0]).Float32s(), buf(s.Args[1]).Float32s(), math.Float32frombits(s.Args[12].GetU32()))
}

func pad8Model(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, _ map[string][]byte) {
	padModel(s, buf(s.Args[0]).Int8s(), buf(s.Args[1]).Int8s(), int8(uint8(s.Args[12].GetU32())))
}

// padModel is the pad kernels' copy of x into y with fill value.
func padModel[T int8 | float32](s *engine.Step, x, y []T, value T) {
	u := func(i int) int { return int(s.Args[i].GetU32()) }
	o1, o2, o3, i1, i2, i3, p1, p2, p3 := u(3), u(4), u(5), u(6), u(7), u(8), u(9), u(10), u(11)
	per, inPer := o1*o2*o3, i1*i2*i3
	for i := range y {
		n, r := i/per, i%per
		a, b, c := r/(o2*o3)-p1, r/o3%o2-p2, r%o3-p3
		if a < 0 || a >= i1 || b < 0 || b >= i2 || c < 0 || c >= i3 {
			y[i] = value
			continue
		}
		y[i] = x[n*inPer+(a*i2+b)*i3+c]
	}
}

func init() {
	// The global average pool of NHWC f32: the sample's HW values of a
	// channel summed in f64 in order, divided once, rounded to f32.
	kernelModels[kernels.GapKernel] = func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, _ map[string][]byte) {
		x, y := buf(s.Args[0]).Float32s(), buf(s.Args[1]).Float32s()
		c, hw := int(s.Args[3].GetU32()), int(s.Args[4].GetU32())
		for i := range y {
			n, ch := i/c, i%c
			var sum float64
			for p := 0; p < hw; p++ {
				sum += float64(x[(n*hw+p)*c+ch])
			}
			y[i] = float32(sum / float64(hw))
		}
	}
	// The f32 NCHW to NHWC transpose (C, HW a sample).
	kernelModels[kernels.ToNHWC32Kernel] = func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, _ map[string][]byte) {
		x, y := buf(s.Args[0]).Float32s(), buf(s.Args[1]).Float32s()
		c, hw := int(s.Args[3].GetU32()), int(s.Args[4].GetU32())
		for i := range x {
			n, ch, p := i/(c*hw), i/hw%c, i%hw
			y[(n*hw+p)*c+ch] = x[i]
		}
	}
	// The global average pool, then QuantizeLinear's arithmetic on each
	// mean (x / scale rounded half to even, + zero point, saturated).
	kernelModels[kernels.GapQuantizeKernel] = func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, _ map[string][]byte) {
		x, y := buf(s.Args[0]).Float32s(), buf(s.Args[1]).Int8s()
		c, hw := int(s.Args[3].GetU32()), int(s.Args[4].GetU32())
		zp, scale := s.Args[5].GetS32(), s.Args[6].GetF32()
		for i := range y {
			n, ch := i/c, i%c
			var sum float64
			for p := 0; p < hw; p++ {
				sum += float64(x[(n*hw+p)*c+ch])
			}
			y[i] = ptxQuantize(float32(sum/float64(hw)), scale, zp)
		}
	}
}

// TestFloatResNetSimulated is a graph.sqr float engine end to end on the
// CPU: a torchvision-style ResNet-50 (package zoo: 53 convolutions, 8
// channels in the stem, 64×64 images, so its 3×3 layers sum up to 576
// products and its 1×1 layers exactly 256, over one, two and three chunks
// of ir/ref's summation order) through the graph pipeline, planned, and
// its plan run with the kernels' Go models at batch 2. Every float kernel
// follows the reference's summation order, so the output must equal the
// reference executor's bit for bit, where the f64 sums of the float
// convolution before it differed over 50–95 layers by more than 1e-5.
func TestFloatResNetSimulated(t *testing.T) {
	if testing.Short() {
		t.Skip("a whole ResNet-50 on the kernels' Go models: skipped in -short mode")
	}
	b, err := zoo.ResNet(zoo.ResNetConfig{Depth: 50, Width: 8, Size: 64, Classes: 10, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "resnet50.onnx")
	if err := b.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	g, err := onnx.Import(path)
	if err != nil {
		t.Fatal(err)
	}
	runPipeline(t, g, all.Specs(all.GraphPipeline))
	e, err := Plan(g, "test")
	if err != nil {
		t.Fatal(err)
	}
	convs, maxK := 0, 0
	for _, s := range e.Steps {
		if s.Kernel != kernels.FloatConvKernel {
			continue
		}
		convs++
		// K = Cg·KH·KW (arguments C, KH, KW, Cg: 6, 12, 13, 20).
		maxK = max(maxK, int(s.Args[20].GetU32()*s.Args[12].GetU32()*s.Args[13].GetU32()))
	}
	if convs != 54 || maxK <= 2*ref.SumChunk {
		t.Fatalf("%d float convolution launches with K up to %d, want ResNet-50's 53 and its Gemm with K over two chunks", convs, maxK)
	}
	const batch = 2
	ins, byName := randomGraphInputs(g, batch, rand.New(rand.NewPCG(7, 8)), 1)
	want, err := ref.Run(g, ins...)
	if err != nil {
		t.Fatal(err)
	}
	got := simulate(t, g, e, batch, byName)
	for i, v := range g.Outputs {
		gt, wt := got[v.Name].Float32s(), want[i].Float32s()
		if len(gt) != len(wt) {
			t.Fatalf("output %s: %d values, want %d", v.Name, len(gt), len(wt))
		}
		for j := range wt {
			if math.Float32bits(gt[j]) != math.Float32bits(wt[j]) {
				t.Fatalf("output %s [%d]: %v, want the reference's %v bit for bit", v.Name, j, gt[j], wt[j])
			}
		}
	}
}

// runPipeline runs the passes of specs on g, as sqc compile does.
func runPipeline(t *testing.T, g *ir.Graph, specs []passes.StepSpec) {
	t.Helper()
	p, err := passes.Build(specs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&passes.Manager{}).Run(g, p); err != nil {
		t.Fatal(err)
	}
}

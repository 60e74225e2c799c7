package quantize

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/ir/sqir"
	"github.com/sqc-project/sqc/passes"
	_ "github.com/sqc-project/sqc/passes/lowerint8"
	_ "github.com/sqc-project/sqc/passes/prune"
)

// writeNpy writes a float32 array in NumPy's .npy format (version 1).
func writeNpy(t *testing.T, path string, shape []int, data []float32) {
	t.Helper()
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s,), }", strings.Join(dims, ", "))
	for (10+len(header)+1)%64 != 0 {
		header += " "
	}
	header += "\n"
	buf := []byte("\x93NUMPY\x01\x00")
	buf = binary.LittleEndian.AppendUint16(buf, uint16(len(header)))
	buf = append(buf, header...)
	for _, v := range data {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// calibData writes n random samples for a graph input of per-sample shape
// dims, uniform in [-span, span], and returns the file's path.
func calibData(t *testing.T, n int, dims []int, span float64) string {
	r := rand.New(rand.NewPCG(3, 4))
	data := make([]float32, n*ir.NumElements(dims))
	for i := range data {
		data[i] = float32((r.Float64()*2 - 1) * span)
	}
	p := filepath.Join(t.TempDir(), "calib.npy")
	writeNpy(t, p, append([]int{n}, dims...), data)
	return p
}

// runPipeline parses src and runs the pipeline with verification.
func runPipeline(t *testing.T, src, pipeline string) (*ir.Graph, error) {
	t.Helper()
	g, err := sqir.ParseAndVerify("test.sqir", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, err = (&passes.Manager{VerifyEach: true}).RunSpec(g, pipeline)
	return g, err
}

func calibrateStep(path string) string {
	return "calibrate{data=" + path + ";method=max;progress=false}"
}

// wideConv is a conv big enough for the prune pass's defaults (128 output
// channels, a multiple of 32) with a FusedConv residual block after it and a
// Gemm head.
func wideConv(r *rand.Rand) string {
	w := func(n int) string {
		v := make([]string, n)
		for i := range v {
			v[i] = fmt.Sprintf("%.3f", r.Float64()*2-1)
		}
		return "[" + strings.Join(v, ", ") + "]"
	}
	return `graph "g" (%x: f32[1,16,4,4]) -> (%y, %logits) {
  const %w1: f32[128,16,1,1] = ` + w(128*16) + `
  const %w2: f32[128,128,1,1] = ` + w(128*128) + `
  const %b2: f32[128] = ` + w(128) + `
  const %fc: f32[128,10] = ` + w(1280) + `
  const %shape: i64[2] = [1, 2048]
  const %fc2: f32[10,2048] = ` + w(20480) + `
  %a: f32[1,128,4,4] = FusedConv "conv1" (%x, %w1) {activation = "relu"}
  %b: f32[1,128,4,4] = FusedConv "conv2" (%a, %w2, %b2, %a) {activation = "relu"}
  %y: f32[1,128,4,4] = Relu "relu" (%b)
  %f: f32[1,2048] = Reshape "flatten" (%b, %shape)
  %logits: f32[1,10] = Gemm "head" (%f, %fc2) {transB = 1}
}`
}

// TestPruneThenQuantizeKeepsMasks: every weight the prune pass made 2:4
// quantizes to an int8 weight that carries the claim (and the verifier,
// run after every pass, checks the claim against the int8 data), and after
// lower-int8 the fused ops read claimed weights.
func TestPruneThenQuantizeKeepsMasks(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	src := wideConv(r)
	data := calibData(t, 4, []int{16, 4, 4}, 2)
	g, err := runPipeline(t, src, "prune{first-layer=prune;last-layer=prune;min-out-channels=0;out-channel-multiple=1},"+calibrateStep(data)+",quantize")
	if err != nil {
		t.Fatal(err)
	}
	claimed := 0
	for _, n := range g.Nodes {
		if n.Op != "DequantizeLinear" || !n.Inputs[0].IsConst() {
			continue
		}
		w := n.Inputs[0]
		if w.Const.DType != ir.Int8 {
			t.Errorf("%s: weight %s is %v, want i8", n.Name, w.Name, w.Const.DType)
		}
		if w.Sparsity != nil {
			claimed++
		}
	}
	if claimed < 3 {
		t.Fatalf("%d int8 weights carry a sparsity claim, want the 3 pruned ones", claimed)
	}
	g, err = runPipeline(t, src, "prune{first-layer=prune;last-layer=prune;min-out-channels=0;out-channel-multiple=1},"+calibrateStep(data)+",quantize,lower-int8")
	if err != nil {
		t.Fatal(err)
	}
	fused := 0
	for _, n := range g.Nodes {
		if n.Op == "QConv" || n.Op == "QGemm" {
			fused++
			if n.Inputs[1].Sparsity == nil {
				t.Errorf("%s reads weight %s without its sparsity claim", n.Name, n.Inputs[1].Name)
			}
		}
	}
	if fused != 3 {
		t.Fatalf("%d fused ops after lower-int8, want 3", fused)
	}
}

// TestQuantizedGraphFollowsFloat: the quantized graph (and its lowered
// form) computes nearly what the float graph computes on the calibration
// data: errors of a few quantization steps, not of a wrong scale or axis.
func TestQuantizedGraphFollowsFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	src := wideConv(r)
	data := calibData(t, 8, []int{16, 4, 4}, 2)
	float, err := sqir.ParseAndVerify("test.sqir", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, pipeline := range []string{calibrateStep(data) + ",quantize", calibrateStep(data) + ",quantize,lower-int8",
		calibrateStep(data) + ",quantize{per-tensor-weights=true},lower-int8"} {
		g, err := runPipeline(t, src, pipeline)
		if err != nil {
			t.Fatal(err)
		}
		in := ir.NewTensor(ir.Float32, 1, 16, 4, 4)
		for i := range in.Float32s() {
			in.Float32s()[i] = float32(r.Float64()*4 - 2)
		}
		want, err := ref.Run(float, in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ref.Run(g, in)
		if err != nil {
			t.Fatal(err)
		}
		for o := range want {
			var maxAbs, maxErr float64
			for i, w := range want[o].Float32s() {
				maxAbs = max(maxAbs, math.Abs(float64(w)))
				maxErr = max(maxErr, math.Abs(float64(w-got[o].Float32s()[i])))
			}
			t.Logf("%s: output %d: max error %.4g of max |y| %.4g", pipeline, o, maxErr, maxAbs)
			if maxErr > 0.05*maxAbs {
				t.Errorf("%s: output %d differs from the float graph by %.4g (max |y| %.4g)", pipeline, o, maxErr, maxAbs)
			}
		}
	}
}

// TestQuantizeOptions: per-tensor weights, the skip selector and the ops
// list change what is quantized; a wrong op name is refused by name.
func TestQuantizeOptions(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	src := wideConv(r)
	data := calibData(t, 2, []int{16, 4, 4}, 1)
	count := func(g *ir.Graph) (qs, weights, perTensor int) {
		for _, n := range g.Nodes {
			switch {
			case n.Op == "QuantizeLinear":
				qs++
			case n.Op == "DequantizeLinear" && n.Inputs[0].IsConst():
				weights++
				if n.Inputs[0].Quant.PerTensor() {
					perTensor++
				}
			}
		}
		return
	}
	g, err := runPipeline(t, src, calibrateStep(data)+",quantize")
	if err != nil {
		t.Fatal(err)
	}
	// x, a (conv2's input and residual: one pair) and f.
	if qs, w, pt := count(g); qs != 3 || w != 3 || pt != 0 {
		t.Errorf("defaults: %d activation quantizers, %d weights (%d per tensor), want 3, 3, 0", qs, w, pt)
	}
	g, err = runPipeline(t, src, calibrateStep(data)+",quantize{per-tensor-weights=true;skip=name:head}")
	if err != nil {
		t.Fatal(err)
	}
	if qs, w, pt := count(g); qs != 2 || w != 2 || pt != 2 {
		t.Errorf("per-tensor, head skipped: %d activation quantizers, %d weights (%d per tensor), want 2, 2, 2", qs, w, pt)
	}
	g, err = runPipeline(t, src, calibrateStep(data)+",quantize{ops=FusedConv}")
	if err != nil {
		t.Fatal(err)
	}
	if qs, w, _ := count(g); qs != 2 || w != 2 {
		t.Errorf("ops=FusedConv (no residual quantizer): %d activation quantizers, %d weights, want 2 (x and a), 2", qs, w)
	}
	for _, n := range g.Nodes {
		if n.Name == "conv2" && n.Inputs[3].Name != "a" {
			t.Errorf("without Add-residual conv2's residual is %s, want the float a", n.Inputs[3].Name)
		}
	}
	_, err = runPipeline(t, src, calibrateStep(data)+",quantize{ops=Conv|Gemmm}")
	if err == nil || !strings.Contains(err.Error(), `"Gemmm" is not a quantizable layer type`) {
		t.Errorf("ops=Conv|Gemmm: error %v, want one naming Gemmm", err)
	}
}

// TestQuantizeNeedsCalibration: without a calibrate step the analysis
// runs with its defaults, which have no data, and the error says so.
func TestQuantizeNeedsCalibration(t *testing.T) {
	_, err := runPipeline(t, wideConv(rand.New(rand.NewPCG(1, 1))), "quantize")
	if err == nil {
		t.Fatal("quantize without calibration data succeeded")
	}
	if !strings.Contains(err.Error(), "calibrate") {
		t.Errorf("error %q does not mention calibrate", err)
	}
}

// TestWeightQuantization checks quantizeWeight by hand: per channel along
// axis 1 of a [K,N] matrix, and per tensor.
func TestWeightQuantization(t *testing.T) {
	w := ir.FromFloat32([]float32{1, -0.5, 0.25, 2, 0, 0}, 3, 2)
	q, s := quantizeWeight(w, 1, false)
	// Column 0 holds 1, 0.25, 0: scale 1/127; column 1 holds -0.5, 2, 0:
	// scale 2/127. 0.25·127 = 31.75 → 32; -0.5·127/2 = -31.75 → -32.
	if s[0] != float32(1)/127 || s[1] != float32(2)/127 {
		t.Errorf("scales %v, want [1/127, 2/127]", s)
	}
	want := []int8{127, -32, 32, 127, 0, 0}
	for i, v := range q.Int8s() {
		if v != want[i] {
			t.Fatalf("per-channel codes %v, want %v", q.Int8s(), want)
		}
	}
	q, s = quantizeWeight(w, -1, false)
	if len(s) != 1 || s[0] != float32(2)/127 {
		t.Errorf("per-tensor scale %v, want [2/127]", s)
	}
	want = []int8{64, -32, 16, 127, 0, 0} // 63.5 → 64 (half to even), 15.875 → 16
	for i, v := range q.Int8s() {
		if v != want[i] {
			t.Fatalf("per-tensor codes %v, want %v", q.Int8s(), want)
		}
	}
	// An all-zero weight gets scale 1, never 0.
	if _, s := quantizeWeight(ir.FromFloat32([]float32{0, 0}, 2), -1, false); s[0] != 1 {
		t.Errorf("all-zero weight: scale %v, want 1", s[0])
	}
}

// TestWeightClipMSE: weight-clip = mse never quantizes a channel worse than
// max does, clips where it pays (a channel of weights at 0.5 and one at 1:
// 0.5 falls halfway between two codes of max's scale, a slightly smaller
// scale fits it) and keeps codes within ±127.
func TestWeightClipMSE(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	const n = 1000
	data := make([]float32, 3*n)
	for i := range n {
		data[i] = 0.5
		data[n+i] = float32(rng.NormFloat64())
		data[2*n+i] = float32(rng.ExpFloat64()) * float32(1-2*(i%2))
	}
	data[0] = 1
	w := ir.FromFloat32(data, 3, n)
	sqErr := func(q *ir.Tensor, s []float32, k int) float64 {
		e := 0.0
		for i := k * n; i < (k+1)*n; i++ {
			d := float64(data[i] - float32(q.Int8s()[i])*s[k])
			e += d * d
		}
		return e
	}
	qMax, sMax := quantizeWeight(w, 0, false)
	qMSE, sMSE := quantizeWeight(w, 0, true)
	for k := range 3 {
		if e, m := sqErr(qMSE, sMSE, k), sqErr(qMax, sMax, k); e > m {
			t.Errorf("channel %d: error %g with mse clipping, %g with max", k, e, m)
		}
	}
	if e, m := sqErr(qMSE, sMSE, 0), sqErr(qMax, sMax, 0); !(sMSE[0] < sMax[0]) || !(e < m/4) {
		t.Errorf("channel of halves: scale %g (max %g), error %g (max %g)", sMSE[0], sMax[0], e, m)
	}
	for i, q := range qMSE.Int8s() {
		if q < -127 {
			t.Fatalf("code %d at %d", q, i)
		}
	}
}

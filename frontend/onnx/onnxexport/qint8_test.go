package onnxexport_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/frontend/onnx/onnxexport"
	"github.com/sqc-project/sqc/internal/mnist"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/ir/sqir"
	"github.com/sqc-project/sqc/passes"
)

// qRun is one run of an exported quantized model: its inputs, and the
// outputs the reference executor computed on the IR graph.
type qRun struct {
	inputs []*ir.Tensor
	want   []*ir.Tensor
	files  []string
	report ortReport
}

// runQuantizedInORT exports g, runs it in ONNX Runtime (at graph
// optimization level opt, "" for ort_run.js's default) on every input set
// and returns the runs with ONNX Runtime's outputs read back (as .got).
func runQuantizedInORT(t *testing.T, modules string, g *ir.Graph, inputs [][]*ir.Tensor, opt string) ([]*qRun, [][]*ir.Tensor) {
	t.Helper()
	dir := t.TempDir()
	model := filepath.Join(dir, "model.onnx")
	if err := onnxexport.WriteFile(model, g, onnxexport.Options{}); err != nil {
		t.Fatalf("export: %v", err)
	}
	e, err := ref.New(g)
	if err != nil {
		t.Fatal(err)
	}
	var runs []*qRun
	var manifest []ortRun
	for k, in := range inputs {
		want, err := e.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		r := &qRun{inputs: in, want: want}
		mr := ortRun{Model: model, Optimization: opt}
		for i, v := range g.Inputs {
			f := filepath.Join(dir, fmt.Sprintf("run%d_in%d.bin", k, i))
			writeFloat32s(t, f, in[i].Float32s())
			mr.Inputs = append(mr.Inputs, ortIO{Name: v.Name, Dims: in[i].Shape, File: f})
		}
		for i, v := range g.Outputs {
			f := filepath.Join(dir, fmt.Sprintf("run%d_out%d.bin", k, i))
			r.files = append(r.files, f)
			mr.Outputs = append(mr.Outputs, ortIO{Name: v.Name, File: f})
		}
		runs = append(runs, r)
		manifest = append(manifest, mr)
	}
	mf := filepath.Join(dir, "manifest.json")
	data, err := json.Marshal(map[string]any{"runs": manifest})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mf, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("testdata", "ort_run.js"), mf)
	cmd.Env = append(os.Environ(), "SQC_ORT_NODE_MODULES="+modules)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node ort_run.js: %v\n%s", err, stderr.String())
	}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 1<<20)
	var got [][]*ir.Tensor
	k := 0
	for sc.Scan() {
		if k >= len(runs) {
			t.Fatalf("ort_run.js reported more runs than asked")
		}
		if err := json.Unmarshal(sc.Bytes(), &runs[k].report); err != nil {
			t.Fatalf("ort_run.js output %q: %v", sc.Text(), err)
		}
		var outs []*ir.Tensor
		for i, w := range runs[k].want {
			outs = append(outs, readRaw(t, runs[k].files[i], runs[k].report.Outputs[i].Type, w.Shape))
		}
		got = append(got, outs)
		k++
	}
	if k != len(runs) {
		t.Fatalf("ort_run.js reported %d runs, want %d\n%s", k, len(runs), stderr.String())
	}
	return runs, got
}

// lowerPipeline runs a pipeline over g with verification.
func lowerPipeline(t *testing.T, g *ir.Graph, pipeline string) {
	t.Helper()
	specs, err := passes.ParseSpec(pipeline)
	if err != nil {
		t.Fatal(err)
	}
	p, err := passes.Build(specs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&passes.Manager{VerifyEach: true}).Run(g, p); err != nil {
		t.Fatal(err)
	}
}

// int8Block is a lowered INT8 graph written by hand: a QConv with bias and
// relu whose int8 output is a graph output (so ONNX Runtime's codes are
// compared directly), and a QConv with a residual and clip, and a QGemm
// with a float32 output, and a QGemm with a bias and relu over a batch of
// rows (the conv's 36 pixels of 8 channels) with an int8 output.
const int8Block = `graph "int8" (%x: f32[1,8,6,6]) -> (%a, %b, %logits, %rows) {
  const %sx: f32[] = [0.0213]
  const %zx: i8[] = [-3]
  const %w1: i8[8,8,3,3] quant(axis=0, scale=[0.0031, 0.0042, 0.0027, 0.0050, 0.0036, 0.0029, 0.0044, 0.0033], zp=[0, 0, 0, 0, 0, 0, 0, 0]) = %W1%
  const %m1: f32[8] = %M1%
  const %b1: i32[8] = [120, -340, 56, 0, 900, -77, 15, -2000]
  const %w2: i8[8,8,1,1] quant(scale=[0.0061], zp=[0]) = %W2%
  const %m2: f32[8] = %M2%
  const %mr2: f32[] = %MR2%
  const %wg: i8[5,288] quant(axis=0, scale=[0.0011, 0.0013, 0.0009, 0.0012, 0.0010], zp=[0, 0, 0, 0, 0]) = %WG%
  const %mg: f32[5] = %MG%
  const %shape: i64[2] = [1, 288]
  const %wr: i8[16,8] quant(axis=0, scale=[0.011, 0.013, 0.009, 0.012, 0.010, 0.014, 0.008, 0.015, 0.011, 0.013, 0.009, 0.012, 0.010, 0.014, 0.008, 0.015], zp=[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) = %WR%
  const %mr: f32[16] = %MR%
  const %br: i32[16] = [120, -340, 56, 0, 900, -77, 15, -2000, 3, 4, -5, 600, -7, 80, 9, -10]
  %xq: i8[1,8,6,6] quant(scale=[0.0213], zp=[-3]) = QuantizeLinear "q_x" (%x, %sx, %zx)
  %a: i8[1,8,6,6] quant(scale=[0.0187], zp=[-128]) = QConv "conv1" (%xq, %w1, %m1, %b1) {activation = "relu", pads = [1, 1, 1, 1]}
  %b: i8[1,8,6,6] quant(scale=[0.0301], zp=[5]) = QConv "conv2" (%a, %w2, %m2, _, %xq, %mr2) {activation = "clip", clip_min = -1.5, clip_max = 2.5}
  %f: i8[1,288] quant(scale=[0.0301], zp=[5]) = Reshape "flatten" (%b, %shape)
  %logits: f32[1,5] = QGemm "fc" (%f, %wg, %mg)
  %p: i8[1,6,6,8] quant(scale=[0.0301], zp=[5]) = Transpose "permute" (%b) {perm = [0, 2, 3, 1]}
  %rows: i8[1,6,6,16] quant(scale=[0.0173], zp=[-7]) = QGemm "mlp" (%p, %wr, %mr, %br) {activation = "relu"}
}`

// fillInt8Block substitutes random weights and the multipliers their scales
// give into int8Block.
func fillInt8Block(t *testing.T) *ir.Graph {
	t.Helper()
	rng := rand.New(rand.NewPCG(9, 10))
	ints := func(n int) string {
		s := "["
		for i := 0; i < n; i++ {
			if i > 0 {
				s += ", "
			}
			s += fmt.Sprint(int(rng.Uint64()%255) - 127)
		}
		return s + "]"
	}
	floats := func(v []float32) string {
		s := "["
		for i, f := range v {
			if i > 0 {
				s += ", "
			}
			s += fmt.Sprint(f)
		}
		return s + "]"
	}
	w1s := []float32{0.0031, 0.0042, 0.0027, 0.0050, 0.0036, 0.0029, 0.0044, 0.0033}
	wgs := []float32{0.0011, 0.0013, 0.0009, 0.0012, 0.0010}
	wrs := []float32{0.011, 0.013, 0.009, 0.012, 0.010, 0.014, 0.008, 0.015, 0.011, 0.013, 0.009, 0.012, 0.010, 0.014, 0.008, 0.015}
	src := int8Block
	for k, v := range map[string]string{
		"%W1%":  ints(8 * 8 * 9),
		"%M1%":  floats(ir.QOutputMultipliers(0.0213, w1s, 8, 0.0187)),
		"%W2%":  ints(64),
		"%M2%":  floats(ir.QOutputMultipliers(0.0187, []float32{0.0061}, 8, 0.0301)),
		"%MR2%": floats([]float32{ir.QResidualMultiplier(0.0213, 0.0301)}),
		"%WG%":  ints(5 * 288),
		"%MG%":  floats(ir.QOutputMultipliers(0.0301, wgs, 5, 0)),
		"%WR%":  ints(16 * 8),
		"%MR%":  floats(ir.QOutputMultipliers(0.0301, wrs, 16, 0.0173)),
	} {
		src = strings.ReplaceAll(src, k, v)
	}
	g, err := sqir.ParseAndVerify("int8.sqir", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestQuantizedExportInONNXRuntime exports graphs with QConv and QGemm as
// QDQ ONNX and runs them in ONNX Runtime: int8 outputs must agree with the
// reference executor's codes within one step on a small share of elements
// (ONNX Runtime evaluates the QDQ chain in its own arithmetic), float
// outputs within a few output quantization steps, and classifications must
// agree.
func TestQuantizedExportInONNXRuntime(t *testing.T) {
	modules := ortModules(t)
	g := fillInt8Block(t)
	var inputs [][]*ir.Tensor
	for i := 0; i < 8; i++ {
		inputs = append(inputs, randomInputs(t, g, uint64(100+i)))
		for j := range inputs[i][0].Float32s() {
			inputs[i][0].Float32s()[j] *= 2.5
		}
	}
	runs, got := runQuantizedInORT(t, modules, g, inputs, "")
	for o, name := range map[int]string{0: "a", 1: "b", 3: "rows"} {
		diff, total, worst := 0, 0, 0.0
		distinct := map[int8]bool{}
		for k, r := range runs {
			w, gt := r.want[o], got[k][o]
			if gt.DType != ir.Int8 {
				t.Fatalf("output %s is %v in ONNX Runtime, want i8", name, gt.DType)
			}
			for i := range w.Int8s() {
				total++
				distinct[w.Int8s()[i]] = true
				if d := math.Abs(float64(w.Int8s()[i]) - float64(gt.Int8s()[i])); d != 0 {
					diff++
					worst = max(worst, d)
				}
			}
		}
		t.Logf("int8 output %s: %d of %d codes (%d distinct) differ from ONNX Runtime's, by at most %v", name, diff, total, len(distinct), worst)
		if len(distinct) < 32 {
			t.Errorf("int8 output %s takes only %d distinct codes: the test exercises little", name, len(distinct))
		}
		if worst > 1 || diff > total/100 {
			t.Errorf("int8 output %s: %d of %d codes differ, by up to %v; want ±1 on at most 1%%", name, diff, total, worst)
		}
	}
	var maxDiff float64
	for k, r := range runs {
		for i, w := range r.want[2].Float32s() {
			maxDiff = max(maxDiff, math.Abs(float64(w-got[k][2].Float32s()[i])))
		}
	}
	t.Logf("float logits: max |ref − ONNX Runtime| = %.4g", maxDiff)
	if maxDiff > 0.05 {
		t.Errorf("float logits differ by %.4g from ONNX Runtime's", maxDiff)
	}
}

// TestQuantizedMnistInONNXRuntime quantizes the zoo's mnist-8 (calibrated
// on training digits), lowers it, exports it and classifies test digits in
// ONNX Runtime and in the reference executor: the same answers, logits
// close.
func TestQuantizedMnistInONNXRuntime(t *testing.T) {
	modules := ortModules(t)
	models := sharedModels(t)
	path, ok := models["mnist-8.onnx"]
	if !ok {
		t.Skip("mnist-8.onnx not available")
	}
	data := filepath.Join("..", "..", "..", "..", "shared", "data", "mnist")
	set, err := mnist.Test(data)
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	g, err := onnx.Import(path)
	if err != nil {
		t.Fatal(err)
	}
	lowerPipeline(t, g, "infer-shapes,fold-constants,dce,fuse-epilogue,calibrate{data="+
		filepath.Join(data, "train-images-idx3-ubyte.gz")+";samples=128;method=max;progress=false},quantize,lower-int8")
	var inputs [][]*ir.Tensor
	for i := 0; i < 32; i++ {
		x, err := set.Images.Tensor(i, i+1, mnist.Raw)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, []*ir.Tensor{x})
	}
	runs, got := runQuantizedInORT(t, modules, g, inputs, "")
	agree := 0
	var maxRel float64
	for k, r := range runs {
		w, gt := r.want[0].Float32s(), got[k][0].Float32s()
		if argmaxF(w) == argmaxF(gt) {
			agree++
		}
		rel, _ := maxRelDiff(r.want[0], got[k][0])
		maxRel = max(maxRel, rel)
	}
	t.Logf("mnist-8 INT8: ONNX Runtime and the reference agree on %d of %d digits; logits differ by at most %.3g of the largest", agree, len(runs), maxRel)
	if agree != len(runs) || maxRel > 0.05 {
		t.Errorf("ONNX Runtime agrees on %d of %d digits, logits differ by %.3g relative", agree, len(runs), maxRel)
	}
}

func argmaxF(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

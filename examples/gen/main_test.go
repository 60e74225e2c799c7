package main

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/internal/dataset"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

const committed = "../resnet-mini.onnx"

// TestCommittedCalibrationIsCurrent does the same for the calibration data,
// and checks it reads as the model's input: [32,3,32,32] float32.
func TestCommittedCalibrationIsCurrent(t *testing.T) {
	want, err := os.ReadFile("../resnet-mini-calib.npy")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(calibNpy(), want) {
		t.Fatal("regenerated calibration data differs from examples/resnet-mini-calib.npy; run `make example` and commit the result")
	}
	src, err := dataset.Open(dataset.Spec{Path: "../resnet-mini-calib.npy", Batch: 32})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	batch, err := src.Next()
	if err != nil {
		t.Fatal(err)
	}
	if got := batch[0].Shape; len(got) != 4 || got[0] != 32 || got[1] != 3 || got[2] != 32 || got[3] != 32 {
		t.Fatalf("calibration batch shape %v, want [32 3 32 32]", got)
	}
	lo, hi := float32(0), float32(0)
	for _, v := range batch[0].Float32s() {
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo < -1.01 || hi > 1.01 || hi-lo < 1 {
		t.Errorf("values span [%v, %v], want most of [-1, 1]", lo, hi)
	}
}

// TestCommittedModelIsCurrent regenerates the model and requires the bytes of
// the committed file: the generator is deterministic, and the committed model
// is what it writes today.
func TestCommittedModelIsCurrent(t *testing.T) {
	want, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "resnet-mini.onnx")
	if err := build().WriteFile(out); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("regenerated model (%d bytes) differs from examples/resnet-mini.onnx (%d bytes); run `make example` and commit the result", len(got), len(want))
	}
	if len(want) >= 1<<20 {
		t.Errorf("examples/resnet-mini.onnx is %d bytes, want it under 1 MiB", len(want))
	}
}

// TestModelStructure loads the committed model through the frontend and
// checks the architecture the README and the CLI tests describe.
func TestModelStructure(t *testing.T) {
	m, err := onnx.Load(committed)
	if err != nil {
		t.Fatal(err)
	}
	if m.Opset != 13 {
		t.Errorf("opset %d, want 13", m.Opset)
	}
	ops := map[string]int{}
	for _, n := range m.Nodes() {
		ops[n.OpType]++
	}
	want := map[string]int{"Conv": 8, "BatchNormalization": 8, "Relu": 7, "Add": 3, "GlobalAveragePool": 1, "Flatten": 1, "Gemm": 1}
	for op, n := range want {
		if ops[op] != n {
			t.Errorf("%d %s nodes, want %d", ops[op], op, n)
		}
	}
	if len(ops) != len(want) {
		t.Errorf("op types %v, want exactly %v", ops, want)
	}
	g, err := m.Lower()
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Inputs) != 1 || g.Inputs[0].Type.String() != "f32[N,3,32,32]" {
		t.Errorf("inputs %v, want one f32[N,3,32,32]", g.Inputs)
	}
	if len(g.Outputs) != 1 || g.Outputs[0].Name != "logits" || g.Outputs[0].Type.String() != "f32[N,10]" {
		t.Errorf("outputs %v, want logits f32[N,10]", g.Outputs)
	}
}

// TestModelRuns runs the model on the reference executor: a batch of two
// images gives, per image, what a batch of one gives (the batch dim is truly
// free), finite logits, and different logits for different images.
func TestModelRuns(t *testing.T) {
	g, err := onnx.Import(committed)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ref.New(g)
	if err != nil {
		t.Fatal(err)
	}
	const size = 3 * 32 * 32
	batch := ir.NewTensor(ir.Float32, 2, 3, 32, 32)
	x := batch.Float32s()
	for i := range x {
		// Two different smooth images in [-1, 1].
		x[i] = float32(math.Sin(float64(i%size)*0.01 + float64(i/size)*1.3))
	}
	out, err := e.Run([]*ir.Tensor{batch})
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0].Type().String(); got != "f32[2,10]" {
		t.Fatalf("output %s, want f32[2,10]", got)
	}
	logits := out[0].Float32s()
	for i, v := range logits {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || math.Abs(float64(v)) > 1e3 {
			t.Fatalf("logit %d = %v, want a finite, moderate value", i, v)
		}
	}
	same := true
	for k := 0; k < 10; k++ {
		same = same && logits[k] == logits[10+k]
	}
	if same {
		t.Errorf("both images give logits %v", logits[:10])
	}
	for b := 0; b < 2; b++ {
		one := ir.FromFloat32(append([]float32(nil), x[b*size:(b+1)*size]...), 1, 3, 32, 32)
		single, err := e.Run([]*ir.Tensor{one})
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range single[0].Float32s() {
			if d := math.Abs(float64(v - logits[b*10+k])); d > 1e-4*(1+math.Abs(float64(v))) {
				t.Errorf("image %d logit %d: %v alone, %v in a batch of two", b, k, v, logits[b*10+k])
			}
		}
	}
}

// TestCheckerAcceptsModel runs ONNX's own checker, with full shape
// inference, on the committed model when Python's onnx package is installed
// (Debian's python3-onnx): the file must be valid ONNX for every other tool,
// not only for sqc's frontend.
func TestCheckerAcceptsModel(t *testing.T) {
	// The python3 first on PATH may be a virtual environment's or pyenv's
	// without the package; Debian's is /usr/bin/python3. Importing
	// onnx.checker, not onnx: Debian's libonnx-testdata alone leaves an
	// onnx/ folder of test data in dist-packages, which imports as an
	// empty namespace package.
	python := ""
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if path, err := exec.LookPath(p); err == nil && exec.Command(path, "-c", "import onnx.checker").Run() == nil {
			python = path
			break
		}
	}
	if python == "" {
		t.Skip("no python3 with the onnx package")
	}
	script := `import sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
i = onnx.shape_inference.infer_shapes(m, strict_mode=True)
dims = [d.dim_param or d.dim_value for d in i.graph.output[0].type.tensor_type.shape.dim]
assert dims == ["N", 10], dims
`
	out, err := exec.Command(python, "-c", script, committed).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx checker rejects the model: %v\n%s", err, out)
	}
}

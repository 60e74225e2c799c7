package lowerint8

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/internal/dataset"
	"github.com/sqc-project/sqc/internal/mnist"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/passes"
	_ "github.com/sqc-project/sqc/passes/constfold"
	_ "github.com/sqc-project/sqc/passes/shapeinfer"
)

// sharedModel returns the path of a third-party model in ../shared, skipping
// the test when the folder is absent (CI=true makes that a failure).
func sharedModel(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", "models", name)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is missing: %v", p, err)
		}
		t.Skipf("%s not available: %v", p, err)
	}
	return p
}

// importAndLower imports an ONNX model twice: as it is, and through the
// pipeline ending in lower-int8.
func importAndLower(t *testing.T, path string) (before, after *ir.Graph) {
	t.Helper()
	before, err := onnx.Import(path)
	if err != nil {
		t.Fatal(err)
	}
	after, err = onnx.Import(path)
	if err != nil {
		t.Fatal(err)
	}
	specs, err := passes.ParseSpec("infer-shapes,fold-constants,dce,lower-int8")
	if err != nil {
		t.Fatal(err)
	}
	p, err := passes.Build(specs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&passes.Manager{VerifyEach: true}).Run(after, p); err != nil {
		t.Fatal(err)
	}
	return before, after
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// TestShuffleNetQDQLowers: the zoo's QDQ ShuffleNet lowers to QConv/QGemm
// for every Conv and the MatMul, and the lowered graph's logits follow the
// Q/DQ graph's (the two differ only where float rounding of the Q/DQ
// graph's convolutions moves a value across a rounding boundary).
func TestShuffleNetQDQLowers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ShuffleNet twice")
	}
	before, after := importAndLower(t, sharedModel(t, "shufflenet-v2-12-qdq.onnx"))
	ops := countOps(after)
	if ops["QConv"] != 56 || ops["QGemm"] != 1 || ops["Conv"]+ops["MatMul"] != 0 {
		t.Fatalf("ops after lowering: %v", ops)
	}
	// A smooth image-like input (random pixels would make every layer's
	// statistics unlike a photo's).
	r := rand.New(rand.NewPCG(1, 2))
	x := ir.NewTensor(ir.Float32, 1, 3, 224, 224)
	fx, fy, ph := r.Float64()*0.1, r.Float64()*0.1, r.Float64()*6
	for i := range x.Float32s() {
		c, yy, xx := i/(224*224), (i/224)%224, i%224
		x.Float32s()[i] = float32(1.5*math.Sin(fx*float64(xx)+fy*float64(yy)+ph+float64(c)) + 0.3*r.NormFloat64())
	}
	want, err := ref.Run(before, x)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ref.Run(after, x)
	if err != nil {
		t.Fatal(err)
	}
	w, g := want[0].Float32s(), got[0].Float32s()
	var maxDiff, maxAbs float64
	for i := range w {
		maxDiff = max(maxDiff, math.Abs(float64(w[i]-g[i])))
		maxAbs = max(maxAbs, math.Abs(float64(w[i])))
	}
	t.Logf("logits: max |Q/DQ − lowered| = %.4g (max |logit| %.4g); top-1 %d vs %d", maxDiff, maxAbs, argmax(w), argmax(g))
	if argmax(w) != argmax(g) {
		t.Errorf("top-1 %d after lowering, %d before", argmax(g), argmax(w))
	}
	if maxDiff > 0.1*maxAbs {
		t.Errorf("logits differ by %.4g, more than 10%% of the largest (%.4g)", maxDiff, maxAbs)
	}
}

// TestMnistQOperatorLowers: the third party's QOperator MNIST
// (ConvInteger, MatMulInteger, Cast, Mul) lowers completely, and its
// accuracy on the first 1000 test digits stays within a point of the
// QOperator graph's.
func TestMnistQOperatorLowers(t *testing.T) {
	before, after := importAndLower(t, sharedModel(t, "mnist-8-convinteger-quantized_connxr.onnx"))
	ops := countOps(after)
	if ops["QConv"] != 2 || ops["QGemm"] != 1 || ops["ConvInteger"]+ops["MatMulInteger"]+ops["Cast"]+ops["Mul"] != 0 {
		t.Fatalf("ops after lowering: %v", ops)
	}
	set, err := mnist.Test(filepath.Join("..", "..", "..", "shared", "data", "mnist"))
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	eb, err := ref.New(before)
	if err != nil {
		t.Fatal(err)
	}
	ea, err := ref.New(after)
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	rightBefore, rightAfter := 0, 0
	for i := 0; i < n; i++ {
		x, err := set.Images.Tensor(i, i+1, mnist.Unit)
		if err != nil {
			t.Fatal(err)
		}
		ob, err := eb.Run([]*ir.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		oa, err := ea.Run([]*ir.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		if argmax(ob[0].Float32s()) == set.Labels[i] {
			rightBefore++
		}
		if argmax(oa[0].Float32s()) == set.Labels[i] {
			rightAfter++
		}
	}
	t.Logf("first %d digits: QOperator graph %d right, lowered %d", n, rightBefore, rightAfter)
	if rightAfter < rightBefore-10 || rightBefore < n*95/100 {
		t.Errorf("lowered graph gets %d of %d right, the QOperator graph %d", rightAfter, n, rightBefore)
	}
}

// imagenetSamples reads the five ImageNet photos of ../shared with the
// zoo's ShuffleNet preprocessing (resize 256, center crop 224, ImageNet
// mean and std), in sorted file order, with their expected classes.
func imagenetSamples(t *testing.T, g *ir.Graph) ([]*ir.Tensor, []int) {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "data", "imagenet_samples")
	src, err := dataset.Open(dataset.Spec{Path: dir, Format: dataset.FormatImages, Batch: 1, Inputs: dataset.InputsOf(g),
		Preprocess: dataset.Preprocess{Resize: 256, Crop: 224, Scale: 1.0 / 255,
			Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}}})
	if err != nil {
		t.Skipf("ImageNet samples not available: %v", err)
	}
	defer src.Close()
	var out []*ir.Tensor
	for {
		b, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b[0])
	}
	// bald_eagle, goldfish, horse-cart, kimono, pelican (README.md there).
	return out, []int{22, 1, 603, 614, 144}
}

// TestShuffleNetMatchesONNXRuntime: the zoo's QDQ ShuffleNet, lowered to
// QConv/QGemm and run by the reference executor, classifies the five sample
// photos as ONNX Runtime classifies them running the original file, with
// logits close to ONNX Runtime's.
func TestShuffleNetMatchesONNXRuntime(t *testing.T) {
	modules := os.Getenv("SQC_ORT_NODE_MODULES")
	if modules == "" {
		t.Skip("SQC_ORT_NODE_MODULES is not set (see the Makefile's deps target)")
	}
	model := sharedModel(t, "shufflenet-v2-12-qdq.onnx")
	_, after := importAndLower(t, model)
	images, classes := imagenetSamples(t, after)
	if len(images) != len(classes) {
		t.Fatalf("%d images, want %d", len(images), len(classes))
	}
	dir := t.TempDir()
	type ioFile struct {
		Name string `json:"name"`
		Dims []int  `json:"dims,omitempty"`
		File string `json:"file"`
	}
	type run struct {
		Model   string   `json:"model"`
		Inputs  []ioFile `json:"inputs"`
		Outputs []ioFile `json:"outputs"`
	}
	var runs []run
	for i, x := range images {
		in := filepath.Join(dir, fmt.Sprintf("in%d.bin", i))
		b := make([]byte, 4*x.Len())
		for j, v := range x.Float32s() {
			binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(v))
		}
		if err := os.WriteFile(in, b, 0o644); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, run{Model: model, Inputs: []ioFile{{Name: after.Inputs[0].Name, Dims: x.Shape, File: in}},
			Outputs: []ioFile{{Name: after.Outputs[0].Name, File: filepath.Join(dir, fmt.Sprintf("out%d.bin", i))}}})
	}
	manifest := filepath.Join(dir, "manifest.json")
	data, err := json.Marshal(map[string]any{"runs": runs})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(manifest, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join("..", "..", "frontend", "onnx", "onnxexport", "testdata", "ort_run.js"), manifest)
	cmd.Env = append(os.Environ(), "SQC_ORT_NODE_MODULES="+modules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node ort_run.js: %v\n%s", err, out)
	}
	e, err := ref.New(after)
	if err != nil {
		t.Fatal(err)
	}
	agree, rightORT, rightSQC := 0, 0, 0
	var worstAbs, worstRel float64
	for i, x := range images {
		got, err := e.Run([]*ir.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(runs[i].Outputs[0].File)
		if err != nil {
			t.Fatal(err)
		}
		g := got[0].Float32s()
		ort := make([]float32, len(b)/4)
		for j := range ort {
			ort[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
		}
		if len(ort) != len(g) {
			t.Fatalf("ONNX Runtime gave %d logits, want %d", len(ort), len(g))
		}
		var maxAbs, maxDiff float64
		for j := range g {
			maxAbs = max(maxAbs, math.Abs(float64(ort[j])))
			maxDiff = max(maxDiff, math.Abs(float64(ort[j]-g[j])))
		}
		worstAbs, worstRel = max(worstAbs, maxDiff), max(worstRel, maxDiff/maxAbs)
		if argmax(ort) == argmax(g) {
			agree++
		}
		if argmax(ort) == classes[i] {
			rightORT++
		}
		if argmax(g) == classes[i] {
			rightSQC++
		}
		t.Logf("image %d: class %d; ONNX Runtime top-1 %d (%.3f), sqc top-1 %d (%.3f); max |diff| %.4g of max |logit| %.4g",
			i, classes[i], argmax(ort), ort[argmax(ort)], argmax(g), g[argmax(g)], maxDiff, maxAbs)
	}
	t.Logf("top-1 right: ONNX Runtime %d/5, sqc %d/5; same top-1 on %d/5; logits differ by at most %.4g (%.3g relative)",
		rightORT, rightSQC, agree, worstAbs, worstRel)
	if agree != len(images) {
		t.Errorf("sqc and ONNX Runtime agree on %d of %d top-1 classes", agree, len(images))
	}
	// ONNX Runtime fuses the Q/DQ patterns into QLinearConv and
	// QLinearMatMul, whose arithmetic QConv and QGemm share: the logits
	// agree to the zoo's tolerance (rtol 1e-3); in practice bit for bit.
	if worstRel > 1e-3 {
		t.Errorf("logits differ from ONNX Runtime's by %.3g relative, want at most 1e-3", worstRel)
	}
}

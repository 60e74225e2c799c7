package prune_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/frontend/onnx/onnxexport"
	"github.com/sqc-project/sqc/internal/mnist"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// TestONNXRoundTripExisting: a model pruned, exported as ONNX (which keeps
// the zeros but not the claims) and imported again is recognised as 2:4
// exactly: require-existing accepts it, every pruned layer keeps its mask
// and values ("existing mask"), and the model computes what it did. This is
// the path of a model pruned by ASP, fine-tuned and exported.
func TestONNXRoundTripExisting(t *testing.T) {
	g, _ := domainNet(t)
	if _, err := runPipeline(g, "prune{"+allLayers+";permute=true}"); err != nil {
		t.Fatal(err)
	}
	data, err := onnxexport.Encode(g, onnxexport.Options{Producer: "test"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Decode(data, "")
	if err != nil {
		t.Fatal(err)
	}
	back, err := m.Lower()
	if err != nil {
		t.Fatal(err)
	}
	x := randInput(rand.New(rand.NewPCG(4, 4)), 2, 8, 6, 6)
	want := runGraph(t, g, x)
	if _, err := runPipeline(back, "prune{"+allLayers+";require-existing=true}"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"conv1", "conv2", "conv3", "fc"} {
		if got := node(t, back, name).Notes["sparsity"]; got != "2:4 (existing mask)" {
			t.Errorf("%s: note %q", name, got)
		}
	}
	got := runGraph(t, back, x)
	for i := range want {
		if d := maxRelDiff(want[i], got[i]); d > 1e-6 {
			t.Errorf("output %d differs by %.2g after the round trip and the second prune", i, d)
		}
	}
}

// sharedDir is the third-party test material, ../shared from the
// repository root.
func sharedDir(t *testing.T) string {
	d := filepath.Join("..", "..", "..", "shared")
	if _, err := os.Stat(filepath.Join(d, "models", "mnist-8.onnx")); err != nil {
		t.Skipf("no shared test material: %v", err)
	}
	return d
}

// TestMNISTSparseGPT: on the ONNX zoo's mnist-8 (a real, trained model),
// every layer made 2:4 by SparseGPT calibrated on 256 training images
// stays within a point of the dense model's accuracy on 1,000 test images,
// and above magnitude pruning's. (bench/sparsity measures the full table.)
func TestMNISTSparseGPT(t *testing.T) {
	if testing.Short() {
		t.Skip("evaluates a model on 1,000 images three times")
	}
	dir := sharedDir(t)
	test, err := mnist.Test(filepath.Join(dir, "data", "mnist"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	acc := func(g *ir.Graph) float64 {
		e, err := ref.New(g)
		if err != nil {
			t.Fatal(err)
		}
		ok := 0
		for i := range n {
			x, err := test.Images.Tensor(i, i+1, mnist.Raw)
			if err != nil {
				t.Fatal(err)
			}
			out, err := e.Run([]*ir.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			best, v := 0, out[0].Float32s()
			for j := range v {
				if v[j] > v[best] {
					best = j
				}
			}
			if best == test.Labels[i] {
				ok++
			}
		}
		return 100 * float64(ok) / n
	}
	base := "infer-shapes,remove-identity,fold-constants,dce"
	load := func() *ir.Graph {
		g, err := onnx.Import(filepath.Join(dir, "models", "mnist-8.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	dense, mag, gpt := load(), load(), load()
	if _, err := runPipeline(dense, base); err != nil {
		t.Fatal(err)
	}
	if _, err := runPipeline(mag, base+",prune{"+allLayers+"}"); err != nil {
		t.Fatal(err)
	}
	train := filepath.Join(dir, "data", "mnist", mnist.TrainImagesFile)
	if _, err := runPipeline(gpt, base+",prune{"+allLayers+";method=sparsegpt;samples=256;data="+train+"}"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Convolution110", "Times212"} {
		if note := node(t, gpt, name).Notes["sparsity"]; !strings.HasPrefix(note, "2:4 (sparsegpt") {
			t.Errorf("%s: note %q", name, note)
		}
	}
	ad, am, ag := acc(dense), acc(mag), acc(gpt)
	t.Logf("mnist-8 on %d test images: dense %.1f %%, 2:4 magnitude %.1f %%, 2:4 sparsegpt %.1f %%", n, ad, am, ag)
	if ag < ad-1 || ag < am {
		t.Errorf("sparsegpt %.1f %%: want within a point of dense (%.1f %%) and at least magnitude (%.1f %%)", ag, ad, am)
	}
}

package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/sqc-project/sqc/internal/dataset"
	"github.com/sqc-project/sqc/internal/zoo"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/recipes"
)

// TestShippedRecipesCompile compiles a model with every recipe sqc ships
// (by its built-in name): each one must run its whole pipeline, verification
// after every pass included. Most take the example model and its
// calibration data; the ResNet-50 recipe, whose preprocessing is
// ImageNet's, takes a narrow ResNet-50 built here and the photos in
// ../shared/data/imagenet_samples.
func TestShippedRecipesCompile(t *testing.T) {
	names, err := fs.Glob(recipes.FS, "*.sqr")
	if err != nil || len(names) == 0 {
		t.Fatalf("no shipped recipes: %v", err)
	}
	example := filepath.Join("..", "..", "examples")
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			model := filepath.Join(example, "resnet-mini.onnx")
			data := filepath.Join(example, "resnet-mini-calib.npy")
			needShared := func(path string) {
				if _, err := os.Stat(path); err != nil {
					if os.Getenv("CI") == "true" {
						t.Fatalf("CI=true but %s is missing", path)
					}
					t.Skipf("%s is missing", path)
				}
			}
			switch name {
			case "qat.sqr":
				// qat.sqr lowers a model's own quantization; on a float
				// model it quantizes nothing, which is an error.
				model = filepath.Join("..", "..", "..", "shared", "models", "mnist-8-convinteger-quantized_connxr.onnx")
				needShared(model)
			case "sparse-qat.sqr":
				// A model exported after sparse fine-tuning + QAT: its
				// own Q/DQ and 2:4 weights.
				b, err := zoo.QATConvNet(3)
				if err != nil {
					t.Fatal(err)
				}
				model = filepath.Join(t.TempDir(), "qat.onnx")
				if err := b.WriteFile(model); err != nil {
					t.Fatal(err)
				}
			case "resnet50-sparse-int8.sqr":
				data = filepath.Join("..", "..", "..", "shared", "data", "imagenet_samples")
				needShared(data)
				b, err := zoo.ResNet(zoo.ResNetConfig{Depth: 50, Width: 16, Size: 224, Classes: 1000, Seed: 5})
				if err != nil {
					t.Fatal(err)
				}
				model = filepath.Join(t.TempDir(), "resnet50.onnx")
				if err := b.WriteFile(model); err != nil {
					t.Fatal(err)
				}
			}
			out := filepath.Join(t.TempDir(), "model.sqir")
			var stdout, stderr bytes.Buffer
			args := []string{"compile", "-r", name, "--verify-each", "--calib-data", data, model, "-o", out}
			if status := run(args, &stdout, &stderr); status != 0 {
				t.Fatalf("sqc %v: exit %d\n%s", args, status, stderr.String())
			}
		})
	}
}

// The ResNet-50 recipe resizes and crops images; given arrays (.npy of
// tensors already 224×224) it takes them as they are.
func TestResNet50RecipeOnArrays(t *testing.T) {
	if testing.Short() {
		t.Skip("a ResNet-50")
	}
	dir := t.TempDir()
	b, err := zoo.ResNet(zoo.ResNetConfig{Depth: 50, Width: 16, Size: 224, Classes: 1000, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "resnet50.onnx")
	if err := b.WriteFile(model); err != nil {
		t.Fatal(err)
	}
	x := ir.NewTensor(ir.Float32, 2, 3, 224, 224)
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(i%251) / 251
	}
	data := filepath.Join(dir, "calib.npy")
	f, err := os.Create(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := dataset.WriteNpy(f, x); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var stdout, stderr bytes.Buffer
	args := []string{"compile", "-q", "-r", "resnet50-sparse-int8.sqr", "--calib-data", data, model, "-o", filepath.Join(dir, "out.sqir")}
	if status := run(args, &stdout, &stderr); status != 0 {
		t.Fatalf("sqc %v: exit %d\n%s", args, status, stderr.String())
	}
}

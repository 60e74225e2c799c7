// Command coverage writes the models of the GPU coverage check (issue 12)
// and an input for each: internal/zoo's small networks of the shapes a
// ResNet does not have (a 2:4 QAT export with BatchNormalization after its
// convolutions, SqueezeNet-style Concats, a TensorFlow-style NHWC input,
// MobileNetV3-style HardSwish and squeeze-and-excitation, a ResNet-18
// flattened by PyTorch's shape chain on a symbolic batch), each as NAME.onnx
// with NAME.npy holding 8 random N(0,1) samples, and one-sample inputs for
// ../shared's ShuffleNet-v2 QDQ and super-resolution models.
// bench/coverage/build.sh compiles them; bench/coverage/run.sh runs them on
// a GPU.
//
//	go run ./bench/coverage -o DIR
package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/sqc-project/sqc/frontend/onnx/onnxbuild"
	"github.com/sqc-project/sqc/internal/atomicfile"
	"github.com/sqc-project/sqc/internal/dataset"
	"github.com/sqc-project/sqc/internal/zoo"
	"github.com/sqc-project/sqc/ir"
)

// models are the coverage models with their per-sample input shapes.
var models = []struct {
	name  string
	shape []int
	build func() (*onnxbuild.Builder, error)
}{
	{"qat", []int{16, 8, 8}, func() (*onnxbuild.Builder, error) { return zoo.QATConvNet(1) }},
	{"fire", []int{3, 32, 32}, func() (*onnxbuild.Builder, error) { return zoo.FireNet(1) }},
	{"tf", []int{32, 32, 3}, func() (*onnxbuild.Builder, error) { return zoo.TFNet(1) }},
	{"se", []int{3, 32, 32}, func() (*onnxbuild.Builder, error) { return zoo.SENet(1) }},
	{"resnet18-shape-chain", []int{3, 32, 32}, func() (*onnxbuild.Builder, error) {
		return zoo.ResNet(zoo.ResNetConfig{Depth: 18, Width: 16, Size: 32, Classes: 10, ShapeChainFlatten: true, Seed: 1})
	}},
	// ../shared's models, static batch 1: only their inputs are written.
	{"shufflenet-v2-12-qdq", []int{3, 224, 224}, nil},
	{"super-resolution-10", []int{1, 224, 224}, nil},
}

func main() {
	dir := flag.String("o", "", "output `directory` (required)")
	flag.Parse()
	if *dir == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: coverage -o DIR")
		os.Exit(2)
	}
	if err := write(*dir); err != nil {
		fmt.Fprintf(os.Stderr, "coverage: %v\n", err)
		os.Exit(1)
	}
}

func write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, m := range models {
		batch := 1
		if m.build != nil {
			b, err := m.build()
			if err != nil {
				return err
			}
			if err := b.WriteFile(filepath.Join(dir, m.name+".onnx")); err != nil {
				return err
			}
			batch = 8
		}
		x := ir.NewTensor(ir.Float32, append([]int{batch}, m.shape...)...)
		for i := range x.Float32s() {
			x.Float32s()[i] = float32(r.NormFloat64())
		}
		if err := atomicfile.Write(filepath.Join(dir, m.name+".npy"), func(w io.Writer) error { return dataset.WriteNpy(w, x) }); err != nil {
			return err
		}
	}
	return nil
}

package calibrate_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/internal/dataset"
	"github.com/sqc-project/sqc/internal/zoo"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/all"
	"github.com/sqc-project/sqc/passes/calibrate"
)

// Calibration throughput, images per second, end to end (graph hash, data
// hash, reading and preprocessing, the reference executor, histograms and
// the entropy calibrator). bench/calibrate.sh runs these.

// floatPipeline is the graph the quantize pass will see: the default
// pipeline up to fusion (BN folded, epilogues fused), before layout.
func floatPipeline(b *testing.B, g *ir.Graph) {
	b.Helper()
	specs := all.Specs(all.GraphPipeline)
	var keep []passes.StepSpec
	for _, s := range specs {
		if s.Name == "pad-channels" || s.Name == "assign-layout" {
			continue
		}
		keep = append(keep, s)
	}
	p, err := passes.Build(keep)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := (&passes.Manager{}).Run(g, p); err != nil {
		b.Fatal(err)
	}
}

func benchCalibrate(b *testing.B, g *ir.Graph, spec dataset.Spec, method string) {
	b.Helper()
	samples := 0
	var elapsed time.Duration
	for b.Loop() {
		start := time.Now()
		cfg := calibrate.Config{Data: spec, Method: method}
		if method == calibrate.MethodAuto {
			cfg.InputMethod = calibrate.MethodMax // the pass's default
		}
		res, err := calibrate.Calibrate(g, cfg)
		if err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		samples += res.Samples
	}
	b.ReportMetric(float64(samples)/elapsed.Seconds(), "images/s")
}

func benchInference(b *testing.B, g *ir.Graph, spec dataset.Spec) {
	b.Helper()
	spec.Inputs = dataset.InputsOf(g)
	src, err := dataset.Open(spec)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	var batches [][]*ir.Tensor
	for {
		batch, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		batches = append(batches, batch)
	}
	e, err := ref.New(g)
	if err != nil {
		b.Fatal(err)
	}
	samples := 0
	start := time.Now()
	for b.Loop() {
		for _, batch := range batches {
			if _, err := e.Run(batch); err != nil {
				b.Fatal(err)
			}
			samples += batch[0].Shape[0]
		}
	}
	b.ReportMetric(float64(samples)/time.Since(start).Seconds(), "images/s")
}

// BenchmarkCalibrateMNISTBurn: the PyTorch MNIST model (batch dim fixed at
// 1, so one image per run), 512 test images normalised as it was trained.
func BenchmarkCalibrateMNISTBurn(b *testing.B) {
	model := "../../../shared/models/mnist_burn_pytorch_bn.onnx"
	if _, err := os.Stat(model); err != nil {
		b.Skip("no ../shared")
	}
	g, err := onnx.Import(model)
	if err != nil {
		b.Fatal(err)
	}
	floatPipeline(b, g)
	spec := dataset.Spec{Path: "../../../shared/data/mnist/t10k-images-idx3-ubyte.gz", Limit: 512,
		Preprocess: dataset.Preprocess{Scale: 1.0 / 255, Mean: []float32{0.1307}, Std: []float32{0.3081}}}
	for _, m := range []string{calibrate.MethodEntropy, calibrate.MethodMax, calibrate.MethodAuto} {
		b.Run(m, func(b *testing.B) { benchCalibrate(b, g, spec, m) })
	}
	b.Run("inference-only", func(b *testing.B) { benchInference(b, g, spec) })
}

// BenchmarkCalibrateResNet34: torchvision's ResNet-34 shape at 224×224
// (internal/zoo weights), on 40 images (the five ImageNet sample photos,
// each copied eight times, so that fixed costs weigh as little as in a real
// calibration) resized to 256 and center-cropped to 224, one image per run
// and eight; entropy and auto.
func BenchmarkCalibrateResNet34(b *testing.B) {
	g := zooResNet(b, 34)
	dir := samplePhotos(b, 40)
	for _, batch := range []int{1, 8} {
		spec := dataset.Spec{Path: dir, Batch: batch, Preprocess: imagenetPreprocess}
		b.Run(fmt.Sprintf("batch%d", batch), func(b *testing.B) {
			benchCalibrate(b, g, spec, calibrate.MethodEntropy)
		})
		// auto on the same images: 10 of the 40 are held out and every
		// candidate range is measured at the layers reading it.
		b.Run(fmt.Sprintf("batch%d-auto", batch), func(b *testing.B) {
			benchCalibrate(b, g, spec, calibrate.MethodAuto)
		})
		// The same batches through the executor alone, without observing
		// anything: what calibration costs on top of inference.
		b.Run(fmt.Sprintf("batch%d-inference-only", batch), func(b *testing.B) {
			benchInference(b, g, spec)
		})
	}
}

// BenchmarkCalibrateResNet50Auto: the build of issue 11, the calibrate step
// of recipes/dense-int8.sqr on a ResNet-50 (internal/zoo weights) with 32
// images one per run: 24 into the histograms, 8 held out on which auto
// reruns each layer for each of about 190 candidate ranges.
func BenchmarkCalibrateResNet50Auto(b *testing.B) {
	g := zooResNet(b, 50)
	spec := dataset.Spec{Path: samplePhotos(b, 32), Batch: 1, Preprocess: imagenetPreprocess}
	benchCalibrate(b, g, spec, calibrate.MethodAuto)
}

var imagenetPreprocess = dataset.Preprocess{Resize: 256, Crop: 224, Scale: 1.0 / 255,
	Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}}

// zooResNet is torchvision's ResNet of that depth at 224×224 with
// internal/zoo's seeded weights, through the float pipeline.
func zooResNet(b *testing.B, depth int) *ir.Graph {
	b.Helper()
	m, err := zoo.ResNet(zoo.ResNetConfig{Depth: depth, Width: 64, Size: 224, Classes: 1000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), fmt.Sprintf("resnet%d.onnx", depth))
	if err := m.WriteFile(path); err != nil {
		b.Fatal(err)
	}
	g, err := onnx.Import(path)
	if err != nil {
		b.Fatal(err)
	}
	floatPipeline(b, g)
	return g
}

// samplePhotos returns a folder of n JPEGs: the five ImageNet sample photos
// of ../shared in turn (skipping the benchmark without them).
func samplePhotos(b *testing.B, n int) string {
	b.Helper()
	images := "../../../shared/data/imagenet_samples"
	if _, err := os.Stat(images); err != nil {
		b.Skip("no ../shared")
	}
	photos, err := filepath.Glob(filepath.Join(images, "*.jp*g"))
	if err != nil || len(photos) != 5 {
		b.Fatalf("want the 5 sample photos, found %v (%v)", photos, err)
	}
	dir := b.TempDir()
	for i := range n {
		data, err := os.ReadFile(photos[i%5])
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("img%03d.jpg", i)), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

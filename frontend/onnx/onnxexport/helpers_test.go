package onnxexport_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/frontend/onnx/onnxexport"
	"github.com/sqc-project/sqc/internal/zoo"
	"github.com/sqc-project/sqc/ir"
)

// sharedModels returns the real models of ../shared/models by file name.
// Outside CI a missing directory just leaves them out.
func sharedModels(t *testing.T) map[string]string {
	t.Helper()
	models := map[string]string{}
	dir := filepath.Join("..", "..", "..", "..", "shared", "models")
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is missing: %v", dir, err)
		}
		t.Logf("no shared models (%v); testing the generated ones only", err)
		return models
	}
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".onnx" {
			models[e.Name()] = filepath.Join(dir, e.Name())
		}
	}
	return models
}

// zooModels writes the generated ResNets the tests use and returns their
// paths by name.
func zooModels(t *testing.T) map[string]string {
	t.Helper()
	models := map[string]string{}
	for _, c := range []zoo.ResNetConfig{
		{Depth: 18, Width: 8, Size: 32, Classes: 10, Seed: 1},
		// Bottleneck blocks, a fixed batch and the Shape → Gather →
		// Unsqueeze → Concat → Reshape chain of older PyTorch exports.
		{Depth: 50, Width: 8, Size: 32, Classes: 10, Seed: 2, Batch: 2, ShapeChainFlatten: true},
	} {
		b, err := zoo.ResNet(c)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("resnet%d.onnx", c.Depth)
		path := filepath.Join(t.TempDir(), name)
		if err := b.WriteFile(path); err != nil {
			t.Fatal(err)
		}
		models[name] = path
	}
	return models
}

// allModels is sharedModels and zooModels together, sorted by name.
func allModels(t *testing.T) (names []string, paths map[string]string) {
	paths = sharedModels(t)
	for k, v := range zooModels(t) {
		paths[k] = v
	}
	for k := range paths {
		names = append(names, k)
	}
	sort.Strings(names)
	return names, paths
}

// reimport encodes g and lowers the bytes again, as a runtime would read
// the file.
func reimport(t *testing.T, g *ir.Graph, opt onnxexport.Options) *ir.Graph {
	t.Helper()
	data, err := onnxexport.Encode(g, opt)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	m, err := onnx.Decode(data, "")
	if err != nil {
		t.Fatalf("re-import: %v", err)
	}
	g2, err := m.Lower()
	if err != nil {
		t.Fatalf("re-import: %v", err)
	}
	return g2
}

// randomInputs draws inputs for g's graph inputs: floats uniform in
// [-1, 1), integers in [0, 10), with symbolic dims bound to 2.
func randomInputs(t *testing.T, g *ir.Graph, seed uint64) []*ir.Tensor {
	t.Helper()
	rng := zoo.NewRand(seed)
	var out []*ir.Tensor
	for _, v := range g.Inputs {
		dims := make([]int, len(v.Type.Shape))
		for i, d := range v.Type.Shape {
			dims[i] = 2
			if d.Known() {
				dims[i] = int(d.Size)
			}
		}
		x := ir.NewTensor(v.Type.DType, dims...)
		switch d := x.Data.(type) {
		case []float32:
			for i := range d {
				d[i] = float32(2*rng.Float64() - 1)
			}
		case []int64:
			for i := range d {
				d[i] = int64(rng.Uint64() % 10)
			}
		case []uint8:
			for i := range d {
				d[i] = uint8(rng.Uint64())
			}
		case []int8:
			for i := range d {
				d[i] = int8(rng.Uint64())
			}
		default:
			t.Fatalf("input %s: no random generator for %v", v.Name, v.Type.DType)
		}
		out = append(out, x)
	}
	return out
}

// sameBits reports the first element where two tensors differ in bits
// (NaNs of different payloads differ too), or "" when they are identical.
func sameBits(want, got *ir.Tensor) string {
	if want.DType != got.DType || fmt.Sprint(want.Shape) != fmt.Sprint(got.Shape) {
		return fmt.Sprintf("%v%v, want %v%v", got.DType, got.Shape, want.DType, want.Shape)
	}
	if w, ok := want.Data.([]float32); ok {
		g := got.Float32s()
		for i := range w {
			if math.Float32bits(w[i]) != math.Float32bits(g[i]) {
				return fmt.Sprintf("element %d is %v, want %v", i, g[i], w[i])
			}
		}
		return ""
	}
	for i := 0; i < want.Len(); i++ {
		if want.AsFloat64(i) != got.AsFloat64(i) {
			return fmt.Sprintf("element %d is %v, want %v", i, got.AsFloat64(i), want.AsFloat64(i))
		}
	}
	return ""
}

// maxRelDiff is the largest |want - got| over float elements, relative to
// the largest |want| (at least 1), with the element's index.
func maxRelDiff(want, got *ir.Tensor) (diff float64, at int) {
	scale := 1.0
	for i := 0; i < want.Len(); i++ {
		scale = math.Max(scale, math.Abs(want.AsFloat64(i)))
	}
	for i := 0; i < want.Len(); i++ {
		w, g := want.AsFloat64(i), got.AsFloat64(i)
		if w != w && g != g {
			continue // NaN in both
		}
		d := math.Abs(w - g)
		if d != d {
			return math.Inf(1), i // NaN against a number
		}
		if d/scale > diff {
			diff, at = d/scale, i
		}
	}
	return diff, at
}

package lowerint8

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx/onnxbuild"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// dataMoves is the number of rulesModel's outputs that must agree with
// ONNX Runtime exactly: those that only move or select codes, and last a
// Concat of inputs with different parameters, each requantized to the
// output's (the same float arithmetic as the Q/DQ graph's); the average
// pools follow.
const dataMoves = 9

// rulesModel is a QDQ ONNX model with one branch per rule of where int8
// stays int8: each op sits between DequantizeLinear and QuantizeLinear as
// ONNX Runtime's quantizer writes them, and each branch's output is
// dequantized (scale sy, so one code is sy).
func rulesModel() ([]byte, []string) {
	b := onnxbuild.New("rules", 17)
	x := b.Input("x", ir.Float32, 2, 8, 6, 6)
	sx, zx := b.Const(ir.FromFloat32([]float32{0.05})), b.Const(int8Scalar(-7))
	sy, zy := b.Const(ir.FromFloat32([]float32{0.03})), b.Const(int8Scalar(4))
	q := b.Node("QuantizeLinear", []string{x, sx, zx}, nil)
	d := b.Node("DequantizeLinear", []string{q, sx, zx}, nil)
	// Data movement and MaxPool keep the input's parameters.
	same := func(v string) string {
		return b.Node("DequantizeLinear", []string{b.Node("QuantizeLinear", []string{v, sx, zx}, nil), sx, zx}, nil)
	}
	// Average pools requantize to the output's parameters.
	requant := func(v string) string {
		return b.Node("DequantizeLinear", []string{b.Node("QuantizeLinear", []string{v, sy, zy}, nil), sy, zy}, nil)
	}
	// A second int8 source with other parameters, for a Concat whose
	// inputs are requantized to its output's.
	s2, z2 := b.Const(ir.FromFloat32([]float32{0.08})), b.Const(int8Scalar(2))
	d2 := b.Node("DequantizeLinear", []string{b.Node("QuantizeLinear", []string{x, s2, z2}, nil), s2, z2}, nil)
	outs := []string{
		same(b.Node("MaxPool", []string{d}, map[string]any{"kernel_shape": []int64{3, 3}, "strides": []int64{2, 2}, "pads": []int64{1, 1, 1, 1}})),
		same(b.Node("Transpose", []string{d}, map[string]any{"perm": []int64{0, 2, 3, 1}})),
		same(b.Node("Reshape", []string{d, b.Ints(2, 4, 72)}, nil)),
		same(b.Node("Flatten", []string{d}, map[string]any{"axis": 1})),
		same(b.Node("Slice", []string{d, b.Ints(1), b.Ints(5), b.Ints(2)}, nil)),
		same(b.Node("Concat", []string{d, d}, map[string]any{"axis": 1})),
		same(b.Node("Pad", []string{d, b.Ints(0, 0, 1, 2, 0, 0, 2, 1), b.Const(ir.FromFloat32([]float32{0}))}, nil)),
		same(b.Node("Pad", []string{d, b.Ints(0, 0, 1, 2, 0, 0, 2, 1)}, map[string]any{"mode": "reflect"})),
		requant(b.Node("Concat", []string{d, d2}, map[string]any{"axis": 1})),
		requant(b.Node("GlobalAveragePool", []string{d}, nil)),
		requant(b.Node("AveragePool", []string{d}, map[string]any{"kernel_shape": []int64{3, 3}, "strides": []int64{2, 2},
			"pads": []int64{1, 1, 1, 1}, "count_include_pad": 1})),
		requant(b.Node("AveragePool", []string{d}, map[string]any{"kernel_shape": []int64{2, 2}, "strides": []int64{2, 2}})),
	}
	for _, o := range outs {
		b.OutputUntyped(o)
	}
	data, err := b.Bytes()
	if err != nil {
		panic(err)
	}
	return data, outs
}

// TestRulesMatchONNXRuntime runs the QDQ model in ONNX Runtime (the
// original file) and, lowered by lower-int8, in the reference executor:
// the data-movement branches and MaxPool must run on int8 values and agree
// with ONNX Runtime exactly; the average pools run as int8 QConvs and agree
// within one output code on at most 2% of the elements (rounding ties: a
// 2×2 pool's sums of four codes land on halves; 2 of 144 differ here).
func TestRulesMatchONNXRuntime(t *testing.T) {
	modules := os.Getenv("SQC_ORT_NODE_MODULES")
	if modules == "" {
		t.Skip("SQC_ORT_NODE_MODULES is not set (see the Makefile's deps target)")
	}
	data, outs := rulesModel()
	dir := t.TempDir()
	model := filepath.Join(dir, "rules.onnx")
	if err := os.WriteFile(model, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, after := importAndLower(t, model)
	for _, n := range after.Nodes {
		switch n.Op {
		case "MaxPool", "Transpose", "Reshape", "Flatten", "Slice", "Concat", "Pad":
			// (The mixed-parameter Concat's inputs are requantized
			// first: DequantizeLinear, QuantizeLinear.)
			if n.Inputs[0].Type.DType != ir.Int8 {
				t.Errorf("node %s (%s) reads %v, want int8", n.Name, n.Op, n.Inputs[0].Type.DType)
			}
		case "GlobalAveragePool", "AveragePool":
			t.Errorf("node %s (%s) was not lowered to int8", n.Name, n.Op)
		}
	}
	r := rand.New(rand.NewPCG(21, 22))
	x := ir.NewTensor(ir.Float32, 2, 8, 6, 6)
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(r.NormFloat64() * 3)
	}
	in := filepath.Join(dir, "x.bin")
	raw := make([]byte, 4*x.Len())
	for i, v := range x.Float32s() {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	if err := os.WriteFile(in, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	type ioFile struct {
		Name string `json:"name"`
		Dims []int  `json:"dims,omitempty"`
		File string `json:"file"`
	}
	run := map[string]any{"model": model, "inputs": []ioFile{{Name: "x", Dims: x.Shape, File: in}}}
	var of []ioFile
	for i, o := range outs {
		of = append(of, ioFile{Name: o, File: filepath.Join(dir, fmt.Sprintf("y%d.bin", i))})
	}
	run["outputs"] = of
	runORT(t, filepath.Join(dir, "manifest.json"), run, modules)
	got, err := ref.Run(after, x)
	if err != nil {
		t.Fatal(err)
	}
	for i := range outs {
		b, err := os.ReadFile(of[i].File)
		if err != nil {
			t.Fatal(err)
		}
		g := got[i].Float32s()
		if len(b) != 4*len(g) {
			t.Fatalf("output %d: ONNX Runtime gave %d values, want %d", i, len(b)/4, len(g))
		}
		lsb := 0.05
		if i >= dataMoves-1 {
			lsb = 0.03
		}
		diff, worst := 0, 0.0
		for j := range g {
			o := math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
			if d := math.Abs(float64(o-g[j])) / lsb; d > 1e-3 {
				diff++
				worst = max(worst, d)
			}
		}
		t.Logf("output %d (%s): %d of %d differ from ONNX Runtime, by up to %.3g codes", i, outs[i], diff, len(g), worst)
		switch {
		case i < dataMoves && diff > 0:
			t.Errorf("output %d: a data-movement rule changed %d values", i, diff)
		case worst > 1.001 || diff > len(g)/50:
			t.Errorf("output %d: %d of %d codes differ by up to %.3g: want ±1 on at most 2%%", i, diff, len(g), worst)
		}
	}
}

// int8Scalar is a 0-d int8 tensor (a zero point).
func int8Scalar(v int8) *ir.Tensor {
	t := ir.NewTensor(ir.Int8)
	t.Int8s()[0] = v
	return t
}

// runORT writes run as the manifest file of ort_run.js (frontend/onnx/
// onnxexport/testdata) and runs it under node with ONNX Runtime's npm
// build in modules: the outputs land in the files run names.
func runORT(t *testing.T, manifest string, run map[string]any, modules string) {
	t.Helper()
	mj, err := json.Marshal(map[string]any{"runs": []any{run}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(manifest, mj, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join("..", "..", "frontend", "onnx", "onnxexport", "testdata", "ort_run.js"), manifest)
	cmd.Env = append(os.Environ(), "SQC_ORT_NODE_MODULES="+modules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node ort_run.js: %v\n%s", err, out)
	}
}

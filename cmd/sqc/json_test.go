package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/all"
)

// sqcJSON runs sqc with args, requires success, and decodes its stdout,
// which must be exactly one JSON document, into v. It returns stderr.
func sqcJSON(t *testing.T, v any, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if status := run(args, &stdout, &stderr); status != 0 {
		t.Fatalf("sqc %v: exit %d\n%s", args, status, stderr.String())
	}
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("sqc %v: stdout is not the documented JSON: %v\n%s", args, err, stdout.String())
	}
	if dec.More() {
		t.Fatalf("sqc %v: more than one JSON document on stdout", args)
	}
	return stderr.String()
}

var example = filepath.Join("..", "..", "examples")

// TestCompileJSON compiles the example to an engine with its recipe and
// checks the report against what the recipe asks for and what the engine
// holds.
func TestCompileJSON(t *testing.T) {
	out := filepath.Join(t.TempDir(), "mini.sqe")
	var r compileReport
	stderr := sqcJSON(t, &r, "compile", "--json", filepath.Join(example, "resnet-mini.onnx"),
		"-r", filepath.Join(example, "resnet-mini.sqr"), "--calib-data", filepath.Join(example, "resnet-mini-calib.npy"), "-o", out)
	if r.Output != out || r.Form != "engine" || r.Bytes <= 0 || r.Seconds <= 0 {
		t.Errorf("output %q form %q bytes %d seconds %v", r.Output, r.Form, r.Bytes, r.Seconds)
	}
	// The summary on stderr says what the report says.
	summary := regexp.MustCompile(`(?m)^.*mini\.sqe: engine, [0-9.]+ KiB, 9 layers \(7 2:4 sparse, 9 INT8, 0 float, 0 on float fallback kernels\), compiled in [0-9.]+ s$`)
	if !summary.MatchString(stderr) {
		t.Errorf("stderr has no summary line:\n%s", stderr)
	}
	if r.Totals.Layers != len(r.Layers) || r.Totals.Layers != 9 {
		t.Fatalf("totals %+v for %d layers, want 9 (8 convs and the classifier)", r.Totals, len(r.Layers))
	}
	sparse, int8 := 0, 0
	for _, l := range r.Layers {
		if l.Sparsity == "2:4" {
			sparse++
			if !strings.HasPrefix(l.Why, "2:4 (sparsegpt, chosen by auto") || !strings.Contains(l.Kernel, "sp24") {
				t.Errorf("%s: 2:4 layer with why %q and kernel %q", l.Name, l.Why, l.Kernel)
			}
		} else if !strings.HasPrefix(l.Why, "dense: ") || strings.Contains(l.Kernel, "sp24") {
			t.Errorf("%s: dense layer with why %q and kernel %q", l.Name, l.Why, l.Kernel)
		}
		if strings.HasPrefix(l.Precision, "int8") {
			int8++
		}
		in := l.Input
		if in == nil {
			t.Errorf("%s: no input quantization", l.Name)
			continue
		}
		if d := in.Amax - 127*in.Scale; d > 1e-6*in.Amax || d < -1e-6*in.Amax {
			t.Errorf("%s: amax %v for scale %v", l.Name, in.Amax, in.Scale)
		}
		if in.Min == nil || in.Max == nil || *in.Max > in.Amax*1.000001 && in.Method == "max" {
			t.Errorf("%s: input range %+v", l.Name, in)
		}
	}
	if sparse != r.Totals.Sparse || int8 != r.Totals.Int8 || r.Totals.Fallback == nil || *r.Totals.Fallback != 0 {
		t.Errorf("totals %+v, counted %d sparse and %d int8", r.Totals, sparse, int8)
	}
	// The first layer reads the graph input, calibrated with input-method
	// (max); the others with the recipe's method, auto, which names the
	// calibrator it chose for each.
	first, second := r.Layers[0], r.Layers[1]
	if first.Name != "stem.conv" || first.Why != "dense: first layer (first-layer = skip)" || first.Input.Value != "input" || first.Input.Method != "max" {
		t.Errorf("first layer: %+v input %+v", first, first.Input)
	}
	if m := second.Input.Method; (m != "max" && m != "percentile" && m != "mse" && m != "entropy") || *second.Input.Min != 0 {
		t.Errorf("second layer reads a Relu's output, calibrated by auto's choice: %+v", second.Input)
	}
	if c := r.Calibration; c == nil || c.Method != "auto" || c.InputMethod != "max" || c.Samples != 32 || c.FromCache {
		t.Errorf("calibration %+v", r.Calibration)
	}
	if len(r.Warnings) != 0 {
		t.Errorf("warnings %v", r.Warnings)
	}
}

// A compile whose recipe prunes nothing reports the warning in its JSON too.
func TestCompileJSONWarnings(t *testing.T) {
	var r compileReport
	sqcJSON(t, &r, "compile", "--json", "-q", filepath.Join(example, "resnet-mini.onnx"),
		"--calib-data", filepath.Join(example, "resnet-mini-calib.npy"), "-o", filepath.Join(t.TempDir(), "mini.onnx"))
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "pruned no layer") {
		t.Errorf("warnings %q", r.Warnings)
	}
	if r.Totals.Sparse != 0 || r.Totals.Fallback != nil || r.Layers[3].Kernel != "" {
		t.Errorf("an ONNX output: totals %+v", r.Totals)
	}
}

// recipe pipeline --json and compile --dry-run --json print the same
// pipeline, with every option's final value.
func TestPipelineJSON(t *testing.T) {
	recipe := filepath.Join(example, "resnet-mini.sqr")
	var a, b pipelineJSON
	sqcJSON(t, &a, "recipe", "pipeline", "--json", recipe)
	sqcJSON(t, &b, "compile", "--dry-run", "--json", "-r", recipe, filepath.Join(example, "resnet-mini.onnx"))
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Errorf("recipe pipeline and compile --dry-run differ:\n%s\n%s", ja, jb)
	}
	var names []string
	var prune *stepJSON
	for i, s := range a.Steps {
		names = append(names, s.Pass)
		if s.Pass == "prune" {
			prune = &a.Steps[i]
		}
	}
	if prune == nil {
		t.Fatalf("no prune step in %v", names)
	}
	// The recipe sets min-out-channels; the rest are defaults; the
	// pattern is a ratio, written as text.
	if prune.Options["min-out-channels"] != 16.0 || prune.Options["pattern"] != "2:4" || prune.Options["method"] != "auto" {
		t.Errorf("prune options %v", prune.Options)
	}
}

// passes --json lists every registered pass with its options, and the
// default pipeline in order.
func TestPassesJSON(t *testing.T) {
	var got struct {
		Passes          []passJSON `json:"passes"`
		DefaultPipeline []string   `json:"default_pipeline"`
	}
	sqcJSON(t, &got, "passes", "--json")
	if len(got.Passes) != len(passes.All()) {
		t.Errorf("%d passes, want %d", len(got.Passes), len(passes.All()))
	}
	var want []string
	for _, p := range all.GraphPipeline {
		want = append(want, p.Name)
	}
	if !slices.Equal(got.DefaultPipeline, want) {
		t.Errorf("default pipeline %v, want %v", got.DefaultPipeline, want)
	}
	for _, p := range got.Passes {
		reg := passes.Lookup(p.Name)
		if reg == nil || len(p.Options) != len(reg.Options) || p.Doc != reg.Doc {
			t.Errorf("%s: %d options, doc %q", p.Name, len(p.Options), p.Doc)
			continue
		}
		if p.Name == "quantize" && !slices.Equal(p.Requires, []string{"calibrate"}) {
			t.Errorf("quantize requires %v", p.Requires)
		}
		if p.Name == "calibrate" && p.Kind != "analysis" {
			t.Errorf("calibrate is a %s", p.Kind)
		}
	}
}

// run --cpu --json gives the outputs the text form prints.
func TestRunJSON(t *testing.T) {
	engine := filepath.Join(t.TempDir(), "mini.sqe")
	var stdout, stderr bytes.Buffer
	args := []string{"compile", "-q", filepath.Join(example, "resnet-mini.onnx"), "-r", filepath.Join(example, "resnet-mini.sqr"),
		"--calib-data", filepath.Join(example, "resnet-mini-calib.npy"), "-o", engine}
	if status := run(args, &stdout, &stderr); status != 0 || stderr.Len() > 0 {
		t.Fatalf("sqc %v: exit %d\n%s", args, status, stderr.String())
	}
	input := filepath.Join(example, "resnet-mini-calib.npy")
	var r runResult
	sqcJSON(t, &r, "run", engine, "--cpu", "--json", "--batch", "5", "--input", input)
	if r.Device != "cpu" || r.Batch != 5 || len(r.Outputs) != 1 || r.Compare != nil {
		t.Fatalf("%+v", r)
	}
	o := r.Outputs[0]
	if o.Name != "logits" || o.DType != "f32" || !slices.Equal(o.Shape, []int{5, 10}) || len(o.Argmax) != 5 {
		t.Errorf("output %+v", o)
	}
	stdout.Reset()
	if status := run([]string{"run", engine, "--cpu", "--batch", "5", "--input", input}, &stdout, &stderr); status != 0 {
		t.Fatal(stderr.String())
	}
	if want := fmt.Sprintf("argmax: %v\n", o.Argmax); !strings.Contains(stdout.String(), want) {
		t.Errorf("text output %q does not show the arg max %v", stdout.String(), o.Argmax)
	}
}

// compile's preprocessing flags reach the calibration: scaling the data by
// 2 doubles the range of the graph input (calibrated with max), and a mean
// per channel shifts it.
func TestCompilePreprocessingFlags(t *testing.T) {
	dir := t.TempDir()
	inputRange := func(flags ...string) activationJSON {
		var r compileReport
		args := append([]string{"compile", "--json", "-q", filepath.Join(example, "resnet-mini.onnx"), "-r", filepath.Join(example, "resnet-mini.sqr"),
			"--calib-data", filepath.Join(example, "resnet-mini-calib.npy"), "-o", filepath.Join(dir, "out.sqir")}, flags...)
		sqcJSON(t, &r, args...)
		if r.Layers[0].Input == nil || r.Layers[0].Input.Min == nil {
			t.Fatalf("no input range: %+v", r.Layers[0])
		}
		return *r.Layers[0].Input
	}
	plain := inputRange()
	scaled := inputRange("--scale", "2")
	if *scaled.Max != 2**plain.Max || *scaled.Min != 2**plain.Min {
		t.Errorf("--scale 2: range [%v, %v], want twice [%v, %v]", *scaled.Min, *scaled.Max, *plain.Min, *plain.Max)
	}
	shifted := inputRange("--mean", "1,1,1", "--std", "0.5")
	if want := (*plain.Min - 1) / 0.5; *shifted.Min != want {
		t.Errorf("--mean 1,1,1 --std 0.5: min %v, want %v", *shifted.Min, want)
	}
	var stdout, stderr bytes.Buffer
	if status := run([]string{"compile", "--mean", "a", filepath.Join(example, "resnet-mini.onnx"), "--calib-data", filepath.Join(example, "resnet-mini-calib.npy"), "-o", filepath.Join(dir, "x.onnx")}, &stdout, &stderr); status == 0 || !strings.Contains(stderr.String(), `option mean: "a" is not a number`) {
		t.Errorf("--mean a: exit %d, %s", status, stderr.String())
	}
}

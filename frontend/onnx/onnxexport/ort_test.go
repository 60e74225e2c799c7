package onnxexport_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/frontend/onnx/onnxexport"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/all"
)

// ortModules returns the node_modules directory holding onnxruntime-node,
// or skips the test saying what is missing.
func ortModules(t *testing.T) string {
	t.Helper()
	modules := os.Getenv("SQC_ORT_NODE_MODULES")
	if modules == "" {
		t.Skip("SQC_ORT_NODE_MODULES is not set: `make test` sets it after installing onnxruntime-node with npm " +
			"(or `npm install --ignore-scripts onnxruntime-node@1.30.0` in a directory and point it at its node_modules)")
	}
	// Asked for explicitly: a broken set-up is a failure, not a skip.
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("SQC_ORT_NODE_MODULES is set but node is not on PATH: " + err.Error())
	}
	if _, err := os.Stat(filepath.Join(modules, "onnxruntime-node", "package.json")); err != nil {
		t.Fatalf("SQC_ORT_NODE_MODULES=%s holds no onnxruntime-node: %v", modules, err)
	}
	return modules
}

// ortCase is one model ONNX Runtime runs, with the inputs and the outputs
// the reference executor computed for the IR graph that was exported.
type ortCase struct {
	name    string
	model   string
	g       *ir.Graph
	inputs  []*ir.Tensor
	want    []*ir.Tensor
	outFile []string
}

// manifest types of testdata/ort_run.js.
type ortIO struct {
	Name string `json:"name"`
	Dims []int  `json:"dims,omitempty"`
	File string `json:"file"`
}

type ortRun struct {
	Model   string  `json:"model"`
	Inputs  []ortIO `json:"inputs"`
	Outputs []ortIO `json:"outputs"`
	// Optimization is ONNX Runtime's graph optimization level; empty is
	// "basic".
	Optimization string `json:"optimization,omitempty"`
}

type ortReport struct {
	Model   string `json:"model"`
	Outputs []struct {
		Name string `json:"name"`
		Type string `json:"type"`
		Dims []int  `json:"dims"`
	} `json:"outputs"`
}

// TestONNXRuntime is the differential test against a real peer: every model
// is exported (as imported; at opset 13; after the default pipeline, whose
// fused ops and Relayouts are decomposed; with external data), ONNX Runtime
// runs the file, and its outputs must match the reference executor's on the
// exported IR graph to 1e-4 of the output's magnitude.
func TestONNXRuntime(t *testing.T) {
	modules := ortModules(t)
	dir := t.TempDir()
	names, paths := allModels(t)
	var cases []*ortCase
	add := func(name string, g *ir.Graph, inputs []*ir.Tensor, write func(path string) error) {
		for _, v := range g.Inputs {
			if v.Type.DType != ir.Float32 {
				t.Logf("%s: input %s is %v; ort_run.js feeds float32 only, skipped", name, v.Name, v.Type.DType)
				return
			}
		}
		c := &ortCase{name: name, g: g, model: filepath.Join(dir, strings.ReplaceAll(name, "/", "_"))}
		if err := write(c.model); err != nil {
			t.Fatalf("%s: export: %v", name, err)
		}
		c.inputs = inputs
		if c.inputs == nil {
			c.inputs = randomInputs(t, g, 3)
		}
		want, err := ref.Run(g, c.inputs...)
		if err != nil {
			t.Fatalf("%s: reference run: %v", name, err)
		}
		c.want = want
		cases = append(cases, c)
	}
	for _, name := range names {
		g, err := onnx.Import(paths[name])
		if err != nil {
			t.Fatal(err)
		}
		add(name, g, nil, func(p string) error { return onnxexport.WriteFile(p, g, onnxexport.Options{}) })
		add("opset13/"+name, g, nil, func(p string) error { return onnxexport.WriteFile(p, g, onnxexport.Options{Opset: 13}) })
		add("external/"+name, g, nil, func(p string) error {
			return onnxexport.WriteFile(p, g, onnxexport.Options{ExternalDataThreshold: 1024})
		})
		opt, err := onnx.Import(paths[name])
		if err != nil {
			t.Fatal(err)
		}
		p, err := passes.Build(all.Specs(all.GraphPipeline))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := (&passes.Manager{}).Run(opt, p); err != nil {
			t.Fatal(err)
		}
		add("pipeline/"+name, opt, nil, func(p string) error { return onnxexport.WriteFile(p, opt, onnxexport.Options{}) })
	}
	// The hand-written graphs: every decomposer and special constant, at
	// the newest and oldest opsets, and each rewrite into an older form.
	eg := epilogueGraph(t)
	for _, opset := range []int64{13, 21} {
		opt := onnxexport.Options{Opset: opset}
		add(fmt.Sprintf("epilogue-opset%d", opset), eg, epilogueInputs(), func(p string) error { return onnxexport.WriteFile(p, eg, opt) })
	}
	pg := passthroughGraph(t)
	add("passthrough", pg, []*ir.Tensor{f32s([]int{2}, 1, 2)}, func(p string) error { return onnxexport.WriteFile(p, pg, onnxexport.Options{}) })
	for i, ac := range adaptCases() {
		b := newBuilder(t, "adapt")
		ac.build(b)
		g, opt := b.graph(), onnxexport.Options{Opset: ac.opset}
		add(fmt.Sprintf("adapt%d-opset%d", i, ac.opset), g, ac.in, func(p string) error { return onnxexport.WriteFile(p, g, opt) })
	}
	for _, oc := range opCases(t) {
		opt := onnxexport.Options{Opset: oc.opset}
		add("ops/"+oc.name, oc.g, nil, func(p string) error { return onnxexport.WriteFile(p, oc.g, opt) })
	}
	compareWithORT(t, modules, dir, cases, 1e-4)
}

// compareWithORT runs every case's model in ONNX Runtime and checks its
// outputs against the case's reference outputs: integer outputs bit for
// bit, float outputs to tol of the output's largest magnitude. One node
// process runs every case: starting ONNX Runtime costs more than most of
// these models.
func compareWithORT(t *testing.T, modules, dir string, cases []*ortCase, tol float64) {
	t.Helper()
	var runs []ortRun
	for k, c := range cases {
		r := ortRun{Model: c.model}
		for i, v := range c.g.Inputs {
			f := filepath.Join(dir, fmt.Sprintf("case%d_in%d.bin", k, i))
			writeFloat32s(t, f, c.inputs[i].Float32s())
			r.Inputs = append(r.Inputs, ortIO{Name: v.Name, Dims: c.inputs[i].Shape, File: f})
		}
		for i, v := range c.g.Outputs {
			f := filepath.Join(dir, fmt.Sprintf("case%d_out%d.bin", k, i))
			c.outFile = append(c.outFile, f)
			r.Outputs = append(r.Outputs, ortIO{Name: v.Name, File: f})
		}
		runs = append(runs, r)
	}
	manifest := filepath.Join(dir, "manifest.json")
	data, err := json.Marshal(map[string]any{"runs": runs})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(manifest, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("testdata", "ort_run.js"), manifest)
	cmd.Env = append(os.Environ(), "SQC_ORT_NODE_MODULES="+modules)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("node ort_run.js: %v\n%s", err, stderr.String())
	}
	t.Logf("ONNX Runtime ran %d models in %v", len(cases), time.Since(start).Round(time.Millisecond))
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 1<<20)
	var reports []ortReport
	for sc.Scan() {
		var r ortReport
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("ort_run.js output %q: %v", sc.Text(), err)
		}
		reports = append(reports, r)
	}
	if len(reports) != len(cases) {
		t.Fatalf("ort_run.js reported %d runs, want %d\n%s", len(reports), len(cases), stderr.String())
	}
	for k, c := range cases {
		for i, want := range c.want {
			name := c.g.Outputs[i].Name
			if fmt.Sprint(reports[k].Outputs[i].Dims) != fmt.Sprint(want.Shape) {
				t.Errorf("%s: output %s has dims %v in ONNX Runtime, want %v", c.name, name, reports[k].Outputs[i].Dims, want.Shape)
				continue
			}
			rep := reports[k].Outputs[i]
			got := readRaw(t, c.outFile[i], rep.Type, want.Shape)
			if got.DType != want.DType {
				t.Errorf("%s: output %s is %v in ONNX Runtime, want %v", c.name, name, got.DType, want.DType)
				continue
			}
			if !want.DType.IsFloat() {
				if msg := sameBits(want, got); msg != "" {
					t.Errorf("%s: output %s: %s", c.name, name, msg)
				}
				t.Logf("%-48s %-24s %v, identical", c.name, name, want.DType)
				continue
			}
			rel, at := maxRelDiff(want, got)
			abs := math.Abs(want.AsFloat64(at) - got.AsFloat64(at))
			scale := 0.0
			for j := 0; j < want.Len(); j++ {
				scale = math.Max(scale, math.Abs(want.AsFloat64(j)))
			}
			t.Logf("%-48s %-24s max |ref| %-9.3g max abs diff %-9.3g relative %.3g", c.name, name, scale, abs, rel)
			if rel > tol {
				t.Errorf("%s: output %s differs from the reference executor by %.3g relative at element %d (%v vs %v), want at most %g",
					c.name, name, rel, at, got.AsFloat64(at), want.AsFloat64(at), tol)
			}
		}
	}
}

// readRaw reads an output file of ort_run.js: little-endian elements of the
// ONNX Runtime element type typ.
func readRaw(t *testing.T, path, typ string, shape []int) *ir.Tensor {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dt := map[string]ir.DType{"float32": ir.Float32, "float64": ir.Float64, "int8": ir.Int8, "uint8": ir.Uint8,
		"int16": ir.Int16, "uint16": ir.Uint16, "int32": ir.Int32, "uint32": ir.Uint32, "int64": ir.Int64,
		"uint64": ir.Uint64, "bool": ir.Bool}[typ]
	if dt == ir.InvalidDType {
		t.Fatalf("%s: ONNX Runtime element type %q has no IR dtype", path, typ)
	}
	x := ir.NewTensor(dt, shape...)
	if len(b) != x.Len()*dt.Size() {
		t.Fatalf("%s: %d bytes for %v%v", path, len(b), dt, shape)
	}
	le := binary.LittleEndian
	for i := 0; i < x.Len(); i++ {
		switch d := x.Data.(type) {
		case []float32:
			d[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		case []float64:
			d[i] = math.Float64frombits(le.Uint64(b[8*i:]))
		case []int8:
			d[i] = int8(b[i])
		case []uint8:
			d[i] = b[i]
		case []int16:
			d[i] = int16(le.Uint16(b[2*i:]))
		case []uint16:
			d[i] = le.Uint16(b[2*i:])
		case []int32:
			d[i] = int32(le.Uint32(b[4*i:]))
		case []uint32:
			d[i] = le.Uint32(b[4*i:])
		case []int64:
			d[i] = int64(le.Uint64(b[8*i:]))
		case []uint64:
			d[i] = le.Uint64(b[8*i:])
		case []bool:
			d[i] = b[i] != 0
		}
	}
	return x
}

func writeFloat32s(t *testing.T, path string, d []float32) {
	t.Helper()
	b := make([]byte, 4*len(d))
	for i, v := range d {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

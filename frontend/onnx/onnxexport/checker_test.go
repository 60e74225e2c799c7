package onnxexport_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/frontend/onnx/onnxexport"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/all"
)

// TestONNXChecker runs ONNX's own checker, with strict shape inference, on
// exported models: the models as imported and after the default pipeline,
// the hand-written graphs, and every older-opset rewrite. It needs python3
// with the onnx package (SQC_ONNX_PYTHON, python3 or /usr/bin/python3);
// onnx 1.12 (Debian's) knows opsets up to 17, so the
// models are written at 13 and 17.
func TestONNXChecker(t *testing.T) {
	// A python3 earlier on PATH (pyenv, a virtualenv) may lack onnx while
	// the system's has it; SQC_ONNX_PYTHON names one explicitly.
	python := ""
	for _, p := range []string{os.Getenv("SQC_ONNX_PYTHON"), "python3", "/usr/bin/python3"} {
		if p != "" && exec.Command(p, "-c", "import onnx.checker").Run() == nil {
			python = p
			break
		}
	}
	if python == "" {
		msg := "no python3 with the onnx package (set SQC_ONNX_PYTHON); ONNX checker test skipped"
		if os.Getenv("CI") == "true" {
			msg += " (CI=true: skipped, not failed)"
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	var files []string
	write := func(name string, opset int64, write func(path string, opt onnxexport.Options) error) {
		p := filepath.Join(dir, fmt.Sprintf("%s-opset%d.onnx", strings.ReplaceAll(name, "/", "_"), opset))
		if err := write(p, onnxexport.Options{Opset: opset}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		files = append(files, p)
	}
	names, paths := allModels(t)
	for _, name := range names {
		g, err := onnx.Import(paths[name])
		if err != nil {
			t.Fatal(err)
		}
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
		for _, opset := range []int64{13, 17} {
			write(name, opset, func(p string, o onnxexport.Options) error { return onnxexport.WriteFile(p, g, o) })
			write("pipeline/"+name, opset, func(p string, o onnxexport.Options) error { return onnxexport.WriteFile(p, opt, o) })
		}
	}
	eg := epilogueGraph(t)
	write("epilogue", 13, func(p string, o onnxexport.Options) error { return onnxexport.WriteFile(p, eg, o) })
	for i, ac := range adaptCases() {
		if ac.opset > 17 {
			continue
		}
		b := newBuilder(t, "adapt")
		ac.build(b)
		g := b.graph()
		write(fmt.Sprint("adapt", i), ac.opset, func(p string, o onnxexport.Options) error { return onnxexport.WriteFile(p, g, o) })
	}
	out, err := exec.Command(python, append([]string{filepath.Join("testdata", "onnx_check.py")}, files...)...).CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(line, "FAIL") {
			t.Error(strings.TrimPrefix(line, "FAIL "))
		}
	}
	if err != nil && !t.Failed() {
		t.Fatalf("onnx_check.py: %v\n%s", err, out)
	}
	t.Logf("ONNX checker accepted %d models", len(files))
}

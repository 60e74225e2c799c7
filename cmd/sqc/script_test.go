package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/sqc-project/sqc/frontend/onnx/onnxbuild"
	"github.com/sqc-project/sqc/internal/zoo"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary run as the sqc command inside scripts
// ("exec sqc ..."), so the scripts test the real main, exit status included.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"sqc": main})
}

// TestScripts runs the CLI tests in testdata/script, cmd/go style: each
// .txtar file is a script of commands and assertions on their output, with
// the files it needs attached.
//
// Scripts see $REPO, the repository root, and $SHARED, the third-party test
// material at ../shared beside it. The condition [shared] holds when that
// folder exists; scripts that need it skip without it, except when CI=true,
// where its absence is a broken set-up and fails the test. [ci] holds when
// CI=true, for scripts that need a tool CI installs (ninja). The command json
// checks the JSON document a command printed (see cmdJSON).
func TestScripts(t *testing.T) {
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(repo, "..", "shared")
	_, statErr := os.Stat(filepath.Join(shared, "models"))
	haveShared := statErr == nil
	if !haveShared && os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but the shared test data is missing: %v", statErr)
	}
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(env *testscript.Env) error {
			env.Setenv("REPO", repo)
			env.Setenv("SHARED", shared)
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "shared":
				return haveShared, nil
			case "ci":
				// In CI a missing tool is a broken set-up: scripts
				// skip on "[!exec:TOOL] [!ci] skip" and then fail.
				return os.Getenv("CI") == "true", nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"json": cmdJSON,
			"zoo":  cmdZoo,
		},
	})
}

// cmdZoo implements "zoo MODEL FILE": it writes one of internal/zoo's
// generated models to FILE. MODEL is qat (zoo.QATConvNet: a 2:4 QAT export
// with BatchNormalization after its convolutions), resnet18-shape-chain
// (a narrow ResNet-18 at 32×32, symbolic batch, flattened by PyTorch's
// Shape→Gather→Unsqueeze→Concat→Reshape chain), fire (zoo.FireNet, with
// Concats), tf (zoo.TFNet, an NHWC input behind a Transpose) or se
// (zoo.SENet: HardSwish and squeeze-and-excitation).
func cmdZoo(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: zoo qat|resnet18-shape-chain|fire|tf|se FILE")
	}
	var b *onnxbuild.Builder
	var err error
	switch args[0] {
	case "qat":
		b, err = zoo.QATConvNet(1)
	case "fire":
		b, err = zoo.FireNet(1)
	case "tf":
		b, err = zoo.TFNet(1)
	case "se":
		b, err = zoo.SENet(1)
	case "resnet18-shape-chain":
		b, err = zoo.ResNet(zoo.ResNetConfig{Depth: 18, Width: 16, Size: 32, Classes: 10, ShapeChainFlatten: true, Seed: 1})
	default:
		ts.Fatalf("zoo: unknown model %q", args[0])
	}
	if err == nil {
		err = b.WriteFile(ts.MkAbs(args[1]))
	}
	if err != nil {
		ts.Fatalf("zoo %s: %v", args[0], err)
	}
}

// cmdJSON implements "json PATH WANT" and "json -len PATH N": the last
// command's stdout must be one JSON document whose element at PATH is WANT,
// or, with -len, an array or object of N elements. PATH is dot-separated
// object keys and array indexes (nodes.0.op). Strings compare by their
// contents, numbers as written, anything else as compact JSON. With "!" the
// element must differ.
func cmdJSON(ts *testscript.TestScript, neg bool, args []string) {
	length := len(args) > 0 && args[0] == "-len"
	if length {
		args = args[1:]
	}
	if len(args) != 2 {
		ts.Fatalf("usage: json [-len] PATH WANT")
	}
	dec := json.NewDecoder(strings.NewReader(ts.ReadFile("stdout")))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		ts.Fatalf("stdout is not JSON: %v", err)
	}
	if dec.More() {
		ts.Fatalf("stdout holds more than one JSON document")
	}
	v, err := jsonPath(doc, args[0])
	if err != nil {
		ts.Fatalf("json %s: %v", args[0], err)
	}
	var got string
	if length {
		switch c := v.(type) {
		case []any:
			got = strconv.Itoa(len(c))
		case map[string]any:
			got = strconv.Itoa(len(c))
		default:
			ts.Fatalf("json -len %s: not an array or object", args[0])
		}
	} else if got, err = jsonText(v); err != nil {
		ts.Fatalf("json %s: %v", args[0], err)
	}
	switch {
	case neg && got == args[1]:
		ts.Fatalf("json %s is %s, want anything else", args[0], got)
	case !neg && got != args[1]:
		ts.Fatalf("json %s is %s, want %s", args[0], got, args[1])
	}
}

// jsonPath walks doc along a dot-separated path.
func jsonPath(doc any, path string) (any, error) {
	cur := doc
	for _, key := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[key]
			if !ok {
				return nil, fmt.Errorf("no key %q", key)
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("index %q out of an array of %d", key, len(c))
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("cannot take %q of %v", key, c)
		}
	}
	return cur, nil
}

// jsonText writes a JSON element as cmdJSON compares it.
func jsonText(v any) (string, error) {
	switch c := v.(type) {
	case string:
		return c, nil
	case json.Number:
		return c.String(), nil
	}
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}

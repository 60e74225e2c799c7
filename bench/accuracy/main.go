// Command accuracy measures what the shipped INT8 recipes cost in top-1, on
// every labelled model of ../shared, for every calibrator:
//
//	go run ./bench/accuracy [-count N] [-models a,b] [-methods auto,max] [-recipes dense,sparse] [-extra TEXT]
//
// It builds sqc, then for each model × recipe × calibrator runs `sqc eval
// --json` exactly as a user would (reference executor, calibration on the
// first 512 MNIST training digits, the test set's first -count digits,
// 10,000 by default) with a recipe that bases on the shipped one and sets
// nothing but the calibrator (and, for the sparse rows, which layers are
// pruned). It prints a Markdown table (the README's "INT8 accuracy" table)
// and each run's time on standard error.
//
// Recipes (rows):
//
//   - dense-int8: recipes/dense-int8.sqr;
//   - sparse-int8 all: recipes/sparse-int8.sqr with every eligible layer
//     pruned (min-out-channels = 0, out-channel-multiple = 1; the first and
//     last layers stay dense by default);
//   - sparse-int8 all+ends: the same with first-layer and last-layer
//     pruned too.
//
// The prune method is the recipe's (auto: SparseGPT, since eval gives the
// calibration data).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// model is a labelled model of ../shared and its preprocessing.
type model struct {
	name string
	// scale, mean, std: pixel p becomes (p·scale − mean)/std.
	scale, mean, std float64
}

var models = []model{
	{"mnist-8", 1, 0, 1},
	{"mnist-7", 1, 0, 1},
	{"mnist_burn_pytorch_bn", 1.0 / 255, 0.1307, 0.3081},
}

// recipe is a row kind: a shipped recipe and what the bench adds to it.
type recipe struct {
	key, label, base, prune string
}

var recipes = []recipe{
	{"dense", "INT8 (dense-int8)", "dense-int8.sqr", ""},
	{"sparse", "2:4 + INT8, all eligible layers (sparse-int8)", "sparse-int8.sqr",
		"prune { min-out-channels = 0; out-channel-multiple = 1 }"},
	{"sparse-ends", "2:4 + INT8, first and last layers too (sparse-int8)", "sparse-int8.sqr",
		"prune { min-out-channels = 0; out-channel-multiple = 1; first-layer = prune; last-layer = prune }"},
}

// methods are the calibrator columns; auto-output is auto measuring its
// candidates at the network's outputs (auto-error = output) instead of at
// the layers.
var methods = []string{"auto", "auto-output", "max", "percentile", "mse", "entropy"}

// calibrateStep is the recipe line that selects a calibrator column.
func calibrateStep(method string) string {
	if method == "auto-output" {
		return "calibrate { method = auto; auto-error = output }"
	}
	return fmt.Sprintf("calibrate { method = %s }", method)
}

type score struct {
	Top1 float64 `json:"top1"`
}

type evalResult struct {
	Float    score `json:"float"`
	Compiled score `json:"compiled"`
	Images   int   `json:"images"`
}

func main() {
	count := flag.Int("count", 10000, "evaluate the first `N` test digits")
	calib := flag.Int("calib", 512, "calibrate on the first `N` training digits")
	only := flag.String("models", "", "comma-separated model names (default: all)")
	meths := flag.String("methods", strings.Join(methods, ","), "comma-separated calibrators")
	recs := flag.String("recipes", "dense,sparse,sparse-ends", "comma-separated rows: dense, sparse, sparse-ends")
	shared := flag.String("shared", "../shared", "the shared test material")
	extra := flag.String("extra", "", "recipe `TEXT` added to every recipe (quantize { weight-clip = mse }, say)")
	flag.Parse()
	if err := run(*count, *calib, *only, *meths, *recs, *shared, *extra); err != nil {
		fmt.Fprintln(os.Stderr, "accuracy:", err)
		os.Exit(1)
	}
}

func run(count, calib int, only, meths, recs, shared, extra string) error {
	tmp, err := os.MkdirTemp("", "sqc-accuracy")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	sqc := filepath.Join(tmp, "sqc")
	build := exec.Command("go", "build", "-o", sqc, "./cmd/sqc")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building sqc (run from the repository root): %w", err)
	}
	data := filepath.Join(shared, "data", "mnist")
	chosen := map[string]bool{}
	for _, m := range strings.Split(only, ",") {
		if m != "" {
			chosen[m] = true
		}
	}
	rows := map[string]bool{}
	for _, r := range strings.Split(recs, ",") {
		rows[r] = true
	}
	ms := strings.Split(meths, ",")
	fmt.Printf("| model | recipe | FP32 | %s |\n", strings.Join(ms, " | "))
	fmt.Printf("|---|---|---|%s\n", strings.Repeat("---|", len(ms)))
	for _, m := range models {
		if len(chosen) > 0 && !chosen[m.name] {
			continue
		}
		onnx := filepath.Join(shared, "models", m.name+".onnx")
		if _, err := os.Stat(onnx); err != nil {
			return err
		}
		for _, r := range recipes {
			if !rows[r.key] {
				continue
			}
			var cells []string
			float := 0.0
			for _, method := range ms {
				text := fmt.Sprintf("base %q\n%s\n%s\n%s\n", r.base, calibrateStep(method), r.prune, extra)
				path := filepath.Join(tmp, "r.sqr")
				if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
					return err
				}
				start := time.Now()
				cmd := exec.Command(sqc, "eval", onnx, "--json", "-r", path,
					"--images", filepath.Join(data, "t10k-images-idx3-ubyte.gz"),
					"--labels", filepath.Join(data, "t10k-labels-idx1-ubyte.gz"),
					"--calib-images", filepath.Join(data, "train-images-idx3-ubyte.gz"),
					"--calib-count", fmt.Sprint(calib), "--count", fmt.Sprint(count),
					"--scale", fmt.Sprint(m.scale), "--mean", fmt.Sprint(m.mean), "--std", fmt.Sprint(m.std))
				var out, errb bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &errb
				if err := cmd.Run(); err != nil {
					return fmt.Errorf("%s, %s, %s: %v\n%s", m.name, r.key, method, err, errb.String())
				}
				var res evalResult
				if err := json.Unmarshal(out.Bytes(), &res); err != nil {
					return fmt.Errorf("%s, %s, %s: reading sqc eval's JSON %q: %v", m.name, r.key, method, out.String(), err)
				}
				float = res.Float.Top1
				cells = append(cells, fmt.Sprintf("%.2f (%+.2f)", res.Compiled.Top1, res.Compiled.Top1-res.Float.Top1))
				fmt.Fprintf(os.Stderr, "%s, %s, %s: %.2f → %.2f on %d images in %v\n", m.name, r.key, method,
					res.Float.Top1, res.Compiled.Top1, res.Images, time.Since(start).Round(time.Second))
			}
			fmt.Printf("| %s | %s | %.2f | %s |\n", m.name, r.label, float, strings.Join(cells, " | "))
		}
	}
	return nil
}

// Command models builds the torchvision table of the README: for every
// model that export_torchvision.py wrote (random weights, batch symbolic),
// it compiles an engine with each recipe (graph.sqr; dense-int8.sqr and
// sparse-int8.sqr calibrated on 8 random N(0,1) samples of the model's input
// shape), reads the per-layer facts of `sqc compile --json` and the launches
// of `sqc inspect ENGINE --json`, runs every engine that built on the
// reference executor (`sqc run --cpu`, batch 1) and, with -gpu, times it with
// `sqc bench --batch 32`. It prints one Markdown row per model and recipe on
// stdout and its progress on stderr.
//
// Usage (from the repository root):
//
//	/usr/bin/python3 bench/models/export_torchvision.py /tmp/tv 17
//	go run ./bench/models -models /tmp/tv -o /tmp/tv-engines [-gpu] [-only resnet18,vgg16_bn]
//
// It runs from the repository root (it reads recipes/). For the GPU
// latency column, build both binaries here and run them on the GPU machine,
// exporting there (its torch writes the models; they are too big to carry):
//
//	CGO_ENABLED=0 go build -o .gpu/sqc ./cmd/sqc
//	CGO_ENABLED=0 go build -o .gpu/models ./bench/models
//	# there:
//	python3 bench/models/export_torchvision.py /tmp/tv 17
//	.gpu/models -sqc .gpu/sqc -models /tmp/tv -o /tmp/tv-engines -gpu
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/sqc-project/sqc/internal/atomicfile"
	"github.com/sqc-project/sqc/internal/dataset"
	"github.com/sqc-project/sqc/ir"
)

// models are export_torchvision.py's names, in the table's order, with the
// names the table shows.
var models = []struct{ file, title string }{
	{"resnet18", "ResNet-18"},
	{"resnet50", "ResNet-50"},
	{"resnext50_32x4d", "ResNeXt-50 32×4d"},
	{"wide_resnet50_2", "Wide-ResNet-50-2"},
	{"vgg16_bn", "VGG-16-BN"},
	{"mobilenet_v2", "MobileNetV2"},
	{"mobilenet_v3_large", "MobileNetV3-Large"},
	{"efficientnet_b0", "EfficientNet-B0"},
	{"regnet_y_400mf", "RegNetY-400MF"},
	{"mnasnet1_0", "MNASNet 1.0"},
	{"shufflenet_v2_x1_0", "ShuffleNetV2 1.0"},
	{"squeezenet1_1", "SqueezeNet 1.1"},
	{"densenet121", "DenseNet-121"},
	{"googlenet", "GoogLeNet"},
	{"inception_v3", "Inception-v3 (299²)"},
	{"convnext_tiny", "ConvNeXt-Tiny"},
	{"vit_b_16", "ViT-B/16"},
	{"fcn_resnet50", "FCN-ResNet50"},
	{"deeplabv3_resnet50", "DeepLabV3-ResNet50"},
}

// calibSamples is how many random samples calibrate (and prune) the INT8
// recipes.
const calibSamples = 8

// result is one model × recipe cell of the table.
type result struct {
	Model, Recipe string
	Nodes         int
	Built         bool
	// Error is the first line of the failed step's message.
	Error          string
	CompileSeconds float64
	// Launches of the engine by kind: INT8 kernels, float kernels, and
	// the nodes on the gather (copy-table) and host fallbacks.
	Int8, Float, Gather, Host int
	// Sparse and Layers are the compile report's 2:4 layers of all its
	// layers (convolutions and matrix products).
	Sparse, Layers int
	// CPURun is "ok (time)" or the first error line of `sqc run --cpu`.
	CPURun string
	// GPU is the median batch-32 latency from `sqc bench`, or why not.
	GPU string
}

func main() {
	modelDir := flag.String("models", "/tmp/tv", "folder of the exported .onnx models")
	out := flag.String("o", "/tmp/tv-engines", "folder for the engines, inputs and the JSON results")
	recipeList := flag.String("recipes", "graph,dense-int8,sparse-int8", "recipes (files in recipes/) to compile with")
	only := flag.String("only", "", "comma-separated model names (export_torchvision.py's); default: all")
	sqc := flag.String("sqc", "", "the sqc binary; default: build ./cmd/sqc (CGO off) into -o")
	gpu := flag.Bool("gpu", false, "also time each engine with `sqc bench --batch 32` (needs a GPU)")
	timeout := flag.Duration("timeout", 10*time.Minute, "limit for one compile")
	flag.Parse()
	if err := run(*modelDir, *out, strings.Split(*recipeList, ","), *only, *sqc, *gpu, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "models:", err)
		os.Exit(1)
	}
}

func run(modelDir, out string, recipes []string, only, sqc string, gpu bool, timeout time.Duration) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if sqc == "" {
		sqc = filepath.Join(out, "sqc")
		build := exec.Command("go", "build", "-o", sqc, "./cmd/sqc")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building sqc (run from the repository root): %w", err)
		}
	}
	want := map[string]bool{}
	for _, n := range strings.Split(only, ",") {
		if n != "" {
			want[n] = true
		}
	}
	var results []result
	start := time.Now()
	fmt.Fprintf(os.Stderr, "models: %d CPUs (GOMAXPROCS %d)\n", runtime.NumCPU(), runtime.GOMAXPROCS(0))
	for _, m := range models {
		if len(want) > 0 && !want[m.file] {
			continue
		}
		onnxPath := filepath.Join(modelDir, m.file+".onnx")
		if _, err := os.Stat(onnxPath); err != nil {
			results = append(results, result{Model: m.title, Recipe: "-", Error: "not exported: " + onnxPath + " is missing"})
			continue
		}
		nodes, inShape, err := describe(sqc, onnxPath)
		if err != nil {
			results = append(results, result{Model: m.title, Recipe: "-", Error: firstLine(err.Error())})
			continue
		}
		npy := filepath.Join(out, m.file+".npy")
		if err := writeInput(npy, inShape, calibSamples); err != nil {
			return err
		}
		for _, rc := range recipes {
			r := compile(sqc, onnxPath, npy, out, m.file, rc, timeout)
			r.Model, r.Nodes = m.title, nodes
			engine := filepath.Join(out, m.file+"-"+rc+".sqe")
			if r.Built {
				r.CPURun = runCPU(sqc, engine, npy)
				r.GPU = "not measured"
				if gpu {
					r.GPU = benchGPU(sqc, engine)
				}
			}
			fmt.Fprintf(os.Stderr, "%6.0fs %s %s: built=%v %s (%.1f s) int8 %d float %d gather %d host %d; cpu run %s\n",
				time.Since(start).Seconds(), m.file, rc, r.Built, r.Error, r.CompileSeconds, r.Int8, r.Float, r.Gather, r.Host, r.CPURun)
			results = append(results, r)
		}
	}
	if err := atomicfile.Write(filepath.Join(out, "results.json"), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}); err != nil {
		return err
	}
	printTable(os.Stdout, results)
	fmt.Fprintf(os.Stderr, "models: done in %.0f s\n", time.Since(start).Seconds())
	return nil
}

// describe returns the ONNX graph's node count and its first input's shape
// with a symbolic batch as -1.
func describe(sqc, model string) (int, []int, error) {
	var rep struct {
		Inputs []struct {
			Shape []any `json:"shape"`
		} `json:"inputs"`
		Totals struct {
			Nodes int `json:"nodes"`
		} `json:"totals"`
	}
	if err := sqcJSON(context.Background(), &rep, sqc, "inspect", model, "--json"); err != nil {
		return 0, nil, err
	}
	if len(rep.Inputs) == 0 {
		return 0, nil, fmt.Errorf("%s has no inputs", model)
	}
	var shape []int
	for i, d := range rep.Inputs[0].Shape {
		n, ok := d.(float64)
		if !ok {
			if i != 0 {
				return 0, nil, fmt.Errorf("%s: input dim %d is symbolic (%v); only the batch may be", model, i, d)
			}
			n = -1
		}
		shape = append(shape, int(n))
	}
	return rep.Totals.Nodes, shape, nil
}

// writeInput writes n random N(0,1) samples of shape (its batch replaced by
// n) to path; the same seed every run, so the table can be rebuilt.
func writeInput(path string, shape []int, n int) error {
	dims := append([]int{n}, shape[1:]...)
	x := ir.NewTensor(ir.Float32, dims...)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(r.NormFloat64())
	}
	return atomicfile.Write(path, func(w io.Writer) error { return dataset.WriteNpy(w, x) })
}

// compile builds one engine and counts its launches.
func compile(sqc, model, npy, out, name, recipe string, timeout time.Duration) result {
	r := result{Recipe: recipe}
	engine := filepath.Join(out, name+"-"+recipe+".sqe")
	os.Remove(engine)
	args := []string{"compile", model, "-r", filepath.Join("recipes", recipe+".sqr"), "-o", engine, "--json", "-q"}
	if strings.Contains(recipe, "int8") {
		args = append(args, "--calib-data", npy)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	t0 := time.Now()
	var rep struct {
		Totals struct {
			Layers int `json:"layers"`
			Sparse int `json:"sparse"`
		} `json:"totals"`
	}
	err := sqcJSON(ctx, &rep, sqc, args...)
	r.CompileSeconds = time.Since(t0).Seconds()
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			r.Error = fmt.Sprintf("not finished in %v", timeout)
		} else {
			r.Error = firstLine(err.Error())
		}
		return r
	}
	var eng struct {
		Layers []struct {
			Precision string `json:"precision"`
			Fallback  string `json:"fallback"`
		} `json:"layers"`
	}
	if err := sqcJSON(context.Background(), &eng, sqc, "inspect", engine, "--json"); err != nil {
		r.Error = "inspect: " + firstLine(err.Error())
		return r
	}
	r.Built = true
	r.Sparse, r.Layers = rep.Totals.Sparse, rep.Totals.Layers
	for _, l := range eng.Layers {
		switch {
		case l.Fallback == "gather":
			r.Gather++
		case l.Fallback == "host":
			r.Host++
		case l.Precision == "int8":
			r.Int8++
		default:
			r.Float++
		}
	}
	return r
}

// runCPU runs engine's graph on the reference executor at batch 1.
func runCPU(sqc, engine, npy string) string {
	t0 := time.Now()
	var discard any
	if err := sqcJSON(context.Background(), &discard, sqc, "run", engine, "--cpu", "--input", npy, "--batch", "1", "--json"); err != nil {
		return "fails: " + firstLine(err.Error())
	}
	return fmt.Sprintf("ok (%.1f s)", time.Since(t0).Seconds())
}

// benchGPU times engine at batch 32 with CUDA-graph replay (or launches on
// a stream when it has host steps, which a graph cannot capture).
func benchGPU(sqc, engine string) string {
	var rep struct {
		Device  string `json:"device"`
		Mode    string `json:"mode"`
		Latency *struct {
			Median float64 `json:"median"`
		} `json:"latency_ms"`
	}
	err := sqcJSON(context.Background(), &rep, sqc, "bench", engine, "--batch", "32", "--json")
	if err != nil && strings.Contains(err.Error(), "--graph=false") {
		err = sqcJSON(context.Background(), &rep, sqc, "bench", engine, "--batch", "32", "--json", "--graph=false")
	}
	if err != nil {
		return "fails: " + firstLine(err.Error())
	}
	if rep.Latency == nil {
		return "no latency in the report"
	}
	return fmt.Sprintf("%.3f ms (%s, %s)", rep.Latency.Median, rep.Mode, rep.Device)
}

// sqcJSON runs sqc with args and decodes its stdout into v; a failure's
// error is sqc's stderr.
func sqcJSON(ctx context.Context, v any, sqc string, args ...string) error {
	cmd := exec.CommandContext(ctx, sqc, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return errors.New(msg)
		}
		return err
	}
	if err := json.Unmarshal(stdout.Bytes(), v); err != nil {
		return fmt.Errorf("sqc %s: reading its JSON: %w", args[0], err)
	}
	return nil
}

// firstLine is the first line of s, without sqc's "sqc: " prefix and the
// output file's name that starts a compile error, short enough for a table
// cell.
func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	s = strings.TrimPrefix(s, "sqc: ")
	s = strings.TrimPrefix(s, "Error: ")
	if path, rest, ok := strings.Cut(s, ": "); ok && strings.HasSuffix(path, ".sqe") {
		s = rest
	}
	if r := []rune(s); len(r) > 220 {
		s = string(r[:217]) + "..."
	}
	return strings.ReplaceAll(s, "|", `\|`)
}

func printTable(w io.Writer, results []result) {
	fmt.Fprintln(w, "| model | ONNX nodes | recipe | engine | 2:4 layers | launches: INT8 / float / gather / host | compile | `run --cpu`, batch 1 | batch-32 latency |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	last := ""
	for _, r := range results {
		model, nodes := r.Model, fmt.Sprint(r.Nodes)
		if model == last {
			model, nodes = "", ""
		}
		last = r.Model
		if !r.Built {
			if r.Recipe == "-" {
				fmt.Fprintf(w, "| %s | | | %s | | | | | |\n", model, r.Error)
				continue
			}
			fmt.Fprintf(w, "| %s | %s | %s | fails: %s | | | %.1f s | | |\n", model, nodes, r.Recipe, r.Error, r.CompileSeconds)
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | built | %d of %d | %d / %d / %d / %d | %.1f s | %s | %s |\n",
			model, nodes, r.Recipe, r.Sparse, r.Layers, r.Int8, r.Float, r.Gather, r.Host, r.CompileSeconds, r.CPURun, r.GPU)
	}
}

// Command models builds the torchvision table of the README: for every
// model that export_torchvision.py wrote (random weights, batch symbolic),
// it compiles an engine with each recipe (graph.sqr; dense-int8.sqr and
// sparse-int8.sqr calibrated on 8 random N(0,1) samples of the model's input
// shape), reads the per-layer facts of `sqc compile --json` and the launches
// of `sqc inspect ENGINE --json`, and checks every engine that built: on the
// reference executor (`sqc run --cpu`, batch 1), or with -gpu on the GPU
// against it (`sqc run --compare` at batch 1 and 8) and timed
// (`sqc bench --batch 32`, one engine at a time once everything else is
// done). With -ort it also exports each model's INT8 form as QDQ ONNX
// (`sqc compile --emit onnx` with -ort-recipe) and compares the reference
// executor on that file with ONNX Runtime (ort_check.py) on the same inputs.
// It prints one Markdown table a model set (one per exporter) on stdout and
// its progress on stderr, writes results.json, and keeps every sqc
// command's output under -o's logs/.
//
// Usage (from the repository root):
//
//	/usr/bin/python3 bench/models/export_torchvision.py /tmp/tv 17
//	go run ./bench/models -models /tmp/tv -o /tmp/tv-engines [-only resnet18,vgg16_bn]
//
// On the GPU machine bench/models/gpu.sh does all of issue 12's item 5 in
// one command: both exporters, -j parallel compiles, -gpu and -ort, a
// deadline.
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
	"sync"
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
	{"lraspp_mobilenet_v3_large", "LRASPP-MobileNetV3-Large"},
	{"swin_t", "Swin-T"},
}

// calibSamples is how many random samples calibrate (and prune) the INT8
// recipes; the input file holds as many, and --compare's larger batch
// reads them all.
const calibSamples = 8

// maxTimedHostSteps is the most host steps an engine -gpu times: beyond
// that the CPU's share is the measurement (ViT's attention today).
const maxTimedHostSteps = 20

// ortBatch is the batch of the ONNX Runtime check (two samples show an
// export that mixes them; the reference executor is slow on large ones).
const ortBatch = 2

// result is one model × recipe cell of the table.
type result struct {
	Set, Model, Recipe string
	Nodes              int
	Built              bool
	// Error is the first line of the failed step's message.
	Error          string
	CompileSeconds float64
	// Launches of the engine by kind: INT8 kernels, float kernels, and
	// the nodes on the gather (copy-table) and host fallbacks.
	Int8, Float, Gather, Host int
	// Sparse and Layers are the compile report's 2:4 layers of all its
	// layers (convolutions and matrix products).
	Sparse, Layers int
	// CPURun is "ok (time)" or the first error line of `sqc run --cpu`
	// (without -gpu).
	CPURun string
	// Compare1 and Compare8 are `sqc run --compare` at batch 1 and 8:
	// "exact", "≤1e-5 (the largest difference)" or why not (with -gpu).
	Compare1, Compare8 string
	// GPU is the median batch-32 latency from `sqc bench`, or why not.
	GPU string
	// Device is the card the GPU steps ran on.
	Device string
	// ORT is the QDQ export's check against ONNX Runtime, on the
	// -ort-recipe row.
	ORT string
}

// set is one folder of exported models and the label its table has.
type set struct{ label, dir string }

// options are the command's flags.
type options struct {
	sets                     []set
	out                      string
	recipes, benchRecipes    []string
	only                     map[string]bool
	sqc                      string
	gpu                      bool
	jobs                     int
	timeout, runTimeout      time.Duration
	waitExport               time.Duration
	deadline, benchReserve   time.Duration
	benchIters, benchSets    int
	ortScript, ortRecipe, py string
}

func main() {
	var o options
	modelDir := flag.String("models", "/tmp/tv", "folder of the exported .onnx models (one set, labelled by -label)")
	label := flag.String("label", "TorchScript exporter, opset 17", "the -models set's label")
	sets := flag.String("sets", "", "model sets as LABEL=DIR;LABEL=DIR (each a table), instead of -models")
	flag.StringVar(&o.out, "o", "/tmp/tv-engines", "folder for the engines, inputs, logs/ and results.json")
	recipeList := flag.String("recipes", "graph,dense-int8,sparse-int8", "recipes (files in recipes/) to compile with")
	benchList := flag.String("bench-recipes", "dense-int8,sparse-int8", "recipes whose engines -gpu times")
	only := flag.String("only", "", "comma-separated model names (export_torchvision.py's); default: all")
	flag.StringVar(&o.sqc, "sqc", "", "the sqc binary; default: build ./cmd/sqc (CGO off) into -o")
	flag.BoolVar(&o.gpu, "gpu", false, "check each engine on the GPU (`sqc run --compare` at batch 1 and 8) and time it (`sqc bench --batch 32`)")
	flag.IntVar(&o.jobs, "j", 1, "models compiled and checked at the same time")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "limit for one compile")
	flag.DurationVar(&o.runTimeout, "run-timeout", 3*time.Minute, "limit for one run, compare, bench or ONNX Runtime check")
	flag.DurationVar(&o.waitExport, "wait-export", 0, "wait this long for a model file that is not there yet (an export still running)")
	flag.DurationVar(&o.deadline, "deadline", 0, "start no step after this long; rows not reached say so (0: no limit)")
	flag.DurationVar(&o.benchReserve, "bench-reserve", 2*time.Minute, "with -gpu and -deadline, the time kept at the end for the timings")
	flag.IntVar(&o.benchIters, "bench-iters", 100, "timed iterations of each `sqc bench`")
	flag.IntVar(&o.benchSets, "bench-sets", 1, "how many sets, first first, -gpu times")
	flag.StringVar(&o.ortScript, "ort", "", "ort_check.py: compare each model's QDQ export in ONNX Runtime with the reference executor (needs python3 with numpy and onnxruntime)")
	flag.StringVar(&o.ortRecipe, "ort-recipe", "dense-int8", "the recipe whose QDQ export -ort checks")
	flag.StringVar(&o.py, "python", "python3", "the Python that runs -ort's script")
	flag.Parse()
	o.recipes, o.benchRecipes = splitList(*recipeList), splitList(*benchList)
	o.only = map[string]bool{}
	for _, n := range splitList(*only) {
		o.only[n] = true
	}
	if *sets == "" {
		o.sets = []set{{*label, *modelDir}}
	} else {
		for _, s := range strings.Split(*sets, ";") {
			l, d, ok := strings.Cut(s, "=")
			if !ok {
				fmt.Fprintf(os.Stderr, "models: -sets entry %q, want LABEL=DIR\n", s)
				os.Exit(2)
			}
			o.sets = append(o.sets, set{l, d})
		}
	}
	if err := run(&o); err != nil {
		fmt.Fprintln(os.Stderr, "models:", err)
		os.Exit(1)
	}
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// runner holds one invocation's state: the options, the clock and the
// progress log.
type runner struct {
	*options
	start time.Time
	logs  string
	mu    sync.Mutex
}

func run(o *options) error {
	if err := os.MkdirAll(filepath.Join(o.out, "logs"), 0o755); err != nil {
		return err
	}
	if o.sqc == "" {
		o.sqc = filepath.Join(o.out, "sqc")
		build := exec.Command("go", "build", "-o", o.sqc, "./cmd/sqc")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building sqc (run from the repository root): %w", err)
		}
	}
	r := &runner{options: o, start: time.Now(), logs: filepath.Join(o.out, "logs")}
	r.progress("%d CPUs (GOMAXPROCS %d), %d at a time", runtime.NumCPU(), runtime.GOMAXPROCS(0), o.jobs)

	// One task a set and model, each a row a recipe; a pool of -j workers
	// takes them in the tables' order.
	type task struct {
		set   int
		model int
		rows  []*result
	}
	var tasks []*task
	for si, s := range o.sets {
		for mi, m := range models {
			if len(o.only) > 0 && !o.only[m.file] {
				continue
			}
			t := &task{set: si, model: mi}
			for _, rc := range o.recipes {
				t.rows = append(t.rows, &result{Set: s.label, Model: m.title, Recipe: rc})
			}
			tasks = append(tasks, t)
		}
	}
	queue := make(chan *task)
	var wg sync.WaitGroup
	for range max(o.jobs, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range queue {
				r.model(o.sets[t.set], t.model, t.rows)
			}
		}()
	}
	for _, t := range tasks {
		queue <- t
	}
	close(queue)
	wg.Wait()

	// The timings, one engine at a time with nothing else running.
	if o.gpu {
		for _, t := range tasks {
			if t.set >= o.benchSets {
				continue
			}
			for _, res := range t.rows {
				if !res.Built || !contains(o.benchRecipes, res.Recipe) {
					continue
				}
				if r.late(0) {
					res.GPU = "not run: out of time"
					continue
				}
				res.GPU = r.bench(res, r.engine(o.sets[t.set], models[t.model].file, res.Recipe))
				r.progress("%s %s %s: batch 32 %s", o.sets[t.set].label, models[t.model].file, res.Recipe, res.GPU)
			}
		}
	}
	var results []result
	for _, t := range tasks {
		for _, res := range t.rows {
			results = append(results, *res)
		}
	}
	if err := atomicfile.Write(filepath.Join(o.out, "results.json"), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}); err != nil {
		return err
	}
	for _, s := range o.sets {
		printTable(os.Stdout, s.label, results, o.gpu, o.ortScript != "")
	}
	r.progress("done")
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// late reports whether a step that may take reserve more should not start
// any more: past the deadline less the timings' reserve (while -gpu still
// has them to do).
func (r *runner) late(reserve time.Duration) bool {
	return r.deadline > 0 && time.Since(r.start) > r.deadline-reserve
}

// stepContext is the context of one step: limit long, and no later than
// the deadline.
func (r *runner) stepContext(limit time.Duration) (context.Context, context.CancelFunc) {
	if r.deadline > 0 {
		limit = min(limit, max(r.deadline-time.Since(r.start), time.Second))
	}
	return context.WithTimeout(context.Background(), limit)
}

// phase1Reserve is the time the compile-and-check phase leaves for the
// timings.
func (r *runner) phase1Reserve() time.Duration {
	if r.gpu {
		return r.benchReserve
	}
	return 0
}

func (r *runner) progress(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(os.Stderr, "%6.0fs "+format+"\n", append([]any{time.Since(r.start).Seconds()}, args...)...)
}

// name is the files' stem for a model of a set: the set's index keeps the
// sets apart.
func (r *runner) name(s set, model string) string {
	for i, x := range r.sets {
		if x == s {
			return fmt.Sprintf("%d-%s", i, model)
		}
	}
	return model
}

func (r *runner) engine(s set, model, recipe string) string {
	return filepath.Join(r.out, r.name(s, model)+"-"+recipe+".sqe")
}

// model compiles and checks one model of a set with every recipe, filling
// its rows.
func (r *runner) model(s set, mi int, rows []*result) {
	m := models[mi]
	fail := func(msg string) {
		for _, res := range rows {
			res.Error = msg
		}
		r.progress("%s %s: %s", s.label, m.file, msg)
	}
	onnxPath := filepath.Join(s.dir, m.file+".onnx")
	if err := r.waitFor(s.dir, m.file); err != nil {
		fail(err.Error())
		return
	}
	if r.late(r.phase1Reserve()) {
		fail("not run: out of time")
		return
	}
	nodes, inShape, err := r.describe(s, m.file, onnxPath)
	if err != nil {
		fail(firstLine(err.Error()))
		return
	}
	npy := filepath.Join(r.out, r.name(s, m.file)+".npy")
	if err := writeInput(npy, inShape, calibSamples); err != nil {
		fail(err.Error())
		return
	}
	for _, res := range rows {
		res.Nodes = nodes
		if r.late(r.phase1Reserve()) {
			res.Error = "not run: out of time"
			continue
		}
		r.compile(res, s, m.file, onnxPath, npy)
		if res.Built {
			engine := r.engine(s, m.file, res.Recipe)
			if r.gpu {
				res.Compare1 = r.compare(res, engine, npy, 1)
				res.Compare8 = r.compare(res, engine, npy, calibSamples)
			} else {
				res.CPURun = r.runCPU(res, engine, npy)
			}
		}
		check := "cpu run " + res.CPURun
		if r.gpu {
			check = "compare " + res.Compare1 + " / " + res.Compare8
		}
		r.progress("%s %s %s: built=%v %s (%.1f s) int8 %d float %d gather %d host %d; %s",
			s.label, m.file, res.Recipe, res.Built, res.Error, res.CompileSeconds, res.Int8, res.Float, res.Gather, res.Host, check)
		if r.ortScript != "" && res.Recipe == r.ortRecipe && !r.late(r.phase1Reserve()) {
			res.ORT = r.ortCheck(s, m.file, onnxPath, npy)
			r.progress("%s %s: QDQ export against ONNX Runtime: %s", s.label, m.file, res.ORT)
		}
	}
}

// waitFor waits (up to -wait-export) for the model's file, or for the
// export's error file export_torchvision.py writes when it fails.
func (r *runner) waitFor(dir, model string) error {
	until := time.Now().Add(r.waitExport)
	for {
		if _, err := os.Stat(filepath.Join(dir, model+".onnx")); err == nil {
			return nil
		}
		if msg, err := os.ReadFile(filepath.Join(dir, model+".export-error.txt")); err == nil {
			return fmt.Errorf("export failed: %s", firstLine(lastLine(string(msg))))
		}
		if time.Now().After(until) || r.late(r.phase1Reserve()) {
			return fmt.Errorf("not exported: %s is missing", filepath.Join(dir, model+".onnx"))
		}
		time.Sleep(2 * time.Second)
	}
}

// describe returns the ONNX graph's node count and its first input's shape
// with a symbolic batch as -1.
func (r *runner) describe(s set, model, path string) (int, []int, error) {
	var rep struct {
		Inputs []struct {
			Shape []any `json:"shape"`
		} `json:"inputs"`
		Totals struct {
			Nodes int `json:"nodes"`
		} `json:"totals"`
	}
	ctx, cancel := r.stepContext(r.runTimeout)
	defer cancel()
	if err := r.sqcJSON(ctx, r.name(s, model)+"-inspect", &rep, "inspect", path, "--json"); err != nil {
		return 0, nil, err
	}
	if len(rep.Inputs) == 0 {
		return 0, nil, fmt.Errorf("%s has no inputs", path)
	}
	var shape []int
	for i, d := range rep.Inputs[0].Shape {
		n, ok := d.(float64)
		if !ok {
			if i != 0 {
				return 0, nil, fmt.Errorf("%s: input dim %d is symbolic (%v); only the batch may be", path, i, d)
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
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(rng.NormFloat64())
	}
	return atomicfile.Write(path, func(w io.Writer) error { return dataset.WriteNpy(w, x) })
}

// compile builds one engine and counts its launches.
func (r *runner) compile(res *result, s set, model, onnxPath, npy string) {
	engine := r.engine(s, model, res.Recipe)
	os.Remove(engine)
	args := []string{"compile", onnxPath, "-r", filepath.Join("recipes", res.Recipe+".sqr"), "-o", engine, "--json", "-q"}
	if strings.Contains(res.Recipe, "int8") {
		args = append(args, "--calib-data", npy)
	}
	ctx, cancel := r.stepContext(r.timeout)
	defer cancel()
	t0 := time.Now()
	var rep struct {
		Totals struct {
			Layers int `json:"layers"`
			Sparse int `json:"sparse"`
		} `json:"totals"`
	}
	err := r.sqcJSON(ctx, r.name(s, model)+"-"+res.Recipe+"-compile", &rep, args...)
	res.CompileSeconds = time.Since(t0).Seconds()
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			res.Error = fmt.Sprintf("not finished in %.0f s (-timeout or -deadline)", time.Since(t0).Seconds())
		} else {
			res.Error = firstLine(err.Error())
		}
		return
	}
	var eng struct {
		Layers []struct {
			Precision string `json:"precision"`
			Fallback  string `json:"fallback"`
		} `json:"layers"`
	}
	ictx, icancel := r.stepContext(r.runTimeout)
	defer icancel()
	if err := r.sqcJSON(ictx, r.name(s, model)+"-"+res.Recipe+"-inspect", &eng, "inspect", engine, "--json"); err != nil {
		res.Error = "inspect: " + firstLine(err.Error())
		return
	}
	res.Built = true
	res.Sparse, res.Layers = rep.Totals.Sparse, rep.Totals.Layers
	for _, l := range eng.Layers {
		switch {
		case l.Fallback == "gather":
			res.Gather++
		case l.Fallback == "host":
			res.Host++
		case l.Precision == "int8":
			res.Int8++
		default:
			res.Float++
		}
	}
}

// runCPU runs engine's graph on the reference executor at batch 1.
func (r *runner) runCPU(res *result, engine, npy string) string {
	ctx, cancel := r.stepContext(r.runTimeout)
	defer cancel()
	t0 := time.Now()
	var discard any
	if err := r.sqcJSON(ctx, logName(engine, "cpu"), &discard, "run", engine, "--cpu", "--input", npy, "--batch", "1", "--json"); err != nil {
		return "fails: " + firstLine(err.Error())
	}
	return fmt.Sprintf("ok (%.1f s)", time.Since(t0).Seconds())
}

// compare runs engine on the GPU and on the reference executor at batch
// and says how they agree (--compare's rules: bit for bit, or within 1e-5
// with the same arg max downstream of approximate kernels).
func (r *runner) compare(res *result, engine, npy string, batch int) string {
	if r.late(r.phase1Reserve()) {
		return "not run: out of time"
	}
	ctx, cancel := r.stepContext(r.runTimeout)
	defer cancel()
	var rep struct {
		Device  string `json:"device"`
		Compare *struct {
			Exact      bool    `json:"exact"`
			MaxRelDiff float64 `json:"max_rel_diff"`
		} `json:"compare"`
	}
	err := r.sqcJSON(ctx, logName(engine, fmt.Sprintf("compare%d", batch)), &rep, "run", engine, "--compare", "--input", npy, "--batch", fmt.Sprint(batch), "--json")
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "not finished (-run-timeout or -deadline)"
	case err != nil:
		return "fails: " + firstLine(err.Error())
	case rep.Compare == nil:
		return "no comparison in the report"
	}
	if rep.Device != "" {
		res.Device = rep.Device
	}
	if rep.Compare.Exact {
		return "exact"
	}
	return fmt.Sprintf("≤1e-5 (%.2g)", rep.Compare.MaxRelDiff)
}

// bench times engine at batch 32 with CUDA-graph replay (or launches on
// a stream when it has host steps, which a graph cannot capture).
func (r *runner) bench(res *result, engine string) string {
	var rep struct {
		Device  string `json:"device"`
		Mode    string `json:"mode"`
		Latency *struct {
			Median float64 `json:"median"`
		} `json:"latency_ms"`
	}
	iters, warmup := r.benchIters, 10
	switch {
	case res.Host > maxTimedHostSteps:
		return fmt.Sprintf("not timed: %d host steps (the reference executor on the CPU would be the time)", res.Host)
	case res.Host > 0:
		// Each host step synchronizes and runs on the CPU: fewer
		// iterations keep it within the per-step limit.
		iters, warmup = max(iters/5, 5), 2
	}
	args := []string{"bench", engine, "--batch", "32", "--json", "--iters", fmt.Sprint(iters), "--warmup", fmt.Sprint(warmup)}
	ctx, cancel := r.stepContext(r.runTimeout)
	defer cancel()
	err := r.sqcJSON(ctx, logName(engine, "bench32"), &rep, args...)
	if err != nil && strings.Contains(err.Error(), "--graph=false") {
		err = r.sqcJSON(ctx, logName(engine, "bench32-stream"), &rep, append(args, "--graph=false")...)
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "not finished (-run-timeout or -deadline)"
	case err != nil:
		return "fails: " + firstLine(err.Error())
	case rep.Latency == nil:
		return "no latency in the report"
	}
	if rep.Device != "" {
		res.Device = rep.Device
	}
	return fmt.Sprintf("%.3f ms (%s)", rep.Latency.Median, rep.Mode)
}

// ortCheck exports the model's INT8 form (-ort-recipe) as QDQ ONNX, runs
// it on the reference executor and in ONNX Runtime on the same ortBatch
// samples, and reports how the outputs agree, and where they miss the
// output rule whether every layer agrees on the same int8 inputs
// (ort_check.py's rules).
func (r *runner) ortCheck(s set, model, onnxPath, npy string) string {
	stem := filepath.Join(r.out, r.name(s, model)+"-"+r.ortRecipe)
	qdq, refOut := stem+".qdq.onnx", stem+".qdq-ref.npy"
	ctx, cancel := r.stepContext(r.timeout)
	defer cancel()
	var discard any
	if err := r.sqcJSON(ctx, r.name(s, model)+"-qdq-compile", &discard, "compile", onnxPath, "-r", filepath.Join("recipes", r.ortRecipe+".sqr"),
		"--calib-data", npy, "-o", qdq, "--json", "-q"); err != nil {
		return "export fails: " + firstLine(err.Error())
	}
	rctx, rcancel := r.stepContext(r.runTimeout)
	defer rcancel()
	if err := r.sqcJSON(rctx, r.name(s, model)+"-qdq-ref", &discard, "run", qdq, "--cpu", "--input", npy, "--batch", fmt.Sprint(ortBatch), "-o", refOut, "--json"); err != nil {
		return "reference executor fails: " + firstLine(err.Error())
	}
	octx, ocancel := r.stepContext(r.runTimeout)
	defer ocancel()
	var rep struct {
		OK      bool   `json:"ok"`
		Summary string `json:"summary"`
	}
	// With sqc, a miss of the output rule is checked layer by layer (the
	// script runs sqc from its own directory: an absolute path).
	sqc, err := filepath.Abs(r.sqc)
	if err != nil {
		return "ONNX Runtime check fails: " + err.Error()
	}
	if err := r.commandJSON(octx, r.name(s, model)+"-qdq-ort", &rep, r.py, r.ortScript, qdq, npy, fmt.Sprint(ortBatch), refOut, sqc); err != nil {
		return "ONNX Runtime check fails: " + firstLine(lastLine(err.Error()))
	}
	// The QDQ file and its reference output are large and no longer
	// needed.
	os.Remove(qdq)
	os.Remove(qdq + ".data")
	return rep.Summary
}

// logName is the log file stem of a step on an engine.
func logName(engine, step string) string {
	return strings.TrimSuffix(filepath.Base(engine), ".sqe") + "-" + step
}

// sqcJSON runs sqc with args and decodes its stdout into v; a failure's
// error is sqc's stderr.
func (r *runner) sqcJSON(ctx context.Context, log string, v any, args ...string) error {
	return r.commandJSON(ctx, log, v, r.sqc, args...)
}

// commandJSON runs a command, keeps its stdout and stderr in logs/LOG.log
// (stdout only when it is short: compile reports are long) and decodes its
// stdout into v; a failure's error is its stderr.
func (r *runner) commandJSON(ctx context.Context, log string, v any, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t0 := time.Now()
	err := cmd.Run()
	var logText bytes.Buffer
	fmt.Fprintf(&logText, "$ %s %s\n# %.1f s, %v\n", name, strings.Join(args, " "), time.Since(t0).Seconds(), err)
	if out := stdout.Bytes(); len(out) < 64<<10 {
		logText.Write(out)
	} else {
		fmt.Fprintf(&logText, "(%d bytes of stdout)\n", len(out))
	}
	logText.Write(stderr.Bytes())
	if werr := os.WriteFile(filepath.Join(r.logs, log+".log"), logText.Bytes(), 0o644); werr != nil {
		r.progress("log %s: %v", log, werr)
	}
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return errors.New(msg)
		}
		return err
	}
	if err := json.Unmarshal(stdout.Bytes(), v); err != nil {
		return fmt.Errorf("%s %s: reading its JSON: %w", filepath.Base(name), args[0], err)
	}
	return nil
}

// lastLine is the last non-empty line of s (a Python traceback's error).
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// firstLine is the first line of s that is not a warning, without sqc's
// "sqc: " prefix and the output file's name that starts a compile error,
// short enough for a table cell.
func firstLine(s string) string {
	// The first line that is not a warning: sqc warns (biases clipped,
	// layers kept dense) before it fails, and the failure is the news.
	lines := strings.Split(strings.TrimSpace(s), "\n")
	s = lines[0]
	for _, l := range lines {
		if !strings.HasPrefix(strings.TrimPrefix(l, "sqc: "), "warning:") {
			s = l
			break
		}
	}
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

// printTable writes set's rows as a Markdown table: with -gpu the compare
// and latency columns, else the CPU run's; with -ort the QDQ check's.
func printTable(w io.Writer, label string, results []result, gpu, ort bool) {
	devices := map[string]bool{}
	var rows []result
	for _, r := range results {
		if r.Set == label {
			rows = append(rows, r)
			if r.Device != "" {
				devices[r.Device] = true
			}
		}
	}
	fmt.Fprintf(w, "\n### %s\n\n", label)
	if gpu {
		var cards []string
		for d := range devices {
			cards = append(cards, d)
		}
		fmt.Fprintf(w, "Card: %s\n\n", strings.Join(cards, ", "))
	}
	head := "| model | ONNX nodes | recipe | engine | 2:4 layers | launches: INT8 / float / gather / host | compile |"
	cols := 7
	if gpu {
		head += " `run --compare`, batch 1 / 8 | batch-32 latency |"
		cols += 2
	} else {
		head += " `run --cpu`, batch 1 |"
		cols++
	}
	if ort {
		head += " QDQ export vs ONNX Runtime |"
		cols++
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, "|"+strings.Repeat("---|", cols))
	last := ""
	for _, r := range rows {
		model, nodes := r.Model, fmt.Sprint(r.Nodes)
		if model == last {
			model, nodes = "", ""
		}
		last = r.Model
		cells := []string{model, nodes, r.Recipe}
		if !r.Built {
			why := r.Error
			if !strings.HasPrefix(why, "not ") && !strings.HasPrefix(why, "export failed") {
				why = "fails: " + why
			}
			cells = append(cells, why, "", "", "")
			if r.CompileSeconds > 0 {
				cells[len(cells)-1] = fmt.Sprintf("%.1f s", r.CompileSeconds)
			}
		} else {
			cells = append(cells, "built", fmt.Sprintf("%d of %d", r.Sparse, r.Layers),
				fmt.Sprintf("%d / %d / %d / %d", r.Int8, r.Float, r.Gather, r.Host), fmt.Sprintf("%.1f s", r.CompileSeconds))
		}
		if gpu {
			cmp := ""
			if r.Built {
				cmp = r.Compare1 + " / " + r.Compare8
			}
			cells = append(cells, cmp, r.GPU)
		} else {
			cells = append(cells, r.CPURun)
		}
		if ort {
			cells = append(cells, r.ORT)
		}
		fmt.Fprintln(w, "| "+strings.Join(cells, " | ")+" |")
	}
}

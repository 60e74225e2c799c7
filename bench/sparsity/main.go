// Command sparsity measures sqc's 2:4 structured sparsity (pass prune):
//
//	go run ./bench/sparsity accuracy   # the accuracy table (MNIST, reference executor)
//	go run ./bench/sparsity speed      # magnitude + permutation on ResNet-50; SparseGPT times
//
// accuracy runs the recipe recipes/sparse-fp32.sqr on the two third-party
// MNIST models of ../shared/models with the prune step's method and permute
// options varied, and evaluates each result on the 10,000 MNIST test images
// with the reference executor: FP32 dense, 2:4 magnitude, magnitude with
// channel permutation, SparseGPT, SparseGPT with permutation. SparseGPT
// calibrates on the first 512 MNIST training images. It prints a Markdown
// table and each layer's notes.
//
// speed builds a torchvision-style ResNet-50 (internal/zoo: width 64,
// 224×224, deterministic random weights), folds its BatchNormalizations and
// times the prune pass with magnitude masks, without and with permutation
// search, at the default eligibility (first and last layers dense, layers
// under 128 output channels dense). With -sparsegpt N it then prunes it
// with SparseGPT on N random images and prints each layer's time.
package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sqc-project/sqc/dsl"
	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/internal/mnist"
	"github.com/sqc-project/sqc/internal/zoo"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/passes"
	_ "github.com/sqc-project/sqc/passes/all"
	"github.com/sqc-project/sqc/passes/prune"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "accuracy":
		err = accuracy(os.Args[2:])
	case "speed":
		err = speed(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sparsity:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: go run ./bench/sparsity accuracy [-shared DIR] [-samples N] | speed [-sparsegpt N]")
	os.Exit(2)
}

// model is one network of the study with its input preprocessing.
type model struct {
	name, file string
	tf         mnist.Transform
	// prune options that make SparseGPT's calibration data match tf.
	calib map[string]any
}

// variant is one column of the table: the prune step's options.
type variant struct {
	name string
	opts map[string]any // nil: no prune step (dense)
}

func accuracy(args []string) error {
	fs := flag.NewFlagSet("accuracy", flag.ExitOnError)
	shared := fs.String("shared", "../shared", "the shared test material (models/, data/mnist/)")
	recipe := fs.String("recipe", "recipes/sparse-fp32.sqr", "the recipe whose prune step is varied")
	samples := fs.Int("samples", 512, "SparseGPT calibration images (the first of the training set)")
	limit := fs.Int("limit", 0, "evaluate on the first N test images only (0: all 10,000)")
	only := fs.String("models", "", "comma-separated model names to run (default: both)")
	var sets setFlags
	fs.Var(&sets, "set", "extra prune option for every pruned variant, as `KEY=VALUE` (repeatable)")
	fs.Parse(args)

	dir := filepath.Join(*shared, "data", "mnist")
	test, err := mnist.Test(dir)
	if err != nil {
		return err
	}
	n := len(test.Labels)
	if *limit > 0 {
		n = min(n, *limit)
	}
	train := filepath.Join(dir, mnist.TrainImagesFile)
	models := []model{
		{"mnist-8", "mnist-8.onnx", mnist.Raw, map[string]any{}},
		{"mnist_burn_pytorch_bn", "mnist_burn_pytorch_bn.onnx", mnist.Normalize(0.1307, 0.3081),
			map[string]any{"scale": 1 / 255.0, "mean": []string{"0.1307"}, "std": []string{"0.3081"}}},
	}
	variants := []variant{
		{"FP32 dense", nil},
		{"2:4 magnitude", map[string]any{"method": prune.Magnitude, "permute": false}},
		{"2:4 magnitude + permutation", map[string]any{"method": prune.Magnitude, "permute": true}},
		{"2:4 SparseGPT", map[string]any{"method": prune.SparseGPT, "permute": false}},
		{"2:4 SparseGPT + permutation", map[string]any{"method": prune.SparseGPT, "permute": true}},
	}
	base, err := recipeSpecs(*recipe)
	if err != nil {
		return err
	}
	fmt.Printf("MNIST t10k (%d images), reference executor; recipe %s; SparseGPT on the first %d training images; %d cores\n\n", n, *recipe, *samples, runtime.NumCPU())
	var notes strings.Builder
	table := [][]string{}
	for _, m := range models {
		if *only != "" && !strings.Contains(","+*only+",", ","+m.name+",") {
			continue
		}
		row := []string{m.name}
		for _, v := range variants {
			g, err := onnx.Import(filepath.Join(*shared, "models", m.file))
			if err != nil {
				return err
			}
			specs := cloneSpecs(base)
			if v.opts == nil {
				specs = withoutPrune(specs)
			} else {
				for k, val := range v.opts {
					setPrune(specs, k, val)
				}
				for k, val := range sets {
					setPrune(specs, k, val)
				}
				if v.opts["method"] == prune.SparseGPT {
					setPrune(specs, "data", train)
					setPrune(specs, "samples", int64(*samples))
					for k, val := range m.calib {
						setPrune(specs, k, val)
					}
				}
			}
			var layerTimes []string
			prune.OnLayer = func(s prune.LayerStats) {
				layerTimes = append(layerTimes, fmt.Sprintf("%s %.0f+%.0f ms (output error %.4f, magnitude %.4f)",
					s.Layer, ms(s.Collect), ms(s.Solve), s.ErrorSparseGPT, s.ErrorMagnitude))
			}
			start := time.Now()
			if err := runSpecs(g, specs); err != nil {
				return fmt.Errorf("%s, %s: %w", m.name, v.name, err)
			}
			compile := time.Since(start)
			acc, err := evaluate(g, test, n, m.tf)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", m.name, v.name, err)
			}
			row = append(row, fmt.Sprintf("%.2f %%", 100*acc))
			fmt.Fprintf(os.Stderr, "%s, %s: %.2f %% (compile %.1f s)\n", m.name, v.name, 100*acc, compile.Seconds())
			if v.opts != nil {
				fmt.Fprintf(&notes, "%s, %s (compile %.1f s):\n", m.name, v.name, compile.Seconds())
				for _, l := range prune.Summary(g) {
					fmt.Fprintf(&notes, "  %s\n", l)
				}
				if len(layerTimes) > 0 {
					fmt.Fprintf(&notes, "  sparsegpt per layer (collect+solve): %s\n", strings.Join(layerTimes, "; "))
				}
			}
		}
		table = append(table, row)
	}
	prune.OnLayer = nil
	header := []string{"model"}
	for _, v := range variants {
		header = append(header, v.name)
	}
	printTable(header, table)
	fmt.Println()
	fmt.Print(notes.String())
	return nil
}

// setFlags collects -set KEY=VALUE options (values as on a command line).
type setFlags map[string]any

func (s *setFlags) String() string { return fmt.Sprint(map[string]any(*s)) }

func (s *setFlags) Set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("%q: want KEY=VALUE", kv)
	}
	if *s == nil {
		*s = setFlags{}
	}
	(*s)[k] = v
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// recipeSpecs reads a recipe's pipeline.
func recipeSpecs(path string) ([]passes.StepSpec, error) {
	r, err := dsl.ParseFile(path)
	if err != nil {
		return nil, err
	}
	if err := r.Check(); err != nil {
		return nil, err
	}
	return r.Pipeline()
}

func cloneSpecs(specs []passes.StepSpec) []passes.StepSpec {
	out := make([]passes.StepSpec, len(specs))
	for i, s := range specs {
		out[i] = s
		out[i].Options = map[string]any{}
		for k, v := range s.Options {
			out[i].Options[k] = v
		}
	}
	return out
}

func withoutPrune(specs []passes.StepSpec) []passes.StepSpec {
	var out []passes.StepSpec
	for _, s := range specs {
		if s.Name != prune.Pass.Name {
			out = append(out, s)
		}
	}
	return out
}

func setPrune(specs []passes.StepSpec, key string, v any) {
	for i := range specs {
		if specs[i].Name == prune.Pass.Name {
			specs[i].Options[key] = v
		}
	}
}

func runSpecs(g *ir.Graph, specs []passes.StepSpec) error {
	p, err := passes.Build(specs)
	if err != nil {
		return err
	}
	_, err = (&passes.Manager{VerifyEach: true}).Run(g, p)
	return err
}

// evaluate returns the top-1 accuracy of g on the first n images of set,
// one image per run (the models fix batch 1), on every core.
func evaluate(g *ir.Graph, set *mnist.Set, n int, tf mnist.Transform) (float64, error) {
	e, err := ref.New(g)
	if err != nil {
		return 0, err
	}
	var (
		mu      sync.Mutex
		correct int
		first   error
		wg      sync.WaitGroup
	)
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok := 0
			for i := w; i < n; i += workers {
				x, err := set.Images.Tensor(i, i+1, tf)
				var out []*ir.Tensor
				if err == nil {
					out, err = e.Run([]*ir.Tensor{x})
				}
				if err != nil {
					mu.Lock()
					first = errors.Join(first, err)
					mu.Unlock()
					return
				}
				if argmax(out[0].Float32s()) == set.Labels[i] {
					ok++
				}
			}
			mu.Lock()
			correct += ok
			mu.Unlock()
		}()
	}
	wg.Wait()
	return float64(correct) / float64(n), first
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func printTable(header []string, rows [][]string) {
	fmt.Println("| " + strings.Join(header, " | ") + " |")
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = "---"
	}
	fmt.Println("|" + strings.Join(sep, "|") + "|")
	for _, r := range rows {
		fmt.Println("| " + strings.Join(r, " | ") + " |")
	}
}

func speed(args []string) error {
	fs := flag.NewFlagSet("speed", flag.ExitOnError)
	depth := fs.Int("depth", 50, "ResNet depth")
	gptImages := fs.Int("sparsegpt", 0, "also prune with SparseGPT on this many random 224×224 images (0: skip)")
	gptOnly := fs.Bool("sparsegpt-only", false, "time SparseGPT only (skip the magnitude and permutation runs)")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the SparseGPT run to `FILE`")
	fs.Parse(args)

	build := func() (*ir.Graph, time.Duration, error) {
		start := time.Now()
		b, err := zoo.ResNet(zoo.ResNetConfig{Depth: *depth, Width: 64, Size: 224, Classes: 1000, Seed: 1})
		if err != nil {
			return nil, 0, err
		}
		data, err := b.Bytes()
		if err != nil {
			return nil, 0, err
		}
		m, err := onnx.Decode(data, "")
		if err != nil {
			return nil, 0, err
		}
		g, err := m.Lower()
		if err != nil {
			return nil, 0, err
		}
		err = runSpecs(g, []passes.StepSpec{{Name: "infer-shapes"}, {Name: "fold-batchnorm"}})
		return g, time.Since(start), err
	}
	fmt.Printf("ResNet-%d (width 64, 224×224), %d cores\n", *depth, runtime.NumCPU())
	for _, permute := range []bool{false, true} {
		if *gptOnly {
			break
		}
		g, load, err := build()
		if err != nil {
			return err
		}
		start := time.Now()
		p, err := passes.Build([]passes.StepSpec{{Name: "prune", Options: map[string]any{"permute": permute}}})
		if err != nil {
			return err
		}
		rep, err := (&passes.Manager{}).Run(g, p)
		if err != nil {
			return err
		}
		d := time.Since(start)
		fmt.Printf("prune magnitude, permute=%v: %.2f s (model build + load + fold-batchnorm %.2f s); %v\n", permute, d.Seconds(), load.Seconds(), rep.Stats["prune"])
		if permute {
			for _, l := range prune.Summary(g) {
				if strings.Contains(l, "[permute") {
					fmt.Println("  " + l)
				}
			}
		}
	}
	if *gptImages == 0 {
		return nil
	}
	g, _, err := build()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "sparsity")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	path, err := randomImages(tmp, *gptImages)
	if err != nil {
		return err
	}
	var total time.Duration
	prune.OnLayer = func(s prune.LayerStats) {
		total += s.Collect + s.Solve
		fmt.Printf("  %-22s collect %7.0f ms  solve %7.0f ms  output error %.4f (magnitude %.4f)\n", s.Layer, ms(s.Collect), ms(s.Solve), s.ErrorSparseGPT, s.ErrorMagnitude)
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var before syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	start := time.Now()
	p, err := passes.Build([]passes.StepSpec{{Name: "prune", Options: map[string]any{"method": prune.SparseGPT, "data": path, "samples": int64(*gptImages), "batch": int64(min(*gptImages, 8))}}})
	if err != nil {
		return err
	}
	if _, err := (&passes.Manager{}).Run(g, p); err != nil {
		return err
	}
	wall := time.Since(start)
	var after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	// CPU time as well as wall time: on a shared machine the wall time
	// counts other jobs' turns too.
	fmt.Printf("prune sparsegpt on %d images: %.1f s in all (per-layer sum %.1f s; CPU %.1f s on %d cores, load average %s)\n",
		*gptImages, wall.Seconds(), total.Seconds(), cpu.Seconds(), runtime.NumCPU(), loadAverage())
	return nil
}

// loadAverage is the first field of /proc/loadavg, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// randomImages writes n images of smooth noise, ImageNet-normalised in
// scale, as a .npy file.
func randomImages(dir string, n int) (string, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	const c, s = 3, 224
	data := make([]float32, n*c*s*s)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	// Smooth along rows so neighbouring pixels correlate, as in photos.
	for r := 0; r < n*c*s; r++ {
		row := data[r*s : (r+1)*s]
		for x := 1; x < s; x++ {
			row[x] = float32(0.8*row[x-1]) + float32(0.6*row[x])
		}
	}
	path := filepath.Join(dir, "images.npy")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d, %d, %d), }", n, c, s, s)
	header += strings.Repeat(" ", (64-(10+len(header)+1)%64)%64) + "\n"
	buf := []byte("\x93NUMPY\x01\x00")
	buf = append(buf, byte(len(header)), byte(len(header)>>8))
	buf = append(buf, header...)
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return "", err
	}
	out := make([]byte, 4*len(data))
	for i, v := range data {
		b := math.Float32bits(v)
		out[4*i], out[4*i+1], out[4*i+2], out[4*i+3] = byte(b), byte(b>>8), byte(b>>16), byte(b>>24)
	}
	if _, err := f.Write(out); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

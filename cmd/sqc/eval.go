package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/spf13/cobra"

	"github.com/sqc-project/sqc/internal/mnist"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/passes"
)

// evalOptions are the flags of sqc eval.
type evalOptions struct {
	images, labels      string
	scale, mean, std    float64
	recipe, calibImages string
	calibCount, count   int
	jsonOut             bool
}

func newEvalCmd() *cobra.Command {
	var o evalOptions
	cmd := &cobra.Command{
		Use:   "eval MODEL.onnx|MODEL.sqir --images IMAGES.idx[.gz] --labels LABELS.idx[.gz]",
		Short: "Measure a model's accuracy before and after compiling, on the reference executor",
		Long: `eval classifies a labelled image set (IDX files, as MNIST and Fashion-MNIST
ship, gzipped or not) with the float model and with the model a recipe
compiles, both on the CPU reference executor, and reports top-1 accuracy
(and top-5 when there are more than 5 classes) in percent.

Pixels p become (p·scale − mean) / std: --scale 0.00392156862745098 --mean
0.1307 --std 0.3081 is the usual MNIST normalization, the defaults (1, 0, 1)
feed raw 0..255 values. The recipe (-r; default: the one compile uses)
runs as compile runs it, except that its calibrate step and, when it
prunes with sparsegpt, its prune step read --calib-images (the first
--calib-count of them) with the same pixel transform; calibrate on training
images, never on the test set you evaluate.

--json prints {"float": {"top1": ..., "top5": ...}, "compiled": {...},
"images": N, "classes": C}. Progress (calibration, pruning, and the
evaluation of each model) shows on stderr; -q hides it.`,
		Args: oneArg("model file (.onnx or .sqir)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEval(cmd, args[0], &o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.images, "images", "", "the test images, an IDX `FILE` (count × rows × cols bytes)")
	f.StringVar(&o.labels, "labels", "", "the test labels, an IDX `FILE` of class indices")
	f.Float64Var(&o.scale, "scale", 1, "multiply each pixel by `S` first (1/255 maps 0..255 to 0..1)")
	f.Float64Var(&o.mean, "mean", 0, "then subtract `M`")
	f.Float64Var(&o.std, "std", 1, "then divide by `D`")
	f.StringVarP(&o.recipe, "recipe", "r", "", "compile with the `RECIPE` file (.sqr); default: the built-in "+defaultRecipe)
	f.StringVar(&o.calibImages, "calib-images", "", "calibration images, an IDX `FILE` (training images)")
	f.IntVar(&o.calibCount, "calib-count", 512, "calibrate on the first `N` calibration images")
	f.IntVar(&o.count, "count", 0, "evaluate the first `N` test images only (0: all)")
	f.BoolVar(&o.jsonOut, "json", false, "print the result as JSON")
	return cmd
}

// evalScore is one model's accuracy, in percent.
type evalScore struct {
	Top1 float64  `json:"top1"`
	Top5 *float64 `json:"top5,omitempty"`
}

// evalResult is what sqc eval reports.
type evalResult struct {
	Float    evalScore `json:"float"`
	Compiled evalScore `json:"compiled"`
	Images   int       `json:"images"`
	Classes  int       `json:"classes"`
}

func runEval(cmd *cobra.Command, model string, o *evalOptions) error {
	if o.images == "" || o.labels == "" {
		return errors.New("eval: want --images and --labels (IDX files)")
	}
	if o.std == 0 {
		return errors.New("eval: --std 0 would divide by zero")
	}
	if o.calibCount < 1 {
		return fmt.Errorf("eval: --calib-count %d, want at least 1", o.calibCount)
	}
	set, err := mnist.ReadSet(o.images, o.labels)
	if err != nil {
		return err
	}
	n := set.Images.Count
	if o.count > 0 {
		n = min(n, o.count)
	}
	if n == 0 {
		return fmt.Errorf("%s holds no images", o.images)
	}
	r, name, err := loadRecipe(o.recipe)
	if err != nil {
		return err
	}
	specs, err := r.Pipeline()
	if err != nil {
		return err
	}
	specs, err = evalCalibration(specs, name, o)
	if err != nil {
		return err
	}
	p, err := passes.Build(specs)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	float, err := loadGraph(model)
	if err != nil {
		return err
	}
	compiled, err := loadGraph(model)
	if err != nil {
		return err
	}
	progress := newProgress(cmd)
	if _, err := (&passes.Manager{Progress: progress}).Run(compiled, p); err != nil {
		return fmt.Errorf("%s: %s: %w", model, name, err)
	}
	tf := func(px uint8) float32 {
		return float32((float64(float64(px)*o.scale) - o.mean) / o.std)
	}
	res := evalResult{Images: n}
	for _, m := range []struct {
		g     *ir.Graph
		score *evalScore
		what  string
	}{{float, &res.Float, "the float model"}, {compiled, &res.Compiled, "the compiled model"}} {
		task := passes.NoProgress.Start("", "", 0)
		if progress != nil {
			task = progress.Start("eval ("+m.what+")", "images", n)
		}
		classes, top1, top5, err := classify(m.g, set, n, tf, task)
		task.End(err == nil)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", model, m.what, err)
		}
		res.Classes = classes
		m.score.Top1 = percent(top1, n)
		if classes > 5 {
			v := percent(top5, n)
			m.score.Top5 = &v
		}
	}
	return writeEval(cmd.OutOrStdout(), &res, o.jsonOut)
}

// evalCalibration points the steps that read calibration data (calibrate,
// and prune) at --calib-images with eval's pixel transform. Without
// --calib-images a calibrate step must already name its data or a cache.
func evalCalibration(specs []passes.StepSpec, recipe string, o *evalOptions) ([]passes.StepSpec, error) {
	if o.calibImages != "" {
		setDataOptions(specs, map[string]any{
			"data":    o.calibImages,
			"format":  "idx",
			"samples": int64(o.calibCount),
			"scale":   o.scale,
			"mean":    []string{fmt.Sprint(o.mean)},
			"std":     []string{fmt.Sprint(o.std)},
		})
		return specs, nil
	}
	for _, s := range specs {
		if s.Name != "calibrate" {
			continue
		}
		d, _ := s.Options["data"].(string)
		c, _ := s.Options["cache"].(string)
		if d == "" && c == "" {
			return nil, fmt.Errorf("eval: recipe %s calibrates, but neither --calib-images nor the recipe names calibration data", recipe)
		}
	}
	return specs, nil
}

func percent(k, n int) float64 { return 100 * float64(k) / float64(n) }

// classify runs the first n images through g, one per run on each core,
// and counts the images whose label is the top-1 and among the top-5
// scores. It returns the number of classes (the output's last dim).
func classify(g *ir.Graph, set *mnist.Set, n int, tf mnist.Transform, task passes.Task) (classes, top1, top5 int, err error) {
	if len(g.Inputs) != 1 || len(g.Outputs) < 1 {
		return 0, 0, 0, fmt.Errorf("graph has %d inputs and %d outputs, want one image input and a score output", len(g.Inputs), len(g.Outputs))
	}
	in := g.Inputs[0]
	dims, ok := in.Type.Shape.Ints()
	if !ok && in.Type.Shape.Rank() > 0 {
		// A symbolic batch dim is fed one image at a time.
		dims = make([]int, in.Type.Shape.Rank())
		for i, d := range in.Type.Shape {
			dims[i] = int(d.Size)
			if !d.Known() {
				if i != 0 {
					return 0, 0, 0, fmt.Errorf("input %s has shape %v, want only the batch dim unknown", in.Name, in.Type.Shape)
				}
				dims[i] = 1
			}
		}
	}
	pixels := set.Images.Rows * set.Images.Cols
	if in.Type.DType != ir.Float32 || len(dims) == 0 || dims[0] != 1 || ir.NumElements(dims) != pixels {
		return 0, 0, 0, fmt.Errorf("input %s is %v, want f32 holding one %d×%d image (batch 1)", in.Name, in.Type, set.Images.Rows, set.Images.Cols)
	}
	e, err := ref.New(g)
	if err != nil {
		return 0, 0, 0, err
	}
	workers := min(runtime.GOMAXPROCS(0), n)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	next := 0
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := i >= n || firstErr != nil
				mu.Unlock()
				if stop {
					return
				}
				x, err := set.Images.Tensor(i, i+1, tf)
				var out []*ir.Tensor
				if err == nil {
					out, err = e.Run([]*ir.Tensor{x.Reshaped(dims...)})
				}
				var c, r1, r5 int
				if err == nil {
					c, r1, r5, err = score(out[0], set.Labels[i])
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("image %d: %w", i, err)
				}
				classes, top1, top5 = c, top1+r1, top5+r5
				mu.Unlock()
				task.Add(1)
			}
		}()
	}
	wg.Wait()
	return classes, top1, top5, firstErr
}

// score reads one image's scores and says whether label is the top-1
// (1 or 0) and among the top-5.
func score(t *ir.Tensor, label int) (classes, top1, top5 int, err error) {
	if t.DType != ir.Float32 || t.Len() == 0 {
		return 0, 0, 0, fmt.Errorf("output is %v%v, want float32 scores", t.DType, ir.ShapeOf(t.Shape...))
	}
	s := t.Float32s()
	classes = len(s)
	if label >= classes {
		return 0, 0, 0, fmt.Errorf("label %d, but the model scores %d classes", label, classes)
	}
	// The label's rank: the classes that score higher, ties broken toward
	// the lower class index as an argmax taking the first maximum does.
	higher := 0
	for c, v := range s {
		if v > s[label] || (v == s[label] && c < label) {
			higher++
		}
	}
	if higher == 0 {
		top1 = 1
	}
	if higher < 5 {
		top5 = 1
	}
	return classes, top1, top5, nil
}

func writeEval(w io.Writer, r *evalResult, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	rows := []struct {
		name string
		s    evalScore
	}{{"float", r.Float}, {"compiled", r.Compiled}}
	for _, row := range rows {
		line := fmt.Sprintf("%-9s top-1 %6.2f%%", row.name+":", row.s.Top1)
		if row.s.Top5 != nil {
			line += fmt.Sprintf("  top-5 %6.2f%%", *row.s.Top5)
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "%d images, %d classes\n", r.Images, r.Classes)
	return err
}

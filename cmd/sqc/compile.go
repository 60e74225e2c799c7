package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/dsl"
	"github.com/sqc-project/sqc/frontend/onnx/onnxexport"
	"github.com/sqc-project/sqc/internal/atomicfile"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/prune"
	"github.com/sqc-project/sqc/passes/quantize"
	"github.com/sqc-project/sqc/recipes"
)

// defaultRecipe is the built-in recipe `sqc compile` follows without -r:
// 2:4 sparsity and INT8 post-training quantization, which needs calibration
// data (--calib-data).
const defaultRecipe = "sparse-int8.sqr"

func newCompileCmd() *cobra.Command {
	var (
		recipePath, output, emit       string
		calibData, depfile             string
		reportHTML, evalJSON           string
		dryRun, verifyEach, timePasses bool
		report, asJSON                 bool
		printAfter                     []string
		data                           dataFlags
		tune                           tuningFlags
	)
	cmd := &cobra.Command{
		Use:   "compile MODEL.onnx|MODEL.sqir -o OUT [-r RECIPE]",
		Short: "Compile a model with a recipe",
		Long: `compile loads a model, runs the pipeline its recipe describes and writes the
result. The output's form follows --emit, or else the extension of -o:

  .onnx   the transformed model as ONNX (opset 21), for any runtime
  .sqir   the IR's textual form
  .sqe    an engine for the GPU (needs the Ampere backend)

Outputs are written atomically: a failed compile leaves no file and never a
partial one, and the same inputs give byte-identical outputs. Without -r the
built-in recipe ` + defaultRecipe + ` is used (2:4 sparsity and INT8
quantization); --calib-data gives the calibration data of every step that
reads data, and --scale, --mean, --std, --layout, --resize and --crop its
preprocessing (as eval's flags do), overriding the recipe's. --dry-run
prints the resolved pipeline, every option with its final value, and
compiles nothing.

An engine's GEMM kernels come from --tuning-cache (written by sqc tune on the
GPU) for the layers it has, and from the documented heuristic for the rest;
the same model, recipe and cache give the same engine, GPU or not.

The output path, the calibration data and the recipe's plugins are checked
before any pass runs. A successful compile prints one line on stderr (the
output, its size, how many layers are 2:4 sparse, INT8 and float, and the
time; -q silences it); --json prints the whole report on stdout.`,
		Args: oneArg("model file (.onnx or .sqir)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			r, name, err := loadRecipe(recipePath)
			if err != nil {
				return err
			}
			specs, err := r.Pipeline()
			if err != nil {
				return err
			}
			if calibData != "" {
				setData(specs, calibData)
			}
			data.apply(cmd, specs)
			if report {
				setOption(specs, "quantize", "sensitivity", true)
				setOption(specs, "prune", "sensitivity", true)
			}
			p, err := passes.Build(specs)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if dryRun {
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), newPipelineJSON(r.Target(), p))
				}
				w := bufio.NewWriter(cmd.OutOrStdout())
				if err := dsl.WritePipeline(w, r.Target(), p); err != nil {
					return err
				}
				return w.Flush()
			}
			if output == "" {
				return fmt.Errorf("compile: want an output file (-o OUT.onnx, OUT.sqir or OUT.sqe)")
			}
			form, err := outputForm(emit, output)
			if err != nil {
				return err
			}
			if err := checkEmitExtension(form, output); err != nil {
				return err
			}
			if err := checkPrintIR("--print-ir-after", printAfter, p); err != nil {
				return err
			}
			if err := atomicfile.CheckWritable(output); err != nil {
				return err
			}
			planOpts, err := tune.planOptions(form)
			if err != nil {
				return err
			}
			g, external, err := loadModel(args[0])
			if err != nil {
				return err
			}
			if err := checkData(p, g, name); err != nil {
				return err
			}
			warn := newWarnings(cmd)
			planOpts.Warn = func(msg string) { warn.add("%s", msg) }
			warnPattern(warn, p, form)
			stderr := cmd.ErrOrStderr()
			m := &passes.Manager{VerifyEach: verifyEach, PrintAfter: printAfter, Progress: newProgress(cmd)}
			if len(printAfter) > 0 {
				m.IROut = stderr
				m.IRPrint = sqir.PrintOptions{ElideBytes: elideBytes}
			}
			rep, err := m.Run(g, p)
			if timePasses && rep != nil {
				if werr := rep.WriteTimes(stderr); werr != nil && err == nil {
					err = werr
				}
			}
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			cr := newCompileReport(g, rep, nil)
			if err := checkQuantized(cr, p, name); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			warnUnpruned(warn, cr, p, name)
			e, err := writeOutput(form, output, g, planOpts)
			if err != nil {
				return err
			}
			var fallbacks []ampere.Fallback
			if e != nil {
				cr = newCompileReport(g, rep, e)
				cr.Tuning = tune.report(planOpts, e)
				fallbacks = ampere.Fallbacks(e)
			}
			if len(fallbacks) > 0 {
				fmt.Fprintf(stderr, "%s: %d nodes have no GPU kernel of their own and run on fallbacks: %s (--report or sqc inspect says why)\n",
					output, len(fallbacks), ampere.FallbackSummary(fallbacks))
			}
			cr.Model, cr.Recipe, cr.Output, cr.Form = args[0], name, output, form
			if fi, err := os.Stat(output); err == nil {
				cr.Bytes = fi.Size()
			}
			cr.Seconds = since(start)
			cr.Warnings = warn.list
			if depfile != "" {
				inputs, err := compileInputs(args[0], external, r, p)
				if err != nil {
					return err
				}
				if tune.cache != "" {
					inputs = append(inputs, tune.cache)
				}
				if err := writeDepfile(depfile, output, inputs); err != nil {
					return err
				}
			}
			if report {
				writeReport(stderr, g)
				writeKernelReport(stderr, cr)
				writeFallbackReport(stderr, fallbacks)
			}
			notice(cmd, "%s", cr.summary())
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), cr)
			}
			if reportHTML != "" {
				if err := compileHTMLReport(reportHTML, args[0], name, output, e, g, rep, evalJSON); err != nil {
					return err
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&recipePath, "recipe", "r", "", "the `RECIPE` file (.sqr); default: the built-in "+defaultRecipe)
	f.StringVarP(&output, "output", "o", "", "the output `FILE`")
	f.StringVar(&calibData, "calib-data", "", "calibration data (`PATH`: .npy, .npz, .pb or IDX file, or a folder of images) for every step that reads data (calibrate, prune with sparsegpt), overriding the recipe's")
	f.StringVarP(&depfile, "depfile", "M", "", "write a Make/Ninja depfile to `FILE`: the output's prerequisites (model, external data, recipe and its bases, calibration data and cache, plugins, tuning cache)")
	f.StringVar(&emit, "emit", "", "output form: onnx, sqir or engine (default: from the output's extension)")
	f.BoolVar(&dryRun, "dry-run", false, "print the resolved pipeline and stop")
	f.BoolVar(&verifyEach, "verify-each", false, "verify the IR after every pass")
	f.BoolVar(&timePasses, "time-passes", false, "print a table of the time each pass took on stderr")
	f.BoolVar(&report, "report", false, "print per layer what the passes decided (2:4 sparse or dense, and why) on stderr")
	f.BoolVar(&asJSON, "json", false, "print the compile report (or, with --dry-run, the pipeline) as one JSON document on stdout")
	f.StringVar(&reportHTML, "report-html", "", "write a self-contained HTML report to `FILE`: graph diagram, layers, calibration histograms")
	f.StringVar(&evalJSON, "eval-json", "", "add to --report-html the accuracy in `FILE` (the output of sqc eval --json)")
	f.StringSliceVar(&printAfter, "print-ir-after", nil, "print the IR after `PASS` (a name, or all) on stderr")
	data.register(cmd)
	tune.register(cmd)
	return cmd
}

// warnPattern warns, before the passes run, when an engine is compiled
// with a prune pattern the sparse Tensor Cores do not run: its layers lose
// weights and still run dense.
func warnPattern(warn *warnings, p *passes.Pipeline, form string) {
	if form != "engine" {
		return
	}
	for _, s := range p.Steps {
		if s.Pass.Name != "prune" {
			continue
		}
		if r, ok := s.Options["pattern"].(passes.Ratio); ok && (r.N != 2 || r.M != 4) && r.N < r.M {
			warn.add("prune pattern = %s: the sparse Tensor Cores run 2:4 only, so the engine runs every pruned layer dense (the %s zeros cost accuracy and save no time); use pattern = 2:4", r, r)
		}
	}
}

// checkQuantized fails a compile whose recipe quantizes when no layer came
// out INT8: the output would be the float model under a name that promises
// an INT8 one (qat.sqr on a model without Q/DQ, say).
func checkQuantized(cr *compileReport, p *passes.Pipeline, recipe string) error {
	quantizes, calibrates := false, false
	for _, s := range p.Steps {
		switch s.Pass.Name {
		case "quantize", "lower-int8":
			quantizes = true
		case "calibrate":
			calibrates = true
		}
	}
	if !quantizes || cr.Totals.Layers == 0 || cr.Totals.Int8 > 0 {
		return nil
	}
	if !calibrates {
		return fmt.Errorf("recipe %s quantized no layer: it lowers the model's own quantization (QuantizeLinear/DequantizeLinear or QOperator nodes), and this model has none of those around its %d layers; for post-training quantization use dense-int8.sqr or sparse-int8.sqr with --calib-data", recipe, cr.Totals.Layers)
	}
	return fmt.Errorf("recipe %s quantized none of the %d layers (check the quantize step's ops and skip options)", recipe, cr.Totals.Layers)
}

// warnUnpruned warns when a recipe prunes but every layer stayed dense,
// with the reasons.
func warnUnpruned(warn *warnings, cr *compileReport, p *passes.Pipeline, recipe string) {
	prunes := false
	for _, s := range p.Steps {
		prunes = prunes || s.Pass.Name == "prune"
	}
	if !prunes || cr.Totals.Layers == 0 {
		return
	}
	for _, l := range cr.Layers {
		if l.Sparsity != "dense" {
			return // pruned, if not to 2:4 (warnPattern covers engines)
		}
	}
	counts := map[string]int{}
	var order []string
	for _, l := range cr.Layers {
		why := strings.TrimPrefix(l.Why, "dense: ")
		// The rule in parentheses ("min-out-channels", "first-layer =
		// skip") groups the layers; the numbers before it differ.
		if i := strings.LastIndexByte(why, '('); i >= 0 && strings.HasSuffix(why, ")") {
			why = why[i+1 : len(why)-1]
		}
		if why == "" {
			why = "no reason given"
		}
		if counts[why] == 0 {
			order = append(order, why)
		}
		counts[why]++
	}
	parts := make([]string, len(order))
	for i, why := range order {
		parts[i] = fmt.Sprintf("%s: %d", why, counts[why])
	}
	msg := fmt.Sprintf("recipe %s pruned no layer; all %d stayed dense (%s)", recipe, cr.Totals.Layers, strings.Join(parts, ", "))
	if counts["min-out-channels"]+counts["out-channel-multiple"] > 0 {
		msg += "; narrow layers stay dense by default, since sparse kernels pay off from 64 output channels: set min-out-channels and out-channel-multiple in the recipe's prune step to prune them"
	}
	warn.add("%s", msg)
}

// setData points every step whose pass takes calibration data (an option
// named "data": calibrate, prune) at path.
func setData(specs []passes.StepSpec, path string) {
	setDataOptions(specs, map[string]any{"data": path})
}

// setDataOptions sets, on every step whose pass takes calibration data, each
// of the values that the pass declares an option for.
func setDataOptions(specs []passes.StepSpec, values map[string]any) {
	for i := range specs {
		p := passes.Lookup(specs[i].Name)
		if p == nil || !declares(p, "data") {
			continue
		}
		if specs[i].Options == nil {
			specs[i].Options = map[string]any{}
		}
		for k, v := range values {
			if declares(p, k) {
				specs[i].Options[k] = v
			}
		}
	}
}

func declares(p *passes.Pass, option string) bool {
	for _, o := range p.Options {
		if o.Name == option {
			return true
		}
	}
	return false
}

// loadRecipe reads and checks the recipe at path, or the built-in default
// when path is "". It returns the recipe and the name to put in messages.
func loadRecipe(path string) (*dsl.Recipe, string, error) {
	if path == "" {
		path = defaultRecipe
	}
	r, err := openRecipe(path)
	if err == nil {
		err = r.Check()
	}
	if err != nil {
		return nil, "", err
	}
	return r, path, nil
}

// openRecipe parses a recipe without checking it: the file at path or, as
// in a recipe's base, when path is a bare name that is no file here, the
// built-in recipe of that name (-r dense-int8.sqr). Every command that
// takes a recipe resolves it this way.
func openRecipe(path string) (*dsl.Recipe, error) {
	if isBuiltinRecipe(path) {
		return dsl.ParseBuiltin(path)
	}
	r, err := dsl.ParseFile(path)
	if os.IsNotExist(err) && !strings.ContainsRune(path, filepath.Separator) {
		return nil, fmt.Errorf("%s: no such file, and no built-in recipe of that name (built-in: %s)%s", path, strings.Join(dsl.Builtins(), ", "), passes.Suggest(path, dsl.Builtins()))
	}
	return r, err
}

// isBuiltinRecipe reports whether path names a built-in recipe: a bare
// name, no such file here, and a shipped recipe of that name.
func isBuiltinRecipe(path string) bool {
	if strings.ContainsRune(path, filepath.Separator) {
		return false
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		return false
	}
	_, err := recipes.FS.Open(path)
	return err == nil
}

// outputForm decides what to write: --emit if given, else the extension.
func outputForm(emit, output string) (string, error) {
	if emit == "" {
		switch strings.ToLower(filepath.Ext(output)) {
		case ".onnx":
			emit = "onnx"
		case ".sqir":
			emit = "sqir"
		case ".sqe":
			emit = "engine"
		default:
			return "", fmt.Errorf("%s: cannot tell the output form from the extension (want .onnx, .sqir or .sqe, or --emit)", output)
		}
	}
	switch emit {
	case "onnx", "sqir", "engine":
		return emit, nil
	}
	return "", fmt.Errorf("--emit %s: want onnx, sqir or engine", emit)
}

// writeReport prints the compile report: the notes the passes left on each
// layer (prune's "2:4 (...)" or "dense: why", and what permutation did;
// quantize's activation ranges and the calibrator that chose each).
func writeReport(w io.Writer, g *ir.Graph) {
	lines := prune.Summary(g)
	if len(lines) == 0 {
		fmt.Fprintln(w, "report: no layer was considered for 2:4 sparsity (the recipe has no prune step)")
	} else {
		fmt.Fprintln(w, "report: 2:4 sparsity per layer")
		for _, l := range lines {
			fmt.Fprintln(w, "  "+l)
		}
	}
	header := false
	for _, n := range g.Nodes {
		rng, hasRange := n.Notes[quantize.RangeNoteKey]
		sens, hasSens := n.Notes[quantize.SensitivityNoteKey]
		bias, hasBias := n.Notes[quantize.BiasNoteKey]
		if !hasRange && !hasSens && !hasBias {
			continue
		}
		if !header {
			fmt.Fprintln(w, "report: int8 per layer: activation ranges (auto's error: relative squared error with only that value quantized, at the layers reading it or the network's outputs) and the output error of quantizing the layer alone")
			header = true
		}
		line := "  " + n.Name + ":"
		if hasRange {
			line += " " + rng
		}
		if hasSens {
			if hasRange {
				line += ";"
			}
			line += " " + sens
		}
		if hasBias {
			line += "; " + bias
		}
		fmt.Fprintln(w, line)
	}
}

// setOption sets an option on every step of the named pass.
func setOption(specs []passes.StepSpec, step, option string, value any) {
	for i := range specs {
		if specs[i].Name != step {
			continue
		}
		if specs[i].Options == nil {
			specs[i].Options = map[string]any{}
		}
		specs[i].Options[option] = value
	}
}

// writeFallbackReport lists the engine's nodes that run on a fallback,
// and why their op's own kernels did not take them.
func writeFallbackReport(w io.Writer, fallbacks []ampere.Fallback) {
	if len(fallbacks) == 0 {
		return
	}
	fmt.Fprintln(w, "report: nodes on fallbacks (gather: a copy-table kernel on the GPU; host: the reference executor on the CPU between launches)")
	for _, f := range fallbacks {
		fmt.Fprintf(w, "  %s (%s): %s: %s\n", f.Node, f.Op, f.How, f.Why)
	}
}

// writeOutput writes g in the form asked for; for an engine it returns the
// engine, whose kernels the compile report names.
func writeOutput(form, path string, g *ir.Graph, opts ampere.PlanOptions) (*engine.Engine, error) {
	switch form {
	case "onnx":
		return nil, onnxexport.WriteFile(path, g, onnxexport.Options{Producer: "sqc"})
	case "sqir":
		return nil, atomicfile.Write(path, func(w io.Writer) error {
			bw := bufio.NewWriterSize(w, 1<<20)
			if err := sqir.Print(bw, g); err != nil {
				return err
			}
			return bw.Flush()
		})
	case "engine":
		e, err := ampere.PlanWith(g, "sqc "+buildVersion(), opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		b, err := engine.Marshal(e)
		if err != nil {
			return nil, err
		}
		return e, atomicfile.Write(path, func(w io.Writer) error {
			_, err := w.Write(b)
			return err
		})
	}
	return nil, fmt.Errorf("unknown output form %q", form)
}

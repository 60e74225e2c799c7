package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

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
		recipePath, output, emit string
		calibData                string
		dryRun, verifyEach, time bool
		report                   bool
		printAfter               []string
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
reads data. --dry-run prints the resolved pipeline, every option with its
final value, and compiles nothing.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
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
			if report {
				setOption(specs, "quantize", "sensitivity", true)
				setOption(specs, "prune", "sensitivity", true)
			}
			p, err := passes.Build(specs)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if dryRun {
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
			g, err := loadGraph(args[0])
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			m := &passes.Manager{VerifyEach: verifyEach, PrintAfter: printAfter}
			if len(printAfter) > 0 {
				m.IROut = stderr
			}
			rep, err := m.Run(g, p)
			if time && rep != nil {
				if werr := rep.WriteTimes(stderr); werr != nil && err == nil {
					err = werr
				}
			}
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if err := writeOutput(form, output, g); err != nil {
				return err
			}
			if report {
				writeReport(stderr, g)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&recipePath, "recipe", "r", "", "the `RECIPE` file (.sqr); default: the built-in "+defaultRecipe)
	f.StringVarP(&output, "output", "o", "", "the output `FILE`")
	f.StringVar(&calibData, "calib-data", "", "calibration data (`PATH`: .npy, .npz, .pb or IDX file, or a folder of images) for every step that reads data (calibrate, prune with sparsegpt), overriding the recipe's")
	f.StringVar(&emit, "emit", "", "output form: onnx, sqir or engine (default: from the output's extension)")
	f.BoolVar(&dryRun, "dry-run", false, "print the resolved pipeline and stop")
	f.BoolVar(&verifyEach, "verify-each", false, "verify the IR after every pass")
	f.BoolVar(&time, "time-passes", false, "print a table of the time each pass took on stderr")
	f.BoolVar(&report, "report", false, "print per layer what the passes decided (2:4 sparse or dense, and why) on stderr")
	f.StringSliceVar(&printAfter, "print-ir-after", nil, "print the IR after `PASS` (a name, or all) on stderr")
	return cmd
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
// when path is "". As in a recipe's base, a bare name that is no file here
// names a built-in recipe (-r dense-int8.sqr). It returns the recipe and
// the name to put in messages.
func loadRecipe(path string) (*dsl.Recipe, string, error) {
	var r *dsl.Recipe
	var err error
	name := path
	if name == "" {
		name = defaultRecipe
	}
	builtin := path == ""
	if !builtin && !strings.ContainsRune(path, filepath.Separator) {
		if _, statErr := os.Stat(path); os.IsNotExist(statErr) {
			_, fsErr := recipes.FS.Open(path)
			builtin = fsErr == nil
		}
	}
	if builtin {
		src, rerr := recipes.FS.ReadFile(name)
		if rerr != nil {
			return nil, "", fmt.Errorf("built-in recipe %s: %w", name, rerr)
		}
		r, err = dsl.Parse(name, src)
	} else {
		r, err = dsl.ParseFile(path)
	}
	if err == nil {
		err = r.Check()
	}
	if err != nil {
		return nil, "", err
	}
	return r, name, nil
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

func writeOutput(form, path string, g *ir.Graph) error {
	switch form {
	case "onnx":
		return onnxexport.WriteFile(path, g, onnxexport.Options{Producer: "sqc"})
	case "sqir":
		return atomicfile.Write(path, func(w io.Writer) error {
			bw := bufio.NewWriterSize(w, 1<<20)
			if err := sqir.Print(bw, g); err != nil {
				return err
			}
			return bw.Flush()
		})
	case "engine":
		e, err := ampere.Plan(g, "sqc "+buildVersion())
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		b, err := engine.Marshal(e)
		if err != nil {
			return err
		}
		return atomicfile.Write(path, func(w io.Writer) error {
			_, err := w.Write(b)
			return err
		})
	}
	return fmt.Errorf("unknown output form %q", form)
}

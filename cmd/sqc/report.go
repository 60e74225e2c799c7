package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/internal/atomicfile"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/calibrate"
	htmlreport "github.com/sqc-project/sqc/report"
)

func newReportCmd() *cobra.Command {
	var (
		output, recipePath, calibData, evalJSON string
	)
	cmd := &cobra.Command{
		Use:   "report ENGINE.sqe|MODEL.onnx|MODEL.sqir -o REPORT.html",
		Short: "Write a self-contained HTML page about an engine or a model",
		Long: `report writes one HTML page, viewable offline: the graph as a diagram
coloured by precision and 2:4 sparsity, a table of its layers (MACs, 2:4 or
dense and why, INT8 scales, the kernel of each launch for an engine) and,
when calibration runs, each quantized tensor's histogram with the range
every calibrator (max, percentile, entropy, mse) would pick.

For an engine the page describes its lowered graph and kernels. A model is
described as it is, or, with -r or --calib-data, compiled in memory first
as sqc compile would (which calibrates, so the histograms are drawn).
--eval-json adds the accuracy sqc eval --json printed. sqc compile
--report-html writes the same page for what it compiles.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" {
				return fmt.Errorf("report: want an output file (-o REPORT.html)")
			}
			acc, err := readEvalJSON(evalJSON)
			if err != nil {
				return err
			}
			path := args[0]
			page := &htmlreport.Page{Title: path, Accuracy: acc}
			if strings.ToLower(filepath.Ext(path)) == ".sqe" {
				if recipePath != "" || calibData != "" {
					return fmt.Errorf("report: %s is an engine, already compiled: -r and --calib-data apply to models", path)
				}
				e, err := engine.ReadFile(path)
				if err != nil {
					return err
				}
				if page.Graph, err = ampere.Graph(e); err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				page.Engine = e
				page.Facts = [][2]string{{"engine", path}, {"producer", e.Producer}, {"target", e.GetTarget().GetArch()}}
			} else {
				g, err := loadGraph(path)
				if err != nil {
					return err
				}
				page.Graph = g
				page.Facts = [][2]string{{"model", path}}
				if recipePath != "" || calibData != "" {
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
					p, err := passes.Build(specs)
					if err != nil {
						return fmt.Errorf("%s: %w", name, err)
					}
					rep, err := (&passes.Manager{}).Run(g, p)
					if err != nil {
						return fmt.Errorf("%s: %w", path, err)
					}
					page.Calibration = calibrationOf(rep)
					page.Facts = append(page.Facts, [2]string{"recipe", name}, [2]string{"compiled", "in memory, as sqc compile would"})
				}
			}
			return writeHTMLReport(output, page)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "", "the HTML `FILE` to write")
	f.StringVarP(&recipePath, "recipe", "r", "", "compile the model with the `RECIPE` first (default with --calib-data: the built-in "+defaultRecipe+")")
	f.StringVar(&calibData, "calib-data", "", "calibration data (`PATH`) for the recipe's data-reading steps; implies compiling")
	f.StringVar(&evalJSON, "eval-json", "", "add the accuracy in `FILE`, the output of sqc eval --json")
	return cmd
}

// compileHTMLReport writes the page of sqc compile --report-html: the
// compiled graph (an engine's lowered graph and kernels when the output is
// an engine) and the calibration the run did.
func compileHTMLReport(path, model, recipe, output string, e *engine.Engine, g *ir.Graph, rep *passes.Report, evalJSON string) error {
	acc, err := readEvalJSON(evalJSON)
	if err != nil {
		return err
	}
	page := &htmlreport.Page{Title: output, Graph: g, Accuracy: acc, Calibration: calibrationOf(rep),
		Facts: [][2]string{{"model", model}, {"recipe", recipe}, {"output", output}}}
	if e != nil {
		if page.Graph, err = ampere.Graph(e); err != nil {
			return fmt.Errorf("%s: %w", output, err)
		}
		page.Engine = e
		page.Facts = append(page.Facts, [2]string{"target", e.GetTarget().GetArch()})
	}
	return writeHTMLReport(path, page)
}

// calibrationOf is the calibrate step's result in a pipeline's report.
func calibrationOf(rep *passes.Report) *calibrate.Result {
	if rep == nil {
		return nil
	}
	c, _ := rep.Results[calibrate.Pass.Name].(*calibrate.Result)
	return c
}

// writeHTMLReport binds the page graph's symbolic dims to 1 (so that MACs
// count one sample) and writes the page atomically.
func writeHTMLReport(path string, page *htmlreport.Page) error {
	if syms := symbolicDims(page.Graph); len(syms) > 0 {
		dims := map[string]int64{}
		for s := range syms {
			dims[s] = 1
		}
		// Without the binding MACs show as unknown; the page is still right.
		_ = bindDims(page.Graph, dims)
		page.Facts = append(page.Facts, [2]string{"MACs", "at " + formatDims(dims)})
	}
	return atomicfile.Write(path, func(w io.Writer) error { return htmlreport.Write(w, page) })
}

// readEvalJSON reads what sqc eval --json printed ("" reads nothing).
func readEvalJSON(path string) (*htmlreport.Accuracy, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r evalResult
	if err := json.Unmarshal(b, &r); err != nil || r.Images == 0 {
		return nil, fmt.Errorf("%s: not the output of sqc eval --json (want {\"float\": {\"top1\": ...}, \"compiled\": {...}, \"images\": N})", path)
	}
	return &htmlreport.Accuracy{Images: r.Images, Classes: r.Classes, Rows: []htmlreport.AccuracyRow{
		{Name: "float", Top1: r.Float.Top1, Top5: r.Float.Top5},
		{Name: "compiled", Top1: r.Compiled.Top1, Top5: r.Compiled.Top5},
	}}, nil
}

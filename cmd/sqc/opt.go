package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/internal/atomicfile"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/all"
	"github.com/sqc-project/sqc/plugins"
)

func newOptCmd() *cobra.Command {
	var (
		pipeline              string
		output                string
		verifyEach, timePass  bool
		fullConstants         bool
		printBefore, printAft []string
	)
	cmd := &cobra.Command{
		Use:   "opt MODEL.onnx|MODEL.sqir",
		Short: "Run graph passes over a model and print the resulting IR",
		Long: `opt loads a model (ONNX or the IR's textual form), runs a pipeline of passes
over it and prints the result as .sqir text on stdout (or into -o FILE,
written atomically). On stdout the data of constants over 1 KiB is elided
(elided "N bytes, sha256 ..."), which keeps weights out of the way but
does not load again; --full-constants prints it whole, and -o always
writes it whole. Without --passes it runs the default graph pipeline:
every built-in pass that preserves float semantics. "sqc passes" lists them.

A pipeline is a comma-separated list of pass names, each with optional
options in braces: --passes='fold-constants{max-elements=1000},dce'.`,
		Args: oneArg("model file (.onnx or .sqir)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			specs := all.Specs(all.GraphPipeline)
			if cmd.Flags().Changed("passes") {
				var err error
				if specs, err = passes.ParseSpec(pipeline); err != nil {
					return err
				}
			}
			p, err := passes.Build(specs)
			if err != nil {
				return err
			}
			if err := checkPrintIR("--print-ir-before", printBefore, p); err != nil {
				return err
			}
			if err := checkPrintIR("--print-ir-after", printAft, p); err != nil {
				return err
			}
			if output != "" {
				if err := atomicfile.CheckWritable(output); err != nil {
					return err
				}
			}
			g, err := loadGraph(args[0])
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			m := &passes.Manager{VerifyEach: verifyEach, PrintBefore: printBefore, PrintAfter: printAft, Progress: newProgress(cmd)}
			if len(printBefore)+len(printAft) > 0 {
				m.IROut = stderr
			}
			// Printed for reading, weights are noise: elided unless asked
			// for. A file written with -o is for loading, and whole.
			view := sqir.PrintOptions{ElideBytes: elideBytes}
			if fullConstants {
				view = sqir.PrintOptions{}
			}
			m.IRPrint = view
			rep, err := m.Run(g, p)
			if timePass && rep != nil {
				if werr := rep.WriteTimes(stderr); werr != nil && err == nil {
					err = werr
				}
			}
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if output != "" {
				return atomicfile.Write(output, func(w io.Writer) error { return sqir.Print(w, g) })
			}
			w := bufio.NewWriterSize(cmd.OutOrStdout(), 1<<20)
			if err := sqir.PrintWith(w, g, view); err != nil {
				return err
			}
			return w.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&pipeline, "passes", "", "comma-separated pipeline (default: the graph pipeline)")
	f.StringVarP(&output, "output", "o", "", "write the IR to `FILE` instead of stdout")
	f.BoolVar(&verifyEach, "verify-each", false, "verify the IR before the first pass and after every pass")
	f.BoolVar(&timePass, "time-passes", false, "print a table of the time each pass took on stderr")
	f.StringSliceVar(&printBefore, "print-ir-before", nil, "print the IR before `PASS` (a name, or all) on stderr")
	f.StringSliceVar(&printAft, "print-ir-after", nil, "print the IR after `PASS` (a name, or all) on stderr")
	f.BoolVar(&fullConstants, "full-constants", false, "print every constant's data in full on stdout and stderr (default: constants over 1 KiB are elided, and such text does not load; -o writes them in full)")
	return cmd
}

// elideBytes is the size above which printed IR elides a constant's data.
const elideBytes = 1024

// loadGraph reads a model by its extension: ONNX through the frontend, or
// the IR's textual form (verified).
func loadGraph(path string) (*ir.Graph, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".sqir":
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return sqir.ParseAndVerify(path, src)
	case ".onnx":
		return onnx.Import(path)
	}
	return nil, fmt.Errorf("%s: unknown model format (want a .onnx or .sqir file)", path)
}

func newPassesCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "passes [--json]",
		Short: "List every registered pass with its doc and options",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), passList())
			}
			return writePassList(cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document instead of text")
	return cmd
}

// passJSON is one pass of `sqc passes --json`.
type passJSON struct {
	Name            string       `json:"name"`
	Doc             string       `json:"doc"`
	Kind            string       `json:"kind"` // "transformation" or "analysis"
	DefaultPipeline bool         `json:"default_pipeline"`
	Plugin          string       `json:"plugin,omitempty"`
	Requires        []string     `json:"requires"`
	Options         []optionJSON `json:"options"`
}

type optionJSON struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Enum     []string `json:"enum,omitempty"`
	Default  any      `json:"default"`
	Required bool     `json:"required,omitempty"`
	Min      *float64 `json:"min,omitempty"`
	Max      *float64 `json:"max,omitempty"`
	Doc      string   `json:"doc"`
}

// passList describes every registered pass, as `sqc passes --json` prints.
func passList() map[string]any {
	inDefault := map[*passes.Pass]bool{}
	var pipeline []string
	for _, p := range all.GraphPipeline {
		inDefault[p] = true
		pipeline = append(pipeline, p.Name)
	}
	list := []passJSON{}
	for _, p := range passes.All() {
		pj := passJSON{Name: p.Name, Doc: p.Doc, Kind: "transformation", DefaultPipeline: inDefault[p], Requires: []string{}, Options: []optionJSON{}}
		if p.Analysis {
			pj.Kind = "analysis"
		}
		if pl := plugins.Of(p); pl != nil {
			pj.Plugin = pl.Path()
		}
		for _, r := range p.Requires {
			pj.Requires = append(pj.Requires, r.Name)
		}
		for _, o := range p.Options {
			oj := optionJSON{Name: o.Name, Type: o.Kind.String(), Enum: o.Enum, Default: jsonValue(o.Default), Required: o.Required, Doc: o.Doc}
			if o.Max > o.Min {
				oj.Min, oj.Max = &o.Min, &o.Max
			}
			pj.Options = append(pj.Options, oj)
		}
		list = append(list, pj)
	}
	return map[string]any{"passes": list, "default_pipeline": pipeline}
}

func writePassList(out io.Writer) error {
	w := bufio.NewWriter(out)
	inDefault := map[*passes.Pass]bool{}
	for _, p := range all.GraphPipeline {
		inDefault[p] = true
	}
	for _, p := range passes.All() {
		kind := "transformation"
		if p.Analysis {
			kind = "analysis"
		}
		if inDefault[p] {
			kind += ", in the default pipeline"
		}
		if pl := plugins.Of(p); pl != nil {
			kind += ", plugin " + pl.Path()
		}
		fmt.Fprintf(w, "%s  (%s)\n    %s\n", p.Name, kind, p.Doc)
		if len(p.Requires) > 0 {
			names := make([]string, len(p.Requires))
			for i, r := range p.Requires {
				names[i] = r.Name
			}
			fmt.Fprintf(w, "    requires: %s\n", strings.Join(names, ", "))
		}
		if len(p.Options) > 0 {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, o := range p.Options {
				typ := o.Kind.String()
				if len(o.Enum) > 0 {
					typ = strings.Join(o.Enum, "|")
				}
				def := "(default " + formatDefault(o.Default) + ")"
				if o.Required {
					def = "(required)"
				}
				fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\n", o.Name, typ, def, o.Doc)
			}
			tw.Flush()
		}
	}
	return w.Flush()
}

func formatDefault(v any) string {
	switch d := v.(type) {
	case []string:
		return "[" + strings.Join(d, ", ") + "]"
	case string:
		return fmt.Sprintf("%q", d)
	}
	return fmt.Sprint(v)
}

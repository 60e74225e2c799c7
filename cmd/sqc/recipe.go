package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sqc-project/sqc/dsl"
	"github.com/sqc-project/sqc/internal/atomicfile"
	"github.com/sqc-project/sqc/passes"
)

func newRecipeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "recipe",
		Short: "Check, format or resolve recipe files (.sqr)",
		Long: `recipe works on recipe files, the plans that say which passes compile a model
and with which options (see the dsl package's documentation for the language):

  sqc recipe check FILE...     report every error, as FILE:LINE:COL: message
  sqc recipe fmt [-w] FILE...  print the canonical form (-w: rewrite the files)
  sqc recipe pipeline FILE     print the resolved pipeline, bases applied, with
                               every option's final value
  sqc recipe list              list the built-in recipes

As everywhere a recipe is named (compile -r, eval -r, base "..."), a bare
name that is no file here names a built-in recipe: sqc recipe pipeline
sparse-int8.sqr.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := fmt.Sprintf("recipe: unknown subcommand %q", args[0])
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf(" (did you mean %s?)", quoteList(s))
			}
			return errors.New(msg + "; want check, fmt, list or pipeline")
		},
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newRecipeCheckCmd(), newRecipeFmtCmd(), newRecipePipelineCmd(), newRecipeListCmd())
	cmd.SuggestionsMinimumDistance = 2 // cobra's default, which SuggestionsFor does not apply itself
	return cmd
}

// wantFiles is the Args check of the recipe subcommands.
func wantFiles(max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return fmt.Errorf("recipe %s: want a recipe file (usage: %s)", cmd.Name(), cmd.UseLine())
		case max > 0 && len(args) > max:
			return fmt.Errorf("recipe %s: want one recipe file, got %d (usage: %s)", cmd.Name(), len(args), cmd.UseLine())
		}
		return nil
	}
}

func newRecipeCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE...",
		Short: "Check recipes; print nothing when they are fine",
		Long: `check parses and checks each recipe (and its base): steps and options exist,
values have the right type and range, steps come in an order their passes
allow. It prints nothing and exits 0 when every recipe is fine; otherwise it
prints each error as FILE:LINE:COL: message on stderr and exits 1.`,
		Args: wantFiles(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			stderr := cmd.ErrOrStderr()
			bad := 0
			for _, path := range args {
				if err := checkRecipeFile(path); err != nil {
					bad++
					var el dsl.ErrorList
					if errors.As(err, &el) {
						// One line per error, in the FILE:LINE:COL form
						// editors jump to, without the "sqc: " prefix.
						for _, e := range el {
							fmt.Fprintln(stderr, e)
						}
					} else {
						fmt.Fprintf(stderr, "%v\n", err)
					}
				}
			}
			if bad > 0 {
				return fmt.Errorf("recipe check: %d of %d recipes have errors", bad, len(args))
			}
			return nil
		},
	}
}

// checkRecipeFile parses and checks one recipe (a file, or a built-in by
// name).
func checkRecipeFile(path string) error {
	r, err := openRecipe(path)
	if err != nil {
		return err
	}
	return r.Check()
}

func newRecipeFmtCmd() *cobra.Command {
	var write bool
	cmd := &cobra.Command{
		Use:   "fmt [-w] FILE...",
		Short: "Print recipes in canonical form (or rewrite them with -w)",
		Long: `fmt prints each recipe in canonical form on stdout: one statement a line,
blocks indented by two spaces, '=' and end-of-line comments aligned,
comments and paragraphs kept. Formatting its output changes nothing. fmt
reads the syntax only: a recipe with an unknown step still formats.

With -w it rewrites each file that is not in canonical form (atomically)
and prints nothing.`,
		Args: wantFiles(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := bufio.NewWriter(cmd.OutOrStdout())
			for _, path := range args {
				if write && isBuiltinRecipe(path) {
					return fmt.Errorf("recipe fmt -w: %s is a built-in recipe, not a file here; nothing to rewrite", path)
				}
				// ParseFile refuses devices and huge files; only then is
				// the file read again for -w's comparison.
				r, err := openRecipe(path)
				if err != nil {
					return err
				}
				formatted := dsl.Format(r)
				if !write {
					if _, err := out.Write(formatted); err != nil {
						return err
					}
					continue
				}
				src, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				if string(formatted) != string(src) {
					if err := atomicfile.WriteFile(path, formatted); err != nil {
						return err
					}
				}
			}
			return out.Flush()
		},
	}
	cmd.Flags().BoolVarP(&write, "write", "w", false, "rewrite the files in place instead of printing them")
	return cmd
}

func newRecipePipelineCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "pipeline [--json] FILE",
		Short: "Print a recipe's resolved pipeline with every option's final value",
		Long: `pipeline prints the pipeline a recipe resolves to, its base's steps merged
in: the target, then one pass a line with the final value of every option
(defaults included) and its per-layer blocks. The output is itself a recipe,
without a base; "sqc compile --dry-run" prints the same.`,
		Args: wantFiles(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := openRecipe(args[0])
			if err != nil {
				return err
			}
			specs, err := r.Pipeline()
			if err != nil {
				return err
			}
			p, err := passes.Build(specs)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), newPipelineJSON(r.Target(), p))
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			if err := dsl.WritePipeline(w, r.Target(), p); err != nil {
				return err
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the pipeline as one JSON document")
	return cmd
}

func newRecipeListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List the built-in recipes",
		Long: `list prints the recipes built into sqc, one a line with what it is for.
Name one anywhere a recipe is taken (compile -r NAME, eval -r NAME,
recipe pipeline NAME, base "NAME" in a recipe); a file of that name in the
working directory takes precedence on the command line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			type entry struct {
				Name    string `json:"name"`
				Summary string `json:"summary"`
				Default bool   `json:"default,omitempty"`
			}
			list := []entry{}
			for _, name := range dsl.Builtins() {
				r, err := dsl.ParseBuiltin(name)
				if err != nil {
					return err
				}
				list = append(list, entry{Name: name, Summary: r.Summary(), Default: name == defaultRecipe})
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"recipes": list})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, e := range list {
				summary := e.Summary
				if e.Default {
					summary += " (the default of sqc compile)"
				}
				fmt.Fprintf(tw, "%s\t%s\n", e.Name, summary)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as one JSON document")
	return cmd
}

// Command sqc is the sqc toolchain's command line: it reads ONNX models and
// the IR's textual form (.sqir) and, as the toolchain grows, compiles them
// into sparse INT8 engines for NVIDIA Tensor Cores.
//
// Usage:
//
//	sqc inspect MODEL.onnx|MODEL.sqir [--json] [--dim NAME=SIZE]...
//
// Run "sqc help COMMAND" for a command's flags. Errors are printed as
// "sqc: message" on stderr and the exit status is 1; an internal error (a
// bug in sqc) exits with status 2 after printing a stack trace to report.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version is the release this binary was built from; release builds set it
// with -ldflags "-X main.version=v1.2.3" (the Makefile's build target does).
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args, writing results to stdout and
// diagnostics to stderr, and returns the process's exit status. It is main
// without the os.Exit, so tests can call it.
func run(args []string, stdout, stderr io.Writer) (status int) {
	defer func() {
		// A panic is a bug in sqc, never the user's fault: say so, and keep
		// the stack for the report, rather than let the runtime print a
		// goroutine dump that looks like a crash of the user's input.
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "sqc: internal error: %v\n", r)
			fmt.Fprintf(stderr, "this is a bug in sqc; please report it with the command line and this trace:\n%s", debug.Stack())
			status = 2
		}
	}()
	defer stopPlugins()
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintf(stderr, "sqc: %s\n", strings.TrimRight(err.Error(), "\n"))
		return 1
	}
	return 0
}

// newRootCmd builds the command tree. Every command writes through
// cmd.OutOrStdout and cmd.ErrOrStderr, which are stdout and stderr here.
func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "sqc",
		Short: "sqc compiles ONNX models into sparse INT8 engines",
		Long: `sqc is a compiler toolchain that turns ONNX models into sparse INT8 engines for
NVIDIA Tensor Cores: 2:4 structured sparsity, INT8 quantization and kernel
generation in one tool.`,
		Version: buildVersion(),
		// Errors are printed once, by run, as "sqc: message"; a usage dump
		// after every mistake would bury the message.
		SilenceErrors: true,
		SilenceUsage:  true,
		// The root runs (to print help) so that an unknown command reaches
		// rootArgs, which writes the one-line "did you mean" message.
		Args: rootArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
		// An interrupt removes the outputs being written before sqc exits.
		PersistentPreRun: func(cmd *cobra.Command, args []string) { stopOnSignal() },
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate("sqc {{.Version}}\n")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%s: %s (see '%s --help')", cmd.Name(), plainFlagValueError(err.Error()), cmd.CommandPath())
	})
	addQuietFlag(root)
	root.AddCommand(newInspectCmd(), newCompileCmd(), newRunCmd(), newBenchCmd(), newEvalCmd(), newCompareCmd(), newReportCmd(), newOptCmd(), newPassesCmd(), newRecipeCmd(), newTuneCmd(), newVersionCmd())
	wirePlugins(root)
	return root
}

// strconvError is the Go parser's part of pflag's message for a number
// flag given something else.
var strconvError = regexp.MustCompile(`strconv\.Parse(Int|Uint|Float|Bool): parsing "[^"]*": (invalid syntax|value out of range)`)

// plainFlagValueError says what a number or boolean flag wanted in sqc's
// words, not strconv's ("want a whole number", not "strconv.ParseInt: ...
// invalid syntax").
func plainFlagValueError(msg string) string {
	return strconvError.ReplaceAllStringFunc(msg, func(m string) string {
		sub := strconvError.FindStringSubmatch(m)
		switch {
		case sub[2] == "value out of range":
			return "the number is out of range"
		case sub[1] == "Float":
			return "want a number"
		case sub[1] == "Bool":
			return "want true or false"
		}
		return "want a whole number"
	})
}

// rootArgs rejects a misspelt or unknown command, suggesting the nearest
// command names (cobra's own message spreads over several lines).
func rootArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", quoteList(s))
	}
	return errors.New(msg + "; run 'sqc --help' for the list of commands")
}

// quoteList writes names as "a", "b" or "c".
func quoteList(names []string) string {
	var b strings.Builder
	for i, n := range names {
		switch {
		case i == 0:
		case i == len(names)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", n)
	}
	return b.String()
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print sqc's version and the Go release that built it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "sqc %s (%s %s/%s)\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}

// buildVersion is the version set at link time, else the module version the
// go command recorded (a tagged "go install" build), else "devel".
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

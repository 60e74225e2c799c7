package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// What sqc says besides results and errors: summaries and progress (which
// -q silences) and warnings (which it does not: a warning is about the
// output, and a quiet build still wants to know that it is not what was
// asked for).

// quietFlag is the root's persistent --quiet/-q flag.
const quietFlag = "quiet"

// addQuietFlag declares -q on the root, for every command.
func addQuietFlag(root *cobra.Command) {
	root.PersistentFlags().BoolP(quietFlag, "q", false, "print no summary and no progress (warnings and errors still)")
}

// quiet reports whether -q was given.
func quiet(cmd *cobra.Command) bool {
	q, _ := cmd.Flags().GetBool(quietFlag)
	return q
}

// notice writes an informational line on stderr unless -q was given.
func notice(cmd *cobra.Command, format string, args ...any) {
	if !quiet(cmd) {
		fmt.Fprintf(cmd.ErrOrStderr(), format+"\n", args...)
	}
}

// warnings collects the warnings of one command and prints each as it
// comes, "sqc: warning: ...", on stderr.
type warnings struct {
	w    io.Writer
	list []string
}

func newWarnings(cmd *cobra.Command) *warnings {
	return &warnings{w: cmd.ErrOrStderr(), list: []string{}}
}

func (ws *warnings) add(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	ws.list = append(ws.list, msg)
	fmt.Fprintf(ws.w, "sqc: warning: %s\n", msg)
}

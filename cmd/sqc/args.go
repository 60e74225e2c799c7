package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// oneArg is the Args check of commands that take one file: it says what
// the file is and shows the usage, where cobra would say "accepts 1
// arg(s), received 0".
func oneArg(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return fmt.Errorf("%s: want one %s, got %d arguments (usage: %s)", cmd.Name(), what, len(args), cmd.UseLine())
		}
		return nil
	}
}

// dimFlag is --dim NAME=SIZE (repeatable): sizes of symbolic dims.
type dimFlag map[string]int64

func (d dimFlag) String() string {
	names := make([]string, 0, len(d))
	for n := range d {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d", n, d[n])
	}
	return strings.Join(parts, ",")
}

// Set parses one NAME=SIZE (or several, comma-separated).
func (d dimFlag) Set(s string) error {
	for _, item := range strings.Split(s, ",") {
		name, size, ok := strings.Cut(item, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return fmt.Errorf("want NAME=SIZE, such as N=64")
		}
		n, err := strconv.ParseInt(strings.TrimSpace(size), 10, 64)
		if err != nil {
			return fmt.Errorf("want NAME=SIZE with SIZE a whole number, got %q", size)
		}
		d[strings.TrimSpace(name)] = n
	}
	return nil
}

func (d dimFlag) Type() string { return "NAME=SIZE" }

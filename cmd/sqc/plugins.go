package main

import (
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sqc-project/sqc/internal/atomicfile"
	"github.com/sqc-project/sqc/plugins"
)

// pluginCommands are the commands that run or list passes, by path: they
// take --plugin and load the plugins of SQC_PLUGIN_PATH before they run.
var pluginCommands = map[string]bool{
	"sqc compile":         true,
	"sqc opt":             true,
	"sqc passes":          true,
	"sqc recipe check":    true,
	"sqc recipe pipeline": true,
}

// wirePlugins gives the commands that run or list passes their --plugin
// flag and the loading of plugins before they run: the directories of
// SQC_PLUGIN_PATH first, then each --plugin in order. A loaded plugin's pass
// is a pass like the built-in ones, for --passes, recipes and "sqc passes".
// A recipe's plugin steps load their plugins when the recipe is checked.
func wirePlugins(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if pluginCommands[c.CommandPath()] {
			addPluginFlag(c)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func addPluginFlag(cmd *cobra.Command) {
	var paths []string
	cmd.Flags().StringArrayVar(&paths, "plugin", nil, "load the pass plugin at `PATH` (repeatable; also: directories in $"+plugins.EnvPath+")")
	pre := cmd.PreRunE
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		if pre != nil {
			if err := pre(cmd, args); err != nil {
				return err
			}
		}
		// Plugins report on standard error, each line prefixed with the
		// plugin's file name; recipes load plugins later, with this too.
		plugins.SetOutput(cmd.ErrOrStderr())
		stopOnSignal()
		if list := os.Getenv(plugins.EnvPath); list != "" {
			if _, err := plugins.LoadPath(list, plugins.Config{}); err != nil {
				return err
			}
		}
		for _, p := range paths {
			if _, err := plugins.Load(p, plugins.Config{}); err != nil {
				return err
			}
		}
		return nil
	}
}

var (
	signalOnce sync.Once
	signals    chan os.Signal
	// interrupted is set once a signal is being handled.
	interrupted atomic.Bool
)

// stopOnSignal makes an interrupt or termination stop the plugin processes
// and remove the temporary files of the outputs being written before sqc
// exits, so that no partial file stays behind. Plugins run in process
// groups of their own (so that a hung one can be killed with what it
// started), which a terminal's ^C does not reach, and go-plugin servers
// ignore interrupts anyway. Every command installs it (the root's
// PersistentPreRun).
func stopOnSignal() {
	signalOnce.Do(func() {
		signals = make(chan os.Signal, 1)
		signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
		go func() {
			s := <-signals
			interrupted.Store(true)
			atomicfile.RemovePending()
			plugins.Shutdown()
			code := 130 // 128 + SIGINT, as a shell reports it
			if s == syscall.SIGTERM {
				code = 143
			}
			os.Exit(code)
		}()
	})
}

// stopPlugins stops every plugin process; run calls it before returning, on
// every path. When an interrupt is being handled, the command's failure is
// its doing: stopPlugins leaves the exit to the handler, so that sqc exits
// with the interrupt's status rather than the failed step's.
func stopPlugins() {
	if interrupted.Load() {
		select {}
	}
	plugins.Shutdown()
	plugins.SetOutput(nil)
}

// Command testpass is a plugin for the tests of package plugins. The
// environment variable SQC_TESTPASS chooses what it does, mostly how it
// misbehaves, and its pass is named test-MODE. The tests start it through
// small shell scripts that set the variable, so each mode is a plugin of
// its own.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/plugins/internal/wire"
	"github.com/sqc-project/sqc/plugins/sqcplugin"
)

func main() {
	mode := os.Getenv("SQC_TESTPASS")
	switch mode {
	case "garbage-stdout":
		fmt.Println("hello from a chatty plugin")
	case "exit-early":
		fmt.Fprintln(os.Stderr, "cannot start: no licence for this machine")
		os.Exit(1)
	case "hang-start":
		time.Sleep(time.Hour)
	case "protocol-2":
		// A plugin built against a later sqc: the same cookie, protocol 2.
		hs := wire.Handshake
		hs.ProtocolVersion = 2
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig: hs,
			Plugins:         plugin.PluginSet{wire.PluginName: &wire.GRPCPlugin{}},
			GRPCServer:      plugin.DefaultGRPCServer,
		})
		return
	}
	p := &sqcplugin.Pass{
		Name: "test-" + mode,
		Doc:  "behave as the tests ask: " + mode,
		Run:  func(ctx context.Context, g *ir.Graph, opts sqcplugin.Options) error { return behave(ctx, mode, g) },
	}
	if mode == "bad-option" {
		p.Options = []sqcplugin.Option{{Name: "timeout", Doc: "clashes with sqc's own", Default: 1.0}}
	}
	sqcplugin.Serve(p)
}

func behave(ctx context.Context, mode string, g *ir.Graph) error {
	switch mode {
	case "crash":
		fmt.Fprintln(os.Stderr, "fatal: out of cheese")
		os.Exit(3)
	case "panic":
		// A panic outside Run's goroutine: nothing can recover it.
		go func() { panic("boom in a goroutine") }()
		time.Sleep(time.Hour)
	case "panic-run":
		panic("boom in Run")
	case "hang":
		// Hangs, ignoring ctx, with a child process that must die too.
		cmd := exec.Command("sleep", "987")
		if err := cmd.Start(); err != nil {
			return err
		}
		time.Sleep(time.Hour)
	case "invalid":
		// Claims 2:4 sparsity for a weight that is not sparse.
		for _, n := range g.Nodes {
			if w := n.Input(1); n.Op == "Conv" && w.IsConst() {
				w.Sparsity = &ir.Sparsity{N: 2, M: 4, Axis: 1}
				return nil
			}
		}
		return fmt.Errorf("no conv")
	case "dangling":
		g.Nodes = g.Nodes[1:]
	case "rename-output":
		g.Outputs[0].Name += ".renamed"
	case "error":
		return fmt.Errorf("layer %s: no luck today", g.Nodes[0].Name)
	case "noisy":
		fmt.Println("garbage on stdout during Run")
		fmt.Fprintln(os.Stderr, "a line on stderr")
		g.Nodes[0].Note("noisy", "was here")
	case "noop":
	case "touch":
		// Changes every large float constant, so that all of it crosses
		// back through the response's weights file.
		seen := map[*float32]bool{} // values may share memory
		for _, v := range g.Constants() {
			if v.Const.DType == ir.Float32 && v.Const.Len() >= 1024 && !seen[&v.Const.Float32s()[0]] {
				seen[&v.Const.Float32s()[0]] = true
				for i, x := range v.Const.Float32s() {
					v.Const.Float32s()[i] = -x
				}
			}
		}
	case "slow":
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Hour):
		}
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	return nil
}

package sqcplugin

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/plugins/internal/wire"
)

// Pass is the pass a plugin serves.
type Pass struct {
	// Name is the pass's name in pipelines and recipes: lower-case words
	// joined by '-', unique among the passes sqc knows.
	Name string
	// Doc says what the pass does: a lower-case phrase, no final period.
	Doc string
	// Options is the schema of the pass's options.
	Options []Option
	// Run transforms g in place. opts holds every declared option, defaults
	// applied; opts.For(n) gives the values for node n after the recipe's
	// per-layer blocks.
	Run func(ctx context.Context, g *ir.Graph, opts Options) error
}

// Kind is the type of an option.
type Kind int

// The option kinds, and the Go type of their values.
const (
	KindBool     Kind = iota + 1 // bool
	KindInt                      // int64
	KindFloat                    // float64
	KindString                   // string
	KindStrings                  // []string
	KindRatio                    // Ratio (2:4)
	KindSelector                 // Selector of layers
)

var passKinds = map[Kind]passes.OptionKind{
	KindBool: passes.Bool, KindInt: passes.Int, KindFloat: passes.Float, KindString: passes.String,
	KindStrings: passes.Strings, KindRatio: passes.RatioKind, KindSelector: passes.SelectorKind,
}

// Option declares one option of the pass.
type Option struct {
	Name string
	Doc  string
	// Kind is the option's type; when zero it follows from Default's Go
	// type (an int is taken as an int64).
	Kind Kind
	// Default is the value when the pipeline sets none; nil only for a
	// Required option.
	Default any
	// Min and Max bound an int or float option when Max > Min.
	Min, Max float64
	// Enum lists the allowed values of a string option.
	Enum []string
	// Required marks an option every pipeline must set.
	Required bool
}

// Ratio is an N:M value such as 2:4.
type Ratio = passes.Ratio

// Selector picks nodes by name or op type; Match(n) says whether it picks n.
type Selector = passes.Selector

// Options are the values of the pass's options.
type Options struct {
	values  passes.Options
	perNode map[*ir.Node]passes.Options
}

// Bool returns a bool option.
func (o Options) Bool(name string) bool { return o.values.Bool(name) }

// Int returns an int option.
func (o Options) Int(name string) int64 { return o.values.Int(name) }

// Float returns a float option.
func (o Options) Float(name string) float64 { return o.values.Float(name) }

// String returns a string option.
func (o Options) String(name string) string { return o.values.String(name) }

// Strings returns a list option.
func (o Options) Strings(name string) []string { return o.values.Strings(name) }

// Ratio returns a ratio option.
func (o Options) Ratio(name string) Ratio { return o.values.Ratio(name) }

// Selector returns a selector option.
func (o Options) Selector(name string) Selector { return o.values.Selector(name) }

// Has reports whether the option has a value: always for an option with a
// default, and for a required one that the pipeline sets.
func (o Options) Has(name string) bool { return o.values[name] != nil }

// For returns the options that apply to node n: the step's, with the values
// of the recipe's per-layer blocks that pick n laid over them.
func (o Options) For(n *ir.Node) Options {
	if v, ok := o.perNode[n]; ok {
		return Options{values: v, perNode: o.perNode}
	}
	return o
}

type statsKey struct{}

// Count adds n to a named statistic of the pass ("layers pruned"); sqc
// shows the statistics with its --time-passes table. It does nothing when
// ctx is not a Run's.
func Count(ctx context.Context, stat string, n int) {
	if s, ok := ctx.Value(statsKey{}).(*stats); ok {
		s.add(stat, n)
	}
}

// Serve serves the pass to sqc and never returns. A malformed Pass is
// reported on standard error, and the plugin exits with status 1: sqc then
// shows that message as the reason the plugin did not start.
func Serve(p *Pass) {
	srv, err := newServer(p)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sqcplugin: %v\n", err)
		os.Exit(1)
	}
	go watchParent(os.Getppid())
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: wire.Handshake,
		Plugins:         plugin.PluginSet{wire.PluginName: &wire.GRPCPlugin{Impl: srv}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return plugin.DefaultGRPCServer(append(opts, wire.ServerOptions()...))
		},
		// go-plugin's own log would otherwise fill sqc's terminal with
		// trace lines; its errors still explain a failed start.
		Logger: hclog.New(&hclog.LoggerOptions{Name: "sqcplugin", Level: hclog.Error, Output: os.Stderr}),
	})
	os.Exit(0)
}

// watchParent ends the plugin when sqc is gone. sqc stops its plugins when
// it exits, but a host killed outright cannot, and go-plugin servers ignore
// the interrupt that a terminal's ^C sends the whole process group; an
// orphaned plugin is reparented, which this notices.
func watchParent(ppid int) {
	for range time.Tick(500 * time.Millisecond) {
		if os.Getppid() != ppid {
			os.Exit(1)
		}
	}
}

// toPassOption checks a declaration and converts it to the pass manager's.
func toPassOption(o Option) (passes.Option, error) {
	po := passes.Option{Name: o.Name, Doc: o.Doc, Min: o.Min, Max: o.Max, Enum: o.Enum, Required: o.Required}
	def := o.Default
	if n, ok := def.(int); ok {
		def = int64(n)
	}
	kind := o.Kind
	if kind == 0 {
		switch def.(type) {
		case bool:
			kind = KindBool
		case int64:
			kind = KindInt
		case float64:
			kind = KindFloat
		case string:
			kind = KindString
		case []string:
			kind = KindStrings
		case Ratio:
			kind = KindRatio
		case Selector:
			kind = KindSelector
		case nil:
			return po, fmt.Errorf("option %s has neither a Kind nor a Default", o.Name)
		default:
			return po, fmt.Errorf("option %s: a default of type %T has no option kind", o.Name, def)
		}
	}
	pk, ok := passKinds[kind]
	if !ok {
		return po, fmt.Errorf("option %s: unknown kind %d", o.Name, kind)
	}
	po.Kind = pk
	if n, ok := def.(int64); ok && pk == passes.Float {
		def = float64(n)
	}
	if def == nil && !o.Required {
		return po, fmt.Errorf("option %s has no default: give it one, or mark it Required", o.Name)
	}
	if def != nil && o.Required {
		return po, fmt.Errorf("option %s is Required but has a default", o.Name)
	}
	po.Default = def
	return po, nil
}

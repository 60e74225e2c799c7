// Package sqcplugin is the SDK for writing sqc passes as plugins: programs
// of their own that sqc starts, hands a graph to, and takes the transformed
// graph back from. A plugin pass appears to sqc's pass manager as an
// ordinary pass: "sqc passes" lists it, --passes and recipes name it, its
// options are checked against the schema it declares, with the same
// messages as a built-in pass's.
//
// A complete plugin, which removes the notes passes left on nodes:
//
//	package main
//
//	import (
//		"context"
//
//		"github.com/sqc-project/sqc/ir"
//		"github.com/sqc-project/sqc/plugins/sqcplugin"
//	)
//
//	func main() {
//		sqcplugin.Serve(&sqcplugin.Pass{
//			Name: "drop-notes",
//			Doc:  "remove the notes earlier passes left on nodes",
//			Options: []sqcplugin.Option{
//				{Name: "keep", Doc: "note keys to keep", Default: []string{"sparsity"}},
//			},
//			Run: func(ctx context.Context, g *ir.Graph, opts sqcplugin.Options) error {
//				for _, n := range g.Nodes {
//					keep := map[string]bool{}
//					for _, k := range opts.For(n).Strings("keep") {
//						keep[k] = true
//					}
//					for k := range n.Notes {
//						if !keep[k] {
//							delete(n.Notes, k)
//							sqcplugin.Count(ctx, "notes removed", 1)
//						}
//					}
//				}
//				return nil
//			},
//		})
//	}
//
// Build it with go build, and use it:
//
//	sqc opt --plugin ./drop-notes --passes='prune,drop-notes{keep=}' model.onnx
//	sqc compile -r recipe.sqr -o out.onnx model.onnx   # recipe: plugin "./drop-notes" { keep = [] }
//
// # Running
//
// sqc starts the plugin when it loads it (from --plugin, a directory in
// SQC_PLUGIN_PATH, or a recipe's plugin step), asks for its name, doc and
// options, and keeps it running for the passes of that command. Run is
// called once per pipeline step, with the step's graph: it changes the graph
// in place (or replaces g's fields) and returns nil, or returns an error that
// sqc reports under the pass's name. A panic in Run is recovered and
// reported the same way; the plugin keeps serving.
//
// The graph must come back valid: sqc runs ir.Verify on it, with the
// sparsity and quantization invariants, and refuses a graph that does not
// verify. The graph's inputs and outputs must keep their names.
//
// ctx carries the step's deadline (the host option timeout, 60 s unless the
// pipeline sets it): a long pass should return when ctx is done, since sqc
// stops a plugin that overruns it.
//
// # The graph and its weights
//
// The graph arrives as an ordinary *ir.Graph. Constants of 4 KiB or more do
// not travel in gRPC messages: sqc writes them to a file that the plugin maps
// copy-on-write, and their tensors point into the mapping, so a plugin gets
// a ResNet-50's 100 MB of weights without copying them. A pass may read and
// change them in place. What comes back unchanged costs nothing; changed and
// new constants are written to a file sqc reads. The mapping ends when Run
// returns: a plugin must not keep the graph or its tensors past Run.
//
// # Output
//
// A plugin must not write to standard output before Serve: sqc reads its
// handshake there, and refuses a plugin that writes something else. After
// Serve, what the plugin writes to standard output or standard error (with
// fmt, the log package ...) is shown to the sqc user as the plugin's
// diagnostics.
//
// # Options
//
// An Option's kind follows from its Default (bool, int or int64, float64,
// string, []string, Ratio, Selector) or is set with Kind, which a Required
// option (one without a default) needs. The names timeout and sha256 are
// sqc's own and cannot be declared.
package sqcplugin

// Command drop-notes is the minimal sqc plugin of package sqcplugin's
// documentation and the README's plugin author's guide, kept here so that
// the tests build and run it: it removes the notes earlier passes left on
// nodes, except those it is told to keep.
package main

import (
	"context"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/plugins/sqcplugin"
)

func main() {
	sqcplugin.Serve(&sqcplugin.Pass{
		Name: "drop-notes",
		Doc:  "remove the notes earlier passes left on nodes",
		Options: []sqcplugin.Option{
			{Name: "keep", Doc: "note keys to keep", Default: []string{"sparsity"}},
		},
		Run: func(ctx context.Context, g *ir.Graph, opts sqcplugin.Options) error {
			for _, n := range g.Nodes {
				keep := map[string]bool{}
				for _, k := range opts.For(n).Strings("keep") {
					keep[k] = true
				}
				for k := range n.Notes {
					if !keep[k] {
						delete(n.Notes, k)
						sqcplugin.Count(ctx, "notes removed", 1)
					}
				}
			}
			return nil
		},
	})
}

package ampere

import (
	"slices"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/ir"
)

// markWrites fills in every step's Step.Writes and sets
// Engine.step_writes. A step writes every buffer argument except those
// that only read an input of its own node: the node the step names, which
// is not the node being planned (plannedWith) for the data-movement nodes
// planned with their reader; that one where the name is no node's. A
// buffer counts by the buffer it views (engine.Buffer.alias_of), so an
// in-place step, whose output views its input, writes it. The rule errs
// one way only: a buffer a step reads but the rule cannot show it only
// reads (a scratch buffer of the node's own, a fused residual, the NHWC
// copy of an input) counts as written, which orders the step after the
// buffer's other users and never lets two steps that conflict run at once.
// The plan simulation checks the other way: a step changes no buffer its
// writes do not name.
func (p *planner) markWrites(plannedWith []*ir.Node) {
	byName := make(map[string]*ir.Node, len(p.g.Nodes))
	for _, n := range p.g.Nodes {
		byName[n.Name] = n
	}
	root := bufferRoots(p.e)
	for i, s := range p.e.Steps {
		own := plannedWith[i]
		if n := byName[s.Node]; n != nil {
			own = n
		}
		reads := p.onlyReads(own, root)
		s.Writes = s.Writes[:0]
		for _, a := range s.Args {
			b, ok := a.V.(*engine.Arg_Buffer)
			if !ok {
				continue
			}
			if r := root(b.Buffer); !reads[r] && !slices.Contains(s.Writes, r) {
				s.Writes = append(s.Writes, r)
			}
		}
	}
	p.e.StepWrites = true
}

// onlyReads returns the buffers (by the buffer they view) of n's inputs
// that are none of its outputs'.
func (p *planner) onlyReads(n *ir.Node, root func(string) string) map[string]bool {
	reads := map[string]bool{}
	for _, v := range n.Inputs {
		if b := p.bufs[v]; b != nil && v != nil {
			reads[root(b.Name)] = true
		}
	}
	for _, v := range n.Outputs {
		if b := p.bufs[v]; b != nil && v != nil {
			delete(reads, root(b.Name))
		}
	}
	return reads
}

// bufferRoots returns a function from a buffer's name to the name of the
// buffer it views (itself where it views none).
func bufferRoots(e *engine.Engine) func(string) string {
	of := make(map[string]string, len(e.Buffers))
	for _, b := range e.Buffers {
		of[b.Name] = b.AliasOf
	}
	return func(name string) string {
		for range len(of) + 1 {
			a := of[name]
			if a == "" {
				return name
			}
			name = a
		}
		return name
	}
}

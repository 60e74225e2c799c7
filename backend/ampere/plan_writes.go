package ampere

import (
	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/ir"
)

// markWrites fills in Step.Writes of the steps planned while planning
// node n: every buffer argument except those that only read an input of
// the step's own node (the node the step names, which is not n for the
// data-movement nodes planned with their reader; n where the name is no
// node's). A buffer counts by the buffer it views (engine.Buffer.alias_of),
// so an in-place step, whose output views its input, writes it. The rule
// errs one way only: a buffer a step reads but the rule cannot show it
// only reads (a scratch buffer of the node's own, a fused residual, the
// NHWC copy of an input) counts as written, which orders the step after
// the buffer's other users and never lets two steps that conflict run at
// once. The plan simulation checks the other way: a step changes no
// buffer its writes do not name.
func (p *planner) markWrites(n *ir.Node, steps []*engine.Step) {
	if len(steps) == 0 {
		return
	}
	if p.nodeByName == nil {
		p.nodeByName = make(map[string]*ir.Node, len(p.g.Nodes))
		for _, m := range p.g.Nodes {
			p.nodeByName[m.Name] = m
		}
	}
	root := bufferRoots(p.e)
	for _, s := range steps {
		own := n
		if m := p.nodeByName[s.Node]; m != nil {
			own = m
		}
		reads := p.onlyReads(own, root)
		s.Writes = s.Writes[:0]
		seen := map[string]bool{}
		for _, a := range s.Args {
			b, ok := a.V.(*engine.Arg_Buffer)
			if !ok {
				continue
			}
			r := root(b.Buffer)
			if reads[r] || seen[r] {
				continue
			}
			seen[r] = true
			s.Writes = append(s.Writes, r)
		}
	}
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

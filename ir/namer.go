package ir

import "strconv"

// Namer hands out value names no value of a graph has yet. Value names
// must be unique (the verifier checks it), so a pass that adds values takes
// their names from a Namer made for the graph it changes. The zero Namer
// has no name taken.
type Namer struct {
	taken map[string]bool
}

// NewNodeNamer reserves the names of g's nodes, for passes that add nodes.
func NewNodeNamer(g *Graph) *Namer {
	n := &Namer{}
	for _, node := range g.Nodes {
		n.Reserve(node.Name)
	}
	return n
}

// Reserve marks a name as taken.
func (n *Namer) Reserve(name string) {
	if n.taken == nil {
		n.taken = map[string]bool{}
	}
	n.taken[name] = true
}

// Release makes a name free again (its value was removed or renamed).
func (n *Namer) Release(name string) { delete(n.taken, name) }

// NewNamer reserves the names of g's inputs, constants, node outputs and
// outputs.
func NewNamer(g *Graph) *Namer {
	n := &Namer{taken: map[string]bool{}}
	for _, v := range g.Inputs {
		n.taken[v.Name] = true
	}
	for _, v := range g.Constants() {
		n.taken[v.Name] = true
	}
	for _, node := range g.Nodes {
		for _, v := range node.Outputs {
			if v != nil {
				n.taken[v.Name] = true
			}
		}
	}
	for _, v := range g.Outputs {
		if v != nil {
			n.taken[v.Name] = true
		}
	}
	return n
}

// Fresh returns base if it is free, else base.1, base.2 ... (the first that
// is), and reserves it.
func (n *Namer) Fresh(base string) string {
	name := base
	for i := 1; n.taken[name]; i++ {
		name = base + "." + strconv.Itoa(i)
	}
	n.Reserve(name)
	return name
}

// Taken reports whether a name is in use.
func (n *Namer) Taken(name string) bool { return n.taken[name] }

package dsl

// Files returns the recipe files the recipe was read from: its own file,
// then its bases down the chain. Built-in recipes are part of the sqc
// binary and are not listed. Build systems make these inputs of what a
// recipe compiles (sqc compile -M). It is valid after a successful Check.
func (r *Recipe) Files() []string {
	if r.checked == nil {
		return nil
	}
	return append([]string(nil), r.checked.files...)
}

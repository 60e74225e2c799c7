package onnx

import "sort"

// ExternalFiles returns the external data files the model's tensors were
// read from so far, sorted: after Load, the initializers' files; after
// Lower, those of Constant nodes too. Build systems list them as inputs of
// whatever is made from the model (sqc compile -M).
func (m *Model) ExternalFiles() []string {
	files := make([]string, 0, len(m.tc.read))
	for f := range m.tc.read {
		files = append(files, f)
	}
	sort.Strings(files)
	return files
}

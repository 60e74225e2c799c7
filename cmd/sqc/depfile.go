package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sqc-project/sqc/dsl"
	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/internal/atomicfile"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/plugins"
)

// loadModel is loadGraph that also returns the files the model's data came
// from besides the model file itself: ONNX external data files. A build
// system must rebuild when any of them changes.
func loadModel(path string) (*ir.Graph, []string, error) {
	if strings.ToLower(filepath.Ext(path)) != ".onnx" {
		g, err := loadGraph(path)
		return g, nil, err
	}
	m, err := onnx.Load(path)
	if err != nil {
		return nil, nil, err
	}
	g, err := m.Lower()
	if err != nil {
		return nil, nil, err
	}
	return g, m.ExternalFiles(), nil
}

// compileInputs lists every file a compile read, the model first: its
// external data, the recipe and its bases (built-in recipes are part of the
// binary), and for each step the plugin binary it runs and the calibration
// data and cache it reads. A folder of calibration data is listed with the
// files in it, so that adding a file (which changes the folder) or changing
// one rebuilds.
func compileInputs(model string, external []string, r *dsl.Recipe, p *passes.Pipeline) ([]string, error) {
	deps := []string{model}
	deps = append(deps, external...)
	deps = append(deps, r.Files()...)
	for _, s := range p.Steps {
		if pl := plugins.Of(s.Pass); pl != nil {
			deps = append(deps, pl.Path())
		}
		if data := s.Options.String("data"); data != "" {
			files, err := dataFiles(data)
			if err != nil {
				return nil, err
			}
			deps = append(deps, files...)
		}
		// The cache is read when it matches and written otherwise: after
		// a compile it exists, and a later change to it must rebuild.
		if cache := s.Options.String("cache"); cache != "" {
			if _, err := os.Stat(cache); err == nil {
				deps = append(deps, cache)
			}
		}
	}
	// Keep the first mention of each file, in order: the depfile reads
	// as the compile went.
	var out []string
	seen := map[string]bool{}
	for _, d := range deps {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out, nil
}

// dataFiles is path for a file, or the folder and the regular files in it
// (sorted, not descending: the dataset readers do not either).
func dataFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("depfile: calibration data: %w", err)
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("depfile: calibration data: %w", err)
	}
	files := []string{path}
	for _, e := range entries {
		if e.Type().IsRegular() {
			files = append(files, filepath.Join(path, e.Name()))
		}
	}
	slices.Sort(files[1:])
	return files, nil
}

// writeDepfile writes a Make-style depfile, "target: prereq ...", which
// Make (include), Ninja (depfile = ..., deps = gcc) and Bazel's genrules
// read. It is written atomically: a build interrupted halfway never reads
// half a list.
func writeDepfile(path, target string, prereqs []string) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		bw.WriteString(escapeDep(target) + ":")
		for _, p := range prereqs {
			bw.WriteString(" \\\n  " + escapeDep(p))
		}
		bw.WriteString("\n")
		return bw.Flush()
	})
}

// escapeDep escapes a path as GCC does in the depfiles of -MD, the dialect
// Make and Ninja both read: a space or '#' gets a backslash, '$' doubles.
func escapeDep(path string) string {
	var b strings.Builder
	for _, c := range path {
		switch c {
		case ' ', '\t', '#':
			b.WriteByte('\\')
		case '$':
			b.WriteByte('$')
		}
		b.WriteRune(c)
	}
	return b.String()
}

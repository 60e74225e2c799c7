package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sqc-project/sqc/internal/dataset"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/dataopt"
)

// Checks that run before any pass, so that a mistake in the command line
// costs nothing: a compile that fails at the end, after minutes of
// calibration, for want of an output directory, is work lost.

// checkPrintIR rejects a --print-ir-before/after name that no step of the
// pipeline has (it would print nothing).
func checkPrintIR(flag string, names []string, p *passes.Pipeline) error {
	var steps []string
	has := map[string]bool{}
	for _, s := range p.Steps {
		if !has[s.Pass.Name] {
			steps = append(steps, s.Pass.Name)
		}
		has[s.Pass.Name] = true
	}
	for _, n := range names {
		if n == "all" || has[n] {
			continue
		}
		if passes.Lookup(n) == nil {
			var all []string
			for _, q := range passes.All() {
				all = append(all, q.Name)
			}
			return fmt.Errorf("%s=%s: no pass is called %s%s (want a pass name or all)", flag, n, n, passes.Suggest(n, all))
		}
		return fmt.Errorf("%s=%s: the pipeline has no %s step, so nothing would be printed (its steps: %s)", flag, n, n, strings.Join(steps, ", "))
	}
	return nil
}

// calibDataHint says how to give calibration data, for messages.
const calibDataHint = "give --calib-data PATH (a .npy, .npz, .pb or IDX file, an image, or a folder of images or .pb files)"

// checkData opens the calibration data of every step that reads data and
// reads its first batch against g's inputs: a missing or unreadable file,
// a format that cannot be told, or samples of the wrong shape fail here,
// before any pass runs. A calibrate step without data needs a cache file
// that exists; a sparsegpt prune step needs data.
func checkData(p *passes.Pipeline, g *ir.Graph, recipe string) error {
	checked := map[string]bool{}
	for _, s := range p.Steps {
		// prune reads data only with sparsegpt; magnitude ignores it.
		if !declares(s.Pass, "data") || (s.Pass.Name == "prune" && s.Options.String("method") != "sparsegpt") {
			continue
		}
		path := s.Options.String("data")
		if path == "" {
			switch {
			case s.Pass.Name == "calibrate" && s.Options.String("cache") == "":
				return fmt.Errorf("recipe %s calibrates, but no calibration data was given: %s, or set data (or cache) in its calibrate step", recipe, calibDataHint)
			case s.Pass.Name == "calibrate":
				if _, err := os.Stat(s.Options.String("cache")); err != nil {
					return fmt.Errorf("recipe %s calibrates from the cache %s, which cannot be read (%v), and no calibration data was given: %s", recipe, s.Options.String("cache"), errors.Unwrap(err), calibDataHint)
				}
			case s.Pass.Name == "prune" && s.Options.String("method") == "sparsegpt":
				return fmt.Errorf("recipe %s prunes with sparsegpt, which needs calibration data: %s, or set data in its prune step", recipe, calibDataHint)
			}
			continue
		}
		spec, err := dataopt.Spec(s.Options)
		if err != nil {
			return fmt.Errorf("%s: %s step: %w", recipe, s.Pass.Name, err)
		}
		spec.Inputs = dataset.InputsOf(g)
		key := fmt.Sprintf("%+v", spec)
		if checked[key] {
			continue
		}
		checked[key] = true
		if err := readFirstBatch(spec); err != nil {
			return fmt.Errorf("calibration data of the %s step: %w", s.Pass.Name, err)
		}
	}
	return nil
}

// readFirstBatch opens the data and reads one batch; dataset's errors name
// the file, the sample and what was expected.
func readFirstBatch(spec dataset.Spec) error {
	if _, err := os.Stat(spec.Path); err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("%s does not exist", spec.Path)
		}
		return err
	}
	src, err := dataset.Open(spec)
	if err != nil {
		return err
	}
	defer src.Close()
	if _, err := src.Next(); err != nil {
		if err == io.EOF {
			return fmt.Errorf("%s holds no samples", spec.Path)
		}
		return err
	}
	return nil
}

// extensionForms are the output forms the extensions of -o imply.
var extensionForms = map[string]string{".onnx": "onnx", ".sqir": "sqir", ".sqe": "engine"}

// checkEmitExtension rejects an output whose extension promises another
// form than --emit writes (--emit sqir -o model.onnx would put text in a
// file every ONNX reader refuses).
func checkEmitExtension(form, output string) error {
	ext := strings.ToLower(filepath.Ext(output))
	if implied, ok := extensionForms[ext]; ok && implied != form {
		return fmt.Errorf("--emit %s -o %s: the extension %s is for %s output; name the file %s or drop --emit", form, output, ext, implied, strings.TrimSuffix(output, filepath.Ext(output))+extensionOf(form))
	}
	return nil
}

func extensionOf(form string) string {
	for ext, f := range extensionForms {
		if f == form {
			return ext
		}
	}
	return ""
}

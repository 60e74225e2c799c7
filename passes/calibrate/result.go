package calibrate

import (
	"fmt"

	"github.com/sqc-project/sqc/ir"
	"sort"
	"strconv"
	"strings"
)

// Result is what the calibrate analysis computes and what the quantize pass
// reads (through Context.ResultOf(calibrate.Pass)). It is stable API: fields
// are only ever added.
type Result struct {
	// Method is the calibrator that chose the ranges: "max", "percentile",
	// "entropy", "mse", or "auto" (each range then names its own).
	Method string
	// InputMethod is the calibrator of the graph inputs (see
	// Config.InputMethod).
	InputMethod string
	// Percentile is the percentile the percentile method kept (0 for the
	// other methods).
	Percentile float64
	// AutoError is where method auto measured errors (AutoErrorLayer or
	// AutoErrorOutput), "" for the other methods.
	AutoError string
	// Ranges maps a value's name to its calibrated range. Every float,
	// non-constant value the run observed is present (graph inputs included),
	// unless the values option narrowed the set.
	Ranges map[string]Range
	// Samples is the number of calibration samples (not batches) that were
	// run; 0 when the result came from a cache file.
	Samples int
	// GraphHash and DataHash identify what was calibrated (see GraphHash and
	// dataset.Source.Hash); they are the header of the cache file.
	GraphHash, DataHash string
	// FromCache is set when the ranges were read from a matching cache file
	// rather than computed.
	FromCache bool
	// Histograms maps a value's name to the histogram its range was chosen
	// from (nil in results read from a cache file), so that a report can
	// show what every calibrator would pick.
	Histograms map[string]*Histogram

	heldout [][]*ir.Tensor
}

// HeldOut returns the calibration batches method auto held out of the
// histograms and measured its candidates on: what later passes may measure
// quantization error on (see OutputErrors) with data the ranges were not
// chosen from. It is nil when no value used auto or the result came from a
// cache file.
func (r *Result) HeldOut() [][]*ir.Tensor { return r.heldout }

// Range is the calibrated range of one value.
type Range struct {
	// Min and Max are the smallest and largest values observed (float32
	// extremes of the raw data, not clipped). They are zero in results read
	// from a cache file, which stores only Scale and Amax.
	Min, Max float32
	// Amax is the clipping threshold the calibrator chose for |x|: the
	// symmetric range [-Amax, Amax] maps onto int8 [-127, 127]. For the max
	// calibrator it is max(|Min|, |Max|).
	Amax float32
	// Scale is the symmetric int8 scale, Amax/127 (so q = round(x/Scale)
	// clamped to [-127, 127]). A value that is zero everywhere gets Amax 0
	// and Scale 1, never a zero scale.
	Scale float32
	// Method is the calibrator that chose Amax ("" in results of one
	// method read from a v1 cache: the result's Method then).
	Method string
	// Searched is set when method auto measured this value's candidates;
	// Error is then the winner's error: the relative squared error
	// Σ(y_q − y)² / Σ y² on the held-out samples with only this value
	// quantized, summed over the quantizable layers that read it
	// (auto-error = layer), or at the network's outputs, before a final
	// Softmax or LogSoftmax (auto-error = output). Errors holds every
	// candidate's (read from a cache: the winner's only).
	Searched bool
	Error    float64
	Errors   map[string]float64
}

// Describe says how the range was chosen, for reports: "amax 2.82 (max)",
// or with auto "amax 1.31 (auto: mse, error 2.1e-05; entropy 0.0034,
// max 4e-05)".
func (r Range) Describe() string {
	s := "amax " + strconv.FormatFloat(float64(r.Amax), 'g', 4, 32)
	if !r.Searched {
		if r.Method != "" {
			s += " (" + r.Method + ")"
		}
		return s
	}
	s += fmt.Sprintf(" (auto: %s, error %.2g", r.Method, r.Error)
	var others []string
	for _, m := range autoCandidates {
		if e, ok := r.Errors[m]; ok && m != r.Method {
			others = append(others, fmt.Sprintf("%s %.2g", m, e))
		}
	}
	if len(others) > 0 {
		s += "; " + strings.Join(others, ", ")
	}
	return s + ")"
}

// ScaleFor returns the symmetric int8 scale of a threshold: amax/127, or 1
// for a value that was zero everywhere (a zero scale would divide by zero).
func ScaleFor(amax float32) float32 {
	if !(amax > 0) {
		return 1
	}
	return amax / 127
}

// Names returns the names of the calibrated values, sorted.
func (r *Result) Names() []string {
	out := make([]string, 0, len(r.Ranges))
	for n := range r.Ranges {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

package quantize

import (
	"errors"
	"fmt"
	"sort"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/calibrate"
)

// SensitivityNoteKey is the key of the note a measured layer gets: its
// quantization's output error alone and, when it stays float, why.
const SensitivityNoteKey = "int8-sensitivity"

// sensitivity measures, when the options ask for it (sensitivity,
// keep-float or max-output-error), each layer's contribution to the output
// error: the relative squared error at the network's outputs on
// calibrate's held-out samples when that layer alone runs quantized (its
// activation inputs at their calibrated ranges, its weight per channel as
// weight() quantizes it). It notes the error on every layer and returns the
// layers to keep in float: the keep-float worst, and then more of the worst
// until the errors of the layers still quantized sum to at most
// max-output-error. Errors of separate layers add up roughly as long as
// they are small, which is what the sum assumes.
func sensitivity(c *passes.Context, ranges *calibrate.Result, ops map[string]bool) (map[*ir.Node]bool, error) {
	keepN := int(c.Options.Int("keep-float"))
	target := c.Options.Float("max-output-error")
	if !c.Options.Bool("sensitivity") && keepN == 0 && target == 0 {
		return nil, nil
	}
	batches := ranges.HeldOut()
	if batches == nil && keepN == 0 && target == 0 {
		// sensitivity alone (--report) is best effort: no samples, no figures.
		c.Count("layers measured", 0)
		return nil, nil
	}
	if batches == nil {
		return nil, errors.New("sensitivity, keep-float and max-output-error measure layers on calibration samples held out by calibrate { method = auto }: give it calibration data (a cache file holds no samples)")
	}
	g := c.Graph
	var layers []*ir.Node
	var ps []calibrate.Perturbation
	for _, n := range g.Nodes {
		opts := c.OptionsFor(n)
		if !ops[n.Op] || opts.Selector("skip").Match(n) || len(n.Inputs) < 2 || n.Inputs[0] == nil || n.Inputs[1] == nil ||
			n.Inputs[0].Type.DType != ir.Float32 {
			continue
		}
		p := calibrate.Perturbation{Activations: map[*ir.Value]float32{}, Weights: map[*ir.Value]*ir.Tensor{}}
		for i, v := range n.Inputs {
			if v == nil || v.Type.DType != ir.Float32 || (i == 2 && n.Op != "MatMul") {
				continue // a bias stays float (int32 in the kernel)
			}
			if v.IsConst() {
				if i != 1 {
					continue
				}
				axis, err := weightAxis(n, opts.Bool("per-tensor-weights"))
				if err != nil {
					return nil, err
				}
				q, scales := quantizeWeight(v.Const, axis, opts.String("weight-clip") == WeightClipMSE)
				p.Weights[v] = dequantize(q, scales, axis)
				continue
			}
			r, ok := ranges.Ranges[v.Name]
			if !ok {
				return nil, fmt.Errorf("node %s: value %q has no calibrated range", n.Name, v.Name)
			}
			p.Activations[v] = r.Amax
		}
		layers = append(layers, n)
		ps = append(ps, p)
	}
	errs, err := calibrate.OutputErrors(g, batches, ps)
	if err != nil {
		return nil, fmt.Errorf("measuring layer sensitivity: %w", err)
	}
	order := make([]int, len(layers))
	total := 0.0
	for i := range order {
		order[i] = i
		total += errs[i]
	}
	sort.SliceStable(order, func(a, b int) bool { return errs[order[a]] > errs[order[b]] })
	kept := map[*ir.Node]bool{}
	rest := total
	for rank, i := range order {
		n := layers[i]
		text := fmt.Sprintf("output error %.2g alone (rank %d of %d)", errs[i], rank+1, len(layers))
		switch {
		case rank < keepN:
			text += fmt.Sprintf("; kept float: among the %d worst (keep-float)", keepN)
		case target > 0 && rest > target:
			text += fmt.Sprintf("; kept float: the quantized layers' errors summed to %.2g, above max-output-error %g", rest, target)
		default:
			n.Note(SensitivityNoteKey, text)
			continue
		}
		kept[n] = true
		rest -= errs[i]
		n.Note(SensitivityNoteKey, text)
	}
	c.Count("layers measured", len(layers))
	return kept, nil
}

// dequantize returns the float values of an int8 weight quantized along
// axis (-1: one scale) with the given scales.
func dequantize(q *ir.Tensor, scales []float32, axis int) *ir.Tensor {
	out := ir.NewTensor(ir.Float32, q.Shape...)
	inner := 1
	if axis >= 0 {
		inner = ir.NumElements(q.Shape[axis+1:])
	}
	o := out.Float32s()
	for i, v := range q.Int8s() {
		k := 0
		if axis >= 0 && inner > 0 {
			k = (i / inner) % len(scales)
		}
		o[i] = float32(v) * scales[k]
	}
	return out
}

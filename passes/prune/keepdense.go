package prune

import (
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/sqc-project/sqc/internal/dataset"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes/calibrate"
)

// keepDenseSamples bounds the samples keep-dense measures on: the error of
// one layer's pruning needs no more to be ranked.
const keepDenseSamples = 64

// keepDense measures, when sensitivity, keep-dense or max-output-error asks
// for it, what pruning each layer alone costs the network's output (the
// relative squared error at the outputs, before a final Softmax or
// LogSoftmax, on the first samples of the data, the other layers dense),
// notes it, and gives back their dense weights to the keep-dense worst, then
// to more of the worst until the errors of the layers left 2:4 sum to at
// most max-output-error. Layers whose weight another layer shares, and
// existing masks, are not candidates.
func (s *state) keepDense() error {
	keepN := int(s.c.Options.Int("keep-dense"))
	target := s.c.Options.Float("max-output-error")
	if keepN == 0 && target == 0 && (!s.c.Options.Bool("sensitivity") || s.c.Options.String("data") == "") {
		// sensitivity alone (--report) is best effort: no data, no figures.
		return nil
	}
	var cands []*cand
	for _, cd := range s.live() {
		if cd.orig != nil && cd.sharedWith == "" && cd.l.Const.Const != cd.orig && len(s.users[cd.l.Const]) == 1 {
			cands = append(cands, cd)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	spec, err := dataSpec(s.c.Options, s.g)
	if err != nil {
		return errors.New("keep-dense and max-output-error measure each layer's pruning on calibration data: set option data")
	}
	spec.Limit = min(max(spec.Limit, 1), keepDenseSamples)
	src, err := dataset.Open(spec)
	if err != nil {
		return fmt.Errorf("calibration data: %w", err)
	}
	defer src.Close()
	var batches [][]*ir.Tensor
	for {
		b, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("calibration data: %w", err)
		}
		batches = append(batches, b)
	}
	// Measure on the dense network: each perturbation prunes one layer.
	pruned := make([]*ir.Tensor, len(cands))
	ps := make([]calibrate.Perturbation, len(cands))
	for i, cd := range cands {
		pruned[i] = cd.l.Const.Const
		cd.l.Const.Const = cd.orig
		ps[i] = calibrate.Perturbation{Weights: map[*ir.Value]*ir.Tensor{cd.l.Const: pruned[i]}}
	}
	errs, err := calibrate.OutputErrors(s.g, batches, ps)
	for i, cd := range cands {
		cd.l.Const.Const = pruned[i]
	}
	if err != nil {
		return fmt.Errorf("measuring each layer's pruning: %w", err)
	}
	order := make([]int, len(cands))
	rest := 0.0
	for i := range order {
		order[i] = i
		rest += errs[i]
		cands[i].outputError = errs[i]
	}
	sort.SliceStable(order, func(a, b int) bool { return errs[order[a]] > errs[order[b]] })
	for rank, i := range order {
		cd := cands[i]
		switch {
		case rank < keepN:
			cd.dense = fmt.Sprintf("kept for accuracy: pruning it alone cost the network's output %.2g, among the %d worst (keep-dense)", errs[i], keepN)
		case target > 0 && rest > target:
			cd.dense = fmt.Sprintf("kept for accuracy: pruning it alone cost the network's output %.2g, and the pruned layers' errors summed to %.2g, above max-output-error %g", errs[i], rest, target)
		default:
			continue
		}
		rest -= errs[i]
		cd.l.Const.Const = cd.orig
		cd.l.Const.Sparsity = nil
		s.c.Count("layers kept dense (accuracy)", 1)
	}
	return nil
}

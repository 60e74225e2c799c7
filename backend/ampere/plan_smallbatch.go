package ampere

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/ir"
	"google.golang.org/protobuf/proto"
)

// DefaultSmallBatchPlan is the second plan sqc compile adds to an engine
// by default: the latency heuristic (small tiles, halo tiles from 128
// channels, split-K, the one-patch conv-pool stem) for batches up to
// LatencyBatch. On the H100 the ResNet-34 sparse engine built for batch 1
// ran batch 1 in 0.296 ms where the throughput plan took 0.452, and batch
// 256 in 3.67 ms against 2.93: one engine file serves both only with both
// plans (as TensorRT's optimization profiles do).
func DefaultSmallBatchPlan() *PlanOptions { return &PlanOptions{OptBatch: LatencyBatch} }

// addSmallBatchPlan plans g again with small (for batches up to
// small.OptBatch) and adds its steps to e as an engine.Plan, with the
// kernels e lacks. The two plans must agree on everything else the file
// holds once (graph, buffers, inputs, outputs, step writes, the text of
// every kernel both use, and the weights, but for the padding of a GEMM
// weight packed for a wider tile: mergeWeights); where they do not, the
// engine keeps its one plan and warn says why. Where both plans launch
// the same steps (layers too narrow for the heuristics to differ) the
// engine keeps one.
func addSmallBatchPlan(e *engine.Engine, g *ir.Graph, producer string, small PlanOptions, warn func(string)) error {
	if small.OptBatch < 1 {
		return fmt.Errorf("small-batch plan: batch %d, want at least 1", small.OptBatch)
	}
	small.SmallBatch = nil
	p, err := planGraph(g, producer, nil, true, small)
	if err != nil {
		return fmt.Errorf("planning for batches up to %d: %w", small.OptBatch, err)
	}
	if equalMessages(e.Steps, p.e.Steps) {
		return nil // the same launches: a second copy would only cost bytes
	}
	weights, why := mergeWeights(e.Weights, p.e.Weights)
	if why == "" {
		why = planConflict(e, p.e)
	}
	if why != "" {
		if warn != nil {
			warn(fmt.Sprintf("the engine has no plan of its own for batches up to %d: that plan's %s", small.OptBatch, why))
		}
		return nil
	}
	e.Weights = weights
	have := make(map[string]bool, len(e.Kernels))
	for _, k := range e.Kernels {
		have[k.Name] = true
	}
	for _, k := range p.e.Kernels {
		if !have[k.Name] {
			e.Kernels = append(e.Kernels, k)
		}
	}
	e.Plans = append(e.Plans, &engine.Plan{MaxBatch: uint32(small.OptBatch), Steps: p.e.Steps})
	return nil
}

// mergeWeights is the weights both plans read: a's, where b has the
// same; the longer of the two where one is a prefix of the other (a GEMM
// weight packed for a wider block tile: pack pads the channels to the
// tile's multiple with zero tiles at the end, and the same for its
// metadata, bias' and multipliers, so that a kernel of the narrower tile
// reads its own packing as a prefix: 160 channels are 256 for n128 and
// 192 for s4w). Anything else is a conflict, which why names.
func mergeWeights(a, b []*engine.Weight) (merged []*engine.Weight, why string) {
	if len(a) != len(b) {
		return nil, fmt.Sprintf("packed weights differ (%d against %d)", len(b), len(a))
	}
	merged = make([]*engine.Weight, len(a))
	for i, x := range a {
		y := b[i]
		switch {
		case x.Name != y.Name || x.Kind != y.Kind:
			return nil, fmt.Sprintf("packed weight %s (%s) differs from %s (%s)", y.Name, y.Kind, x.Name, x.Kind)
		case bytes.HasPrefix(x.Data, y.Data):
			merged[i] = x
		case bytes.HasPrefix(y.Data, x.Data):
			merged[i] = y
		default:
			return nil, "packed weight " + x.Name + " differs"
		}
	}
	return merged, ""
}

// planConflict says what of b's shared parts other than the weights
// differs from a's; "" if nothing does.
func planConflict(a, b *engine.Engine) string {
	switch {
	case a.Graph != b.Graph:
		return "lowered graph differs"
	case !equalMessages(a.Buffers, b.Buffers):
		return "buffers differ"
	case !slices.Equal(a.Inputs, b.Inputs) || !slices.Equal(a.Outputs, b.Outputs):
		return "inputs or outputs differ"
	case a.StepWrites != b.StepWrites:
		return "step writes differ"
	}
	ptx := make(map[string]string, len(a.Kernels))
	for _, k := range a.Kernels {
		ptx[k.Name] = k.Ptx
	}
	for _, k := range b.Kernels {
		if t, ok := ptx[k.Name]; ok && t != k.Ptx {
			return "kernel " + k.Name + " differs"
		}
	}
	return ""
}

// equalMessages reports whether a and b hold equal messages in the same
// order.
func equalMessages[M proto.Message](a, b []M) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

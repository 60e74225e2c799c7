package engine

import "fmt"

// ForBatch is e as a run of batch samples executes it: the steps of the
// first plan whose MaxBatch is at least batch, or e's own steps, with only
// the kernels those steps launch (a runtime then loads no kernel it will
// not run). An engine without plans is returned as it is; otherwise the
// result is a new Engine without plans that shares everything but its
// steps and kernel list with e.
func ForBatch(e *Engine, batch int) *Engine {
	if len(e.Plans) == 0 {
		return e
	}
	steps := e.Steps
	if p := planFor(e, batch); p != nil {
		steps = p.Steps
	}
	used := make(map[string]bool, len(steps))
	for _, s := range steps {
		used[s.Kernel] = true
	}
	var kernels []*Kernel
	for _, k := range e.Kernels {
		if used[k.Name] {
			kernels = append(kernels, k)
		}
	}
	// Every field but Steps, Kernels and Plans, as e has it
	// (TestForBatchKeepsFields checks that none is left out).
	return &Engine{
		Target:     e.Target,
		Producer:   e.Producer,
		Graph:      e.Graph,
		Buffers:    e.Buffers,
		Weights:    e.Weights,
		Kernels:    kernels,
		Steps:      steps,
		Inputs:     e.Inputs,
		Outputs:    e.Outputs,
		StepWrites: e.StepWrites,
	}
}

// PlanFor names the step list ForBatch takes for batch: "" for the
// engine's own steps, else "batch ≤ N".
func PlanFor(e *Engine, batch int) string {
	if p := planFor(e, batch); p != nil {
		return fmt.Sprintf("batch ≤ %d", p.MaxBatch)
	}
	return ""
}

// planFor is the first of e's plans that covers batch; nil if none does.
func planFor(e *Engine, batch int) *Plan {
	for _, p := range e.Plans {
		if batch >= 1 && uint64(batch) <= uint64(p.MaxBatch) {
			return p
		}
	}
	return nil
}

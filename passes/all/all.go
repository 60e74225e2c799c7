// Package all links every built-in pass into the binary and holds the
// default pipelines, each as one ordered table with the reason for its order
// (in the manner of Go's cmd/compile/internal/ssa/compile.go).
package all

import (
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/constfold"
	"github.com/sqc-project/sqc/passes/dce"
	"github.com/sqc-project/sqc/passes/shapeinfer"
	"github.com/sqc-project/sqc/passes/simplify"
)

// GraphPipeline is the default pipeline of `sqc opt`: every built-in pass
// that preserves float semantics, in this order.
var GraphPipeline = []*passes.Pass{
	shapeinfer.Pass, // everything below reads static shapes
	simplify.Pass,   // Identity/Dropout out of the way, so patterns below see producers directly
	constfold.Pass,  // folds Shape chains once shapes are static; needs shapes
	dce.Pass,        // folding leaves constant-producing nodes and dead branches behind
}

// Specs returns a pipeline as specs with default options, for passes.Build.
func Specs(pipeline []*passes.Pass) []passes.StepSpec {
	specs := make([]passes.StepSpec, len(pipeline))
	for i, p := range pipeline {
		specs[i] = passes.StepSpec{Name: p.Name}
	}
	return specs
}

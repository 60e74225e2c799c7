// Package all links every built-in pass into the binary and holds the
// default pipelines, each as one ordered table with the reason for its order
// (in the manner of Go's cmd/compile/internal/ssa/compile.go).
package all

import (
	"github.com/sqc-project/sqc/passes"
	_ "github.com/sqc-project/sqc/passes/calibrate" // calibrate: activation ranges from calibration data (an analysis quantize requires)
	"github.com/sqc-project/sqc/passes/constfold"
	"github.com/sqc-project/sqc/passes/dce"
	"github.com/sqc-project/sqc/passes/foldbn"
	"github.com/sqc-project/sqc/passes/fuse"
	"github.com/sqc-project/sqc/passes/layout"
	_ "github.com/sqc-project/sqc/passes/lowerint8" // lower-int8: Q/DQ patterns into QConv/QGemm
	"github.com/sqc-project/sqc/passes/padchannels"
	_ "github.com/sqc-project/sqc/passes/prune" // prune: 2:4 structured sparsity (magnitude, permutation, SparseGPT)
	// quantize: Q/DQ insertion for INT8 PTQ (requires calibrate)
	_ "github.com/sqc-project/sqc/passes/quantize"
	"github.com/sqc-project/sqc/passes/shapeinfer"
	"github.com/sqc-project/sqc/passes/simplify"
	_ "github.com/sqc-project/sqc/passes/spacetodepth" // space-to-depth: strided INT8 stems as stride-1 convs on more channels
)

// GraphPipeline is the default pipeline of `sqc opt`: every built-in pass
// that preserves float semantics, in this order.
var GraphPipeline = []*passes.Pass{
	shapeinfer.Pass, // everything below reads static shapes
	simplify.Pass,   // Identity/Dropout out of the way, so patterns below see producers directly
	constfold.Pass,  // folds Shape chains once shapes are static; needs shapes
	dce.Pass,        // folding leaves constant-producing nodes and dead branches behind
	foldbn.Pass,     // BN parameters are constants by now (folded above); needs conv → BN adjacent (no Identity between)
	fuse.Pass,       // after foldbn, so conv → BN → Relu is conv → Relu; after dce, whose dead readers would break single-use checks

	// The physical form the INT8 backend wants; neither changes what the graph computes.
	padchannels.Pass, // after fuse, so FusedConv is padded as a whole; before assign-layout, which keeps its channel Pad/Slice NHWC
	layout.Pass,      // last: every pass above rewrites nodes and would have to carry layouts; Relayouts would hide patterns from it
}

// Specs returns a pipeline as specs with default options, for passes.Build.
func Specs(pipeline []*passes.Pass) []passes.StepSpec {
	specs := make([]passes.StepSpec, len(pipeline))
	for i, p := range pipeline {
		specs[i] = passes.StepSpec{Name: p.Name}
	}
	return specs
}

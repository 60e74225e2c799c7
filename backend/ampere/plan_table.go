package ampere

import (
	"fmt"
	"strings"

	"github.com/sqc-project/sqc/ir"
)

// opPlanner turns one node into GPU work: launches, buffers and weights
// added to the planner's engine. It returns an error when its kernels do
// not cover the node (a dtype, layout or attribute they lack); the node
// then goes to the fallbacks (planNode).
type opPlanner func(p *planner, n *ir.Node) error

// opPlanners is how each op becomes GPU work, one entry an op, as passes
// are values in the pass registry: adding an op's kernel is adding a row.
// An op not listed here still runs, on a fallback (see planNode).
var opPlanners = map[string]opPlanner{
	// Quantization boundaries.
	"QuantizeLinear":   (*planner).quantize,
	"DequantizeLinear": (*planner).dequantize,
	// INT8 Tensor Core layers (dense or 2:4 sparse GEMM, implicit-GEMM or
	// im2col convolution, the direct grouped convolution).
	"QConv": (*planner).qgemm,
	"QGemm": (*planner).qgemm,
	// Layers left in float: the float fallback convolution kernel.
	"Conv":      (*planner).floatConv,
	"FusedConv": (*planner).floatConv,
	"Gemm":      (*planner).floatGemm,
	"FusedGemm": (*planner).floatGemm,
	"MatMul":    firstOf((*planner).floatGemm, (*planner).floatMatMulRows, (*planner).floatBatchMatMul),

	// A transposed convolution left in float, on its own kernel.
	"ConvTranspose": (*planner).floatConvTranspose,

	// Pools and normalizations.
	"GlobalAveragePool":  (*planner).globalAverage,
	"ReduceMean":         (*planner).globalAverage,
	"MaxPool":            (*planner).maxPool,
	"BatchNormalization": (*planner).batchNorm,
	"Softmax":            firstOf((*planner).softmax, (*planner).softmaxRowMajor),
	"LogSoftmax":         firstOf((*planner).softmax, (*planner).softmaxRowMajor),
	"Pad":                (*planner).pad,
	"AveragePool":        (*planner).averagePool,
	"GlobalMaxPool":      (*planner).globalMaxPool,
	"LayerNormalization": (*planner).layerNorm,
	"Resize":             (*planner).resize,

	// Normalizations of a channel plane or a group of them, on the layer
	// normalization kernel.
	"InstanceNormalization": (*planner).channelNorm,
	"GroupNormalization":    (*planner).channelNorm,
	// Float elementwise ops.
	"Add":       firstOf((*planner).eltBinary, (*planner).eltMixedLayouts),
	"Sub":       firstOf((*planner).eltBinary, (*planner).eltMixedLayouts),
	"Mul":       firstOf((*planner).channelScale, (*planner).eltBinary, (*planner).eltMixedLayouts),
	"Div":       firstOf((*planner).geluChain, (*planner).eltBinary, (*planner).eltMixedLayouts),
	"Relu":      firstOf((*planner).eltUnary, (*planner).reluInt8),
	"LeakyRelu": (*planner).eltUnary,
	"Clip":      (*planner).eltUnary,
	"Sigmoid":   (*planner).eltUnary,
	"Tanh":      (*planner).eltUnary,
	"PRelu":     (*planner).prelu,
	// HardSigmoid and HardSwish in ir/ref's float64 arithmetic.
	"HardSigmoid": (*planner).hardAct,
	"HardSwish":   (*planner).hardAct,
	// Views: no launch, or one transpose when the order must change.
	"Flatten":  (*planner).view,
	"Reshape":  (*planner).view,
	"Relayout": (*planner).view,
	"Identity": (*planner).view,
	"Dropout":  (*planner).dropout,
	// NCHW/NHWC renamings as views; other permutations on the gather
	// kernel.
	"Transpose": (*planner).transpose,
	// Data movement: the gather kernel through a copy table the
	// reference executor builds (plan_fallback.go), int8 or f32.
	"Concat":       (*planner).planGather,
	"Split":        (*planner).planGather,
	"Slice":        (*planner).planGather,
	"Gather":       (*planner).planGather,
	"Squeeze":      (*planner).planGather,
	"Unsqueeze":    (*planner).planGather,
	"Expand":       (*planner).planGather,
	"Tile":         (*planner).planGather,
	"DepthToSpace": (*planner).planGather,
	"SpaceToDepth": (*planner).planGather,
}

// mark is the size of the planner's engine before a planner runs, so that
// a planner that fails half way can be undone before a fallback runs.
type mark struct {
	buffers, weights, steps, kernels int
}

func (p *planner) mark() mark {
	return mark{len(p.e.Buffers), len(p.e.Weights), len(p.e.Steps), len(p.e.Kernels)}
}

// rollback removes what was added since m, including the node's outputs'
// buffers.
func (p *planner) rollback(m mark, n *ir.Node) {
	for _, k := range p.e.Kernels[m.kernels:] {
		delete(p.kernels, k.Name)
	}
	p.e.Buffers, p.e.Weights, p.e.Steps, p.e.Kernels = p.e.Buffers[:m.buffers], p.e.Weights[:m.weights], p.e.Steps[:m.steps], p.e.Kernels[:m.kernels]
	for _, v := range n.Outputs {
		delete(p.bufs, v)
		delete(p.places, v)
		delete(p.sampleShapes, v)
	}
	kept := map[string]bool{}
	for _, b := range p.e.Buffers {
		kept[b.Name] = true
	}
	for name, b := range p.nhwcOf {
		if !kept[b.Name] {
			delete(p.nhwcOf, name)
		}
	}
}

// Fallback is one node that runs on a fallback instead of its op's own
// kernel: which fallback, and why the op's kernels did not take it.
type Fallback struct {
	Node, Op string
	// How is "gather" (the copy-table kernel, for a data-movement node its
	// own planner did not take) or "host" (the reference executor on the
	// CPU, between the GPU launches).
	How string
	Why string
}

// planNode plans n: its op's planner first; when the op has none or it
// does not cover the node, a pure data-movement op (every output element a
// copy of one input element) runs on the gather kernel, and anything else
// the reference executor can run runs on the host between launches. Only a
// node neither fallback can take fails the build, with every reason.
func (p *planner) planNode(n *ir.Node) error {
	if p.absorbed[n] {
		return nil
	}
	if p.shapeOnly(n) {
		return nil
	}
	if ok, err := p.batchConstant(n); ok || err != nil {
		if err != nil {
			return fmt.Errorf("node %s (op %s) reads only constants and shapes of the batch: %w", n.Name, n.Op, err)
		}
		return nil
	}
	if err := p.shapeOperandUse(n); err != nil {
		return err
	}
	if p.chainsInto(n) {
		// Planned with its reader, as one gather chain.
		if p.deferred == nil {
			p.deferred = map[*ir.Value]*ir.Node{}
		}
		p.deferred[n.Outputs[0]] = n
		return nil
	}
	if chain := p.takeChain(n); len(chain) > 0 {
		m := p.mark()
		names := make([]string, 0, len(chain)+1)
		for _, c := range append(chain, n) {
			names = append(names, c.Name)
		}
		if err := p.gatherChain(append(chain, n), copyTableNote+" (fused: "+strings.Join(names, ", ")+")"); err == nil {
			return nil
		}
		p.rollback(m, n)
		for _, c := range chain {
			if err := p.planOne(c); err != nil {
				return fmt.Errorf("node %q (%s): %w", c.Name, c.Op, err)
			}
		}
	}
	return p.planOne(n)
}

// chainMember reports whether n can be in a gather chain: an op that only
// moves elements, reading one computed value (and constants), with every
// output present.
func (p *planner) chainMember(n *ir.Node) bool {
	if !movesData[n.Op] || len(n.Outputs) == 0 {
		return false
	}
	var in *ir.Value
	for _, v := range n.Inputs {
		if v == nil || v.IsConst() || p.shapes.is(v) {
			continue
		}
		if in != nil && v != in {
			return false
		}
		in = v
	}
	for _, v := range n.Outputs {
		if v == nil {
			return false
		}
	}
	return in != nil
}

// chainsInto reports whether n's one output is read only by one node that
// continues a gather chain: then n is planned with it.
func (p *planner) chainsInto(n *ir.Node) bool {
	if !p.chainMember(n) || len(n.Outputs) != 1 || p.g.IsOutput(n.Outputs[0]) {
		return false
	}
	us := p.users[n.Outputs[0]]
	return len(us) == 1 && p.chainMember(us[0])
}

// takeChain returns the deferred nodes n's input comes through, first
// first, and forgets them.
func (p *planner) takeChain(n *ir.Node) []*ir.Node {
	var chain []*ir.Node
	for cur := n; ; {
		var in *ir.Value
		for _, v := range cur.Inputs {
			if v != nil && !v.IsConst() && !p.shapes.is(v) {
				in = v
				break
			}
		}
		d := p.deferred[in]
		if in == nil || d == nil {
			break
		}
		delete(p.deferred, in)
		chain = append([]*ir.Node{d}, chain...)
		cur = d
	}
	return chain
}

// planOne plans n alone: its op's planner, else the fallbacks.
func (p *planner) planOne(n *ir.Node) error {
	var why error
	if p.movedBatch(n) {
		if ok, err := p.movedView(n); ok || err != nil {
			return err
		}
		// The op planners take dim 0 as the batch, but for those that
		// only map each element its order is no matter.
		why = fmt.Errorf("the batch is not the first dim of its input (a transposed or reshaped batch): the op's kernels take it first")
		if plan, ok := opPlanners[n.Op]; ok && elementOrderFree[n.Op] && p.keepPlace(n) {
			m := p.mark()
			err := plan(p, n)
			if err == nil {
				return nil
			}
			p.rollback(m, n)
			why = err
		} else if _, ok := movedOps[n.Op]; ok {
			// Ops that read each sample apart: on a per-sample view.
			m := p.mark()
			err := p.sampleView(n)
			if err == nil {
				return nil
			}
			p.rollback(m, n)
			why = fmt.Errorf("the batch is not the first dim of its input (a transposed or reshaped batch): %w", err)
		}
	} else if plan, ok := opPlanners[n.Op]; ok {
		m := p.mark()
		err := plan(p, n)
		if err == nil {
			return nil
		}
		p.rollback(m, n)
		if _, bad := err.(*cacheError); bad {
			// The user's cache is wrong: say so rather than fall back.
			return err
		}
		why = err
	} else {
		why = fmt.Errorf("no GPU kernel for op %s", n.Op)
	}
	m := p.mark()
	gerr := p.gatherFallback(n, why.Error())
	if gerr == nil {
		return nil
	}
	p.rollback(m, n)
	herr := p.hostFallback(n, why.Error())
	if herr == nil {
		return nil
	}
	p.rollback(m, n)
	return fmt.Errorf("unsupported on the GPU: node %s (op %s): %v; no fallback either: %v; %v", n.Name, n.Op, why, gerr, herr)
}

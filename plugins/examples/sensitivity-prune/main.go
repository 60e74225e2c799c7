// Command sensitivity-prune is an example sqc plugin that decides which
// layers are 2:4 sparse by a rule of its own: the error that pruning a layer
// causes in that layer's output, measured on data. The built-in prune pass
// decides by shape (first and last layers, output channels); this pass
// prunes every layer, whatever its shape, whose output moves by at most
// max-error when its weight gets the magnitude mask, and leaves the others
// dense.
//
// It runs sample inputs (random normal values for each float graph input,
// symbolic dims taken as 1) through the dense graph on the reference
// executor. For each candidate layer (Conv, FusedConv, Gemm, FusedGemm,
// MatMul with a float32 constant weight, as package
// passes/prune/layer defines them) it recomputes the layer alone, on the
// inputs it saw, with the N:M magnitude mask applied to its weight, and
// measures the relative error ‖y' − y‖ / ‖y‖ over all samples: a
// layer-wise sensitivity, each layer measured against the dense model's
// activations. A weight shared by several layers is pruned only when all of
// them stay within their max-error.
//
// A pruned weight is masked, claims its pattern (ir.Value.Sparsity, which
// the verifier checks), and its layer gets the note prune writes
// ("sparsity": "2:4 (...)"), so sqc inspect and sqc compile --report show
// the decision; a layer left dense gets "dense: <why>". The built-in prune
// pass run afterwards keeps these masks: a weight that already follows the
// pattern is an "existing mask" to it.
//
//	go build -o sensitivity-prune ./plugins/examples/sensitivity-prune
//	sqc compile -r recipe.sqr -o out.onnx model.onnx
//
// with a recipe such as:
//
//	base "graph.sqr"
//	plugin "./sensitivity-prune" {
//	  max-error = 0.05
//	  layers name("layer4.*") { max-error = 0.1 }
//	}
package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/passes/prune/layer"
	"github.com/sqc-project/sqc/plugins/sqcplugin"
)

func main() {
	sqcplugin.Serve(&sqcplugin.Pass{
		Name: "sensitivity-prune",
		Doc:  "make N:M sparse the layers whose output changes least when pruned, measured on sample inputs",
		Options: []sqcplugin.Option{
			{Name: "pattern", Doc: "N:M: at most N non-zeros in every M consecutive weights along the reduction", Default: sqcplugin.Ratio{N: 2, M: 4}},
			{Name: "max-error", Doc: "prune a layer when the relative error of its output, pruned against dense, is at most this", Default: 0.05, Min: 0, Max: 1e6},
			{Name: "samples", Doc: "random inputs the error is measured on", Default: 2, Min: 1, Max: 1024},
			{Name: "seed", Doc: "seed of the random inputs", Default: 1},
			{Name: "skip", Doc: "layers to leave dense", Default: sqcplugin.Selector{}},
		},
		Run: run,
	})
}

// noteKey is the note prune writes, which reports read.
const noteKey = "sparsity"

// cand is a layer being measured.
type cand struct {
	l          *layer.Layer
	n, m       int
	maxErr     float64
	keep       []bool
	masked     *ir.Tensor
	kept       float64 // share of |w| the mask keeps
	errSq, ref float64 // Σ(y'−y)², Σy² over the samples
}

func run(ctx context.Context, g *ir.Graph, opts sqcplugin.Options) error {
	producers := g.Producers()
	var cands []*cand
	byNode := map[*ir.Node]*cand{}
	for _, n := range g.Nodes {
		l, why := layer.Of(n, producers)
		if l == nil {
			if why != "" {
				n.Note(noteKey, "dense: "+why)
			}
			continue
		}
		o := opts.For(n)
		r := o.Ratio("pattern")
		if why := eligible(l, o, r); why != "" {
			n.Note(noteKey, "dense: "+why)
			sqcplugin.Count(ctx, "layers dense", 1)
			continue
		}
		keep := layer.MagnitudeMask(l.Abs32(), l.Rows, l.Cols(), r.N, r.M)
		masked, err := l.Masked(keep)
		if err != nil {
			return err
		}
		c := &cand{l: l, n: r.N, m: r.M, maxErr: o.Float("max-error"), keep: keep, masked: masked,
			kept: layer.Retained(l.Abs32(), keep)}
		cands = append(cands, c)
		byNode[n] = c
	}
	if len(cands) == 0 {
		return nil
	}
	if err := measure(ctx, g, byNode, int(opts.Int("samples")), uint64(opts.Int("seed"))); err != nil {
		return err
	}
	decide(ctx, cands)
	return nil
}

// eligible says why a layer cannot be pruned by this pass, or "".
func eligible(l *layer.Layer, o sqcplugin.Options, r sqcplugin.Ratio) string {
	switch {
	case o.Selector("skip").Match(l.Node):
		return "excluded by skip"
	case l.Quant != nil:
		return "quantized weight (sensitivity-prune measures float weights)"
	case l.Kind == layer.Conv && l.Group > 1:
		return fmt.Sprintf("grouped conv (group %d): sparse kernels take group 1", l.Group)
	case r.N >= r.M:
		return fmt.Sprintf("pattern %v keeps every weight", r)
	case l.In%r.M != 0:
		return fmt.Sprintf("%d inputs along the reduction, want a multiple of %d", l.In, r.M)
	}
	return ""
}

// measure runs the samples and accumulates each candidate's error: when the
// executor reports a candidate's output, the layer is recomputed with its
// masked weight on the inputs it read.
func measure(ctx context.Context, g *ir.Graph, byNode map[*ir.Node]*cand, samples int, seed uint64) error {
	exec, err := ref.New(g)
	if err != nil {
		return err
	}
	// need counts, per value, the candidates still to read it, so a saved
	// activation is dropped as soon as the last of them is measured.
	need := map[*ir.Value]int{}
	for n := range byNode {
		for _, v := range n.Inputs {
			if v != nil && !v.IsConst() {
				need[v]++
			}
		}
	}
	producer := g.Producers()
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	for range samples {
		if err := ctx.Err(); err != nil {
			return err
		}
		inputs, err := randomInputs(g, rng)
		if err != nil {
			return err
		}
		saved := map[*ir.Value]*ir.Tensor{}
		left := map[*ir.Value]int{}
		for v, k := range need {
			left[v] = k
		}
		for i, v := range g.Inputs {
			if need[v] > 0 {
				saved[v] = inputs[i]
			}
		}
		var failed error
		_, err = exec.RunObserved(inputs, func(v *ir.Value, t *ir.Tensor) {
			if failed != nil {
				return
			}
			if need[v] > 0 {
				saved[v] = t.Clone() // the executor's tensors are its own
			}
			c := byNode[producer[v]]
			if c == nil || c.l.Node.Outputs[0] != v {
				return
			}
			if failed = c.accumulate(saved, t); failed != nil {
				return
			}
			for _, in := range c.l.Node.Inputs {
				if in != nil && !in.IsConst() {
					if left[in]--; left[in] == 0 {
						delete(saved, in)
					}
				}
			}
		})
		if err == nil {
			err = failed
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// randomInputs draws one standard-normal sample per graph input.
func randomInputs(g *ir.Graph, rng *rand.Rand) ([]*ir.Tensor, error) {
	out := make([]*ir.Tensor, len(g.Inputs))
	for i, v := range g.Inputs {
		if v.Type.DType != ir.Float32 {
			return nil, fmt.Errorf("input %q is %v: sensitivity-prune feeds random f32 inputs", v.Name, v.Type.DType)
		}
		dims := make([]int, len(v.Type.Shape))
		for j, d := range v.Type.Shape {
			dims[j] = 1
			if d.Known() {
				dims[j] = int(d.Size)
			}
		}
		t := ir.NewTensor(ir.Float32, dims...)
		for k := range t.Float32s() {
			t.Float32s()[k] = float32(rng.NormFloat64())
		}
		out[i] = t
	}
	return out, nil
}

// accumulate recomputes the layer with its masked weight on the saved
// inputs and adds its squared error against the dense output y.
func (c *cand) accumulate(saved map[*ir.Value]*ir.Tensor, y *ir.Tensor) error {
	n := c.l.Node
	one := &ir.Graph{Name: n.Name}
	node := &ir.Node{Name: n.Name, Op: n.Op, Attrs: n.Attrs}
	var feeds []*ir.Tensor
	for _, v := range n.Inputs {
		switch {
		case v == nil:
			node.Inputs = append(node.Inputs, nil)
		case v == c.l.Const:
			node.Inputs = append(node.Inputs, ir.NewConst(v.Name, c.masked))
		case v.IsConst():
			node.Inputs = append(node.Inputs, v)
		default:
			t := saved[v]
			if t == nil {
				return fmt.Errorf("layer %s: input %q was not recorded", n.Name, v.Name)
			}
			in := &ir.Value{Name: v.Name, Type: t.Type()}
			one.Inputs = append(one.Inputs, in)
			node.Inputs = append(node.Inputs, in)
			feeds = append(feeds, t)
		}
	}
	out := &ir.Value{Name: n.Outputs[0].Name, Type: y.Type()}
	node.Outputs = []*ir.Value{out}
	one.Nodes = []*ir.Node{node}
	one.Outputs = []*ir.Value{out}
	res, err := ref.Run(one, feeds...)
	if err != nil {
		return fmt.Errorf("layer %s: %v", n.Name, err)
	}
	p, d := res[0].Float32s(), y.Float32s()
	for i := range d {
		e := float64(p[i]) - float64(d[i])
		c.errSq += float64(e * e)
		c.ref += float64(float64(d[i]) * float64(d[i]))
	}
	return nil
}

// relErr is the layer's relative output error.
func (c *cand) relErr() float64 {
	if c.ref == 0 {
		if c.errSq == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return math.Sqrt(c.errSq / c.ref)
}

// decide prunes the candidates within their max-error; the layers sharing
// a weight are pruned together or not at all.
func decide(ctx context.Context, cands []*cand) {
	byWeight := map[*ir.Value][]*cand{}
	var order []*ir.Value
	for _, c := range cands {
		if byWeight[c.l.Const] == nil {
			order = append(order, c.l.Const)
		}
		byWeight[c.l.Const] = append(byWeight[c.l.Const], c)
	}
	for _, w := range order {
		group := byWeight[w]
		why := ""
		for _, c := range group {
			if e := c.relErr(); !(e <= c.maxErr) {
				why = fmt.Sprintf("output error %s > max-error %s", pct(e), pct(c.maxErr))
				if len(group) > 1 {
					why = fmt.Sprintf("weight %q is shared with %s, whose %s", w.Name, c.l.Node.Name, why)
				}
				break
			}
			if c.n != group[0].n || c.m != group[0].m || c.l.Axis != group[0].l.Axis {
				why = fmt.Sprintf("weight %q is shared by layers that want different patterns", w.Name)
				break
			}
		}
		for _, c := range group {
			if why != "" {
				c.l.Node.Note(noteKey, fmt.Sprintf("dense: %s (sensitivity-prune)", why))
				sqcplugin.Count(ctx, "layers dense", 1)
				continue
			}
			c.l.Node.Note(noteKey, fmt.Sprintf("%d:%d (sensitivity-prune: output error %s, kept %.1f%% of |w|)", c.n, c.m, pct(c.relErr()), 100*c.kept))
			sqcplugin.Count(ctx, "layers pruned", 1)
		}
		if why == "" {
			c := group[0]
			w.Const = c.masked
			w.Sparsity = &ir.Sparsity{N: c.n, M: c.m, Axis: c.l.Axis}
		}
	}
}

// pct writes a ratio as a percentage.
func pct(r float64) string {
	if math.IsInf(r, 0) || math.IsNaN(r) {
		return fmt.Sprint(r)
	}
	return fmt.Sprintf("%.2f%%", 100*r)
}

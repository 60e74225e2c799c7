package quantize

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/calibrate"
)

// AddResidual is the ops entry that quantizes the residual input of an
// Add (or of a fused op) so that conv + add fuses in INT8.
const AddResidual = "Add-residual"

// DefaultOps are the layer types the pass quantizes by default.
var DefaultOps = []string{"Conv", "Gemm", "MatMul", "FusedConv", "FusedGemm", AddResidual}

// layerOps are the layer ops the ops option may name (AddResidual aside).
var layerOps = []string{"Conv", "Gemm", "MatMul", "FusedConv", "FusedGemm"}

// Pass is the quantize pass.
var Pass = &passes.Pass{
	Name:     "quantize",
	Doc:      "insert QuantizeLinear/DequantizeLinear pairs at the inputs of Conv, Gemm and MatMul layers and residual adds (per-tensor int8 activations from calibration, per-channel int8 weights)",
	Requires: []*passes.Pass{calibrate.Pass},
	Options: []passes.Option{
		{Name: "ops", Kind: passes.Strings, Default: DefaultOps,
			Doc: "layer types to quantize: Conv, Gemm, MatMul, FusedConv, FusedGemm, and Add-residual for the residual input of an add after a quantized layer"},
		{Name: "per-tensor-weights", Kind: passes.Bool, Default: false,
			Doc: "quantize weights with one scale per tensor instead of one per output channel"},
		{Name: "skip", Kind: passes.SelectorKind, Default: passes.Selector{},
			Doc: "layers (by name or op) to keep in float"},
		{Name: "bias-correction", Kind: passes.Bool, Default: false,
			Doc: "lower each layer's bias by the mean output shift its weight quantization causes, with input means measured on calibrate's held-out samples"},
		{Name: "weight-clip", Kind: passes.String, Default: WeightClipMax, Enum: []string{WeightClipMax, WeightClipMSE},
			Doc: "weight scale per channel: max (max|w|/127, TensorRT's) or mse (the clipping of max|w| that minimises the channel's squared quantization error)"},
		{Name: "sensitivity", Kind: passes.Bool, Default: false,
			Doc: "measure each layer's contribution to the output error (its input and weight quantized alone) on calibrate's held-out samples, and note it (sqc compile --report sets it)"},
		{Name: "keep-float", Kind: passes.Int, Default: int64(0), Min: 0, Max: 1 << 20,
			Doc: "keep this many layers in float: those whose quantization alone costs the output most (measured as sensitivity)"},
		{Name: "max-output-error", Kind: passes.Float, Default: 0.0, Min: 0, Max: 1e9,
			Doc: "keep the worst layers in float until the output errors of those quantized sum to at most this (relative squared error; 0: no target)"},
	},
	Run: run,
}

func init() { passes.Register(Pass) }

func run(c *passes.Context) (any, error) {
	res, err := c.ResultOf(calibrate.Pass)
	if err != nil {
		return nil, err
	}
	ranges, ok := res.(*calibrate.Result)
	if !ok || ranges == nil {
		return nil, fmt.Errorf("the calibrate analysis returned %T, want *calibrate.Result", res)
	}
	ops, residual, err := parseOps(c.Options.Strings("ops"))
	if err != nil {
		return nil, err
	}
	g := c.Graph
	kept, err := sensitivity(c, ranges, ops)
	if err != nil {
		return nil, err
	}
	if c.Options.Bool("bias-correction") {
		if err := correctBiases(c, ranges, ops, kept); err != nil {
			return nil, err
		}
	}
	q := newQuantizer(c.Graph, ranges)
	producers := g.Producers()
	users := g.Users()
	quantized := map[*ir.Node]bool{}
	for _, n := range append([]*ir.Node(nil), g.Nodes...) {
		opts := c.OptionsFor(n)
		if opts.Selector("skip").Match(n) {
			if ops[n.Op] || n.Op == "Add" {
				c.Count("layers kept in float (skip)", 1)
			}
			continue
		}
		if kept[n] {
			c.Count("layers kept in float (accuracy)", 1)
			continue
		}
		switch {
		case ops[n.Op]:
			if err := q.layer(n, opts.Bool("per-tensor-weights"), opts.String("weight-clip") == WeightClipMSE, residual); err != nil {
				return nil, err
			}
			quantized[n] = true
			c.Count("layers quantized", 1)
		case n.Op == "Add" && residual:
			done, err := q.residualAdd(n, producers, users, quantized)
			if err != nil {
				return nil, err
			}
			if done {
				c.Count("residual adds quantized", 1)
			}
		}
	}
	if len(q.after) == 0 && len(q.before) == 0 {
		return nil, nil
	}
	q.place()
	c.Count("activation quantizers", q.activations)
	c.Count("weights quantized", q.weights)
	c.Changed()
	return nil, nil
}

// parseOps checks the ops option and returns the layer ops it names and
// whether it asks for the residual quantizer.
func parseOps(list []string) (map[string]bool, bool, error) {
	ops := map[string]bool{}
	residual := false
	for _, o := range list {
		o = strings.TrimSpace(o)
		switch {
		case o == AddResidual:
			residual = true
		case slices.Contains(layerOps, o):
			ops[o] = true
		default:
			return nil, false, fmt.Errorf("option ops: %q is not a quantizable layer type (want %s or %s)", o, strings.Join(layerOps, ", "), AddResidual)
		}
	}
	return ops, residual, nil
}

// quantizer inserts the Q/DQ nodes. New nodes are collected and placed in
// the node list at the end: an activation's pair right after its producer
// (at the start for a graph input), a weight's DequantizeLinear right
// before its first reader.
type quantizer struct {
	g      *ir.Graph
	ranges *calibrate.Result
	names  *ir.Namer
	// acts maps an activation to the DQ output its quantized readers read.
	acts map[*ir.Value]*ir.Value
	// weights maps a weight and its quantization axis (-1 per tensor) to
	// the DQ output of its int8 version.
	wcache               map[weightKey]*ir.Value
	producers            map[*ir.Value]*ir.Node
	pos                  map[*ir.Node]int        // index in the original node order
	after                map[*ir.Node][]*ir.Node // nodes to place after a node (nil: at the start)
	before               map[*ir.Node][]*ir.Node // nodes to place before a node
	activations, weights int
}

type weightKey struct {
	v       *ir.Value
	axis    int
	mseClip bool
}

func newQuantizer(g *ir.Graph, ranges *calibrate.Result) *quantizer {
	q := &quantizer{g: g, ranges: ranges, names: ir.NewNamer(g), acts: map[*ir.Value]*ir.Value{},
		wcache: map[weightKey]*ir.Value{}, producers: g.Producers(), pos: map[*ir.Node]int{},
		after: map[*ir.Node][]*ir.Node{}, before: map[*ir.Node][]*ir.Node{}}
	for i, n := range g.Nodes {
		q.pos[n] = i
		// New nodes take their names from the same namer as new values.
		q.names.Reserve(n.Name)
	}
	return q
}

// fresh returns base or base.N, unused, and reserves it.
func (q *quantizer) fresh(base string) string { return q.names.Fresh(base) }

// alreadyQuantized reports whether v is the output of a DequantizeLinear
// (an explicitly quantized model, or a second run of the pass).
func (q *quantizer) alreadyQuantized(v *ir.Value) bool {
	p := q.producers[v]
	return p != nil && p.Op == "DequantizeLinear"
}

// layer quantizes the inputs of one quantizable layer n.
func (q *quantizer) layer(n *ir.Node, perTensor, mseClip, residual bool) error {
	if len(n.Inputs) < 2 || n.Inputs[0] == nil || n.Inputs[1] == nil {
		return nil
	}
	if !n.Inputs[0].Type.DType.IsFloat() {
		return nil // already integer: nothing to quantize
	}
	if err := q.activationInput(n, 0); err != nil {
		return err
	}
	w := n.Inputs[1]
	if w.IsConst() {
		axis, err := weightAxis(n, perTensor)
		if err != nil {
			return err
		}
		dq, err := q.weight(n, w, axis, mseClip)
		if err != nil {
			return err
		}
		n.Inputs[1] = dq
	} else if err := q.activationInput(n, 1); err != nil {
		return err
	}
	if residual && (n.Op == "FusedConv" || n.Op == "FusedGemm") && n.Input(3) != nil {
		if err := q.activationInput(n, 3); err != nil {
			return err
		}
	}
	return nil
}

// weightAxis is the axis of n's weight that holds the output channels, or
// -1 for per-tensor quantization.
func weightAxis(n *ir.Node, perTensor bool) (int, error) {
	if perTensor {
		return -1, nil
	}
	w := n.Inputs[1]
	switch n.Op {
	case "Conv", "FusedConv":
		return 0, nil
	case "Gemm", "FusedGemm":
		if n.Attrs.Int("transB", 0) != 0 {
			return 0, nil
		}
		return 1, nil
	case "MatMul":
		if r := w.Type.Shape.Rank(); r >= 2 {
			return r - 1, nil
		}
		return -1, nil // a vector weight has one output channel
	}
	return 0, fmt.Errorf("node %s: no weight axis for op %s", n.Name, n.Op)
}

// activationInput makes input i of n read the quantized form of its value.
func (q *quantizer) activationInput(n *ir.Node, i int) error {
	v := n.Inputs[i]
	if v == nil || v.IsConst() || !v.Type.DType.IsFloat() || q.alreadyQuantized(v) {
		return nil
	}
	dq, err := q.activation(v)
	if err != nil {
		return fmt.Errorf("node %s: %w", n.Name, err)
	}
	n.Inputs[i] = dq
	text := fmt.Sprintf("%s %s", v.Name, q.ranges.Ranges[v.Name].Describe())
	if old, ok := n.Notes[RangeNoteKey]; ok {
		text = old + "; " + text
	}
	n.Note(RangeNoteKey, text)
	return nil
}

// RangeNoteKey is the key of the note the pass leaves on every quantized
// layer: the range of each activation input and the calibrator that chose
// it (with auto, the output error each candidate measured).
const RangeNoteKey = "int8-range"

// activation returns the DQ output of value v's per-tensor quantizer,
// making the pair on first use.
func (q *quantizer) activation(v *ir.Value) (*ir.Value, error) {
	if dq, ok := q.acts[v]; ok {
		return dq, nil
	}
	r, ok := q.ranges.Ranges[v.Name]
	if !ok {
		return nil, fmt.Errorf("value %q has no calibrated range (run calibrate just before quantize, with values=all or quantizable)", v.Name)
	}
	scale := r.Scale
	if !(scale > 0) || math.IsInf(float64(scale), 0) {
		scale = calibrate.ScaleFor(r.Amax)
	}
	if v.Type.DType != ir.Float32 {
		return nil, fmt.Errorf("value %q is %v, want f32 to quantize", v.Name, v.Type.DType)
	}
	sc := ir.NewConst(q.fresh(v.Name+".scale"), ir.FromFloat32([]float32{scale}))
	zp := ir.NewConst(q.fresh(v.Name+".zero_point"), ir.NewTensor(ir.Int8))
	iv := &ir.Value{Name: q.fresh(v.Name + ".q"), Type: ir.Type{DType: ir.Int8, Shape: v.Type.Shape.Clone(), Layout: v.Type.Layout},
		Quant: &ir.QuantParams{Scale: []float32{scale}, ZeroPoint: []int32{0}, Axis: -1}}
	dq := &ir.Value{Name: q.fresh(v.Name + ".dq"), Type: ir.Type{DType: ir.Float32, Shape: v.Type.Shape.Clone(), Layout: v.Type.Layout}}
	qn := &ir.Node{Name: q.fresh(v.Name + "/quantize"), Op: "QuantizeLinear", Inputs: []*ir.Value{v, sc, zp}, Outputs: []*ir.Value{iv}}
	dn := &ir.Node{Name: q.fresh(v.Name + "/dequantize"), Op: "DequantizeLinear", Inputs: []*ir.Value{iv, sc, zp}, Outputs: []*ir.Value{dq}}
	p := q.producers[v]
	q.after[p] = append(q.after[p], qn, dn)
	q.acts[v] = dq
	q.activations++
	return dq, nil
}

// weight quantizes a float constant weight of n along axis (-1: per
// tensor) and returns the output of the DequantizeLinear that reads the
// int8 constant.
func (q *quantizer) weight(n *ir.Node, w *ir.Value, axis int, mseClip bool) (*ir.Value, error) {
	key := weightKey{w, axis, mseClip}
	if dq, ok := q.wcache[key]; ok {
		return dq, nil
	}
	t := w.Const
	if t.DType != ir.Float32 {
		return nil, fmt.Errorf("node %s: weight %q is %v, want f32 to quantize", n.Name, w.Name, t.DType)
	}
	if axis >= len(t.Shape) {
		return nil, fmt.Errorf("node %s: weight %q has shape %v, no output-channel axis %d", n.Name, w.Name, t.Shape, axis)
	}
	wq, scales := quantizeWeight(t, axis, mseClip)
	iv := ir.NewConst(q.fresh(w.Name+".q"), wq)
	iv.Type.Layout = w.Type.Layout
	quant := &ir.QuantParams{Scale: scales, ZeroPoint: make([]int32, len(scales)), Axis: axis}
	var sc, zp *ir.Value
	var attrs ir.Attrs
	if axis < 0 {
		sc = ir.NewConst(q.fresh(w.Name+".scale"), ir.FromFloat32([]float32{scales[0]}))
		zp = ir.NewConst(q.fresh(w.Name+".zero_point"), ir.NewTensor(ir.Int8))
	} else {
		sc = ir.NewConst(q.fresh(w.Name+".scale"), ir.FromFloat32(append([]float32(nil), scales...), len(scales)))
		zp = ir.NewConst(q.fresh(w.Name+".zero_point"), ir.NewTensor(ir.Int8, len(scales)))
		attrs = ir.Attrs{"axis": ir.IntAttr(int64(axis))}
	}
	iv.Quant = quant
	if s := w.Sparsity; s != nil {
		// rne(0 / s) = 0: every zero of the float weight is a zero of the
		// int8 weight, so the claim holds for it.
		iv.Sparsity = &ir.Sparsity{N: s.N, M: s.M, Axis: s.Axis}
	}
	dq := &ir.Value{Name: q.fresh(w.Name + ".dq"), Type: ir.Type{DType: ir.Float32, Shape: w.Type.Shape.Clone(), Layout: w.Type.Layout}}
	dn := &ir.Node{Name: q.fresh(w.Name + "/dequantize"), Op: "DequantizeLinear", Inputs: []*ir.Value{iv, sc, zp}, Outputs: []*ir.Value{dq}, Attrs: attrs}
	q.before[n] = append(q.before[n], dn)
	q.wcache[key] = dq
	q.weights++
	return dq, nil
}

// quantizeWeight quantizes a float32 weight symmetrically along axis (-1:
// one scale): s = max|w|/127 over each slice (1 for an all-zero slice) and
// q = sat(rne(w / s)), QuantizeLinear's arithmetic, which stays within
// [−127, 127] because |w / s| <= 127 before rounding.
func quantizeWeight(t *ir.Tensor, axis int, mseClip bool) (*ir.Tensor, []float32) {
	data := t.Float32s()
	channels, inner := 1, len(data)
	if axis >= 0 {
		channels, inner = t.Shape[axis], ir.NumElements(t.Shape[axis+1:])
	}
	maxAbs := make([]float32, channels)
	chOf := func(i int) int {
		if inner == 0 {
			return 0
		}
		return (i / inner) % channels
	}
	for i, v := range data {
		k := chOf(i)
		maxAbs[k] = max(maxAbs[k], float32(math.Abs(float64(v))))
	}
	scales := make([]float32, channels)
	for k, m := range maxAbs {
		scales[k] = calibrate.ScaleFor(m)
	}
	if mseClip {
		clipScales(data, channels, inner, maxAbs, scales)
	}
	out := ir.NewTensor(ir.Int8, t.Shape...)
	o := out.Int8s()
	for i, v := range data {
		// Symmetric: −128 is never used (a clipped scale could reach it).
		o[i] = int8(max(ref.QuantizeValue(v, scales[chOf(i)], 0, ir.Int8), -127))
	}
	return out, scales
}

// The weight-clip choices.
const (
	WeightClipMax = "max"
	WeightClipMSE = "mse"
)

// clipScales replaces each channel's scale by the one, among max|w|·r/127
// for r = 1, 0.99, ..., 0.50, whose quantization of the channel has the
// least squared error (the first on ties, so no clipping unless it pays):
// a few large weights otherwise stretch the step of all the others.
// data's channel k is the elements i with (i/inner) % channels == k.
func clipScales(data []float32, channels, inner int, maxAbs, scales []float32) {
	if inner == 0 {
		return
	}
	sqErr := func(k int, s float32) float64 {
		e := 0.0
		for i := k * inner; i < len(data); i += channels * inner {
			for _, v := range data[i : i+inner] {
				q := float32(float32(max(ref.QuantizeValue(v, s, 0, ir.Int8), -127)) * s)
				d := float64(v - q)
				e += float64(d * d)
			}
		}
		return e
	}
	for k, m := range maxAbs {
		if m == 0 {
			continue
		}
		best, bestErr := scales[k], sqErr(k, scales[k])
		for step := 1; step <= 50; step++ {
			s := calibrate.ScaleFor(m * float32(100-step) / 100)
			if e := sqErr(k, s); e < bestErr {
				best, bestErr = s, e
			}
		}
		scales[k] = best
	}
}

// residualAdd quantizes the residual operand of an Add whose other operand
// is the output of a quantized layer read only by this Add, and reports
// whether it did.
func (q *quantizer) residualAdd(n *ir.Node, producers map[*ir.Value]*ir.Node, users map[*ir.Value][]*ir.Node, quantized map[*ir.Node]bool) (bool, error) {
	if len(n.Inputs) != 2 || n.Inputs[0] == nil || n.Inputs[1] == nil {
		return false, nil
	}
	// The layer that absorbs the add: an operand produced by a quantized
	// layer that nothing else reads. When both are (a ResNet downsampling
	// block), the later layer absorbs it and the earlier one's output is
	// the residual, as fuse-epilogue decides.
	absorber := -1
	for i := range 2 {
		layer, other := n.Inputs[i], n.Inputs[1-i]
		p := producers[layer]
		if p == nil || !quantized[p] || len(users[layer]) != 1 || q.g.IsOutput(layer) {
			continue
		}
		if other.IsConst() || !other.Type.Shape.Equal(layer.Type.Shape) || !other.Type.DType.IsFloat() {
			continue
		}
		if absorber < 0 || q.pos[p] > q.pos[producers[n.Inputs[absorber]]] {
			absorber = i
		}
	}
	if absorber < 0 {
		return false, nil
	}
	if err := q.activationInput(n, 1-absorber); err != nil {
		return false, err
	}
	return true, nil
}

// place puts the new nodes into the node list.
func (q *quantizer) place() {
	var out []*ir.Node
	out = append(out, q.after[nil]...)
	for _, n := range q.g.Nodes {
		out = append(out, q.before[n]...)
		out = append(out, n)
		out = append(out, q.after[n]...)
	}
	q.g.Nodes = out
}

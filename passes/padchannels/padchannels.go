package padchannels

import (
	"fmt"
	"strconv"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
)

// Pass is the channel-padding pass.
var Pass = &passes.Pass{
	Name: "pad-channels",
	Doc:  "pad the input (and optionally output) channel counts of convolutions with zeros to a multiple the INT8 kernels need",
	Options: []passes.Option{
		{Name: "multiple", Doc: "pad each conv's input channels to a multiple of this (1: never)",
			Kind: passes.Int, Default: int64(4), Min: 1, Max: 1 << 16},
		{Name: "out-multiple", Doc: "pad each conv's output channels to a multiple of this and slice the extra ones off (1: never)",
			Kind: passes.Int, Default: int64(1), Min: 1, Max: 1 << 16},
	},
	Run: run,
}

func init() { passes.Register(Pass) }

// The statistics the pass reports.
const (
	statPaddedIn    = "convs padded: input channels"
	statAddedIn     = "input channels added"
	statPaddedOut   = "convs padded: output channels"
	statAddedOut    = "output channels added"
	statGrouped     = "convs left alone: grouped (group > 1)"
	statUnknownDims = "convs left alone: channel count unknown"
)

// padKey names a value padded to size channels (and, for a weight, k
// filters).
type padKey struct {
	v       *ir.Value
	size, k int
}

// state is one run of the pass.
type state struct {
	c     *passes.Context
	g     *ir.Graph
	names *ir.Namer
	nodes []*ir.Node
	// padded memoises channel Pads of activations: a value read by several
	// convs is padded once.
	padded map[padKey]*ir.Value
	// producers maps the graph's original values to their nodes.
	producers map[*ir.Value]*ir.Node
	// replaced holds the weight DequantizeLinear nodes given padded copies.
	replaced map[*ir.Node]bool
}

func run(c *passes.Context) (any, error) {
	g := c.Graph
	s := &state{c: c, g: g, names: ir.NewNamer(g), padded: map[padKey]*ir.Value{}, producers: g.Producers(), replaced: map[*ir.Node]bool{}}
	in, out := int(c.Options.Int("multiple")), int(c.Options.Int("out-multiple"))
	for _, n := range g.Nodes {
		if n.Op == "Conv" || n.Op == "FusedConv" || n.Op == "QConv" {
			if err := s.conv(n, in, out); err != nil {
				return nil, err
			}
			continue
		}
		s.nodes = append(s.nodes, n)
	}
	g.Nodes = s.nodes
	s.dropDeadDequant()
	return nil, nil
}

// dropDeadDequant removes the weight DequantizeLinear nodes that padDequant
// replaced and nothing reads any more; the pass runs after dce, so it
// cleans up after itself.
func (s *state) dropDeadDequant() {
	if len(s.replaced) == 0 {
		return
	}
	users := s.g.Users()
	kept := s.g.Nodes[:0]
	for _, n := range s.g.Nodes {
		if s.replaced[n] && len(users[n.Outputs[0]]) == 0 && !s.g.IsOutput(n.Outputs[0]) {
			continue
		}
		kept = append(kept, n)
	}
	clear(s.g.Nodes[len(kept):])
	s.g.Nodes = kept
}

// fresh returns base, or base with a numeric suffix, unused by any value.
func (s *state) fresh(base string) string { return s.names.Fresh(base) }

func roundUp(n, m int) int { return (n + m - 1) / m * m }

// conv pads one Conv or FusedConv if it needs it, placing the nodes it
// creates around it in s.nodes.
func (s *state) conv(n *ir.Node, inMul, outMul int) error {
	x, w := n.Input(0), n.Input(1)
	if x == nil || w == nil || len(n.Outputs) != 1 {
		// Not a well-formed conv: the verifier reports it, not this pass.
		s.nodes = append(s.nodes, n)
		return nil
	}
	wdims, wok := w.Type.Shape.Ints()
	xs := x.Type.Shape
	if !wok || xs.Rank() < 3 || len(wdims) != xs.Rank() || !xs[1].Known() {
		s.nodes = append(s.nodes, n)
		if inMul > 1 || outMul > 1 {
			s.c.Count(statUnknownDims, 1)
		}
		return nil
	}
	C, K := int(xs[1].Size), wdims[0]
	Cp, Kp := C, K
	if inMul > 1 {
		Cp = roundUp(C, inMul)
	}
	if n.Op == "QConv" && Cp > 8 {
		// The INT8 kernels read a convolution's input in place with 4, 8
		// or a multiple of 16 channels (16-byte chunks); any other count
		// costs an im2col copy of the whole GEMM matrix, so a Pad to the
		// next multiple of 16 is the cheaper copy.
		Cp = roundUp(Cp, 16)
	}
	if outMul > 1 && n.Op != "QConv" {
		// A QConv's output channels would need padded multipliers, bias
		// and residual and an int8 Slice: the INT8 kernels pad their
		// channel tiles themselves, so only its input is padded.
		Kp = roundUp(K, outMul)
	}
	if Cp == C && Kp == K {
		s.nodes = append(s.nodes, n)
		return nil
	}
	if n.Attrs.Int("group", 1) != 1 {
		s.nodes = append(s.nodes, n)
		s.c.Count(statGrouped, 1)
		return nil
	}
	if wdims[1] != C {
		return fmt.Errorf("%s (%s): weight has %d input channels, input has %d", n.Name, n.Op, wdims[1], C)
	}
	s.c.Changed()
	// Recorded on the conv for reports and the backend: outputs are
	// unchanged (zero weights), but the layer now does more work.
	switch {
	case Cp != C && Kp != K:
		n.Note("padded", fmt.Sprintf("input channels %d→%d, output channels %d→%d (sliced back)", C, Cp, K, Kp))
	case Cp != C:
		n.Note("padded", fmt.Sprintf("input channels %d→%d", C, Cp))
	default:
		n.Note("padded", fmt.Sprintf("output channels %d→%d (sliced back)", K, Kp))
	}
	if n.Op == "QConv" {
		// The int8 input's new channels hold its zero point (real 0) and
		// the int8 weight's hold 0 (padActivation, newWeight), so each
		// added product, (zx−zx)·0, is 0 and the int32 sums, and every
		// output bit, are unchanged. Multipliers, bias and residual are
		// per output channel and stay as they are.
		if x.Type.DType != ir.Int8 || x.Quant == nil || !x.Quant.PerTensor() {
			return fmt.Errorf("%s (QConv): input %q is not per-tensor quantized int8", n.Name, x.Name)
		}
		if !w.IsConst() || w.Const.DType != ir.Int8 {
			return fmt.Errorf("%s (QConv): weight %q is not an int8 constant", n.Name, w.Name)
		}
	}
	if Cp != C {
		px, err := s.padActivation(x, Cp, n.Name+"/pad_channels")
		if err != nil {
			return err
		}
		n.Inputs[0] = px
		s.c.Count(statPaddedIn, 1)
		s.c.Count(statAddedIn, Cp-C)
	}
	nw, err := s.padWeight(n, w, Kp, Cp)
	if err != nil {
		return err
	}
	n.Inputs[1] = nw
	if Kp == K {
		s.nodes = append(s.nodes, n)
		return ir.InferNode(n)
	}
	// Output channels: zero filters, zero bias, a zero-padded residual, and
	// a Slice back to K channels that produces the original output value.
	if b := n.Input(2); b != nil {
		nb, err := s.padBias(n, b, Kp)
		if err != nil {
			return err
		}
		n.Inputs[2] = nb
	}
	if r := n.Input(3); r != nil && n.Op == "FusedConv" {
		pr, err := s.padActivation(r, Kp, n.Name+"/pad_residual")
		if err != nil {
			return err
		}
		n.Inputs[3] = pr
	}
	y := n.Outputs[0]
	wide := &ir.Value{Name: s.fresh(y.Name + ".k" + strconv.Itoa(Kp)), Type: ir.Type{Layout: y.Type.Layout}}
	n.Outputs[0] = wide
	if err := ir.InferNode(n); err != nil {
		return err
	}
	s.nodes = append(s.nodes, n)
	slice := &ir.Node{Name: n.Name + "/slice_channels", Op: "Slice",
		Inputs: []*ir.Value{wide,
			s.constInts(n.Name+"/slice_starts", 0),
			s.constInts(n.Name+"/slice_ends", int64(K)),
			s.constInts(n.Name+"/slice_axes", 1),
			s.constInts(n.Name+"/slice_steps", 1)},
		Outputs: []*ir.Value{y}}
	if err := ir.InferNode(slice); err != nil {
		return err
	}
	s.nodes = append(s.nodes, slice)
	s.c.Count(statPaddedOut, 1)
	s.c.Count(statAddedOut, Kp-K)
	return nil
}

// constInts makes a 1-D i64 constant.
func (s *state) constInts(name string, vals ...int64) *ir.Value {
	return ir.NewConst(s.fresh(name), ir.FromInt64(append([]int64{}, vals...), len(vals)))
}

// padNode appends a constant-mode Pad of v that adds after[i] zeros at the
// end of each axis i, and returns its output (in v's layout).
// A constant value (a scalar of v's type) fills the new entries instead of
// zero when given.
func (s *state) padNode(v *ir.Value, after []int, name string, value ...*ir.Value) (*ir.Value, error) {
	r := len(after)
	pads := make([]int64, 2*r)
	for i, a := range after {
		pads[r+i] = int64(a)
	}
	out := &ir.Value{Name: s.fresh(v.Name + ".padded"), Type: ir.Type{Layout: v.Type.Layout}}
	p := &ir.Node{Name: name, Op: "Pad",
		Inputs:  append([]*ir.Value{v, ir.NewConst(s.fresh(name+".pads"), ir.FromInt64(pads, len(pads)))}, value...),
		Outputs: []*ir.Value{out},
		Attrs:   ir.Attrs{"mode": ir.StringAttr("constant")}}
	if err := ir.InferNode(p); err != nil {
		return nil, err
	}
	s.nodes = append(s.nodes, p)
	return out, nil
}

// padActivation pads v's channel axis (1) to size channels, once per value
// and size: with zeros, or, for a quantized value, with its zero point (real
// 0), the padded value keeping v's quantization.
func (s *state) padActivation(v *ir.Value, size int, name string) (*ir.Value, error) {
	key := padKey{v: v, size: size}
	if p, ok := s.padded[key]; ok {
		return p, nil
	}
	if v.Type.Shape.Rank() < 2 || !v.Type.Shape[1].Known() {
		return nil, fmt.Errorf("%s: %q has shape %v, want a known channel dim to pad", name, v.Name, v.Type.Shape)
	}
	after := make([]int, v.Type.Shape.Rank())
	after[1] = size - int(v.Type.Shape[1].Size)
	var fill []*ir.Value
	if q := v.Quant; q != nil && q.PerTensor() && v.Type.DType == ir.Int8 {
		zp := &ir.Tensor{DType: ir.Int8, Shape: []int{}, Data: []int8{int8(q.ZeroPoint[0])}}
		fill = append(fill, ir.NewConst(s.fresh(name+".zero_point"), zp))
	}
	p, err := s.padNode(v, after, name, fill...)
	if err != nil {
		return nil, err
	}
	if v.Quant != nil {
		q := *v.Quant
		p.Quant = &q
	}
	s.padded[key] = p
	return p, nil
}

// padWeight returns conv n's weight with K' filters of C' input channels:
// the new entries are zero in value.
func (s *state) padWeight(n *ir.Node, w *ir.Value, Kp, Cp int) (*ir.Value, error) {
	key := padKey{w, Cp, Kp}
	if p, ok := s.padded[key]; ok {
		return p, nil // a weight shared by convs is padded once
	}
	p, err := s.newWeight(n, w, Kp, Cp)
	if err == nil {
		s.padded[key] = p
	}
	return p, err
}

// newWeight builds the padded weight padWeight returns.
func (s *state) newWeight(n *ir.Node, w *ir.Value, Kp, Cp int) (*ir.Value, error) {
	dims, _ := w.Type.Shape.Ints()
	K, C := dims[0], dims[1]
	if w.IsConst() && w.Type.DType == ir.Float32 {
		t := padKC(w.Const, Kp, Cp, func(int) float32 { return 0 })
		return s.newConst(w, t), nil
	}
	if w.IsConst() && w.Type.DType == ir.Int8 && w.Quant != nil {
		// A QConv's symmetric int8 weight: 0 is real 0.
		return s.newConst(w, padKC(w.Const, Kp, Cp, func(int) int8 { return 0 })), nil
	}
	if dq := s.dequantOfConst(w); dq != nil {
		return s.padDequant(n, dq, Kp, Cp)
	}
	after := make([]int, len(dims))
	after[0], after[1] = Kp-K, Cp-C
	return s.padNode(w, after, n.Name+"/pad_weight")
}

// newConst makes a constant for the padded data t of old, named after old
// and keeping its layout, quantization and sparsity claim (zeros never
// break one).
func (s *state) newConst(old *ir.Value, t *ir.Tensor) *ir.Value {
	v := ir.NewConst(s.fresh(old.Name+".padded"), t)
	v.Type.Layout = old.Type.Layout
	if q := old.Quant; q != nil {
		c := *q
		v.Quant = &c
	}
	if sp := old.Sparsity; sp != nil {
		c := *sp
		v.Sparsity = &c
	}
	return v
}

// padBias pads a bias vector with zeros to k entries.
func (s *state) padBias(n *ir.Node, b *ir.Value, k int) (*ir.Value, error) {
	if b.IsConst() && b.Type.DType == ir.Float32 && b.Type.Shape.Rank() == 1 {
		src := b.Const.Float32s()
		data := make([]float32, k)
		copy(data, src)
		return s.newConst(b, ir.FromFloat32(data, k)), nil
	}
	if b.Type.Shape.Rank() != 1 || !b.Type.Shape[0].Known() {
		return nil, fmt.Errorf("%s (%s): bias %q has shape %v, want a vector of known length", n.Name, n.Op, b.Name, b.Type.Shape)
	}
	return s.padNode(b, []int{k - int(b.Type.Shape[0].Size)}, n.Name+"/pad_bias")
}

// padKC copies a K×C×… tensor into a K'×C'×… one; the new entries of row
// k (filter k) are fill(k).
func padKC[T int8 | uint8 | float32](t *ir.Tensor, Kp, Cp int, fill func(k int) T) *ir.Tensor {
	K, C := t.Shape[0], t.Shape[1]
	inner := ir.NumElements(t.Shape[2:])
	shape := append([]int{Kp, Cp}, t.Shape[2:]...)
	src := t.Data.([]T)
	dst := make([]T, ir.NumElements(shape))
	for k := 0; k < Kp; k++ {
		row := dst[k*Cp*inner : (k+1)*Cp*inner]
		f := fill(k)
		for i := range row {
			row[i] = f
		}
		if k < K {
			copy(row, src[k*C*inner:(k+1)*C*inner])
		}
	}
	return &ir.Tensor{DType: t.DType, Shape: shape, Data: dst}
}

// dequantOfConst returns the DequantizeLinear producing w when it reads a
// constant int8/uint8 tensor with constant scale and zero point, per tensor
// or per output channel (axis 0), the form QAT exports give weights.
func (s *state) dequantOfConst(w *ir.Value) *ir.Node {
	n := s.producers[w]
	if n == nil || n.Op != "DequantizeLinear" || n.Attrs.Int("block_size", 0) != 0 {
		return nil
	}
	q, scale, zp := n.Inputs[0], n.Input(1), n.Input(2)
	if !q.IsConst() || (q.Type.DType != ir.Int8 && q.Type.DType != ir.Uint8) || scale == nil || !scale.IsConst() || (zp != nil && !zp.IsConst()) {
		return nil
	}
	if scale.Const.Len() == 1 {
		return n
	}
	if axis, err := ir.NormAxis(n.Attrs.Int("axis", 1), q.Type.Shape.Rank()); err == nil && axis == 0 {
		return n
	}
	return nil
}

// padDequant pads the integer data under a weight's DequantizeLinear: new
// input channels hold filter k's zero point, so they dequantize to zero;
// new filters hold zero with a zero point of zero and, per channel, a scale
// of 1 (any positive scale gives zero). A new DequantizeLinear reads them;
// the old one stays for any other reader (dce removes it otherwise).
func (s *state) padDequant(n *ir.Node, dq *ir.Node, Kp, Cp int) (*ir.Value, error) {
	q, scale, zp := dq.Inputs[0], dq.Inputs[1], dq.Input(2)
	K := q.Const.Shape[0]
	perAxis := scale.Const.Len() != 1
	zpAt := func(k int) int64 {
		switch {
		case zp == nil || k >= K:
			return 0
		case perAxis:
			return zp.Const.AsInt64(k)
		}
		return zp.Const.AsInt64(0)
	}
	var t *ir.Tensor
	switch q.Type.DType {
	case ir.Int8:
		t = padKC(q.Const, Kp, Cp, func(k int) int8 { return int8(zpAt(k)) })
	case ir.Uint8:
		t = padKC(q.Const, Kp, Cp, func(k int) uint8 { return uint8(zpAt(k)) })
	}
	inputs := []*ir.Value{s.newConst(q, t), scale, zp}
	if perAxis && Kp > K {
		sc := make([]float32, Kp)
		copy(sc, scale.Const.Float32s())
		for k := K; k < Kp; k++ {
			sc[k] = 1
		}
		inputs[1] = ir.NewConst(s.fresh(scale.Name+".padded"), ir.FromFloat32(sc, Kp))
		if zp != nil {
			zt := ir.NewTensor(zp.Type.DType, Kp)
			for k := 0; k < K; k++ {
				switch d := zt.Data.(type) {
				case []int8:
					d[k] = int8(zpAt(k))
				case []uint8:
					d[k] = uint8(zpAt(k))
				}
			}
			inputs[2] = ir.NewConst(s.fresh(zp.Name+".padded"), zt)
		}
	}
	if zp == nil {
		inputs = inputs[:2]
	}
	out := &ir.Value{Name: s.fresh(dq.Outputs[0].Name + ".padded"), Type: ir.Type{Layout: dq.Outputs[0].Type.Layout}}
	attrs := ir.Attrs{}
	for k, a := range dq.Attrs {
		attrs[k] = a
	}
	nd := &ir.Node{Name: n.Name + "/dequantize_weight", Op: "DequantizeLinear", Inputs: inputs, Outputs: []*ir.Value{out}, Attrs: attrs}
	if err := ir.InferNode(nd); err != nil {
		return nil, err
	}
	s.nodes = append(s.nodes, nd)
	s.replaced[dq] = true
	return out, nil
}

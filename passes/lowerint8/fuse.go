package lowerint8

import (
	"fmt"
	"math"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
)

// anchorOps are the ops a QConv or QGemm replaces.
var anchorOps = map[string]bool{"Conv": true, "FusedConv": true, "Gemm": true, "FusedGemm": true, "MatMul": true}

// convAttrNames are the convolution-geometry attributes QConv keeps.
var convAttrNames = []string{"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}

// fuseAll lowers every anchor it can and counts the others by reason.
func fuseAll(e *editor, c *passes.Context) (int, error) {
	count := 0
	for _, n := range append([]*ir.Node(nil), e.g.Nodes...) {
		if e.removed[n] || !anchorOps[n.Op] {
			continue
		}
		opts := c.OptionsFor(n)
		if opts.Selector("skip").Match(n) {
			c.Count("layers skipped by the skip option", 1)
			continue
		}
		why, err := e.fuse(n, opts.Bool("float-outputs"))
		if err != nil {
			return count, err
		}
		switch why {
		case "":
			count++
		case whyNotQuantized:
			// A float layer the quantizer left alone: nothing to say.
		default:
			c.Count("not lowered: "+why, 1)
			n.Note("int8", "stays float: "+why)
		}
	}
	if count > 0 {
		c.Count("layers lowered", count)
	}
	return count, nil
}

// Reasons an anchor stays in float.
const (
	whyNotQuantized = "data input is not DequantizeLinear of a per-tensor int8 value"
	whyWeight       = "weight is not DequantizeLinear of an int8 constant quantized per output channel or per tensor"
	whyBias         = "bias is not a constant of one value per output channel"
	whyGemmForm     = "Gemm with transA, alpha ≠ 1 or beta ≠ 1"
	whyMatMulRank   = "MatMul whose data input has rank below 2 or whose weight is not 2-d"
	whyResidual     = "residual input is not DequantizeLinear of a per-tensor int8 value"
	whyFloatOut     = "its result is not quantized and float-outputs is off"
)

// layer is what an anchor and the chain after it amount to.
type layer struct {
	anchor *ir.Node
	conv   bool
	x      *ir.Value // int8 input
	px     *qparams
	w      *ir.Value // int8 weight, output channels first
	sw     []float32 // one per output channel
	bias   []int32   // nil when none
	r      *ir.Value // int8 residual, nil when none
	pr     *qparams
	act    string
	lo, hi float32
	chain  []*ir.Node // nodes after the anchor that the fused op absorbs
	out    *ir.Value  // the fused op's output
	py     *qparams   // nil for a float32 output
	note   string
}

// fuse lowers anchor n, or says why it cannot.
func (e *editor) fuse(n *ir.Node, floatOutputs bool) (string, error) {
	l := &layer{anchor: n, conv: n.Op == "Conv" || n.Op == "FusedConv", act: ir.ActNone}
	d, px := e.dqParams(n.Inputs[0])
	if d == nil || px.dt != ir.Int8 {
		return whyNotQuantized, nil
	}
	l.x, l.px = d.Inputs[0], px
	if l.x.Quant == nil {
		l.x.Quant = px.quant()
	} else if !l.x.Quant.Equal(px.quant()) {
		return whyNotQuantized, nil
	}
	// Which axis of the weight input holds the output channels, and
	// whether it must be transposed to [N,K].
	chAxis, transpose := 0, false
	switch n.Op {
	case "Gemm", "FusedGemm":
		if n.Attrs.Int("transA", 0) != 0 || n.Attrs.Float("alpha", 1) != 1 || (n.Input(2) != nil && n.Attrs.Float("beta", 1) != 1) {
			return whyGemmForm, nil
		}
		if n.Attrs.Int("transB", 0) == 0 {
			chAxis, transpose = 1, true
		}
	case "MatMul":
		// [...,K] by a [K,N] weight: leading dims are a batch of rows
		// (a transformer's tokens, ConvNeXt's pixels), each row the same
		// product as in [M,K]·[K,N]; QGemm takes them as they are.
		if n.Inputs[0].Type.Shape.Rank() < 2 || n.Inputs[1].Type.Shape.Rank() != 2 {
			return whyMatMulRank, nil
		}
		chAxis, transpose = 1, true
	}
	w, sw, note, ok := e.weight(n.Inputs[1], chAxis, transpose)
	if !ok {
		return whyWeight, nil
	}
	l.w, l.sw, l.note = w, sw, note
	channels := len(sw)

	// The bias, as float32 values or as exact int32.
	var fbias []float32
	if b := n.Input(2); b != nil {
		var ok bool
		if l.bias, fbias, ok = e.bias(b, l, channels); !ok {
			return whyBias, nil
		}
	}
	fused := n.Op == "FusedConv" || n.Op == "FusedGemm"
	var floatResidual *ir.Value
	if fused {
		if r := n.Input(3); r != nil {
			if !e.residual(l, r, n.Outputs[0].Type.Shape) {
				if !floatOutputs {
					return whyResidual, nil
				}
				floatResidual = r
			}
		}
		act, lo, hi, err := ir.FusedActivation(n.Attrs)
		if err != nil {
			return "", fmt.Errorf("node %s: %v", n.Name, err)
		}
		l.act, l.lo, l.hi = act, lo, hi
	}
	if floatResidual != nil {
		if fbias != nil {
			if bias, ok := intBiases(l, fbias); ok {
				l.bias, fbias = bias, nil
			}
		}
		e.emitFloatTail(l, fbias, floatResidual)
		return "", nil
	}

	// Absorb the chain after the anchor.
	cur := n.Outputs[0]
	for {
		u := e.soleUser(cur)
		if u == nil {
			break
		}
		if u.Op == "QuantizeLinear" {
			if p := nodeParams(u); p != nil && p.perTensor() && p.dt == ir.Int8 && !e.g.IsOutput(u.Outputs[0]) {
				l.chain = append(l.chain, u)
				l.py = p
			}
			break
		}
		if !e.absorb(l, u, cur, &fbias, channels) {
			break
		}
		l.chain = append(l.chain, u)
		cur = u.Outputs[0]
	}
	if l.py != nil {
		l.out = l.chain[len(l.chain)-1].Outputs[0]
		l.out.Quant = l.py.quant()
	} else {
		if !floatOutputs {
			return whyFloatOut, nil
		}
		l.out = cur
	}
	if fbias != nil {
		if bias, ok := intBiases(l, fbias); ok {
			l.bias = bias
		} else {
			e.emitFloatTail(l, fbias, nil)
			return "", nil
		}
	}
	e.emit(l)
	return "", nil
}

// emitFloatTail lowers a layer whose epilogue cannot all run in the
// integer op: the QConv/QGemm writes float (its int8 residual, if any, still
// fused), and the bias Add when the bias is floatBias, the Add of the float
// residual r, the activation and the QuantizeLinear to the layer's int8
// output follow it as float ops. The layer's output value keeps its
// readers.
//
// A float residual: a QAT export quantizes convolution inputs, not the skip
// connection, and TensorRT places such a residual after the INT8 layer.
//
// A float bias: a bias whose int32 form in units of sx·sw[k] could leave
// int32 with the accumulator added (intBiases): the int32 sum would
// saturate or wrap and compute something else than the layer. ONNX's QDQ
// form of the layer is float arithmetic, so a runtime that runs it as
// written never overflows, while one that fuses it into an integer op
// (ONNX Runtime's QGemm) wraps: a random-weight GoogLeNet's classifier,
// whose input scale is 1.8e-13, had biases of 6e14 units clipped to 2^31−1
// and 0 of 2 arg maxes equal between the two.
func (e *editor) emitFloatTail(l *layer, floatBias []float32, r *ir.Value) {
	n := l.anchor
	out := l.out
	if out == nil {
		out = n.Outputs[0]
	}
	act, lo, hi, py := l.act, l.lo, l.hi, l.py
	l.act, l.py = ir.ActNone, nil
	floatType := func() ir.Type {
		return ir.Type{DType: ir.Float32, Shape: out.Type.Shape.Clone(), Layout: out.Type.Layout}
	}
	name := n.Name
	cur := e.value(out.Name+".acc", floatType(), nil)
	l.out = cur
	e.emit(l)
	// next is the value a float stage writes: out itself for the last
	// stage of a float output.
	stages := 0
	for _, s := range []bool{floatBias != nil, r != nil, act != ir.ActNone} {
		if s {
			stages++
		}
	}
	next := func(suffix string) *ir.Value {
		stages--
		if stages == 0 && py == nil {
			return out
		}
		return e.value(out.Name+suffix, floatType(), nil)
	}
	if floatBias != nil {
		shape := []int{len(floatBias)}
		if l.conv {
			// One value per channel, broadcast over the spatial dims.
			for i := 2; i < out.Type.Shape.Rank(); i++ {
				shape = append(shape, 1)
			}
		}
		b := e.constant(name+".bias", ir.FromFloat32(append([]float32(nil), floatBias...), shape...))
		sum := next(".biased")
		e.add(name+".bias", "Add", []*ir.Value{cur, b}, []*ir.Value{sum}, ir.Attrs{})
		cur = sum
	}
	if r != nil {
		sum := next(".sum")
		e.add(name+".residual", "Add", []*ir.Value{cur, r}, []*ir.Value{sum}, ir.Attrs{})
		cur = sum
	}
	switch act {
	case ir.ActRelu:
		y := next(".relu")
		e.add(name+".relu", "Relu", []*ir.Value{cur}, []*ir.Value{y}, ir.Attrs{})
		cur = y
	case ir.ActClip:
		y := next(".clip")
		e.add(name+".clip", "Clip", []*ir.Value{cur, e.constant(name+".clip_min", ir.FromFloat32([]float32{lo})),
			e.constant(name+".clip_max", ir.FromFloat32([]float32{hi}))}, []*ir.Value{y}, ir.Attrs{})
		cur = y
	}
	if py != nil {
		e.quantize(name+".quantize", cur, py, out)
	}
}

// absorb takes node u, the sole reader of cur, into the layer when it is a
// bias Add, a residual Add or an activation in the allowed order.
func (e *editor) absorb(l *layer, u *ir.Node, cur *ir.Value, fbias *[]float32, channels int) bool {
	switch u.Op {
	case "Add":
		if l.r != nil || l.act != ir.ActNone || len(u.Inputs) != 2 {
			return false
		}
		other := u.Inputs[0]
		if other == cur {
			other = u.Inputs[1]
		}
		if other == cur || other == nil || !u.Outputs[0].Type.Shape.Equal(cur.Type.Shape) {
			return false
		}
		if other.IsConst() {
			// A constant per-channel bias joins the float bias; an exact
			// int32 bias is not mixed with float values.
			vals, ok := perChannel(other.Const, cur.Type.Shape, l.conv, channels)
			if !ok || l.bias != nil {
				return false
			}
			if *fbias == nil {
				*fbias = make([]float32, channels)
			}
			for k := range *fbias {
				(*fbias)[k] += vals[k]
			}
			return true
		}
		return e.residual(l, other, cur.Type.Shape)
	case "Relu":
		if l.act != ir.ActNone {
			return false
		}
		l.act = ir.ActRelu
		return true
	case "Clip":
		if l.act != ir.ActNone {
			return false
		}
		lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
		for i, dst := range []*float32{&lo, &hi} {
			v := u.Input(i + 1)
			if v == nil {
				continue
			}
			if !v.IsConst() || v.Const.DType != ir.Float32 || v.Const.Len() != 1 {
				return false
			}
			*dst = v.Const.Float32s()[0]
		}
		if lo != lo || hi != hi {
			return false
		}
		l.act, l.lo, l.hi = ir.ActClip, lo, hi
		if lo == 0 && math.IsInf(float64(hi), 1) {
			l.act = ir.ActRelu // Clip(0, no max) is relu exactly
		}
		return true
	}
	return false
}

// perChannel reads a float32 constant that an anchor's output (shape out)
// adds: a scalar, or one value per output channel broadcasting along the
// channel axis (axis 1 of a conv output, the last axis of a Gemm's).
func perChannel(t *ir.Tensor, out ir.Shape, conv bool, channels int) ([]float32, bool) {
	if t.DType != ir.Float32 || len(t.Shape) > out.Rank() {
		return nil, false
	}
	v := t.Float32s()
	if len(v) == 1 {
		vals := make([]float32, channels)
		for k := range vals {
			vals[k] = v[0]
		}
		return vals, true
	}
	if len(v) != channels {
		return nil, false
	}
	chAxis := out.Rank() - 1
	if conv {
		chAxis = 1
	}
	off := out.Rank() - len(t.Shape)
	for i, d := range t.Shape {
		if d != 1 && i+off != chAxis {
			return nil, false
		}
	}
	return append([]float32(nil), v...), true
}

// emit replaces the anchor and its chain by the fused node.
func (e *editor) emit(l *layer) {
	n := l.anchor
	sy := float32(0)
	if l.py != nil {
		sy = l.py.scale[0]
	}
	m := e.constant(n.Name+".multiplier", ir.FromFloat32(ir.QOutputMultipliers(l.px.scale[0], l.sw, len(l.sw), sy), len(l.sw)))
	ins := []*ir.Value{l.x, l.w, m}
	if l.bias != nil || l.r != nil {
		var b *ir.Value
		if l.bias != nil {
			b = e.constant(n.Name+".bias_i32", &ir.Tensor{DType: ir.Int32, Shape: []int{len(l.bias)}, Data: l.bias})
		}
		ins = append(ins, b)
	}
	if l.r != nil {
		mr := l.pr.scale[0]
		if l.py != nil {
			mr = ir.QResidualMultiplier(l.pr.scale[0], sy)
		}
		ins = append(ins, l.r, e.constant(n.Name+".residual_multiplier", ir.FromFloat32([]float32{mr})))
	}
	attrs := ir.Attrs{}
	op := "QGemm"
	if l.conv {
		op = "QConv"
		for _, k := range convAttrNames {
			if a, ok := n.Attrs[k]; ok {
				attrs[k] = a
			}
		}
	}
	if l.act != ir.ActNone {
		attrs["activation"] = ir.StringAttr(l.act)
	}
	if l.act == ir.ActClip {
		if !math.IsInf(float64(l.lo), -1) {
			attrs["clip_min"] = ir.FloatAttr(l.lo)
		}
		if !math.IsInf(float64(l.hi), 1) {
			attrs["clip_max"] = ir.FloatAttr(l.hi)
		}
	}
	name := n.Name
	notes := n.Notes
	for _, c := range l.chain {
		e.remove(c)
	}
	e.remove(n)
	f := e.add(name, op, ins, []*ir.Value{l.out}, attrs)
	for k, v := range notes {
		f.Note(k, v)
	}
	if l.note != "" {
		f.Note("int8", l.note)
	}
}

// intBiases converts layer l's float biases to int32 in units of
// float32(sx·sw[k]), rne(b / float32(sx·sw[k])) computed in float64, or
// says they cannot be: when for some channel |B| plus the largest magnitude
// the accumulator Σ(x − zx)·w can reach does not fit int32, the integer sum
// could overflow. A tiny input
// scale (a layer whose input barely varies on the calibration data, a
// random-weight network's late layers) does it: the bias is then kept in
// float after the layer (emitFloatTail), and the layer's node says so.
func intBiases(l *layer, fbias []float32) ([]int32, bool) {
	out := make([]int32, len(fbias))
	reach := accumulatorReach(l)
	for k, b := range fbias {
		v := math.RoundToEven(float64(b) / float64(float32(l.px.scale[0]*l.sw[k])))
		if v != v {
			v = 0
		}
		if math.Abs(v)+float64(reach[k]) > math.MaxInt32 {
			l.note = joinNote(l.note, fmt.Sprintf("bias added in float after the layer: channel %d's bias %g is %.3g units of sx·sw = %g·%g, "+
				"which with the accumulator could leave int32", k, b, v, l.px.scale[0], l.sw[k]))
			return nil, false
		}
		out[k] = int32(v)
	}
	return out, true
}

// accumulatorReach is, per output channel k, the largest |Σ(x − zx)·w[k]|
// layer l's integer sum can reach: max|x − zx| over int8 x times Σ|w[k]|.
func accumulatorReach(l *layer) []int64 {
	zx := int64(l.px.zp[0])
	xmax := max(zx+128, 127-zx)
	reach := make([]int64, len(l.sw))
	w := l.w.Const.Int8s()
	per := len(w) / len(reach)
	for k := range reach {
		s := int64(0)
		for _, v := range w[k*per : (k+1)*per] {
			s += max(int64(v), -int64(v))
		}
		reach[k] = xmax * s
	}
	return reach
}

// joinNote appends a sentence to a node note.
func joinNote(note, more string) string {
	if note == "" {
		return more
	}
	return note + "; " + more
}

// weight returns the int8 weight of a fused op for the weight input v of an
// anchor (output channels on chAxis; transpose moves them first), its
// per-channel scales and a note when it had to be requantized.
func (e *editor) weight(v *ir.Value, chAxis int, transpose bool) (*ir.Value, []float32, string, bool) {
	d := e.producer(v)
	if d == nil || d.Op != "DequantizeLinear" {
		return nil, nil, "", false
	}
	wq := d.Inputs[0]
	p := nodeParams(d)
	if p == nil || !wq.IsConst() || (wq.Const.DType != ir.Int8 && wq.Const.DType != ir.Uint8) || (!p.perTensor() && p.axis != chAxis) {
		return nil, nil, "", false
	}
	shape := wq.Const.Shape
	if chAxis >= len(shape) || (transpose && len(shape) != 2) {
		return nil, nil, "", false
	}
	n := shape[chAxis]
	if n == 0 {
		return nil, nil, "", false
	}
	scale := make([]float32, n)
	zp := make([]int32, n)
	for k := range scale {
		scale[k], zp[k] = p.scale[min(k, len(p.scale)-1)], p.zp[min(k, len(p.zp)-1)]
	}
	symmetric := wq.Const.DType == ir.Int8
	for _, z := range zp {
		symmetric = symmetric && z == 0
	}
	want := &ir.QuantParams{Scale: scale, ZeroPoint: make([]int32, n), Axis: 0}
	if p.perTensor() {
		want = &ir.QuantParams{Scale: scale[:1:1], ZeroPoint: []int32{0}, Axis: -1}
	}
	if symmetric && !transpose && wq.Const.DType == ir.Int8 {
		if wq.Quant == nil {
			wq.Quant = want
		}
		if wq.Quant.Equal(want) {
			return wq, scale, "", true
		}
	}

	// channelOf maps a flat index of wq to its output channel, and dst to
	// where the element goes in the [N, ...] result.
	// The codes as int32, whatever the 8-bit type (a u8 weight shared by
	// nodes with different parameters stays u8 until here).
	src := make([]int32, wq.Const.Len())
	for i := range src {
		src[i] = int32(wq.Const.AsInt64(i))
	}
	total := len(src)
	inner := total / n
	channelOf := func(i int) (k, dst int) {
		if transpose { // [K,N] → [N,K]
			row, col := i/n, i%n
			return col, col*(total/n) + row
		}
		return i / inner, i
	}
	fits := true
	for i, w := range src {
		k, _ := channelOf(i)
		if dv := w - zp[k]; dv < -128 || dv > 127 {
			fits = false
			break
		}
	}
	out := make([]int8, total)
	note := ""
	if fits {
		for i, w := range src {
			k, j := channelOf(i)
			out[j] = int8(w - zp[k])
		}
	} else {
		// w − z leaves int8: requantize each channel symmetrically over its
		// own largest magnitude.
		maxAbs := make([]int32, n)
		for i, w := range src {
			k, _ := channelOf(i)
			maxAbs[k] = max(maxAbs[k], abs32(w-zp[k]))
		}
		newScale := make([]float32, n)
		for k := range newScale {
			newScale[k] = scale[k]
			if maxAbs[k] > 0 {
				newScale[k] = float32(float64(scale[k]) * float64(maxAbs[k]) / 127)
			}
		}
		for i, w := range src {
			k, j := channelOf(i)
			q := math.RoundToEven(float64(w-zp[k]) * float64(scale[k]) / float64(newScale[k]))
			out[j] = int8(max(-127, min(127, q)))
		}
		scale = newScale
		want = &ir.QuantParams{Scale: scale, ZeroPoint: make([]int32, n), Axis: 0}
		note = "weight requantized to symmetric int8 per channel (w − zero point did not fit in int8)"
	}
	newShape := append([]int(nil), shape...)
	if transpose {
		newShape = []int{shape[1], shape[0]}
	}
	suffix := ".sym"
	if transpose {
		suffix = ".nk"
	}
	c := e.constant(wq.Name+suffix, &ir.Tensor{DType: ir.Int8, Shape: newShape, Data: out})
	if !transpose {
		c.Type.Layout = wq.Type.Layout
	}
	c.Quant = want
	if s := wq.Sparsity; s != nil && symmetric {
		// Zeros stay zeros; a transpose swaps the claim's axis.
		axis := s.Axis
		if transpose {
			axis = 1 - axis
		}
		c.Sparsity = &ir.Sparsity{N: s.N, M: s.M, Axis: axis}
	}
	return c, scale, note, true
}

func abs32(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}

// bias reads an anchor's bias input: exact int32 (a DQ of int32 at the
// bias scale float32(sx·sw[k])) or float32 values, one per output channel.
func (e *editor) bias(b *ir.Value, l *layer, channels int) ([]int32, []float32, bool) {
	out := l.anchor.Outputs[0].Type.Shape
	if l.conv {
		// A convolution's own bias is 1-d, one value per output channel.
		out = ir.Shape{ir.D(int64(channels))}
	}
	if b.IsConst() {
		vals, ok := perChannel(b.Const, out, false, channels)
		return nil, vals, ok
	}
	d := e.producer(b)
	if d == nil || d.Op != "DequantizeLinear" || !d.Inputs[0].IsConst() || d.Inputs[0].Const.DType != ir.Int32 {
		return nil, nil, false
	}
	p := nodeParams(d)
	bq := d.Inputs[0].Const
	if p == nil || (bq.Len() != 1 && bq.Len() != channels) || (!p.perTensor() && len(p.scale) != channels) {
		return nil, nil, false
	}
	if _, ok := perChannel(ir.FromFloat32(make([]float32, bq.Len()), bq.Shape...), out, false, channels); !ok {
		return nil, nil, false
	}
	exact := make([]int32, channels)
	fvals := make([]float32, channels)
	isExact := true
	for k := range exact {
		s, z := p.scale[min(k, len(p.scale)-1)], p.zp[min(k, len(p.zp)-1)]
		q := int32(bq.AsInt64(min(k, bq.Len()-1)))
		exact[k] = q
		fvals[k] = float32(int64(q)-int64(z)) * s
		isExact = isExact && z == 0 && s == float32(l.px.scale[0]*l.sw[k])
	}
	if isExact {
		return exact, nil, true
	}
	return nil, fvals, true
}

// residual records r as the layer's residual when it is DQ of a per-tensor
// int8 value of the output's exact shape.
func (e *editor) residual(l *layer, r *ir.Value, out ir.Shape) bool {
	d, p := e.dqParams(r)
	if d == nil || p.dt != ir.Int8 || !d.Inputs[0].Type.Shape.Equal(out) {
		return false
	}
	q := d.Inputs[0]
	if q.Quant == nil {
		q.Quant = p.quant()
	} else if !q.Quant.Equal(p.quant()) {
		return false
	}
	l.r, l.pr = q, p
	return true
}

package spacetodepth

import (
	"fmt"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
)

// Pass is the space-to-depth pass.
var Pass = &passes.Pass{
	Name: "space-to-depth",
	Doc:  "turn strided INT8 convolutions of few input channels (an RGB stem) into stride-1 ones over the SpaceToDepth of their input, with the same output bits",
	Options: []passes.Option{
		{Name: "max-channels", Doc: "rewrite only convs with at most this many input channels (wider ones already read whole 16-byte chunks)",
			Kind: passes.Int, Default: int64(4), Min: 1, Max: 1 << 16},
	},
	Run: run,
}

func init() { passes.Register(Pass) }

// The statistics the pass reports.
const (
	statRewritten   = "convs rewritten"
	statUnknown     = "convs left alone: not 2-d or shape unknown"
	statStride      = "convs left alone: stride below 2"
	statUnequal     = "convs left alone: unequal strides"
	statDilated     = "convs left alone: dilated"
	statGrouped     = "convs left alone: grouped (group > 1)"
	statWide        = "convs left alone: more input channels than max-channels"
	statIndivisible = "convs left alone: input size not a multiple of the stride"
	statSparse      = "convs left alone: sparse weight"
	statLaidOut     = "convs left alone: layout already assigned"
)

// s2dKey names the SpaceToDepth of a value with one block size.
type s2dKey struct {
	v *ir.Value
	s int
}

// state is one run of the pass.
type state struct {
	c     *passes.Context
	names *ir.Namer
	nodes []*ir.Node
	// rearranged memoises the SpaceToDepth of an input: a value read by
	// several rewritten convs with one stride is rearranged once.
	rearranged map[s2dKey]*ir.Value
}

func run(c *passes.Context) (any, error) {
	g := c.Graph
	s := &state{c: c, names: ir.NewNamer(g), rearranged: map[s2dKey]*ir.Value{}}
	maxC := int(c.Options.Int("max-channels"))
	for _, n := range g.Nodes {
		if n.Op == "QConv" {
			if err := s.qconv(n, maxC); err != nil {
				return nil, err
			}
		}
		s.nodes = append(s.nodes, n)
	}
	g.Nodes = s.nodes
	return nil, nil
}

// geometry is what the rewrite needs of a conv: its stride s, input
// channels C, input size H×W and, per spatial axis, kernel, begin pad and
// output size.
type geometry struct {
	s, C, H, W int
	kernel     [2]int
	padBegin   [2]int
	out        [2]int
}

// eligible returns the geometry of QConv n, or the statistic that says why
// it is left alone.
func eligible(n *ir.Node, maxC int) (*geometry, string) {
	x, w := n.Input(0), n.Input(1)
	if x == nil || w == nil || len(n.Outputs) != 1 {
		return nil, statUnknown // the verifier reports a malformed node
	}
	// The batch may be symbolic; channels, height and width must be known.
	xs := x.Type.Shape
	wdims, wok := w.Type.Shape.Ints()
	if !wok || xs.Rank() != 4 || len(wdims) != 4 || !xs[1].Known() || !xs[2].Known() || !xs[3].Known() {
		return nil, statUnknown
	}
	C, H, W := int(xs[1].Size), int(xs[2].Size), int(xs[3].Size)
	geom, err := ir.ResolveConvGeom(n.Attrs, x.Type.Shape[2:], wdims[2:], false)
	if err != nil || geom.Out[0] < 0 || geom.Out[1] < 0 {
		return nil, statUnknown
	}
	s := geom.Strides[0]
	switch {
	case geom.Strides[1] != s:
		return nil, statUnequal
	case s < 2:
		return nil, statStride
	case geom.Dilations[0] != 1 || geom.Dilations[1] != 1:
		return nil, statDilated
	case n.Attrs.Int("group", 1) != 1:
		return nil, statGrouped
	case C > maxC:
		return nil, statWide
	case H%s != 0 || W%s != 0:
		return nil, statIndivisible
	case w.Sparsity != nil:
		return nil, statSparse
	case x.Type.Layout != "" || w.Type.Layout != "":
		return nil, statLaidOut
	}
	g := &geometry{s: s, C: C, H: H, W: W}
	for i := 0; i < 2; i++ {
		g.kernel[i], g.padBegin[i], g.out[i] = geom.Kernel[i], geom.PadBegin[i], geom.Out[i]
	}
	return g, ""
}

// axis is the new geometry of one spatial axis.
type axis struct {
	kernel           int // K' = ⌈(K+e)/s⌉
	shift            int // e = p' − p: tap k of the old kernel is tap k+e of the new
	padBegin, padEnd int
}

// newAxis derives one axis of the stride-1 conv: old kernel k, begin pad p,
// stride s, input size in (a multiple of s) and output size out, which the
// new conv must keep.
func newAxis(k, p, s, in, out int) (axis, error) {
	pb := (p + s - 1) / s // p'/s
	a := axis{shift: pb*s - p, padBegin: pb}
	a.kernel = (k + a.shift + s - 1) / s
	// The new conv's output size is in/s + pb + pe − K' + 1; choose pe so
	// that it is out. pe is never negative (it is 0 when the old end
	// padding is 0, and grows with it), but a wrong one would silently
	// change the output shape, so it is checked.
	a.padEnd = out - 1 + a.kernel - in/s - pb
	if a.padEnd < 0 {
		return a, fmt.Errorf("kernel %d stride %d pad %d on %d: end pad %d for %d outputs", k, s, p, in, a.padEnd, out)
	}
	return a, nil
}

// qconv rewrites QConv n when it is eligible, appending the SpaceToDepth it
// needs to s.nodes (n itself is appended by the caller).
func (s *state) qconv(n *ir.Node, maxC int) error {
	g, why := eligible(n, maxC)
	if g == nil {
		s.c.Count(why, 1)
		return nil
	}
	x, w := n.Inputs[0], n.Inputs[1]
	if !w.IsConst() || w.Const.DType != ir.Int8 || w.Quant == nil {
		return fmt.Errorf("%s (QConv): weight %q is not a quantized int8 constant", n.Name, w.Name)
	}
	if x.Quant == nil {
		return fmt.Errorf("%s (QConv): input %q carries no quantization parameters", n.Name, x.Name)
	}
	var ax [2]axis
	for i, in := range [2]int{g.H, g.W} {
		a, err := newAxis(g.kernel[i], g.padBegin[i], g.s, in, g.out[i])
		if err != nil {
			return fmt.Errorf("%s (QConv): %v", n.Name, err)
		}
		ax[i] = a
	}
	z, err := s.spaceToDepth(n, x, g.s)
	if err != nil {
		return err
	}
	nw := ir.NewConst(s.names.Fresh(w.Name+".s2d"), rearrangeWeight(w.Const, g.s, ax))
	q := *w.Quant
	nw.Quant = &q
	n.Inputs[0], n.Inputs[1] = z, nw
	attrs := ir.Attrs{}
	for k, a := range n.Attrs {
		switch k {
		case "strides", "dilations", "auto_pad", "pads", "kernel_shape":
			// Replaced below (stride and dilation 1 are the defaults).
		default:
			attrs[k] = a
		}
	}
	attrs["pads"] = ir.IntsAttr(int64(ax[0].padBegin), int64(ax[1].padBegin), int64(ax[0].padEnd), int64(ax[1].padEnd))
	if _, ok := n.Attrs["kernel_shape"]; ok {
		attrs["kernel_shape"] = ir.IntsAttr(int64(ax[0].kernel), int64(ax[1].kernel))
	}
	n.Attrs = attrs
	// The output value (and with it its type and quantization) is kept:
	// inference must agree with it.
	y := n.Outputs[0]
	before := y.Type
	if err := ir.InferNode(n); err != nil {
		return fmt.Errorf("%s (QConv) after space-to-depth: %v", n.Name, err)
	}
	if !y.Type.Equal(before) {
		return fmt.Errorf("%s (QConv): space-to-depth changed the output type from %v to %v", n.Name, before, y.Type)
	}
	channels := "channels"
	if g.C == 1 {
		channels = "channel"
	}
	n.Note("space-to-depth", fmt.Sprintf("%d×%d/%d on %d %s → %d×%d/1 on %d",
		g.kernel[0], g.kernel[1], g.s, g.C, channels, ax[0].kernel, ax[1].kernel, g.s*g.s*g.C))
	s.c.Count(statRewritten, 1)
	s.c.Changed()
	return nil
}

// spaceToDepth returns x rearranged with block size b, adding the
// SpaceToDepth "<conv>/space_to_depth" the first time x and b are asked for.
func (s *state) spaceToDepth(conv *ir.Node, x *ir.Value, b int) (*ir.Value, error) {
	key := s2dKey{x, b}
	if z, ok := s.rearranged[key]; ok {
		return z, nil
	}
	z := &ir.Value{Name: s.names.Fresh(x.Name + ".s2d")}
	// The rearranged int8 codes stand for the same reals.
	q := *x.Quant
	z.Quant = &q
	n := &ir.Node{Name: conv.Name + "/space_to_depth", Op: "SpaceToDepth",
		Inputs: []*ir.Value{x}, Outputs: []*ir.Value{z},
		Attrs: ir.Attrs{"blocksize": ir.IntAttr(int64(b))}}
	if err := ir.InferNode(n); err != nil {
		return nil, fmt.Errorf("%s: %v", n.Name, err)
	}
	s.nodes = append(s.nodes, n)
	s.rearranged[key] = z
	return z, nil
}

// rearrangeWeight builds W' [M, s²C, K'h, K'w] from the int8 weight w
// [M, C, Kh, Kw]: W'[m][(bh·s+bw)·C+c][ah][aw] = w[m][c][s·ah+bh−eh][s·aw+bw−ew],
// 0 where a tap falls outside the old kernel.
func rearrangeWeight(w *ir.Tensor, s int, ax [2]axis) *ir.Tensor {
	M, C, Kh, Kw := w.Shape[0], w.Shape[1], w.Shape[2], w.Shape[3]
	Ch, Kh2, Kw2 := s*s*C, ax[0].kernel, ax[1].kernel
	out := ir.NewTensor(ir.Int8, M, Ch, Kh2, Kw2)
	src, dst := w.Int8s(), out.Int8s()
	for m := 0; m < M; m++ {
		for bh := 0; bh < s; bh++ {
			for bw := 0; bw < s; bw++ {
				for c := 0; c < C; c++ {
					ch := (bh*s+bw)*C + c
					for ah := 0; ah < Kh2; ah++ {
						kh := s*ah + bh - ax[0].shift
						if kh < 0 || kh >= Kh {
							continue
						}
						for aw := 0; aw < Kw2; aw++ {
							kw := s*aw + bw - ax[1].shift
							if kw < 0 || kw >= Kw {
								continue
							}
							dst[((m*Ch+ch)*Kh2+ah)*Kw2+aw] = src[((m*C+c)*Kh+kh)*Kw+kw]
						}
					}
				}
			}
		}
	}
	return out
}

package quantize

import (
	"errors"
	"fmt"
	"math"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/calibrate"
)

// BiasNoteKey is the key of the note a bias-corrected layer gets.
const BiasNoteKey = "int8-bias"

// correctBiases is empirical bias correction for weight quantization
// (Nagel et al., "Data-Free Quantization Through Weight Equalization and
// Bias Correction", ICCV 2019, with the input means measured rather than
// inferred): quantizing W shifts the mean of a layer's output by
// (W_q − W)·E[x], so each output channel's bias is lowered by that shift,
// with E[x] per input channel measured on calibrate's held-out samples. It
// applies to Conv and FusedConv (group 1, NCHW input) and to Gemm and
// FusedGemm (transA 0, alpha 1, beta 1) whose weight and bias are float
// constants; other layers are left as they are. Border taps of a padded
// convolution read zeros, not the mean: the correction is then
// approximate there, as in the paper.
func correctBiases(c *passes.Context, ranges *calibrate.Result, ops map[string]bool, kept map[*ir.Node]bool) error {
	g := c.Graph
	type layer struct {
		n    *ir.Node
		axis int // the input's channel axis
	}
	var layers []layer
	inputs := map[*ir.Value]bool{}
	for _, n := range g.Nodes {
		opts := c.OptionsFor(n)
		if !ops[n.Op] || kept[n] || opts.Selector("skip").Match(n) || len(n.Inputs) < 3 {
			continue
		}
		x, w, b := n.Inputs[0], n.Inputs[1], n.Inputs[2]
		if x == nil || w == nil || b == nil || !w.IsConst() || !b.IsConst() || x.Type.DType != ir.Float32 ||
			w.Const.DType != ir.Float32 || b.Const.DType != ir.Float32 {
			continue
		}
		axis := -1
		switch n.Op {
		case "Conv", "FusedConv":
			if n.Attrs.Int("group", 1) == 1 && x.Type.Shape.Rank() >= 3 {
				axis = 1
			}
		case "Gemm", "FusedGemm":
			if n.Attrs.Int("transA", 0) == 0 && n.Attrs.Float("alpha", 1) == 1 && n.Attrs.Float("beta", 1) == 1 && x.Type.Shape.Rank() == 2 {
				axis = 1
			}
		}
		if axis < 0 {
			continue
		}
		layers = append(layers, layer{n, axis})
		inputs[x] = true
	}
	if len(layers) == 0 {
		return nil
	}
	batches := ranges.HeldOut()
	if batches == nil {
		return errors.New("bias-correction measures input means on calibration samples held out by calibrate { method = auto }: give it calibration data (a cache file holds no samples)")
	}
	// Per-channel sums of every layer input over the held-out samples.
	sums := map[*ir.Value][]float64{}
	counts := map[*ir.Value]float64{}
	add := func(v *ir.Value, t *ir.Tensor) {
		if !inputs[v] {
			return
		}
		ch := t.Shape[1]
		inner := ir.NumElements(t.Shape[2:])
		s := sums[v]
		if s == nil {
			s = make([]float64, ch)
			sums[v] = s
		}
		for i, x := range t.Float32s() {
			s[(i/inner)%ch] += float64(x)
		}
		counts[v] += float64(t.Len() / ch)
	}
	e, err := ref.New(g)
	if err != nil {
		return err
	}
	for bi, batch := range batches {
		for k, v := range g.Inputs {
			add(v, batch[k])
		}
		if _, err := e.RunObserved(batch, add); err != nil {
			return fmt.Errorf("bias correction: held-out batch %d: %w", bi+1, err)
		}
	}
	names := ir.NewNamer(g)
	for _, l := range layers {
		n := l.n
		x, w, b := n.Inputs[0], n.Inputs[1], n.Inputs[2]
		mean := sums[x]
		if mean == nil || counts[x] == 0 {
			continue
		}
		for i := range mean {
			mean[i] /= counts[x]
		}
		opts := c.OptionsFor(n)
		axis, err := weightAxis(n, opts.Bool("per-tensor-weights"))
		if err != nil {
			return err
		}
		q, scales := quantizeWeight(w.Const, axis, opts.String("weight-clip") == WeightClipMSE)
		deq := dequantize(q, scales, axis).Float32s()
		wf := w.Const.Float32s()
		var shift []float64
		switch n.Op {
		case "Conv", "FusedConv": // W is K × C × kernel
			k, cin := w.Const.Shape[0], w.Const.Shape[1]
			if cin != len(mean) {
				continue
			}
			taps := ir.NumElements(w.Const.Shape[2:])
			shift = make([]float64, k)
			for i := range wf {
				o, c := i/(cin*taps), (i/taps)%cin
				shift[o] += float64(float64(deq[i]-wf[i]) * mean[c])
			}
		default: // Gemm: B is K × N, or N × K with transB
			rows, cols := w.Const.Shape[0], w.Const.Shape[1]
			trans := n.Attrs.Int("transB", 0) != 0
			nOut, kIn := cols, rows
			if trans {
				nOut, kIn = rows, cols
			}
			if kIn != len(mean) {
				continue
			}
			shift = make([]float64, nOut)
			for i := range wf {
				r, cl := i/cols, i%cols
				o, in := cl, r
				if trans {
					o, in = r, cl
				}
				shift[o] += float64(float64(deq[i]-wf[i]) * mean[in])
			}
		}
		bias := b.Const.Float32s()
		if len(bias) != len(shift) && len(bias) != 1 {
			continue
		}
		nb := ir.NewTensor(ir.Float32, len(shift))
		worst := 0.0
		for o, d := range shift {
			old := bias[0]
			if len(bias) > 1 {
				old = bias[o]
			}
			nb.Float32s()[o] = old - float32(d)
			worst = math.Max(worst, math.Abs(d))
		}
		nv := ir.NewConst(names.Fresh(b.Name+".corrected"), nb)
		n.Inputs[2] = nv
		n.Note(BiasNoteKey, fmt.Sprintf("bias corrected for weight quantization: output mean shifts up to %.2g", worst))
		c.Count("biases corrected", 1)
	}
	return nil
}

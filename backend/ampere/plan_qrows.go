package ampere

import (
	"fmt"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/ir"
)

// A QGemm's A may be a batch of rows [N,...,K] (ir/ops_qint8.go): a
// transformer's tokens [N,L,C], or ConvNeXt's pixels [N,H,W,C], which its
// blocks' MLPs read between two permutes. In memory a sample is then
// [rows, K] in row-major order, rows the product of the sample dims but
// the last, and the GEMM runs over those rows as over a 1×1 convolution's
// pixels: the same kernel, the same bit-exact arithmetic.

// qgemmRows returns QGemm n's input x as [rows, K] a sample in row-major
// order: x itself when its bytes already are (one row, a flat buffer, a
// row-major NCHW-tagged image), else one relayout copy of an NHWC image
// (asRowMajor).
func (p *planner) qgemmRows(n *ir.Node, x *engine.Buffer) (*engine.Buffer, error) {
	ws := n.Inputs[1].Const.Shape
	sample := x.SampleShape
	if len(ws) != 2 || len(sample) == 0 || sample[len(sample)-1] != int64(ws[1]) {
		return nil, fmt.Errorf("QGemm of %v (%v a sample) by %v: want [...,K] by [N,K]", n.Inputs[0].Type.Shape, sample, ws)
	}
	return p.asRowMajor(n, x)
}

// readAsRows reports whether every reader of the int8 value v takes it in
// row-major order: as the A of a QGemm, or through a DequantizeLinear
// (which keeps its input's layout) whose output only row readers read
// (readsRowsOnly: a transformer's attention probabilities and values,
// quantized by the INT8 recipes, into its batched MatMuls). Then the
// QuantizeLinear that writes v keeps its input's row order instead of
// moving an image to NHWC, which the readers would only move back.
func (p *planner) readAsRows(v *ir.Value) bool {
	users := p.users[v]
	if len(users) == 0 || p.g.IsOutput(v) {
		return false
	}
	for _, u := range users {
		for i, in := range u.Inputs {
			if in != v {
				continue
			}
			switch {
			case u.Op == "QGemm" && i == 0:
			case u.Op == "DequantizeLinear" && i == 0 && len(u.Outputs) == 1 && p.readsRowsOnly(u.Outputs[0], maxLayoutHops):
			default:
				return false
			}
		}
	}
	return true
}

package ampere

import (
	"fmt"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// resize plans a Resize (or Upsample, which the frontend lowers to it) of
// an f32 image's spatial axes on kernels.ResizeKernel, bit-exact against
// ir/ref: the taps of each output row and column come from the reference
// executor's own rule (ref.ResizeTaps), and the kernel combines them in
// the reference's order. Scales or sizes must be constants (sizes may
// also follow the batch in their first element: batchLedSizes), the batch
// and channel axes unresized; the image is read in the order it is held and
// the output written in the same order.
func (p *planner) resize(n *ir.Node) error {
	x, err := p.input(n, 0)
	if err != nil {
		return err
	}
	if x.Dtype != "f32" || len(x.SampleShape) != 3 {
		return fmt.Errorf("input %s is %s of rank %d, the GPU resize takes f32 2-D images", x.Name, x.Dtype, len(x.SampleShape)+1)
	}
	if ctm := n.Attrs.String("coordinate_transformation_mode", "half_pixel"); ctm == "tf_crop_and_resize" {
		return fmt.Errorf("coordinate transformation %s: the GPU resize has no extrapolation", ctm)
	}
	constIn := func(i int) (*ir.Tensor, error) {
		if i >= len(n.Inputs) || n.Inputs[i] == nil {
			return nil, nil
		}
		v := n.Inputs[i]
		if !v.IsConst() {
			return nil, fmt.Errorf("input %d (%s) is computed, the GPU resize takes constant scales or sizes", i, v.Name)
		}
		if v.Const.Len() == 0 {
			return nil, nil
		}
		return v.Const, nil
	}
	st, err := constIn(2)
	if err != nil {
		return err
	}
	var scales []float64
	var sizes []int64
	if st != nil {
		for i := 0; i < st.Len(); i++ {
			scales = append(scales, st.AsFloat64(i))
		}
	}
	if len(n.Inputs) > 3 && p.shapes.is(n.Inputs[3]) {
		// Sizes computed from the input's shape: the batch's entry follows
		// the batch, the others are the same at every batch.
		if sizes, err = p.batchLedSizes(n.Inputs[3]); err != nil {
			return fmt.Errorf("input 3: %w", err)
		}
	} else {
		zt, err := constIn(3)
		if err != nil {
			return err
		}
		if zt != nil {
			for i := 0; i < zt.Len(); i++ {
				sizes = append(sizes, zt.AsInt64(i))
			}
		}
	}
	// The batch (1 here: it is never resized) and the sample's dims.
	in := []int{1, int(x.SampleShape[0]), int(x.SampleShape[1]), int(x.SampleShape[2])}
	axes, err := ir.ResolveResize(in, scales, sizes, n.Attrs)
	if err != nil {
		return err
	}
	for a := 0; a < 2; a++ {
		if axes[a].Out != int64(in[a]) || axes[a].Scale != 1 {
			return fmt.Errorf("resizes axis %d, the GPU resizes the spatial axes (2 and 3) only", a)
		}
	}
	// Per spatial axis: the reference's taps, or for an axis it leaves
	// alone the identity (the first tap weight 1, the rest weight 0, which
	// the kernel skips, as the reference skips the axis).
	mode := n.Attrs.String("mode", "nearest")
	taps := map[string]int{"nearest": 1, "linear": 2, "cubic": 4}[mode]
	if taps == 0 {
		return fmt.Errorf("mode %q, want nearest, linear or cubic", mode)
	}
	var idx []uint32
	var wts []float64
	outDims := [2]int64{}
	for a := 2; a < 4; a++ {
		ra := axes[a]
		outDims[a-2] = ra.Out
		if ra.Out == int64(in[a]) && ra.Scale == 1 {
			for j := 0; j < in[a]; j++ {
				for k := 0; k < taps; k++ {
					idx = append(idx, uint32(j))
					wts = append(wts, float64(boolInt(k == 0)))
				}
			}
			continue
		}
		nt, ti, tw := ref.ResizeTaps(n.Attrs, in[a], int(ra.Out), ra.Scale)
		if nt != taps {
			return fmt.Errorf("internal: %d taps for mode %s, want %d", nt, mode, taps)
		}
		for j := range ti {
			idx = append(idx, uint32(ti[j]))
			wts = append(wts, tw[j])
		}
	}
	layout, nhwc := LayoutNCHW, int64(0)
	if x.Layout == LayoutNHWC {
		layout, nhwc = LayoutNHWC, 1
	}
	y, err := p.newBuffer(n.Outputs[0], layout)
	if err != nil {
		return err
	}
	c := x.SampleShape[0]
	if len(y.SampleShape) != 3 || y.SampleShape[0] != c || y.SampleShape[1] != outDims[0] || y.SampleShape[2] != outDims[1] {
		return fmt.Errorf("output %s has shape %v, the resize gives %d×%d×%d", y.Name, y.SampleShape, c, outDims[0], outDims[1])
	}
	in64, wn := n.Name+"/resize_idx", n.Name+"/resize_w"
	p.e.Weights = append(p.e.Weights, &engine.Weight{Name: in64, Kind: "u32", Data: leBytes(idx)},
		&engine.Weight{Name: wn, Kind: "f64", Data: ir.AppendLE(nil, wts, 0, len(wts))})
	p.useKernel(kernels.ResizeKernel, kernels.ResizePTX())
	p.e.Steps = append(p.e.Steps, &engine.Step{Node: n.Name, Op: n.Op, Kernel: kernels.ResizeKernel, Precision: "f32",
		WorkPerSample: uint64(y.ElemsPerSample), WorkPerBlockX: kernels.OpThreads, GridY: 1, GridZ: 1, BlockX: kernels.OpThreads,
		Args: []*engine.Arg{bufArg(x), bufArg(y), weightArg(in64), weightArg(wn), perSample(y.ElemsPerSample), u32(c),
			u32(x.SampleShape[1]), u32(x.SampleShape[2]), u32(outDims[0]), u32(outDims[1]), u32(int64(taps)), u32(nhwc)},
		Note: fmt.Sprintf("%s resize in %s order, %d taps an axis", mode, layout, taps)})
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

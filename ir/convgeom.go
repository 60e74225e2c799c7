package ir

import "fmt"

// ConvGeom is the resolved geometry of a convolution or pooling window over
// the spatial dims of an N×C×D1×…×Dk input: the ONNX attributes kernel_shape,
// strides, dilations, pads and auto_pad, with defaults applied and auto_pad
// turned into explicit pads.
type ConvGeom struct {
	Kernel    []int // window size per spatial dim
	Strides   []int
	Dilations []int
	PadBegin  []int
	PadEnd    []int
	In        []int // input spatial sizes (-1 when unknown)
	Out       []int // output spatial sizes (-1 when unknown)
}

// ResolveConvGeom applies ONNX's conv/pool attribute rules to the input's
// spatial dims. kernel is the window (from kernel_shape or the weight's
// dims); ceilMode selects ceil rounding of the output size (pools).
// Symbolic or unknown spatial dims give -1 outputs.
func ResolveConvGeom(a Attrs, spatial []Dim, kernel []int, ceilMode bool) (*ConvGeom, error) {
	k := len(spatial)
	if len(kernel) != k {
		return nil, fmt.Errorf("kernel has %d dims, input has %d spatial dims", len(kernel), k)
	}
	g := &ConvGeom{Kernel: kernel, Strides: ones(k), Dilations: ones(k), PadBegin: make([]int, k), PadEnd: make([]int, k), In: make([]int, k), Out: make([]int, k)}
	if s := a.Ints("strides"); s != nil {
		if len(s) != k {
			return nil, fmt.Errorf("strides has %d values, want %d", len(s), k)
		}
		for i, v := range s {
			if v <= 0 {
				return nil, fmt.Errorf("strides %v: want positive values", s)
			}
			g.Strides[i] = int(v)
		}
	}
	if d := a.Ints("dilations"); d != nil {
		if len(d) != k {
			return nil, fmt.Errorf("dilations has %d values, want %d", len(d), k)
		}
		for i, v := range d {
			if v <= 0 {
				return nil, fmt.Errorf("dilations %v: want positive values", d)
			}
			g.Dilations[i] = int(v)
		}
	}
	for _, v := range kernel {
		if v <= 0 {
			return nil, fmt.Errorf("kernel %v: want positive sizes", kernel)
		}
	}
	autoPad := a.String("auto_pad", "NOTSET")
	if p := a.Ints("pads"); p != nil {
		if autoPad != "NOTSET" && autoPad != "" {
			return nil, fmt.Errorf("both pads and auto_pad=%s given", autoPad)
		}
		if len(p) != 2*k {
			return nil, fmt.Errorf("pads has %d values, want %d", len(p), 2*k)
		}
		for i := 0; i < k; i++ {
			if p[i] < 0 || p[i+k] < 0 {
				return nil, fmt.Errorf("pads %v: want non-negative values", p)
			}
			g.PadBegin[i], g.PadEnd[i] = int(p[i]), int(p[i+k])
		}
	}
	for i, d := range spatial {
		g.In[i] = -1
		g.Out[i] = -1
		if !d.Known() {
			continue
		}
		in := int(d.Size)
		g.In[i] = in
		eff := (kernel[i]-1)*g.Dilations[i] + 1
		switch autoPad {
		case "NOTSET", "":
		case "VALID":
			g.PadBegin[i], g.PadEnd[i] = 0, 0
		case "SAME_UPPER", "SAME_LOWER":
			out := (in + g.Strides[i] - 1) / g.Strides[i]
			total := max(0, (out-1)*g.Strides[i]+eff-in)
			small, big := total/2, total-total/2
			if autoPad == "SAME_UPPER" {
				g.PadBegin[i], g.PadEnd[i] = small, big
			} else {
				g.PadBegin[i], g.PadEnd[i] = big, small
			}
		default:
			return nil, fmt.Errorf("auto_pad %q: want NOTSET, VALID, SAME_UPPER or SAME_LOWER", autoPad)
		}
		span := in + g.PadBegin[i] + g.PadEnd[i] - eff
		if span < 0 {
			return nil, fmt.Errorf("window %d (dilated %d) is larger than the padded input %d", kernel[i], eff, in+g.PadBegin[i]+g.PadEnd[i])
		}
		out := span/g.Strides[i] + 1
		if ceilMode && span%g.Strides[i] != 0 {
			out++
			// The last window must start inside the input or its begin padding.
			if (out-1)*g.Strides[i] >= in+g.PadBegin[i] {
				out--
			}
		}
		g.Out[i] = out
	}
	return g, nil
}

func ones(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = 1
	}
	return s
}

// OutDims returns the output spatial sizes as dims (unknown where -1).
func (g *ConvGeom) OutDims() []Dim {
	d := make([]Dim, len(g.Out))
	for i, o := range g.Out {
		if o < 0 {
			d[i] = UnknownDim
		} else {
			d[i] = D(int64(o))
		}
	}
	return d
}

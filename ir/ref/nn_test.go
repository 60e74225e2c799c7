package ref

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// The NN kernels are checked against naive implementations written here
// from the ONNX operator documentation: direct loops over every output
// element in float64, with their own output-size and padding arithmetic,
// so that neither the geometry resolvers nor the GEMM are trusted.

// nnRunNode runs a one-node graph through the executor (schema inference
// and kernel both). A nil input is an absent optional input.
func nnRunNode(op string, attrs ir.Attrs, nOut int, inputs ...*ir.Tensor) ([]*ir.Tensor, error) {
	g := &ir.Graph{Name: "t"}
	node := &ir.Node{Name: "n1", Op: op, Attrs: attrs}
	var feeds []*ir.Tensor
	for i, t := range inputs {
		if t == nil {
			node.Inputs = append(node.Inputs, nil)
			continue
		}
		v := &ir.Value{Name: fmt.Sprintf("in%d", i), Type: t.Type()}
		g.Inputs = append(g.Inputs, v)
		feeds = append(feeds, t)
		node.Inputs = append(node.Inputs, v)
	}
	for i := 0; i < nOut; i++ {
		v := &ir.Value{Name: fmt.Sprintf("out%d", i)}
		node.Outputs = append(node.Outputs, v)
		g.Outputs = append(g.Outputs, v)
	}
	g.Nodes = []*ir.Node{node}
	return Run(g, feeds...)
}

func nnRandTensor(r *rand.Rand, shape ...int) *ir.Tensor {
	return ir.FromFloat32(nnRandFloats(r, ir.NumElements(shape)), shape...)
}

// nnCompare checks a tensor's shape and values against the naive result.
func nnCompare(t *testing.T, what string, got *ir.Tensor, shape []int, want []float64, tol float64) {
	t.Helper()
	if fmt.Sprint(got.Shape) != fmt.Sprint(shape) {
		t.Fatalf("%s: output shape %v, want %v", what, got.Shape, shape)
	}
	nnCheckClose(t, what, got.Float32s(), want, tol)
}

func ints64(v ...int) []int64 {
	r := make([]int64, len(v))
	for i, x := range v {
		r[i] = int64(x)
	}
	return r
}

// nnConvCase is a random convolution configuration.
type nnConvCase struct {
	n, c, m, group    int
	in, kernel        []int
	strides, dilation []int
	padB, padE        []int
	autoPad           string // "" for explicit pads
	bias              bool
}

func (cc nnConvCase) String() string {
	return fmt.Sprintf("N%d C%d M%d g%d in%v k%v s%v d%v pads%v/%v auto=%q bias=%v",
		cc.n, cc.c, cc.m, cc.group, cc.in, cc.kernel, cc.strides, cc.dilation, cc.padB, cc.padE, cc.autoPad, cc.bias)
}

func (cc nnConvCase) attrs() ir.Attrs {
	a := ir.Attrs{
		"strides":   {Kind: ir.AttrInts, Ints: ints64(cc.strides...)},
		"dilations": {Kind: ir.AttrInts, Ints: ints64(cc.dilation...)},
		"group":     {Kind: ir.AttrInt, Int: int64(cc.group)},
	}
	if cc.autoPad != "" {
		a["auto_pad"] = ir.Attr{Kind: ir.AttrString, String: cc.autoPad}
	} else {
		a["pads"] = ir.Attr{Kind: ir.AttrInts, Ints: ints64(append(append([]int{}, cc.padB...), cc.padE...)...)}
	}
	return a
}

// naiveConvGeom is the ONNX Conv output-size rule, written out again:
// SAME_* pads so that out = ceil(in/stride), the odd unit at the end for
// SAME_UPPER; out = floor((in + pads − dilated kernel)/stride) + 1.
func naiveConvGeom(cc nnConvCase) (padB, out []int) {
	k := len(cc.in)
	padB, out = make([]int, k), make([]int, k)
	for d := 0; d < k; d++ {
		eff := (cc.kernel[d]-1)*cc.dilation[d] + 1
		pb, pe := 0, 0
		switch cc.autoPad {
		case "":
			pb, pe = cc.padB[d], cc.padE[d]
		case "SAME_UPPER", "SAME_LOWER":
			o := (cc.in[d] + cc.strides[d] - 1) / cc.strides[d]
			total := (o-1)*cc.strides[d] + eff - cc.in[d]
			if total < 0 {
				total = 0
			}
			pb = total / 2
			if cc.autoPad == "SAME_LOWER" {
				pb = total - total/2
			}
			pe = total - pb
		}
		padB[d] = pb
		out[d] = (cc.in[d]+pb+pe-eff)/cc.strides[d] + 1
	}
	return padB, out
}

// nnIter calls f with every multi-index of dims in row-major order.
func nnIter(dims []int, f func(idx []int)) {
	idx := make([]int, len(dims))
	total := ir.NumElements(dims)
	for t := 0; t < total; t++ {
		f(idx)
		for d := len(dims) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < dims[d] {
				break
			}
			idx[d] = 0
		}
	}
}

// nnFlat is the row-major offset of idx in dims.
func nnFlat(dims, idx []int) int {
	off := 0
	for d := range dims {
		off = off*dims[d] + idx[d]
	}
	return off
}

// naiveConv is the direct convolution loop: for every output element, the
// sum over its group's input channels and the kernel taps that land inside
// the input.
func naiveConv(cc nnConvCase, x, w, b []float32) (shape []int, y []float64) {
	padB, out := naiveConvGeom(cc)
	cg, mg := cc.c/cc.group, cc.m/cc.group
	shape = append([]int{cc.n, cc.m}, out...)
	y = make([]float64, ir.NumElements(shape))
	pos := make([]int, len(cc.in))
	for n := 0; n < cc.n; n++ {
		for m := 0; m < cc.m; m++ {
			gi := m / mg
			nnIter(out, func(o []int) {
				var s float64
				if b != nil {
					s = float64(b[m])
				}
				for ci := 0; ci < cg; ci++ {
					c := gi*cg + ci
					nnIter(cc.kernel, func(kk []int) {
						for d := range pos {
							pos[d] = o[d]*cc.strides[d] - padB[d] + kk[d]*cc.dilation[d]
							if pos[d] < 0 || pos[d] >= cc.in[d] {
								return
							}
						}
						xv := x[(n*cc.c+c)*ir.NumElements(cc.in)+nnFlat(cc.in, pos)]
						wv := w[(m*cg+ci)*ir.NumElements(cc.kernel)+nnFlat(cc.kernel, kk)]
						s += float64(xv) * float64(wv)
					})
				}
				y[(n*cc.m+m)*ir.NumElements(out)+nnFlat(out, o)] = s
			})
		}
	}
	return shape, y
}

// nnRandConvCase draws a valid convolution with k spatial dims.
func nnRandConvCase(r *rand.Rand, k int) nnConvCase {
	cc := nnConvCase{n: 1 + r.IntN(2), group: 1 + r.IntN(3)}
	cc.c = cc.group * (1 + r.IntN(3))
	cc.m = cc.group * (1 + r.IntN(3))
	cc.bias = r.IntN(2) == 0
	maxIn := map[int]int{1: 20, 2: 11, 3: 6}[k]
	for d := 0; d < k; d++ {
		kern := 1 + r.IntN(3)
		dil := 1 + r.IntN(2)
		eff := (kern-1)*dil + 1
		in := eff + r.IntN(maxIn)
		cc.in = append(cc.in, in)
		cc.kernel = append(cc.kernel, kern)
		cc.dilation = append(cc.dilation, dil)
		cc.strides = append(cc.strides, 1+r.IntN(3))
		cc.padB = append(cc.padB, r.IntN(3))
		cc.padE = append(cc.padE, r.IntN(3))
	}
	switch r.IntN(5) {
	case 0:
		cc.autoPad = "SAME_UPPER"
	case 1:
		cc.autoPad = "SAME_LOWER"
	}
	return cc
}

// nnRandConvOperands draws a convolution's operands for cc, in this
// order: the input (n, c, in...), the weight (the two leading dims w01,
// then the kernel) and, when cc.bias, a bias of m values, whose data bd
// is (nil without one).
func nnRandConvOperands(r *rand.Rand, cc nnConvCase, w01 []int) (x, w, b *ir.Tensor, bd []float32) {
	x = nnRandTensor(r, append([]int{cc.n, cc.c}, cc.in...)...)
	w = nnRandTensor(r, append(w01, cc.kernel...)...)
	if cc.bias {
		b = nnRandTensor(r, cc.m)
		bd = b.Float32s()
	}
	return x, w, b, bd
}

func nnCheckConv(t *testing.T, r *rand.Rand, cc nnConvCase) {
	t.Helper()
	x, w, b, bd := nnRandConvOperands(r, cc, []int{cc.m, cc.c / cc.group})
	got, err := nnRunNode("Conv", cc.attrs(), 1, x, w, b)
	if err != nil {
		t.Fatalf("%v: %v", cc, err)
	}
	shape, want := naiveConv(cc, x.Float32s(), w.Float32s(), bd)
	nnCompare(t, cc.String(), got[0], shape, want, 1e-4)
}

func TestConvRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 1))
	for k := 1; k <= 3; k++ {
		for i := 0; i < 60; i++ {
			nnCheckConv(t, r, nnRandConvCase(r, k))
		}
	}
}

// TestConvPaddingHeavy draws small 2-d convolutions whose pads reach past
// the window and whose output rows are short, so that the implicit im2col
// meets runs that lie wholly in the padding on either side.
func TestConvPaddingHeavy(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	for i := 0; i < 400; i++ {
		cc := nnConvCase{n: 1, group: 1, c: 1 + r.IntN(3), m: 1 + r.IntN(9), bias: r.IntN(2) == 0}
		for d := 0; d < 2; d++ {
			cc.kernel = append(cc.kernel, 1+r.IntN(4))
			cc.dilation = append(cc.dilation, 1+r.IntN(3))
			cc.strides = append(cc.strides, 1+r.IntN(2))
			cc.padB = append(cc.padB, r.IntN(6))
			cc.padE = append(cc.padE, r.IntN(6))
			eff := (cc.kernel[d]-1)*cc.dilation[d] + 1
			cc.in = append(cc.in, max(1, eff-cc.padB[d]-cc.padE[d])+r.IntN(4))
		}
		nnCheckConv(t, r, cc)
	}
}

// TestConvDepthwiseRandom draws depthwise 2-d convolutions (one input and
// one output channel per group), which have their own direct kernel.
func TestConvDepthwiseRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 10))
	for i := 0; i < 200; i++ {
		cc := nnRandConvCase(r, 2)
		cc.group = 1 + r.IntN(5)
		cc.c, cc.m = cc.group, cc.group
		for d := 0; d < 2; d++ {
			cc.padB[d], cc.padE[d] = r.IntN(5), r.IntN(5)
		}
		nnCheckConv(t, r, cc)
	}
}

// TestConvPaths covers the kernel's special paths: 1×1 without im2col,
// depthwise, batches run side by side, and GEMMs big enough to be packed
// in several blocks and split over the cores.
func TestConvPaths(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 2))
	one := func(n int) []int { return []int{n, n} }
	cases := []nnConvCase{
		// 1×1 stride 1 unpadded: the input is used as the GEMM operand.
		{n: 2, c: 20, m: 30, group: 1, in: []int{9, 7}, kernel: one(1), strides: one(1), dilation: one(1), padB: one(0), padE: one(0), bias: true},
		// 1×1 with padding and with stride: must go through im2col.
		{n: 1, c: 5, m: 3, group: 1, in: []int{6, 6}, kernel: one(1), strides: one(1), dilation: one(1), padB: []int{1, 0}, padE: []int{0, 2}},
		{n: 1, c: 8, m: 16, group: 1, in: []int{9, 9}, kernel: one(1), strides: one(2), dilation: one(1), padB: one(0), padE: one(0)},
		// Depthwise 3×3, many groups: tasks side by side.
		{n: 1, c: 24, m: 24, group: 24, in: []int{10, 10}, kernel: one(3), strides: one(1), dilation: one(1), padB: one(1), padE: one(1), bias: true},
		// Depthwise with a channel multiplier and stride 2.
		{n: 1, c: 6, m: 12, group: 6, in: []int{11, 9}, kernel: one(3), strides: one(2), dilation: one(1), padB: one(1), padE: one(1)},
		// A layer whose GEMM has several kc blocks (K = 40·9 > 256), an
		// m edge (70 = 11·6 + 4) and an n split.
		{n: 1, c: 40, m: 70, group: 1, in: []int{20, 21}, kernel: one(3), strides: one(1), dilation: one(1), padB: one(1), padE: one(1), bias: true},
		// More output channels than output positions: im2col through a
		// buffer rather than implicit packing.
		{n: 1, c: 8, m: 64, group: 1, in: []int{5, 5}, kernel: one(3), strides: one(1), dilation: one(1), padB: one(1), padE: one(1), bias: true},
		// Batch 4: tasks side by side on two cores.
		{n: 4, c: 16, m: 16, group: 1, in: []int{8, 8}, kernel: one(3), strides: one(1), dilation: one(2), padB: one(2), padE: one(2)},
		// A 7×7/2 stem and a ResNet downsample.
		{n: 1, c: 3, m: 8, group: 1, in: []int{32, 32}, kernel: one(7), strides: one(2), dilation: one(1), padB: one(3), padE: one(3), bias: true},
		{n: 1, c: 16, m: 32, group: 1, in: []int{14, 14}, kernel: one(1), strides: one(2), dilation: one(1), padB: one(0), padE: one(0)},
		// Explicit asymmetric auto_pad variants on even and odd sizes.
		{n: 1, c: 2, m: 3, group: 1, in: []int{8, 7}, kernel: []int{4, 2}, strides: one(2), dilation: one(1), autoPad: "SAME_UPPER"},
		{n: 1, c: 2, m: 3, group: 1, in: []int{8, 7}, kernel: []int{4, 2}, strides: one(2), dilation: one(1), autoPad: "SAME_LOWER"},
		{n: 1, c: 2, m: 3, group: 1, in: []int{8, 7}, kernel: []int{4, 2}, strides: one(2), dilation: one(1), autoPad: "VALID"},
		// 3-D with groups.
		{n: 2, c: 4, m: 6, group: 2, in: []int{5, 6, 4}, kernel: []int{3, 2, 2}, strides: []int{1, 2, 1}, dilation: []int{1, 1, 2}, padB: []int{1, 0, 1}, padE: []int{0, 1, 1}, bias: true},
	}
	for _, cc := range cases {
		if cc.autoPad == "VALID" {
			cc.padB, cc.padE = make([]int, 2), make([]int, 2)
			a := cc.attrs()
			a["auto_pad"] = ir.Attr{Kind: ir.AttrString, String: "VALID"}
			delete(a, "pads")
			x, w := nnRandTensor(r, append([]int{cc.n, cc.c}, cc.in...)...), nnRandTensor(r, append([]int{cc.m, cc.c}, cc.kernel...)...)
			got, err := nnRunNode("Conv", a, 1, x, w)
			if err != nil {
				t.Fatal(err)
			}
			cc.autoPad = ""
			shape, want := naiveConv(cc, x.Float32s(), w.Float32s(), nil)
			nnCompare(t, "VALID", got[0], shape, want, 1e-4)
			continue
		}
		nnCheckConv(t, r, cc)
	}
}

// TestConvHandComputed checks one convolution worked out by hand (ONNX's
// test_basic_conv_with_padding: a 5×5 ramp and a 3×3 ones kernel).
func TestConvHandComputed(t *testing.T) {
	x := make([]float32, 25)
	for i := range x {
		x[i] = float32(i)
	}
	w := []float32{1, 1, 1, 1, 1, 1, 1, 1, 1}
	got, err := nnRunNode("Conv", ir.Attrs{"pads": {Kind: ir.AttrInts, Ints: []int64{1, 1, 1, 1}}}, 1,
		ir.FromFloat32(x, 1, 1, 5, 5), ir.FromFloat32(w, 1, 1, 3, 3))
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{12, 21, 27, 33, 24, 33, 54, 63, 72, 51, 63, 99, 108, 117, 81, 93, 144, 153, 162, 111, 72, 111, 117, 123, 84}
	if fmt.Sprint(got[0].Float32s()) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got[0].Float32s(), want)
	}
}

// TestConvOtherFloatTypes runs f16, bf16 and f64 convolutions, computed
// in float32 and rounded to the storage type.
func TestConvOtherFloatTypes(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	w := []float32{1, 0.5, 0.25, 2}
	// 2×2 valid windows: x00 + .5 x01 + .25 x10 + 2 x11.
	want := []float64{1 + 1 + 1 + 10, 2 + 1.5 + 1.25 + 12, 4 + 2.5 + 1.75 + 16, 5 + 3 + 2 + 18}
	for _, dt := range []ir.DType{ir.Float16, ir.BFloat16, ir.Float64} {
		xt, wt := ir.NewTensor(dt, 1, 1, 3, 3), ir.NewTensor(dt, 1, 1, 2, 2)
		nnFromFloat32(x, xt)
		nnFromFloat32(w, wt)
		got, err := nnRunNode("Conv", nil, 1, xt, wt)
		if err != nil {
			t.Fatalf("%v: %v", dt, err)
		}
		if got[0].DType != dt {
			t.Fatalf("%v: output is %v", dt, got[0].DType)
		}
		for i, wv := range want {
			if g := got[0].AsFloat64(i); g != wv {
				t.Fatalf("%v: element %d is %v, want %v", dt, i, g, wv)
			}
		}
	}
}

// nnConvTCase is a random transposed convolution.
type nnConvTCase struct {
	nnConvCase
	outPad   []int
	outShape []int // spatial output_shape attribute, or nil
}

// naiveConvTranspose scatters every input element through its weight
// slice: y[n, g·M/g + mo, i·s − pad + k·d] += x[n, c, i]·w[c, mo, k]. The
// output size and pads follow the ONNX ConvTranspose documentation.
func naiveConvTranspose(cc nnConvTCase, x, w, b []float32) (shape []int, y []float64) {
	k := len(cc.in)
	out, padB := make([]int, k), make([]int, k)
	for d := 0; d < k; d++ {
		full := cc.strides[d]*(cc.in[d]-1) + cc.outPad[d] + (cc.kernel[d]-1)*cc.dilation[d] + 1
		switch {
		case cc.outShape != nil:
			out[d] = cc.outShape[d]
		case cc.autoPad != "":
			out[d] = cc.in[d] * cc.strides[d]
		default:
			out[d] = full - cc.padB[d] - cc.padE[d]
			padB[d] = cc.padB[d]
		}
		if cc.outShape != nil || cc.autoPad != "" {
			total := full - out[d]
			switch {
			case total < 0:
				padB[d] = 0
			case cc.autoPad == "SAME_UPPER":
				padB[d] = total / 2
			default:
				padB[d] = total - total/2
			}
		}
	}
	cg, mg := cc.c/cc.group, cc.m/cc.group
	shape = append([]int{cc.n, cc.m}, out...)
	y = make([]float64, ir.NumElements(shape))
	outN := ir.NumElements(out)
	for n := 0; n < cc.n; n++ {
		for m := 0; m < cc.m; m++ {
			if b != nil {
				for o := 0; o < outN; o++ {
					y[(n*cc.m+m)*outN+o] = float64(b[m])
				}
			}
		}
		for c := 0; c < cc.c; c++ {
			gi := c / cg
			nnIter(cc.in, func(i []int) {
				xv := float64(x[(n*cc.c+c)*ir.NumElements(cc.in)+nnFlat(cc.in, i)])
				for mo := 0; mo < mg; mo++ {
					nnIter(cc.kernel, func(kk []int) {
						pos := make([]int, k)
						for d := range pos {
							pos[d] = i[d]*cc.strides[d] - padB[d] + kk[d]*cc.dilation[d]
							if pos[d] < 0 || pos[d] >= out[d] {
								return
							}
						}
						wv := float64(w[(c*mg+mo)*ir.NumElements(cc.kernel)+nnFlat(cc.kernel, kk)])
						y[(n*cc.m+gi*mg+mo)*outN+nnFlat(out, pos)] += xv * wv
					})
				}
			})
		}
	}
	return shape, y
}

func TestConvTransposeRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 3))
	for k := 1; k <= 3; k++ {
		for i := 0; i < 50; i++ {
			cc := nnConvTCase{nnConvCase: nnRandConvCase(r, k)}
			a := cc.attrs()
			cc.outPad = make([]int, k)
			for d := range cc.outPad {
				if r.IntN(2) == 0 {
					cc.outPad[d] = r.IntN(max(cc.strides[d], cc.dilation[d]))
				}
			}
			a["output_padding"] = ir.Attr{Kind: ir.AttrInts, Ints: ints64(cc.outPad...)}
			if cc.autoPad == "" {
				// The pads must leave a positive output.
				for d := 0; d < k; d++ {
					full := cc.strides[d]*(cc.in[d]-1) + cc.outPad[d] + (cc.kernel[d]-1)*cc.dilation[d] + 1
					for cc.padB[d]+cc.padE[d] >= full {
						cc.padB[d], cc.padE[d] = cc.padB[d]/2, cc.padE[d]/2
					}
				}
				a = cc.attrs()
				a["output_padding"] = ir.Attr{Kind: ir.AttrInts, Ints: ints64(cc.outPad...)}
				if r.IntN(3) == 0 {
					// output_shape overrides the pads; sizes a little
					// below and above the natural one.
					delete(a, "pads")
					cc.outShape = make([]int, k)
					for d := range cc.outShape {
						full := cc.strides[d]*(cc.in[d]-1) + cc.outPad[d] + (cc.kernel[d]-1)*cc.dilation[d] + 1
						cc.outShape[d] = max(1, full-2+r.IntN(4))
					}
					a["output_shape"] = ir.Attr{Kind: ir.AttrInts, Ints: ints64(cc.outShape...)}
				}
			}
			x, w, b, bd := nnRandConvOperands(r, cc.nnConvCase, []int{cc.c, cc.m / cc.group})
			what := fmt.Sprintf("%v outpad%v outshape%v", cc.nnConvCase, cc.outPad, cc.outShape)
			got, err := nnRunNode("ConvTranspose", a, 1, x, w, b)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			shape, want := naiveConvTranspose(cc, x.Float32s(), w.Float32s(), bd)
			nnCompare(t, what, got[0], shape, want, 1e-4)
		}
	}
}

// TestConvTransposeAutoPadSame is ONNX's test_convtranspose_autopad_same,
// worked by hand: SAME_UPPER with stride 2 makes a 3×3 input 6×6 and puts
// the odd unit of padding at the end, so the output is the top-left 6×6
// of the unpadded 7×7 result.
func TestConvTransposeAutoPadSame(t *testing.T) {
	x := []float32{0, 1, 2, 3, 4, 5, 6, 7, 8}
	w := make([]float32, 18)
	for i := range w {
		w[i] = 1
	}
	got, err := nnRunNode("ConvTranspose", ir.Attrs{
		"auto_pad": {Kind: ir.AttrString, String: "SAME_UPPER"},
		"strides":  {Kind: ir.AttrInts, Ints: []int64{2, 2}},
	}, 1, ir.FromFloat32(x, 1, 1, 3, 3), ir.FromFloat32(w, 1, 2, 3, 3))
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 0, 1, 1, 3, 2, 0, 0, 1, 1, 3, 2, 3, 3, 8, 5, 12, 7, 3, 3, 7, 4, 9, 5, 9, 9, 20, 11, 24, 13, 6, 6, 13, 7, 15, 8}
	if fmt.Sprint(got[0].Shape) != "[1 2 6 6]" || fmt.Sprint(got[0].Float32s()[:36]) != fmt.Sprint(want) {
		t.Fatalf("got %v %v, want [1 2 6 6] %v", got[0].Shape, got[0].Float32s()[:36], want)
	}
}

// naiveGemmOp is Y = alpha·op(A)·op(B) + beta·C with C broadcast.
func naiveGemmOp(a, b, c *ir.Tensor, ta, tb bool, alpha, beta float64) (shape []int, y []float64) {
	m, k := a.Shape[0], a.Shape[1]
	if ta {
		m, k = k, m
	}
	n := b.Shape[1]
	if tb {
		n = b.Shape[0]
	}
	y = make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				ai, bi := i*a.Shape[1]+p, p*b.Shape[1]+j
				if ta {
					ai = p*a.Shape[1] + i
				}
				if tb {
					bi = j*b.Shape[1] + p
				}
				s += a.AsFloat64(ai) * b.AsFloat64(bi)
			}
			y[i*n+j] = alpha * s
			if c != nil {
				ci, cj := i, j
				cs := c.Shape
				if len(cs) < 2 || cs[len(cs)-2] == 1 {
					ci = 0
				}
				if len(cs) == 0 || cs[len(cs)-1] == 1 {
					cj = 0
				}
				cn := 1
				if len(cs) > 0 {
					cn = cs[len(cs)-1]
				}
				y[i*n+j] += beta * c.AsFloat64(ci*cn+cj)
			}
		}
	}
	return []int{m, n}, y
}

func TestGemm(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 4))
	for _, dims := range [][3]int{{3, 4, 5}, {1, 1000, 512}, {37, 29, 300}, {64, 10, 9}} {
		m, n, k := dims[0], dims[1], dims[2]
		for _, cshape := range [][]int{nil, {}, {1}, {n}, {m, 1}, {1, n}, {m, n}} {
			for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
				as, bs := []int{m, k}, []int{k, n}
				if tr[0] {
					as = []int{k, m}
				}
				if tr[1] {
					bs = []int{n, k}
				}
				a, b := nnRandTensor(r, as...), nnRandTensor(r, bs...)
				var c *ir.Tensor
				if cshape != nil {
					c = nnRandTensor(r, cshape...)
				}
				attrs := ir.Attrs{"alpha": {Kind: ir.AttrFloat, Float: 0.5}, "beta": {Kind: ir.AttrFloat, Float: -2}}
				if tr[0] {
					attrs["transA"] = ir.Attr{Kind: ir.AttrInt, Int: 1}
				}
				if tr[1] {
					attrs["transB"] = ir.Attr{Kind: ir.AttrInt, Int: 1}
				}
				got, err := nnRunNode("Gemm", attrs, 1, a, b, c)
				if err != nil {
					t.Fatal(err)
				}
				shape, want := naiveGemmOp(a, b, c, tr[0], tr[1], 0.5, -2)
				nnCompare(t, fmt.Sprintf("gemm %v C%v trans%v", dims, cshape, tr), got[0], shape, want, 1e-4)
			}
		}
	}
}

func TestGemmIntegerAndF64(t *testing.T) {
	a := ir.FromInt64([]int64{1, 2, 3, 4, 5, 6}, 2, 3)
	b := ir.FromInt64([]int64{1, 0, -1, 2, 3, 1}, 3, 2)
	c := ir.FromInt64([]int64{100, 200}, 2)
	got, err := nnRunNode("Gemm", nil, 1, a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	// [1 2 3]·B = [1-2+9, 0+4+3] = [8, 7]; [4 5 6]·B = [4-5+18, 10+6] = [17, 16].
	if fmt.Sprint(got[0].Int64s()) != "[108 207 117 216]" {
		t.Fatalf("got %v, want [108 207 117 216]", got[0].Int64s())
	}
	// The same product with both operands stored transposed.
	at := ir.FromInt64([]int64{1, 4, 2, 5, 3, 6}, 3, 2)
	bt := ir.FromInt64([]int64{1, -1, 3, 0, 2, 1}, 2, 3)
	got, err = nnRunNode("Gemm", ir.Attrs{"transA": {Kind: ir.AttrInt, Int: 1}, "transB": {Kind: ir.AttrInt, Int: 1}}, 1, at, bt, c)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got[0].Int64s()) != "[108 207 117 216]" {
		t.Fatalf("transposed: got %v, want [108 207 117 216]", got[0].Int64s())
	}
	a64 := &ir.Tensor{DType: ir.Float64, Shape: []int{1, 2}, Data: []float64{1e-10, 1}}
	b64 := &ir.Tensor{DType: ir.Float64, Shape: []int{2, 1}, Data: []float64{1, 1}}
	got, err = nnRunNode("Gemm", nil, 1, a64, b64)
	if err != nil {
		t.Fatal(err)
	}
	// 1 + 1e-10 is not representable in float32: f64 is computed in f64.
	if v := got[0].Data.([]float64)[0]; v != 1+1e-10 {
		t.Fatalf("f64 gemm gave %v, want %v", v, 1+1e-10)
	}
}

// naiveMatMul follows numpy.matmul: 1-d operands promoted, batch dims
// broadcast, each output batch index reading its operands' matrices.
func naiveMatMul(a, b *ir.Tensor) (shape []int, y []float64) {
	sa, sb := a.Shape, b.Shape
	pa, pb := sa, sb
	if len(sa) == 1 {
		pa = []int{1, sa[0]}
	}
	if len(sb) == 1 {
		pb = []int{sb[0], 1}
	}
	m, k, n := pa[len(pa)-2], pa[len(pa)-1], pb[len(pb)-1]
	ba, bb := pa[:len(pa)-2], pb[:len(pb)-2]
	r := max(len(ba), len(bb))
	batch := make([]int, r)
	dimOf := func(s []int, d int) int {
		if i := d - (r - len(s)); i >= 0 {
			return s[i]
		}
		return 1
	}
	for d := 0; d < r; d++ {
		batch[d] = max(dimOf(ba, d), dimOf(bb, d))
	}
	outShape := append([]int{}, batch...)
	if len(sa) > 1 {
		outShape = append(outShape, m)
	}
	if len(sb) > 1 {
		outShape = append(outShape, n)
	}
	y = make([]float64, ir.NumElements(batch)*m*n)
	t := 0
	nnIter(batch, func(idx []int) {
		ia, ib := make([]int, len(ba)), make([]int, len(bb))
		for d := 0; d < r; d++ {
			if i := d - (r - len(ba)); i >= 0 && ba[i] > 1 {
				ia[i] = idx[d]
			}
			if i := d - (r - len(bb)); i >= 0 && bb[i] > 1 {
				ib[i] = idx[d]
			}
		}
		oa, ob := nnFlat(ba, ia)*m*k, nnFlat(bb, ib)*k*n
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for p := 0; p < k; p++ {
					s += a.AsFloat64(oa+i*k+p) * b.AsFloat64(ob+p*n+j)
				}
				y[t*m*n+i*n+j] = s
			}
		}
		t++
	})
	return outShape, y
}

func TestMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 5))
	cases := [][2][]int{
		{{3}, {3}},
		{{4}, {4, 5}},
		{{2, 4}, {4}},
		{{3, 4}, {4, 5}},
		{{2, 3, 4}, {4, 5}},         // stacked into one GEMM
		{{4, 5}, {3, 5, 6}},         // A broadcast over B's batch
		{{2, 1, 3, 4}, {5, 4, 2}},   // both broadcast
		{{1, 3, 4}, {2, 1, 4, 6}},   // rank differs, size-1 dims
		{{6, 50, 70}, {6, 70, 40}},  // batched, side by side
		{{3, 200, 300}, {300, 100}}, // stacked, big enough to pack and split
		{{2, 2, 8, 300}, {2, 1, 300, 3}},
		{{5}, {2, 5, 3}},
		{{2, 3, 5}, {5}},
	}
	for _, c := range cases {
		a, b := nnRandTensor(r, c[0]...), nnRandTensor(r, c[1]...)
		got, err := nnRunNode("MatMul", nil, 1, a, b)
		if err != nil {
			t.Fatalf("%v×%v: %v", c[0], c[1], err)
		}
		shape, want := naiveMatMul(a, b)
		nnCompare(t, fmt.Sprintf("%v×%v", c[0], c[1]), got[0], shape, want, 1e-4)
	}
	// Integers wrap in their own type.
	a := &ir.Tensor{DType: ir.Int32, Shape: []int{1, 2}, Data: []int32{math.MaxInt32, 1}}
	b := &ir.Tensor{DType: ir.Int32, Shape: []int{2, 1}, Data: []int32{1, 1}}
	got, err := nnRunNode("MatMul", nil, 1, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if v := got[0].Int32s()[0]; v != math.MinInt32 {
		t.Fatalf("int32 matmul gave %d, want the wrapped %d", v, math.MinInt32)
	}
}

// nnPoolCase is a random pooling configuration.
type nnPoolCase struct {
	nnConvCase
	ceil, includePad, colMajor bool
}

// naivePoolOut is the ONNX pool output size: floor or ceil of
// (in + pads − dilated kernel)/stride, plus one, where in ceil mode the
// last window must start inside the input or its begin padding.
func naivePoolOut(pc nnPoolCase) (padB, padE, out []int) {
	k := len(pc.in)
	padB, padE, out = make([]int, k), make([]int, k), make([]int, k)
	for d := 0; d < k; d++ {
		eff := (pc.kernel[d]-1)*pc.dilation[d] + 1
		switch pc.autoPad {
		case "":
			padB[d], padE[d] = pc.padB[d], pc.padE[d]
		default:
			o := (pc.in[d] + pc.strides[d] - 1) / pc.strides[d]
			total := max(0, (o-1)*pc.strides[d]+eff-pc.in[d])
			padB[d] = total / 2
			if pc.autoPad == "SAME_LOWER" {
				padB[d] = total - total/2
			}
			padE[d] = total - padB[d]
		}
		span := pc.in[d] + padB[d] + padE[d] - eff
		if pc.ceil {
			out[d] = int(math.Ceil(float64(span)/float64(pc.strides[d]))) + 1
			if (out[d]-1)*pc.strides[d] >= pc.in[d]+padB[d] {
				out[d]--
			}
		} else {
			out[d] = span/pc.strides[d] + 1
		}
	}
	return
}

func (pc nnPoolCase) attrs(avg bool) ir.Attrs {
	a := pc.nnConvCase.attrs()
	delete(a, "group")
	a["kernel_shape"] = ir.Attr{Kind: ir.AttrInts, Ints: ints64(pc.kernel...)}
	if pc.ceil {
		a["ceil_mode"] = ir.Attr{Kind: ir.AttrInt, Int: 1}
	}
	if avg && pc.includePad {
		a["count_include_pad"] = ir.Attr{Kind: ir.AttrInt, Int: 1}
	}
	if !avg && pc.colMajor {
		a["storage_order"] = ir.Attr{Kind: ir.AttrInt, Int: 1}
	}
	return a
}

// naivePool computes MaxPool's values and indices and AveragePool's
// values directly.
func naivePool(pc nnPoolCase, x []float32) (shape []int, maxv, avg []float64, idx []int64) {
	padB, padE, out := naivePoolOut(pc)
	k := len(pc.in)
	shape = append([]int{pc.n, pc.c}, out...)
	total := ir.NumElements(shape)
	maxv, avg, idx = make([]float64, total), make([]float64, total), make([]int64, total)
	inN, outN := ir.NumElements(pc.in), ir.NumElements(out)
	pos := make([]int, k)
	for p := 0; p < pc.n*pc.c; p++ {
		nnIter(out, func(o []int) {
			best, at, sum, inside, padded := math.Inf(-1), -1, 0.0, 0, 0
			nnIter(pc.kernel, func(kk []int) {
				in, inPad := true, true
				for d := 0; d < k; d++ {
					pos[d] = o[d]*pc.strides[d] - padB[d] + kk[d]*pc.dilation[d]
					if pos[d] < 0 || pos[d] >= pc.in[d] {
						in = false
					}
					if pos[d] < -padB[d] || pos[d] >= pc.in[d]+padE[d] {
						inPad = false
					}
				}
				if inPad {
					padded++
				}
				if !in {
					return
				}
				inside++
				v := float64(x[p*inN+nnFlat(pc.in, pos)])
				sum += v
				if at < 0 || v > best {
					best = v
					at = nnFlat(pc.in, pos)
					if pc.colMajor {
						at, mul := 0, 1
						for d := 0; d < k; d++ {
							at += pos[d] * mul
							mul *= pc.in[d]
						}
						idx[p*outN+nnFlat(out, o)] = int64(p*inN + at)
					} else {
						idx[p*outN+nnFlat(out, o)] = int64(p*inN + at)
					}
				}
			})
			i := p*outN + nnFlat(out, o)
			maxv[i] = best
			if pc.includePad {
				avg[i] = sum / float64(padded)
			} else {
				avg[i] = sum / float64(inside)
			}
		})
	}
	return shape, maxv, avg, idx
}

func TestPoolRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 6))
	for k := 1; k <= 3; k++ {
		for i := 0; i < 80; i++ {
			pc := nnPoolCase{nnConvCase: nnRandConvCase(r, k), ceil: r.IntN(2) == 0, includePad: r.IntN(2) == 0, colMajor: r.IntN(2) == 0}
			pc.group = 1
			for d := 0; d < k; d++ {
				// Pads smaller than the window, as ONNX requires, so
				// every window holds at least one input element.
				pc.padB[d] = min(pc.padB[d], pc.kernel[d]-1)
				pc.padE[d] = min(pc.padE[d], pc.kernel[d]-1)
			}
			x := nnRandTensor(r, append([]int{pc.n, pc.c}, pc.in...)...)
			shape, maxv, avg, idx := naivePool(pc, x.Float32s())
			got, err := nnRunNode("MaxPool", pc.attrs(false), 2, x)
			if err != nil {
				t.Fatalf("%v: %v", pc, err)
			}
			nnCompare(t, "maxpool "+pc.String(), got[0], shape, maxv, 0)
			if fmt.Sprint(got[1].Int64s()) != fmt.Sprint(idx) {
				t.Fatalf("maxpool %v colmajor=%v: indices %v, want %v", pc, pc.colMajor, got[1].Int64s(), idx)
			}
			got, err = nnRunNode("AveragePool", pc.attrs(true), 1, x)
			if err != nil {
				t.Fatalf("%v: %v", pc, err)
			}
			nnCompare(t, fmt.Sprintf("averagepool %v ceil=%v incl=%v", pc, pc.ceil, pc.includePad), got[0], shape, avg, 1e-5)
		}
	}
}

// TestMaxPoolHandComputed is ONNX's test_maxpool_with_argmax_2d_precomputed_strides
// (column-major indices) and a uint8 pool.
func TestMaxPoolHandComputed(t *testing.T) {
	x := make([]float32, 25)
	for i := range x {
		x[i] = float32(i + 1)
	}
	got, err := nnRunNode("MaxPool", ir.Attrs{
		"kernel_shape":  {Kind: ir.AttrInts, Ints: []int64{2, 2}},
		"strides":       {Kind: ir.AttrInts, Ints: []int64{2, 2}},
		"storage_order": {Kind: ir.AttrInt, Int: 1},
	}, 2, ir.FromFloat32(x, 1, 1, 5, 5))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got[0].Float32s(), got[1].Int64s()) != "[7 9 17 19] [6 16 8 18]" {
		t.Fatalf("got %v %v, want [7 9 17 19] [6 16 8 18]", got[0].Float32s(), got[1].Int64s())
	}
	u := &ir.Tensor{DType: ir.Uint8, Shape: []int{1, 1, 2, 3}, Data: []uint8{0, 255, 3, 7, 1, 200}}
	got, err = nnRunNode("MaxPool", ir.Attrs{
		"kernel_shape": {Kind: ir.AttrInts, Ints: []int64{2, 2}},
		"pads":         {Kind: ir.AttrInts, Ints: []int64{0, 0, 0, 1}},
		"strides":      {Kind: ir.AttrInts, Ints: []int64{1, 2}},
	}, 1, u)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].DType != ir.Uint8 || fmt.Sprint(got[0].Uint8s()) != "[255 200]" {
		t.Fatalf("got %v %v, want u8 [255 200]", got[0].DType, got[0].Data)
	}
	// int8: the padding never wins, even against -128.
	i8 := &ir.Tensor{DType: ir.Int8, Shape: []int{1, 1, 1, 2}, Data: []int8{-128, -128}}
	got, err = nnRunNode("MaxPool", ir.Attrs{
		"kernel_shape": {Kind: ir.AttrInts, Ints: []int64{1, 2}},
		"pads":         {Kind: ir.AttrInts, Ints: []int64{0, 1, 0, 1}},
	}, 2, i8)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got[0].Int8s(), got[1].Int64s()) != "[-128 -128 -128] [0 0 1]" {
		t.Fatalf("got %v %v, want [-128 -128 -128] [0 0 1]", got[0].Int8s(), got[1].Int64s())
	}
}

// TestAveragePoolCeilHandComputed is ONNX's test_averagepool_2d_ceil: a
// 4×4 ramp, 3×3 windows, stride 2, ceil mode; the edge windows are cut by
// the input and divide by what they cover.
func TestAveragePoolCeilHandComputed(t *testing.T) {
	x := make([]float32, 16)
	for i := range x {
		x[i] = float32(i + 1)
	}
	got, err := nnRunNode("AveragePool", ir.Attrs{
		"kernel_shape": {Kind: ir.AttrInts, Ints: []int64{3, 3}},
		"strides":      {Kind: ir.AttrInts, Ints: []int64{2, 2}},
		"ceil_mode":    {Kind: ir.AttrInt, Int: 1},
	}, 1, ir.FromFloat32(x, 1, 1, 4, 4))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got[0].Float32s()) != "[6 7.5 12 13.5]" {
		t.Fatalf("got %v, want [6 7.5 12 13.5]", got[0].Float32s())
	}
}

func TestGlobalPools(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, shape := range [][]int{{2, 3, 5}, {1, 4, 7, 7}, {2, 2, 3, 4, 5}} {
		x := nnRandTensor(r, shape...)
		planes, inN := shape[0]*shape[1], ir.NumElements(shape[2:])
		mean, mx := make([]float64, planes), make([]float64, planes)
		for p := 0; p < planes; p++ {
			mx[p] = math.Inf(-1)
			for _, v := range x.Float32s()[p*inN : (p+1)*inN] {
				mean[p] += float64(v) / float64(inN)
				mx[p] = math.Max(mx[p], float64(v))
			}
		}
		outShape := []int{shape[0], shape[1]}
		for range shape[2:] {
			outShape = append(outShape, 1)
		}
		got, err := nnRunNode("GlobalAveragePool", nil, 1, x)
		if err != nil {
			t.Fatal(err)
		}
		nnCompare(t, "globalaveragepool", got[0], outShape, mean, 1e-6)
		got, err = nnRunNode("GlobalMaxPool", nil, 1, x)
		if err != nil {
			t.Fatal(err)
		}
		nnCompare(t, "globalmaxpool", got[0], outShape, mx, 0)
	}
}

// TestMaxPoolNaN checks that a NaN in a window is its maximum.
func TestMaxPoolNaN(t *testing.T) {
	nan := float32(math.NaN())
	x := ir.FromFloat32([]float32{1, nan, 3, 2}, 1, 1, 4)
	got, err := nnRunNode("MaxPool", ir.Attrs{"kernel_shape": {Kind: ir.AttrInts, Ints: []int64{2}}}, 1, x)
	if err != nil {
		t.Fatal(err)
	}
	y := got[0].Float32s()
	if !math.IsNaN(float64(y[0])) || !math.IsNaN(float64(y[1])) || y[2] != 3 {
		t.Fatalf("got %v, want [NaN NaN 3]", y)
	}
	got, err = nnRunNode("GlobalMaxPool", nil, 1, x)
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(float64(got[0].Float32s()[0])) {
		t.Fatalf("global max of %v is %v, want NaN", x.Float32s(), got[0].Float32s())
	}
}

func TestBatchNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, shape := range [][]int{{2, 3}, {2, 4, 5}, {1, 3, 4, 4}, {2, 2, 2, 3, 2}} {
		c := shape[1]
		x := nnRandTensor(r, shape...)
		scale, bias, mean := nnRandTensor(r, c), nnRandTensor(r, c), nnRandTensor(r, c)
		variance := ir.NewTensor(ir.Float32, c)
		for i := range variance.Float32s() {
			variance.Float32s()[i] = float32(r.Float64() * 3)
		}
		eps := 1e-2
		got, err := nnRunNode("BatchNormalization", ir.Attrs{"epsilon": {Kind: ir.AttrFloat, Float: float32(eps)}}, 1, x, scale, bias, mean, variance)
		if err != nil {
			t.Fatal(err)
		}
		inner := ir.NumElements(shape[2:])
		want := make([]float64, x.Len())
		for i := range want {
			ch := i / inner % c
			want[i] = (float64(x.Float32s()[i])-float64(mean.Float32s()[ch]))/math.Sqrt(float64(variance.Float32s()[ch])+float64(float32(eps)))*float64(scale.Float32s()[ch]) + float64(bias.Float32s()[ch])
		}
		nnCompare(t, fmt.Sprint("batchnorm ", shape), got[0], shape, want, 1e-5)
	}
}

// TestNNOtherFloatTypes runs each op on f16, bf16 and f64 tensors and
// checks the result is the float32 result on the same values, rounded to
// the storage type: the reference computes these types in float32.
func TestNNOtherFloatTypes(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	ia := func(v ...int64) ir.Attr { return ir.Attr{Kind: ir.AttrInts, Ints: v} }
	cases := []struct {
		op     string
		attrs  ir.Attrs
		nOut   int
		shapes [][]int
	}{
		{"Conv", ir.Attrs{"pads": ia(1, 1, 1, 1), "group": {Kind: ir.AttrInt, Int: 2}}, 1, [][]int{{1, 4, 5, 5}, {6, 2, 3, 3}, {6}}},
		{"ConvTranspose", ir.Attrs{"strides": ia(2, 2)}, 1, [][]int{{1, 3, 4, 4}, {3, 2, 3, 3}, {2}}},
		{"Gemm", ir.Attrs{"transB": {Kind: ir.AttrInt, Int: 1}, "alpha": {Kind: ir.AttrFloat, Float: 0.5}}, 1, [][]int{{3, 40}, {20, 40}, {20}}},
		{"MatMul", nil, 1, [][]int{{2, 3, 40}, {40, 5}}},
		{"MaxPool", ir.Attrs{"kernel_shape": ia(3, 3), "pads": ia(1, 1, 1, 1)}, 2, [][]int{{2, 3, 6, 6}}},
		{"AveragePool", ir.Attrs{"kernel_shape": ia(2, 3), "strides": ia(2, 2)}, 1, [][]int{{1, 2, 7, 7}}},
		{"GlobalAveragePool", nil, 1, [][]int{{2, 3, 9, 9}}},
		{"GlobalMaxPool", nil, 1, [][]int{{2, 3, 4}}},
		{"BatchNormalization", nil, 1, [][]int{{2, 3, 4, 4}, {3}, {3}, {3}, {3}}},
	}
	for _, c := range cases {
		for _, dt := range []ir.DType{ir.Float16, ir.BFloat16, ir.Float64} {
			var in, in32 []*ir.Tensor
			for i, s := range c.shapes {
				x := ir.NewTensor(dt, s...)
				v := nnRandFloats(r, x.Len())
				if c.op == "BatchNormalization" && i == 4 {
					for j := range v {
						v[j] = v[j] * v[j] // a variance
					}
				}
				nnFromFloat32(v, x)
				in = append(in, x)
				in32 = append(in32, nnToFloat32(x))
			}
			got, err := nnRunNode(c.op, c.attrs, c.nOut, in...)
			if err != nil {
				t.Fatalf("%s %v: %v", c.op, dt, err)
			}
			want, err := nnRunNode(c.op, c.attrs, c.nOut, in32...)
			if err != nil {
				t.Fatalf("%s f32: %v", c.op, err)
			}
			if got[0].DType != dt {
				t.Fatalf("%s %v: output is %v", c.op, dt, got[0].DType)
			}
			if dt == ir.Float64 && (c.op == "Gemm" || c.op == "MatMul") {
				// Computed in float64, not float32.
				want64 := make([]float64, want[0].Len())
				for i := range want64 {
					want64[i] = float64(want[0].Float32s()[i])
				}
				nnCheckClose(t, c.op+" f64", nnToFloat32(got[0]).Float32s(), want64, 1e-5)
				continue
			}
			rounded := ir.NewTensor(dt, want[0].Shape...)
			nnFromFloat32(want[0].Float32s(), rounded)
			if fmt.Sprint(got[0].Shape, got[0].Data) != fmt.Sprint(rounded.Shape, rounded.Data) {
				t.Fatalf("%s %v: got %v, want %v", c.op, dt, got[0].Data, rounded.Data)
			}
			if c.nOut > 1 && fmt.Sprint(got[1].Data) != fmt.Sprint(want[1].Data) {
				t.Fatalf("%s %v: indices %v, want %v", c.op, dt, got[1].Data, want[1].Data)
			}
		}
	}
}

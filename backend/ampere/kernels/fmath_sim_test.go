package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/ir/sqir"
)

// The float kernels run in the per-thread PTX interpreter
// (threadsim_test.go) against the reference executor itself, on random
// inputs of several scales and on edge values: the outputs must be the
// same bits (NaN matching NaN).

// edgeF32s are values at the edges of the functions' ranges and of
// float32's.
var edgeF32s = []float32{0, float32(math.Copysign(0, -1)), 1, -1, 0.5, -0.5, 3, -3, 6, -6, 2.5, -2.5, 0.75, 1.5,
	0.7499999, 2.4999998, 22, -22, 40, -40, 88.7, 88.8, -87.3, -103.9, -104, 1e-3, -1e-3, 1e-8, -1e-8, 1e-30,
	1e-45, -1e-45, 1.2e-38, 1e4, -1e4, 1e30, -1e30, math.MaxFloat32, -math.MaxFloat32,
	float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}

// randomF32s returns n values: the edges, then normal values of the given
// scales, and a few huge and tiny magnitudes.
func randomF32s(r *rand.Rand, n int, scales ...float64) []float32 {
	v := append([]float32(nil), edgeF32s...)
	for len(v) < n {
		s := scales[len(v)%len(scales)]
		switch len(v) % 17 {
		case 0:
			v = append(v, float32(r.NormFloat64()*1e20))
		case 1:
			v = append(v, float32(r.NormFloat64()*1e-20))
		default:
			v = append(v, float32(r.NormFloat64()*s))
		}
	}
	return v[:n]
}

// sameF32s compares bit for bit, any NaN equal to any NaN, and reports up
// to three differences.
func sameF32s(t *testing.T, what string, got, want []float32, in func(i int) string) {
	t.Helper()
	bad := 0
	for i := range want {
		g, w := got[i], want[i]
		if math.Float32bits(g) == math.Float32bits(w) || (g != g && w != w) {
			continue
		}
		if bad < 3 {
			t.Errorf("%s [%d] (%s): %v (%#08x), reference %v (%#08x)", what, i, in(i), g, math.Float32bits(g), w, math.Float32bits(w))
		}
		bad++
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d differ", what, bad, len(want))
	}
}

// refGraph runs a one-node graph on the reference executor: body is the
// node's line (the input is %x, the output %y of the input's shape) after
// any const lines.
func refGraph(t *testing.T, shape []int, x []float32, body string) []float32 {
	t.Helper()
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	ty := "f32[" + strings.Join(dims, ",") + "]"
	text := fmt.Sprintf("graph \"g\" (%%x: %s) -> (%%y) {\n%s\n}", ty, strings.ReplaceAll(body, "TY", ty))
	g, err := sqir.ParseAndVerify("g", []byte(text))
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	in := ir.NewTensor(ir.Float32, shape...)
	copy(in.Float32s(), x)
	out, err := ref.Run(g, in)
	if err != nil {
		t.Fatal(err)
	}
	return out[0].Float32s()
}

// runF32Kernel runs a kernel's PTX on f32 buffers: args are the buffers
// (nil for the output, of n elements) then the scalar parameters.
func runF32Kernel(t *testing.T, text string, threads int, out int, bufs [][]float32, scalars ...uint64) []float32 {
	t.Helper()
	k, err := parseThreads(text)
	if err != nil {
		t.Fatal(err)
	}
	m := newTMachine()
	var args []uint64
	var y []byte
	for _, b := range bufs {
		if b == nil {
			y = make([]byte, 4*out)
			args = append(args, m.buffer(y))
			continue
		}
		args = append(args, m.buffer(f32Buffer(b)))
	}
	args = append(args, scalars...)
	if err := m.runThreads(k, args, threads); err != nil {
		t.Fatal(err)
	}
	return f32sFrom(y)
}

func f32bits(v float32) uint64 { return uint64(math.Float32bits(v)) }

// rowThreads is the thread count of a row kernel's launch over rows rows,
// perBlock a block (whole blocks).
func rowThreads(rows, perBlock int) int { return (rows + perBlock - 1) / perBlock * RowThreads }

// TestSoftmaxKernelsExact runs Softmax and LogSoftmax rows (ViT's 197,
// Swin's 49, short rows, one element, rows longer than a warp's slots) of
// random scores, scores of large magnitude, rows with -inf masks (Swin's
// shifted windows), a fully masked row, a row with a NaN and one of signed
// zeros, over more rows than a block holds.
func TestSoftmaxKernelsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, size := range []int{1, 7, 49, 64, 197, 300, 600} {
		rows := 37 // past a block of either kernel, the last warp straddling the end
		x := make([]float32, rows*size)
		for i := range x {
			x[i] = float32(r.NormFloat64() * 4)
		}
		row := func(k int) []float32 { return x[k*size : (k+1)*size] }
		for i, v := range row(1) {
			row(1)[i] = v * 1e4 // large scores: exp underflows to 0 but at the max
		}
		for i := range row(2) {
			if i%3 == 1 {
				row(2)[i] = float32(math.Inf(-1)) // masked
			}
		}
		for i := range row(3) {
			row(3)[i] = float32(math.Inf(-1)) // fully masked: NaN
		}
		row(4)[size/2] = float32(math.NaN())
		for i := range row(5) {
			row(5)[i] = 3 // ties
		}
		for i, v := range row(6) {
			row(6)[i] = v * 1e-30
		}
		row(7)[0] = float32(math.Inf(1))
		for i := range row(8) {
			row(8)[i] = float32(math.Copysign(0, float64(i%3-1))) // -0, +0, +0, -0, ...
			if i%5 == 4 {
				row(8)[i] = -60
			}
		}
		// The maximum first, then terms each below half an ulp of 1: in
		// index order every one is lost (the sum is 1, LogSoftmax of the
		// maximum is 0); summed in any other order they would count.
		for i := range row(9) {
			row(9)[i] = -37.5
		}
		row(9)[0] = 0
		for _, variant := range []struct {
			name, op string
			perBlock int
		}{{SoftmaxKernel, "Softmax", SoftmaxRowsPerBlock}, {LogSoftmaxKernel, "LogSoftmax", SoftmaxRowsPerBlock},
			{SoftmaxShortKernel, "Softmax", SoftmaxShortRowsPerBlock}, {LogSoftmaxShortKernel, "LogSoftmax", SoftmaxShortRowsPerBlock}} {
			name, op, perBlock := variant.name, variant.op, variant.perBlock
			if perBlock == SoftmaxShortRowsPerBlock && size > SoftmaxShortMax {
				continue
			}
			t.Run(fmt.Sprintf("%s/%d", name, size), func(t *testing.T) {
				text, err := OpPTX(name)
				if err != nil {
					t.Fatal(err)
				}
				want := refGraph(t, []int{rows, size}, x, "%y: TY = "+op+` "sm" (%x) {axis = -1}`)
				got := runF32Kernel(t, text, rowThreads(rows, perBlock), len(x), [][]float32{x, nil}, uint64(rows), uint64(size))
				sameF32s(t, op, got, want, func(i int) string { return fmt.Sprintf("row %d, x %v", i/size, x[i]) })
			})
		}
	}
}

// unaryCases are the unary kernel's ops with the graph that computes each
// on the reference, and the kernel's alpha and beta.
var unaryCases = []struct {
	op          int
	node        string
	alpha, beta float32
	scales      []float64
}{
	{UNeg, `Neg "n" (%x)`, 0, 0, []float64{3}},
	{UAbs, `Abs "n" (%x)`, 0, 0, []float64{3}},
	{UFloor, `Floor "n" (%x)`, 0, 0, []float64{3, 1e7}},
	{UCeil, `Ceil "n" (%x)`, 0, 0, []float64{3, 1e7}},
	{URound, `Round "n" (%x)`, 0, 0, []float64{3, 1e7}},
	{USqrt, `Sqrt "n" (%x)`, 0, 0, []float64{3, 1e10}},
	{URecip, `Reciprocal "n" (%x)`, 0, 0, []float64{3, 1e-30}},
	{USquare, `Pow "n" (%x, %e) CONST[2]`, 0, 0, []float64{3, 1e20}},
	{UExp, `Exp "n" (%x)`, 0, 0, []float64{3, 30, 100}},
	{ULog, `Log "n" (%x)`, 0, 0, []float64{3, 1e-30, 1e30}},
	{UErf, `Erf "n" (%x)`, 0, 0, []float64{1, 2, 4}},
	{UElu, `Elu "n" (%x) {alpha = 0.7}`, 0.7, 0, []float64{1, 10, 1e-6}},
	{USelu, `Selu "n" (%x) {alpha = 1.6732632, gamma = 1.050701}`, 1.6732632, 1.050701, []float64{1, 10}},
	{USoftplus, `Softplus "n" (%x)`, 0, 0, []float64{1, 30, 100}},
	{UMish, `Mish "n" (%x)`, 0, 0, []float64{1, 10, 60}},
	{UGelu, `Gelu "n" (%x)`, 0, 0, []float64{1, 3, 6}},
	{UGeluTanh, `Gelu "n" (%x) {approximate = "tanh"}`, 0, 0, []float64{1, 3, 6}},
	{UHardSigmoid, `HardSigmoid "n" (%x) {alpha = 0.25, beta = 0.375}`, 0.25, 0.375, []float64{1, 5}},
	{UHardSwish, `HardSwish "n" (%x)`, 0, 0, []float64{1, 5}},
	{UCube, `Pow "n" (%x, %e) CONST[3]`, 0, 0, []float64{3, 1e10}},
	{UPowHalf, `Pow "n" (%x, %e) CONST[0.5]`, 0, 0, []float64{3, 1e10}},
	{UGeluChain, `CHAIN`, 1.4142135, 0.5, []float64{1, 3, 6, 1e-3, 1e30}},
}

// geluChainBody is torch's GELU export, the five nodes UGeluChain runs.
const geluChainBody = `const %c1: f32[] = [1.4142135]
const %one: f32[] = [1]
const %c3: f32[] = [0.5]
%d: TY = Div "d" (%x, %c1)
%e: TY = Erf "e" (%d)
%a: TY = Add "a" (%e, %one)
%g: TY = Mul "g" (%x, %a)
%y: TY = Mul "n" (%g, %c3)`

// TestUnaryKernelExact runs every op of the unary kernel against the
// reference's node on 20,000 values of several scales and the edges.
func TestUnaryKernelExact(t *testing.T) {
	if len(unaryCases) != numUnary {
		t.Fatalf("%d unary cases for %d ops", len(unaryCases), numUnary)
	}
	text := UnaryPTX()
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for _, c := range unaryCases {
		t.Run(strings.Fields(c.node)[0]+strconv.Itoa(c.op), func(t *testing.T) {
			x := randomF32s(rand.New(rand.NewPCG(uint64(c.op), 5)), n, c.scales...)
			body := "%y: TY = " + c.node
			if i := strings.Index(body, " CONST["); i >= 0 {
				v := strings.TrimSuffix(body[i+len(" CONST["):], "]")
				body = "const %e: f32[] = [" + v + "]\n" + body[:i]
			}
			if c.node == "CHAIN" {
				body = geluChainBody
			}
			want := refGraph(t, []int{n}, x, body)
			got := runF32Kernel(t, text, n, n, [][]float32{x, nil}, uint64(n), uint64(c.op), f32bits(c.alpha), f32bits(c.beta))
			sameF32s(t, c.node, got, want, func(i int) string { return fmt.Sprintf("x %v", x[i]) })
		})
	}
}

// TestEltwiseSigmoidTanhExact runs the elementwise kernel's Sigmoid and
// Tanh against the reference's.
func TestEltwiseSigmoidTanhExact(t *testing.T) {
	text := EltwisePTX()
	n := 20000
	for _, c := range []struct {
		op   int
		name string
	}{{EltSigmoid, "Sigmoid"}, {EltTanh, "Tanh"}} {
		t.Run(c.name, func(t *testing.T) {
			x := randomF32s(rand.New(rand.NewPCG(uint64(c.op), 9)), n, 1, 5, 30)
			want := refGraph(t, []int{n}, x, "%y: TY = "+c.name+` "n" (%x)`)
			got := runF32Kernel(t, text, n, n, [][]float32{x, x, nil}, uint64(n), uint64(c.op), EltNoB, 1, 1, 0, 0, 0, 0)
			sameF32s(t, c.name, got, want, func(i int) string { return fmt.Sprintf("x %v", x[i]) })
		})
	}
}

// TestReduceKernelExact reduces the middle axis of [3, K, 5] and the last
// axis of [4, K] with every op of the reduction kernel (ReduceMean as the
// reference's, op RMean, which the planner does not use yet).
func TestReduceKernelExact(t *testing.T) {
	text := ReducePTX()
	r := rand.New(rand.NewPCG(21, 22))
	for _, c := range []struct {
		op   int
		name string
	}{{RMax, "ReduceMax"}, {RMin, "ReduceMin"}, {RSum, "ReduceSum"}, {RMean, "ReduceMean"}, {RSumSquare, "ReduceSumSquare"}, {RL1, "ReduceL1"}, {RL2, "ReduceL2"}} {
		for _, k := range []int{1, 13, 768} {
			for _, shape := range [][]int{{3, k, 5}, {4, k}} {
				t.Run(fmt.Sprintf("%s/%v", c.name, shape), func(t *testing.T) {
					outer, inner := shape[0], 1
					axis := 1
					if len(shape) == 3 {
						inner = shape[2]
					}
					x := make([]float32, outer*k*inner)
					for i := range x {
						x[i] = float32(r.NormFloat64() * math.Pow(10, float64(i%7-3)))
					}
					outShape := append([]int(nil), shape...)
					outShape[axis] = 1
					dims := make([]string, len(outShape))
					for i, d := range outShape {
						dims[i] = strconv.Itoa(d)
					}
					body := fmt.Sprintf("const %%ax: i64[1] = [1]\n%%y: f32[%s] = %s \"r\" (%%x, %%ax)", strings.Join(dims, ","), c.name)
					want := refGraph(t, shape, x, body)
					total := outer * inner
					got := runF32Kernel(t, text, total, total, [][]float32{x, nil}, uint64(total), uint64(c.op), uint64(k), uint64(inner), uint64(total), uint64(len(x)))
					sameF32s(t, c.name, got, want, func(i int) string { return fmt.Sprintf("output %d", i) })
				})
			}
		}
	}
}

// TestLayerNormKernelExact runs LayerNormalization over ViT's 768-wide
// rows, Swin's 96, short rows, one element and rows longer than a warp's
// slots, with scale and bias, over more rows than a block holds, against
// the reference; and InstanceNormalization (one scale and bias a channel).
func TestLayerNormKernelExact(t *testing.T) {
	text := LayerNormPTX()
	r := rand.New(rand.NewPCG(31, 32))
	for _, size := range []int{1, 5, 96, 300, 768} {
		rows := 37 // two blocks of 32 rows, the last warp straddling the end
		x := make([]float32, rows*size)
		for i := range x {
			x[i] = float32(r.NormFloat64()*2 + float64(i/size)*100) // rows with large means
		}
		if size >= 8 {
			// 1e17, -1e17, then ones: values that cancel, and a mean that
			// depends on the order of the sum (1e17 absorbs the ones it
			// meets); the standard deviation this row gets hides that
			// from the f32 outputs, so this checks the extremes only.
			for i := 0; i < size; i++ {
				x[9*size+i] = 1
			}
			x[9*size], x[9*size+1] = 1e17, -1e17
		}
		scale, bias := make([]float32, size), make([]float32, size)
		var sc, bs []string
		for i := range scale {
			scale[i], bias[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
			sc = append(sc, strconv.FormatFloat(float64(scale[i]), 'g', -1, 32))
			bs = append(bs, strconv.FormatFloat(float64(bias[i]), 'g', -1, 32))
		}
		body := fmt.Sprintf("const %%s: f32[%d] = [%s]\nconst %%b: f32[%d] = [%s]\n%%y: TY = LayerNormalization \"ln\" (%%x, %%s, %%b) {epsilon = 0.000001}",
			size, strings.Join(sc, ", "), size, strings.Join(bs, ", "))
		want := refGraph(t, []int{rows, size}, x, body)
		got := runF32Kernel(t, text, rowThreads(rows, NormRowsPerBlock), len(x), [][]float32{x, nil, scale, bias}, uint64(rows), uint64(size), 1, 1, 1, uint64(size), f32bits(1e-6))
		sameF32s(t, fmt.Sprintf("LayerNormalization/%d", size), got, want, func(i int) string { return fmt.Sprintf("row %d", i/size) })
	}
	// InstanceNormalization of 2×3×5×7: rows of 35, channel c = (o / 35) % 3.
	n, c, hw := 2, 3, 35
	x := simRandFloats(r, n*c*hw)
	scale, bias := []float32{0.5, -2, 3}, []float32{1, 0.25, -7}
	body := "const %s: f32[3] = [0.5, -2, 3]\nconst %b: f32[3] = [1, 0.25, -7]\n%y: TY = InstanceNormalization \"in\" (%x, %s, %b) {epsilon = 0.00001}"
	want := refGraph(t, []int{n, c, 5, 7}, x, body)
	got := runF32Kernel(t, text, rowThreads(n*c, NormRowsPerBlock), len(x), [][]float32{x, nil, scale, bias}, uint64(n*c), uint64(hw), 1, 1, uint64(hw), uint64(c), f32bits(1e-5))
	sameF32s(t, "InstanceNormalization", got, want, func(i int) string { return fmt.Sprintf("row %d", i/hw) })
}

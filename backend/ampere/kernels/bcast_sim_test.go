package kernels

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// bcastCase is one broadcast: the output's dims (BcastRank, innermost
// last), each operand's strides along them and between samples.
type bcastCase struct {
	name     string
	dims     []int
	strides  [2][]int
	samples  [2]int
	operands [2]int // elements a sample (a constant's: all of it)
}

// bcastRef is ir/ref's broadcasting op on element i, rounded as the
// kernels round: every operation to f32, NaN-keeping min and max.
func bcastRef(op int, x, y float32) float32 {
	switch op {
	case BAdd:
		return x + y
	case BSub:
		return x - y
	case BMul:
		return x * y
	case BDiv:
		return x / y
	case BMin:
		return min(x, y)
	case BMax:
		return max(x, y)
	}
	return max(x, 0) + float32(min(x, 0)*y)
}

// bcastRun runs a broadcasting kernel's text on c over batch samples in
// the thread interpreter (which faults misaligned 16-byte accesses) and
// returns y.
func bcastRun(text string, groups int, c bcastCase, op, batch int, a, b []float32) ([]float32, error) {
	k, err := parseThreads(text)
	if err != nil {
		return nil, err
	}
	per := 1
	for _, d := range c.dims {
		per *= d
	}
	m := newTMachine()
	y := make([]byte, 4*batch*per)
	args := []uint64{m.buffer(f32Buffer(a)), m.buffer(f32Buffer(b)), m.buffer(y)}
	for _, v := range []int{groups, op, per, c.samples[0], c.samples[1]} {
		args = append(args, uint64(v))
	}
	for _, d := range c.dims {
		args = append(args, uint64(d))
	}
	for _, st := range c.strides {
		for _, s := range st {
			args = append(args, uint64(s))
		}
	}
	if err := m.runThreads(k, args, groups); err != nil {
		return nil, err
	}
	return f32sFrom(y), nil
}

// TestBcast4Simulated runs BcastKernel and Bcast4Kernel in the thread
// interpreter on ragged
// broadcasts, every op, over specials (NaN, infinities, ±0), and
// requires the four-a-thread kernel to equal the one-a-thread kernel bit
// for bit and both the reference (bit for bit but NaNs); Bcast4Fits must
// refuse shapes whose groups of four would straddle a row or misalign.
func TestBcast4Simulated(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	const batch = 3
	cases := []bcastCase{
		// A channels-last activation plus a per-channel constant, over
		// more than one block of groups.
		{name: "nhwc+c", dims: []int{1, 1, 3, 7, 8}, strides: [2][]int{{0, 0, 56, 8, 1}, {0, 0, 0, 0, 1}}, samples: [2]int{168, 0}, operands: [2]int{168, 8}},
		// Two computed operands, the second fixed along the rows (one
		// scalar load for four) with an odd sample size.
		{name: "rows", dims: []int{1, 2, 1, 3, 12}, strides: [2][]int{{0, 36, 0, 12, 1}, {0, 3, 0, 1, 0}}, samples: [2]int{72, 6}, operands: [2]int{72, 6}},
		// The first operand a constant row, the second computed.
		{name: "const-a", dims: []int{1, 1, 1, 5, 4}, strides: [2][]int{{0, 0, 0, 0, 1}, {0, 0, 0, 4, 1}}, samples: [2]int{0, 20}, operands: [2]int{4, 20}},
	}
	r := rand.New(rand.NewPCG(61, 62))
	value := func() float32 {
		switch r.IntN(10) {
		case 0:
			return []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 0}[r.IntN(5)]
		case 1:
			return float32(r.IntN(5) - 2)
		}
		return float32(r.NormFloat64() * 3)
	}
	for _, c := range cases {
		var dims []int64
		var strides [2][]int64
		for _, d := range c.dims {
			dims = append(dims, int64(d))
		}
		for i, st := range c.strides {
			for _, s := range st {
				strides[i] = append(strides[i], int64(s))
			}
		}
		if !Bcast4Fits(dims, strides, [2]int64{int64(c.samples[0]), int64(c.samples[1])}) {
			t.Fatalf("%s: Bcast4Fits refuses", c.name)
		}
		per := 1
		for _, d := range c.dims {
			per *= d
		}
		var ops [2][]float32
		for i := range ops {
			n := c.operands[i]
			if c.samples[i] != 0 {
				n = batch * c.samples[i]
			}
			for range n {
				ops[i] = append(ops[i], value())
			}
		}
		for op := 0; op < numBinary; op++ {
			want := make([]float32, batch*per)
			for i := range want {
				n, rest := i/per, i%per
				ao, bo := n*c.samples[0], n*c.samples[1]
				for d := BcastRank - 1; d >= 0; d-- {
					idx := rest % c.dims[d]
					rest /= c.dims[d]
					ao += idx * c.strides[0][d]
					bo += idx * c.strides[1][d]
				}
				want[i] = bcastRef(op, ops[0][ao], ops[1][bo])
			}
			one, err := bcastRun(BcastPTX(BcastKernel), batch*per, c, op, batch, ops[0], ops[1])
			if err != nil {
				t.Fatalf("%s %s op %d: %v", c.name, BcastKernel, op, err)
			}
			four, err := bcastRun(BcastPTX(Bcast4Kernel), batch*per/4, c, op, batch, ops[0], ops[1])
			if err != nil {
				t.Fatalf("%s %s op %d: %v", c.name, Bcast4Kernel, op, err)
			}
			for i := range want {
				// The hardware's NaN is canonical where Go keeps an
				// operand's: any NaN for a NaN against the reference,
				// but the two kernels' bits the same.
				if g, w := one[i], want[i]; math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
					t.Fatalf("%s %s op %d: element %d is %v, want %v", c.name, BcastKernel, op, i, g, w)
				}
				if math.Float32bits(four[i]) != math.Float32bits(one[i]) {
					t.Fatalf("%s op %d: element %d is %#x four a thread, %#x one a thread", c.name, op, i, math.Float32bits(four[i]), math.Float32bits(one[i]))
				}
			}
		}
	}
	// Refused: a row of 6 (groups would straddle rows), a contiguous
	// operand whose outer stride or sample stride is not a multiple of
	// 4, an operand strided along the row.
	for _, c := range []struct {
		dims    []int64
		strides [2][]int64
		samples [2]int64
	}{
		{[]int64{1, 1, 1, 2, 6}, [2][]int64{{0, 0, 0, 6, 1}, {0, 0, 0, 0, 1}}, [2]int64{12, 0}},
		{[]int64{1, 1, 1, 2, 4}, [2][]int64{{0, 0, 0, 6, 1}, {0, 0, 0, 0, 0}}, [2]int64{12, 0}},
		{[]int64{1, 1, 1, 2, 4}, [2][]int64{{0, 0, 0, 4, 1}, {0, 0, 0, 0, 1}}, [2]int64{8, 2}},
		{[]int64{1, 1, 1, 2, 4}, [2][]int64{{0, 0, 0, 1, 2}, {0, 0, 0, 0, 0}}, [2]int64{8, 0}},
	} {
		if Bcast4Fits(c.dims, c.strides, c.samples) {
			t.Errorf("Bcast4Fits accepts %v %v %v", c.dims, c.strides, c.samples)
		}
	}
}

// TestBcast4Mutation requires TestBcast4Simulated's check to catch a
// broken four-a-thread kernel: one that loads an operand fixed along the
// row as four (no scalar branch) reads its neighbours, not its own value.
func TestBcast4Mutation(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	text := BcastPTX(Bcast4Kernel)
	broken := strings.Replace(text, "@%p2 bra $L_one1;", "", 1)
	if broken == text {
		t.Fatal("the mutation found nothing to change")
	}
	c := bcastCase{dims: []int{1, 1, 1, 2, 4}, strides: [2][]int{{0, 0, 0, 4, 1}, {0, 0, 0, 4, 0}}, samples: [2]int{8, 8}, operands: [2]int{8, 8}}
	a, b := make([]float32, 8), make([]float32, 8)
	for i := range a {
		a[i], b[i] = float32(i), float32(10*i)
	}
	for _, m := range []string{text, broken} {
		got, err := bcastRun(m, 2, c, BAdd, 1, a, b)
		ok := err == nil && got[1] == 1 && got[5] == 5+40
		if ok != (m == text) {
			t.Errorf("mutated %v: result %v, %v", m != text, got, err)
		}
	}
}

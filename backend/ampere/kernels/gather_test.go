package kernels

import (
	"math"
	"strings"
	"testing"
)

// TestGatherPTXLint lints both gather kernels: every parameter declared,
// ASCII only, the table read as (source, destination) pairs and the copy
// at the element's width.
func TestGatherPTXLint(t *testing.T) {
	for name, width := range map[string]string{Gather8Kernel: "u8", Gather32Kernel: "b32", Gather32x4Kernel: "v4.b32", Gather8x4Kernel: "b32"} {
		text := GatherPTX(name)
		lintPTX(t, name, text)
		if !strings.Contains(text, ".visible .entry "+name+"(") {
			t.Errorf("%s: entry not named %s", name, name)
		}
		for _, w := range []string{"ld.global.v2.u32", "ld.global." + width, "st.global." + width, "mul.wide.u32"} {
			if !strings.Contains(text, w) {
				t.Errorf("%s: no %s", name, w)
			}
		}
		if n := strings.Count(text, ".param "); n != len(GatherParams) {
			t.Errorf("%s: %d params declared, want %d", name, n, len(GatherParams))
		}
		for i, c := range text {
			if c > 127 {
				t.Fatalf("%s: non-ASCII at byte %d", name, i)
			}
		}
	}
}

// TestGather4Simulated runs Gather32Kernel and Gather32x4Kernel in the PTX
// interpreter on a table of runs (a transpose's: runs of 8 elements from
// a 6×8 block of each of 3 blocks, a period of 2 runs with strides) over
// 3 samples, and requires both outputs to be the table's copy, every
// element moved once, the bits unchanged.
func TestGather4Simulated(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	const batch, runs, run, period = 3, 12, 8, 2
	const dsrc, ddst, inPer, outPer = 20, 16, 260, 100
	tab := []uint32{4, 0, 128, 8}
	if !Gather4Fits(tab, run, dsrc, ddst, inPer, outPer) || Gather4Fits([]uint32{4, 0, 130, 8}, run, dsrc, ddst, inPer, outPer) ||
		Gather4Fits(tab, 6, dsrc, ddst, inPer, outPer) {
		t.Fatal("Gather4Fits: wrong verdict")
	}
	x := make([]float32, batch*inPer)
	for i := range x {
		x[i] = math.Float32frombits(uint32(0x3f800000 + i)) // distinct bits
	}
	tabF := make([]float32, len(tab))
	for i, v := range tab {
		tabF[i] = math.Float32frombits(v)
	}
	want := make([]float32, batch*outPer)
	for n := 0; n < batch; n++ {
		for e := 0; e < runs; e++ {
			q, r := e/period, e%period
			for j := 0; j < run; j++ {
				want[n*outPer+int(tab[2*r+1])+q*ddst+j] = x[n*inPer+int(tab[2*r])+q*dsrc+j]
			}
		}
	}
	for name, total := range map[string]int{Gather32Kernel: batch * runs * run, Gather32x4Kernel: batch * runs * run / 4} {
		// (Gather8x4Kernel below.)
		out, err := simRunOp(GatherPTX(name), total, x, make([]float32, batch*outPer), tabF, total, runs, run, period, dsrc, ddst, inPer, outPer)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range want {
			if math.Float32bits(out[1][i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: element %d is %#x, want %#x", name, i, math.Float32bits(out[1][i]), math.Float32bits(want[i]))
			}
		}
	}
}

// TestGather8x4Simulated runs Gather8Kernel and Gather8x4Kernel on the
// same table over bytes (the four-a-thread form copying words) and
// requires the table's copy from both.
func TestGather8x4Simulated(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	const batch, runs, run, period = 2, 12, 8, 2
	const dsrc, ddst, inPer, outPer = 20, 16, 260, 100
	tab := []uint32{4, 0, 128, 8}
	x := make([]byte, batch*inPer)
	for i := range x {
		x[i] = byte(7*i + 3)
	}
	want := make([]byte, batch*outPer)
	for n := 0; n < batch; n++ {
		for e := 0; e < runs; e++ {
			q, r := e/period, e%period
			for j := 0; j < run; j++ {
				want[n*outPer+int(tab[2*r+1])+q*ddst+j] = x[n*inPer+int(tab[2*r])+q*dsrc+j]
			}
		}
	}
	tabF := make([]float32, len(tab))
	for i, v := range tab {
		tabF[i] = math.Float32frombits(v)
	}
	xF := f32sFrom(x) // bytes as words: the interpreter's buffers
	for name, total := range map[string]int{Gather8Kernel: batch * runs * run, Gather8x4Kernel: batch * runs * run / 4} {
		out, err := simRunOp(GatherPTX(name), total, xF, make([]float32, batch*outPer/4), tabF, total, runs, run, period, dsrc, ddst, inPer, outPer)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := f32Buffer(out[1]); string(got) != string(want) {
			t.Fatalf("%s: the copy differs from the table's", name)
		}
	}
}

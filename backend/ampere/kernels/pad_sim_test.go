package kernels

import (
	"strings"
	"testing"
)

// padRef is the constant Pad of batch samples of bytes, elements of size
// bytes: output element (o1, o2, o3) is input (o1-P1, o2-P2, o3-P3) when
// inside, else value's low size bytes.
func padRef(x []byte, batch, size int, out, in, lead [3]int, value uint32) []byte {
	oPer, iPer := out[0]*out[1]*out[2], in[0]*in[1]*in[2]
	y := make([]byte, batch*oPer*size)
	for n := 0; n < batch; n++ {
		for o := 0; o < oPer; o++ {
			o1, o2, o3 := o/(out[1]*out[2]), o/out[2]%out[1], o%out[2]
			i1, i2, i3 := o1-lead[0], o2-lead[1], o3-lead[2]
			dst := y[(n*oPer+o)*size:][:size]
			if i1 < 0 || i1 >= in[0] || i2 < 0 || i2 >= in[1] || i3 < 0 || i3 >= in[2] {
				for j := range dst {
					dst[j] = byte(value >> (8 * j))
				}
				continue
			}
			copy(dst, x[(n*iPer+(i1*in[1]+i2)*in[2]+i3)*size:][:size])
		}
	}
	return y
}

// runPad runs a pad kernel's text in the PTX interpreter (which faults a
// misaligned access) over threads threads and returns y's bytes.
func runPad(text string, threads int, x []byte, batch, size int, out, in, lead [3]int, value uint32) ([]byte, error) {
	y := make([]float32, batch*out[0]*out[1]*out[2]*size/4)
	args := []any{f32sFrom(x), y, threads}
	for _, d := range [][3]int{out, in, lead} {
		args = append(args, d[0], d[1], d[2])
	}
	args = append(args, int(value))
	res, err := simRunOp(text, threads, args...)
	if err != nil {
		return nil, err
	}
	return f32Buffer(res[1]), nil
}

// TestPad4Simulated runs the pad kernels one and four elements a thread on
// ragged pads of bytes and of 32-bit elements (padding on every side, the
// innermost pads multiples of 4, over more than one block of groups) and
// requires both to equal the reference's bytes; Pad4Fits must refuse a
// group that would straddle the input's edge.
func TestPad4Simulated(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	for _, c := range []struct {
		one           string
		size, batch   int
		out, in, lead [3]int
		value         uint32
	}{
		{Pad32Kernel, 4, 3, [3]int{4, 9, 16}, [3]int{2, 6, 8}, [3]int{1, 2, 4}, 0xbf800000},
		{Pad8Kernel, 1, 2, [3]int{3, 5, 12}, [3]int{2, 3, 4}, [3]int{0, 1, 8}, 0xfb},
		{Pad8Kernel, 1, 5, [3]int{2, 9, 24}, [3]int{1, 7, 16}, [3]int{1, 1, 4}, 0x03},
	} {
		if !Pad4Fits([3]int64{int64(c.out[0]), int64(c.out[1]), int64(c.out[2])}, [3]int64{int64(c.in[0]), int64(c.in[1]), int64(c.in[2])}, [3]int64{int64(c.lead[0]), int64(c.lead[1]), int64(c.lead[2])}) {
			t.Fatalf("%s: Pad4Fits refuses %v %v %v", c.one, c.out, c.in, c.lead)
		}
		x := make([]byte, c.batch*c.in[0]*c.in[1]*c.in[2]*c.size)
		for i := range x {
			x[i] = byte(11*i + 5)
		}
		want := padRef(x, c.batch, c.size, c.out, c.in, c.lead, c.value)
		elems := c.batch * c.out[0] * c.out[1] * c.out[2]
		for name, threads := range map[string]int{c.one: elems, Pad4Of(c.one): elems / 4} {
			got, err := runPad(mustOp(t, name), threads, x, c.batch, c.size, c.out, c.in, c.lead, c.value)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if string(got) != string(want) {
				t.Fatalf("%s on %v from %v: the bytes differ from the reference's", name, c.out, c.in)
			}
		}
	}
	for _, d := range [][3][3]int64{
		{{1, 2, 10}, {1, 2, 8}, {0, 0, 2}}, // the input starts mid-group
		{{1, 2, 8}, {1, 2, 6}, {0, 0, 0}},  // and ends mid-group
		{{1, 2, 6}, {1, 2, 4}, {0, 0, 0}},  // rows of 6
	} {
		if Pad4Fits(d[0], d[1], d[2]) {
			t.Errorf("Pad4Fits accepts %v", d)
		}
	}
	// The byte kernel's pad word must hold the value four times: one that
	// writes it once is caught.
	text := mustOp(t, Pad8x4Kernel)
	broken := strings.Replace(text, "mul.lo.u32 %r30, %r10, 16843009;", "mov.u32 %r30, %r10;", 1)
	if broken == text {
		t.Fatal("the mutation found nothing to change")
	}
	out, in, lead := [3]int{1, 2, 8}, [3]int{1, 1, 4}, [3]int{0, 1, 4}
	x := []byte{1, 2, 3, 4}
	got, err := runPad(broken, 4, x, 1, 1, out, in, lead, 0xfb)
	if err == nil && string(got) == string(padRef(x, 1, 1, out, in, lead, 0xfb)) {
		t.Error("a pad word with the value once passes")
	}
}

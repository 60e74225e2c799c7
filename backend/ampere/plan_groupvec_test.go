package ampere

import (
	"encoding/binary"
	"math"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
)

func init() {
	for _, c := range kernels.QGroupVecVariants() {
		kernelModels[c.Name()] = groupVecModel(c)
	}
}

// groupVecModel models a vectorized grouped-convolution variant as its
// PTX computes (kernels/qgroupvec.go): thread i takes output channels
// q·V..q·V+V−1 of pixel i / (M/V); every tap reads the input's four-byte
// words (the zx word on a padding tap) and adds their dp4a with the
// packed weight words to the folded bias; then qdwconv.go's epilogue.
// The packing, the folded bias and the zx word are the planner's, so a
// simulation equal to the reference checks them.
func groupVecModel(c kernels.QGroupVec) func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, weights map[string][]byte) {
	return func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, weights map[string][]byte) {
		x, w, bb := buf(s.Args[0]).Int8s(), weights[s.Args[1].GetWeight()], weights[s.Args[2].GetWeight()]
		mult := f32sOf(weights[s.Args[3].GetWeight()])
		a := func(i int) int { return int(s.Args[i].GetU32()) }
		ch, h, wd, m, oh, ow, kh, kw := a(7), a(8), a(9), a(10), a(11), a(12), a(13), a(14)
		sh, sw, ph, pw, dh, dw, cg, mg, hasres := a(15), a(16), a(17), a(18), a(19), a(20), a(21), a(22), a(23)
		word := func(b []byte, at int) uint32 { return binary.LittleEndian.Uint32(b[at:]) }
		// The input word at x[at]: four bytes, or (V = 2) two
		// zero-extended, as the kernel's u16 load.
		xword := func(at int) uint32 {
			var u uint32
			for k := 0; k < min(c.V, 4); k++ {
				u |= uint32(uint8(x[at+k])) << (8 * k)
			}
			return u
		}
		zxArg, mrArg := 24, 29 // the f32 variants' act comes first, their mr before lo and hi
		if c.OutF32 {
			zxArg, mrArg = 25, 27
		}
		zxw, zr, mr := uint32(s.Args[zxArg].GetS32()), s.Args[zxArg+1].GetS32(), s.Args[mrArg].GetF32()
		var r []int8
		if hasres == 1 {
			r = buf(s.Args[4]).Int8s()
		}
		v, chunks := c.V, max(cg/4, 1)
		elems := m * oh * ow * len(x) / (ch * h * wd)
		values := make([]float32, elems)
		for i := 0; i < elems/v; i++ {
			q, pix := i%(m/v), i/(m/v)
			ox, oy, n := pix%ow, pix/ow%oh, pix/ow/oh
			m0 := q * v
			c0 := m0
			if !c.Depthwise {
				c0 = m0 / mg * cg
			}
			acc := make([]int32, v)
			for o := range acc {
				acc[o] = int32(word(bb, 4*(m0+o)))
			}
			for t := 0; t < kh*kw; t++ {
				ih, iw := oy*sh-ph+t/kw*dh, ox*sw-pw+t%kw*dw
				inside := ih >= 0 && ih < h && iw >= 0 && iw < wd
				for j := 0; j < chunks; j++ {
					wat := ((t*chunks+j)*m + m0) * 4
					for o := 0; o < v; o++ {
						xw := zxw
						if inside {
							at := ((n*h+ih)*wd+iw)*ch + c0 + 4*j
							if c.Depthwise {
								at += o / 4 * 4
							}
							xw = xword(at)
						}
						acc[o] += dp4a(xw, word(w, wat+4*o))
					}
				}
			}
			for o, sum := range acc {
				e := i*v + o
				val := float32(float32(sum) * mult[m0+o])
				if r != nil {
					val = float32(val + float32(float32(int32(r[e])-zr)*mr))
				}
				values[e] = val
			}
		}
		if c.OutF32 {
			y := buf(s.Args[5]).Float32s()
			act, lo, hi := s.Args[24].GetU32(), s.Args[28].GetF32(), s.Args[29].GetF32()
			for e, val := range values {
				switch act {
				case kernels.QGroupActRelu:
					val = max(val, 0)
				case kernels.QGroupActClip:
					val = min(max(val, lo), hi)
				}
				y[e] = val
			}
			return
		}
		y := buf(s.Args[5]).Int8s()
		qlo, qhi, zy := s.Args[26].GetS32(), s.Args[27].GetS32(), s.Args[28].GetS32()
		for e, val := range values {
			y[e] = int8(min(max(int32(math.RoundToEven(float64(val))), qlo), qhi) + zy)
		}
	}
}

// dp4a is PTX's dp4a.s32.s32 without the addend: the sum of the four
// signed byte products.
func dp4a(a, b uint32) int32 {
	var s int32
	for k := 0; k < 32; k += 8 {
		s += int32(int8(a>>k)) * int32(int8(b>>k))
	}
	return s
}

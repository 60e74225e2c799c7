package ref

// Index helpers for the kernels that are not on a network's hot path
// (comparisons, Where, Pow, Expand, Tile, the index-moving layout ops):
// they visit every output element with the offsets of its inputs, and move
// elements of any dtype by their width. The hot binary ops (Add, Mul ...)
// keep their merged-dims plan in elementwise.go.

import (
	"github.com/sqc-project/sqc/ir"
)

// broadcastStrides returns the element strides of an input of shape in
// along the dims of out, aligned at the end: 0 where in is broadcast.
func broadcastStrides(in, out []int) []int {
	st := make([]int, len(out))
	acc := 1
	for i := len(out) - 1; i >= 0; i-- {
		j := i - (len(out) - len(in))
		if j < 0 {
			continue
		}
		if in[j] != 1 {
			st[i] = acc
		}
		acc *= in[j]
	}
	return st
}

// forEachBroadcast calls f for every element o of a tensor of shape out, in
// order, with offs[k] the offset of the element of input k (of the given
// strides) that broadcasts to it.
func forEachBroadcast(out []int, strides [][]int, f func(o int, offs []int)) {
	n := ir.NumElements(out)
	if n == 0 {
		return
	}
	r := len(out)
	idx := make([]int, r)
	offs := make([]int, len(strides))
	for o := 0; o < n; o++ {
		f(o, offs)
		for d := r - 1; d >= 0; d-- {
			idx[d]++
			for k, s := range strides {
				offs[k] += s[d]
			}
			if idx[d] < out[d] {
				break
			}
			for k, s := range strides {
				offs[k] -= s[d] * out[d]
			}
			idx[d] = 0
		}
	}
}

// gatherElements sets element o of y to element src(o) of x, for every o;
// x and y have the same dtype. It works on the storage words, so every
// dtype moves exactly.
func gatherElements(y, x *ir.Tensor, src func(o int) int) {
	switch x.DType.Size() {
	case 1:
		gatherWords(words[uint8](y), words[uint8](x), src)
	case 2:
		gatherWords(words[uint16](y), words[uint16](x), src)
	case 4:
		gatherWords(words[uint32](y), words[uint32](x), src)
	case 8:
		gatherWords(words[uint64](y), words[uint64](x), src)
	}
}

func gatherWords[W uint8 | uint16 | uint32 | uint64](dst, src []W, at func(o int) int) {
	for o := range dst {
		dst[o] = src[at(o)]
	}
}

// broadcastInto copies x into y, broadcasting x's shape to y's.
func broadcastInto(y, x *ir.Tensor) {
	st := broadcastStrides(x.Shape, y.Shape)
	offsets := make([]int, y.Len())
	forEachBroadcast(y.Shape, [][]int{st}, func(o int, offs []int) { offsets[o] = offs[0] })
	gatherElements(y, x, func(o int) int { return offsets[o] })
}

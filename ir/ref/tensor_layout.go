package ref

// Kernels of the data-movement ops that rearrange elements: Transpose,
// Concat, Split, Slice, Gather and Pad. They are dtype-generic: contiguous
// runs move as bytes, single elements as words of the element's width.

import (
	"fmt"
	"sort"

	"github.com/sqc-project/sqc/ir"
)

func init() {
	register("Transpose", transposeKernel)
	register("Concat", concatKernel)
	register("Split", splitKernel)
	register("Slice", sliceKernel)
	register("Gather", gatherKernel)
	register("Pad", padKernel)
}

// parallelGrain is the number of elements below which a data-movement loop
// is not worth spreading over goroutines.
const parallelGrain = 1 << 15

func transposeKernel(n *ir.Node, in, out []*ir.Tensor) error {
	x, y := in[0], out[0]
	perm, err := ir.ResolvePerm(n.Attrs, len(x.Shape))
	if err != nil {
		return err
	}
	if x.Len() == 0 {
		return nil
	}
	dims, p := collapseTranspose(x.Shape, perm)
	identity := true
	for i, v := range p {
		identity = identity && v == i
	}
	if identity {
		copy(rawBytes(y), rawBytes(x))
		return nil
	}
	switch x.DType.Size() {
	case 1:
		transposeWords(words[uint8](y), words[uint8](x), dims, p)
	case 2:
		transposeWords(words[uint16](y), words[uint16](x), dims, p)
	case 4:
		transposeWords(words[uint32](y), words[uint32](x), dims, p)
	case 8:
		transposeWords(words[uint64](y), words[uint64](x), dims, p)
	}
	return nil
}

// collapseTranspose simplifies a transpose: input dims of size 1 go, and
// input axes that stay adjacent and in order in the output merge into one
// (NCHW to NHWC becomes [N, C, H*W] with perm [0 2 1]). It returns the
// merged input dims and the permutation over them.
func collapseTranspose(shape, perm []int) ([]int, []int) {
	renum := make([]int, len(shape))
	var dims []int
	for a, d := range shape {
		renum[a] = -1
		if d != 1 {
			renum[a] = len(dims)
			dims = append(dims, d)
		}
	}
	var p []int
	for _, a := range perm {
		if renum[a] >= 0 {
			p = append(p, renum[a])
		}
	}
	// Runs of consecutive input axes in output order become groups.
	type group struct{ first, last int }
	var groups []group
	for i, a := range p {
		if i > 0 && a == p[i-1]+1 {
			groups[len(groups)-1].last = a
			continue
		}
		groups = append(groups, group{a, a})
	}
	order := make([]int, len(groups)) // groups sorted by input position
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool { return groups[order[i]].first < groups[order[j]].first })
	merged := make([]int, len(groups))
	newPerm := make([]int, len(groups))
	for rank, g := range order {
		size := 1
		for a := groups[g].first; a <= groups[g].last; a++ {
			size *= dims[a]
		}
		merged[rank] = size
		newPerm[g] = rank
	}
	return merged, newPerm
}

// transposeWords writes dst (in output order) from src of dims under perm.
// Rows of the output's last axis are spread over the cores.
func transposeWords[W any](dst, src []W, dims, perm []int) {
	k := len(dims)
	inStrides := ir.Strides(dims)
	outDims := make([]int, k)
	strides := make([]int, k) // input stride of each output axis
	for i, a := range perm {
		outDims[i] = dims[a]
		strides[i] = inStrides[a]
	}
	inner := outDims[k-1]
	innerStride := strides[k-1]
	rows := len(dst) / inner
	parallelFor(rows, max(1, parallelGrain/inner), func(lo, hi int) {
		idx := make([]int, k-1)
		rem := lo
		for d := k - 2; d >= 0; d-- {
			idx[d] = rem % outDims[d]
			rem /= outDims[d]
		}
		for r := lo; r < hi; r++ {
			off := 0
			for d := 0; d < k-1; d++ {
				off += idx[d] * strides[d]
			}
			row := dst[r*inner : (r+1)*inner]
			for j := range row {
				row[j] = src[off+j*innerStride]
			}
			for d := k - 2; d >= 0; d-- {
				if idx[d]++; idx[d] < outDims[d] {
					break
				}
				idx[d] = 0
			}
		}
	})
}

func concatKernel(n *ir.Node, in, out []*ir.Tensor) error {
	y := out[0]
	axis, err := ir.NormAxis(n.Attrs.Int("axis", 0), len(y.Shape))
	if err != nil {
		return err
	}
	es := y.DType.Size()
	inner := ir.NumElements(y.Shape[axis+1:]) * es
	outer := ir.NumElements(y.Shape[:axis])
	dst := rawBytes(y)
	srcs := make([][]byte, len(in))
	chunks := make([]int, len(in))
	total := 0
	for i, t := range in {
		srcs[i] = rawBytes(t)
		chunks[i] = t.Shape[axis] * inner
		total += chunks[i]
	}
	if total*outer != len(dst) {
		return fmt.Errorf("inputs hold %d bytes, output %v wants %d", total*outer, y.Shape, len(dst))
	}
	pos := 0
	for o := 0; o < outer; o++ {
		for i, src := range srcs {
			c := chunks[i]
			pos += copy(dst[pos:pos+c], src[o*c:(o+1)*c])
		}
	}
	return nil
}

// splitKernel cuts the input along axis into the outputs, whose inferred
// shapes already hold the sizes.
func splitKernel(n *ir.Node, in, out []*ir.Tensor) error {
	x := in[0]
	axis, err := ir.NormAxis(n.Attrs.Int("axis", 0), len(x.Shape))
	if err != nil {
		return err
	}
	es := x.DType.Size()
	inner := ir.NumElements(x.Shape[axis+1:]) * es
	outer := ir.NumElements(x.Shape[:axis])
	src := rawBytes(x)
	dsts := make([][]byte, len(out))
	chunks := make([]int, len(out))
	total := 0
	for i, t := range out {
		dsts[i] = rawBytes(t)
		chunks[i] = t.Shape[axis] * inner
		total += chunks[i]
	}
	if total*outer != len(src) {
		return fmt.Errorf("outputs hold %d bytes, input %v has %d", total*outer, x.Shape, len(src))
	}
	pos := 0
	for o := 0; o < outer; o++ {
		for i, dst := range dsts {
			c := chunks[i]
			pos += copy(dst[o*c:(o+1)*c], src[pos:pos+c])
		}
	}
	return nil
}

// intsOf returns an index tensor's elements, or nil for an absent input.
func intsOf(t *ir.Tensor) []int64 {
	if t == nil {
		return nil
	}
	v := make([]int64, t.Len())
	for i := range v {
		v[i] = t.AsInt64(i)
	}
	return v
}

func sliceKernel(_ *ir.Node, in, out []*ir.Tensor) error {
	x, y := in[0], out[0]
	var axes, steps []int64
	if len(in) > 3 {
		axes = intsOf(in[3])
	}
	if len(in) > 4 {
		steps = intsOf(in[4])
	}
	dims, _, err := ir.ResolveSlice(ir.ShapeOf(x.Shape...), intsOf(in[1]), intsOf(in[2]), axes, steps)
	if err != nil {
		return err
	}
	if y.Len() == 0 {
		return nil
	}
	switch x.DType.Size() {
	case 1:
		sliceWords(words[uint8](y), words[uint8](x), x.Shape, dims)
	case 2:
		sliceWords(words[uint16](y), words[uint16](x), x.Shape, dims)
	case 4:
		sliceWords(words[uint32](y), words[uint32](x), x.Shape, dims)
	case 8:
		sliceWords(words[uint64](y), words[uint64](x), x.Shape, dims)
	}
	return nil
}

// sliceWords gathers the strided box dims of src (of shape shape) into dst.
// A scalar is its own slice.
func sliceWords[W any](dst, src []W, shape []int, dims []ir.SliceDim) {
	k := len(shape)
	if k == 0 {
		dst[0] = src[0]
		return
	}
	strides := ir.Strides(shape)
	inner := int(dims[k-1].Len)
	first, step := int(dims[k-1].Start)*strides[k-1], int(dims[k-1].Step)*strides[k-1]
	idx := make([]int, k-1)
	for r := 0; r*inner < len(dst); r++ {
		off := first
		for d := 0; d < k-1; d++ {
			off += (int(dims[d].Start) + idx[d]*int(dims[d].Step)) * strides[d]
		}
		row := dst[r*inner : (r+1)*inner]
		if step == 1 {
			copy(row, src[off:off+inner])
		} else {
			for j := range row {
				row[j] = src[off+j*step]
			}
		}
		for d := k - 2; d >= 0; d-- {
			if idx[d]++; idx[d] < int(dims[d].Len) {
				break
			}
			idx[d] = 0
		}
	}
}

func gatherKernel(n *ir.Node, in, out []*ir.Tensor) error {
	x, idx, y := in[0], in[1], out[0]
	axis, err := ir.NormAxis(n.Attrs.Int("axis", 0), len(x.Shape))
	if err != nil {
		return err
	}
	es := x.DType.Size()
	size := x.Shape[axis]
	inner := ir.NumElements(x.Shape[axis+1:]) * es
	outer := ir.NumElements(x.Shape[:axis])
	ids := intsOf(idx)
	for i, v := range ids {
		if v < -int64(size) || v >= int64(size) {
			return fmt.Errorf("indices[%d] is %d, want a value in [%d, %d) (axis %d of data %v)", i, v, -size, size, axis, x.Shape)
		}
		if v < 0 {
			ids[i] = v + int64(size)
		}
	}
	src, dst := rawBytes(x), rawBytes(y)
	if len(dst) != outer*len(ids)*inner {
		return fmt.Errorf("output %v does not hold %d gathered slices of %v", y.Shape, outer*len(ids), x.Shape)
	}
	pos := 0
	for o := 0; o < outer; o++ {
		base := o * size * inner
		for _, v := range ids {
			s := base + int(v)*inner
			pos += copy(dst[pos:pos+inner], src[s:s+inner])
		}
	}
	return nil
}

func padKernel(n *ir.Node, in, out []*ir.Tensor) error {
	x, y := in[0], out[0]
	var axes []int64
	if len(in) > 3 {
		axes = intsOf(in[3])
	}
	begin, end, err := ir.ResolvePads(len(x.Shape), intsOf(in[1]), axes)
	if err != nil {
		return err
	}
	mode := n.Attrs.String("mode", "constant")
	// maps[a][o] is the input index that output index o of axis a reads, or
	// -1 for the constant.
	maps := make([][]int, len(x.Shape))
	for a, d := range x.Shape {
		size := int64(d) + begin[a] + end[a]
		if size != int64(y.Shape[a]) {
			return fmt.Errorf("axis %d pads to %d elements, but the output is %v", a, size, y.Shape)
		}
		m := make([]int, size)
		for o := range m {
			m[o], err = padSource(int64(o)-begin[a], int64(d), mode)
			if err != nil {
				return fmt.Errorf("axis %d: %v", a, err)
			}
		}
		maps[a] = m
	}
	if y.Len() == 0 {
		return nil
	}
	var cv *ir.Tensor
	if len(in) > 2 && in[2] != nil {
		cv = in[2]
	}
	switch x.DType.Size() {
	case 1:
		padWords(words[uint8](y), words[uint8](x), x.Shape, y.Shape, maps, constWord[uint8](cv))
	case 2:
		padWords(words[uint16](y), words[uint16](x), x.Shape, y.Shape, maps, constWord[uint16](cv))
	case 4:
		padWords(words[uint32](y), words[uint32](x), x.Shape, y.Shape, maps, constWord[uint32](cv))
	case 8:
		padWords(words[uint64](y), words[uint64](x), x.Shape, y.Shape, maps, constWord[uint64](cv))
	}
	return nil
}

// constWord is the storage word of a one-element tensor, or zero (the
// encoding of 0, 0.0 and false in every dtype) when it is absent.
func constWord[W uint8 | uint16 | uint32 | uint64](t *ir.Tensor) W {
	if t == nil || t.Len() == 0 {
		return 0
	}
	return words[W](t)[0]
}

// padSource maps index i (which may lie outside [0, d)) of an axis of size d
// to the index it copies under mode, or -1 for the constant. Reflection and
// wrapping repeat as often as needed, as numpy.pad does; an axis of size 1
// reflects onto itself.
func padSource(i, d int64, mode string) (int, error) {
	if i >= 0 && i < d {
		return int(i), nil
	}
	if mode == "constant" {
		return -1, nil
	}
	if d == 0 {
		return 0, fmt.Errorf("cannot %s-pad an empty axis", mode)
	}
	switch mode {
	case "edge":
		return int(min(max(i, 0), d-1)), nil
	case "wrap":
		return int(((i % d) + d) % d), nil
	case "reflect":
		if d == 1 {
			return 0, nil
		}
		p := 2 * (d - 1)
		i = ((i % p) + p) % p
		if i >= d {
			i = p - i
		}
		return int(i), nil
	}
	return 0, fmt.Errorf("unknown pad mode %q", mode)
}

// padWords fills dst (of shape outShape) from src (of shape inShape) through
// the per-axis index maps, writing c where a map says -1.
func padWords[W any](dst, src []W, inShape, outShape []int, maps [][]int, c W) {
	k := len(outShape)
	if k == 0 {
		dst[0] = src[0]
		return
	}
	strides := ir.Strides(inShape)
	inner := outShape[k-1]
	last := maps[k-1]
	rows := len(dst) / inner
	parallelFor(rows, max(1, parallelGrain/inner), func(lo, hi int) {
		idx := make([]int, k-1)
		rem := lo
		for d := k - 2; d >= 0; d-- {
			idx[d] = rem % outShape[d]
			rem /= outShape[d]
		}
		for r := lo; r < hi; r++ {
			row := dst[r*inner : (r+1)*inner]
			off, inside := 0, true
			for d := 0; d < k-1; d++ {
				s := maps[d][idx[d]]
				if s < 0 {
					inside = false
					break
				}
				off += s * strides[d]
			}
			if !inside {
				for j := range row {
					row[j] = c
				}
			} else {
				for j, s := range last {
					if s < 0 {
						row[j] = c
					} else {
						row[j] = src[off+s]
					}
				}
			}
			for d := k - 2; d >= 0; d-- {
				if idx[d]++; idx[d] < outShape[d] {
					break
				}
				idx[d] = 0
			}
		}
	})
}

package ref

// Kernels of Expand, Tile, ConstantOfShape, Range, DepthToSpace,
// SpaceToDepth, GatherElements and ScatterND. All but Range and a reducing
// ScatterND only move elements, so they work on storage words and are exact
// for every dtype.

import (
	"fmt"

	"github.com/sqc-project/sqc/ir"
)

func init() {
	register("Expand", func(_ *ir.Node, in, out []*ir.Tensor) error {
		broadcastInto(out[0], in[0])
		return nil
	})
	register("Tile", tileKernel)
	register("ConstantOfShape", constantOfShapeKernel)
	register("Range", rangeKernel)
	register("DepthToSpace", depthToSpaceKernel)
	register("SpaceToDepth", spaceToDepthKernel)
	register("GatherElements", gatherElementsKernel)
	register("ScatterND", scatterNDKernel)
	register("NonMaxSuppression", nmsKernel)
}

func tileKernel(_ *ir.Node, in, out []*ir.Tensor) error {
	x, y := in[0], out[0]
	if y.Len() == 0 {
		return nil
	}
	r := len(y.Shape)
	xs := ir.Strides(x.Shape)
	idx := make([]int, r)
	src := make([]int, y.Len())
	for o := range src {
		off := 0
		for d := 0; d < r; d++ {
			off += (idx[d] % x.Shape[d]) * xs[d]
		}
		src[o] = off
		for d := r - 1; d >= 0; d-- {
			if idx[d]++; idx[d] < y.Shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	gatherElements(y, x, func(o int) int { return src[o] })
	return nil
}

func constantOfShapeKernel(_ *ir.Node, in, out []*ir.Tensor) error {
	y := out[0]
	if len(in) < 2 || in[1] == nil {
		return nil // f32 zeros, as allocated
	}
	if in[1].Len() != 1 {
		return fmt.Errorf("value has shape %v, want one element", in[1].Shape)
	}
	gatherElements(y, in[1], func(int) int { return 0 })
	return nil
}

// rangeKernel computes start + i*delta: exactly in int64 for integers, in
// float64 rounded once for floats.
func rangeKernel(_ *ir.Node, in, out []*ir.Tensor) error {
	y := out[0]
	n := y.Len()
	if y.DType.IsFloat() {
		start, delta := in[0].AsFloat64(0), in[2].AsFloat64(0)
		buf := make([]float64, n)
		for i := range buf {
			buf[i] = start + float64(float64(i)*delta) // the product rounded on its own (see the package doc)
		}
		encodeFloats(y, 0, buf)
		return nil
	}
	start, delta := in[0].AsInt64(0), in[2].AsInt64(0)
	buf := make([]int64, n)
	for i := range buf {
		buf[i] = start + int64(i)*delta
	}
	encodeInts(y, 0, buf, false)
	return nil
}

// permuteInto writes x, viewed with dims, transposed by perm into y.
func permuteInto(y, x *ir.Tensor, dims []int, perm ...int64) error {
	outDims := make([]int, len(perm))
	for i, p := range perm {
		outDims[i] = dims[p]
	}
	n := &ir.Node{Name: "permute", Op: "Transpose", Attrs: ir.Attrs{"perm": ir.IntsAttr(perm...)}}
	return transposeKernel(n, []*ir.Tensor{x.Reshaped(dims...)}, []*ir.Tensor{y.Reshaped(outDims...)})
}

// depthToSpaceKernel is ONNX's definition: a reshape to 6-D, a transpose
// and a reshape back. DCR takes the block index from the channel's high
// part, CRD from its low part.
func depthToSpaceKernel(n *ir.Node, in, out []*ir.Tensor) error {
	x := in[0]
	b := int(n.Attrs.Int("blocksize", 0))
	N, C, H, W := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	if n.Attrs.String("mode", "DCR") == "CRD" {
		return permuteInto(out[0], x, []int{N, C / (b * b), b, b, H, W}, 0, 1, 4, 2, 5, 3)
	}
	return permuteInto(out[0], x, []int{N, b, b, C / (b * b), H, W}, 0, 3, 4, 1, 5, 2)
}

func spaceToDepthKernel(n *ir.Node, in, out []*ir.Tensor) error {
	x := in[0]
	b := int(n.Attrs.Int("blocksize", 0))
	N, C, H, W := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	return permuteInto(out[0], x, []int{N, C, H / b, b, W / b, b}, 0, 3, 5, 1, 2, 4)
}

func gatherElementsKernel(n *ir.Node, in, out []*ir.Tensor) error {
	x, idx, y := in[0], in[1], out[0]
	axis, err := ir.NormAxis(n.Attrs.Int("axis", 0), len(x.Shape))
	if err != nil {
		return err
	}
	size := x.Shape[axis]
	xs := ir.Strides(x.Shape)
	r := len(idx.Shape)
	pos := make([]int, r)
	src := make([]int, y.Len())
	for o := range src {
		v := idx.AsInt64(o)
		if v < -int64(size) || v >= int64(size) {
			return fmt.Errorf("indices element %d is %d, want a value in [%d, %d) (axis %d of data %v)", o, v, -size, size, axis, x.Shape)
		}
		if v < 0 {
			v += int64(size)
		}
		off := 0
		for d := 0; d < r; d++ {
			p := pos[d]
			if d == axis {
				p = int(v)
			} else if p >= x.Shape[d] {
				return fmt.Errorf("indices %v is larger than data %v on axis %d", idx.Shape, x.Shape, d)
			}
			off += p * xs[d]
		}
		src[o] = off
		for d := r - 1; d >= 0; d-- {
			if pos[d]++; pos[d] < idx.Shape[d] {
				break
			}
			pos[d] = 0
		}
	}
	gatherElements(y, x, func(o int) int { return src[o] })
	return nil
}

// scatterNDKernel copies data, then writes each update slice at the
// position its index tuple gives, in order (a later duplicate wins, as in
// ONNX's reference); a reduction combines instead, in float64 for floats
// and int64 for integers.
func scatterNDKernel(n *ir.Node, in, out []*ir.Tensor) error {
	x, idx, upd, y := in[0], in[1], in[2], out[0]
	copy(rawBytes(y), rawBytes(x))
	k := idx.Shape[len(idx.Shape)-1]
	slice := ir.NumElements(x.Shape[k:])
	count := ir.NumElements(idx.Shape[:len(idx.Shape)-1])
	xs := ir.Strides(x.Shape)
	starts := make([]int, count)
	for i := range starts {
		off := 0
		for d := 0; d < k; d++ {
			v := idx.AsInt64(i*k + d)
			if v < -int64(x.Shape[d]) || v >= int64(x.Shape[d]) {
				return fmt.Errorf("index %d of tuple %d is %d, want a value in [%d, %d) (dim %d of data %v)", d, i, v, -x.Shape[d], x.Shape[d], d, x.Shape)
			}
			if v < 0 {
				v += int64(x.Shape[d])
			}
			off += int(v) * xs[d]
		}
		starts[i] = off
	}
	red := n.Attrs.String("reduction", "none")
	if red == "none" {
		es := x.DType.Size()
		dst, src := rawBytes(y), rawBytes(upd)
		for i, s := range starts {
			copy(dst[s*es:(s+slice)*es], src[i*slice*es:(i+1)*slice*es])
		}
		return nil
	}
	combine := map[string]func(a, b float64) float64{
		"add": func(a, b float64) float64 { return a + b },
		"mul": func(a, b float64) float64 { return a * b },
		"max": func(a, b float64) float64 { return max(a, b) },
		"min": func(a, b float64) float64 { return min(a, b) },
	}[red]
	acc, u := float64s(y), float64s(upd)
	for i, s := range starts {
		for j := 0; j < slice; j++ {
			acc[s+j] = combine(acc[s+j], u[i*slice+j])
		}
	}
	if y.DType.IsFloat() {
		encodeFloats(y, 0, acc)
		return nil
	}
	ints := make([]int64, len(acc))
	for i, v := range acc {
		ints[i] = int64(v)
	}
	encodeInts(y, 0, ints, false)
	return nil
}

// nmsKernel writes the triples ir.NonMaxSuppress selects.
func nmsKernel(n *ir.Node, in, out []*ir.Tensor) error {
	opt := func(i int) *ir.Tensor {
		if i < len(in) {
			return in[i]
		}
		return nil
	}
	kept, err := ir.NonMaxSuppress(in[0], in[1], opt(2), opt(3), opt(4), n.Attrs.Int("center_point_box", 0) != 0)
	if err != nil {
		return err
	}
	if len(kept) != out[0].Len() {
		return fmt.Errorf("output %v holds %d values, want %d", out[0].Shape, out[0].Len(), len(kept))
	}
	copy(out[0].Int64s(), kept)
	return nil
}

package ampere

import (
	"fmt"
	"slices"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// Shape arithmetic on a symbolic batch. PyTorch's exporters compute shapes
// from Shape nodes when the batch is symbolic: x.view(x.size(0), -1) is
// Shape→Gather→Unsqueeze→Concat→Reshape, torch.chunk's split points are
// Shape→Gather→Add→Div→Mul→Slice ends, a channel shuffle's view is a
// Reshape to [N, 2, C/2, H, W] built from four Shapes. fold-constants folds
// these only when the batch is static. The planner takes them as follows:
//
//   - a shape value (an integer computed only from shapes, shapeValues)
//     that comes out the same at every batch tried is a constant: Plan
//     replaces it by one before planning (foldStaticShapes), so every
//     planner and the host fallback see a constant operand;
//   - a shape value that follows the batch is evaluated at the batch a
//     planner needs: a Reshape's shape at several batches, which must give
//     the batch first and the same per-sample dims each time (then the
//     Reshape is a view at every batch), and a data-movement op's operand
//     at the batch its copy table is probed at (gatherChain);
//   - anything else reading such a value is refused by name (shapeOperandUse).
//
// Shape nodes and the arithmetic on their outputs need no GPU work.

// shapeBatches are the batches a shape value is evaluated at to decide
// whether it depends on the batch, and whether a Reshape keeps the batch
// first with the same per-sample dims: a few small ones and a large one,
// so that arithmetic like max(N, 4) or N % 2 shows.
var shapeBatches = []int{1, 2, 3, 5, 64}

// maxShapeElems bounds the integer tensors taken for shape arithmetic: a
// shape is short, anything longer is data.
const maxShapeElems = 64

// shapeValues finds the nodes of g that only compute shapes and evaluates
// their outputs at any batch.
type shapeValues struct {
	// nodes are the shape nodes: Shape nodes of computed tensors, and
	// arithmetic on their outputs and constants.
	nodes map[*ir.Node]bool
	// of maps each output of a shape node to its node.
	of map[*ir.Value]*ir.Node
	// batchSyms are the symbols of the graph inputs' first dims: the
	// batch.
	batchSyms map[string]bool
	// dimsOf gives a computed value's dims at a batch; by default its
	// type's, the batch's symbol set to the batch (the planner replaces
	// it with what it has worked out of dims the types leave unknown).
	dimsOf func(v *ir.Value, batch int) ([]int64, error)
	// at caches the shape values evaluated so far, by batch.
	at map[int]map[*ir.Value]*ir.Tensor
}

// newShapeValues classifies g's nodes.
func newShapeValues(g *ir.Graph) *shapeValues {
	s := &shapeValues{nodes: map[*ir.Node]bool{}, of: map[*ir.Value]*ir.Node{}, batchSyms: map[string]bool{},
		at: map[int]map[*ir.Value]*ir.Tensor{}}
	s.dimsOf = s.typeDims
	for _, v := range g.Inputs {
		if len(v.Type.Shape) > 0 && !v.Type.Shape[0].Known() && v.Type.Shape[0].Sym != "" {
			s.batchSyms[v.Type.Shape[0].Sym] = true
		}
	}
	for _, n := range g.Nodes {
		if !s.isShapeNode(n) {
			continue
		}
		s.nodes[n] = true
		for _, v := range n.Outputs {
			if v != nil {
				s.of[v] = n
			}
		}
	}
	return s
}

// isShapeNode reports whether n computes a shape: a Shape of a computed
// tensor, or a node whose computed inputs are all shape values and whose
// outputs are short integer, bool or float tensors (exporters compute
// Resize's scales through floats).
func (s *shapeValues) isShapeNode(n *ir.Node) bool {
	if len(n.Outputs) == 0 {
		return false
	}
	for _, v := range n.Outputs {
		if v == nil {
			continue
		}
		dt := v.Type.DType
		if dt != ir.Int64 && dt != ir.Int32 && dt != ir.Bool && (dt != ir.Float32 || n.Op == "Shape") {
			return false
		}
		dims, ok := v.Type.Shape.Ints()
		if !ok || len(dims) > 1 || v.Type.Shape.NumElements() > maxShapeElems {
			return false
		}
	}
	if n.Op == "Shape" {
		return len(n.Inputs) == 1 && n.Inputs[0] != nil && !n.Inputs[0].IsConst()
	}
	computed := 0
	for _, v := range n.Inputs {
		if v == nil || v.IsConst() {
			continue
		}
		if s.of[v] == nil {
			return false
		}
		computed++
	}
	return computed > 0
}

// typeDims is v's dims at batch by its type: known dims, and the batch's
// symbol as batch.
func (s *shapeValues) typeDims(v *ir.Value, batch int) ([]int64, error) {
	var dims []int64
	for _, d := range v.Type.Shape {
		switch {
		case d.Known():
			dims = append(dims, d.Size)
		case s.batchSyms[d.Sym]:
			dims = append(dims, int64(batch))
		default:
			return nil, fmt.Errorf("the shape of %s has the unknown dim %v", v.Name, d)
		}
	}
	return dims, nil
}

// is reports whether v is a shape value.
func (s *shapeValues) is(v *ir.Value) bool { return v != nil && s.of[v] != nil }

// valueAt is shape value v at batch: a Shape node's output from its
// input's dims, any other node run on the reference executor on its
// inputs' values at that batch.
func (s *shapeValues) valueAt(v *ir.Value, batch int) (*ir.Tensor, error) {
	memo := s.at[batch]
	if memo == nil {
		memo = map[*ir.Value]*ir.Tensor{}
		s.at[batch] = memo
	}
	if t := memo[v]; t != nil {
		return t, nil
	}
	n := s.of[v]
	if n == nil {
		return nil, fmt.Errorf("%s is no shape value", v.Name)
	}
	if n.Op == "Shape" {
		dims, err := s.dimsOf(n.Inputs[0], batch)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		t, err := shapeAt(n, dims)
		if err != nil {
			return nil, err
		}
		memo[v] = t
		return t, nil
	}
	c := &ir.Node{Name: n.Name, Op: n.Op, Attrs: n.Attrs, Outputs: n.Outputs, Inputs: make([]*ir.Value, len(n.Inputs))}
	for i, in := range n.Inputs {
		c.Inputs[i] = in
		if in == nil || in.IsConst() {
			continue
		}
		t, err := s.valueAt(in, batch)
		if err != nil {
			return nil, err
		}
		c.Inputs[i] = ir.NewConst(in.Name, t)
	}
	var outs []*ir.Value
	for _, o := range n.Outputs {
		if o != nil {
			outs = append(outs, o)
		}
	}
	res, err := ref.Run(&ir.Graph{Name: n.Name, Nodes: []*ir.Node{c}, Outputs: outs})
	if err != nil {
		return nil, fmt.Errorf("evaluating the shape arithmetic %s at batch %d: %w", n.Name, batch, err)
	}
	for i, o := range outs {
		memo[o] = res[i]
	}
	return memo[v], nil
}

// shapeAt is Shape node n's output for an input of dims, cut by the start
// and end attributes as ONNX defines them (negative counts from the end,
// then clamped).
func shapeAt(n *ir.Node, dims []int64) (*ir.Tensor, error) {
	r := int64(len(dims))
	clamp := func(i int64) int64 {
		if i < 0 {
			i += r
		}
		return min(max(i, 0), r)
	}
	start, end := clamp(n.Attrs.Int("start", 0)), clamp(n.Attrs.Int("end", r))
	if end < start {
		end = start
	}
	dims = dims[start:end]
	t := ir.NewTensor(n.Outputs[0].Type.DType, len(dims))
	for i, d := range dims {
		switch x := t.Data.(type) {
		case []int64:
			x[i] = d
		case []int32:
			x[i] = int32(d)
		default:
			return nil, fmt.Errorf("node %s: a shape of %v, want i64 or i32", n.Name, n.Outputs[0].Type.DType)
		}
	}
	return t, nil
}

// static returns v's value when it is the same at every batch of
// shapeBatches, or nil when it follows the batch.
func (s *shapeValues) static(v *ir.Value) (*ir.Tensor, error) {
	var first *ir.Tensor
	for _, b := range shapeBatches {
		t, err := s.valueAt(v, b)
		if err != nil {
			return nil, err
		}
		if first == nil {
			first = t
			continue
		}
		if !slices.Equal(t.Shape, first.Shape) || fmt.Sprint(t.Data) != fmt.Sprint(first.Data) {
			return nil, nil
		}
	}
	return first, nil
}

// foldStaticShapes returns g with every shape value that other nodes read
// and that is the same at every batch replaced by a constant, the shape
// nodes left without readers removed and the nodes left reading only
// constants computed; g itself is not changed. A graph
// without such values comes back as it is. A shape value that follows the
// batch stays computed.
func foldStaticShapes(g *ir.Graph) *ir.Graph {
	s := newShapeValues(g)
	if len(s.nodes) == 0 {
		return g
	}
	consts := map[*ir.Value]*ir.Value{}
	for _, n := range g.Nodes {
		if s.nodes[n] {
			continue
		}
		for _, v := range n.Inputs {
			if !s.is(v) || consts[v] != nil {
				continue
			}
			// A value that needs dims the types leave unknown is
			// the planner's to evaluate (the error is not final).
			if t, err := s.static(v); err == nil && t != nil {
				consts[v] = ir.NewConst(v.Name+".static", t)
			}
		}
	}
	if len(consts) == 0 {
		return g
	}
	out := *g
	out.Nodes = nil
	for _, n := range g.Nodes {
		c := n
		for i, v := range n.Inputs {
			if k := consts[v]; k != nil && !s.nodes[n] {
				if c == n {
					cp := *n
					cp.Inputs = slices.Clone(n.Inputs)
					c = &cp
				}
				c.Inputs[i] = k
			}
		}
		out.Nodes = append(out.Nodes, c)
	}
	// Shape nodes no one reads any more, last first so that chains go.
	users := out.Users()
	keep := make([]bool, len(out.Nodes))
	for i := len(out.Nodes) - 1; i >= 0; i-- {
		n := out.Nodes[i]
		keep[i] = true
		if !s.nodes[n] {
			continue
		}
		used := false
		for _, v := range n.Outputs {
			if v != nil && (len(users[v]) > 0 || out.IsOutput(v)) {
				used = true
			}
		}
		if used {
			continue
		}
		keep[i] = false
		for _, v := range n.Inputs {
			users[v] = slices.DeleteFunc(users[v], func(u *ir.Node) bool { return u == n })
		}
	}
	nodes := out.Nodes[:0:0]
	for i, n := range out.Nodes {
		if keep[i] {
			nodes = append(nodes, n)
		}
	}
	out.Nodes = nodes
	// A shape made a constant can leave a node that reads only constants
	// (Swin reshapes a shape value): fold those too. Should one fail to
	// compute, it stays, and planning it says why.
	if folded, err := foldConstantNodes(&out); err == nil {
		return folded
	}
	return &out
}

// logicalDims is v's dims at batch: from its buffer and where the batch
// is in it once planned, else from its type.
func (p *planner) logicalDims(v *ir.Value, batch int) ([]int64, error) {
	b := p.bufs[v]
	if b == nil {
		return p.shapes.typeDims(v, batch)
	}
	var dims []int64
	for _, d := range p.placeOf(v).logicalShape(b.SampleShape, batch) {
		dims = append(dims, int64(d))
	}
	return dims, nil
}

// shapeOnly reports whether n only computes a shape: it needs no GPU work.
func (p *planner) shapeOnly(n *ir.Node) bool { return p.shapes.nodes[n] }

// batchConstant plans a node that reads no computed tensor, only
// constants and shapes that follow the batch (a ViT's class token expanded
// to [N, 1, 768], ConstantOfShape of [N, L]), when its outputs hold the
// same sample at every batch: each output is one launch of the gather
// kernel copying that sample from the engine's weights to every sample (an
// input stride of 0). It returns false, with no error, for any other node.
func (p *planner) batchConstant(n *ir.Node) (bool, error) {
	reads := false
	for _, v := range n.Inputs {
		if v == nil || v.IsConst() {
			continue
		}
		if !p.shapes.is(v) {
			return false, nil
		}
		reads = true
	}
	if !reads {
		return false, nil
	}
	if ok, err := p.shapeValueNode(n); ok || err != nil {
		return true, err
	}
	var at [2][]*ir.Tensor
	for k, batch := range []int{1, 2} {
		c := &ir.Node{Name: n.Name, Op: n.Op, Attrs: n.Attrs, Outputs: n.Outputs, Inputs: slices.Clone(n.Inputs)}
		for i, v := range c.Inputs {
			if p.shapes.is(v) {
				t, err := p.shapes.valueAt(v, batch)
				if err != nil {
					return true, err
				}
				c.Inputs[i] = ir.NewConst(v.Name, t)
			}
		}
		res, err := ref.Run(&ir.Graph{Name: n.Name, Nodes: []*ir.Node{c}, Outputs: n.Outputs})
		if err != nil {
			return true, fmt.Errorf("evaluating it at batch %d: %w", batch, err)
		}
		at[k] = res
	}
	for j, v := range n.Outputs {
		one, two := at[0][j], at[1][j]
		dt, err := dtypeName(v.Type.DType)
		if err != nil {
			return true, err
		}
		if len(one.Shape) == 0 || one.Shape[0] != 1 || !slices.Equal(two.Shape, append([]int{2}, one.Shape[1:]...)) {
			return true, fmt.Errorf("output %s is %v at batch 1 and %v at batch 2, want the batch first", v.Name, one.Shape, two.Shape)
		}
		wn := n.Name + "/sample" + fmt.Sprint(j)
		var bytes, twice []byte
		switch dt {
		case "f32":
			bytes, twice = leBytes(one.Float32s()), leBytes(two.Float32s())
		default:
			bytes, twice = leBytes(one.Int8s()), leBytes(two.Int8s())
		}
		if !slices.Equal(append(slices.Clone(bytes), bytes...), twice) {
			return true, fmt.Errorf("output %s differs between samples, the engine copies one sample to all", v.Name)
		}
		y, err := p.newBuffer(v, p.copyLayout(v))
		if err != nil {
			return true, err
		}
		kernel := kernels.Gather8Kernel
		if dt == "f32" {
			kernel = kernels.Gather32Kernel
		}
		elems := y.ElemsPerSample
		// One run of the whole sample; the layout of an image output is
		// applied to the copied sample.
		sample := one
		if y.Layout == LayoutNHWC {
			sample = NCHWToNHWC(one)
			if dt == "f32" {
				bytes = leBytes(sample.Float32s())
			} else {
				bytes = leBytes(sample.Int8s())
			}
		}
		tab := leBytes([]uint32{0, 0})
		p.e.Weights = append(p.e.Weights, &engine.Weight{Name: wn, Kind: dt, Data: bytes},
			&engine.Weight{Name: wn + "/table", Kind: "u32", Data: tab})
		work := elems
		if kernels.Gather4Fits(nil, elems, 0, 0, 0, elems) {
			kernel, work = kernels.Gather4Of(kernel), elems/4 // four elements a thread
		}
		p.useKernel(kernel, kernels.GatherPTX(kernel))
		p.e.Steps = append(p.e.Steps, &engine.Step{Node: n.Name, Op: n.Op, Kernel: kernel, Precision: precisionOf(dt),
			WorkPerSample: uint64(work), WorkPerBlockX: kernels.OpThreads, GridY: 1, GridZ: 1, BlockX: kernels.OpThreads,
			Args: []*engine.Arg{weightArg(wn), bufArg(y), weightArg(wn + "/table"), perSample(work), u32(1), u32(elems),
				u32(1), u32(0), u32(0), u32(0), u32(elems)},
			Note: "one sample, the same at every batch, copied from the engine's weights"})
	}
	return true, nil
}

// shapeOperandUse checks the shape values n reads (those that follow the
// batch; foldStaticShapes made the others constants): a Reshape's shape
// (view works it out per sample) and a data-movement op's operands (the
// gather probe evaluates them at its batch) are taken, anything else is
// refused with the value's name.
func (p *planner) shapeOperandUse(n *ir.Node) error {
	for i, v := range n.Inputs {
		if !p.shapes.is(v) {
			continue
		}
		if n.Op == "Reshape" && i == 1 || n.Op == "Resize" && i == 3 || movesData[n.Op] && i > 0 {
			continue // the planner works these out per sample (batchScaledShape, batchLedSizes) or at its batch
		}
		a, _ := p.shapes.valueAt(v, 1)
		b, _ := p.shapes.valueAt(v, 2)
		return fmt.Errorf("input %d (%s) is a shape computed from the batch (%v at batch 1, %v at batch 2); an engine takes any batch, and the GPU plan takes such operands only as a Reshape's shape or a data-movement op's (Slice, Expand, Tile ...)",
			i, v.Name, tensorInts(a), tensorInts(b))
	}
	return nil
}

// shapeValueNode takes n, which reads only constants and shape values, as
// a shape value itself: it needs no launch, and its readers take it as
// they take any shape value. That holds in two cases.
//
//   - Each output is the same at every batch of shapeBatches: a Range up
//     to a dim the types leave unknown and only the planner works out (the
//     dynamo exporter's torch.roll: Range, Add, Mod, then a Gather of the
//     rolled dim) is not a shape value by its type, so foldStaticShapes
//     could not fold it.
//   - Every output is an integer tensor the graph does not return: index
//     arithmetic on the batch, of any size. The dynamo exporter writes
//     torch's as_strided so (the strided view before Swin-T's classifier):
//     a Range up to the batch times the batch's stride, broadcast against
//     the other dims' offsets, indexes a Gather of the flattened input.
//     Such a tensor is not data the engine holds (the GPU runtime has no
//     64-bit elements); a data-movement op reading it as an operand
//     evaluates it at the batch its copy table is probed at, and
//     shapeOperandUse refuses any other reader by name.
//
// It returns false, leaving nothing registered, for any other node, and an
// error naming the output that cannot be evaluated.
func (p *planner) shapeValueNode(n *ir.Node) (bool, error) {
	var outs []*ir.Value
	index := true
	for _, v := range n.Outputs {
		if v == nil {
			continue
		}
		if dt := v.Type.DType; dt != ir.Int64 && dt != ir.Int32 || p.g.IsOutput(v) {
			index = false
		}
		outs = append(outs, v)
		p.shapes.of[v] = n
	}
	forget := func() {
		for _, v := range outs {
			delete(p.shapes.of, v)
			for _, memo := range p.shapes.at {
				delete(memo, v)
			}
		}
	}
	if len(outs) == 0 {
		return false, nil
	}
	static := true
	for _, v := range outs {
		if t, err := p.shapes.static(v); err != nil || t == nil {
			static = false
			break
		}
	}
	if static {
		return true, nil
	}
	if !index {
		forget()
		return false, nil
	}
	for _, v := range outs {
		for _, batch := range shapeBatches[:2] {
			if _, err := p.shapes.valueAt(v, batch); err != nil {
				forget()
				return true, err
			}
		}
	}
	return true, nil
}

// batchLedSizes returns the elements at batch 1 of a shape value v that
// follows the batch in its first element only: at each batch of
// shapeBatches v must be [batch, the same dims]. That is a Resize's sizes
// as torch's dynamo exporter writes them (the input's shape for the batch
// and channels, then the new height and width), which an engine takes at
// any batch since the batch axis is never resized.
func (p *planner) batchLedSizes(v *ir.Value) ([]int64, error) {
	var first []int64
	for _, batch := range shapeBatches {
		t, err := p.shapes.valueAt(v, batch)
		if err != nil {
			return nil, err
		}
		got := make([]int64, t.Len())
		for i := range got {
			got[i] = t.AsInt64(i)
		}
		if len(got) == 0 || got[0] != int64(batch) {
			return nil, fmt.Errorf("%s is %v at batch %d, want the batch first", v.Name, got, batch)
		}
		if first != nil && !slices.Equal(first[1:], got[1:]) {
			return nil, fmt.Errorf("%s is %v at batch %d and %v at batch %d, want the same dims after the batch", v.Name, first, shapeBatches[0], got, batch)
		}
		if first == nil {
			first = got
		}
	}
	first[0] = 1
	return first, nil
}

// tensorInts prints a shape value's elements.
func tensorInts(t *ir.Tensor) string {
	if t == nil {
		return "?"
	}
	out := make([]int64, t.Len())
	for i := range out {
		out[i] = t.AsInt64(i)
	}
	return fmt.Sprint(out)
}

// batchScaledShape gives the per-sample shape of a Reshape whose shape
// follows the batch: the shape and the Reshape's shape rule at each batch
// of shapeBatches must give [batch, the same dims] every time, which makes
// the Reshape a view of its input at every batch. Reshapes that fold the
// batch into another dim (ViT's [197, N·12, 64]) are refused: an engine's
// buffers hold the batch outermost.
func (p *planner) batchScaledShape(n *ir.Node) ([]int64, error) {
	sv := n.Inputs[1]
	x := p.bufs[n.Inputs[0]]
	if x == nil {
		return nil, fmt.Errorf("input %s is not computed on the GPU", n.Inputs[0].Name)
	}
	var sample []int64
	for _, batch := range shapeBatches {
		shape, err := p.shapes.valueAt(sv, batch)
		if err != nil {
			return nil, err
		}
		xt := ir.Type{DType: n.Inputs[0].Type.DType, Shape: ir.Shape{ir.D(int64(batch))}}
		for _, d := range x.SampleShape {
			xt.Shape = append(xt.Shape, ir.D(d))
		}
		out, err := ir.InferTypes(n, []ir.Type{xt, shape.Type()}, []*ir.Tensor{nil, shape})
		if err != nil {
			return nil, fmt.Errorf("reshaping at batch %d: %w", batch, err)
		}
		dims, ok := out[0].Shape.Ints()
		if !ok || len(dims) == 0 || dims[0] != batch {
			return nil, fmt.Errorf("at batch %d the shape %s is %s and gives %v, want the batch first (an engine's buffers hold the batch outermost)",
				batch, sv.Name, tensorInts(shape), out[0].Shape)
		}
		got := make([]int64, len(dims)-1)
		for i, d := range dims[1:] {
			got[i] = int64(d)
		}
		if sample != nil && !slices.Equal(sample, got) {
			return nil, fmt.Errorf("the shape %s gives %v a sample at batch %d and %v at batch %d, want the same", sv.Name, sample, shapeBatches[0], got, batch)
		}
		sample = got
	}
	return sample, nil
}

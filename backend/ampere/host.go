package ampere

import (
	"fmt"

	"github.com/sqc-project/sqc/backend/ampere/cuda"
	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// hostStep is a host fallback step ready to run: the node as a one-node
// graph for the reference executor, and the buffers of its computed inputs
// and outputs.
type hostStep struct {
	node *ir.Node
	exec *ref.Executor
	ins  []*engine.Buffer // one per graph input of the one-node graph
	outs []*engine.Buffer
	// inPlaces and outPlaces say where the batch is in each input and
	// output (firstDim but after a transformer's transposed batch).
	inPlaces, outPlaces []batchPlace
	// perSample: the graph's batch is a static 1, so a larger runtime
	// batch runs the node once a sample.
	perSample bool
}

// newHostStep finds the step's node in the engine graph and checks its
// arguments: the number of computed inputs, their buffers, then the
// outputs' buffers, as hostFallback writes them.
func newHostStep(g *ir.Graph, s *engine.Step, info map[string]*engine.Buffer) (*hostStep, error) {
	var n *ir.Node
	for _, c := range g.Nodes {
		if c.Name == s.Node {
			n = c
			break
		}
	}
	if n == nil {
		return nil, fmt.Errorf("the engine graph has no node %s", s.Node)
	}
	if len(s.Args) == 0 || s.Args[0].GetU32() == 0 && len(s.Args) == 1 {
		return nil, fmt.Errorf("no arguments")
	}
	h := &hostStep{node: n}
	nIn := int(s.Args[0].GetU32())
	var gin []*ir.Value
	seen := map[*ir.Value]bool{}
	for _, v := range n.Inputs {
		if v != nil && !v.IsConst() && !seen[v] {
			seen[v] = true
			gin = append(gin, v)
		}
	}
	var computed []*ir.Value
	for _, v := range n.Inputs {
		if v != nil && !v.IsConst() {
			computed = append(computed, v)
		}
	}
	var gout []*ir.Value
	for _, v := range n.Outputs {
		if v != nil {
			gout = append(gout, v)
		}
	}
	base := 1 + nIn + len(gout)
	placed := len(s.Args) == base+3*(nIn+len(gout))
	if nIn != len(computed) || len(s.Args) != base && !placed {
		return nil, fmt.Errorf("%d arguments for %d computed inputs and %d outputs", len(s.Args)-1, len(computed), len(gout))
	}
	// placeAt is the batch place of computed input or output i (in that
	// order), from the three arguments each that follow the buffers.
	placeAt := func(i int) batchPlace {
		if !placed {
			return firstDim
		}
		a := s.Args[base+3*i:]
		return batchPlace{Axis: int(a[0].GetU32()), Outer: int(a[1].GetU32()), Inner: int(a[2].GetU32())}
	}
	placeOf := map[*ir.Value]batchPlace{}
	for i, v := range computed {
		placeOf[v] = placeAt(i)
	}
	bufOf := func(a *engine.Arg) (*engine.Buffer, error) {
		b := info[a.GetBuffer()]
		if b == nil {
			return nil, fmt.Errorf("no buffer %q", a.GetBuffer())
		}
		return b, nil
	}
	byValue := map[*ir.Value]*engine.Buffer{}
	for i, v := range computed {
		b, err := bufOf(s.Args[1+i])
		if err != nil {
			return nil, err
		}
		byValue[v] = b
	}
	for _, v := range gin {
		h.ins = append(h.ins, byValue[v])
		h.inPlaces = append(h.inPlaces, placeOf[v])
		if len(v.Type.Shape) > 0 && v.Type.Shape[0].Known() && v.Type.Shape[0].Size == 1 {
			h.perSample = true
		}
	}
	for i := range gout {
		b, err := bufOf(s.Args[1+nIn+i])
		if err != nil {
			return nil, err
		}
		h.outs = append(h.outs, b)
		h.outPlaces = append(h.outPlaces, placeAt(nIn+i))
	}
	exec, err := ref.New(&ir.Graph{Name: n.Name, Inputs: gin, Nodes: []*ir.Node{n}, Outputs: gout})
	if err != nil {
		return nil, err
	}
	h.exec = exec
	return h, nil
}

// run computes the step's outputs from its inputs, all in the buffers'
// memory layouts, batch samples each: inputs to the graph's NCHW order,
// the reference executor, outputs back to their buffers' layouts.
func (h *hostStep) run(batch int, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	logical := make([]*ir.Tensor, len(ins))
	for i, t := range ins {
		logical[i] = t
		if h.ins[i].Layout == LayoutNHWC && len(t.Shape) == 4 {
			logical[i] = NHWCToNCHW(t)
		}
		if pl := h.inPlaces[i]; pl != firstDim {
			logical[i] = pl.toLogical(t, h.ins[i].SampleShape, batch)
		}
	}
	var res []*ir.Tensor
	if !h.perSample || batch == 1 {
		var err error
		if res, err = h.exec.Run(logical); err != nil {
			return nil, err
		}
	} else {
		parts := make([][]*ir.Tensor, batch)
		for s := 0; s < batch; s++ {
			one := make([]*ir.Tensor, len(logical))
			for i, t := range logical {
				one[i] = sampleOf(t, s, batch)
			}
			var err error
			if parts[s], err = h.exec.Run(one); err != nil {
				return nil, fmt.Errorf("sample %d: %w", s, err)
			}
		}
		for j := range parts[0] {
			res = append(res, joinSamples(parts, j))
		}
	}
	for j, t := range res {
		if h.outs[j].Layout == LayoutNHWC && len(t.Shape) == 4 {
			res[j] = NCHWToNHWC(t)
		}
		if pl := h.outPlaces[j]; pl != firstDim {
			res[j] = pl.toStorage(t, h.outs[j].SampleShape, batch)
		}
	}
	return res, nil
}

// sampleOf returns sample s of a tensor of batch samples.
func sampleOf(t *ir.Tensor, s, batch int) *ir.Tensor {
	out := ir.NewTensor(t.DType, append([]int{1}, t.Shape[1:]...)...)
	per := t.Len() / batch
	switch d := t.Data.(type) {
	case []float32:
		copy(out.Float32s(), d[s*per:(s+1)*per])
	case []int8:
		copy(out.Int8s(), d[s*per:(s+1)*per])
	}
	return out
}

// joinSamples stacks output j of every sample.
func joinSamples(parts [][]*ir.Tensor, j int) *ir.Tensor {
	first := parts[0][j]
	out := ir.NewTensor(first.DType, append([]int{len(parts)}, first.Shape[1:]...)...)
	per := first.Len()
	for s, p := range parts {
		switch d := p[j].Data.(type) {
		case []float32:
			copy(out.Float32s()[s*per:], d)
		case []int8:
			copy(out.Int8s()[s*per:], d)
		}
	}
	return out
}

// NCHWToNHWC reorders a 4-D NCHW tensor's data into NHWC order (its Shape
// stays the NCHW one), the inverse of NHWCToNCHW.
func NCHWToNHWC(t *ir.Tensor) *ir.Tensor {
	c, h, w := t.Shape[1], t.Shape[2], t.Shape[3]
	out := ir.NewTensor(t.DType, t.Shape...)
	hw := h * w
	switch src := t.Data.(type) {
	case []float32:
		dst := out.Float32s()
		for i := range src {
			b, ci, p := i/(c*hw), i/hw%c, i%hw
			dst[(b*hw+p)*c+ci] = src[i]
		}
	case []int8:
		dst := out.Int8s()
		for i := range src {
			b, ci, p := i/(c*hw), i/hw%c, i%hw
			dst[(b*hw+p)*c+ci] = src[i]
		}
	}
	return out
}

// runHost waits for the launches before the step, downloads its inputs,
// runs it on the CPU and uploads its outputs.
func (r *Runtime) runHost(h *hostStep) error {
	if err := r.Stream.Synchronize(); err != nil {
		return err
	}
	ins := make([]*ir.Tensor, len(h.ins))
	for i, b := range h.ins {
		t := ir.NewTensor(bufferDType(b), append([]int{r.Batch}, intsOf(b.SampleShape)...)...)
		var err error
		switch d := t.Data.(type) {
		case []float32:
			err = cuda.Download(r.bufs[b.Name], 0, d)
		case []int8:
			err = cuda.Download(r.bufs[b.Name], 0, d)
		}
		if err != nil {
			return fmt.Errorf("input %s: %w", b.Name, err)
		}
		ins[i] = t
	}
	outs, err := h.run(r.Batch, ins)
	if err != nil {
		return err
	}
	for j, t := range outs {
		b := h.outs[j]
		if want := int(b.ElemsPerSample) * r.Batch; t.Len() != want || t.DType != bufferDType(b) {
			return fmt.Errorf("output %s: %v of %d elements, want %s of %d", b.Name, t.DType, t.Len(), b.Dtype, want)
		}
		switch d := t.Data.(type) {
		case []float32:
			err = cuda.Upload(r.bufs[b.Name], 0, d)
		case []int8:
			err = cuda.Upload(r.bufs[b.Name], 0, d)
		}
		if err != nil {
			return fmt.Errorf("output %s: %w", b.Name, err)
		}
	}
	return nil
}

func bufferDType(b *engine.Buffer) ir.DType {
	if b.Dtype == "f32" {
		return ir.Float32
	}
	return ir.Int8
}

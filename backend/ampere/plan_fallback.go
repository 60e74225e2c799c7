package ampere

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// The gather kernel and the host fallback.
//
// Gather: an op that only moves elements (movesData) becomes copies through
// an index table. The table is not derived from the op's definition here,
// which would be a second copy of it: the reference executor runs the node
// once on inputs whose elements are their own (input, sample, offset)
// codes, and each output element's code says where it came from. So every
// such op the reference executor knows runs on the GPU, bit-exact, with no
// per-op code; the cost is a table of 8 bytes an output element and one
// launch an input. The data-movement ops' table rows use it as their
// kernel (planGather); planNode also uses it as the fallback of a
// data-movement node whose own planner failed (gatherFallback).
//
// Host: any other op the reference executor can run runs there, on the CPU,
// between the launches: the runtime waits for the stream, downloads the
// node's inputs, runs ir/ref and uploads its outputs. Correct by
// definition, slow (two copies and a synchronisation), and not capturable
// in a CUDA graph; the report and `sqc inspect` name every such node.

// HostKernel is the kernel name of a step that runs on the host: the
// reference executor on the node's inputs, between the GPU launches.
const HostKernel = "host:ref"

// Notes of fallback steps start with these words (Fallbacks reads them).
const (
	gatherNote = "gather fallback"
	hostNote   = "host fallback"
)

// movesData lists the ops whose every output element is a copy of one
// element of a data input: the gather fallback can run them.
var movesData = map[string]bool{
	"Concat": true, "Transpose": true, "Split": true, "Slice": true, "Gather": true,
	"Squeeze": true, "Unsqueeze": true, "Reshape": true, "Flatten": true, "Identity": true,
	"Relayout": true, "Expand": true, "Tile": true, "DepthToSpace": true, "SpaceToDepth": true,
	// Edge and reflect padding copy; a constant Pad fails the probe (its
	// fill is no input element) and has a kernel of its own.
	"Pad": true,
}

// memIndex maps an element's logical offset within a sample (the graph's
// NCHW order) to its offset in buffer b's memory.
func memIndex(b *engine.Buffer, logical int64) int64 {
	if b.Layout != LayoutNHWC || len(b.SampleShape) != 3 {
		return logical
	}
	c, h, w := b.SampleShape[0], b.SampleShape[1], b.SampleShape[2]
	ci, hi, wi := logical/(h*w), logical/w%h, logical%w
	return (hi*w+wi)*c + ci
}

// fallbackLayout is the layout a fallback gives its outputs: NHWC for
// images, what the convolutions and pools read.
func fallbackLayout(v *ir.Value) string {
	if len(v.Type.Shape) == 4 {
		return LayoutNHWC
	}
	return LayoutFlat
}

// probeBatch is the batch the gather table is probed at: the graph's when
// it is static, else 2, so that an op moving data across samples shows.
func (p *planner) probeBatch(n *ir.Node) int {
	for _, v := range n.Inputs {
		if v == nil || v.IsConst() || p.shapes.is(v) || len(v.Type.Shape) == 0 {
			continue
		}
		if p.placeOf(v) != firstDim || !v.Type.Shape[0].Known() {
			// A moved batch is a symbolic one.
			return 2
		}
		return int(v.Type.Shape[0].Size)
	}
	return 2
}

// Element codes of the probe: 1 + (input index, sample, offset in memory),
// so that an element no input gave (a fill value, 0) is told apart.
const (
	codeSampleShift = 32
	codeInputShift  = 40
)

// copyTableNote is the note of a data-movement op planned on the gather
// kernel as its own kernel (not as a fallback).
const copyTableNote = "copy table from the reference executor"

// planGather plans a data-movement op (Concat, Split, Slice …) on the
// gather kernel: for these ops the copy table is the kernel.
func (p *planner) planGather(n *ir.Node) error {
	return p.gather(n, copyTableNote)
}

// gatherFallback plans a data-movement op whose own planner did not take
// it on the gather kernel, as a fallback.
func (p *planner) gatherFallback(n *ir.Node, why string) error {
	return p.gather(n, gatherNote+" ("+copyTableNote+"): "+why)
}

// gather plans a data-movement op as gather launches, one a (data input,
// output) pair, each step noted so.
func (p *planner) gather(n *ir.Node, note string) error {
	return p.gatherChain([]*ir.Node{n}, note)
}

// gatherChain plans a chain of data-movement nodes, each but the first
// reading the one before it (and constants), as the gather launches of the
// whole chain: one table from the first node's inputs to the last node's
// outputs, and no buffer for the values in between. A chain whose table
// is the identity (a Transpose and its inverse, reshapes that keep the
// order) is a view of its input, with no launch.
func (p *planner) gatherChain(chain []*ir.Node, note string) error {
	for _, n := range chain {
		if !movesData[n.Op] {
			return fmt.Errorf("op %s computes new values, the gather kernel only moves them", n.Op)
		}
	}
	first, last := chain[0], chain[len(chain)-1]
	batch := p.probeBatch(first)
	if batch > 1<<(codeInputShift-codeSampleShift) {
		return fmt.Errorf("static batch %d is too large to probe", batch)
	}
	// The probe graph: the chain's nodes on new values, the first node's
	// computed inputs replaced by code tensors.
	renamed := map[*ir.Value]*ir.Value{}
	var gin []*ir.Value
	var tin []*ir.Tensor
	var srcBufs []*engine.Buffer
	dtype := ""
	for _, v := range first.Inputs {
		if v == nil || v.IsConst() || renamed[v] != nil || p.shapes.is(v) {
			continue
		}
		b := p.bufs[v]
		if b == nil {
			return fmt.Errorf("input %s is not computed on the GPU", v.Name)
		}
		if dtype != "" && b.Dtype != dtype {
			return fmt.Errorf("inputs are %s and %s, the gather kernel copies one element type", dtype, b.Dtype)
		}
		dtype = b.Dtype
		k := int64(len(srcBufs))
		t := ir.NewTensor(ir.Int64, append([]int{batch}, intsOf(b.SampleShape)...)...)
		codes := t.Int64s()
		per := b.ElemsPerSample
		for li := range codes {
			s, rest := int64(li)/per, int64(li)%per
			codes[li] = 1 + (k<<codeInputShift | s<<codeSampleShift | memIndex(b, rest))
		}
		// The node reads the logical tensor: the batch where the
		// value has it.
		t = p.placeOf(v).toLogical(t, b.SampleShape, batch)
		pv := &ir.Value{Name: v.Name, Type: t.Type()}
		renamed[v] = pv
		gin, tin, srcBufs = append(gin, pv), append(tin, t), append(srcBufs, b)
	}
	if len(srcBufs) == 0 {
		return fmt.Errorf("no input is computed on the GPU")
	}
	var nodes []*ir.Node
	for _, n := range chain {
		c := &ir.Node{Name: n.Name, Op: n.Op, Attrs: n.Attrs, Inputs: make([]*ir.Value, len(n.Inputs))}
		for i, v := range n.Inputs {
			c.Inputs[i] = v
			if r := renamed[v]; r != nil {
				c.Inputs[i] = r
			} else if p.shapes.is(v) {
				// A shape that follows the batch: its value at the
				// probe's batch.
				t, err := p.shapes.valueAt(v, batch)
				if err != nil {
					return err
				}
				c.Inputs[i] = ir.NewConst(v.Name, t)
			} else if v != nil && !v.IsConst() {
				return fmt.Errorf("node %s reads %s, which is neither the chain's input nor a constant", n.Name, v.Name)
			}
		}
		for _, v := range n.Outputs {
			if v == nil {
				return fmt.Errorf("an optional output is absent, the gather kernel writes every output")
			}
			ov := &ir.Value{Name: v.Name}
			renamed[v] = ov
			c.Outputs = append(c.Outputs, ov)
		}
		nodes = append(nodes, c)
	}
	var outs []*ir.Value
	for _, v := range last.Outputs {
		outs = append(outs, renamed[v])
	}
	res, err := ref.Run(&ir.Graph{Name: last.Name, Inputs: gin, Nodes: nodes, Outputs: outs}, tin...)
	if err != nil {
		return fmt.Errorf("probing the op on the reference executor: %w", err)
	}
	kernel := kernels.Gather8Kernel
	if dtype == "f32" {
		kernel = kernels.Gather32Kernel
	}
	for j, v := range last.Outputs {
		if dt, _ := dtypeName(v.Type.DType); dt != dtype {
			return fmt.Errorf("output %s is %v and the input %s, the gather kernel copies one element type", v.Name, v.Type.DType, dtype)
		}
		pl, codes, pairs, err := p.placeOutput(v, res[j], batch, len(srcBufs))
		if err != nil {
			return err
		}
		// A table that is the identity in the output's logical order,
		// or in NHWC order for an image, makes the output a view.
		layouts := []string{LayoutNCHW}
		if pl != firstDim {
			layouts = []string{LayoutFlat}
		} else if len(v.Type.Shape) == 4 {
			layouts = append(layouts, LayoutNHWC)
		}
		viewed := false
		for _, layout := range layouts {
			if len(srcBufs) != 1 || len(last.Outputs) != 1 || !identityTable(pairs[0], srcBufs[0], p.sampleShapes[v], layout) {
				continue
			}
			if err := p.alias(v, srcBufs[0], layout); err != nil {
				return err
			}
			viewed = true
			break
		}
		if viewed {
			continue
		}
		layout := p.copyLayout(v)
		if pl != firstDim {
			layout = LayoutFlat
		}
		y, err := p.newBuffer(v, layout)
		if err != nil {
			return err
		}
		if int64(len(codes)) != y.ElemsPerSample*int64(batch) {
			return fmt.Errorf("output %s: the probe gave %d elements, want %d a sample at batch %d", v.Name, len(codes), y.ElemsPerSample, batch)
		}
		for k, entries := range pairs {
			if len(entries) == 0 {
				continue
			}
			tab := make([]uint32, 0, 2*len(entries))
			for _, e := range entries {
				tab = append(tab, e.src, uint32(memIndex(y, e.logical)))
			}
			x := srcBufs[k]
			run, starts := copyRuns(tab)
			period, dsrc, ddst := runPeriod(starts)
			wn := fmt.Sprintf("%s/gather%d_%d", last.Name, j, k)
			p.e.Weights = append(p.e.Weights, &engine.Weight{Name: wn, Kind: "u32", Data: leBytes(starts[:2*period])})
			elems := int64(len(tab) / 2)
			k, work := kernel, elems
			if kernels.Gather4Fits(starts[:2*period], run, int64(dsrc), int64(ddst), x.ElemsPerSample, y.ElemsPerSample) {
				k, work = kernels.Gather4Of(k), elems/4 // four elements a thread
			}
			p.useKernel(k, kernels.GatherPTX(k))
			p.e.Steps = append(p.e.Steps, &engine.Step{Node: last.Name, Op: last.Op, Kernel: k, Precision: precisionOf(dtype),
				WorkPerSample: uint64(work), WorkPerBlockX: kernels.OpThreads, GridY: 1, GridZ: 1, BlockX: kernels.OpThreads,
				Args: []*engine.Arg{bufArg(x), bufArg(y), weightArg(wn), perSample(work), u32(elems / run), u32(run),
					u32(int64(period)), u32(int64(dsrc)), u32(int64(ddst)), u32(x.ElemsPerSample), u32(y.ElemsPerSample)},
				Note: note})
		}
	}
	return nil
}

// probeEntry is one output element of a sample: the offset it reads in
// its input's memory, and its logical offset in the output.
type probeEntry struct {
	src     uint32
	logical int64
}

// decodeProbe turns the probe's output codes (batch samples) into, for
// each input, the entries of one sample, checking that every element is a
// copy, that no sample reads another and that all samples move alike.
func decodeProbe(name string, codes []int64, batch, inputs int) ([][]probeEntry, error) {
	if len(codes) == 0 || len(codes)%batch != 0 {
		// A Split along a static dim 0 (ONNX's test_split_equal_parts_1d):
		// the pieces are shorter than the batch.
		return nil, fmt.Errorf("output %s: %d elements at batch %d are no whole number a sample, the gather kernel keeps samples apart", name, len(codes), batch)
	}
	per := int64(len(codes) / batch)
	pairs := make([][]probeEntry, inputs)
	for li, c := range codes {
		s, rest := int64(li)/per, int64(li)%per
		if c <= 0 {
			return nil, fmt.Errorf("output %s: element %d is no copy of an input element (a fill value?), the gather kernel only copies", name, li)
		}
		c--
		k, cs, src := c>>codeInputShift, c>>codeSampleShift&0xff, c&(1<<codeSampleShift-1)
		if cs != s {
			return nil, fmt.Errorf("output %s: sample %d reads sample %d, the gather kernel keeps samples apart", name, s, cs)
		}
		if s > 0 {
			c0 := codes[rest] - 1
			if c0>>codeInputShift != k || c0&(1<<codeSampleShift-1) != src {
				return nil, fmt.Errorf("output %s: samples are moved differently, the gather kernel's table is one sample's", name)
			}
			continue
		}
		pairs[k] = append(pairs[k], probeEntry{src: uint32(src), logical: rest})
	}
	return pairs, nil
}

// identityTable reports whether entries copy x to an output of per-sample
// shape sample laid out in layout element for element in place: then the
// output is a view of x.
func identityTable(entries []probeEntry, x *engine.Buffer, sample []int64, layout string) bool {
	if int64(len(entries)) != x.ElemsPerSample {
		return false
	}
	y := &engine.Buffer{Layout: layout, SampleShape: sample}
	for _, e := range entries {
		if int64(e.src) != memIndex(y, e.logical) {
			return false
		}
	}
	return true
}

// placeOutput finds where the batch is in a gather output v from the
// probe's logical result at batch: of the places v's type allows
// (batchAxisCandidates), the first in which every sample reads only its
// own sample and all move alike. It records the place and the per-sample
// shape, and returns the codes in buffer order and the decoded table.
func (p *planner) placeOutput(v *ir.Value, res *ir.Tensor, batch, inputs int) (batchPlace, []int64, [][]probeEntry, error) {
	cands, err := batchAxisCandidates(v, res.Shape, batch)
	if err != nil {
		return batchPlace{}, nil, nil, err
	}
	dims := make([]int64, len(res.Shape))
	for i, d := range res.Shape {
		dims[i] = int64(d)
	}
	var first error
	for _, pl := range cands {
		sample := pl.sampleShape(dims)
		if pl == firstDim {
			sample = dims[1:]
		}
		codes := pl.toStorage(res, sample, batch).Int64s()
		pairs, err := decodeProbe(v.Name, codes, batch, inputs)
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		if pl != firstDim {
			p.places[v] = pl
		}
		p.sampleShapes[v] = sample
		return pl, codes, pairs, nil
	}
	return batchPlace{}, nil, nil, first
}

// runPeriod finds the shortest period of a list of run starts that repeats
// shifted by a constant (dsrc, ddst): a channel shuffle of NHWC images
// permutes the channels of every pixel alike, so one pixel's runs and the
// pixel stride describe all. It returns the run count itself (and zero
// shifts) when nothing shorter repeats.
func runPeriod(starts []uint32) (period int, dsrc, ddst uint32) {
	n := len(starts) / 2
	for period = 1; period < n; period++ {
		if n%period != 0 {
			continue
		}
		dsrc, ddst = starts[2*period]-starts[0], starts[2*period+1]-starts[1]
		ok := true
		for i := period; i < n && ok; i++ {
			ok = starts[2*i] == starts[2*(i-period)]+dsrc && starts[2*i+1] == starts[2*(i-period)+1]+ddst
		}
		if ok {
			return period, dsrc, ddst
		}
	}
	return n, 0, 0
}

// copyRuns compresses a copy table of (source, destination) pairs into runs
// of equal length: the largest run such that the table is whole runs each
// copying run consecutive elements to run consecutive places (a Concat of
// NHWC images moves rows of C elements, a channel shuffle planes of H·W).
// It returns the run length and the (source, destination) start of each
// run; run 1 is the table itself.
func copyRuns(tab []uint32) (int64, []uint32) {
	n := len(tab) / 2
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return tab[2*order[a]+1] < tab[2*order[b]+1] })
	// g: the gcd of the lengths of the maximal contiguous runs, in
	// destination order.
	g, length := 0, 1
	for i := 1; i <= n; i++ {
		if i < n {
			a, b := order[i-1], order[i]
			if tab[2*b] == tab[2*a]+1 && tab[2*b+1] == tab[2*a+1]+1 {
				length++
				continue
			}
		}
		g = gcd(g, length)
		length = 1
	}
	if g <= 1 {
		return 1, tab
	}
	starts := make([]uint32, 0, 2*(n/g))
	for i := 0; i < n; i += g {
		e := order[i]
		starts = append(starts, tab[2*e], tab[2*e+1])
	}
	return int64(g), starts
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func intsOf(v []int64) []int {
	out := make([]int, len(v))
	for i, d := range v {
		out[i] = int(d)
	}
	return out
}

// precisionOf names a buffer dtype as steps do.
func precisionOf(dtype string) string {
	if dtype == "i8" {
		return "int8"
	}
	return dtype
}

// hostFallback plans n as a host step: the runtime runs the reference
// executor on it between launches. Its arguments are the computed inputs'
// buffers (their count first) and then the outputs'.
func (p *planner) hostFallback(n *ir.Node, why string) error {
	if !ref.Supports(n.Op) {
		return fmt.Errorf("the reference executor has no kernel for op %s either", n.Op)
	}
	for _, v := range n.Inputs {
		if p.shapes.is(v) {
			return fmt.Errorf("input %s is a shape computed from the batch, which a host step does not know", v.Name)
		}
	}
	var ins, outs, places []*engine.Arg
	var dts []string
	moved := p.movedBatch(n)
	for _, v := range n.Outputs {
		moved = moved || v != nil && !batchFirstType(v)
	}
	for _, v := range n.Inputs {
		if v == nil || v.IsConst() {
			continue
		}
		b := p.bufs[v]
		if b == nil {
			return fmt.Errorf("input %s is not computed on the GPU", v.Name)
		}
		ins = append(ins, bufArg(b))
		dts = append(dts, b.Dtype)
		places = append(places, placeArgs(p.placeOf(v))...)
	}
	if moved {
		if err := p.placeHostOutputs(n); err != nil {
			return err
		}
	} else if err := p.keepsBatch(n); err != nil {
		return err
	}
	var outDts []string
	for _, v := range n.Outputs {
		if v == nil {
			return fmt.Errorf("an optional output is absent, a host step returns every output")
		}
		layout := fallbackLayout(v)
		if p.placeOf(v) != firstDim {
			layout = LayoutFlat
		}
		y, err := p.newBuffer(v, layout)
		if err != nil {
			return err
		}
		outs = append(outs, bufArg(y))
		outDts = append(outDts, y.Dtype)
		places = append(places, placeArgs(p.placeOf(v))...)
	}
	args := append([]*engine.Arg{u32(int64(len(ins)))}, append(ins, outs...)...)
	if moved {
		// Where the batch is in each input and output, that the
		// runtime converts the buffers from and to the logical order.
		args = append(args, places...)
	}
	prec := strings.Join(uniq(dts), ",") + "->" + strings.Join(uniq(outDts), ",")
	p.e.Steps = append(p.e.Steps, &engine.Step{Node: n.Name, Op: n.Op, Kernel: HostKernel, Precision: prec,
		WorkPerSample: 1, WorkPerBlockX: 1, GridY: 1, GridZ: 1, BlockX: 1, Args: args,
		Note: hostNote + " (reference executor on the CPU, between launches): " + why})
	return nil
}

// keepsBatch checks that every output of n has the batch of n's computed
// inputs as its dim 0, as the engine's batch-first buffers hold it. A node
// across the batch of a static-shaped graph (a reduction or a Concat along
// dim 0, a Transpose or a Flatten that moves it: ONNX's node tests at
// batch 2 or 3) gives an output whose dim 0 is another size: a buffer of
// that output's per-sample shape would hold batch times too much or too
// little, and its readers would read other samples' rows. The host step
// runs the node on the whole batch, so the batch staying put is all it
// needs. Dims shape inference left unknown are not held against the node.
func (p *planner) keepsBatch(n *ir.Node) error {
	var batch *ir.Dim
	for _, v := range n.Inputs {
		if v == nil || v.IsConst() || len(v.Type.Shape) == 0 || p.placeOf(v) != firstDim {
			continue
		}
		d := v.Type.Shape[0]
		switch {
		case !d.Known() && d.Sym != "":
			batch = &d // the batch's symbol beats a broadcast static 1
		case d.Known() && (batch == nil || batch.Known() && batch.Size != d.Size && batch.Size == 1):
			batch = &d
		}
	}
	if batch == nil {
		return nil
	}
	for _, v := range n.Outputs {
		if v == nil || len(v.Type.Shape) == 0 {
			continue
		}
		d := v.Type.Shape[0]
		if d.Known() && (!batch.Known() || d.Size != batch.Size) || !d.Known() && d.Sym != "" && (batch.Known() || d.Sym != batch.Sym) {
			return fmt.Errorf("output %s has dim 0 %v where the inputs have the batch %v: the node works across the batch, and the engine holds every value batch first", v.Name, d, *batch)
		}
	}
	return nil
}

// placeArgs are a batch place as host step arguments: axis, outer, inner.
func placeArgs(b batchPlace) []*engine.Arg {
	return []*engine.Arg{u32(int64(b.Axis)), u32(int64(b.Outer)), u32(int64(b.Inner))}
}

// placeHostOutputs works out where the batch is in the outputs of a host
// step that reads a moved batch: the output shapes at batches 2 and 3
// (shape inference on the inputs' logical shapes) differ in one dim, c·N
// long; the split of c follows an input whose dim as far from the end is
// as long, else the batch is outermost in the dim. Any split describes the
// buffer consistently, as the host step writes it and its readers read it.
func (p *planner) placeHostOutputs(n *ir.Node) error {
	var at [2][]ir.Type
	for k, batch := range []int{2, 3} {
		var types []ir.Type
		var consts []*ir.Tensor
		for _, v := range n.Inputs {
			switch {
			case v == nil:
				types, consts = append(types, ir.Type{}), append(consts, nil)
			case v.IsConst():
				types, consts = append(types, v.Type), append(consts, v.Const)
			default:
				dims, err := p.logicalDims(v, batch)
				if err != nil {
					return err
				}
				t := ir.Type{DType: v.Type.DType}
				for _, d := range dims {
					t.Shape = append(t.Shape, ir.D(d))
				}
				types, consts = append(types, t), append(consts, nil)
			}
		}
		out, err := ir.InferTypes(n, types, consts)
		if err != nil {
			return fmt.Errorf("inferring the output shapes at batch %d: %w", batch, err)
		}
		at[k] = out
	}
	for j, v := range n.Outputs {
		if v == nil || j >= len(at[0]) {
			continue
		}
		a, b := at[0][j].Shape, at[1][j].Shape
		axis := -1
		for i := range a {
			if !a[i].Known() || !b[i].Known() {
				return fmt.Errorf("output %s: shape %v at batch 2", v.Name, a)
			}
			if a[i].Size != b[i].Size {
				if axis >= 0 || a[i].Size%2 != 0 || b[i].Size != a[i].Size/2*3 {
					return fmt.Errorf("output %s is %v at batch 2 and %v at batch 3, want one dim a multiple of the batch", v.Name, a, b)
				}
				axis = i
			}
		}
		if axis < 0 {
			return fmt.Errorf("output %s is %v at every batch: it does not follow the batch", v.Name, a)
		}
		c := int(a[axis].Size / 2)
		pl := batchPlace{Axis: axis, Outer: 1, Inner: c}
		for _, in := range n.Inputs {
			if in == nil || in.IsConst() {
				continue
			}
			q := p.placeOf(in)
			if q.Outer*q.Inner == c && len(in.Type.Shape)-q.Axis == len(a)-axis {
				pl = batchPlace{Axis: axis, Outer: q.Outer, Inner: q.Inner}
				break
			}
		}
		dims := make([]int64, len(a))
		for i, d := range a {
			dims[i] = d.Size
		}
		if pl.Outer*pl.Inner == 1 && axis == 0 {
			pl = firstDim
		} else {
			p.places[v] = pl
		}
		p.sampleShapes[v] = pl.sampleShape(dims)
	}
	return nil
}

func uniq(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return []string{"-"}
	}
	return out
}

// Fallbacks lists the nodes of e that run on a fallback, once each, in
// launch order: the compile report and `sqc inspect` print them.
func Fallbacks(e *engine.Engine) []Fallback {
	var out []Fallback
	seen := map[string]bool{}
	for _, s := range e.Steps {
		how := ""
		switch {
		case strings.HasPrefix(s.Note, gatherNote):
			how = "gather"
		case strings.HasPrefix(s.Note, hostNote):
			how = "host"
		default:
			continue
		}
		if seen[s.Node] {
			continue
		}
		seen[s.Node] = true
		why := s.Note
		if i := strings.Index(why, "): "); i >= 0 {
			why = why[i+3:]
		}
		out = append(out, Fallback{Node: s.Node, Op: s.Op, How: how, Why: why})
	}
	return out
}

// FallbackSummary counts fallback nodes by op and kind ("3 Concat on
// gather, 1 HardSwish on host"), for one-line reports.
func FallbackSummary(fb []Fallback) string {
	count := map[string]int{}
	for _, f := range fb {
		count[f.Op+" on "+f.How]++
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", count[k], k)
	}
	return strings.Join(parts, ", ")
}

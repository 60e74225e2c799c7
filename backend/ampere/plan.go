// Package ampere is the Ampere (sm_80 and later) backend: it plans a
// lowered INT8 graph onto the kernels of package kernels, packs the
// weights (package pack) and writes the engine (package engine); at run
// time it loads an engine through package cuda and runs it.
//
// Activations live on the GPU in NHWC order: the graph's NCHW float input
// is quantized straight into NHWC int8 (the layout change is free in the
// quantize kernel), every convolution reads and writes NHWC rows (one row
// a pixel, the GEMM's layout), and a graph output that is still 4-D NHWC
// is transposed back to NCHW on the host after the download.
package ampere

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"strings"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/backend/ampere/pack"
	"github.com/sqc-project/sqc/backend/ampere/tuning"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
)

// Layouts of a buffer.
const (
	LayoutNCHW = "nchw"
	LayoutNHWC = "nhwc"
	LayoutFlat = "flat"
)

// implicitConv routes a QConv whose input channels are a multiple of 16
// through the implicit-GEMM kernel (kernels.GemmConfig.Conv) rather than
// the im2col kernel and the GEMM: bit-exact like it, without writing and
// re-reading the im2col matrix. A variable so that tests cover both paths.
var implicitConv = true

// residualTile gives every residual GEMM and convolution whose residual
// rows are 16-byte aligned the kernel that copies the block's residual
// tile into shared memory with 16-byte copies
// (kernels.GemmConfig.ResidualTile) instead of loading one byte an output
// element: same arithmetic, bit-exact. Not a tuning option (nothing to
// choose: the same kernel with fewer, wider loads). A variable so that
// tests cover both kernels.
var residualTile = true

// haloConv makes the heuristic (heuristicVariant) pick the halo-tile kernel
// (kernels.GemmConfig.Halo, the "halo" option) for a layer it can run
// (kernels.SupportsHalo); sqc tune times it as a candidate either way. The
// rule is what ResNet-34's engines measured on an H100, halo against the
// heuristic's implicit-GEMM kernel in place (backend/ampere/NOTES.md): on
// 56×56 and 7×7 images both kernels gain (2:4 up to 1.16×, dense 1.05–1.11×
// on layer4), on 14×14 the 2:4 one gains 0–2 % and the dense one loses, on
// 28×28 both lose (2:4 2–6 %); and where the 7-row patches take it
// (halo7Rule), on 14×14 and 28×28 too: they gain 1.06–1.10× over 8-row ones
// there, enough to pass the implicit GEMM. With the halo tile the engines
// equal the reference executor bit for bit. A variable so that tests cover
// both kernels.
var haloConv = func(l gemmLayer) bool {
	return l.conv.OH <= 7 || l.conv.OH >= 56 || l.sparse24 && l.conv.OH <= 14 || halo7Rule(l)
}

// halo7Rule says whether the throughput heuristic runs a wide (128 output
// channels or more) halo layer on 7-row patches (kernels.GemmConfig.Halo7,
// the "h7" option): where they compute fewer rows than 8-row ones
// (halo7Saves), but not on the 2:4 kernel on images of 7 rows or fewer.
// TestPerfMainLoop, batch 256, int8 + relu, on an H200 (2026-12-07), 8-row
// then 7-row patches, µs: 28×28×128 dense 114.8 → 106.5, 2:4 88.3 → 80.6;
// 14×14×256 dense 103.6 → 94.8, 2:4 75.3 → 71.1; 7×7×512 dense 98.2 →
// 89.2, 2:4 69.3 → 82.0: the 2:4 7-row kernel fits three blocks an SM
// (the 8-row two), and layer4's 512 blocks then make 1.3 waves instead of
// 1.9. The engine's implicit-GEMM kernels on 28×28 and 14×14 took 86.9 and
// 108.9 (2:4 and dense, 28×28) and 97.7 (dense, 14×14) in the same
// machine's engine profile. Bit-exact on the H200 (TestHaloConvBitExact's
// "_h7" cases). The latency heuristic keeps 8-row patches (unmeasured at
// batch 1).
func halo7Rule(l gemmLayer) bool {
	return l.n >= 128 && l.conv != nil && kernels.SupportsHalo(*l.conv) && halo7Saves(*l.conv) && !(l.sparse24 && l.conv.OH <= 7)
}

// vectorPool runs int8 max pools with C a multiple of 16 on the 16-channel
// kernel (kernels.MaxPool16Kernel). A variable so that tests cover both.
var vectorPool = true

type planner struct {
	g       *ir.Graph
	e       *engine.Engine
	bufs    map[*ir.Value]*engine.Buffer
	kernels map[string]bool
	users   map[*ir.Value][]*ir.Node
	// absorbed holds nodes another node's kernel already computes (the
	// stem's SpaceToDepth and channel Pad, fused into its quantize).
	absorbed map[*ir.Node]bool
	// deferred holds data-movement nodes planned later with the one node
	// that reads them, as one gather chain, by their output (planNode
	// makes it).
	deferred map[*ir.Value]*ir.Node
	// nhwcOf holds the NHWC copies of NCHW images (asNHWC), by name.
	nhwcOf map[string]*engine.Buffer
	// shapes holds the graph's shape arithmetic on the batch
	// (plan_shape.go).
	shapes *shapeValues
	// places says where the batch is in values whose batch is not their
	// first dim (plan_place.go).
	places map[*ir.Value]batchPlace
	// sampleShapes gives the per-sample shape of values whose type leaves
	// dims unknown that the planner worked out (batchScaledShape).
	sampleShapes map[*ir.Value][]int64
	// packed maps weight constants to the GEMM node whose packed weights
	// hold them (NODE/w, NODE/e): the engine's graph text refers to
	// those instead of carrying the data twice.
	packed map[*ir.Value]string
	opts   PlanOptions
	// gemms are the GEMM layers planned, in order (sqc tune times them).
	gemms []plannedGemm
	// otherGPU lists, by GPU, the layers the tuning cache has for that
	// GPU only (warnOtherGPU).
	otherGPU map[string][]string
}

// plannedGemm is a GEMM layer and the kernel the plan gave it.
type plannedGemm struct {
	node   string
	layer  gemmLayer
	choice gemmChoice
}

// Plan lowers g, the output of the INT8 pipeline, to an engine: one or
// more kernel launches per node, packed weights, the PTX of every kernel
// used. A node no op planner covers runs on a fallback (planNode); only a
// node no fallback can take either is an error that names it.
func Plan(g *ir.Graph, producer string) (*engine.Engine, error) {
	return PlanWith(g, producer, PlanOptions{})
}

// PlanWith is Plan with a tuning cache (or none) choosing the GEMM
// kernels (plan_variant.go).
func PlanWith(g *ir.Graph, producer string, opts PlanOptions) (*engine.Engine, error) {
	p, err := planGraph(g, producer, nil, true, opts)
	if err != nil {
		return nil, err
	}
	if opts.SmallBatch != nil {
		if err := addSmallBatchPlan(p.e, g, producer, *opts.SmallBatch, opts.Warn); err != nil {
			return nil, err
		}
	}
	return p.e, nil
}

// newPlanner starts the plan of g.
func newPlanner(g *ir.Graph, producer string) *planner {
	p := &planner{g: g, shapes: newShapeValues(g), places: map[*ir.Value]batchPlace{}, bufs: map[*ir.Value]*engine.Buffer{}, kernels: map[string]bool{}, users: g.Users(),
		nhwcOf: map[string]*engine.Buffer{}, sampleShapes: map[*ir.Value][]int64{}, packed: map[*ir.Value]string{}, otherGPU: map[string][]string{},
		e: &engine.Engine{Target: &engine.Target{Arch: "sm_80", PtxVersion: "8.5"}, Producer: producer}}
	p.shapes.dimsOf = p.logicalDims
	return p
}

// planWithInputLayouts is Plan with the graph inputs named in nhwc held in
// NHWC order, and f32 inputs required or not: tests use it to start a plan
// from int8 or NHWC buffers.
func planWithInputLayouts(g *ir.Graph, producer string, nhwc map[string]bool, f32Inputs bool) (*engine.Engine, error) {
	p, err := planGraph(g, producer, nhwc, f32Inputs, PlanOptions{})
	if err != nil {
		return nil, err
	}
	return p.e, nil
}

// planGraph plans g with opts; the planner it returns holds the engine
// and what was chosen for each GEMM.
func planGraph(g *ir.Graph, producer string, nhwc map[string]bool, f32Inputs bool, opts PlanOptions) (*planner, error) {
	g, err := foldConstantNodes(g)
	if err != nil {
		return nil, err
	}
	g = foldStaticShapes(g)
	p := newPlanner(g, producer)
	p.opts = opts
	for _, v := range g.Inputs {
		layout := LayoutNCHW
		if nhwc[v.Name] {
			layout = LayoutNHWC
		}
		b, err := p.newBuffer(v, layout)
		if err != nil {
			return nil, err
		}
		if f32Inputs && v.Type.DType != ir.Float32 {
			return nil, fmt.Errorf("graph input %s is %v, the GPU runtime takes f32 inputs", v.Name, v.Type.DType)
		}
		p.e.Inputs = append(p.e.Inputs, b.Name)
	}
	var plannedWith []*ir.Node // the node being planned when each step was
	for _, n := range g.Nodes {
		if err := p.planNode(n); err != nil {
			return nil, fmt.Errorf("node %q (%s): %w", n.Name, n.Op, err)
		}
		for len(plannedWith) < len(p.e.Steps) {
			plannedWith = append(plannedWith, n)
		}
	}
	p.markWrites(plannedWith)
	for _, v := range g.Outputs {
		b := p.bufs[v]
		if b == nil {
			return nil, fmt.Errorf("graph output %s is no computed value (a constant or an input), which the GPU runtime does not return", v.Name)
		}
		if pl := p.placeOf(v); pl != firstDim {
			return nil, fmt.Errorf("graph output %s has the batch at %v, the GPU runtime returns outputs batch first", v.Name, pl)
		}
		p.e.Outputs = append(p.e.Outputs, b.Name)
	}
	// The graph's text, for sqc run --cpu and inspect; weights the GEMMs
	// hold packed, and float constants a kernel reads as they are, are
	// references to the engine's weights, not a second copy (Graph reads
	// them back).
	var text bytes.Buffer
	w := bufio.NewWriter(&text)
	floats := floatWeightRefs(g, p.e.Weights)
	external := func(v *ir.Value) (string, bool) {
		if key, ok := p.packed[v]; ok {
			return key, true
		}
		key, ok := floats[v]
		return key, ok
	}
	if err := sqir.PrintWith(w, g, sqir.PrintOptions{External: external}); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	p.e.Graph = text.String()
	p.warnOtherGPU()
	return p, nil
}

func dtypeName(dt ir.DType) (string, error) {
	switch dt {
	case ir.Int8:
		return "i8", nil
	case ir.Float32:
		return "f32", nil
	}
	return "", fmt.Errorf("element type %v, the GPU runtime handles i8 and f32", dt)
}

// newBuffer gives v a device buffer, sized per sample: dim 0 is the batch.
func (p *planner) newBuffer(v *ir.Value, layout string) (*engine.Buffer, error) {
	dt, err := dtypeName(v.Type.DType)
	if err != nil {
		return nil, fmt.Errorf("value %s: %w", v.Name, err)
	}
	sh := v.Type.Shape
	if len(sh) < 1 {
		return nil, fmt.Errorf("value %s is a scalar, want a batch dim first", v.Name)
	}
	b := &engine.Buffer{Name: v.Name, Dtype: dt, ElemsPerSample: 1, Layout: layout}
	if dims, ok := p.sampleShapes[v]; ok {
		sh = ir.Shape{sh[0]}
		for _, d := range dims {
			sh = append(sh, ir.D(d))
		}
	}
	for _, d := range sh[1:] {
		if !d.Known() {
			return nil, fmt.Errorf("value %s has shape %v: only the batch dim may be symbolic", v.Name, sh)
		}
		b.SampleShape = append(b.SampleShape, d.Size)
		b.ElemsPerSample *= d.Size
	}
	if len(sh) != 4 && layout != LayoutFlat {
		b.Layout = LayoutFlat
	}
	p.bufs[v] = b
	p.e.Buffers = append(p.e.Buffers, b)
	return b, nil
}

// scratch adds a buffer no graph value owns (im2col matrices, transposes).
func (p *planner) scratch(name, dt string, perSample int64) *engine.Buffer {
	b := &engine.Buffer{Name: name, Dtype: dt, ElemsPerSample: perSample, SampleShape: []int64{perSample}, Layout: LayoutFlat}
	p.e.Buffers = append(p.e.Buffers, b)
	return b
}

func (p *planner) input(n *ir.Node, i int) (*engine.Buffer, error) {
	if i >= len(n.Inputs) || n.Inputs[i] == nil {
		return nil, fmt.Errorf("input %d is missing", i)
	}
	b := p.bufs[n.Inputs[i]]
	if b == nil {
		return nil, fmt.Errorf("input %s is not computed on the GPU (a constant activation?)", n.Inputs[i].Name)
	}
	return b, nil
}

func (p *planner) useKernel(name, ptx string) {
	if p.kernels[name] {
		return
	}
	p.kernels[name] = true
	p.e.Kernels = append(p.e.Kernels, &engine.Kernel{Name: name, Ptx: ptx})
}

func (p *planner) opKernel(name string) error {
	if p.kernels[name] {
		return nil
	}
	ptx, err := kernels.OpPTX(name)
	if err != nil {
		return err
	}
	p.useKernel(name, ptx)
	return nil
}

// elementwise adds a launch of an op kernel over perSample elements a sample.
func (p *planner) elementwise(n *ir.Node, kernel, precision, note string, perSample int64, args ...*engine.Arg) error {
	if err := p.opKernel(kernel); err != nil {
		return err
	}
	p.e.Steps = append(p.e.Steps, &engine.Step{Node: n.Name, Op: n.Op, Kernel: kernel, Precision: precision,
		WorkPerSample: uint64(perSample), WorkPerBlockX: kernels.OpThreads, GridY: 1, GridZ: 1, BlockX: kernels.OpThreads,
		Args: args, Note: note})
	return nil
}

func bufArg(b *engine.Buffer) *engine.Arg { return &engine.Arg{V: &engine.Arg_Buffer{Buffer: b.Name}} }
func weightArg(n string) *engine.Arg      { return &engine.Arg{V: &engine.Arg_Weight{Weight: n}} }
func runtimeArg(n string) *engine.Arg     { return &engine.Arg{V: &engine.Arg_Runtime{Runtime: n}} }
func u32(v int64) *engine.Arg             { return &engine.Arg{V: &engine.Arg_U32{U32: uint32(v)}} }
func s32(v int32) *engine.Arg             { return &engine.Arg{V: &engine.Arg_S32{S32: v}} }
func f32(v float32) *engine.Arg           { return &engine.Arg{V: &engine.Arg_F32{F32: v}} }
func perSample(v int64) *engine.Arg {
	return &engine.Arg{V: &engine.Arg_U32PerSample{U32PerSample: uint32(v)}}
}
func (p *planner) alias(v *ir.Value, of *engine.Buffer, layout string) error {
	b, err := p.newBuffer(v, layout)
	if err != nil {
		return err
	}
	if b.ElemsPerSample != of.ElemsPerSample || b.Dtype != of.Dtype {
		return fmt.Errorf("output %s (%d %s a sample) cannot view input %s (%d %s)", v.Name, b.ElemsPerSample, b.Dtype, of.Name, of.ElemsPerSample, of.Dtype)
	}
	b.AliasOf = of.Name
	if of.AliasOf != "" {
		b.AliasOf = of.AliasOf
	}
	return nil
}

// scalarQuant reads a per-tensor scale and zero point.
func scalarQuant(n *ir.Node) (float32, int32, error) {
	s := n.Inputs[1]
	if s == nil || !s.IsConst() || s.Const.Len() != 1 || s.Const.DType != ir.Float32 {
		return 0, 0, fmt.Errorf("the scale must be one f32 constant (per-tensor quantization)")
	}
	var zp int32
	if len(n.Inputs) > 2 && n.Inputs[2] != nil {
		z := n.Inputs[2]
		if !z.IsConst() || z.Const.Len() != 1 {
			return 0, 0, fmt.Errorf("the zero point must be one constant")
		}
		zp = int32(z.Const.AsInt64(0))
	}
	return s.Const.Float32s()[0], zp, nil
}

// quantize plans a QuantizeLinear from f32 to i8: an NCHW input becomes
// NHWC on the way (the layout change is free in the kernel).
func (p *planner) quantize(n *ir.Node) error {
	x, err := p.input(n, 0)
	if err != nil {
		return err
	}
	if x.Dtype != "f32" || n.Outputs[0].Type.DType != ir.Int8 {
		return fmt.Errorf("quantizes %s to %v, the GPU kernel does f32 to i8", x.Dtype, n.Outputs[0].Type.DType)
	}
	s, zp, err := scalarQuant(n)
	if err != nil {
		return err
	}
	if ok, err := p.quantizePixels(n, x, s, zp); ok || err != nil {
		return err
	}
	c, hw, layout := int64(1), int64(1), x.Layout
	if x.Layout == LayoutNCHW && !p.readAsRows(n.Outputs[0]) {
		c, hw, layout = x.SampleShape[0], x.SampleShape[1]*x.SampleShape[2], LayoutNHWC
	}
	y, err := p.newBuffer(n.Outputs[0], layout)
	if err != nil {
		return err
	}
	note := ""
	if layout != x.Layout {
		note = "NCHW to NHWC"
	}
	if c == 1 && hw == 1 && x.ElemsPerSample%4 == 0 {
		// No relayout: four elements a thread, vector loads and stores.
		return p.elementwise(n, kernels.Quantize4Kernel, "f32->int8", note, x.ElemsPerSample/4, bufArg(x), bufArg(y), perSample(x.ElemsPerSample/4), s32(zp), f32(s))
	}
	return p.elementwise(n, kernels.QuantizeKernel, "f32->int8", note, x.ElemsPerSample, bufArg(x), bufArg(y), perSample(x.ElemsPerSample), u32(c), u32(hw), s32(zp), f32(s))
}

// quantizePixels plans the QuantizeLinear of an NCHW image whose only
// reader is a SpaceToDepth, a channel Pad with the zero point (what
// pad-channels and space-to-depth put in front of an RGB stem), or the one
// then the other, as one QuantizePixelKernel launch that writes the last
// one's NHWC output: without it the stem's input crossed memory three
// times, byte by byte (quantize, then the Pad alone took 200 µs of a 4.1 ms
// ResNet-34 batch of 256 on an H100). It reports false, planning nothing,
// when the pattern is not there.
func (p *planner) quantizePixels(n *ir.Node, x *engine.Buffer, scale float32, zp int32) (bool, error) {
	if x.Layout != LayoutNCHW || len(x.SampleShape) != 3 {
		return false, nil
	}
	c, h, w := x.SampleShape[0], x.SampleShape[1], x.SampleShape[2]
	bs, cp := int64(1), c
	v := n.Outputs[0]
	var fused []*ir.Node
	next := func() *ir.Node {
		if p.g.IsOutput(v) || len(p.users[v]) != 1 {
			return nil
		}
		return p.users[v][0]
	}
	if r := next(); r != nil && r.Op == "SpaceToDepth" && r.Inputs[0] == v {
		b := r.Attrs.Int("blocksize", 0)
		if b < 2 || h%int64(b) != 0 || w%int64(b) != 0 {
			return false, nil
		}
		bs, cp = int64(b), c*int64(b*b)
		fused, v = append(fused, r), r.Outputs[0]
	}
	if r := next(); r != nil && r.Op == "Pad" && r.Inputs[0] == v {
		if to, ok := channelPad(r, zp); ok && to > cp {
			fused, v, cp = append(fused, r), r.Outputs[0], to
		}
	}
	if len(fused) == 0 || cp%4 != 0 || cp > kernels.MaxQuantizePixelChannels {
		return false, nil
	}
	y, err := p.newBuffer(v, LayoutNHWC)
	if err != nil {
		return true, err
	}
	if y.ElemsPerSample != cp*(h/bs)*(w/bs) {
		return true, fmt.Errorf("output %s has %d elements a sample, want %d×%d×%d", v.Name, y.ElemsPerSample, cp, h/bs, w/bs)
	}
	if p.absorbed == nil {
		p.absorbed = map[*ir.Node]bool{}
	}
	names := make([]string, len(fused))
	for i, f := range fused {
		p.absorbed[f] = true
		names[i] = f.Name
	}
	note := fmt.Sprintf("NCHW to NHWC, %d channels a pixel (fused: %s)", cp, strings.Join(names, ", "))
	pixels := (h / bs) * (w / bs)
	// A SpaceToDepth of 2 or 4 reads each (channel, row)'s input pixels in
	// one vector load, two output pixels a thread where a row holds an
	// even number of them (the pairs then never straddle rows or samples).
	kernel, threads := kernels.QuantizePixelKernel(int(cp)), pixels
	// The vector kernel where it fits: on the H100 (TestPerfStemQuantize,
	// ResNet's 3×224×224 at batch 256, 2026-12-07) 72–73 µs against 105
	// for the scalar one (1.46×), one or two pixels a thread alike.
	if kernels.QuantizePixelVecFits(int(cp), int(c), int(bs)) {
		pix := int64(1)
		if (w/bs)%2 == 0 && !(p.opts.OptBatch >= 1 && p.opts.OptBatch <= LatencyBatch && latencyStemPixels == 1) {
			pix = 2
		}
		kernel, threads = kernels.QuantizePixelVecKernel(int(cp), int(c), int(bs), int(pix)), pixels/pix
	}
	return true, p.elementwise(n, kernel, "f32->int8", note, threads, bufArg(x), bufArg(y), perSample(threads),
		u32(c), u32(h), u32(w), u32(h/bs), u32(w/bs), u32(bs), s32(zp), f32(scale))
}

// latencyStemPixels is the pixels a thread of the stem's vector quantize
// (QuantizePixelVecKernel) for the latency heuristic (OptBatch up to
// LatencyBatch): 2 as for throughput, or 1. At batch 1 ResNet's 112×112
// output pixels two a thread are 25 blocks of 256 threads for 132 SMs
// (8.7 µs in the H100's batch-1 profile, event overhead included), one a
// thread 49 blocks with half the serial divisions a thread. 2 until
// TestPerfStemQuantize's batch-1 rows (gputest) say otherwise.
var latencyStemPixels = 2

// channelPad reports the channel count a constant-mode Pad of an NCHW
// rank-4 value pads to when it appends zero-point channels and nothing
// else.
func channelPad(n *ir.Node, zp int32) (int64, bool) {
	x := n.Inputs[0]
	if n.Attrs.String("mode", "constant") != "constant" || len(x.Type.Shape) != 4 || !x.Type.Shape[1].Known() {
		return 0, false
	}
	ints := func(i int) ([]int64, bool) {
		if len(n.Inputs) <= i || n.Inputs[i] == nil {
			return nil, true
		}
		v := n.Inputs[i]
		if !v.IsConst() {
			return nil, false
		}
		out := make([]int64, v.Const.Len())
		for j := range out {
			out[j] = v.Const.AsInt64(j)
		}
		return out, true
	}
	pads, ok1 := ints(1)
	axes, ok2 := ints(3)
	if !ok1 || !ok2 || pads == nil {
		return 0, false
	}
	begin, end, err := ir.ResolvePads(4, pads, axes)
	if err != nil {
		return 0, false
	}
	for i := range begin {
		if begin[i] != 0 || i != 1 && end[i] != 0 {
			return 0, false
		}
	}
	var value int64
	if cv := n.Input(2); cv != nil {
		if !cv.IsConst() || cv.Const.Len() != 1 || cv.Const.DType != ir.Int8 {
			return 0, false
		}
		value = cv.Const.AsInt64(0)
	}
	if value != int64(zp) {
		return 0, false
	}
	return x.Type.Shape[1].Size + end[1], true
}

// dequantize plans a DequantizeLinear from i8 to f32, in the input's layout.
func (p *planner) dequantize(n *ir.Node) error {
	x, err := p.input(n, 0)
	if err != nil {
		return err
	}
	if x.Dtype != "i8" {
		return fmt.Errorf("dequantizes %s, the GPU kernel does i8", x.Dtype)
	}
	s, zp, err := scalarQuant(n)
	if err != nil {
		return err
	}
	y, err := p.newBuffer(n.Outputs[0], x.Layout)
	if err != nil {
		return err
	}
	if x.ElemsPerSample%4 == 0 {
		// Four elements a thread, vector loads and stores.
		return p.elementwise(n, kernels.Dequantize4Kernel, "int8->f32", "", x.ElemsPerSample/4, bufArg(x), bufArg(y), perSample(x.ElemsPerSample/4), s32(zp), f32(s))
	}
	return p.elementwise(n, kernels.DequantizeKernel, "int8->f32", "", x.ElemsPerSample, bufArg(x), bufArg(y), perSample(x.ElemsPerSample), s32(zp), f32(s))
}

// globalAverage plans a GlobalAveragePool, or a ReduceMean that is one
// (spatialMean), of f32 images.
func (p *planner) globalAverage(n *ir.Node) error {
	if n.Op == "ReduceMean" {
		if err := spatialMean(n); err != nil {
			return err
		}
	}
	x, err := p.input(n, 0)
	if err != nil {
		return err
	}
	if x.Dtype != "f32" || len(x.SampleShape) != 3 {
		return fmt.Errorf("input %s is %s of rank %d, the GPU kernel pools f32 NCHW/NHWC 2-D images", x.Name, x.Dtype, len(x.SampleShape)+1)
	}
	if x.SampleShape[1]*x.SampleShape[2] != 1 {
		if x, err = p.asNHWC(n, x); err != nil {
			return err
		}
	}
	c, hw := x.SampleShape[0], x.SampleShape[1]*x.SampleShape[2]
	if x.Layout != LayoutNHWC && hw != 1 {
		return fmt.Errorf("input %s is in %s order, the GPU kernel reads NHWC", x.Name, x.Layout)
	}
	if q := p.quantizeOnlyReader(n.Outputs[0]); q != nil {
		return p.globalAverageQuantize(n, q, x, c, hw)
	}
	// A 1×1 image is the same bytes in every order: call it NCHW, so that
	// image readers (a squeeze-and-excitation block's 1×1 convolutions)
	// take it as one.
	y, err := p.newBuffer(n.Outputs[0], LayoutNCHW)
	if err != nil {
		return err
	}
	return p.elementwise(n, kernels.GapKernel, "f32", "", c, bufArg(x), bufArg(y), perSample(c), u32(c), u32(hw))
}

// quantizeOnlyReader returns the QuantizeLinear that is v's only reader
// (v no graph output), when it quantizes v to int8 with a per-tensor
// scale and zero point; else nil.
func (p *planner) quantizeOnlyReader(v *ir.Value) *ir.Node {
	if p.g.IsOutput(v) || len(p.users[v]) != 1 {
		return nil
	}
	q := p.users[v][0]
	if q.Op != "QuantizeLinear" || q.Inputs[0] != v || len(q.Outputs) != 1 || q.Outputs[0].Type.DType != ir.Int8 {
		return nil
	}
	for _, in := range q.Inputs[1:] {
		if in == v {
			return nil
		}
	}
	if _, _, err := scalarQuant(q); err != nil {
		return nil
	}
	return q
}

// globalAverageQuantize plans the global average pool n of NHWC x (c
// channels of hw pixels) and the QuantizeLinear q that is its only reader
// as one GapQuantizeKernel launch, which writes q's int8 output: the
// pooled means never go to memory, and a launch is saved (a classifier
// head: ResNet-34's avgpool and its quantize took 6.1 + 3.7 µs of the
// batch-1 profile on the H100). The arithmetic is the two kernels',
// operation for operation. q is absorbed; its output is laid out as
// quantize would lay out a 1×1 image (the same bytes in every order).
func (p *planner) globalAverageQuantize(n, q *ir.Node, x *engine.Buffer, c, hw int64) error {
	s, zp, err := scalarQuant(q)
	if err != nil {
		return err
	}
	layout := LayoutNCHW
	if !p.readAsRows(q.Outputs[0]) {
		layout = LayoutNHWC
	}
	y, err := p.newBuffer(q.Outputs[0], layout)
	if err != nil {
		return err
	}
	if y.ElemsPerSample != c {
		return fmt.Errorf("output %s of %s has %d elements a sample, want the %d pooled channels", q.Outputs[0].Name, q.Name, y.ElemsPerSample, c)
	}
	if p.absorbed == nil {
		p.absorbed = map[*ir.Node]bool{}
	}
	p.absorbed[q] = true
	note := fmt.Sprintf("%s + %s in one kernel: the f32 means quantized in registers", n.Name, q.Name)
	if err := p.elementwise(n, kernels.GapQuantizeKernel, "f32->int8", note, c, bufArg(x), bufArg(y), perSample(c), u32(c), u32(hw), s32(zp), f32(s)); err != nil {
		return err
	}
	st := p.e.Steps[len(p.e.Steps)-1]
	st.Op += "+" + q.Op // one word: bench/gpu/report.py splits --profile rows on spaces
	return nil
}

// view plans Flatten, Reshape, Relayout and Identity as aliases of their
// input's buffer, after an NHWC-to-NCHW transpose when a reshape needs the
// elements in NCHW order.
func (p *planner) view(n *ir.Node) error {
	x, err := p.input(n, 0)
	if err != nil {
		return err
	}
	if n.Op == "Relayout" || n.Op == "Identity" {
		return p.alias(n.Outputs[0], x, x.Layout)
	}
	if x.Layout == LayoutNHWC && x.SampleShape[1]*x.SampleShape[2] != 1 {
		// The reshape is defined on NCHW order: transpose first.
		t := p.scratch(n.Name+"/nchw", x.Dtype, x.ElemsPerSample)
		if err := p.toNCHW(n, x, t); err != nil {
			return err
		}
		x = t
	}
	layout := LayoutFlat
	if len(n.Outputs[0].Type.Shape) == 4 {
		layout = LayoutNCHW
	}
	if n.Op == "Reshape" && !n.Outputs[0].Type.Shape[1:].Static() && len(n.Inputs) > 1 && !n.Inputs[1].IsConst() {
		sample, err := p.batchScaledShape(n)
		if err != nil {
			return err
		}
		p.sampleShapes[n.Outputs[0]] = sample
	}
	return p.alias(n.Outputs[0], x, layout)
}

func (p *planner) maxPool(n *ir.Node) error {
	x, err := p.input(n, 0)
	if err != nil {
		return err
	}
	if len(n.Outputs) > 1 && n.Outputs[1] != nil {
		return fmt.Errorf("the GPU max pool returns no indices")
	}
	if x, err = p.asNHWC(n, x); err != nil {
		return err
	}
	if x.Layout != LayoutNHWC {
		return fmt.Errorf("input %s is %s %s, the GPU max pool reads NHWC images", x.Name, x.Dtype, x.Layout)
	}
	kernel, precision := kernels.MaxPoolKernel, "int8"
	if x.Dtype == "f32" {
		kernel, precision = kernels.MaxPoolF32Kernel, "f32"
	}
	ks := n.Attrs.Ints("kernel_shape")
	if len(ks) != 2 {
		return fmt.Errorf("kernel_shape %v, want 2 dims", ks)
	}
	geo, err := ir.ResolveConvGeom(n.Attrs, n.Inputs[0].Type.Shape[2:], []int{int(ks[0]), int(ks[1])}, n.Attrs.Int("ceil_mode", 0) != 0)
	if err != nil {
		return err
	}
	y, err := p.newBuffer(n.Outputs[0], LayoutNHWC)
	if err != nil {
		return err
	}
	c := x.SampleShape[0]
	work := y.ElemsPerSample
	if kernel == kernels.MaxPoolKernel && c%16 == 0 && vectorPool {
		kernel, work = kernels.MaxPool16Kernel, y.ElemsPerSample/16
	}
	return p.elementwise(n, kernel, precision, "", work, bufArg(x), bufArg(y), perSample(work),
		u32(c), u32(int64(geo.In[0])), u32(int64(geo.In[1])), u32(int64(geo.Out[0])), u32(int64(geo.Out[1])), u32(ks[0]), u32(ks[1]),
		u32(int64(geo.Strides[0])), u32(int64(geo.Strides[1])), u32(int64(geo.PadBegin[0])), u32(int64(geo.PadBegin[1])),
		u32(int64(geo.Dilations[0])), u32(int64(geo.Dilations[1])))
}

func roundUp(n, m int) int { return (n + m - 1) / m * m }

// gemmWeightOrder reorders a convolution's [O, C, KH, KW] weight into the
// GEMM's rows [O][KH·KW·C], K in (kh, kw, c) order, c fastest: the order of
// NHWC rows, and the one in which a 2:4 claim along C stays 2:4 along K.
// back goes the other way (what Graph does to rebuild the constant).
func gemmWeightOrder(src []int8, o, c, kh, kw int, back bool) []int8 {
	k := kh * kw * c
	dst := make([]int8, len(src))
	for n := 0; n < o; n++ {
		for ci := 0; ci < c; ci++ {
			for r := 0; r < kh; r++ {
				for s := 0; s < kw; s++ {
					oihw, gemm := ((n*c+ci)*kh+r)*kw+s, n*k+(r*kw+s)*c+ci
					if back {
						dst[oihw] = src[gemm]
					} else {
						dst[gemm] = src[oihw]
					}
				}
			}
		}
	}
	return dst
}

// leBytes is the engine's encoding of weights and tables: little-endian
// elements, as ir.AppendLE writes them.
func leBytes[T int8 | int32 | uint32 | float32](v []T) []byte {
	return ir.AppendLE(make([]byte, 0, len(v)*4), v, 0, len(v))
}

// qgemm plans a QConv (im2col, unless a 1×1 stride-1 conv reads NHWC rows
// as they are, then the GEMM) or a QGemm.
func (p *planner) qgemm(n *ir.Node) error {
	x, err := p.input(n, 0)
	if err != nil {
		return err
	}
	xv, wv, out := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	if x.Dtype != "i8" || xv.Quant == nil || !xv.Quant.PerTensor() {
		return fmt.Errorf("input %s must be per-tensor quantized i8", xv.Name)
	}
	if !wv.IsConst() || wv.Const.DType != ir.Int8 || wv.Quant == nil {
		return fmt.Errorf("weight %s must be a quantized i8 constant", wv.Name)
	}
	for _, z := range wv.Quant.ZeroPoint {
		if z != 0 {
			return fmt.Errorf("weight %s has zero point %d, the GPU kernel wants symmetric weights", wv.Name, z)
		}
	}
	zx := xv.Quant.ZeroPoint[0]
	ws := wv.Const.Shape
	nOut := ws[0]
	var k int
	var w []int8
	var pixels int64 // output rows a sample
	var col *engine.Buffer
	lda := 0
	var im2colArgs []*engine.Arg
	var conv *kernels.ConvShape // set: implicit-GEMM convolution on the NHWC input
	geometry := ""              // a convolution's, as a tuning cache keys it
	if n.Op == "QConv" {
		if len(ws) != 4 {
			return fmt.Errorf("weight %s has shape %v, the GPU runs 2-D convolutions", wv.Name, ws)
		}
		if x, err = p.asNHWC(n, x); err != nil {
			return err
		}
		if g := n.Attrs.Int("group", 1); g != 1 {
			// The implicit GEMM's K spans all input channels: grouped
			// and depthwise convolutions run the direct kernel.
			return p.qgroupConv(n, x, g)
		}
		c, kh, kw := ws[1], ws[2], ws[3]
		geo, err := ir.ResolveConvGeom(n.Attrs, xv.Type.Shape[2:], []int{kh, kw}, false)
		if err != nil {
			return err
		}
		k = kh * kw * c
		w = gemmWeightOrder(wv.Const.Int8s(), nOut, c, kh, kw, false)
		pixels = int64(geo.Out[0] * geo.Out[1])
		geometry = tuning.ConvGeometry(c, geo.In[0], geo.In[1], kh, kw, geo.Strides[0], geo.Strides[1], geo.PadBegin[0], geo.PadBegin[1], geo.Dilations[0], geo.Dilations[1])
		direct := kh == 1 && kw == 1 && geo.Strides[0] == 1 && geo.Strides[1] == 1 && geo.PadBegin[0] == 0 && geo.PadBegin[1] == 0 && geo.PadEnd[0] == 0 && geo.PadEnd[1] == 0 && c%16 == 0
		switch {
		case direct:
			lda = c
		case implicitConv && kernels.SupportsImplicitConv(c):
			// Each 16-byte chunk of a GEMM row is 16 channels of one
			// tap (or, for 4 and 8 channels, whole taps): the kernel
			// computes its address in the NHWC input and no im2col
			// matrix is written.
			lda = c
			conv = &kernels.ConvShape{C: c, H: geo.In[0], W: geo.In[1], OH: geo.Out[0], OW: geo.Out[1], KH: kh, KW: kw,
				SH: geo.Strides[0], SW: geo.Strides[1], PH: geo.PadBegin[0], PW: geo.PadBegin[1],
				DH: geo.Dilations[0], DW: geo.Dilations[1], ZX: zx}
		default:
			lda = roundUp(k, 16)
			col = p.scratch(n.Name+"/im2col", "i8", pixels*int64(lda))
			im2colArgs = []*engine.Arg{bufArg(x), bufArg(col), perSample(pixels * int64(lda)), u32(int64(lda)), u32(int64(k)), u32(int64(c)),
				u32(int64(geo.In[0])), u32(int64(geo.In[1])), u32(int64(geo.Out[0])), u32(int64(geo.Out[1])), u32(int64(kw)),
				u32(int64(geo.Strides[0])), u32(int64(geo.Strides[1])), u32(int64(geo.PadBegin[0])), u32(int64(geo.PadBegin[1])),
				u32(int64(geo.Dilations[0])), u32(int64(geo.Dilations[1])), s32(zx)}
		}
	} else {
		// One row a sample, or [rows, K] a sample: a batch of rows
		// [N,...,K] (a transformer's tokens, ConvNeXt's pixels between its
		// permutes), or the per-sample view of a moved batch
		// (plan_moved.go), read in row-major order.
		if x, err = p.qgemmRows(n, x); err != nil {
			return err
		}
		k, w = ws[1], wv.Const.Int8s()
		pixels = x.ElemsPerSample / int64(k)
		if k%16 == 0 {
			lda = k
		} else {
			// Rows padded to 16 bytes through the im2col kernel on a
			// 1×rows image of K channels.
			lda = roundUp(k, 16)
			col = p.scratch(n.Name+"/rows", "i8", pixels*int64(lda))
			im2colArgs = []*engine.Arg{bufArg(x), bufArg(col), perSample(pixels * int64(lda)), u32(int64(lda)), u32(int64(k)), u32(int64(k)),
				u32(1), u32(pixels), u32(1), u32(pixels), u32(1), u32(1), u32(1), u32(0), u32(0), u32(1), u32(1), s32(zx)}
		}
	}
	if col != nil {
		if err := p.elementwise(n, kernels.Im2colKernel, "int8", "im2col", col.ElemsPerSample, im2colArgs...); err != nil {
			return err
		}
		x = col
	}
	sparse, why := false, "dense: the weight claims no 2:4 sparsity"
	if wv.Sparsity != nil {
		if err := pack.Check24(w, nOut, k); err != nil {
			why = "dense: " + err.Error()
		} else {
			sparse, why = true, "2:4 sparse (mma.sp)"
		}
	}
	outF32 := out.Quant == nil
	act, clo, chi, err := ir.FusedActivation(n.Attrs)
	if err != nil {
		return err
	}
	residual := len(n.Inputs) > 4 && n.Inputs[4] != nil
	layer := gemmLayer{sparse24: sparse, residual: residual, outF32: outF32, act: act, m: int(pixels), n: nOut, k: k, conv: conv, geometry: geometry}
	choice, err := p.chooseGemm(n.Name, layer)
	if err != nil {
		return err
	}
	if sparse && !choice.sparse {
		why = "dense: the tuning cache measured the dense kernel faster (the weight stays 2:4)"
	}
	sparse = choice.sparse
	cfg := choice.variant.config(layer, sparse)
	fused := p.fusablePool(n, layer, sparse)
	if fused != nil {
		// The conv-pool kernel reads weights packed for 64-channel
		// blocks, as this plain implicit-GEMM kernel does.
		cfg = kernels.GemmConfig{Conv: true}
	}
	var wdata, edata []byte
	var npad, kpad int
	if sparse {
		sp, err := pack.PackSparse(w, nOut, k, cfg.BN())
		if err != nil {
			return err
		}
		wdata, edata, npad, kpad = leBytes(sp.Values), leBytes(sp.Meta), sp.NPad, sp.KPad
	} else {
		dn, err := pack.PackDense(w, nOut, k, cfg.BN())
		if err != nil {
			return err
		}
		wdata, npad, kpad = leBytes(dn.Values), dn.NPad, dn.KPad
	}
	var bias []int32
	if len(n.Inputs) > 3 && n.Inputs[3] != nil {
		bias = n.Inputs[3].Const.Int32s()
	} else {
		bias = make([]int32, nOut)
	}
	biasP, err := pack.FoldZeroPoint(bias, w, nOut, k, npad, zx)
	if err != nil {
		return err
	}
	mv := n.Inputs[2]
	if !mv.IsConst() || mv.Const.DType != ir.Float32 || mv.Const.Len() != nOut {
		return fmt.Errorf("multiplier %s must be %d f32 constants", mv.Name, nOut)
	}
	mult := make([]float32, npad)
	copy(mult, mv.Const.Float32s())
	prm := kernels.GemmParams{M: int(pixels), // one sample
		N: nOut, K: k, NPad: npad, KPad: kpad, LDA: lda, LDR: nOut, LDC: nOut, FLo: clo, FHi: chi}
	precision := "int8"
	if outF32 {
		precision = "int8->f32"
	} else if prm.QLo, prm.QHi, prm.ZY, err = qOutRange(out, act, clo, chi); err != nil {
		return err
	}
	rArg := bufArg(x)
	if residual {
		var r *engine.Buffer
		if r, prm.ZR, prm.MR, err = p.qResidual(n); err != nil {
			return err
		}
		rArg = bufArg(r)
	}
	if conv != nil {
		prm.Conv = *conv
	}
	err = cfg.Validate()
	if err == nil {
		err = cfg.Check(prm)
	}
	if err != nil && choice.source != SourceHeuristic {
		// A measured choice that cannot run is the cache's fault (or
		// tune's): no fallback.
		return &cacheError{fmt.Sprintf("variant %s of the %s kernel: %v", choice.variant.name, kindName(sparse), err)}
	}
	if err != nil {
		return err
	}
	layout := LayoutNHWC
	if n.Op == "QGemm" {
		layout = LayoutFlat
	}
	yv, ySize := out, pixels*int64(nOut)
	if fused != nil { // the pool's output; the conv's never leaves the kernel
		yv, ySize = fused.pool.Outputs[0], int64(fused.poh*fused.pow)*int64(nOut)
	}
	y, err := p.newBuffer(yv, layout)
	if err != nil {
		return err
	}
	if y.ElemsPerSample != ySize {
		return fmt.Errorf("output %s has %d elements a sample, want %d", yv.Name, y.ElemsPerSample, ySize)
	}
	if fused == nil {
		ptx, err := cfg.PTX()
		if err != nil {
			return err
		}
		p.useKernel(cfg.Name(), ptx)
	}
	wName, eName := n.Name+"/w", n.Name+"/e"
	kind := "dense"
	if sparse {
		kind = "sparse24"
	}
	p.e.Weights = append(p.e.Weights, &engine.Weight{Name: wName, Kind: kind, Data: wdata})
	if _, ok := p.packed[wv]; !ok {
		p.packed[wv] = n.Name
	}
	eArg := weightArg(wName)
	if sparse {
		p.e.Weights = append(p.e.Weights, &engine.Weight{Name: eName, Kind: "meta", Data: edata})
		eArg = weightArg(eName)
	}
	p.e.Weights = append(p.e.Weights, &engine.Weight{Name: n.Name + "/bias", Kind: "bias", Data: leBytes(biasP)},
		&engine.Weight{Name: n.Name + "/mult", Kind: "mult", Data: leBytes(mult)})
	args := []*engine.Arg{bufArg(x), weightArg(wName), eArg, weightArg(n.Name + "/bias"), weightArg(n.Name + "/mult"), rArg, bufArg(y),
		perSample(pixels), u32(int64(nOut)), u32(int64(k)), u32(int64(kpad / kernels.GemmBK)), u32(int64(lda)), u32(int64(prm.LDR)), u32(int64(prm.LDC)),
		s32(prm.ZR), s32(prm.QLo), s32(prm.QHi), s32(prm.ZY), f32(prm.MR), f32(prm.FLo), f32(prm.FHi)}
	if conv != nil {
		for _, v := range conv.LaunchU32s() {
			args = append(args, u32(int64(v)))
		}
		args = append(args, s32(conv.ZX))
		why += ", implicit-GEMM convolution"
	}
	// A block computes GemmBM output rows, or for the halo kernel
	// HaloSlots patches (8×8, or 7×8 with Halo7) of the images'
	// HaloPatches.
	work, perBlock := uint64(pixels), uint32(kernels.GemmBM)
	if cfg.Halo {
		work, perBlock = uint64(cfg.HaloPatches(*conv)), kernels.HaloSlots
		why = strings.Replace(why, "implicit-GEMM", "halo-tile", 1)
	}
	_, gy := cfg.Grid(1, npad)
	step := &engine.Step{Node: n.Name, Op: n.Op, Kernel: cfg.Name(), Precision: precision, Sparse: sparse,
		WorkPerSample: work, WorkPerBlockX: perBlock, GridY: uint32(gy), GridZ: 1, BlockX: uint32(cfg.Threads()),
		SharedBytes: uint32(cfg.DynamicShared()), Args: args, Note: why, Variant: choice.variant.name, VariantSource: choice.source}
	if fused != nil {
		// The fused kernel has no split-K twin: its step replaces the
		// conv's launch plan whole.
		if err := p.convPoolStep(step, fused, *conv, prm); err != nil {
			return err
		}
	} else if cfg.SplitK {
		// The runtime picks the splits (grid z) at Open: splitKFor.
		step.MaxSplitK = uint32(layer.splitKMax(cfg))
		step.SplitKSliceBytes = uint32(cfg.SplitKSliceBytes())
		step.Args = append(step.Args, runtimeArg(SplitKWorkspace), runtimeArg(SplitKCounters))
	}
	p.e.Steps = append(p.e.Steps, step)
	p.gemms = append(p.gemms, plannedGemm{node: n.Name, layer: layer, choice: choice})
	return nil
}

// memDims returns a buffer's per-sample dims in memory order: NHWC buffers
// store (H, W, C) for the logical (C, H, W).
func memDims(b *engine.Buffer) []int64 {
	if b.Layout == LayoutNHWC && len(b.SampleShape) == 3 {
		return []int64{b.SampleShape[1], b.SampleShape[2], b.SampleShape[0]}
	}
	return b.SampleShape
}

// constF32 reads input i of n as count f32 constants.
func constF32(n *ir.Node, i, count int, what string) ([]float32, error) {
	if i >= len(n.Inputs) || n.Inputs[i] == nil {
		return nil, fmt.Errorf("no %s input", what)
	}
	v := n.Inputs[i]
	if !v.IsConst() || v.Const.DType != ir.Float32 || v.Const.Len() != count {
		return nil, fmt.Errorf("%s %s must be %d f32 constants (the GPU kernel reads them from the engine)", what, v.Name, count)
	}
	return v.Const.Float32s(), nil
}

// batchNorm plans an inference BatchNormalization on f32 data in any
// layout: the per-channel factor scale/sqrt(var+eps) is computed here in
// float64 and rounded once, as ir/ref does, so the kernel's three f32
// operations give the reference's bits.
func (p *planner) batchNorm(n *ir.Node) error {
	x, err := p.input(n, 0)
	if err != nil {
		return err
	}
	if len(n.Outputs) > 1 && (n.Outputs[1] != nil || len(n.Outputs) > 2 && n.Outputs[2] != nil) {
		return fmt.Errorf("training-mode outputs (running mean/var) are not computed on the GPU")
	}
	if x.Dtype != "f32" || len(x.SampleShape) < 1 {
		return fmt.Errorf("input %s is %s of rank %d, the GPU kernel normalizes f32 with a channel dim", x.Name, x.Dtype, len(x.SampleShape)+1)
	}
	c := x.SampleShape[0]
	inner := int64(1)
	if x.Layout != LayoutNHWC {
		for _, d := range x.SampleShape[1:] {
			inner *= d
		}
	}
	var prm [4][]float32
	for i, what := range []string{"scale", "bias", "mean", "variance"} {
		if prm[i], err = constF32(n, i+1, int(c), what); err != nil {
			return err
		}
	}
	eps := float64(n.Attrs.Float("epsilon", 1e-5))
	data := make([]float32, 3*c)
	for ch := int64(0); ch < c; ch++ {
		data[ch] = float32(float64(prm[0][ch]) / math.Sqrt(float64(prm[3][ch])+eps))
		data[c+ch] = prm[2][ch]
		data[2*c+ch] = prm[1][ch]
	}
	y, err := p.newBuffer(n.Outputs[0], x.Layout)
	if err != nil {
		return err
	}
	wName := n.Name + "/prm"
	p.e.Weights = append(p.e.Weights, &engine.Weight{Name: wName, Kind: "f32", Data: leBytes(data)})
	return p.elementwise(n, kernels.BatchNormKernel, "f32", "float fallback", x.ElemsPerSample, bufArg(x), bufArg(y), weightArg(wName),
		perSample(x.ElemsPerSample), u32(c), u32(inner))
}

// softmax plans a Softmax or LogSoftmax whose axis is the innermost one in
// memory (the last axis, or the channel axis of an NHWC value): a warp a
// row, or 8 lanes a row of at most kernels.SoftmaxShortMax.
func (p *planner) softmax(n *ir.Node) error {
	x, err := p.input(n, 0)
	if err != nil {
		return err
	}
	if x.Dtype != "f32" {
		return fmt.Errorf("input %s is %s, the GPU kernel takes f32", x.Name, x.Dtype)
	}
	rank := len(x.SampleShape) + 1
	axis, err := ir.NormAxis(n.Attrs.Int("axis", -1), rank)
	if err != nil {
		return err
	}
	innermost := axis == rank-1 && x.Layout != LayoutNHWC || axis == 1 && x.Layout == LayoutNHWC
	if axis == 0 || !innermost {
		return fmt.Errorf("axis %d of %s (%s): the GPU kernel reduces the innermost axis in memory only", axis, x.Name, x.Layout)
	}
	size := x.SampleShape[axis-1]
	if size == 0 {
		return fmt.Errorf("axis %d of %s is empty", axis, x.Name)
	}
	y, err := p.newBuffer(n.Outputs[0], x.Layout)
	if err != nil {
		return err
	}
	// A warp a row; 8 lanes a row, four rows a warp, where a row is short.
	k, perBlock, how := kernels.SoftmaxKernel, kernels.SoftmaxRowsPerBlock, "a warp"
	if size <= kernels.SoftmaxShortMax {
		k, perBlock, how = kernels.SoftmaxShortKernel, kernels.SoftmaxShortRowsPerBlock, "8 lanes"
	}
	if n.Op == "LogSoftmax" {
		k = map[string]string{kernels.SoftmaxKernel: kernels.LogSoftmaxKernel, kernels.SoftmaxShortKernel: kernels.LogSoftmaxShortKernel}[k]
	}
	rows := x.ElemsPerSample / size
	if err := p.opKernel(k); err != nil {
		return err
	}
	p.e.Steps = append(p.e.Steps, &engine.Step{Node: n.Name, Op: n.Op, Kernel: k, Precision: "f32",
		WorkPerSample: uint64(rows), WorkPerBlockX: uint32(perBlock), GridY: 1, GridZ: 1, BlockX: kernels.RowThreads,
		Args: []*engine.Arg{bufArg(x), bufArg(y), perSample(rows), u32(size)}, Note: fmt.Sprintf("float fallback, %s a row of %d", how, size)})
	return nil
}

// pad plans a constant-mode Pad of an i8 or f32 value of rank 2 to 4 that
// leaves the batch dim alone (pad-channels' channel Pad, or spatial pads),
// in the value's layout.
func (p *planner) pad(n *ir.Node) error {
	x, err := p.input(n, 0)
	if err != nil {
		return err
	}
	if m := n.Attrs.String("mode", "constant"); m != "constant" {
		return fmt.Errorf("mode %q: the GPU pads with a constant only", m)
	}
	rank := len(x.SampleShape) + 1
	if rank < 2 || rank > 4 {
		return fmt.Errorf("input %s has rank %d, the GPU kernel pads ranks 2 to 4", x.Name, rank)
	}
	if len(n.Inputs) < 2 || n.Inputs[1] == nil || !n.Inputs[1].IsConst() {
		return fmt.Errorf("pads must be a constant")
	}
	pads := make([]int64, n.Inputs[1].Const.Len())
	for i := range pads {
		pads[i] = n.Inputs[1].Const.AsInt64(i)
	}
	var axes []int64
	if len(n.Inputs) > 3 && n.Inputs[3] != nil {
		if !n.Inputs[3].IsConst() {
			return fmt.Errorf("axes must be a constant")
		}
		for i := 0; i < n.Inputs[3].Const.Len(); i++ {
			axes = append(axes, n.Inputs[3].Const.AsInt64(i))
		}
	}
	begin, end, err := ir.ResolvePads(rank, pads, axes)
	if err != nil {
		return err
	}
	if begin[0] != 0 || end[0] != 0 {
		return fmt.Errorf("pads %v pad the batch dim, which the GPU kernel does not", pads)
	}
	var bits uint32
	if len(n.Inputs) > 2 && n.Inputs[2] != nil {
		cv := n.Inputs[2]
		if !cv.IsConst() || cv.Const.Len() != 1 {
			return fmt.Errorf("constant_value must be one constant")
		}
		switch cv.Const.DType {
		case ir.Int8:
			bits = uint32(uint8(cv.Const.Int8s()[0]))
		case ir.Float32:
			bits = math.Float32bits(cv.Const.Float32s()[0])
		default:
			return fmt.Errorf("constant_value is %v, want the data's i8 or f32", cv.Const.DType)
		}
	}
	y, err := p.newBuffer(n.Outputs[0], x.Layout)
	if err != nil {
		return err
	}
	in, out := memDims(x), memDims(y)
	lb := begin[1:]
	if x.Layout == LayoutNHWC && len(lb) == 3 {
		lb = []int64{lb[1], lb[2], lb[0]}
	}
	// Leading 1s make every rank three dims a sample.
	for len(in) < 3 {
		in, out, lb = append([]int64{1}, in...), append([]int64{1}, out...), append([]int64{0}, lb...)
	}
	k := kernels.Pad8Kernel
	if x.Dtype == "f32" {
		k = kernels.Pad32Kernel
	}
	work := y.ElemsPerSample
	if kernels.Pad4Fits([3]int64(out), [3]int64(in), [3]int64(lb)) {
		k, work = kernels.Pad4Of(k), work/4 // four elements a thread
	}
	return p.elementwise(n, k, x.Dtype, "", work, bufArg(x), bufArg(y), perSample(work),
		u32(out[0]), u32(out[1]), u32(out[2]), u32(in[0]), u32(in[1]), u32(in[2]), u32(lb[0]), u32(lb[1]), u32(lb[2]), u32(int64(bits)))
}

// spatialMean checks that a ReduceMean is a global average pool: an f32
// rank-4 input averaged over axes 2 and 3 (torch.onnx writes ResNet's
// adaptive pool so). ir/ref sums in float64 in (h, w) order and divides
// once, which is the GAP kernel's arithmetic, so the result is bit-exact.
func spatialMean(n *ir.Node) error {
	x := n.Inputs[0]
	if x == nil || len(x.Type.Shape) != 4 || x.Type.DType != ir.Float32 {
		return fmt.Errorf("unsupported on the GPU: node %s (op ReduceMean) is not an f32 rank-4 mean", n.Name)
	}
	if len(n.Inputs) < 2 || n.Inputs[1] == nil || !n.Inputs[1].IsConst() {
		return fmt.Errorf("unsupported on the GPU: node %s (op ReduceMean) has no constant axes (want 2 and 3)", n.Name)
	}
	var axes []int64
	for i := 0; i < n.Inputs[1].Const.Len(); i++ {
		axes = append(axes, n.Inputs[1].Const.AsInt64(i))
	}
	red, err := ir.ResolveReduceAxes(4, axes, n.Attrs.Int("noop_with_empty_axes", 0) != 0)
	if err != nil {
		return err
	}
	if red == nil || red[0] || red[1] || !red[2] || !red[3] {
		return fmt.Errorf("unsupported on the GPU: node %s (op ReduceMean) reduces axes %v, the GPU averages axes 2 and 3 only", n.Name, axes)
	}
	return nil
}

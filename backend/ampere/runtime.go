package ampere

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/sqc-project/sqc/backend/ampere/cuda"
	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/pack"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/ir/sqir"
)

// Graph parses the engine's lowered IR.
func Graph(e *engine.Engine) (*ir.Graph, error) {
	weights := map[string]*engine.Weight{}
	for _, w := range e.Weights {
		weights[w.Name] = w
	}
	resolve := func(key string, v *ir.Value) (*ir.Tensor, error) {
		if weights[key+"/w"] == nil {
			if t, ok, err := floatWeight(weights, key, v); ok {
				return t, err
			}
		}
		return unpackWeight(weights, key, v)
	}
	g, err := sqir.ParseWith("engine graph", []byte(e.Graph), sqir.ParseOptions{External: resolve})
	if err == nil {
		err = ir.Verify(g)
	}
	if err != nil {
		return nil, fmt.Errorf("engine graph: %w", err)
	}
	return g, nil
}

// unpackWeight rebuilds the int8 weight constant v of GEMM node key from
// the packed weights the planner wrote (key/w, and key/e for 2:4): the
// inverse of qgemm's packing, and of its (kh, kw, c) order for a
// convolution's [O, C, KH, KW] weight.
func unpackWeight(weights map[string]*engine.Weight, key string, v *ir.Value) (*ir.Tensor, error) {
	w := weights[key+"/w"]
	dims, ok := v.Type.Shape.Ints()
	if w == nil || !ok || len(dims) < 2 || v.Type.DType != ir.Int8 {
		return nil, fmt.Errorf("no packed int8 weight %s/w for %v", key, v.Type)
	}
	n, k := dims[0], 1
	for _, d := range dims[1:] {
		k *= d
	}
	kpad := roundUp(k, pack.TileK)
	vals := make([]int8, len(w.Data))
	if err := ir.PutLE(vals, 0, w.Data); err != nil {
		return nil, err
	}
	var flat []int8
	var err error
	switch w.Kind {
	case "dense":
		npad := len(vals) / (kpad / pack.TileK * pack.DenseTileBytes) * pack.TileM
		flat, err = (&pack.Dense{N: n, K: k, NPad: npad, KPad: kpad, Values: vals}).Unpack()
	case "sparse24":
		e := weights[key+"/e"]
		if e == nil || len(e.Data)%4 != 0 {
			return nil, fmt.Errorf("packed 2:4 weight %s/w has no metadata %s/e", key, key)
		}
		meta := make([]uint32, len(e.Data)/4)
		if err := ir.PutLE(meta, 0, e.Data); err != nil {
			return nil, err
		}
		npad := len(vals) / (kpad / pack.TileK * pack.SparseTileBytes) * pack.TileM
		flat, err = (&pack.Sparse{N: n, K: k, NPad: npad, KPad: kpad, Values: vals, Meta: meta}).Unpack()
	default:
		return nil, fmt.Errorf("weight %s/w is %q, want dense or sparse24", key, w.Kind)
	}
	if err != nil {
		return nil, fmt.Errorf("weight %s/w: %w", key, err)
	}
	if len(dims) == 4 {
		flat = gemmWeightOrder(flat, n, dims[1], dims[2], dims[3], true)
	}
	return &ir.Tensor{DType: ir.Int8, Shape: dims, Data: flat}, nil
}

// RunCPU runs the engine's graph on the reference executor: the outputs
// the GPU must reproduce.
func RunCPU(e *engine.Engine, inputs []*ir.Tensor) ([]*ir.Tensor, error) {
	g, err := Graph(e)
	if err != nil {
		return nil, err
	}
	return ref.Run(g, inputs...)
}

// Runtime is an engine loaded on the GPU for one batch size: modules,
// weights and activation buffers allocated once, so a run is uploads,
// launches and downloads only.
type Runtime struct {
	e      *engine.Engine
	Batch  int
	Device string
	// DRAMBandwidth is the device memory's peak in bytes a second (0
	// where the driver does not say): the memory roofline of bench
	// --profile.
	DRAMBandwidth float64
	ctx           *cuda.Context
	Stream        *cuda.Stream
	funcs         map[string]*cuda.Function
	mods          []*cuda.Module
	weights       map[string]*cuda.Buffer
	bufs          map[string]*cuda.Buffer
	owned         []*cuda.Buffer
	bufInfo       map[string]*engine.Buffer
	steps         []launch
	// split-K: the device's SMs, whether steps may split, the workspace
	// and counters the launches of one stream share (its steps run one
	// after another), by stream.
	sms               int
	splitK            bool
	splitWS, splitCnt []*cuda.Buffer
	// The streams the steps run on (streams.go): plan says which, side
	// holds the streams besides Stream, stepEv the events of the steps
	// others wait for, fork and join those that start the side streams
	// after Stream's earlier work (the uploads) and end Stream's work after
	// theirs.
	plan   streamPlan
	side   []*cuda.Stream
	stepEv []*cuda.Event
	fork   *cuda.Event
	join   []*cuda.Event
}

// The runtime-provided buffers a step's arguments can name
// (engine.Arg.runtime).
const (
	SplitKWorkspace = "split_k_workspace"
	SplitKCounters  = "split_k_counters"
)

// OpenOptions are Open's choices besides the engine and the batch.
type OpenOptions struct {
	// NoSplitK runs every split-K step unsplit (one split), as sqc
	// bench's and run's --split-k=false do to time both ways.
	NoSplitK bool
	// Streams is the most streams the steps run on (0: DefaultStreams;
	// 1: every step in order on one stream, as sqc bench's and run's
	// --streams 1 do).
	Streams int
}

// SplitKFor is the number of splits S (the grid's z) of a split-K step
// whose grid has blocks blocks (x times y) on a GPU of sms SMs, at most
// maxSplit: 1 where the blocks already fill the SMs, since splitting then
// only adds the fix-up's traffic (each split's partial sums written and
// read back) and buys no parallelism; else sms / blocks, the most splits
// that keep blocks·S within one wave of one block an SM, so that no split
// waits for another's SM and the tile's last block finds the others done;
// and 1 where that is fewer than minSplits.
func SplitKFor(blocks, sms, maxSplit int) int {
	if maxSplit <= 1 || blocks <= 0 || blocks >= sms {
		return 1
	}
	if s := min(maxSplit, sms/blocks); s >= minSplits {
		return s
	}
	return 1
}

// minSplits is the fewest splits worth a split-K step's fix-up (the
// splits' red.add of their partial sums into one slice and the last
// block's read of it), which cost about 4.5 µs a launch on the H100
// (TestPerfSplitK, ResNet-34's 2:4 layers at batch 1, 2026-12-07): two
// splits ran at 0.63–0.67× of the unsplit kernel, four at 0.91–0.97×,
// eight or nine at 1.15–1.35×. The planner plans split-K kernels only
// where a layer's K allows this many.
//
// A variable only so that tests can plan split-K on the small graphs they
// build.
var minSplits = 8

// gridX is a step's grid x at the runtime's batch.
func (r *Runtime) gridX(s *engine.Step) uint64 {
	work := s.WorkPerSample * uint64(r.Batch)
	return (work + uint64(s.WorkPerBlockX) - 1) / uint64(s.WorkPerBlockX)
}

// splits returns a step's splits at the runtime's batch and its tiles
// (blocks along x and y).
func (r *Runtime) splits(s *engine.Step) (splits, tiles int) {
	tiles = int(r.gridX(s)) * int(max(s.GridY, 1))
	if !r.splitK || s.MaxSplitK <= 1 {
		return 1, tiles
	}
	return SplitKFor(tiles, r.sms, int(s.MaxSplitK)), tiles
}

// splitKSizes returns the split-K workspace's bytes (the largest any
// split step needs at the runtime's batch) and the counters' number (the
// most tiles of a split-K step); both 0 without split-K steps.
func (r *Runtime) splitKSizes() (ws, counters int) {
	for _, s := range r.e.Steps {
		if s.MaxSplitK == 0 {
			continue
		}
		sp, tiles := r.splits(s)
		if sp > 1 {
			ws = max(ws, tiles*int(s.SplitKSliceBytes)) // one slice a tile: the splits add into it
		}
		counters = max(counters, tiles)
	}
	return ws, counters
}

// allocSplitK allocates a split-K workspace and counters, both zeroed
// (each launch leaves them zero again), for each stream whose steps take
// them.
func (r *Runtime) allocSplitK() error {
	ws, cnt := r.splitKSizes()
	r.splitWS = make([]*cuda.Buffer, r.plan.streams)
	r.splitCnt = make([]*cuda.Buffer, r.plan.streams)
	if cnt == 0 {
		return nil
	}
	for i, s := range r.e.Steps {
		k := r.plan.stream[i]
		if s.MaxSplitK == 0 || r.splitCnt[k] != nil {
			continue
		}
		b, err := r.ctx.Alloc(max(ws, 16))
		if err != nil {
			return fmt.Errorf("split-K workspace of %d bytes: %w", ws, err)
		}
		r.owned = append(r.owned, b)
		r.splitWS[k] = b
		// The kernels add into zeroed slices and leave them zero.
		if err := r.ctx.MemsetD32(b.Ptr, 0, (max(ws, 16)+3)/4); err != nil {
			return fmt.Errorf("split-K workspace: %w", err)
		}
		if b, err = r.ctx.Alloc(4 * cnt); err != nil {
			return fmt.Errorf("split-K counters: %w", err)
		}
		r.owned = append(r.owned, b)
		r.splitCnt[k] = b
		if err := r.ctx.MemsetD32(b.Ptr, 0, cnt); err != nil {
			return fmt.Errorf("split-K counters: %w", err)
		}
	}
	return nil
}

// openStreams makes the side streams and the events the plan needs.
func (r *Runtime) openStreams() error {
	if r.plan.streams <= 1 {
		return nil
	}
	var err error
	if r.fork, err = r.ctx.NewOrderEvent(); err != nil {
		return err
	}
	for range r.plan.streams - 1 {
		st, err := r.ctx.NewStream()
		if err != nil {
			return err
		}
		r.side = append(r.side, st)
		ev, err := r.ctx.NewOrderEvent()
		if err != nil {
			return err
		}
		r.join = append(r.join, ev)
	}
	r.stepEv = make([]*cuda.Event, len(r.e.Steps))
	for i, rec := range r.plan.record {
		if rec {
			if r.stepEv[i], err = r.ctx.NewOrderEvent(); err != nil {
				return err
			}
		}
	}
	return nil
}

// streamOf returns the stream step i runs on.
func (r *Runtime) streamOf(i int) *cuda.Stream {
	if k := r.plan.stream[i]; k > 0 {
		return r.side[k-1]
	}
	return r.Stream
}

// Streams returns the number of streams the steps run on.
func (r *Runtime) Streams() int { return r.plan.streams }

// Splits returns each step's number of splits (its grid z) at this
// batch: above 1 for the split-K steps the runtime splits, 1 otherwise.
func (r *Runtime) Splits() []int {
	out := make([]int, len(r.steps))
	for i, l := range r.steps {
		out[i] = max(int(l.grid.Z), 1)
	}
	return out
}

type launch struct {
	step        *engine.Step
	f           *cuda.Function
	grid, block cuda.Dim3
	args        []any
	host        *hostStep // a host fallback step instead of a launch
}

// Open loads e on GPU 0 for batches of batch samples. Without a driver
// the error says so (cuda.IsNoDevice).
func Open(e *engine.Engine, batch int) (r *Runtime, err error) {
	return open(e, batch, nil, OpenOptions{})
}

// OpenWith is Open with options.
func OpenWith(e *engine.Engine, batch int, opts OpenOptions) (r *Runtime, err error) {
	return open(e, batch, nil, opts)
}

// kernelCache holds kernels loaded for one Runtime for the next to reuse
// (sqc tune opens an engine a timing round, most kernels the same). It
// keeps the primary context retained, so that its modules outlive the
// Runtimes.
type kernelCache struct {
	ctx   *cuda.Context
	funcs map[string]*cuda.Function
	mods  []*cuda.Module
}

func newKernelCache() (*kernelCache, error) {
	dev, err := cuda.GetDevice(0)
	if err != nil {
		return nil, err
	}
	ctx, err := dev.RetainPrimaryContext()
	if err != nil {
		return nil, err
	}
	return &kernelCache{ctx: ctx, funcs: map[string]*cuda.Function{}}, nil
}

// preload compiles the kernels (PTX by name) not loaded yet, on workers
// goroutines at once: the driver's JIT is most of a tuning run's time.
// A kernel that fails to load is left out (its round reports the error).
func (kc *kernelCache) preload(ptx map[string]string, workers int) {
	var todo []string
	for name := range ptx {
		if kc.funcs[name] == nil {
			todo = append(todo, name)
		}
	}
	names := make(chan string)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range names {
				m, err := kc.ctx.LoadPTX(ptx[name])
				if err != nil {
					continue
				}
				f, err := m.Function(name)
				mu.Lock()
				kc.mods = append(kc.mods, m)
				if err == nil {
					kc.funcs[name] = f
				}
				mu.Unlock()
			}
		}()
	}
	for _, name := range todo {
		names <- name
	}
	close(names)
	wg.Wait()
}

// function returns the loaded kernel of that name; nil if none (or kc is
// nil).
func (kc *kernelCache) function(name string) *cuda.Function {
	if kc == nil {
		return nil
	}
	return kc.funcs[name]
}

func (kc *kernelCache) close() {
	for _, m := range kc.mods {
		_ = m.Unload()
	}
	_ = kc.ctx.Release()
}

// open is Open taking kernels from kc, and adding those it loads, when kc
// is not nil.
func open(e *engine.Engine, batch int, kc *kernelCache, opts OpenOptions) (r *Runtime, err error) {
	if batch <= 0 {
		return nil, fmt.Errorf("batch %d, want > 0", batch)
	}
	// The steps planned for this batch (engine.Plan) and their kernels.
	e = engine.ForBatch(e, batch)
	dev, err := cuda.GetDevice(0)
	if err != nil {
		return nil, err
	}
	ctx, err := dev.RetainPrimaryContext()
	if err != nil {
		return nil, err
	}
	r = &Runtime{e: e, Batch: batch, Device: dev.Describe(), ctx: ctx, funcs: map[string]*cuda.Function{},
		weights: map[string]*cuda.Buffer{}, bufs: map[string]*cuda.Buffer{}, bufInfo: map[string]*engine.Buffer{}, splitK: !opts.NoSplitK}
	defer func() {
		if err != nil {
			r.Close()
			r = nil
		}
	}()
	if r.Stream, err = ctx.NewStream(); err != nil {
		return r, err
	}
	for _, k := range e.Kernels {
		if f := kc.function(k.Name); f != nil {
			r.funcs[k.Name] = f
			continue
		}
		m, err := ctx.LoadPTX(k.Ptx)
		if err != nil {
			return r, fmt.Errorf("kernel %s: %w", k.Name, err)
		}
		if kc != nil {
			kc.mods = append(kc.mods, m)
		} else {
			r.mods = append(r.mods, m)
		}
		if r.funcs[k.Name], err = m.Function(k.Name); err != nil {
			return r, err
		}
		if kc != nil {
			kc.funcs[k.Name] = r.funcs[k.Name]
		}
	}
	for _, w := range e.Weights {
		b, err := cuda.NewBufferFrom(ctx, w.Data)
		if err != nil {
			return r, fmt.Errorf("weight %s: %w", w.Name, err)
		}
		r.owned = append(r.owned, b)
		r.weights[w.Name] = b
	}
	for _, b := range e.Buffers {
		r.bufInfo[b.Name] = b
		if b.AliasOf != "" {
			continue
		}
		size := int(b.ElemsPerSample) * batch * elemSize(b.Dtype)
		d, err := ctx.Alloc(max(size, 16))
		if err != nil {
			return r, fmt.Errorf("buffer %s: %w", b.Name, err)
		}
		r.owned = append(r.owned, d)
		r.bufs[b.Name] = d
	}
	for _, b := range e.Buffers {
		if b.AliasOf != "" {
			if r.bufs[b.Name] = r.bufs[b.AliasOf]; r.bufs[b.Name] == nil {
				return r, fmt.Errorf("buffer %s views %s, which the engine does not have", b.Name, b.AliasOf)
			}
		}
	}
	if bw, err := dev.MemoryBandwidth(); err == nil {
		r.DRAMBandwidth = bw
	}
	if r.sms, err = dev.MultiprocessorCount(); err != nil {
		return r, err
	}
	maxStreams := opts.Streams
	if maxStreams <= 0 {
		maxStreams = DefaultStreams
	}
	r.plan = planStreams(e, maxStreams)
	if err := r.openStreams(); err != nil {
		return r, err
	}
	if err := r.allocSplitK(); err != nil {
		return r, err
	}
	var g *ir.Graph
	for i, s := range e.Steps {
		if s.Kernel == HostKernel {
			if g == nil {
				if g, err = Graph(e); err != nil {
					return r, err
				}
			}
			h, err := newHostStep(g, s, r.bufInfo)
			if err != nil {
				return r, fmt.Errorf("node %s, host step: %w", s.Node, err)
			}
			r.steps = append(r.steps, launch{step: s, host: h})
			continue
		}
		l, err := r.prepare(s, r.plan.stream[i])
		if err != nil {
			return r, fmt.Errorf("node %s, kernel %s: %w", s.Node, s.Kernel, err)
		}
		r.steps = append(r.steps, l)
	}
	return r, nil
}

func elemSize(dt string) int {
	if dt == "f32" {
		return 4
	}
	return 1
}

// prepare binds a step's arguments for a launch on stream k of the plan.
func (r *Runtime) prepare(s *engine.Step, k int) (launch, error) {
	f := r.funcs[s.Kernel]
	if f == nil {
		return launch{}, fmt.Errorf("the engine has no PTX for kernel %s", s.Kernel)
	}
	if s.SharedBytes > 0 {
		// Stages past 48 KiB are dynamic shared memory, which a
		// function must be allowed first.
		if err := f.SetMaxDynamicSharedMemory(int(s.SharedBytes)); err != nil {
			return launch{}, err
		}
	}
	if s.WorkPerBlockX == 0 || s.BlockX == 0 {
		return launch{}, fmt.Errorf("empty launch plan")
	}
	l := launch{step: s, f: f, grid: cuda.Dim3{X: uint32(r.gridX(s)), Y: max(s.GridY, 1), Z: max(s.GridZ, 1)}, block: cuda.D1(int(s.BlockX))}
	if s.MaxSplitK > 0 {
		sp, _ := r.splits(s)
		l.grid.Z = uint32(sp)
	}
	for i, a := range s.Args {
		switch v := a.V.(type) {
		case *engine.Arg_Buffer:
			b := r.bufs[v.Buffer]
			if b == nil {
				return l, fmt.Errorf("argument %d: no buffer %s", i, v.Buffer)
			}
			l.args = append(l.args, b.Ptr)
		case *engine.Arg_Weight:
			b := r.weights[v.Weight]
			if b == nil {
				return l, fmt.Errorf("argument %d: no weight %s", i, v.Weight)
			}
			l.args = append(l.args, b.Ptr)
		case *engine.Arg_U32:
			l.args = append(l.args, v.U32)
		case *engine.Arg_S32:
			l.args = append(l.args, v.S32)
		case *engine.Arg_F32:
			l.args = append(l.args, v.F32)
		case *engine.Arg_Runtime:
			var b *cuda.Buffer
			switch v.Runtime {
			case SplitKWorkspace:
				b = r.splitWS[k]
			case SplitKCounters:
				b = r.splitCnt[k]
			default:
				return l, fmt.Errorf("argument %d: runtime buffer %q, want %s or %s", i, v.Runtime, SplitKWorkspace, SplitKCounters)
			}
			if b == nil {
				return l, fmt.Errorf("argument %d: runtime buffer %s, but the step has no max_split_k", i, v.Runtime)
			}
			l.args = append(l.args, b.Ptr)
		case *engine.Arg_U32PerSample:
			n := uint64(v.U32PerSample) * uint64(r.Batch)
			if n > math.MaxUint32 {
				return l, fmt.Errorf("argument %d: %d elements at batch %d overflow 32 bits", i, n, r.Batch)
			}
			l.args = append(l.args, uint32(n))
		default:
			return l, fmt.Errorf("argument %d is empty", i)
		}
	}
	return l, nil
}

// Upload copies the inputs (NCHW f32, batch samples each) to the device.
func (r *Runtime) Upload(inputs []*ir.Tensor) error {
	if len(inputs) != len(r.e.Inputs) {
		return fmt.Errorf("%d inputs, the engine takes %d", len(inputs), len(r.e.Inputs))
	}
	for i, name := range r.e.Inputs {
		info, t := r.bufInfo[name], inputs[i]
		want := int(info.ElemsPerSample) * r.Batch
		if t.DType != ir.Float32 || t.Len() != want {
			return fmt.Errorf("input %s: %v of %d elements, want f32 of %d (batch %d)", name, t.DType, t.Len(), want, r.Batch)
		}
		if err := cuda.UploadAsync(r.Stream, r.bufs[name].Ptr, t.Float32s()); err != nil {
			return err
		}
	}
	return nil
}

// Enqueue queues every launch on the streams of the plan: the side
// streams start after Stream's earlier work (the uploads), each step after
// the steps of other streams it waits for, and Stream's later work (the
// downloads, the end of a capture) after every side stream's. A host step
// waits for the stream and runs on the CPU before the launches after it
// are queued (an engine with one runs on one stream).
func (r *Runtime) Enqueue() error {
	if len(r.side) > 0 {
		if err := r.fork.Record(r.Stream); err != nil {
			return err
		}
		for _, st := range r.side {
			if err := st.Wait(r.fork); err != nil {
				return err
			}
		}
	}
	for i, l := range r.steps {
		st := r.streamOf(i)
		for _, j := range r.plan.waits[i] {
			if err := st.Wait(r.stepEv[j]); err != nil {
				return err
			}
		}
		if err := r.launch(st, l); err != nil {
			return err
		}
		if r.plan.record[i] {
			if err := r.stepEv[i].Record(st); err != nil {
				return err
			}
		}
	}
	for k, st := range r.side {
		if err := r.join[k].Record(st); err != nil {
			return err
		}
		if err := r.Stream.Wait(r.join[k]); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runtime) launch(st *cuda.Stream, l launch) error {
	if l.host != nil {
		if err := r.runHost(l.host); err != nil {
			return fmt.Errorf("node %s (host fallback): %w", l.step.Node, err)
		}
		return nil
	}
	if err := st.Launch(l.f, l.grid, l.block, int(l.step.SharedBytes), l.args...); err != nil {
		return fmt.Errorf("node %s: %w", l.step.Node, err)
	}
	return nil
}

// HostSteps is the number of steps that run on the host (fallbacks):
// an engine with any cannot be captured in a CUDA graph.
func (r *Runtime) HostSteps() int {
	n := 0
	for _, l := range r.steps {
		if l.host != nil {
			n++
		}
	}
	return n
}

// Steps returns the engine's launch plans in launch order.
func (r *Runtime) Steps() []*engine.Step {
	out := make([]*engine.Step, len(r.steps))
	for i, l := range r.steps {
		out[i] = l.step
	}
	return out
}

// OperandBytes is OperandBytes of the engine's steps at the runtime's
// batch, in launch order (Steps).
func (r *Runtime) OperandBytes() []int64 { return OperandBytes(r.e, r.Batch) }

// EnqueueTimed queues every launch in order on Stream, with an event
// recorded before each launch and one after the last (len(ev) =
// len(Steps())+1), so that ElapsedMs(ev[i], ev[i+1]) is step i's time on
// the GPU alone.
func (r *Runtime) EnqueueTimed(ev []*cuda.Event) error {
	if len(ev) != len(r.steps)+1 {
		return fmt.Errorf("%d events for %d launches, want %d", len(ev), len(r.steps), len(r.steps)+1)
	}
	for i, l := range r.steps {
		if err := ev[i].Record(r.Stream); err != nil {
			return err
		}
		if err := r.launch(r.Stream, l); err != nil {
			return err
		}
	}
	return ev[len(r.steps)].Record(r.Stream)
}

// Download waits for the stream and copies the outputs back, NHWC
// activations transposed to the graph's NCHW.
func (r *Runtime) Download() ([]*ir.Tensor, error) {
	if err := r.Stream.Synchronize(); err != nil {
		return nil, err
	}
	var outs []*ir.Tensor
	for _, name := range r.e.Outputs {
		info := r.bufInfo[name]
		shape := []int{r.Batch}
		for _, d := range info.SampleShape {
			shape = append(shape, int(d))
		}
		n := int(info.ElemsPerSample) * r.Batch
		var t *ir.Tensor
		if info.Dtype == "f32" {
			t = ir.NewTensor(ir.Float32, shape...)
			if err := cuda.Download(r.bufs[name], 0, t.Float32s()[:n]); err != nil {
				return nil, err
			}
		} else {
			t = ir.NewTensor(ir.Int8, shape...)
			if err := cuda.Download(r.bufs[name], 0, t.Int8s()[:n]); err != nil {
				return nil, err
			}
		}
		if info.Layout == LayoutNHWC {
			t = NHWCToNCHW(t)
		}
		outs = append(outs, t)
	}
	return outs, nil
}

// Run uploads, launches and downloads once.
func (r *Runtime) Run(inputs []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := r.Upload(inputs); err != nil {
		return nil, err
	}
	if err := r.Enqueue(); err != nil {
		return nil, err
	}
	return r.Download()
}

// Close frees everything Open allocated.
func (r *Runtime) Close() {
	for _, b := range r.owned {
		_ = b.Free()
	}
	for _, m := range r.mods {
		_ = m.Unload()
	}
	for _, st := range r.side {
		_ = st.Destroy()
	}
	for _, ev := range append(append(r.stepEv, r.fork), r.join...) {
		_ = ev.Destroy()
	}
	if r.Stream != nil {
		_ = r.Stream.Destroy()
	}
	if r.ctx != nil {
		_ = r.ctx.Release()
	}
}

// NHWCToNCHW reorders a 4-D tensor whose data is in NHWC order (its Shape
// the NCHW one) into NCHW order.
func NHWCToNCHW(t *ir.Tensor) *ir.Tensor {
	c, h, w := t.Shape[1], t.Shape[2], t.Shape[3]
	out := ir.NewTensor(t.DType, t.Shape...)
	hw := h * w
	switch src := t.Data.(type) {
	case []float32:
		dst := out.Float32s()
		for i := range dst {
			b, ci, p := i/(c*hw), i/hw%c, i%hw
			dst[i] = src[(b*hw+p)*c+ci]
		}
	case []int8:
		dst := out.Int8s()
		for i := range dst {
			b, ci, p := i/(c*hw), i/hw%c, i%hw
			dst[i] = src[(b*hw+p)*c+ci]
		}
	}
	return out
}

// NewEvents creates n timing events on the runtime's context.
func (r *Runtime) NewEvents(n int) ([]*cuda.Event, error) {
	ev := make([]*cuda.Event, 0, n)
	for i := 0; i < n; i++ {
		e, err := r.ctx.NewEvent()
		if err != nil {
			DestroyEvents(ev)
			return nil, err
		}
		ev = append(ev, e)
	}
	return ev, nil
}

// DestroyEvents destroys events made by NewEvents.
func DestroyEvents(ev []*cuda.Event) {
	for _, e := range ev {
		_ = e.Destroy()
	}
}

// ProfileSteps runs the engine warmup times untimed, then iters times
// with an event before every launch (EnqueueTimed), and returns each
// step's median time in milliseconds, in Steps' order.
func (r *Runtime) ProfileSteps(iters, warmup int) ([]float64, error) {
	if iters <= 0 || warmup < 0 {
		return nil, fmt.Errorf("%d iterations after %d warm-up, want iterations > 0 and warm-up >= 0", iters, warmup)
	}
	ev, err := r.NewEvents(len(r.steps) + 1)
	if err != nil {
		return nil, err
	}
	defer DestroyEvents(ev)
	times := make([][]float64, len(r.steps))
	for it := 0; it < warmup+iters; it++ {
		if err := r.EnqueueTimed(ev); err != nil {
			return nil, err
		}
		if err := ev[len(r.steps)].Synchronize(); err != nil {
			return nil, err
		}
		if it < warmup {
			continue
		}
		for i := range r.steps {
			t, err := cuda.ElapsedMs(ev[i], ev[i+1])
			if err != nil {
				return nil, err
			}
			times[i] = append(times[i], float64(t))
		}
	}
	med := make([]float64, len(times))
	for i, ts := range times {
		slices.Sort(ts)
		med[i] = ts[len(ts)/2]
	}
	return med, nil
}

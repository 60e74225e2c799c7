package calibrate

import (
	"fmt"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// MethodAuto chooses, per value, the calibrator whose range costs least on
// held-out samples, measured at the layers that read the value or at the
// network's outputs (see chooseAuto).
const MethodAuto = "auto"

// autoCandidates are the calibrators auto tries, in the order that breaks
// ties: mse's threshold balances clipping against rounding for the value
// alone, so it is the natural first guess.
var autoCandidates = []string{MethodMSE, MethodPercentile, MethodMax, MethodEntropy}

// DefaultAutoSamples is how many calibration samples auto holds out of the
// histograms by default to measure each candidate's output error on.
const DefaultAutoSamples = 64

// holdoutSize is the number of samples held out of n for auto: asked, but
// at most a quarter of the data, so the histograms keep most of it.
func holdoutSize(asked, n int) int {
	return max(min(asked, n/4), 0)
}

// autoTargets marks the values whose range auto searches: the float inputs
// of the ops the quantize pass quantizes (Conv, Gemm, MatMul, their fused
// forms, residual Adds), since those are the only ranges a quantizer reads.
// Graph inputs are searched only when their method is auto too.
func autoTargets(g *ir.Graph, selected []*ir.Value, method, inputMethod string) []bool {
	read := map[*ir.Value]bool{}
	for _, n := range g.Nodes {
		if quantizableOps[n.Op] {
			for _, v := range n.Inputs {
				if v != nil && !v.IsConst() {
					read[v] = true
				}
			}
		}
	}
	out := make([]bool, len(selected))
	for i, v := range selected {
		m := method
		if g.IsInput(v) {
			m = inputMethod
		}
		out[i] = m == MethodAuto && read[v] && v.Type.DType == ir.Float32
	}
	return out
}

// measurePoints are the values whose change auto measures: the graph's
// float outputs, except that an output computed by Softmax or LogSoftmax is
// measured at its input (the logits): log-probabilities of classes the
// model rules out swing widely without changing any decision.
func measurePoints(g *ir.Graph) []*ir.Value {
	producers := g.Producers()
	var out []*ir.Value
	for _, v := range g.Outputs {
		if v.IsConst() || v.Type.DType != ir.Float32 {
			continue
		}
		if p := producers[v]; p != nil && (p.Op == "Softmax" || p.Op == "LogSoftmax") && len(p.Inputs) > 0 &&
			p.Inputs[0] != nil && !p.Inputs[0].IsConst() && p.Inputs[0].Type.DType == ir.Float32 {
			v = p.Inputs[0]
		}
		out = append(out, v)
	}
	return out
}

// fakeQuantize returns x quantized to int8 with scale amax/127 and zero
// point 0 and back, as the quantize pass's QuantizeLinear/DequantizeLinear
// pair computes it (ref.QuantizeValue: round half to even, saturated to
// int8).
func fakeQuantize(t *ir.Tensor, amax float32) *ir.Tensor {
	out := ir.NewTensor(ir.Float32, t.Shape...)
	fakeQuantizeInto(out.Float32s(), t.Float32s(), amax)
	return out
}

// fakeQuantizeInto is fakeQuantize into dst (at least len(src) long), the
// same bits as ref.QuantizeValue for int8 (TestFakeQuantizeInto) at a
// fraction of the cost: auto fake-quantizes every held-out activation once
// per candidate. x/s is clamped to [-128, 127] (NaN to 0) before rounding,
// which changes nothing, and then rounded half to even by adding and
// subtracting 1.5·2²³: in [2²³, 2²⁴) float32 holds the integers exactly and
// the addition rounds to the nearest, ties to even, as RoundToEven does; a
// zero comes out +0, as through int32.
func fakeQuantizeInto(dst, src []float32, amax float32) {
	const round = 1.5 * (1 << 23)
	s := ScaleFor(amax)
	dst = dst[:len(src)]
	for i, x := range src {
		q := x / s
		switch {
		case q < -128:
			q = -128
		case q > 127:
			q = 127
		case q != q:
			q = 0
		}
		dst[i] = float32(float32(q+round)-round) * s
	}
}

// autoRun evaluates one threshold of one value: the held-out batches run
// with only that value quantized.
type autoRun struct {
	value  int // index into selected
	method string
	amax   float32
	err    float64
}

// The measures of auto's candidates (Config.AutoError).
const (
	// AutoErrorLayer measures at the quantized layers that read the value:
	// their output error. It costs about one forward pass per candidate.
	AutoErrorLayer = "layer"
	// AutoErrorOutput measures at the network's outputs: one forward pass
	// per value and candidate.
	AutoErrorOutput = "output"
)

// chooseAuto sets the range of every value targets marks: each distinct
// threshold the candidate calibrators give it is tried on the held-out
// batches with only that value fake-quantized, the rest of the network
// float, and the threshold with the least relative squared error wins.
// The error is measured where measure says (AutoErrorLayer or
// AutoErrorOutput, see measureLayers and measureOutputs). ranges holds the
// fallback choice on entry and is updated in place.
func chooseAuto(g *ir.Graph, selected []*ir.Value, targets []bool, hists []*Histogram, heldout [][]*ir.Tensor, percentile float64, measure string, ranges []Range, out io.Writer) error {
	start := time.Now()
	var jobs []*autoRun
	for i, h := range hists {
		if !targets[i] || h.N == 0 || h.Amax == 0 {
			continue
		}
		var seen []float32
		for _, m := range autoCandidates {
			t, _ := Threshold(h, m, percentile) // candidates and percentile checked by Calibrate
			if !containsNear(seen, t) {
				seen = append(seen, t)
				jobs = append(jobs, &autoRun{value: i, method: m, amax: t})
			}
		}
	}
	var err error
	switch measure {
	case AutoErrorOutput:
		err = measureOutputs(g, selected, jobs, heldout)
	default:
		err = measureLayers(g, selected, jobs, heldout)
	}
	if err != nil {
		return err
	}
	// Each value's jobs are contiguous and in tie-breaking order.
	for k := 0; k < len(jobs); {
		i := jobs[k].value
		best := jobs[k]
		errs := map[string]float64{}
		for ; k < len(jobs) && jobs[k].value == i; k++ {
			j := jobs[k]
			errs[j.method] = j.err
			if j.err < best.err {
				best = j
			}
		}
		// Methods that gave a threshold already measured share its error.
		for _, m := range autoCandidates {
			if _, ok := errs[m]; !ok {
				t, _ := Threshold(hists[i], m, percentile)
				for _, j := range jobs {
					if j.value == i && near(j.amax, t) {
						errs[m] = j.err
						break
					}
				}
			}
		}
		r := &ranges[i]
		r.Amax, r.Scale, r.Method, r.Errors = best.amax, ScaleFor(best.amax), best.method, errs
		r.Error = best.err
		r.Searched = true
	}
	searched := 0
	for _, t := range targets {
		if t {
			searched++
		}
	}
	samples := 0
	for _, b := range heldout {
		if len(b) > 0 && len(b[0].Shape) > 0 {
			samples += b[0].Shape[0]
		} else {
			samples++
		}
	}
	note(out, "auto: %d values searched, %d ranges measured at the %s on %d held-out samples in %v", searched, len(jobs), measureWhere[measure], samples, time.Since(start).Round(time.Millisecond))
	return nil
}

var measureWhere = map[string]string{AutoErrorLayer: "layers reading them", AutoErrorOutput: "network's outputs"}

// measureOutputs sets each job's error to its OutputErrors with only its
// value quantized.
func measureOutputs(g *ir.Graph, selected []*ir.Value, jobs []*autoRun, heldout [][]*ir.Tensor) error {
	ps := make([]Perturbation, len(jobs))
	for i, j := range jobs {
		ps[i] = Perturbation{Activations: map[*ir.Value]float32{selected[j.value]: j.amax}}
	}
	errs, err := OutputErrors(g, heldout, ps)
	if err != nil {
		return fmt.Errorf("calibrate auto: %w", err)
	}
	for i, j := range jobs {
		j.err = errs[i]
	}
	return nil
}

// Perturbation is one way of quantizing part of a graph, for OutputErrors.
type Perturbation struct {
	// Activations maps values to the threshold of their fake quantization
	// (symmetric int8, as the quantize pass's Q/DQ pairs compute it).
	Activations map[*ir.Value]float32
	// Weights maps constants to the tensors to use instead (a weight
	// quantized and dequantized, say).
	Weights map[*ir.Value]*ir.Tensor
}

// OutputErrors returns, for each perturbation, the relative squared error
// Σ(y_q − y)² / Σ y² it causes at g's float outputs (before a final Softmax
// or LogSoftmax, see measurePoints) over the batches. Perturbations without
// weights run on every core at once; weights are swapped into their
// constants for their runs and restored, so g must not be run elsewhere
// meanwhile.
func OutputErrors(g *ir.Graph, batches [][]*ir.Tensor, ps []Perturbation) ([]float64, error) {
	points := measurePoints(g)
	if len(points) == 0 {
		return nil, fmt.Errorf("graph %s has no float output to measure quantization error on", g.Name)
	}
	e, err := ref.New(g)
	if err != nil {
		return nil, err
	}
	isPoint := make(map[*ir.Value]int, len(points))
	for i, v := range points {
		isPoint[v] = i
	}
	// run runs one batch with the activations of acts quantized and
	// returns copies of the measure points.
	run := func(batch []*ir.Tensor, acts map[*ir.Value]float32) ([][]float32, error) {
		got := make([][]float32, len(points))
		capture := func(v *ir.Value, t *ir.Tensor) {
			if i, ok := isPoint[v]; ok {
				got[i] = append([]float32(nil), t.Float32s()...)
			}
		}
		in := batch
		for k, v := range g.Inputs {
			if amax, ok := acts[v]; ok {
				in = slices.Clone(in) // the caller's batch stays as it was
				in[k] = fakeQuantize(batch[k], amax)
			}
			capture(v, in[k])
		}
		_, err := e.RunReplacing(in, func(v *ir.Value, t *ir.Tensor) *ir.Tensor {
			if amax, ok := acts[v]; ok {
				t = fakeQuantize(t, amax)
			}
			capture(v, t)
			return t
		})
		return got, err
	}
	reference := make([][][]float32, len(batches))
	var energy float64
	for b, batch := range batches {
		if reference[b], err = run(batch, nil); err != nil {
			return nil, fmt.Errorf("batch %d: %w", b+1, err)
		}
		for _, y := range reference[b] {
			energy += sumSquares(y)
		}
	}
	energy = max(energy, math.SmallestNonzeroFloat64)
	errs := make([]float64, len(ps))
	measure := func(i int) error {
		var sum float64
		for b, batch := range batches {
			got, err := run(batch, ps[i].Activations)
			if err != nil {
				return fmt.Errorf("batch %d: %w", b+1, err)
			}
			for p, y := range got {
				sum += sumDiff(y, reference[b][p])
			}
		}
		errs[i] = sum / energy
		return nil
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := measure(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i, p := range ps {
		if len(p.Weights) == 0 {
			next <- i
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	for i, p := range ps {
		if len(p.Weights) == 0 {
			continue
		}
		saved := make(map[*ir.Value]*ir.Tensor, len(p.Weights))
		for v, t := range p.Weights {
			saved[v] = v.Const
			v.Const = t
		}
		err := measure(i)
		for v, t := range saved {
			v.Const = t
		}
		if err != nil {
			return nil, err
		}
	}
	return errs, nil
}

// measureLayers sets each job's error to the relative squared error of the
// quantizable layers that read its value (Conv, Gemm, MatMul, their fused
// forms, Adds), summed over those layers: Σ(y_q − y)² / Σ y² of each
// layer's output over the held-out batches, with only that input
// fake-quantized. The graph runs once per batch in float; as each such
// layer finishes, it runs again alone for every candidate of each of its
// searched inputs.
func measureLayers(g *ir.Graph, selected []*ir.Value, jobs []*autoRun, heldout [][]*ir.Tensor) error {
	byValue := map[*ir.Value][]*autoRun{}
	for _, j := range jobs {
		v := selected[j.value]
		byValue[v] = append(byValue[v], j)
	}
	// The layers to rerun: quantizable readers of a searched value, each
	// as a one-node graph over its non-constant inputs.
	type layerRun struct {
		n      *ir.Node
		e      *ref.Executor
		inputs []*ir.Value
		// num[v][k] and den accumulate job k of value v's error.
		num map[*ir.Value][]float64
		den float64
	}
	var layers []*layerRun
	byOutput := map[*ir.Value]*layerRun{}
	keep := map[*ir.Value]int{} // value -> number of layer runs still to read it, per batch
	for _, n := range g.Nodes {
		if !quantizableOps[n.Op] || len(n.Outputs) == 0 || n.Outputs[0].Type.DType != ir.Float32 {
			continue
		}
		lr := &layerRun{n: n, num: map[*ir.Value][]float64{}}
		for _, v := range n.Inputs {
			if v != nil && len(byValue[v]) > 0 && lr.num[v] == nil {
				lr.num[v] = make([]float64, len(byValue[v]))
			}
		}
		if len(lr.num) == 0 {
			continue
		}
		seen := map[*ir.Value]bool{}
		for _, v := range n.Inputs {
			if v != nil && !v.IsConst() && !seen[v] {
				seen[v] = true
				lr.inputs = append(lr.inputs, v)
				keep[v]++
			}
		}
		sub := &ir.Graph{Name: n.Name, Inputs: lr.inputs, Nodes: []*ir.Node{n}, Outputs: n.Outputs[:1]}
		e, err := ref.New(sub)
		if err != nil {
			return fmt.Errorf("calibrate auto: layer %s: %w", n.Name, err)
		}
		lr.e = e
		layers = append(layers, lr)
		byOutput[n.Outputs[0]] = lr
	}
	full, err := ref.New(g)
	if err != nil {
		return err
	}
	// The reruns go to workers on every core while the forward pass goes
	// on: each adds its error to its job after the last batch, in the
	// order the forward passes produced them, so the sums do not depend
	// on the number of cores.
	pool := startReruns(runtime.GOMAXPROCS(0))
	var reruns []*rerun
	for b, batch := range heldout {
		held := map[*ir.Value]*ir.Tensor{}
		left := maps.Clone(keep)
		observe := func(v *ir.Value, t *ir.Tensor) {
			if keep[v] > 0 {
				held[v] = t
			}
			lr := byOutput[v]
			if lr == nil {
				return
			}
			lr.den += sumSquares(t.Float32s())
			in := make([]*ir.Tensor, len(lr.inputs))
			for k, x := range lr.inputs {
				in[k] = held[x]
			}
			for k, x := range lr.inputs {
				for ji, j := range byValue[x] {
					if lr.num[x] == nil {
						break
					}
					r := &rerun{layer: lr.n, e: lr.e, in: in, input: k, value: x, job: j, want: t.Float32s(), num: &lr.num[x][ji]}
					reruns = append(reruns, r)
					pool.submit(r)
				}
			}
			for _, x := range lr.inputs {
				if left[x]--; left[x] == 0 {
					delete(held, x)
				}
			}
		}
		for k, v := range g.Inputs {
			if keep[v] > 0 {
				held[v] = batch[k]
			}
		}
		if _, err := full.RunObserved(batch, observe); err != nil {
			pool.wait()
			return fmt.Errorf("calibrate auto: held-out batch %d: %w", b+1, err)
		}
	}
	pool.wait()
	for _, r := range reruns {
		if r.err != nil {
			return fmt.Errorf("calibrate auto: layer %s, %s range of %s: %w", r.layer.Name, r.job.method, r.value.Name, r.err)
		}
		*r.num += r.diff
	}
	for _, lr := range layers {
		den := max(lr.den, math.SmallestNonzeroFloat64)
		for v, num := range lr.num {
			for k, j := range byValue[v] {
				j.err += num[k] / den
			}
		}
	}
	return nil
}

// rerun is one rerun of a layer for measureLayers: on its float inputs in
// with in[input] fake-quantized to job's threshold, the error against the
// float output want.
type rerun struct {
	layer *ir.Node
	e     *ref.Executor // the layer alone
	in    []*ir.Tensor
	input int
	value *ir.Value // in[input]'s value
	job   *autoRun
	want  []float32
	num   *float64 // where diff goes, once every rerun is done
	diff  float64  // Σ(out − want)²
	err   error
}

// rerunPool runs reruns on a fixed number of workers, each with a buffer for
// the fake-quantized input that it reuses from one rerun to the next (the
// largest activations are megabytes, and a fresh zeroed tensor per rerun
// cost as much as the quantizing).
type rerunPool struct {
	queue chan *rerun
	wg    sync.WaitGroup
}

func startReruns(workers int) *rerunPool {
	p := &rerunPool{queue: make(chan *rerun, workers)}
	for range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			var buf []float32
			for r := range p.queue {
				buf = r.run(buf)
			}
		}()
	}
	return p
}

// submit queues r, waiting while every worker is busy and the queue full:
// the forward pass does not run ahead of the reruns holding its tensors.
func (p *rerunPool) submit(r *rerun) { p.queue <- r }

// wait returns when every submitted rerun is done; the pool is closed.
func (p *rerunPool) wait() {
	close(p.queue)
	p.wg.Wait()
}

// run does the rerun, setting diff or err, with buf as the quantized
// input's storage, and returns buf (grown if it had to be).
func (r *rerun) run(buf []float32) []float32 {
	// measureLayers keeps every rerun until the last is done; the
	// activations need not stay that long.
	defer func() { r.in, r.want = nil, nil }()
	x := r.in[r.input]
	src := x.Float32s()
	if cap(buf) < len(src) {
		buf = make([]float32, len(src))
	}
	buf = buf[:len(src)]
	fakeQuantizeInto(buf, src, r.job.amax)
	args := slices.Clone(r.in)
	args[r.input] = &ir.Tensor{DType: ir.Float32, Shape: x.Shape, Data: buf}
	out, err := r.e.Run(args)
	if err != nil {
		r.err = err
		return buf
	}
	r.diff = sumDiff(out[0].Float32s(), r.want)
	return buf
}

func sumSquares(x []float32) float64 {
	s := 0.0
	for _, v := range x {
		s += float64(float64(v) * float64(v))
	}
	return s
}

func sumDiff(a, b []float32) float64 {
	s := 0.0
	for i, v := range a {
		d := float64(v) - float64(b[i])
		s += float64(d * d)
	}
	return s
}

// near reports whether two thresholds are the same for int8 purposes: they
// differ by less than a thousandth.
func near(a, b float32) bool {
	return math.Abs(float64(a)-float64(b)) <= 1e-3*math.Max(math.Abs(float64(a)), math.Abs(float64(b)))
}

func containsNear(s []float32, t float32) bool {
	for _, x := range s {
		if near(x, t) {
			return true
		}
	}
	return false
}

// AutoSummary lists, for a result of method auto, how many searched values
// each calibrator won, as "mse 3, max 1".
func (r *Result) AutoSummary() string {
	count := map[string]int{}
	for _, rg := range r.Ranges {
		if rg.Searched {
			count[rg.Method]++
		}
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool {
		if count[keys[a]] != count[keys[b]] {
			return count[keys[a]] > count[keys[b]]
		}
		return keys[a] < keys[b]
	})
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %d", k, count[k])
	}
	return s
}

// note writes one remark of the pass to w (the pass's Notes), if any.
func note(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "calibrate: "+format+"\n", args...)
	}
}

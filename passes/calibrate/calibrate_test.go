package calibrate

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/internal/dataset"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
	"github.com/sqc-project/sqc/passes"
)

const smallGraph = `graph "g" (%x: f32[N,4]) -> (%s) {
  const %k: f32[4] = [1, -2, 0.5, 0]
  %m: f32[N,4] = Mul "mul" (%x, %k)
  %r: f32[N,4] = Relu "relu" (%m)
  %s: f32[N,4] = Add "add" (%r, %x)
}
`

func parseGraph(t *testing.T, src string) *ir.Graph {
	t.Helper()
	g, err := sqir.ParseAndVerify("test.sqir", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// sampleX is the calibration data of smallGraph: sample i, feature f.
func sampleX(i, f int) float32 { return float32(i-32) * float32(f+1) / 8 }

// writeNpy writes a little-endian float32 .npy file (format 1.0, per the
// NumPy format description) without depending on the reader under test.
func writeNpy(t *testing.T, path string, data []float32, shape ...int) {
	t.Helper()
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s,), }", strings.Join(dims, ", "))
	for (10+len(dict)+1)%64 != 0 {
		dict += " "
	}
	dict += "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(dict)))
	b.WriteString(dict)
	binary.Write(&b, binary.LittleEndian, data)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func smallData(t *testing.T, dir string) string {
	data := make([]float32, 64*4)
	for i := range 64 {
		for f := range 4 {
			data[i*4+f] = sampleX(i, f)
		}
	}
	path := filepath.Join(dir, "x.npy")
	writeNpy(t, path, data, 64, 4)
	return path
}

func TestCalibrateMaxRanges(t *testing.T) {
	g := parseGraph(t, smallGraph)
	path := smallData(t, t.TempDir())
	res, err := Calibrate(g, Config{Data: dataset.Spec{Path: path, Batch: 5}, Method: MethodMax})
	if err != nil {
		t.Fatal(err)
	}
	if res.Samples != 64 || res.Method != MethodMax || res.FromCache {
		t.Fatalf("samples %d method %s fromCache %v", res.Samples, res.Method, res.FromCache)
	}
	// The ranges computed here directly from the formulas of the graph.
	k := []float32{1, -2, 0.5, 0}
	want := map[string][2]float32{}
	upd := func(name string, v float32) {
		r, ok := want[name]
		if !ok {
			r = [2]float32{v, v}
		}
		want[name] = [2]float32{min(r[0], v), max(r[1], v)}
	}
	for i := range 64 {
		for f := range 4 {
			x := sampleX(i, f)
			m := x * k[f]
			r := max(m, 0)
			upd("x", x)
			upd("m", m)
			upd("r", r)
			upd("s", r+x)
		}
	}
	if len(res.Ranges) != len(want) {
		t.Fatalf("ranges for %v, want %v", res.Names(), want)
	}
	for name, w := range want {
		got := res.Ranges[name]
		amax := max(-w[0], w[1])
		if got.Min != w[0] || got.Max != w[1] || got.Amax != amax || got.Scale != amax/127 {
			t.Errorf("%s: got %+v, want min %v max %v amax %v scale %v", name, got, w[0], w[1], amax, amax/127)
		}
	}
}

// reader is a pass that reads the calibrate result, as quantize does.
var (
	readerResult *Result
	readerPass   = &passes.Pass{
		Name: "test-calibrate-reader", Doc: "read the calibrate result",
		Requires: []*passes.Pass{Pass},
		Run: func(c *passes.Context) (any, error) {
			r, err := c.ResultOf(Pass)
			if err != nil {
				return nil, err
			}
			readerResult = r.(*Result)
			return nil, nil
		},
	}
)

func init() { passes.Register(readerPass) }

func TestPassInPipeline(t *testing.T) {
	g := parseGraph(t, smallGraph)
	path := smallData(t, t.TempDir())
	// Options as the command line gives them (text).
	specs := []passes.StepSpec{
		{Name: "calibrate", Options: map[string]any{"data": path, "samples": "10", "batch": "3", "method": "percentile", "input-method": "percentile", "percentile": "50", "progress": "false"}},
		{Name: "test-calibrate-reader"},
	}
	p, err := passes.Build(specs)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := (&passes.Manager{VerifyEach: true}).Run(g, p)
	if err != nil {
		t.Fatal(err)
	}
	r := readerResult
	if r == nil || r.Samples != 10 || r.Method != MethodPercentile || len(r.Ranges) != 4 {
		t.Fatalf("the reader saw %+v, want the pipeline step's result: 10 samples, percentile, 4 values", r)
	}
	if st := rep.Stats["calibrate"]; st["samples"] != 10 || st["values"] != 4 {
		t.Errorf("stats %v", st)
	}
	// The median of |x| over samples 0..9 (40 elements), to within one
	// bin: |x| <= 16, so the histogram spans [0, 32) in bins of 1/128.
	var abs []float64
	for i := range 10 {
		for f := range 4 {
			abs = append(abs, math.Abs(float64(sampleX(i, f))))
		}
	}
	sort.Float64s(abs)
	if a, med := float64(r.Ranges["x"].Amax), abs[19]; a < med || a > med+1.0/128 {
		t.Errorf("50th percentile of |x| = %v, want within 1/128 above the median %v", a, med)
	}
	// By default the graph input keeps its whole range (max), whatever the method.
	specs[0].Options["input-method"] = "max"
	if p, err = passes.Build(specs); err != nil {
		t.Fatal(err)
	}
	if _, err := (&passes.Manager{}).Run(parseGraph(t, smallGraph), p); err != nil {
		t.Fatal(err)
	}
	if a, top := float64(readerResult.Ranges["x"].Amax), abs[len(abs)-1]; a != top {
		t.Errorf("input-method max: amax %v, want the largest |x| %v", a, top)
	}
	if _, err := passes.Build([]passes.StepSpec{{Name: "calibrate", Options: map[string]any{"method": "kl"}}}); err == nil || !strings.Contains(err.Error(), `"kl" is not one of`) {
		t.Errorf("bad method: got %v", err)
	}
}

func TestQuantizableValues(t *testing.T) {
	g := parseGraph(t, smallGraph)
	path := smallData(t, t.TempDir())
	res, err := Calibrate(g, Config{Data: dataset.Spec{Path: path}, Values: ValuesQuantizable, Method: MethodMax})
	if err != nil {
		t.Fatal(err)
	}
	// Add's operands r and x and its result s; Mul and Relu are not int8 ops.
	if got := strings.Join(res.Names(), " "); got != "r s x" {
		t.Errorf("values %q, want \"r s x\"", got)
	}
}

func TestCacheReuseAndRefusal(t *testing.T) {
	dir := t.TempDir()
	path := smallData(t, dir)
	cache := filepath.Join(dir, "calib.cache")
	g := parseGraph(t, smallGraph)
	first, err := Calibrate(g, Config{Data: dataset.Spec{Path: path}, Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	text, _ := os.ReadFile(cache)
	lines := strings.Split(string(text), "\n")
	if lines[0] != "# sqc calibration cache v2" || lines[1] != "graph "+GraphHash(g) || !strings.HasPrefix(lines[2], "data ") || lines[3] != "method entropy" {
		t.Fatalf("cache header:\n%s", text)
	}
	if want := fmt.Sprintf("s\t%s\t%s\tentropy\t-", fmtFloat(first.Ranges["s"].Scale), fmtFloat(first.Ranges["s"].Amax)); !strings.Contains(string(text), want+"\n") {
		t.Errorf("cache lacks %q:\n%s", want, text)
	}
	// Without data, the cache answers.
	again, err := Calibrate(parseGraph(t, smallGraph), Config{Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	if !again.FromCache || again.Samples != 0 || len(again.Ranges) != 4 {
		t.Fatalf("second run: %+v, want the cache's ranges", again)
	}
	for name, r := range first.Ranges {
		if c := again.Ranges[name]; c.Scale != r.Scale || c.Amax != r.Amax {
			t.Errorf("%s: cache gave %+v, calibration %+v", name, c, r)
		}
	}
	// With the same data it answers too (the data hash matches).
	if r, err := Calibrate(g, Config{Data: dataset.Spec{Path: path}, Cache: cache}); err != nil || !r.FromCache {
		t.Errorf("same data: fromCache %v, %v", r != nil && r.FromCache, err)
	}
	// Another graph (one weight changed): refused without data ...
	changed := parseGraph(t, strings.Replace(smallGraph, "0.5", "0.25", 1))
	_, err = Calibrate(changed, Config{Cache: cache})
	if err == nil || !strings.Contains(err.Error(), "calibration cache "+cache+" does not match: it was made for graph "+GraphHash(g)[:12]) ||
		!strings.Contains(err.Error(), "give calibration data") {
		t.Errorf("changed graph without data: got %v", err)
	}
	// ... another method too ...
	_, err = Calibrate(g, Config{Cache: cache, Method: MethodMSE})
	if err == nil || !strings.Contains(err.Error(), "it holds entropy ranges, mse was asked for") {
		t.Errorf("other method: got %v", err)
	}
	// ... and recalibrated (with a note) when data is given.
	var out bytes.Buffer
	r, err := Calibrate(changed, Config{Data: dataset.Spec{Path: path}, Cache: cache, Notes: &out})
	if err != nil || r.FromCache {
		t.Fatalf("changed graph with data: %v, fromCache %v", err, r != nil && r.FromCache)
	}
	if !strings.Contains(out.String(), "does not match") || !strings.Contains(out.String(), "calibrating again") {
		t.Errorf("no note about the replaced cache: %q", out.String())
	}
	if c, err := ReadCache(cache); err != nil || c.Graph != GraphHash(changed) {
		t.Errorf("the cache was not rewritten for the new graph: %v", err)
	}
	// Other data (fewer samples) with the new graph: recalibrated.
	r, err = Calibrate(changed, Config{Data: dataset.Spec{Path: path, Limit: 32}, Cache: cache})
	if err != nil || r.FromCache || r.Samples != 32 {
		t.Errorf("other data: %v, %+v", err, r)
	}
	// Neither data nor a cache.
	if _, err := Calibrate(g, Config{}); err == nil || !strings.Contains(err.Error(), "no calibration data") {
		t.Errorf("nothing given: got %v", err)
	}
}

func TestNaNActivation(t *testing.T) {
	g := parseGraph(t, `graph "g" (%x: f32[N,2]) -> (%y) {
  %y: f32[N,2] = Mul "square" (%x, %x)
}
`)
	dir := t.TempDir()
	path := filepath.Join(dir, "x.npy")
	writeNpy(t, path, []float32{1, 2, 3, 4, 1e30, 5}, 3, 2) // (1e30)² overflows float32, in sample 2
	_, err := Calibrate(g, Config{Data: dataset.Spec{Path: path, Batch: 2}})
	if err == nil || !strings.Contains(err.Error(), "value y, batch 2: element 0 is +Inf, want finite values") {
		t.Errorf("got %v, want an error naming value y and batch 2", err)
	}
}

// Data that is one constant everywhere (a file of zeros) is refused: every
// range calibrated on it would be that constant's.
func TestConstantDataRefused(t *testing.T) {
	g := parseGraph(t, smallGraph)
	dir := t.TempDir()
	path := filepath.Join(dir, "zeros.npy")
	writeNpy(t, path, make([]float32, 8*4), 8, 4)
	_, err := Calibrate(g, Config{Data: dataset.Spec{Path: path, Batch: 4}})
	want := "calibration data " + path + ": graph input x is 0 everywhere in all 8 samples"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want %s...", err, want)
	}
	// One sample that differs is data.
	data := make([]float32, 8*4)
	data[5] = 1
	writeNpy(t, path, data, 8, 4)
	if _, err := Calibrate(g, Config{Data: dataset.Spec{Path: path, Batch: 4}}); err != nil {
		t.Errorf("data with one non-zero: %v", err)
	}
}

// recorder is a passes.Progress that keeps what it was told.
type recorder struct {
	mu     sync.Mutex
	starts []string
	adds   []int
	ended  []bool
}

func (r *recorder) Start(what, unit string, total int) passes.Task {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starts = append(r.starts, fmt.Sprintf("%s %d %s", what, total, unit))
	return r
}

func (r *recorder) Add(n int) { r.mu.Lock(); r.adds = append(r.adds, n); r.mu.Unlock() }
func (r *recorder) End(ok bool) {
	r.mu.Lock()
	r.ended = append(r.ended, ok)
	r.mu.Unlock()
}

// The pass reports every batch to the manager's Progress, and nothing with
// progress = false.
func TestProgressReported(t *testing.T) {
	data := smallData(t, t.TempDir())
	var rec recorder
	m := &passes.Manager{Progress: &rec}
	if _, err := m.RunSpec(parseGraph(t, smallGraph), "calibrate{data="+data+";batch=16}"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.starts, []string{"calibrate 64 samples"}) || !slices.Equal(rec.adds, []int{16, 16, 16, 16}) || !slices.Equal(rec.ended, []bool{true}) {
		t.Errorf("started %q, added %v, ended %v", rec.starts, rec.adds, rec.ended)
	}
	rec = recorder{}
	if _, err := m.RunSpec(parseGraph(t, smallGraph), "calibrate{data="+data+";progress=false}"); err != nil {
		t.Fatal(err)
	}
	if len(rec.starts) != 0 {
		t.Errorf("progress = false reported %q", rec.starts)
	}
}

func TestMNISTBurn(t *testing.T) {
	g, spec := mnistBurn(t, "t10k", 32)
	start := time.Now()
	res, err := Calibrate(g, Config{Data: spec, Method: MethodEntropy})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d samples, %d values in %v", res.Samples, len(res.Ranges), time.Since(start))
	in := res.Ranges[g.Inputs[0].Name]
	// Pixels 0 and 255 normalised: (0 − 0.1307)/0.3081 and (1 − 0.1307)/0.3081.
	if math.Abs(float64(in.Min)+0.1307/0.3081) > 1e-5 || math.Abs(float64(in.Max)-(1-0.1307)/0.3081) > 1e-5 || in.Amax > in.Max {
		t.Errorf("input range %+v, want min −0.4242, max 2.8215, amax <= max", in)
	}
	convs := 0
	for _, n := range g.Nodes {
		for _, v := range n.Outputs {
			r, ok := res.Ranges[v.Name]
			if !ok {
				t.Errorf("no range for %s (output of %s)", v.Name, n.Op)
				continue
			}
			if r.Amax > max(-r.Min, r.Max) || r.Scale != ScaleFor(r.Amax) {
				t.Errorf("%s: %+v: amax beyond the data or scale not amax/127", v.Name, r)
			}
			if n.Op == "Conv" && r.Amax > 0 {
				convs++
			}
		}
	}
	if convs != 3 || res.Samples != 32 {
		t.Errorf("%d conv outputs with a range, %d samples; want 3 and 32", convs, res.Samples)
	}
}

// TestAutoMNISTBurn runs method auto on mnist_burn: the first Relu's
// background spikes make entropy clip its strokes (README, "INT8
// accuracy"), which auto must see in the output error and avoid, and every
// searched value must carry the least error of its candidates.
func TestAutoMNISTBurn(t *testing.T) {
	g, spec := mnistBurn(t, "train", 128)
	cache := filepath.Join(t.TempDir(), "calib.cache")
	res, err := Calibrate(g, Config{Data: spec, Method: MethodAuto, InputMethod: MethodMax, AutoSamples: 32, Percentile: 99.99, Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	searched := 0
	for name, r := range res.Ranges {
		if !r.Searched {
			if r.Method != MethodMSE && r.Method != MethodMax {
				t.Errorf("%s: not searched but method %q", name, r.Method)
			}
			continue
		}
		searched++
		if len(r.Errors) != len(autoCandidates) {
			t.Errorf("%s: errors %v, want one per candidate", name, r.Errors)
		}
		for m, e := range r.Errors {
			if e < r.Error {
				t.Errorf("%s: chose %s (error %g) but %s measured %g", name, r.Method, r.Error, m, e)
			}
		}
		if r.Errors[r.Method] != r.Error {
			t.Errorf("%s: the error of %s is %g, recorded %g", name, r.Method, r.Errors[r.Method], r.Error)
		}
	}
	// conv2, conv3, fc1 and fc2 read an activation (conv1 reads the input).
	if searched != 4 {
		t.Errorf("%d values searched, want 4", searched)
	}
	relu := res.Ranges["/Relu_output_0"]
	if relu.Method == MethodEntropy || relu.Errors[MethodEntropy] < 100*relu.Error {
		t.Errorf("first relu: %s", relu.Describe())
	}
	in := res.Ranges[g.Inputs[0].Name]
	if in.Searched || in.Method != MethodMax {
		t.Errorf("input: %+v, want max, not searched", in)
	}
	if res.Samples != 128 {
		t.Errorf("%d samples, want 128 (96 into the histograms, 32 held out)", res.Samples)
	}
	// Measured at the network's output instead, the same trap is avoided.
	out, err := Calibrate(g, Config{Data: spec, Method: MethodAuto, InputMethod: MethodMax, AutoSamples: 32, Percentile: 99.99, AutoError: AutoErrorOutput})
	if err != nil {
		t.Fatal(err)
	}
	if r := out.Ranges["/Relu_output_0"]; r.Method == MethodEntropy || r.Errors[MethodEntropy] < 100*r.Error {
		t.Errorf("first relu, measured at the output: %s", r.Describe())
	}
	// A cache measured at the layers does not answer for the output.
	if _, err := Calibrate(g, Config{Method: MethodAuto, InputMethod: MethodMax, Percentile: 99.99, AutoError: AutoErrorOutput, Cache: cache}); err == nil ||
		!strings.Contains(err.Error(), "its auto ranges were measured at the layers reading them, auto-error = output was asked for") {
		t.Errorf("cache of another auto-error: got %v", err)
	}
	// The cache keeps every choice and error, and answers next time.
	again, err := Calibrate(g, Config{Method: MethodAuto, InputMethod: MethodMax, Percentile: 99.99, Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range res.Ranges {
		c := again.Ranges[name]
		if c.Amax != r.Amax || c.Method != r.Method || c.Searched != r.Searched || math.Abs(c.Error-r.Error) > 1e-3*r.Error {
			t.Errorf("%s: cache gave %+v, calibration %+v", name, c, r)
		}
	}
}

// mnistBurn imports ../shared's PyTorch MNIST model, and the spec of the
// first limit images of the MNIST file set ("train" or "t10k") normalised
// as it was trained; it skips t without ../shared.
func mnistBurn(t *testing.T, set string, limit int) (*ir.Graph, dataset.Spec) {
	t.Helper()
	model := "../../../shared/models/mnist_burn_pytorch_bn.onnx"
	if _, err := os.Stat(model); err != nil {
		t.Skip("no ../shared")
	}
	g, err := onnx.Import(model)
	if err != nil {
		t.Fatal(err)
	}
	return g, dataset.Spec{Path: "../../../shared/data/mnist/" + set + "-images-idx3-ubyte.gz", Limit: limit,
		Preprocess: dataset.Preprocess{Scale: 1.0 / 255, Mean: []float32{0.1307}, Std: []float32{0.3081}}}
}

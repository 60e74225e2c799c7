// Package dataset reads calibration (and evaluation) data into the tensors
// a graph's inputs take, one batch at a time and in a deterministic order.
// Memory stays bounded: arrays and tensor files are read sample by sample
// or file by file, images one at a time; only IDX files (tens of MB at
// most) are read whole.
//
// Formats (Spec.Format, or chosen from the path when empty or "auto"):
//
//   - npy: one NumPy array file (format versions 1, 2 and 3, either byte
//     order; float16/32/64, int8/16/32/64, uint8/16/32/64 and bool; C order
//     only). Its first dim counts samples.
//   - npz: a zip of .npy arrays, stored or deflated, as numpy.savez and
//     savez_compressed write them. Each array feeds one graph input: by name
//     when the names match the graph's inputs, else in order (arr_0, arr_1 ...
//     as numpy.savez names positional arrays). All arrays have the same
//     number of samples.
//   - idx: an MNIST-style IDX file, gzipped or not (read by internal/mnist).
//     A 3-dim file (count, rows, cols) is a set of grayscale images and goes
//     through the image preprocessing; any other rank is an array of bytes.
//   - pb: serialized ONNX TensorProto files: one file, a folder of them
//     (sorted by name; each file's first dim counts samples), or an ONNX test
//     folder of test_data_set_N/input_K.pb (input K feeds graph input K).
//   - images: a JPEG or PNG file, or a folder of them searched recursively
//     (an ImageNet-style class-per-folder tree works), in sorted path order.
//
// Images are preprocessed as torchvision's usual evaluation transform does:
// resize so the shorter side is Resize, with Pillow's bilinear filter
// reproduced exactly (resample.go: torchvision resizes PIL images with it;
// golang.org/x/image/draw's BiLinear comes within one level, CatmullRom
// further off, see TestResizeMatchesPIL), center crop Crop×Crop, then per
// channel (pixel·Scale − Mean[c]) / Std[c], in RGB, BGR or grayscale order,
// laid out NCHW or NHWC. JPEG decoding is Go's image/jpeg, which upsamples
// chroma without libjpeg's "fancy" interpolation, so decoded colours can
// differ from PIL's by a few levels near sharp edges.
//
// A Source yields batches of Spec.Batch samples: one tensor per graph input
// whose first dim is the batch. When the graph's batch dim is fixed, every
// batch has exactly that many samples and a final partial batch is dropped
// (the samples it would have held are not counted by Len); otherwise the
// last batch may be smaller.
//
// Products that feed an addition are rounded explicitly (float64(x*y),
// float32(x*y)) so that Go cannot fuse them into one multiply-add on arm64 or
// with GOAMD64=v3: the same data gives the same tensors on every host (the rule
// of ir/ref's package doc; cmd/sqc's TestNoImplicitFusedMultiplyAdd checks it).
package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sqc-project/sqc/ir"
)

// The formats Open knows.
const (
	FormatNpy    = "npy"
	FormatNpz    = "npz"
	FormatIDX    = "idx"
	FormatPB     = "pb"
	FormatImages = "images"
)

// Formats lists the format names a Spec accepts ("auto" or "" chooses by path).
var Formats = []string{"auto", FormatNpy, FormatNpz, FormatIDX, FormatPB, FormatImages}

// Layouts of image tensors.
const (
	NCHW = "NCHW"
	NHWC = "NHWC"
)

// Channel orders of image tensors.
const (
	RGB  = "rgb"
	BGR  = "bgr"
	Gray = "gray"
)

// Preprocess says how raw data becomes model input. The zero value leaves
// images at their size, RGB, NCHW, with pixel values 0..255, and arrays
// untouched.
type Preprocess struct {
	// Resize, when > 0, resizes an image so that its shorter side is Resize
	// (images only: arrays are taken at their own size)
	// pixels, keeping the aspect ratio (the longer side is truncated as
	// torchvision computes it: int(Resize·long/short)).
	Resize int
	// Crop, when > 0, cuts the central Crop×Crop square (torchvision's
	// CenterCrop: offsets round half to even).
	Crop int
	// Scale multiplies every value first (1/255 maps pixels to 0..1); 0 means 1.
	Scale float32
	// Mean and Std, one entry or one per channel, normalise after Scale:
	// (x·Scale − Mean[c]) / Std[c]. Empty means 0 and 1.
	Mean, Std []float32
	// Layout is NCHW (default) or NHWC for images; for arrays it says which
	// axis Mean and Std index (1 or the last).
	Layout string
	// Channels is rgb, bgr or gray for images; empty chooses from the graph
	// input's channel dim when it is known (1: gray, else rgb), else rgb for
	// image files and gray for IDX files.
	Channels string
}

// transforms reports whether the value transform (scale, mean, std) does
// anything.
func (p *Preprocess) transforms() bool {
	return (p.Scale != 0 && p.Scale != 1) || len(p.Mean) > 0 || len(p.Std) > 0
}

// String writes the preprocessing canonically; it is part of the data hash.
func (p *Preprocess) String() string {
	return fmt.Sprintf("resize=%d crop=%d scale=%g mean=%v std=%v layout=%s channels=%s",
		p.Resize, p.Crop, p.Scale, p.Mean, p.Std, p.Layout, p.Channels)
}

// Input describes one graph input, so that a Source can match arrays to
// inputs by name, convert their element type and check or fit their shape.
type Input struct {
	Name string
	Type ir.Type
}

// InputsOf lists a graph's inputs for Spec.Inputs.
func InputsOf(g *ir.Graph) []Input {
	in := make([]Input, len(g.Inputs))
	for i, v := range g.Inputs {
		in[i] = Input{Name: v.Name, Type: v.Type}
	}
	return in
}

// Spec says what to read and how.
type Spec struct {
	// Path is a file or a folder.
	Path string
	// Format is one of Formats; empty or "auto" chooses from Path.
	Format string
	// Limit, when > 0, reads at most this many samples (the first ones in
	// the deterministic order).
	Limit int
	// Batch is the number of samples per batch; 0 means the graph input's
	// fixed batch dim, or 1.
	Batch int
	// Preprocess is applied to every sample.
	Preprocess Preprocess
	// Inputs, when set, are the graph inputs the batches feed: tensors are
	// converted to their element types and each sample is reshaped to the
	// input's shape without its batch dim when the element counts agree
	// (an array of 28×28 images feeds a [N,1,28,28] input).
	Inputs []Input
}

// Source yields batches. It is not safe for concurrent use.
type Source interface {
	// Next returns the next batch, one tensor per graph input (per array
	// when Spec.Inputs was empty), or io.EOF after the last.
	Next() ([]*ir.Tensor, error)
	// Reset starts again from the first sample. An error reopening the data
	// is returned by the following Next.
	Reset()
	// Len is the number of samples the batches hold in all.
	Len() int
	// Batch is the number of samples per batch (the last may hold fewer
	// when the graph's batch dim is not fixed).
	Batch() int
	// Hash identifies the data: a SHA-256 of the bytes of the samples read
	// (within Limit), the format and the preprocessing. Calibration caches
	// record it. It reads the data once, separately from Next.
	Hash() (string, error)
	// Close releases open files.
	Close() error
}

// sample is one item of a format: one tensor per array, without the
// sample dim, and where it came from (for error messages).
type sample struct {
	tensors []*ir.Tensor
	origin  string
}

// reader is the format-specific part of a Source.
type reader interface {
	// count is the number of samples in the data.
	count() int
	// arrays names the arrays a sample holds, in order.
	arrays() []string
	// start begins a pass over the samples.
	start() (stream, error)
	// hash writes the raw bytes of the first n samples to w.
	hash(w io.Writer, n int) error
}

// imageReader is implemented by readers that apply the whole
// preprocessing themselves (the image pipeline), so the array transform
// must not run again.
type imageReader interface {
	reader
	isImages()
}

// stream is one pass over a reader's samples.
type stream interface {
	// next returns the next sample, or io.EOF.
	next() (sample, error)
	close() error
}

// Open checks the spec and opens the data.
func Open(spec Spec) (Source, error) {
	if spec.Path == "" {
		return nil, errors.New("no calibration data path given")
	}
	if spec.Limit < 0 || spec.Batch < 0 {
		return nil, fmt.Errorf("%s: limit %d, batch %d: want non-negative numbers", spec.Path, spec.Limit, spec.Batch)
	}
	if err := checkPreprocess(&spec.Preprocess); err != nil {
		return nil, fmt.Errorf("%s: %v", spec.Path, err)
	}
	format := spec.Format
	if format == "" || format == "auto" {
		f, err := detect(spec.Path)
		if err != nil {
			return nil, err
		}
		format = f
	}
	var r reader
	var err error
	switch format {
	case FormatNpy:
		r, err = openNpy(spec.Path)
	case FormatNpz:
		r, err = openNpz(spec.Path, spec.Inputs)
	case FormatIDX:
		r, err = openIDX(spec.Path, &spec)
	case FormatPB:
		r, err = openPB(spec.Path)
	case FormatImages:
		r, err = openImages(spec.Path, &spec)
	default:
		return nil, fmt.Errorf("%s: unknown data format %q (want one of %s)", spec.Path, format, strings.Join(Formats, ", "))
	}
	if err != nil {
		return nil, err
	}
	if format != FormatImages && format != FormatIDX {
		// Resize and crop are image operations: arrays (.npy, .npz, .pb)
		// hold tensors already at the model's size, as a recipe written
		// for images meets them (ResNet-50's resize 256, crop 224 on a
		// .npy of 224×224 tensors). A tensor of another size still fails,
		// with its shape and the input's.
		spec.Preprocess.Resize, spec.Preprocess.Crop = 0, 0
	}
	return newSource(spec, format, r)
}

func checkPreprocess(p *Preprocess) error {
	switch {
	case p.Resize < 0 || p.Crop < 0:
		return fmt.Errorf("resize %d, crop %d: want sizes >= 0", p.Resize, p.Crop)
	case math.IsNaN(float64(p.Scale)) || math.IsInf(float64(p.Scale), 0):
		return fmt.Errorf("scale %v: want a finite number", p.Scale)
	}
	for _, s := range p.Std {
		if s == 0 || math.IsNaN(float64(s)) {
			return fmt.Errorf("std %v: want non-zero numbers", p.Std)
		}
	}
	switch p.Layout {
	case "", NCHW, NHWC:
	default:
		return fmt.Errorf("layout %q: want %s or %s", p.Layout, NCHW, NHWC)
	}
	switch p.Channels {
	case "", RGB, BGR, Gray:
	default:
		return fmt.Errorf("channels %q: want %s, %s or %s", p.Channels, RGB, BGR, Gray)
	}
	return nil
}

// detect chooses a format from a path: by extension for a file, by content
// for a folder.
func detect(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		name := strings.ToLower(filepath.Base(path))
		switch ext := filepath.Ext(name); {
		case ext == ".npy":
			return FormatNpy, nil
		case ext == ".npz":
			return FormatNpz, nil
		case ext == ".pb":
			return FormatPB, nil
		case isImageName(name):
			return FormatImages, nil
		case ext == ".idx" || ext == ".gz" || strings.Contains(name, "ubyte") || strings.Contains(name, ".idx"):
			return FormatIDX, nil
		}
		return "", fmt.Errorf("%s: cannot tell the data format from the name (want .npy, .npz, .pb, .jpg, .jpeg, .png, .idx or an IDX .gz, or a folder of images or .pb files)", path)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if (e.IsDir() && strings.HasPrefix(e.Name(), "test_data_set_")) || (!e.IsDir() && strings.HasSuffix(strings.ToLower(e.Name()), ".pb")) {
			return FormatPB, nil
		}
	}
	return FormatImages, nil
}

// source is the Source every format shares: limit, batching, conversion.
type source struct {
	spec   Spec
	format string
	r      reader
	n      int // samples per pass (limit applied, partial batch dropped)
	batch  int
	st     stream
	read   int // samples returned in this pass
	err    error
	hash   string
}

func newSource(spec Spec, format string, r reader) (*source, error) {
	s := &source{spec: spec, format: format, r: r}
	arrays := r.arrays()
	if len(spec.Inputs) > 0 && len(arrays) != len(spec.Inputs) {
		return nil, fmt.Errorf("%s: the data holds %d arrays (%s), the graph has %d inputs (%s)",
			spec.Path, len(arrays), strings.Join(arrays, ", "), len(spec.Inputs), inputNames(spec.Inputs))
	}
	// A fixed batch dim in the graph decides the batch size.
	fixed := 0
	for _, in := range spec.Inputs {
		if in.Type.Shape.Rank() > 0 && in.Type.Shape[0].Known() {
			fixed = int(in.Type.Shape[0].Size)
			break
		}
	}
	s.batch = spec.Batch
	switch {
	case s.batch == 0 && fixed > 0:
		s.batch = fixed
	case s.batch == 0:
		s.batch = 1
	case fixed > 0 && s.batch != fixed:
		return nil, fmt.Errorf("%s: batch %d, but the graph input %s has a fixed batch dim of %d",
			spec.Path, s.batch, spec.Inputs[0].Name, fixed)
	}
	s.n = r.count()
	if spec.Limit > 0 && spec.Limit < s.n {
		s.n = spec.Limit
	}
	if fixed > 0 {
		s.n -= s.n % s.batch
	}
	if s.n == 0 {
		return nil, fmt.Errorf("%s: no samples to read (the data holds %d, limit %d, batch %d)", spec.Path, r.count(), spec.Limit, s.batch)
	}
	return s, nil
}

func inputNames(in []Input) string {
	names := make([]string, len(in))
	for i, v := range in {
		names[i] = v.Name
	}
	return strings.Join(names, ", ")
}

func (s *source) Len() int   { return s.n }
func (s *source) Batch() int { return s.batch }

func (s *source) Reset() {
	if s.st != nil {
		s.st.close()
		s.st = nil
	}
	s.read, s.err = 0, nil
}

func (s *source) Close() error {
	if s.st == nil {
		return nil
	}
	err := s.st.close()
	s.st = nil
	return err
}

func (s *source) Next() ([]*ir.Tensor, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.read >= s.n {
		return nil, io.EOF
	}
	if s.st == nil {
		st, err := s.r.start()
		if err != nil {
			s.err = err
			return nil, err
		}
		s.st = st
	}
	b := min(s.batch, s.n-s.read)
	samples := make([]sample, 0, b)
	for range b {
		smp, err := s.st.next()
		if err == io.EOF {
			err = fmt.Errorf("%s: data ended after %d samples, want %d", s.spec.Path, s.read+len(samples), s.n)
		}
		if err == nil {
			err = s.prepare(&smp)
		}
		if err != nil {
			s.err = err
			return nil, err
		}
		samples = append(samples, smp)
	}
	s.read += b
	out, err := s.stack(samples)
	if err != nil {
		s.err = err
	}
	return out, err
}

// prepare applies the value transform to arrays and fits each tensor to
// its graph input.
func (s *source) prepare(smp *sample) error {
	pp := &s.spec.Preprocess
	_, imageLike := s.r.(imageReader)
	for k, t := range smp.tensors {
		if !imageLike && pp.transforms() {
			var err error
			if t, err = transformArray(t, pp); err != nil {
				return fmt.Errorf("%s: %v", smp.origin, err)
			}
		}
		if k < len(s.spec.Inputs) {
			in := s.spec.Inputs[k]
			var err error
			if t, err = fit(t, in); err != nil {
				return fmt.Errorf("%s: %v", smp.origin, err)
			}
		}
		smp.tensors[k] = t
	}
	return nil
}

// fit converts t (one sample) to the input's element type and, when its
// shape differs from the input's minus the batch dim only by dims of size 1
// ([28,28] for [1,28,28]), reshapes it. Any other difference is an error:
// reshaping [3,224,224] into [224,224,3] would scramble the pixels.
func fit(t *ir.Tensor, in Input) (*ir.Tensor, error) {
	want := in.Type.Shape
	if want.Rank() == 0 {
		return nil, fmt.Errorf("graph input %s is a scalar, want a batch dim to feed samples into", in.Name)
	}
	per := want[1:]
	ok := per.Rank() == len(t.Shape)
	for i := 0; ok && i < per.Rank(); i++ {
		ok = !per[i].Known() || int(per[i].Size) == t.Shape[i]
	}
	if !ok {
		dims, static := per.Ints()
		if !static || !equalInts(withoutOnes(dims), withoutOnes(t.Shape)) {
			hint := ""
			if static && ir.NumElements(dims) == t.Len() && len(dims) == 3 {
				hint = " (for images, check the layout: NCHW or NHWC)"
			}
			return nil, fmt.Errorf("a sample has shape %v, want %v for graph input %s (of shape %v)%s", ir.ShapeOf(t.Shape...), per, in.Name, want, hint)
		}
		t = &ir.Tensor{DType: t.DType, Shape: dims, Data: t.Data}
	}
	if t.DType != in.Type.DType {
		c, err := convert(t, in.Type.DType)
		if err != nil {
			return nil, fmt.Errorf("graph input %s: %v", in.Name, err)
		}
		t = c
	}
	return t, nil
}

func withoutOnes(dims []int) []int {
	out := []int{}
	for _, d := range dims {
		if d != 1 {
			out = append(out, d)
		}
	}
	return out
}

// convert changes a tensor's element type: any number to a float type,
// integers to integers whose range holds them, bool to bool.
func convert(t *ir.Tensor, dt ir.DType) (*ir.Tensor, error) {
	n := t.Len()
	out := ir.NewTensor(dt, t.Shape...)
	switch {
	case dt == ir.Float32:
		d := out.Data.([]float32)
		for i := range n {
			d[i] = float32(t.AsFloat64(i))
		}
	case dt == ir.Float64:
		d := out.Data.([]float64)
		for i := range n {
			d[i] = t.AsFloat64(i)
		}
	case dt == ir.Float16 || dt == ir.BFloat16:
		d := out.Data.([]uint16)
		for i := range n {
			f := float32(t.AsFloat64(i))
			if dt == ir.Float16 {
				d[i] = ir.Float32ToHalf(f)
			} else {
				d[i] = ir.Float32ToBFloat16(f)
			}
		}
	case dt.IsInteger() && t.DType.IsInteger():
		lo, hi := intRange(dt)
		for i := range n {
			v := t.AsInt64(i)
			if t.DType == ir.Uint64 && t.Data.([]uint64)[i] > math.MaxInt64 || float64(v) < lo || float64(v) > hi {
				return nil, fmt.Errorf("element %d of the %v data does not fit in %v", i, t.DType, dt)
			}
			out.SetInt64(i, v)
		}
	default:
		return nil, fmt.Errorf("got %v data, want %v (no conversion from %v to %v)", t.DType, dt, t.DType, dt)
	}
	return out, nil
}

func intRange(dt ir.DType) (lo, hi float64) {
	switch dt {
	case ir.Int8:
		return math.MinInt8, math.MaxInt8
	case ir.Uint8:
		return 0, math.MaxUint8
	case ir.Int16:
		return math.MinInt16, math.MaxInt16
	case ir.Uint16:
		return 0, math.MaxUint16
	case ir.Int32:
		return math.MinInt32, math.MaxInt32
	case ir.Uint32:
		return 0, math.MaxUint32
	case ir.Uint64:
		return 0, math.MaxInt64
	}
	return math.MinInt64, math.MaxInt64
}

// transformArray applies (x·Scale − Mean[c]) / Std[c] to an array sample,
// giving float32; c runs along axis 0 of the sample (axis 1 of the batch)
// for NCHW, the last axis for NHWC.
func transformArray(t *ir.Tensor, pp *Preprocess) (*ir.Tensor, error) {
	scale := pp.Scale
	if scale == 0 {
		scale = 1
	}
	channels, inner := 1, t.Len()
	if len(t.Shape) > 0 && (len(pp.Mean) > 1 || len(pp.Std) > 1) {
		if pp.Layout == NHWC {
			channels, inner = t.Shape[len(t.Shape)-1], 1
		} else {
			channels, inner = t.Shape[0], ir.NumElements(t.Shape[1:])
		}
	}
	mean, std, err := perChannel(pp, channels)
	if err != nil {
		return nil, fmt.Errorf("a sample of shape %v: %v", ir.ShapeOf(t.Shape...), err)
	}
	out := make([]float32, t.Len())
	for i := range out {
		c := 0
		if channels > 1 {
			c = (i / inner) % channels
		}
		out[i] = (float32(float32(t.AsFloat64(i))*scale) - mean[c]) / std[c]
	}
	return ir.FromFloat32(out, t.Shape...), nil
}

// perChannel expands Mean and Std to one entry per channel.
func perChannel(pp *Preprocess, channels int) (mean, std []float32, err error) {
	mean, std = make([]float32, channels), make([]float32, channels)
	for c := range channels {
		std[c] = 1
	}
	for _, p := range []struct {
		name string
		src  []float32
		dst  []float32
	}{{"mean", pp.Mean, mean}, {"std", pp.Std, std}} {
		switch len(p.src) {
		case 0:
		case 1:
			for c := range p.dst {
				p.dst[c] = p.src[0]
			}
		case channels:
			copy(p.dst, p.src)
		default:
			return nil, nil, fmt.Errorf("%s has %d entries, want 1 or one per channel (%d)", p.name, len(p.src), channels)
		}
	}
	return mean, std, nil
}

// stack joins the samples of a batch along a new first dim.
func (s *source) stack(samples []sample) ([]*ir.Tensor, error) {
	first := samples[0].tensors
	out := make([]*ir.Tensor, len(first))
	for k, t0 := range first {
		shape := append([]int{len(samples)}, t0.Shape...)
		bt := ir.NewTensor(t0.DType, shape...)
		per := t0.Len()
		for i, smp := range samples {
			t := smp.tensors[k]
			if t.DType != t0.DType || !equalInts(t.Shape, t0.Shape) {
				return nil, fmt.Errorf("%s: array %d is %v%v, but %s in the same batch is %v%v; want equal shapes (set resize and crop for images of different sizes)",
					smp.origin, k, t.DType, t.Shape, samples[0].origin, t0.DType, t0.Shape)
			}
			copyInto(bt.Data, i*per, t.Data)
		}
		out[k] = bt
	}
	return out, nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// copyInto copies src into dst starting at element off (same Go types).
func copyInto(dst any, off int, src any) {
	switch d := dst.(type) {
	case []float32:
		copy(d[off:], src.([]float32))
	case []float64:
		copy(d[off:], src.([]float64))
	case []uint16:
		copy(d[off:], src.([]uint16))
	case []int8:
		copy(d[off:], src.([]int8))
	case []uint8:
		copy(d[off:], src.([]uint8))
	case []int16:
		copy(d[off:], src.([]int16))
	case []int32:
		copy(d[off:], src.([]int32))
	case []uint32:
		copy(d[off:], src.([]uint32))
	case []int64:
		copy(d[off:], src.([]int64))
	case []uint64:
		copy(d[off:], src.([]uint64))
	case []bool:
		copy(d[off:], src.([]bool))
	}
}

func (s *source) Hash() (string, error) {
	if s.hash != "" {
		return s.hash, nil
	}
	h := sha256.New()
	fmt.Fprintf(h, "sqc dataset v1\nformat %s\nsamples %d\n", s.format, s.n)
	pp := s.spec.Preprocess
	fmt.Fprintf(h, "preprocess %s\n", pp.String())
	if err := s.r.hash(h, s.n); err != nil {
		return "", err
	}
	s.hash = hex.EncodeToString(h.Sum(nil))
	return s.hash, nil
}

// sortedFiles lists the regular files under dir (recursively) whose names
// keep reports true, sorted by path, so every run reads them in one order.
func sortedFiles(dir string, keep func(name string) bool) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && keep(strings.ToLower(d.Name())) {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files) // WalkDir is lexical per folder already; this makes the whole list so
	return files, err
}

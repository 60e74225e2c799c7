package dataset

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	xdraw "golang.org/x/image/draw"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/ir"
)

// The fixtures in testdata were written by NumPy and Pillow (testdata/gen.py);
// the formulas below are the ones gen.py used.

func td(name string) string { return filepath.Join("testdata", name) }

// readAll opens spec and returns every batch.
func readAll(t *testing.T, spec Spec) (Source, [][]*ir.Tensor) {
	t.Helper()
	src, err := Open(spec)
	if err != nil {
		t.Fatalf("Open(%+v): %v", spec, err)
	}
	t.Cleanup(func() { src.Close() })
	var out [][]*ir.Tensor
	for {
		b, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		out = append(out, b)
	}
	return src, out
}

func TestNpyFormats(t *testing.T) {
	for _, c := range []struct {
		file  string
		dtype ir.DType
		shape []int
		value func(i int) float64
	}{
		{"f32_v1.npy", ir.Float32, []int{4, 2, 3}, func(i int) float64 { return float64(i)*0.5 - 3 }},
		{"f32_v2.npy", ir.Float32, []int{4, 2, 3}, func(i int) float64 { return float64(i)*0.5 - 3 }},
		{"f32_v3.npy", ir.Float32, []int{4, 2, 3}, func(i int) float64 { return float64(i)*0.5 - 3 }},
		{"f64_be.npy", ir.Float64, []int{3, 5}, func(i int) float64 { return float64(i)*0.25 + 1 }},
		{"u8.npy", ir.Uint8, []int{5, 1, 4, 4}, func(i int) float64 { return float64(i % 256) }},
		{"i8.npy", ir.Int8, []int{3, 7}, func(i int) float64 { return float64(i - 10) }},
		{"i64_be.npy", ir.Int64, []int{2, 3}, func(i int) float64 { return float64(i*1000003 - 7) }},
		{"f16.npy", ir.Float16, []int{2, 4}, func(i int) float64 { return float64(i) / 8 }},
	} {
		t.Run(c.file, func(t *testing.T) {
			src, batches := readAll(t, Spec{Path: td(c.file), Batch: 100})
			if len(batches) != 1 || len(batches[0]) != 1 {
				t.Fatalf("got %d batches, want 1 of 1 tensor", len(batches))
			}
			got := batches[0][0]
			if got.DType != c.dtype || !equalInts(got.Shape, c.shape) {
				t.Fatalf("got %v%v, want %v%v", got.DType, got.Shape, c.dtype, c.shape)
			}
			for i := range got.Len() {
				if g, w := got.AsFloat64(i), c.value(i); g != w {
					t.Fatalf("element %d = %v, want %v", i, g, w)
				}
			}
			if src.Len() != c.shape[0] {
				t.Errorf("Len = %d, want %d", src.Len(), c.shape[0])
			}
		})
	}
}

func TestNpyBadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	header := func(dict string) []byte {
		for (10+len(dict)+1)%64 != 0 {
			dict += " "
		}
		dict += "\n"
		return append([]byte{0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, byte(len(dict)), 0}, dict...)
	}
	for _, c := range []struct{ path, want string }{
		{td("fortran.npy"), "Fortran order"},
		{td("truncated.npy"), "truncated: shape [4,2,3] of <f4 needs 96 data bytes, the file has 91"},
		{write("text.npy", []byte("hello, world")), "want the magic"},
		{write("v9.npy", []byte("\x93NUMPY\x09\x00abcdefgh")), "version 9.0"},
		{write("cplx.npy", append(header("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }"), make([]byte, 8)...)), `dtype "<c8" is not supported`},
		{write("struct.npy", header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }")), "structured arrays"},
		{write("scalar.npy", append(header("{'descr': '<f4', 'fortran_order': False, 'shape': (), }"), 0, 0, 0, 0)), "want a first dim that counts samples"},
		{write("long.npy", append(header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }"), make([]byte, 8)...)), "4 bytes of data after"},
		{write("badhdr.npy", header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,) ")), "bad .npy header"},
		{td("uneven.npz"), "array b has 4 samples, array a has 3"},
	} {
		_, err := Open(Spec{Path: c.path})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), filepath.Base(c.path)) {
			t.Errorf("%s: got error %v, want one naming the file and saying %q", c.path, err, c.want)
		}
	}
}

func TestBatchingAndLimit(t *testing.T) {
	value := func(i int) float32 { return float32(i)*0.5 - 3 }
	// Batches of 3 over 4 samples: 3 then 1 when the batch dim is free.
	_, batches := readAll(t, Spec{Path: td("f32_v1.npy"), Batch: 3})
	if len(batches) != 2 || batches[0][0].Shape[0] != 3 || batches[1][0].Shape[0] != 1 {
		t.Fatalf("got batches %v, want sizes 3 and 1", shapes(batches))
	}
	if got := batches[1][0].Data.([]float32)[0]; got != value(18) {
		t.Errorf("first element of the last batch = %v, want sample 3's, %v", got, value(18))
	}
	// A fixed batch dim of 3 in the graph drops the partial batch.
	in := []Input{{Name: "x", Type: ir.TensorType(ir.Float32, 3, 2, 3)}}
	src, batches := readAll(t, Spec{Path: td("f32_v1.npy"), Inputs: in})
	if len(batches) != 1 || src.Len() != 3 || src.Batch() != 3 {
		t.Fatalf("fixed batch 3: got %v, Len %d, Batch %d; want one batch of 3", shapes(batches), src.Len(), src.Batch())
	}
	if _, err := Open(Spec{Path: td("f32_v1.npy"), Inputs: in, Batch: 2}); err == nil || !strings.Contains(err.Error(), "fixed batch dim of 3") {
		t.Errorf("batch 2 against a fixed batch of 3: got %v", err)
	}
	// Limit.
	src, batches = readAll(t, Spec{Path: td("f32_v1.npy"), Limit: 2, Batch: 1})
	if len(batches) != 2 || src.Len() != 2 {
		t.Fatalf("limit 2: got %d batches, Len %d", len(batches), src.Len())
	}
	// Reset reads the same data again.
	src.Reset()
	b, err := src.Next()
	if err != nil || b[0].Data.([]float32)[0] != value(0) {
		t.Fatalf("after Reset: %v, %v", b, err)
	}
}

func shapes(batches [][]*ir.Tensor) [][]int {
	var out [][]int
	for _, b := range batches {
		out = append(out, b[0].Shape)
	}
	return out
}

func TestFitToInputs(t *testing.T) {
	// uint8 samples [1,4,4] feed a float32 [N,1,4,4] input.
	in := []Input{{Name: "img", Type: ir.Type{DType: ir.Float32, Shape: ir.Shape{ir.SymDim("N"), ir.D(1), ir.D(4), ir.D(4)}}}}
	_, batches := readAll(t, Spec{Path: td("u8.npy"), Inputs: in, Batch: 5})
	got := batches[0][0]
	if got.DType != ir.Float32 || !equalInts(got.Shape, []int{5, 1, 4, 4}) || got.Data.([]float32)[17] != 17 {
		t.Fatalf("got %v%v element 17 = %v, want f32[5,1,4,4] with 17", got.DType, got.Shape, got.Data.([]float32)[17])
	}
	// IDX rows of 5 bytes reshape to [1,5] for a [N,1,5] input.
	in = []Input{{Name: "v", Type: ir.Type{DType: ir.Float32, Shape: ir.Shape{ir.SymDim("N"), ir.D(1), ir.D(5)}}}}
	_, batches = readAll(t, Spec{Path: td("bytes.idx"), Inputs: in, Batch: 2})
	if got := batches[1][0]; !equalInts(got.Shape, []int{1, 1, 5}) || got.Data.([]float32)[4] != float32(7*14%256) {
		t.Fatalf("idx: got %v %v", got.Shape, got.Data)
	}
	// A sample that cannot fit is an error naming the sample.
	in = []Input{{Name: "v", Type: ir.Type{DType: ir.Float32, Shape: ir.Shape{ir.SymDim("N"), ir.D(6)}}}}
	src, err := Open(Spec{Path: td("bytes.idx"), Inputs: in})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Next(); err == nil || !strings.Contains(err.Error(), "item 0") || !strings.Contains(err.Error(), "want [6] for graph input v") {
		t.Errorf("misfit: got %v", err)
	}
	// Same size, other order: an error, never a reshape.
	in = []Input{{Name: "img", Type: ir.Type{DType: ir.Float32, Shape: ir.Shape{ir.SymDim("N"), ir.D(56), ir.D(56), ir.D(3)}}}}
	src, _ = Open(Spec{Path: td("img/b_wide.png"), Inputs: in, Preprocess: Preprocess{Resize: 64, Crop: 56, Channels: RGB}})
	if _, err := src.Next(); err == nil || !strings.Contains(err.Error(), "a sample has shape [3,56,56], want [56,56,3]") || !strings.Contains(err.Error(), "check the layout") {
		t.Errorf("NCHW sample for an NHWC input: got %v", err)
	}
	// Floats do not silently become integers.
	in = []Input{{Name: "ids", Type: ir.Type{DType: ir.Int64, Shape: ir.Shape{ir.SymDim("N"), ir.D(5)}}}}
	src, _ = Open(Spec{Path: td("f64_be.npy"), Inputs: in})
	if _, err := src.Next(); err == nil || !strings.Contains(err.Error(), "no conversion from f64 to i64") {
		t.Errorf("f64 to i64: got %v", err)
	}
}

func TestArrayTransform(t *testing.T) {
	// (x·2 − mean[c]) / std[c] along axis 1 of [4,2,3] (NCHW: 2 channels).
	_, batches := readAll(t, Spec{Path: td("f32_v1.npy"), Batch: 4, Preprocess: Preprocess{Scale: 2, Mean: []float32{1, -1}, Std: []float32{2, 4}}})
	got := batches[0][0].Data.([]float32)
	for i, g := range got {
		c := (i / 3) % 2
		x := float32(i)*0.5 - 3
		want := (x*2 - []float32{1, -1}[c]) / []float32{2, 4}[c]
		if g != want {
			t.Fatalf("element %d = %v, want %v", i, g, want)
		}
	}
	// Resize and crop are for images: arrays are read at their size (a
	// recipe written for images works on tensors already cropped).
	_, plain := readAll(t, Spec{Path: td("f32_v1.npy"), Batch: 4})
	_, resized := readAll(t, Spec{Path: td("f32_v1.npy"), Batch: 4, Preprocess: Preprocess{Resize: 10, Crop: 2}})
	if !slices.Equal(plain[0][0].Data.([]float32), resized[0][0].Data.([]float32)) || !slices.Equal(plain[0][0].Shape, resized[0][0].Shape) {
		t.Errorf("resize and crop changed an array: %v%v, want %v%v", resized[0][0].Shape, resized[0][0].Data, plain[0][0].Shape, plain[0][0].Data)
	}
}

func TestNpz(t *testing.T) {
	for _, file := range []string{"xy_stored.npz", "xy_deflated.npz"} {
		// Graph inputs named y then x get y then x.
		in := []Input{
			{Name: "y", Type: ir.Type{DType: ir.Int64, Shape: ir.Shape{ir.SymDim("N"), ir.D(5)}}},
			{Name: "x", Type: ir.Type{DType: ir.Float32, Shape: ir.Shape{ir.SymDim("N"), ir.D(2), ir.D(3)}}},
		}
		_, batches := readAll(t, Spec{Path: td(file), Inputs: in, Batch: 3})
		if len(batches) != 2 {
			t.Fatalf("%s: %d batches, want 2", file, len(batches))
		}
		y, x := batches[1][0], batches[1][1]
		if y.DType != ir.Int64 || y.Data.([]int64)[0] != 15 || x.DType != ir.Float32 || x.Data.([]float32)[0] != float32(18)*0.5-3 {
			t.Errorf("%s: last batch y %v x %v, want sample 3 of each", file, y.Data, x.Data)
		}
	}
	// Positional arrays are taken in numeric order: arr_2 before arr_10.
	_, batches := readAll(t, Spec{Path: td("positional.npz"), Batch: 2})
	if len(batches[0]) != 12 {
		t.Fatalf("got %d arrays, want 12", len(batches[0]))
	}
	for k, a := range batches[0] {
		if a.Data.([]float32)[0] != float32(k) {
			t.Errorf("array %d holds %v, want arr_%d", k, a.Data.([]float32)[0], k)
		}
	}
	_, err := Open(Spec{Path: td("xy_stored.npz"), Inputs: []Input{{Name: "a"}}})
	if err == nil || !strings.Contains(err.Error(), "holds arrays x, y, want one per graph input (a)") {
		t.Errorf("mismatched inputs: got %v", err)
	}
}

func TestHash(t *testing.T) {
	hash := func(spec Spec) string {
		src, err := Open(spec)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		h, err := src.Hash()
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	a := hash(Spec{Path: td("xy_stored.npz")})
	if b := hash(Spec{Path: td("xy_deflated.npz")}); a != b {
		t.Errorf("the same arrays stored and deflated hash differently: %s, %s", a, b)
	}
	if b := hash(Spec{Path: td("xy_stored.npz"), Batch: 3}); a != b {
		t.Errorf("batching changed the hash")
	}
	for _, s := range []Spec{
		{Path: td("xy_stored.npz"), Limit: 3},
		{Path: td("xy_stored.npz"), Preprocess: Preprocess{Scale: 2}},
		{Path: td("f32_v1.npy")},
		{Path: td("f32_v2.npy")}, // same data, another header version: a different file
	} {
		if b := hash(s); a == b {
			t.Errorf("%+v hashes like xy_stored.npz", s)
		}
	}
	// Reading through the source does not disturb the hash or vice versa.
	src, _ := Open(Spec{Path: td("f32_v1.npy")})
	src.Next()
	h1, _ := src.Hash()
	b, err := src.Next()
	if err != nil || b[0].Data.([]float32)[0] != float32(6)*0.5-3 {
		t.Errorf("Next after Hash: %v %v, want sample 1", b, err)
	}
	if h1 != hash(Spec{Path: td("f32_v1.npy")}) {
		t.Errorf("hash changed after reading")
	}
}

func TestDetect(t *testing.T) {
	for path, want := range map[string]string{
		td("f32_v1.npy"):                   FormatNpy,
		td("xy_stored.npz"):                FormatNpz,
		td("bytes.idx"):                    FormatIDX,
		td("img"):                          FormatImages,
		td("img/b_wide.png"):               FormatImages,
		"../../../shared/testdata/mnist-8": FormatPB,
		"../../../shared/data/mnist/t10k-images-idx3-ubyte.gz": FormatIDX,
	} {
		if _, err := os.Stat(path); err != nil {
			continue // ../shared is optional outside the project's machines
		}
		got, err := detect(path)
		if err != nil || got != want {
			t.Errorf("detect(%s) = %q, %v; want %q", path, got, err, want)
		}
	}
	if _, err := Open(Spec{Path: "dataset.go"}); err == nil || !strings.Contains(err.Error(), "cannot tell the data format") {
		t.Errorf("unknown extension: got %v", err)
	}
	if _, err := Open(Spec{Path: td("f32_v1.npy"), Format: "csv"}); err == nil || !strings.Contains(err.Error(), `unknown data format "csv"`) {
		t.Errorf("unknown format: got %v", err)
	}
}

func TestPBFiles(t *testing.T) {
	// A folder of TensorProto files with 2 samples each: x[i] = i.
	dir := t.TempDir()
	for f := range 2 {
		data := make([]float32, 2*3)
		for i := range data {
			data[i] = float32(f*6 + i)
		}
		b, err := onnx.EncodeTensor("x", ir.FromFloat32(data, 2, 3))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, []string{"a.pb", "b.pb"}[f]), b, 0o644)
	}
	src, batches := readAll(t, Spec{Path: dir, Batch: 3})
	if src.Len() != 4 || len(batches) != 2 {
		t.Fatalf("Len %d, %d batches; want 4 samples in 2 batches", src.Len(), len(batches))
	}
	got := append(append([]float32{}, batches[0][0].Data.([]float32)...), batches[1][0].Data.([]float32)...)
	for i, g := range got {
		if g != float32(i) {
			t.Fatalf("element %d = %v, want %d (files in name order, samples in order)", i, g, i)
		}
	}
	// A test-data folder of the ONNX model zoo.
	zoo := "../../../shared/testdata/mnist-8"
	if _, err := os.Stat(zoo); err != nil {
		t.Skip("no ../shared")
	}
	in := []Input{{Name: "Input3", Type: ir.TensorType(ir.Float32, 1, 1, 28, 28)}}
	_, batches = readAll(t, Spec{Path: zoo, Inputs: in})
	want, err := onnx.ReadTensorFile(filepath.Join(zoo, "test_data_set_1", "input_0.pb"))
	if err != nil {
		t.Fatal(err)
	}
	if len(batches) != 3 || !equalInts(batches[1][0].Shape, want.Shape) || !equalFloats(batches[1][0].Data.([]float32), want.Data.([]float32)) {
		t.Errorf("zoo test sets: got %d batches, second %v; want 3, the second test_data_set_1/input_0.pb", len(batches), batches[1][0].Shape)
	}
}

// maxDiff compares a float32 image tensor [C,H,W] (values 0..255) with a
// PIL array [H,W,C] or [H,W].
func maxDiff(t *testing.T, got *ir.Tensor, pil string) (maxd, mean float64) {
	t.Helper()
	// The PIL arrays' first dim is the image's rows: one batch of all rows.
	_, batches := readAll(t, Spec{Path: td(pil), Batch: 1000})
	ref := batches[0][0]
	c, h, w := got.Shape[0], got.Shape[1], got.Shape[2]
	g := got.Data.([]float32)
	r := ref.Data.([]uint8)
	for ch := range c {
		for y := range h {
			for x := range w {
				var want uint8
				if len(ref.Shape) == 3 {
					want = r[(y*w+x)*c+ch]
				} else {
					want = r[y*w+x]
				}
				d := math.Abs(float64(g[(ch*h+y)*w+x]) - float64(want))
				maxd = max(maxd, d)
				mean += d
			}
		}
	}
	return maxd, mean / float64(c*h*w)
}

func TestImagesMatchPIL(t *testing.T) {
	src, batches := readAll(t, Spec{Path: td("img"), Preprocess: Preprocess{Resize: 64, Crop: 56}})
	if src.Len() != 3 {
		t.Fatalf("Len %d, want 3 images (a_tall, b_wide, sub/c_gray)", src.Len())
	}
	for i, pil := range []string{"pil_a_tall_r64_c56.npy", "pil_b_wide_r64_c56.npy", "pil_c_gray_r64_c56.npy"} {
		got := batches[i][0]
		if !equalInts(got.Shape, []int{1, 3, 56, 56}) {
			t.Fatalf("image %d: shape %v, want [1,3,56,56]", i, got.Shape)
		}
		got = &ir.Tensor{DType: got.DType, Shape: got.Shape[1:], Data: got.Data}
		maxd, mean := maxDiff(t, got, pil)
		if maxd != 0 {
			t.Errorf("%s: max |Go − PIL| = %v, mean %.3f; want an exact match", pil, maxd, mean)
		}
	}
}

// TestResizeMatchesPIL records why resizing is our own: Pillow's bilinear
// resampling reproduced (the fixtures match exactly, above), where
// x/image/draw's BiLinear kernel is off by one level on a fifth of the
// pixels and its CatmullRom (PIL's bicubic) by more.
func TestResizeMatchesPIL(t *testing.T) {
	bi := xdrawDiff(t, xdraw.BiLinear)
	cr := xdrawDiff(t, xdraw.CatmullRom)
	if !(bi < cr) || bi == 0 {
		t.Errorf("mean |Go − PIL|: BiLinear %.3f, CatmullRom %.3f; want BiLinear closer, but not exact", bi, cr)
	}
	t.Logf("mean |x/image/draw − PIL bilinear| on b_wide.png 220x150 → 93x64 → 56x56: BiLinear %.3f, CatmullRom %.3f levels (resizePIL: 0)", bi, cr)
}

func TestNormalizeLayoutsAndOrder(t *testing.T) {
	mean, std := []float32{0.485, 0.456, 0.406}, []float32{0.229, 0.224, 0.225}
	pp := Preprocess{Resize: 64, Crop: 56, Scale: 1.0 / 255, Mean: mean, Std: std}
	_, raw := readAll(t, Spec{Path: td("img/b_wide.png"), Preprocess: Preprocess{Resize: 64, Crop: 56}})
	_, nchw := readAll(t, Spec{Path: td("img/b_wide.png"), Preprocess: pp})
	pp.Layout, pp.Channels = NHWC, BGR
	_, nhwc := readAll(t, Spec{Path: td("img/b_wide.png"), Preprocess: pp})
	r, a, b := raw[0][0].Data.([]float32), nchw[0][0].Data.([]float32), nhwc[0][0].Data.([]float32)
	if !equalInts(nhwc[0][0].Shape, []int{1, 56, 56, 3}) {
		t.Fatalf("NHWC shape %v", nhwc[0][0].Shape)
	}
	for c := range 3 {
		for p := range 56 * 56 {
			want := (r[c*56*56+p]*float32(1.0/255) - mean[c]) / std[c]
			if got := a[c*56*56+p]; math.Abs(float64(got-want)) > 1e-6 {
				t.Fatalf("NCHW channel %d pixel %d = %v, want %v", c, p, got, want)
			}
			// BGR NHWC: channel 2-c of pixel p, normalised with channel 2-c's
			// mean and std (mean and std follow the output order).
			wantBGR := (r[c*56*56+p]*float32(1.0/255) - mean[2-c]) / std[2-c]
			if got := b[p*3+(2-c)]; math.Abs(float64(got-wantBGR)) > 1e-6 {
				t.Fatalf("NHWC BGR pixel %d channel %d = %v, want %v", p, 2-c, got, wantBGR)
			}
		}
	}
	// Grayscale: PIL's luma of the RGB pixels.
	_, gray := readAll(t, Spec{Path: td("img/b_wide.png"), Preprocess: Preprocess{Resize: 64, Crop: 56, Channels: Gray}})
	g := gray[0][0].Data.([]float32)
	for p := range 56 * 56 {
		want := math.Floor((float64(r[p])*19595 + float64(r[56*56+p])*38470 + float64(r[2*56*56+p])*7471 + 0x8000) / 65536) // Pillow's L24
		if float64(g[p]) != want {
			t.Fatalf("gray pixel %d = %v, want %v", p, g[p], want)
		}
	}
	if _, err := Open(Spec{Path: td("img"), Preprocess: Preprocess{Mean: []float32{1, 2}}}); err == nil || !strings.Contains(err.Error(), "mean has 2 entries, want 1 or one per channel (3)") {
		t.Errorf("2 means for RGB: got %v", err)
	}
}

func TestImageErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.png"), []byte("not a png"), 0o644)
	src, err := Open(Spec{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Next(); err == nil || !strings.Contains(err.Error(), "a.png: cannot decode the image") {
		t.Errorf("bad image: got %v", err)
	}
	if _, err := Open(Spec{Path: t.TempDir(), Format: FormatImages}); err == nil || !strings.Contains(err.Error(), "no .jpg, .jpeg or .png files") {
		t.Errorf("empty folder: got %v", err)
	}
	// Images of different sizes cannot share a batch without resize/crop.
	src, _ = Open(Spec{Path: td("img"), Batch: 2})
	if _, err := src.Next(); err == nil || !strings.Contains(err.Error(), "want equal shapes") {
		t.Errorf("unequal sizes: got %v", err)
	}
	src, _ = Open(Spec{Path: td("img/b_wide.png"), Preprocess: Preprocess{Crop: 200}})
	if _, err := src.Next(); err == nil || !strings.Contains(err.Error(), "smaller than the 200x200 crop") {
		t.Errorf("crop too large: got %v", err)
	}
}

func TestImageNetSamples(t *testing.T) {
	dir := "../../../shared/data/imagenet_samples"
	if _, err := os.Stat(dir); err != nil {
		t.Skip("no ../shared")
	}
	in := []Input{{Name: "data", Type: ir.Type{DType: ir.Float32, Shape: ir.Shape{ir.SymDim("N"), ir.D(3), ir.D(224), ir.D(224)}}}}
	src, batches := readAll(t, Spec{Path: dir, Inputs: in, Batch: 2, Preprocess: Preprocess{Resize: 256, Crop: 224, Scale: 1.0 / 255,
		Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}}})
	if src.Len() != 5 || len(batches) != 3 || !equalInts(batches[2][0].Shape, []int{1, 3, 224, 224}) {
		t.Fatalf("Len %d, %d batches, last %v; want 5 images in batches of 2, 2, 1", src.Len(), len(batches), batches[2][0].Shape)
	}
	// The whole pipeline on a real JPEG against PIL (libjpeg decodes chroma
	// with fancy upsampling, Go's image/jpeg without: a few levels apart).
	_, gold := readAll(t, Spec{Path: filepath.Join(dir, "goldfish.jpg"), Preprocess: Preprocess{Resize: 64, Crop: 56}})
	got := gold[0][0]
	maxd, mean := maxDiff(t, &ir.Tensor{DType: got.DType, Shape: got.Shape[1:], Data: got.Data}, "pil_goldfish_r64_c56.npy")
	if mean > 1 || maxd > 8 {
		t.Errorf("goldfish.jpg: max |Go − PIL| = %v, mean %.3f; want <= 8 and <= 1", maxd, mean)
	}
	t.Logf("goldfish.jpg resize 64 crop 56: max |Go − PIL| = %v, mean %.3f levels", maxd, mean)
}

func TestMNISTIDX(t *testing.T) {
	path := "../../../shared/data/mnist/t10k-images-idx3-ubyte.gz"
	if _, err := os.Stat(path); err != nil {
		t.Skip("no ../shared")
	}
	in := []Input{{Name: "x", Type: ir.TensorType(ir.Float32, 1, 1, 28, 28)}}
	src, err := Open(Spec{Path: path, Inputs: in, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if src.Len() != 3 {
		t.Fatalf("Len %d, want 3", src.Len())
	}
	// Raw pixel sums of the first three test images (Python's gzip module).
	for i, want := range []float64{18454, 28850, 9871} {
		b, err := src.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !equalInts(b[0].Shape, []int{1, 1, 28, 28}) {
			t.Fatalf("shape %v", b[0].Shape)
		}
		sum := 0.0
		for _, v := range b[0].Data.([]float32) {
			sum += float64(v)
		}
		if sum != want {
			t.Errorf("image %d: pixel sum %v, want %v", i, sum, want)
		}
	}
	if _, err := src.Next(); err != io.EOF {
		t.Errorf("after the limit: %v, want io.EOF", err)
	}
	// The normalisation mnist_burn wants.
	src, _ = Open(Spec{Path: path, Inputs: in, Limit: 1, Preprocess: Preprocess{Scale: 1.0 / 255, Mean: []float32{0.1307}, Std: []float32{0.3081}}})
	b, _ := src.Next()
	if got, want := b[0].Data.([]float32)[7*28+7], (float32(0xb9)*float32(1.0/255)-0.1307)/0.3081; got != want {
		t.Errorf("pixel (7,7) = %v, want %v", got, want)
	}
}

func TestErrorsAreSticky(t *testing.T) {
	src, err := Open(Spec{Path: td("f32_v1.npy")})
	if err != nil {
		t.Fatal(err)
	}
	src.(*source).spec.Inputs = []Input{{Name: "x", Type: ir.TensorType(ir.Float32, 1, 7)}}
	_, err1 := src.Next()
	_, err2 := src.Next()
	if err1 == nil || !errors.Is(err2, err1) && err2.Error() != err1.Error() {
		t.Errorf("errors %v then %v, want the same error again", err1, err2)
	}
}

func equalFloats(a, b []float32) bool {
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

// xdrawDiff is the mean difference from PIL's bilinear resize when an
// x/image/draw kernel resizes instead (then the same center crop).
func xdrawDiff(t *testing.T, kernel xdraw.Scaler) float64 {
	f, err := os.Open(td("img/b_wide.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	w, h := resizedSize(src.Bounds().Dx(), src.Bounds().Dy(), 64)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	kernel.Scale(dst, dst.Bounds(), src, src.Bounds(), xdraw.Src, nil)
	x0, y0 := int(math.RoundToEven(float64(w-56)/2)), int(math.RoundToEven(float64(h-56)/2))
	out := make([]float32, 3*56*56)
	for c := range 3 {
		for y := range 56 {
			for x := range 56 {
				out[(c*56+y)*56+x] = float32(dst.Pix[(y0+y)*dst.Stride+4*(x0+x)+c])
			}
		}
	}
	_, mean := maxDiff(t, ir.FromFloat32(out, 3, 56, 56), "pil_b_wide_r64_c56.npy")
	return mean
}

// TestWriteNpyRoundTrip writes f32 and i8 arrays (rank 1 needs the
// trailing comma in the shape tuple) and reads them back.
func TestWriteNpyRoundTrip(t *testing.T) {
	f := ir.NewTensor(ir.Float32, 3, 2, 5)
	for i := range f.Float32s() {
		f.Float32s()[i] = float32(i)*0.75 - 4
	}
	b := ir.NewTensor(ir.Int8, 7)
	for i := range b.Int8s() {
		b.Int8s()[i] = int8(i*37 - 128)
	}
	for _, x := range []*ir.Tensor{f, b} {
		path := filepath.Join(t.TempDir(), "x.npy")
		var buf bytes.Buffer
		if err := WriteNpy(&buf, x); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		_, batches := readAll(t, Spec{Path: path, Batch: 100})
		got := batches[0][0]
		if got.DType != x.DType || !equalInts(got.Shape, x.Shape) {
			t.Fatalf("read %v%v, wrote %v%v", got.DType, got.Shape, x.DType, x.Shape)
		}
		for i := range got.Len() {
			if got.AsFloat64(i) != x.AsFloat64(i) {
				t.Fatalf("element %d: read %v, wrote %v", i, got.AsFloat64(i), x.AsFloat64(i))
			}
		}
	}
	if err := WriteNpy(io.Discard, ir.NewTensor(ir.Int64, 2)); err == nil {
		t.Error("an i64 tensor was written, want an error")
	}
}

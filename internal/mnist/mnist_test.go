package mnist

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dataDir is ../shared/data/mnist from the repository root.
const dataDir = "../../../shared/data/mnist"

// needData skips when the third-party data is absent, except in CI, where
// its absence is a broken set-up.
func needData(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dataDir, TestImagesFile)); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("MNIST data missing in CI: %v", err)
		}
		t.Skipf("MNIST data not found (%v); it lives in ../shared/data/mnist", err)
	}
}

// encodeIDX rebuilds the bytes of an unsigned-byte IDX file.
func encodeIDX(dims []int, data []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, typeUbyte, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(data)
	return b.Bytes()
}

func gz(t *testing.T, raw []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func gunzipFile(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestRealTestSet(t *testing.T) {
	needData(t)
	set, err := Test(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	im := set.Images
	if im.Count != 10000 || im.Rows != 28 || im.Cols != 28 {
		t.Fatalf("test images are %dx%dx%d, want 10000x28x28", im.Count, im.Rows, im.Cols)
	}
	// The re-encoded file must hash to the canonical uncompressed sha256
	// recorded in ../shared/README.md: every pixel was read, in order.
	sum := sha256.Sum256(encodeIDX([]int{im.Count, im.Rows, im.Cols}, im.Pixels))
	if got, want := hex.EncodeToString(sum[:]), "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"; got != want {
		t.Errorf("t10k images re-encoded sha256 %s, want %s", got, want)
	}
	sum = sha256.Sum256(encodeIDX([]int{len(set.Labels)}, labelBytes(set.Labels)))
	if got, want := hex.EncodeToString(sum[:]), "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"; got != want {
		t.Errorf("t10k labels re-encoded sha256 %s, want %s", got, want)
	}
	var counts [10]int
	for _, l := range set.Labels {
		counts[l]++
	}
	if want := [10]int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}; counts != want {
		t.Errorf("label counts %v, want %v", counts, want)
	}
	if got, want := set.Labels[:5], []int{7, 2, 1, 0, 4}; !equalInts(got, want) {
		t.Errorf("first test labels %v, want %v", got, want)
	}
}

func TestRealTrainLabels(t *testing.T) {
	needData(t)
	labels, err := ReadLabels(filepath.Join(dataDir, TrainLabelsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(labels) != 60000 {
		t.Fatalf("%d train labels, want 60000", len(labels))
	}
	if got, want := labels[:5], []int{5, 0, 4, 1, 9}; !equalInts(got, want) {
		t.Errorf("first train labels %v, want %v", got, want)
	}
	sum := sha256.Sum256(encodeIDX([]int{len(labels)}, labelBytes(labels)))
	if got, want := hex.EncodeToString(sum[:]), "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"; got != want {
		t.Errorf("train labels re-encoded sha256 %s, want %s", got, want)
	}
}

// TestUncompressedCopy reads a gunzipped copy that still has the .gz name:
// the format is chosen by magic, not by name.
func TestUncompressedCopy(t *testing.T) {
	needData(t)
	raw := gunzipFile(t, filepath.Join(dataDir, TestLabelsFile))
	p := writeFile(t, "labels.gz", raw)
	labels, err := ReadLabels(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(labels) != 10000 || labels[0] != 7 {
		t.Errorf("uncompressed copy: %d labels starting %v, want 10000 starting 7", len(labels), labels[:1])
	}
}

func TestTensorTransforms(t *testing.T) {
	im := &Images{Count: 3, Rows: 2, Cols: 2, Pixels: []byte{
		0, 1, 2, 3,
		255, 128, 0, 51,
		9, 9, 9, 9,
	}}
	raw, err := im.Tensor(1, 3, Raw)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{2, 1, 2, 2}; !equalInts(raw.Shape, want) {
		t.Fatalf("shape %v, want %v", raw.Shape, want)
	}
	wantRaw := []float32{255, 128, 0, 51, 9, 9, 9, 9}
	checkFloats(t, "raw", raw.Data.([]float32), wantRaw, 0)

	unit, _ := im.Tensor(1, 2, Unit)
	checkFloats(t, "unit", unit.Data.([]float32), []float32{1, 128.0 / 255, 0, 0.2}, 1e-7)

	// (x/255 - 0.1307) / 0.3081 by hand: 0 -> -0.424212917..., 255 -> 2.821486530...
	norm, _ := im.Tensor(1, 2, Normalize(0.1307, 0.3081))
	checkFloats(t, "normalize", norm.Data.([]float32), []float32{2.8214865, (128.0/255 - 0.1307) / 0.3081, -0.42421293, (0.2 - 0.1307) / 0.3081}, 1e-6)

	if _, err := im.Tensor(2, 4, Raw); err == nil {
		t.Error("range past the end: no error")
	}
	if _, err := im.Tensor(0, 1, nil); err == nil {
		t.Error("nil transform: no error")
	}
}

func checkFloats(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > tol {
			t.Errorf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// TestCorrupt checks that each kind of damage gives an error naming the file
// and saying what is wrong.
func TestCorrupt(t *testing.T) {
	images := encodeIDX([]int{3, 2, 2}, make([]byte, 12))
	labels := encodeIDX([]int{3}, []byte{1, 2, 3})
	cases := []struct {
		name  string
		data  []byte
		read  func(string) error
		inErr string
	}{
		{"bad magic", append([]byte{0x12, 0x34}, images[2:]...), readImages, "bad IDX magic"},
		{"bad magic gzipped", gz(t, append([]byte{0x50, 0x4b}, images[2:]...)), readImages, "bad IDX magic"},
		{"float type", append([]byte{0, 0, 0x0d}, images[3:]...), readImages, "want 0x08"},
		{"empty", nil, readImages, "truncated IDX header"},
		{"short dims", images[:9], readImages, "truncated IDX header"},
		{"truncated data", images[:len(images)-1], readImages, "truncated IDX data"},
		{"truncated data gzipped", gz(t, images[:len(images)-5]), readImages, "truncated IDX data"},
		{"trailing data", append(append([]byte{}, images...), 7), readImages, "trailing"},
		{"labels as images", labels, readImages, "want 3"},
		{"images as labels", images, readLabels, "want 1"},
		{"label out of range", encodeIDX([]int{2}, []byte{3, 10}), readLabels, "label 1 is 10"},
		{"huge header", encodeIDX([]int{1 << 30, 1 << 20, 28}, nil), readImages, "more than"},
		{"zero rank", []byte{0, 0, 8, 0}, readLabels, "0 dimensions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, "f.idx", c.data)
			err := c.read(p)
			if err == nil {
				t.Fatalf("no error")
			}
			if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), c.inErr) {
				t.Errorf("error %q, want it to name %s and say %q", err, p, c.inErr)
			}
		})
	}
}

func readImages(p string) error { _, err := ReadImages(p); return err }
func readLabels(p string) error { _, err := ReadLabels(p); return err }

// TestCorruptRealFiles damages copies of the real files: a cut gzip stream,
// a flipped byte (the gzip CRC must catch it) and a cut uncompressed file.
func TestCorruptRealFiles(t *testing.T) {
	needData(t)
	orig, err := os.ReadFile(filepath.Join(dataDir, TestImagesFile))
	if err != nil {
		t.Fatal(err)
	}
	cut := writeFile(t, "cut.gz", orig[:len(orig)/2])
	if _, err := ReadImages(cut); err == nil || !strings.Contains(err.Error(), cut) {
		t.Errorf("gzip cut in half: error %v, want one naming %s", err, cut)
	}

	flipped := append([]byte{}, orig...)
	flipped[len(flipped)-6] ^= 0xff // inside the CRC-32 of the gzip trailer
	fp := writeFile(t, "flipped.gz", flipped)
	if _, err := ReadImages(fp); err == nil || !strings.Contains(err.Error(), "gzip") {
		t.Errorf("gzip with a bad CRC: error %v, want a gzip error", err)
	}

	raw := gunzipFile(t, filepath.Join(dataDir, TestImagesFile))
	short := writeFile(t, "short", raw[:len(raw)-784])
	if _, err := ReadImages(short); err == nil || !strings.Contains(err.Error(), "truncated IDX data") {
		t.Errorf("one image missing: error %v, want truncated IDX data", err)
	}
}

func TestCountMismatch(t *testing.T) {
	needData(t)
	raw := gunzipFile(t, filepath.Join(dataDir, TestLabelsFile))
	labels := encodeIDX([]int{9999}, raw[8:8+9999])
	lp := writeFile(t, "labels", gz(t, labels))
	_, err := ReadSet(filepath.Join(dataDir, TestImagesFile), lp)
	if err == nil {
		t.Fatal("9999 labels for 10000 images: no error")
	}
	for _, want := range []string{lp, "9999 labels", "10000 images"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope.gz")
	if _, err := ReadLabels(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("missing file: error %v, want one naming %s", err, p)
	}
}

func labelBytes(l []int) []byte {
	b := make([]byte, len(l))
	for i, v := range l {
		b[i] = byte(v)
	}
	return b
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

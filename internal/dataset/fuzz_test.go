package dataset

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sqc-project/sqc/ir"
)

// The fuzz targets feed arbitrary bytes to every calibration-data reader,
// through Open as the passes call it, and read every batch and the hash:
// any input must give samples or an error, never a panic, a hang or an
// allocation the file's size does not justify. `make fuzz` runs them;
// crashers found are kept under testdata/fuzz and run by go test.

// fuzzRead writes data to name inside a fresh folder and reads it all.
// With dir set, Open gets the folder (an image folder), else the file.
func fuzzRead(t *testing.T, name string, data []byte, format string, dir bool) {
	root := t.TempDir()
	path := filepath.Join(root, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if dir {
		path = root
	}
	// A graph input of an image's shape, as calibration feeds one; the
	// readers must refuse data that does not fit it rather than crash.
	in := []Input{{Name: "x", Type: ir.Type{DType: ir.Float32, Shape: ir.Shape{ir.SymDim("N"), ir.D(1), ir.D(4), ir.D(4)}}}}
	for _, inputs := range [][]Input{nil, in} {
		src, err := Open(Spec{Path: path, Format: format, Limit: 16, Batch: 2, Inputs: inputs})
		if err != nil {
			continue
		}
		for range 16 {
			if _, err := src.Next(); err != nil {
				break
			}
		}
		src.Hash()
		src.Close()
	}
}

func FuzzNpy(f *testing.F) {
	for _, name := range []string{"f32_v1.npy", "f32_v2.npy", "f16.npy", "f64_be.npy", "fortran.npy", "i8.npy", "u8.npy", "truncated.npy"} {
		f.Add(readSeed(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, "a.npy", data, FormatNpy, false) })
}

func FuzzNpz(f *testing.F) {
	// Small archives (the fuzzer minimises what it finds, and a large seed
	// makes that slow): one array stored, two deflated, one not an array.
	for _, members := range [][]string{{"x.npy"}, {"x.npy", "y.npy"}, {"x.txt"}} {
		for _, method := range []uint16{zip.Store, zip.Deflate} {
			var b bytes.Buffer
			zw := zip.NewWriter(&b)
			for _, m := range members {
				w, _ := zw.CreateHeader(&zip.FileHeader{Name: m, Method: method})
				w.Write(readSeed(f, "i8.npy"))
			}
			zw.Close()
			f.Add(b.Bytes())
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, "a.npz", data, FormatNpz, false) })
}

func FuzzIDX(f *testing.F) {
	f.Add(readSeed(f, "bytes.idx"), false)
	// Three 4×4 images, and the same gzipped (the .gz files MNIST ships).
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, []uint32{0x0803, 3, 4, 4})
	b.Write(bytes.Repeat([]byte{0, 64, 128, 255}, 12))
	f.Add(b.Bytes(), false)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(b.Bytes())
	zw.Close()
	f.Add(z.Bytes(), true)
	f.Fuzz(func(t *testing.T, data []byte, gz bool) {
		name := "images.idx"
		if gz {
			name = "images-idx3-ubyte.gz"
		}
		fuzzRead(t, name, data, FormatIDX, false)
	})
}

func FuzzPB(f *testing.F) {
	// A TensorProto of dims [1,1,4,4], FLOAT: with raw data, and with the
	// same values in float_data.
	ones := make([]float32, 16)
	raw := make([]byte, 0, 64)
	for i := range ones {
		ones[i] = float32(i) / 16
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(ones[i]))
	}
	f.Add(tensorProto([]uint64{1, 1, 4, 4}, raw, nil))
	f.Add(tensorProto([]uint64{1, 1, 4, 4}, nil, ones))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, "input_0.pb", data, FormatPB, false) })
}

// tensorProto encodes a FLOAT TensorProto named "x" (fields: dims 1,
// data_type 2, float_data 4, name 8, raw_data 9).
func tensorProto(dims []uint64, raw []byte, floats []float32) []byte {
	var b []byte
	for _, d := range dims {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, d)
	}
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, 1)
	if floats != nil {
		var packed []byte
		for _, x := range floats {
			packed = binary.LittleEndian.AppendUint32(packed, math.Float32bits(x))
		}
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendBytes(b, packed)
	}
	b = protowire.AppendTag(b, 8, protowire.BytesType)
	b = protowire.AppendString(b, "x")
	if raw != nil {
		b = protowire.AppendTag(b, 9, protowire.BytesType)
		b = protowire.AppendBytes(b, raw)
	}
	return b
}

func FuzzImages(f *testing.F) {
	// Small images (the fuzzer minimises what it finds, and a large seed
	// makes that slow): RGB and gray PNG, and JPEG.
	rgb := image.NewRGBA(image.Rect(0, 0, 5, 3))
	for i := range rgb.Pix {
		rgb.Pix[i] = uint8(i * 37)
	}
	gray := image.NewGray16(image.Rect(0, 0, 2, 2))
	gray.Set(1, 1, color.Gray16{Y: 40000})
	for _, img := range []image.Image{rgb, gray} {
		var p, j bytes.Buffer
		png.Encode(&p, img)
		f.Add(p.Bytes(), false)
		jpeg.Encode(&j, img, &jpeg.Options{Quality: 80})
		f.Add(j.Bytes(), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, isJPEG bool) {
		name := "a.png"
		if isJPEG {
			name = "a.jpg"
		}
		fuzzRead(t, name, data, FormatImages, true)
	})
}

// readSeed reads a file of testdata, the fuzz targets' seed corpus.
func readSeed(f *testing.F, name string) []byte {
	r, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

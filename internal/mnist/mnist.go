// Package mnist reads the MNIST data set (and anything else stored the same
// way, such as Fashion-MNIST) from its IDX files, gzipped or not, into the
// tensors and labels that accuracy evaluation needs.
//
// IDX is a tiny big-endian format: two zero bytes, a type byte (0x08 for
// unsigned bytes, the only type MNIST uses), a byte giving the number of
// dimensions, one uint32 per dimension, then the elements in row-major order.
// Image files have 3 dimensions (count, rows, cols), label files 1 (count).
// Whether a file is gzipped is decided by its first two bytes (the gzip magic
// 0x1f 0x8b), not by its name, so an unpacked copy named *.gz still reads.
//
// Every error names the file and says what was expected: a damaged download
// must give a clear message, never a panic or a silently short data set.
package mnist

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sqc-project/sqc/ir"
)

// The canonical file names of the four MNIST files, as distributed (gzipped).
const (
	TestImagesFile  = "t10k-images-idx3-ubyte.gz"
	TestLabelsFile  = "t10k-labels-idx1-ubyte.gz"
	TrainImagesFile = "train-images-idx3-ubyte.gz"
	TrainLabelsFile = "train-labels-idx1-ubyte.gz"
)

// typeUbyte is the IDX element-type code of unsigned bytes.
const typeUbyte = 0x08

// maxElements bounds the element count a header may announce. The largest
// real file (train images) has 47 million elements; the bound only exists so
// that a corrupt header cannot make the product of its dims overflow.
const maxElements = 1 << 34

// IDX is the decoded content of an unsigned-byte IDX file.
type IDX struct {
	// Dims are the dimensions the header declares (count first).
	Dims []int
	// Data holds the elements, row-major; len(Data) is the product of Dims.
	Data []byte
}

// ReadIDX reads an unsigned-byte IDX file, gzipped or not.
func ReadIDX(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // os errors already name the file
	}
	defer f.Close()
	idx, err := decodeIDX(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return idx, nil
}

// decodeIDX decodes an IDX stream, unwrapping gzip when the stream starts
// with its magic.
func decodeIDX(br *bufio.Reader) (*IDX, error) {
	var r io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("bad gzip header: %v", err)
		}
		defer zr.Close()
		// One gzip member per file: concatenated members would be read as one
		// stream, which would hide appended junk.
		zr.Multistream(false)
		r = zr
	}
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, fmt.Errorf("truncated IDX header: %v", noEOF(err))
	}
	if head[0] != 0 || head[1] != 0 {
		return nil, fmt.Errorf("bad IDX magic %#02x%02x%02x%02x, want 0x0000 then a type byte and a rank byte (is this an MNIST IDX file?)",
			head[0], head[1], head[2], head[3])
	}
	if head[2] != typeUbyte {
		return nil, fmt.Errorf("IDX element type %#02x, want 0x08 (unsigned byte)", head[2])
	}
	rank := int(head[3])
	if rank == 0 {
		return nil, errors.New("IDX header declares 0 dimensions, want at least 1")
	}
	dimBytes := make([]byte, 4*rank)
	if _, err := io.ReadFull(r, dimBytes); err != nil {
		return nil, fmt.Errorf("truncated IDX header: %d dimensions declared: %v", rank, noEOF(err))
	}
	dims := make([]int, rank)
	n := int64(1)
	for i := range dims {
		d := int64(binary.BigEndian.Uint32(dimBytes[4*i:]))
		dims[i] = int(d)
		n *= d
		if n > maxElements {
			return nil, fmt.Errorf("IDX header declares dims %v..., more than %d elements", dims[:i+1], int64(maxElements))
		}
	}
	// Read at most one byte more than declared: enough to tell a file with
	// trailing data from an exact one, and memory grows with the data that
	// is really there rather than with what a corrupt header claims.
	data, err := io.ReadAll(io.LimitReader(r, n+1))
	if err != nil {
		return nil, fmt.Errorf("reading %d elements of dims %v: %v", n, dims, noEOF(err))
	}
	switch {
	case int64(len(data)) < n:
		return nil, fmt.Errorf("truncated IDX data: dims %v need %d bytes, file has %d", dims, n, len(data))
	case int64(len(data)) > n:
		return nil, fmt.Errorf("IDX data longer than dims %v declare (%d bytes): trailing bytes", dims, n)
	}
	if zr, ok := r.(*gzip.Reader); ok {
		// Reaching the end of the gzip member verifies its CRC and length;
		// only then is the data known to be what was compressed.
		if _, err := io.Copy(io.Discard, zr); err != nil {
			return nil, fmt.Errorf("gzip stream: %v", noEOF(err))
		}
		if rest, _ := io.ReadAll(br); len(bytes.TrimRight(rest, "\x00")) > 0 {
			return nil, fmt.Errorf("%d bytes of trailing data after the gzip stream", len(rest))
		}
	}
	return &IDX{Dims: dims, Data: data}, nil
}

// noEOF turns io.EOF and io.ErrUnexpectedEOF into a message saying the file
// ends early, which is what they mean here.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("file ends early")
	}
	return err
}

// Transform maps a raw pixel (0..255) to the value a model expects.
type Transform func(pixel uint8) float32

// Raw keeps pixels as 0..255 (the ONNX zoo's mnist-8 wants this).
func Raw(p uint8) float32 { return float32(p) }

// Unit scales pixels to 0..1: x/255.
func Unit(p uint8) float32 { return float32(p) / 255 }

// Normalize returns the transform (x/255 - mean) / std, the torchvision
// normalisation (MNIST's usual constants are mean 0.1307, std 0.3081).
func Normalize(mean, std float32) Transform {
	// A table of the 256 possible results: each is computed once, in the
	// same order of operations for every pixel.
	var table [256]float32
	for i := range table {
		table[i] = (float32(i)/255 - mean) / std
	}
	return func(p uint8) float32 { return table[p] }
}

// Images is a set of single-channel images as their raw pixels.
type Images struct {
	// Count, Rows and Cols are the dims of the file.
	Count, Rows, Cols int
	// Pixels holds Count*Rows*Cols bytes, image by image, row-major.
	Pixels []byte
}

// ReadImages reads an IDX image file (3 dimensions: count, rows, cols).
func ReadImages(path string) (*Images, error) {
	idx, err := ReadIDX(path)
	if err != nil {
		return nil, err
	}
	if len(idx.Dims) != 3 {
		return nil, fmt.Errorf("%s: IDX file has %d dimensions %v, want 3 (count, rows, cols) for images", path, len(idx.Dims), idx.Dims)
	}
	return &Images{Count: idx.Dims[0], Rows: idx.Dims[1], Cols: idx.Dims[2], Pixels: idx.Data}, nil
}

// Tensor converts images [lo, hi) to a float32 tensor [hi-lo, 1, Rows, Cols]
// through tf, the NCHW layout of an image model's input.
func (im *Images) Tensor(lo, hi int, tf Transform) (*ir.Tensor, error) {
	if lo < 0 || hi > im.Count || lo > hi {
		return nil, fmt.Errorf("image range [%d, %d) outside [0, %d)", lo, hi, im.Count)
	}
	if tf == nil {
		return nil, errors.New("no pixel transform given")
	}
	size := im.Rows * im.Cols
	src := im.Pixels[lo*size : hi*size]
	dst := make([]float32, len(src))
	for i, p := range src {
		dst[i] = tf(p)
	}
	return ir.FromFloat32(dst, hi-lo, 1, im.Rows, im.Cols), nil
}

// ReadLabels reads an IDX label file (1 dimension) as class indices.
// Labels above 9 are rejected: MNIST and its look-alikes have 10 classes,
// so a larger label means the file is not what the caller thinks.
func ReadLabels(path string) ([]int, error) {
	idx, err := ReadIDX(path)
	if err != nil {
		return nil, err
	}
	if len(idx.Dims) != 1 {
		return nil, fmt.Errorf("%s: IDX file has %d dimensions %v, want 1 (count) for labels", path, len(idx.Dims), idx.Dims)
	}
	labels := make([]int, len(idx.Data))
	for i, b := range idx.Data {
		if b > 9 {
			return nil, fmt.Errorf("%s: label %d is %d, want 0..9", path, i, b)
		}
		labels[i] = int(b)
	}
	return labels, nil
}

// Set is images with their labels.
type Set struct {
	Images *Images
	Labels []int
}

// ReadSet reads an image file and its label file and checks that they hold
// the same number of items.
func ReadSet(imagesPath, labelsPath string) (*Set, error) {
	im, err := ReadImages(imagesPath)
	if err != nil {
		return nil, err
	}
	labels, err := ReadLabels(labelsPath)
	if err != nil {
		return nil, err
	}
	if len(labels) != im.Count {
		return nil, fmt.Errorf("%s has %d labels but %s has %d images, want the same count",
			labelsPath, len(labels), imagesPath, im.Count)
	}
	return &Set{Images: im, Labels: labels}, nil
}

// Test reads the 10,000-image test set from dir (the canonical file names).
func Test(dir string) (*Set, error) {
	return ReadSet(filepath.Join(dir, TestImagesFile), filepath.Join(dir, TestLabelsFile))
}

// Train reads the 60,000-image training set from dir (the canonical file names).
func Train(dir string) (*Set, error) {
	return ReadSet(filepath.Join(dir, TrainImagesFile), filepath.Join(dir, TrainLabelsFile))
}

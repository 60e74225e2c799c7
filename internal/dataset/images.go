package dataset

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg" // registers the JPEG decoder with image.Decode
	_ "image/png"  // registers the PNG decoder with image.Decode
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/sqc-project/sqc/ir"
)

func isImageName(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".png":
		return true
	}
	return false
}

// pipeline turns a decoded image into a model input tensor: resize, crop,
// channel order, scale, mean/std, layout.
type pipeline struct {
	resize, crop int
	channels     string // rgb, bgr or gray, resolved
	nhwc         bool
	scale        float32
	mean, std    []float32 // one per output channel
}

// newPipeline resolves the preprocessing against the graph input (when
// known): an input with one channel gets grayscale unless told otherwise.
// natural is the channel order to use when nothing else decides.
func newPipeline(spec *Spec, natural string) (*pipeline, error) {
	pp := &spec.Preprocess
	p := &pipeline{resize: pp.Resize, crop: pp.Crop, channels: pp.Channels, nhwc: pp.Layout == NHWC, scale: pp.Scale}
	if p.scale == 0 {
		p.scale = 1
	}
	if p.channels == "" {
		p.channels = natural
		if len(spec.Inputs) == 1 && spec.Inputs[0].Type.Shape.Rank() == 4 {
			axis := 1
			if p.nhwc {
				axis = 3
			}
			if d := spec.Inputs[0].Type.Shape[axis]; d.Known() {
				p.channels = RGB
				if d.Size == 1 {
					p.channels = Gray
				}
			}
		}
	}
	nc := 3
	if p.channels == Gray {
		nc = 1
	}
	var err error
	if p.mean, p.std, err = perChannel(pp, nc); err != nil {
		return nil, fmt.Errorf("%s: %v (%s images have %d channels)", spec.Path, err, p.channels, nc)
	}
	return p, nil
}

// apply runs the pipeline; the result has shape [C,H,W] or [H,W,C].
func (p *pipeline) apply(img image.Image) (*ir.Tensor, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w == 0 || h == 0 {
		return nil, fmt.Errorf("image is %dx%d, want a non-empty image", w, h)
	}
	// Work on 8-bit pixels, as PIL does: gray stays gray when gray is
	// wanted, everything else becomes opaque RGBA (alpha is dropped, as
	// PIL's convert("RGB") drops it).
	var src draw.Image
	if g, ok := img.(*image.Gray); ok && p.channels == Gray {
		src = g
	} else if p.channels == Gray && isGray(img) {
		g := image.NewGray(b)
		draw.Draw(g, b, img, b.Min, draw.Src)
		src = g
	} else {
		src = toOpaqueRGBA(img)
	}
	if p.resize > 0 {
		nw, nh := resizedSize(w, h, p.resize)
		if nw != w || nh != h {
			src, w, h = resizePIL(src, nw, nh), nw, nh
		}
	}
	x0, y0 := src.Bounds().Min.X, src.Bounds().Min.Y
	if p.crop > 0 {
		if p.crop > w || p.crop > h {
			return nil, fmt.Errorf("image is %dx%d after resizing, smaller than the %dx%d crop (set resize >= crop)", w, h, p.crop, p.crop)
		}
		// torchvision's CenterCrop: int(round((h - c) / 2.0)), Python's
		// round being half to even.
		x0 += int(math.RoundToEven(float64(w-p.crop) / 2))
		y0 += int(math.RoundToEven(float64(h-p.crop) / 2))
		w, h = p.crop, p.crop
	}
	nc := len(p.mean)
	var t *ir.Tensor
	if p.nhwc {
		t = ir.NewTensor(ir.Float32, h, w, nc)
	} else {
		t = ir.NewTensor(ir.Float32, nc, h, w)
	}
	out := t.Data.([]float32)
	// Per channel, out = pixel·scale·(1/std) − mean/std would reassociate the
	// arithmetic; computing (pixel·scale − mean)/std keeps torchvision's order
	// (ToTensor's division, then Normalize's subtraction and division).
	var tab [3][256]float32
	for c := range nc {
		for v := range 256 {
			tab[c][v] = (float32(float32(v)*p.scale) - p.mean[c]) / p.std[c]
		}
	}
	put := func(y, x, c int, v uint8) {
		if p.nhwc {
			out[(y*w+x)*nc+c] = tab[c][v]
		} else {
			out[(c*h+y)*w+x] = tab[c][v]
		}
	}
	switch s := src.(type) {
	case *image.Gray:
		for y := range h {
			row := s.Pix[(y0+y-s.Rect.Min.Y)*s.Stride+(x0-s.Rect.Min.X):]
			for x := range w {
				for c := range nc {
					put(y, x, c, row[x])
				}
			}
		}
	case *image.RGBA:
		for y := range h {
			row := s.Pix[(y0+y-s.Rect.Min.Y)*s.Stride+4*(x0-s.Rect.Min.X):]
			for x := range w {
				r, g, bl := row[4*x], row[4*x+1], row[4*x+2]
				switch p.channels {
				case RGB:
					put(y, x, 0, r)
					put(y, x, 1, g)
					put(y, x, 2, bl)
				case BGR:
					put(y, x, 0, bl)
					put(y, x, 1, g)
					put(y, x, 2, r)
				case Gray:
					put(y, x, 0, luma(r, g, bl))
				}
			}
		}
	}
	return t, nil
}

// luma is PIL's RGB → L conversion (ITU-R 601-2: 0.299 R + 0.587 G +
// 0.114 B, in 16-bit fixed point with rounding, as Pillow's L24 macro).
func luma(r, g, b uint8) uint8 {
	return uint8((uint32(r)*19595 + uint32(g)*38470 + uint32(b)*7471 + 0x8000) >> 16)
}

// isGray reports whether an image's color model is a gray one.
func isGray(img image.Image) bool {
	switch img.(type) {
	case *image.Gray, *image.Gray16:
		return true
	}
	return false
}

// toOpaqueRGBA converts an image to 8-bit RGBA with its straight (not
// premultiplied) colors and alpha set to 255, as PIL's convert("RGB")
// drops alpha. Opaque sources (JPEG's YCbCr, gray, CMYK) go through
// image/draw's fast paths; NRGBA (PNG with alpha) keeps its color bytes.
func toOpaqueRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	switch s := img.(type) {
	case *image.RGBA:
		if s.Opaque() {
			return s
		}
	case *image.YCbCr, *image.Gray, *image.CMYK:
		dst := image.NewRGBA(b)
		draw.Draw(dst, b, img, b.Min, draw.Src)
		return dst
	case *image.NRGBA:
		dst := image.NewRGBA(b)
		for y := 0; y < b.Dy(); y++ {
			row := s.Pix[y*s.Stride : y*s.Stride+4*b.Dx()]
			out := dst.Pix[y*dst.Stride:]
			copy(out, row)
			for i := 3; i < len(row); i += 4 {
				out[i] = 255
			}
		}
		return dst
	}
	n := image.NewNRGBA(b)
	draw.Draw(n, b, img, b.Min, draw.Src)
	for i := 3; i < len(n.Pix); i += 4 {
		n.Pix[i] = 255
	}
	return &image.RGBA{Pix: n.Pix, Stride: n.Stride, Rect: n.Rect}
}

// resizedSize is torchvision's Resize(size) for an int size: the shorter
// side becomes size, the longer int(size·long/short).
func resizedSize(w, h, size int) (int, int) {
	if w <= h {
		return size, int(float64(size) * float64(h) / float64(w))
	}
	return int(float64(size) * float64(w) / float64(h)), size
}

// imageFiles reads a folder of JPEG and PNG files (or one file).
type imageFiles struct {
	root  string
	files []string
	p     *pipeline
}

func (*imageFiles) isImages() {}

func openImages(path string, spec *Spec) (*imageFiles, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	r := &imageFiles{root: path}
	if fi.IsDir() {
		if r.files, err = sortedFiles(path, isImageName); err != nil {
			return nil, err
		}
		if len(r.files) == 0 {
			return nil, fmt.Errorf("%s: no .jpg, .jpeg or .png files in the folder", path)
		}
	} else {
		r.files = []string{path}
	}
	if r.p, err = newPipeline(spec, RGB); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *imageFiles) count() int       { return len(r.files) }
func (r *imageFiles) arrays() []string { return []string{"images"} }

func (r *imageFiles) start() (stream, error) { return &imageStream{r: r}, nil }

func (r *imageFiles) hash(w io.Writer, n int) error {
	for _, f := range r.files[:n] {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(r.root, f)
		fmt.Fprintf(w, "image %q %d\n", filepath.ToSlash(rel), len(data))
		w.Write(data)
	}
	return nil
}

type imageStream struct {
	r *imageFiles
	i int
}

func (s *imageStream) next() (sample, error) {
	if s.i >= len(s.r.files) {
		return sample{}, io.EOF
	}
	path := s.r.files[s.i]
	s.i++
	data, err := os.ReadFile(path)
	if err != nil {
		return sample{}, err
	}
	img, format, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return sample{}, fmt.Errorf("%s: cannot decode the image (want JPEG or PNG): %v", path, err)
	}
	t, err := s.r.p.apply(img)
	if err != nil {
		return sample{}, fmt.Errorf("%s (%s): %v", path, format, err)
	}
	return sample{tensors: []*ir.Tensor{t}, origin: path}, nil
}

func (s *imageStream) close() error { return nil }

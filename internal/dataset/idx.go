package dataset

import (
	"fmt"
	"image"
	"io"

	"github.com/sqc-project/sqc/internal/mnist"
	"github.com/sqc-project/sqc/ir"
)

// openIDX reads an IDX file with internal/mnist (the whole file: the
// largest, MNIST's training images, is 47 MB) and returns an image reader
// for 3-dim files and an array reader otherwise.
func openIDX(path string, spec *Spec) (reader, error) {
	idx, err := mnist.ReadIDX(path)
	if err != nil {
		return nil, err
	}
	if len(idx.Dims) == 3 {
		p, err := newPipeline(spec, Gray)
		if err != nil {
			return nil, err
		}
		return &idxImages{idxArray: idxArray{path: path, idx: idx}, p: p}, nil
	}
	if spec.Preprocess.Channels != "" {
		return nil, fmt.Errorf("%s: IDX file has dims %v, not (count, rows, cols) images; channels applies to images", path, idx.Dims)
	}
	return &idxArray{path: path, idx: idx}, nil
}

// idxArray serves an IDX file's items as uint8 arrays.
type idxArray struct {
	path string
	idx  *mnist.IDX
}

func (r *idxArray) count() int       { return r.idx.Dims[0] }
func (r *idxArray) arrays() []string { return []string{r.path} }
func (r *idxArray) itemSize() int    { return ir.NumElements(r.idx.Dims[1:]) }

func (r *idxArray) start() (stream, error) {
	return &idxStream{r: r, item: func(i int) (*ir.Tensor, error) {
		n := r.itemSize()
		t := ir.NewTensor(ir.Uint8, r.idx.Dims[1:]...)
		copy(t.Data.([]uint8), r.idx.Data[i*n:(i+1)*n])
		return t, nil
	}}, nil
}

func (r *idxArray) hash(w io.Writer, n int) error {
	fmt.Fprintf(w, "idx %v\n", r.idx.Dims)
	_, err := w.Write(r.idx.Data[:n*r.itemSize()])
	return err
}

// idxImages serves a 3-dim IDX file's items as grayscale images through
// the image pipeline.
type idxImages struct {
	idxArray
	p *pipeline
}

func (*idxImages) isImages() {}

func (r *idxImages) start() (stream, error) {
	rows, cols := r.idx.Dims[1], r.idx.Dims[2]
	return &idxStream{r: &r.idxArray, item: func(i int) (*ir.Tensor, error) {
		n := rows * cols
		img := &image.Gray{Pix: r.idx.Data[i*n : (i+1)*n], Stride: cols, Rect: image.Rect(0, 0, cols, rows)}
		return r.p.apply(img)
	}}, nil
}

type idxStream struct {
	r    *idxArray
	i    int
	item func(i int) (*ir.Tensor, error)
}

func (s *idxStream) next() (sample, error) {
	if s.i >= s.r.count() {
		return sample{}, io.EOF
	}
	i := s.i
	s.i++
	t, err := s.item(i)
	if err != nil {
		return sample{}, fmt.Errorf("%s: item %d: %v", s.r.path, i, err)
	}
	return sample{tensors: []*ir.Tensor{t}, origin: fmt.Sprintf("%s: item %d", s.r.path, i)}, nil
}

func (s *idxStream) close() error { return nil }

package dataset

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/ir"
)

// pbFiles reads serialized TensorProto files. Data is organised as groups
// of files, one file per array: a single file, each file of a folder, or
// each test_data_set_N folder's input_0.pb ... input_K.pb. A file's first
// dim counts the samples it holds.
type pbFiles struct {
	root   string
	groups [][]string
	counts []int // samples per group
	total  int
}

var inputPB = regexp.MustCompile(`^input_(\d+)\.pb$`)

func openPB(path string) (*pbFiles, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	r := &pbFiles{root: path}
	switch {
	case !fi.IsDir():
		r.groups = [][]string{{path}}
	default:
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, err
		}
		var sets []string
		for _, e := range entries {
			if e.IsDir() && strings.HasPrefix(e.Name(), "test_data_set_") {
				sets = append(sets, filepath.Join(path, e.Name()))
			}
		}
		if len(sets) == 0 {
			if inputs, _ := inputFiles(path); len(inputs) > 0 {
				sets = []string{path} // the folder is one test data set
			}
		}
		if len(sets) > 0 {
			sortNatural(sets)
			for _, set := range sets {
				files, err := inputFiles(set)
				if err != nil {
					return nil, err
				}
				if len(r.groups) > 0 && len(files) != len(r.groups[0]) {
					return nil, fmt.Errorf("%s has %d input_K.pb files, %s has %d; want the same inputs in every test data set",
						set, len(files), filepath.Dir(r.groups[0][0]), len(r.groups[0]))
				}
				r.groups = append(r.groups, files)
			}
		} else {
			files, err := sortedFiles(path, func(name string) bool { return strings.HasSuffix(name, ".pb") })
			if err != nil {
				return nil, err
			}
			for _, f := range files {
				r.groups = append(r.groups, []string{f})
			}
		}
	}
	if len(r.groups) == 0 {
		return nil, fmt.Errorf("%s: no .pb tensor files", path)
	}
	for _, g := range r.groups {
		n := -1
		for _, f := range g {
			dims, err := pbDims(f)
			if err != nil {
				return nil, err
			}
			if len(dims) == 0 {
				return nil, fmt.Errorf("%s: tensor is a scalar, want a first dim that counts samples", f)
			}
			if n >= 0 && int(dims[0]) != n {
				return nil, fmt.Errorf("%s holds %d samples, %s holds %d; want the same count for every input of a data set", f, dims[0], g[0], n)
			}
			n = int(dims[0])
		}
		r.counts = append(r.counts, n)
		r.total += n
	}
	return r, nil
}

// inputFiles lists a test data set's input_K.pb files, which must be
// numbered 0..K without gaps.
func inputFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	byIndex := map[int]string{}
	for _, e := range entries {
		if m := inputPB.FindStringSubmatch(e.Name()); m != nil {
			k, _ := strconv.Atoi(m[1])
			byIndex[k] = filepath.Join(dir, e.Name())
		}
	}
	files := make([]string, len(byIndex))
	for k := range files {
		f, ok := byIndex[k]
		if !ok {
			return nil, fmt.Errorf("%s: input_%d.pb is missing (want input_0.pb ... input_%d.pb)", dir, k, len(byIndex)-1)
		}
		files[k] = f
	}
	return files, nil
}

// pbDims reads only the dims field (1) of a serialized TensorProto, so
// counting samples does not decode the data.
func pbDims(path string) ([]int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var dims []int64
	for b := data; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("%s: not a serialized ONNX TensorProto: %v", path, protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, fmt.Errorf("%s: bad dims field: %v", path, protowire.ParseError(n))
			}
			dims, b = append(dims, int64(v)), b[n:]
			continue
		case num == 1 && typ == protowire.BytesType:
			packed, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, fmt.Errorf("%s: bad dims field: %v", path, protowire.ParseError(n))
			}
			for len(packed) > 0 {
				v, m := protowire.ConsumeVarint(packed)
				if m < 0 {
					return nil, fmt.Errorf("%s: bad dims field: %v", path, protowire.ParseError(m))
				}
				dims, packed = append(dims, int64(v)), packed[m:]
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return nil, fmt.Errorf("%s: not a serialized ONNX TensorProto: %v", path, protowire.ParseError(n))
		}
		b = b[n:]
	}
	for _, d := range dims {
		if d < 0 {
			return nil, fmt.Errorf("%s: negative dim in %v", path, dims)
		}
	}
	return dims, nil
}

func (r *pbFiles) count() int { return r.total }

func (r *pbFiles) arrays() []string {
	names := make([]string, len(r.groups[0]))
	for k, f := range r.groups[0] {
		names[k] = filepath.Base(f)
	}
	return names
}

func (r *pbFiles) start() (stream, error) { return &pbStream{r: r}, nil }

func (r *pbFiles) hash(w io.Writer, n int) error {
	for g, files := range r.groups {
		if n <= 0 {
			break
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(r.root, f)
			fmt.Fprintf(w, "pb %q %d\n", filepath.ToSlash(rel), len(data))
			w.Write(data)
		}
		n -= r.counts[g]
	}
	return nil
}

// pbStream decodes one group at a time and hands out its samples.
type pbStream struct {
	r       *pbFiles
	g       int // next group to decode
	cur     []*ir.Tensor
	curFile string
	i, n    int // next sample of cur, samples in cur
}

func (s *pbStream) next() (sample, error) {
	for s.i >= s.n {
		if s.g >= len(s.r.groups) {
			return sample{}, io.EOF
		}
		files := s.r.groups[s.g]
		s.cur = s.cur[:0]
		for _, f := range files {
			t, err := onnx.ReadTensorFile(f)
			if err != nil {
				return sample{}, err
			}
			if len(t.Shape) == 0 || t.Shape[0] != s.r.counts[s.g] {
				return sample{}, fmt.Errorf("%s: tensor of shape %v, want %d samples along the first dim", f, ir.ShapeOf(t.Shape...), s.r.counts[s.g])
			}
			s.cur = append(s.cur, t)
		}
		s.curFile, s.i, s.n = files[0], 0, s.r.counts[s.g]
		s.g++
	}
	smp := sample{tensors: make([]*ir.Tensor, len(s.cur)), origin: fmt.Sprintf("%s: sample %d", s.curFile, s.i)}
	for k, t := range s.cur {
		smp.tensors[k] = firstDimItem(t, s.i)
	}
	s.i++
	return smp, nil
}

func (s *pbStream) close() error { return nil }

// firstDimItem returns item i along t's first dim, sharing t's data.
func firstDimItem(t *ir.Tensor, i int) *ir.Tensor {
	per := ir.NumElements(t.Shape[1:])
	lo, hi := i*per, (i+1)*per
	var d any
	switch s := t.Data.(type) {
	case []float32:
		d = s[lo:hi:hi]
	case []float64:
		d = s[lo:hi:hi]
	case []uint16:
		d = s[lo:hi:hi]
	case []int8:
		d = s[lo:hi:hi]
	case []uint8:
		d = s[lo:hi:hi]
	case []int16:
		d = s[lo:hi:hi]
	case []int32:
		d = s[lo:hi:hi]
	case []uint32:
		d = s[lo:hi:hi]
	case []int64:
		d = s[lo:hi:hi]
	case []uint64:
		d = s[lo:hi:hi]
	case []bool:
		d = s[lo:hi:hi]
	}
	return &ir.Tensor{DType: t.DType, Shape: append([]int{}, t.Shape[1:]...), Data: d}
}

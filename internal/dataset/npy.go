package dataset

import (
	"archive/zip"
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sqc-project/sqc/ir"
)

// npyMagic starts every .npy file (NumPy's format.py, "NEP 1").
const npyMagic = "\x93NUMPY"

// maxNpyHeader bounds the header dict's length; real headers are under 200
// bytes, and the bound keeps a corrupt length from allocating gigabytes.
const maxNpyHeader = 1 << 20

// npyHeader is the decoded header of an .npy array.
type npyHeader struct {
	descr    string // as written, for messages and the hash
	dtype    ir.DType
	big      bool // big-endian elements
	itemSize int
	shape    []int
	dataOff  int64 // header bytes before the data
}

// sampleBytes is the size of one item along the first dim.
func (h *npyHeader) sampleBytes() int64 {
	return int64(ir.NumElements(h.shape[1:])) * int64(h.itemSize)
}

// readNpyHeader reads and checks the magic, version and header dict.
func readNpyHeader(r io.Reader) (*npyHeader, error) {
	var pre [10]byte
	if _, err := io.ReadFull(r, pre[:8]); err != nil {
		return nil, fmt.Errorf("not an .npy file: %v", endsEarly(err))
	}
	if string(pre[:6]) != npyMagic {
		return nil, fmt.Errorf("not an .npy file: starts with %q, want the magic \\x93NUMPY", pre[:6])
	}
	major, minor := pre[6], pre[7]
	var hlen, off int64
	switch major {
	case 1:
		if _, err := io.ReadFull(r, pre[8:10]); err != nil {
			return nil, fmt.Errorf("truncated .npy header: %v", endsEarly(err))
		}
		hlen, off = int64(binary.LittleEndian.Uint16(pre[8:10])), 10
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("truncated .npy header: %v", endsEarly(err))
		}
		hlen, off = int64(binary.LittleEndian.Uint32(b[:])), 12
	default:
		return nil, fmt.Errorf(".npy format version %d.%d, want 1.0, 2.0 or 3.0", major, minor)
	}
	if hlen > maxNpyHeader {
		return nil, fmt.Errorf(".npy header length %d, want at most %d (corrupt file?)", hlen, maxNpyHeader)
	}
	text := make([]byte, hlen)
	if _, err := io.ReadFull(r, text); err != nil {
		return nil, fmt.Errorf("truncated .npy header (%d bytes declared): %v", hlen, endsEarly(err))
	}
	if major < 3 {
		for _, c := range text {
			if c >= 0x80 {
				return nil, fmt.Errorf(".npy %d.%d header is not ASCII (only version 3.0 headers may be UTF-8)", major, minor)
			}
		}
	} else if !utf8.Valid(text) {
		return nil, errors.New(".npy 3.0 header is not valid UTF-8")
	}
	h, err := parseNpyDict(string(text))
	if err != nil {
		return nil, fmt.Errorf("bad .npy header %q: %v", strings.TrimSpace(string(text)), err)
	}
	h.dataOff = off + hlen
	return h, nil
}

// parseNpyDict reads the header dict: {'descr': '<f4', 'fortran_order':
// False, 'shape': (3, 4), } (a Python literal, padded with spaces and a
// newline).
func parseNpyDict(text string) (*npyHeader, error) {
	p := &pyParser{s: text}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("unexpected %q after the dict", p.s[p.i:])
	}
	d, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("want a dict")
	}
	for k := range d {
		if k != "descr" && k != "fortran_order" && k != "shape" {
			return nil, fmt.Errorf("unexpected key %q (want descr, fortran_order, shape)", k)
		}
	}
	h := &npyHeader{}
	switch descr := d["descr"].(type) {
	case string:
		h.descr = descr
	case nil:
		return nil, errors.New("no descr key")
	default:
		return nil, errors.New("descr is not a plain type string: structured arrays are not supported, want a single numeric dtype")
	}
	fortran, ok := d["fortran_order"].(bool)
	if !ok {
		return nil, errors.New("fortran_order missing or not True/False")
	}
	if fortran {
		return nil, errors.New("the array is in Fortran order, want C order (save numpy.ascontiguousarray(a))")
	}
	shape, ok := d["shape"].([]any)
	if !ok {
		return nil, errors.New("shape missing or not a tuple")
	}
	for _, s := range shape {
		n, ok := s.(int64)
		if !ok || n < 0 || n > math.MaxInt32 {
			return nil, fmt.Errorf("shape %v: want non-negative integers", shape)
		}
		h.shape = append(h.shape, int(n))
	}
	if err := h.parseDescr(); err != nil {
		return nil, err
	}
	return h, nil
}

// parseDescr decodes a dtype string such as '<f4' or '|u1'.
func (h *npyHeader) parseDescr() error {
	d := h.descr
	if len(d) < 2 {
		return fmt.Errorf("dtype %q: want a byte order, a kind and a size such as '<f4'", d)
	}
	order := d[0]
	if order == '<' || order == '>' || order == '|' || order == '=' {
		d = d[1:]
	} else {
		order = '='
	}
	size, err := strconv.Atoi(d[1:])
	if err != nil {
		return fmt.Errorf("dtype %q: want a kind letter and a byte size such as f4", h.descr)
	}
	kinds := map[string]ir.DType{
		"f2": ir.Float16, "f4": ir.Float32, "f8": ir.Float64,
		"i1": ir.Int8, "i2": ir.Int16, "i4": ir.Int32, "i8": ir.Int64,
		"u1": ir.Uint8, "u2": ir.Uint16, "u4": ir.Uint32, "u8": ir.Uint64,
		"b1": ir.Bool,
	}
	dt, ok := kinds[d]
	if !ok {
		return fmt.Errorf("dtype %q is not supported (want float16/32/64, int8/16/32/64, uint8/16/32/64 or bool)", h.descr)
	}
	h.dtype, h.itemSize, h.big = dt, size, order == '>'
	return nil
}

// pyParser reads the subset of Python literals .npy headers use.
type pyParser struct {
	s string
	i int
}

func (p *pyParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *pyParser) value() (any, error) {
	p.space()
	if p.i >= len(p.s) {
		return nil, errors.New("header ends early")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		d := map[string]any{}
		for {
			p.space()
			if p.i < len(p.s) && p.s[p.i] == '}' {
				p.i++
				return d, nil
			}
			k, err := p.value()
			if err != nil {
				return nil, err
			}
			key, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("dict key %v: want a string", k)
			}
			p.space()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, fmt.Errorf("want ':' after key %q", key)
			}
			p.i++
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			d[key] = v
			if err := p.sep('}'); err != nil {
				return nil, err
			}
		}
	case c == '(' || c == '[':
		end := byte(')')
		if c == '[' {
			end = ']'
		}
		p.i++
		var items []any
		for {
			p.space()
			if p.i < len(p.s) && p.s[p.i] == end {
				p.i++
				return items, nil
			}
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			items = append(items, v)
			if err := p.sep(end); err != nil {
				return nil, err
			}
		}
	case c == '\'' || c == '"':
		end := strings.IndexByte(p.s[p.i+1:], c)
		if end < 0 {
			return nil, errors.New("unterminated string")
		}
		v := p.s[p.i+1 : p.i+1+end]
		p.i += end + 2
		return v, nil
	case c >= '0' && c <= '9' || c == '-':
		j := p.i + 1
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		// Python 2 wrote long integers with an L suffix.
		n, err := strconv.ParseInt(p.s[p.i:j], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad integer %q", p.s[p.i:j])
		}
		if j < len(p.s) && p.s[j] == 'L' {
			j++
		}
		p.i = j
		return n, nil
	}
	for _, w := range []struct {
		word string
		v    any
	}{{"True", true}, {"False", false}, {"None", nil}} {
		if strings.HasPrefix(p.s[p.i:], w.word) {
			p.i += len(w.word)
			return w.v, nil
		}
	}
	return nil, fmt.Errorf("unexpected %q", p.s[p.i:min(p.i+10, len(p.s))])
}

// sep consumes a ',' or sees the closing bracket.
func (p *pyParser) sep(end byte) error {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ',' {
		p.i++
		return nil
	}
	if p.i < len(p.s) && p.s[p.i] == end {
		return nil
	}
	return fmt.Errorf("want ',' or %q", end)
}

// decodeElems turns raw sample bytes into a tensor of the given shape.
func decodeElems(b []byte, h *npyHeader, shape []int) *ir.Tensor {
	t := ir.NewTensor(h.dtype, shape...)
	var bo binary.ByteOrder = binary.LittleEndian
	if h.big {
		bo = binary.BigEndian
	}
	switch d := t.Data.(type) {
	case []float32:
		for i := range d {
			d[i] = math.Float32frombits(bo.Uint32(b[4*i:]))
		}
	case []float64:
		for i := range d {
			d[i] = math.Float64frombits(bo.Uint64(b[8*i:]))
		}
	case []uint16: // float16 and uint16 alike keep their bits
		for i := range d {
			d[i] = bo.Uint16(b[2*i:])
		}
	case []int8:
		for i := range d {
			d[i] = int8(b[i])
		}
	case []uint8:
		copy(d, b)
	case []int16:
		for i := range d {
			d[i] = int16(bo.Uint16(b[2*i:]))
		}
	case []int32:
		for i := range d {
			d[i] = int32(bo.Uint32(b[4*i:]))
		}
	case []uint32:
		for i := range d {
			d[i] = bo.Uint32(b[4*i:])
		}
	case []int64:
		for i := range d {
			d[i] = int64(bo.Uint64(b[8*i:]))
		}
	case []uint64:
		for i := range d {
			d[i] = bo.Uint64(b[8*i:])
		}
	case []bool:
		for i := range d {
			d[i] = b[i] != 0
		}
	}
	return t
}

// checkArray checks that an array has a sample dim and that its data
// length agrees with its header.
func checkArray(h *npyHeader, dataLen int64) error {
	if len(h.shape) == 0 {
		return fmt.Errorf("array of dtype %s has shape (), want a first dim that counts samples", h.descr)
	}
	want := int64(h.shape[0]) * h.sampleBytes()
	switch {
	case dataLen < want:
		return fmt.Errorf("truncated: shape %v of %s needs %d data bytes, the file has %d", ir.ShapeOf(h.shape...), h.descr, want, dataLen)
	case dataLen > want:
		return fmt.Errorf("%d bytes of data after the %d that shape %v of %s needs (wrong shape in the header?)", dataLen-want, want, ir.ShapeOf(h.shape...), h.descr)
	}
	return nil
}

// npyFile reads a .npy file sample by sample.
type npyFile struct {
	path string
	h    *npyHeader
}

func openNpy(path string) (*npyFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	h, err := readNpyHeader(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if err := checkArray(h, fi.Size()-h.dataOff); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &npyFile{path: path, h: h}, nil
}

func (n *npyFile) count() int       { return n.h.shape[0] }
func (n *npyFile) arrays() []string { return []string{filepath.Base(n.path)} }

func (n *npyFile) start() (stream, error) {
	f, err := os.Open(n.path)
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(n.h.dataOff, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return &arrayStream{parts: []arrayPart{{name: n.path, h: n.h, r: bufio.NewReaderSize(f, 1<<16), c: f}}}, nil
}

func (n *npyFile) hash(w io.Writer, count int) error {
	f, err := os.Open(n.path)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(w, "npy %s %v\n", n.h.descr, n.h.shape)
	sr := io.NewSectionReader(f, n.h.dataOff, int64(count)*n.h.sampleBytes())
	if _, err := io.Copy(w, sr); err != nil {
		return fmt.Errorf("%s: %v", n.path, err)
	}
	return nil
}

// arrayPart is one array being read sample by sample.
type arrayPart struct {
	name string
	h    *npyHeader
	r    io.Reader
	c    io.Closer
}

// arrayStream reads one sample from each of its arrays at a time.
type arrayStream struct {
	parts []arrayPart
	i     int
	buf   []byte
}

func (s *arrayStream) next() (sample, error) {
	if s.i >= s.parts[0].h.shape[0] {
		return sample{}, io.EOF
	}
	smp := sample{tensors: make([]*ir.Tensor, len(s.parts))}
	for k, p := range s.parts {
		n := int(p.h.sampleBytes())
		if cap(s.buf) < n {
			s.buf = make([]byte, n)
		}
		b := s.buf[:n]
		if _, err := io.ReadFull(p.r, b); err != nil {
			return sample{}, fmt.Errorf("%s: sample %d: %v", p.name, s.i, endsEarly(err))
		}
		smp.tensors[k] = decodeElems(b, p.h, p.h.shape[1:])
	}
	smp.origin = fmt.Sprintf("%s: sample %d", s.parts[0].name, s.i)
	s.i++
	return smp, nil
}

func (s *arrayStream) close() error {
	var err error
	for _, p := range s.parts {
		if e := p.c.Close(); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// npzFile reads the arrays of a .npz zip together, sample by sample.
type npzFile struct {
	path  string
	names []string // arrays used, in input order
	files []*zip.File
	hs    []*npyHeader
}

func openNpz(path string, inputs []Input) (*npzFile, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("%s: not a .npz (zip) file: %v", path, err)
	}
	defer zr.Close()
	byName := map[string]*zip.File{}
	var names []string
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		if !strings.HasSuffix(f.Name, ".npy") {
			return nil, fmt.Errorf("%s: member %s is not an .npy array", path, f.Name)
		}
		name := strings.TrimSuffix(f.Name, ".npy")
		byName[name] = f
		names = append(names, name)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: the archive holds no .npy arrays", path)
	}
	sortNatural(names)
	// Match arrays to graph inputs by name if every input has one, else in
	// order when the counts agree.
	if len(inputs) > 0 {
		var matched []string
		for _, in := range inputs {
			if byName[in.Name] != nil {
				matched = append(matched, in.Name)
			}
		}
		switch {
		case len(matched) == len(inputs):
			names = matched
		case len(names) != len(inputs):
			return nil, fmt.Errorf("%s: holds arrays %s, want one per graph input (%s): by name, or %d in order",
				path, strings.Join(names, ", "), inputNames(inputs), len(inputs))
		}
	}
	n := &npzFile{path: path, names: names}
	for _, name := range names {
		f := byName[name]
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: array %s: %v", path, name, err)
		}
		h, err := readNpyHeader(rc)
		rc.Close()
		if err == nil {
			err = checkArray(h, int64(f.UncompressedSize64)-h.dataOff)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: array %s: %v", path, name, err)
		}
		if len(n.hs) > 0 && h.shape[0] != n.hs[0].shape[0] {
			return nil, fmt.Errorf("%s: array %s has %d samples, array %s has %d; want the same count",
				path, name, h.shape[0], n.names[0], n.hs[0].shape[0])
		}
		n.files, n.hs = append(n.files, f), append(n.hs, h)
	}
	return n, nil
}

// sortNatural sorts names with embedded numbers by value: arr_2 before arr_10.
func sortNatural(names []string) {
	key := func(s string) (string, int) {
		j := len(s)
		for j > 0 && s[j-1] >= '0' && s[j-1] <= '9' {
			j--
		}
		n, err := strconv.Atoi(s[j:])
		if err != nil || j == len(s) {
			return s, -1
		}
		return s[:j], n
	}
	sort.SliceStable(names, func(a, b int) bool {
		pa, na := key(names[a])
		pb, nb := key(names[b])
		if pa != pb || na < 0 || nb < 0 {
			return names[a] < names[b]
		}
		return na < nb
	})
}

func (n *npzFile) count() int       { return n.hs[0].shape[0] }
func (n *npzFile) arrays() []string { return n.names }

func (n *npzFile) start() (stream, error) {
	zr, err := zip.OpenReader(n.path)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", n.path, err)
	}
	s := &arrayStream{}
	for k, name := range n.names {
		f := findZip(zr, n.files[k].Name)
		var rc io.ReadCloser
		if f != nil {
			rc, err = f.Open()
		} else {
			err = errors.New("the archive changed since it was opened")
		}
		if err == nil {
			_, err = readNpyHeader(rc)
		}
		if err != nil {
			s.close()
			zr.Close()
			return nil, fmt.Errorf("%s: array %s: %v", n.path, name, err)
		}
		s.parts = append(s.parts, arrayPart{name: n.path + ":" + name, h: n.hs[k], r: bufio.NewReaderSize(rc, 1<<16), c: rc})
	}
	// The zip file closes with the last array.
	s.parts[len(s.parts)-1].c = multiCloser{s.parts[len(s.parts)-1].c, zr}
	return s, nil
}

func findZip(zr *zip.ReadCloser, name string) *zip.File {
	for _, f := range zr.File {
		if f.Name == name {
			return f
		}
	}
	return nil
}

type multiCloser []io.Closer

func (m multiCloser) Close() error {
	var err error
	for _, c := range m {
		if e := c.Close(); e != nil && err == nil {
			err = e
		}
	}
	return err
}

func (n *npzFile) hash(w io.Writer, count int) error {
	st, err := n.start()
	if err != nil {
		return err
	}
	defer st.close()
	for k, p := range st.(*arrayStream).parts {
		fmt.Fprintf(w, "npz %s %s %v\n", n.names[k], n.hs[k].descr, n.hs[k].shape)
		if _, err := io.CopyN(w, p.r, int64(count)*n.hs[k].sampleBytes()); err != nil {
			return fmt.Errorf("%s: %v", p.name, endsEarly(err))
		}
	}
	return nil
}

// endsEarly says what io.EOF means in the middle of a file.
func endsEarly(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("the file ends early")
	}
	return err
}

// WriteNpy writes t as a version 1.0 .npy array (f32 or i8, C order).
func WriteNpy(w io.Writer, t *ir.Tensor) error {
	descr := map[ir.DType]string{ir.Float32: "<f4", ir.Int8: "|i1"}[t.DType]
	if descr == "" {
		return fmt.Errorf("writing .npy: %v tensors are not supported, want f32 or i8", t.DType)
	}
	dims := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = fmt.Sprint(d)
	}
	shape := strings.Join(dims, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, shape)
	h += strings.Repeat(" ", (64-(10+len(h)+1)%64)%64) + "\n"
	bw := bufio.NewWriter(w)
	bw.WriteString("\x93NUMPY\x01\x00")
	binary.Write(bw, binary.LittleEndian, uint16(len(h)))
	bw.WriteString(h)
	switch t.DType {
	case ir.Float32:
		binary.Write(bw, binary.LittleEndian, t.Float32s())
	case ir.Int8:
		binary.Write(bw, binary.LittleEndian, t.Int8s())
	}
	return bw.Flush()
}

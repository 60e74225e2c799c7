package calibrate

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/sqc-project/sqc/internal/atomicfile"
	"github.com/sqc-project/sqc/ir"
)

// cacheMagic is the first line of a calibration cache file; cacheMagicV1
// that of the version before, which ReadCache still reads.
const (
	cacheMagic   = "# sqc calibration cache v2"
	cacheMagicV1 = "# sqc calibration cache v1"
)

// Cache is the content of a calibration cache file:
//
//	# sqc calibration cache v2
//	graph <GraphHash of the calibrated graph>
//	data <dataset hash>
//	method auto 99.99
//	inputs max
//	conv1/out<TAB>0.0123<TAB>1.5621<TAB>mse<TAB>3.2e-05
//	input.1<TAB>0.0222<TAB>2.8215<TAB>max<TAB>-
//
// a header, then one line per value: its name, its scale and its amax
// (shortest decimal forms that read back to the same float32), the
// calibrator that chose it, and the output error method auto measured for
// it ("-" when it was not measured). The percentile and auto methods'
// header line holds the percentile too: "method percentile 99.99". The
// inputs line names the method of the graph inputs (Config.InputMethod). A
// name that is empty, starts with '"' or '#', has spaces at either end, or
// holds a tab, a newline or another non-printing character is written as a
// Go quoted string. Blank lines and lines starting with '#' after the first
// are comments. Version 1 files, whose value lines stop after the amax,
// still read.
type Cache struct {
	Graph, Data, Method string
	// InputMethod is the method of the graph inputs' ranges.
	InputMethod string
	// Percentile is the percentile and auto methods' parameter, 0 for
	// other methods.
	Percentile float64
	// AutoError is where method auto measured errors (Config.AutoError);
	// the header line holds it after the percentile: "method auto 99.99
	// layer".
	AutoError string
	// Ranges has Scale and Amax set, Method from version 2 files, and
	// Searched and Error where auto measured the value; Min and Max are not
	// stored.
	Ranges map[string]Range
}

// hasPercentile reports whether a method's header line carries the
// percentile.
func hasPercentile(method string) bool { return method == MethodPercentile || method == MethodAuto }

// needsQuote reports whether a name must be quoted in the cache file.
func needsQuote(name string) bool {
	if name == "" || name[0] == '"' || name[0] == '#' || strings.TrimSpace(name) != name {
		return true
	}
	for _, r := range name {
		if r == '\t' || !unicode.IsPrint(r) {
			return true
		}
	}
	return false
}

func fmtFloat(f float32) string { return strconv.FormatFloat(float64(f), 'g', -1, 32) }

// WriteCache writes a result to path atomically (a reader never sees half
// a file, and a failed write leaves the old file).
func WriteCache(path string, r *Result) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		method := r.Method
		if hasPercentile(r.Method) {
			method += " " + strconv.FormatFloat(r.Percentile, 'g', -1, 64)
		}
		if r.Method == MethodAuto {
			method += " " + r.AutoError
		}
		fmt.Fprintf(bw, "%s\ngraph %s\ndata %s\nmethod %s\ninputs %s\n", cacheMagic, r.GraphHash, r.DataHash, method, r.InputMethod)
		for _, name := range r.Names() {
			rg := r.Ranges[name]
			if needsQuote(name) {
				name = strconv.Quote(name)
			}
			m := rg.Method
			if m == "" {
				m = r.Method
			}
			e := "-"
			if rg.Searched {
				e = strconv.FormatFloat(rg.Error, 'g', 4, 64)
			}
			fmt.Fprintf(bw, "%s\t%s\t%s\t%s\t%s\n", name, fmtFloat(rg.Scale), fmtFloat(rg.Amax), m, e)
		}
		return bw.Flush()
	})
}

// ReadCache reads a cache file. Errors name the file and line.
func ReadCache(path string) (*Cache, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c := &Cache{Ranges: map[string]Range{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	line := 0
	errorf := func(format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", path, line, fmt.Sprintf(format, args...))
	}
	header := []string{"graph", "data", "method", "inputs"}
	version := 2
	for sc.Scan() {
		line++
		text := strings.TrimSuffix(sc.Text(), "\r")
		if line == 1 {
			if text == cacheMagicV1 {
				version = 1
				continue
			}
			if text != cacheMagic {
				if strings.HasPrefix(text, "# sqc calibration cache") {
					return nil, errorf("%q: this sqc reads version v1 and v2 caches only (calibrate again to replace it)", text)
				}
				return nil, errorf("not an sqc calibration cache: want first line %q", cacheMagic)
			}
			continue
		}
		if strings.TrimSpace(text) == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if len(header) > 0 {
			key, val, _ := strings.Cut(text, " ")
			if key != header[0] || strings.TrimSpace(val) == "" {
				return nil, errorf("want %q followed by a value, found %q", header[0], text)
			}
			val = strings.TrimSpace(val)
			switch key {
			case "graph":
				c.Graph = val
			case "data":
				c.Data = val
			case "method":
				m, p, _ := strings.Cut(val, " ")
				c.Method = m
				if m == MethodAuto {
					p, c.AutoError, _ = strings.Cut(strings.TrimSpace(p), " ")
					if c.AutoError != AutoErrorLayer && c.AutoError != AutoErrorOutput {
						return nil, errorf("method auto: want its percentile and %s or %s after it (method auto 99.99 layer), found %q", AutoErrorLayer, AutoErrorOutput, text)
					}
				}
				if hasPercentile(m) {
					pct, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
					if err != nil || !(pct > 0 && pct <= 100) {
						return nil, errorf("method %s: want its percentile after it (method %s 99.99), found %q", m, m, text)
					}
					c.Percentile = pct
				}
			case "inputs":
				c.InputMethod = val
			}
			header = header[1:]
			continue
		}
		name, rest := text, ""
		if strings.HasPrefix(text, `"`) {
			q, err := strconv.QuotedPrefix(text)
			if err != nil {
				return nil, errorf("bad quoted name: %v", err)
			}
			name, _ = strconv.Unquote(q)
			rest = text[len(q):]
			if !strings.HasPrefix(rest, "\t") {
				return nil, errorf("want a tab after the quoted name %s", q)
			}
			rest = rest[1:]
		} else {
			var ok bool
			name, rest, ok = strings.Cut(text, "\t")
			if !ok {
				return nil, errorf("want name<TAB>scale<TAB>amax, found %q", text)
			}
		}
		fields := strings.Split(rest, "\t")
		rg := Range{}
		switch {
		case version == 1 && len(fields) != 2:
			return nil, errorf("value %q: want a scale and an amax after the name, found %d fields", name, len(fields))
		case version == 2 && len(fields) != 4:
			return nil, errorf("value %q: want a scale, an amax, a method and an error (or -) after the name, found %d fields", name, len(fields))
		case version == 2:
			rg.Method = fields[2]
			if _, err := Threshold(NewHistogram(), rg.Method, 100); err != nil || rg.Method == MethodAuto {
				return nil, errorf("value %q: method %q, want max, percentile, entropy or mse", name, rg.Method)
			}
			if fields[3] != "-" {
				e, err := strconv.ParseFloat(fields[3], 64)
				if err != nil || !(e >= 0) || math.IsInf(e, 0) {
					return nil, errorf("value %q: error %q, want a finite number >= 0 or -", name, fields[3])
				}
				rg.Searched, rg.Error = true, e
			}
		}
		scale, err1 := strconv.ParseFloat(fields[0], 32)
		amax, err2 := strconv.ParseFloat(fields[1], 32)
		switch {
		case err1 != nil || err2 != nil:
			return nil, errorf("value %q: scale %q and amax %q must be numbers", name, fields[0], fields[1])
		case !(scale > 0) || math.IsInf(scale, 0):
			return nil, errorf("value %q: scale %s, want a finite number > 0", name, fields[0])
		case !(amax >= 0) || math.IsInf(amax, 0):
			return nil, errorf("value %q: amax %s, want a finite number >= 0", name, fields[1])
		case math.Abs(float64(ScaleFor(float32(amax)))-scale) > 1e-6*scale:
			return nil, errorf("value %q: scale %s does not match amax %s (want amax/127, or 1 for amax 0)", name, fields[0], fields[1])
		}
		if _, dup := c.Ranges[name]; dup {
			return nil, errorf("value %q listed twice", name)
		}
		rg.Scale, rg.Amax = float32(scale), float32(amax)
		c.Ranges[name] = rg
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if line == 0 {
		return nil, fmt.Errorf("%s: empty file, want an sqc calibration cache", path)
	}
	if len(header) > 0 {
		return nil, fmt.Errorf("%s:%d: file ends before the %q line of the header", path, line, header[0])
	}
	return c, nil
}

// short abbreviates a hash for messages.
func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}

// Mismatch says how the cache differs from what is being compiled, or ""
// when it matches; dataHash "" skips the data check (no data was given).
func (c *Cache) Mismatch(path, graphHash, dataHash, method, inputMethod string, percentile float64) string {
	var diffs []string
	if c.Graph != graphHash {
		diffs = append(diffs, fmt.Sprintf("it was made for graph %s, this graph is %s", short(c.Graph), short(graphHash)))
	}
	if c.Method != method {
		diffs = append(diffs, fmt.Sprintf("it holds %s ranges, %s was asked for", c.Method, method))
	} else if hasPercentile(method) && c.Percentile != percentile {
		diffs = append(diffs, fmt.Sprintf("it holds %v percentile ranges, %v was asked for", c.Percentile, percentile))
	}
	if c.InputMethod != inputMethod {
		diffs = append(diffs, fmt.Sprintf("its graph inputs have %s ranges, %s was asked for", c.InputMethod, inputMethod))
	}
	if dataHash != "" && c.Data != dataHash {
		diffs = append(diffs, fmt.Sprintf("it was made from data %s, the data given is %s", short(c.Data), short(dataHash)))
	}
	if len(diffs) == 0 {
		return ""
	}
	return fmt.Sprintf("calibration cache %s does not match: %s", path, strings.Join(diffs, "; "))
}

// GraphHash is a SHA-256 (hex) of everything that decides a graph's
// activations: inputs and their types, nodes in order with their ops,
// attributes, operands and results, constants with their data and
// quantization and sparsity parameters, and the outputs. Names are part of
// it (cache entries are keyed by them); node notes and the graph's name are
// not, since they do not change what the graph computes.
func GraphHash(g *ir.Graph) string {
	h := sha256.New()
	w := &hashWriter{h: h}
	w.str("sqc graph v1")
	seen := map[*ir.Value]bool{}
	value := func(v *ir.Value) {
		if v == nil {
			w.str("-")
			return
		}
		w.str(v.Name)
		if seen[v] {
			return
		}
		seen[v] = true
		w.str(v.Type.String())
		if v.Quant != nil {
			w.str(fmt.Sprintf("quant %v %v %d", v.Quant.Scale, v.Quant.ZeroPoint, v.Quant.Axis))
		}
		if v.Sparsity != nil {
			w.str("sparsity " + v.Sparsity.String())
		}
		if v.Const != nil {
			w.str("const " + v.Const.DType.String() + fmt.Sprint(v.Const.Shape))
			w.tensor(v.Const)
		}
	}
	w.str(fmt.Sprintf("inputs %d", len(g.Inputs)))
	for _, v := range g.Inputs {
		value(v)
	}
	for _, n := range g.Nodes {
		w.str("node " + n.Name + " " + n.Op)
		keys := make([]string, 0, len(n.Attrs))
		for k := range n.Attrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			a := n.Attrs[k]
			w.str(fmt.Sprintf("attr %s %v %d %x %q %v %v %q", k, a.Kind, a.Int, math.Float32bits(a.Float), a.String, a.Ints, floatBits(a.Floats), a.Strings))
		}
		w.str(fmt.Sprintf("in %d", len(n.Inputs)))
		for _, v := range n.Inputs {
			value(v)
		}
		w.str(fmt.Sprintf("out %d", len(n.Outputs)))
		for _, v := range n.Outputs {
			value(v)
		}
	}
	w.str(fmt.Sprintf("outputs %d", len(g.Outputs)))
	for _, v := range g.Outputs {
		value(v)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func floatBits(f []float32) []uint32 {
	out := make([]uint32, len(f))
	for i, x := range f {
		out[i] = math.Float32bits(x)
	}
	return out
}

// hashWriter feeds length-prefixed strings and raw tensor bytes to a hash,
// so that no two different sequences of fields give the same bytes.
type hashWriter struct {
	h   hash.Hash
	buf []byte
}

func (w *hashWriter) str(s string) {
	w.buf = binary.LittleEndian.AppendUint64(w.buf[:0], uint64(len(s)))
	w.h.Write(w.buf)
	io.WriteString(w.h, s)
}

// tensor writes a tensor's elements little-endian, a chunk at a time.
func (w *hashWriter) tensor(t *ir.Tensor) {
	const chunk = 1 << 14
	b := w.buf[:0]
	flush := func(force bool) {
		if len(b) >= chunk*8 || force {
			w.h.Write(b)
			b = b[:0]
		}
	}
	le := binary.LittleEndian
	switch d := t.Data.(type) {
	case []float32:
		for _, x := range d {
			b = le.AppendUint32(b, math.Float32bits(x))
			flush(false)
		}
	case []float64:
		for _, x := range d {
			b = le.AppendUint64(b, math.Float64bits(x))
			flush(false)
		}
	case []uint16:
		for _, x := range d {
			b = le.AppendUint16(b, x)
			flush(false)
		}
	case []int8:
		for _, x := range d {
			b = append(b, byte(x))
			flush(false)
		}
	case []uint8:
		w.h.Write(d)
	case []int16:
		for _, x := range d {
			b = le.AppendUint16(b, uint16(x))
			flush(false)
		}
	case []int32:
		for _, x := range d {
			b = le.AppendUint32(b, uint32(x))
			flush(false)
		}
	case []uint32:
		for _, x := range d {
			b = le.AppendUint32(b, x)
			flush(false)
		}
	case []int64:
		for _, x := range d {
			b = le.AppendUint64(b, uint64(x))
			flush(false)
		}
	case []uint64:
		for _, x := range d {
			b = le.AppendUint64(b, x)
			flush(false)
		}
	case []bool:
		for _, x := range d {
			if x {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
			flush(false)
		}
	default:
		w.str(fmt.Sprintf("data %T", d))
	}
	flush(true)
	w.buf = b
}

// errNoCache is returned by readCacheIfExists for a missing file.
var errNoCache = errors.New("no cache file")

// readCacheIfExists reads the cache, or returns errNoCache when the file
// does not exist.
func readCacheIfExists(path string) (*Cache, error) {
	c, err := ReadCache(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoCache
	}
	return c, err
}

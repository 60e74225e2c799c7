// Package tuning reads and writes the tuning cache: the GEMM kernel variant
// `sqc tune` measured fastest for each layer shape on one GPU at one
// batch, which `sqc compile --tuning-cache` hands to the planner.
//
// The cache is text, one layer a line, so that it documents itself and
// diffs well:
//
//	sqc-tuning-cache 1
//	# comments and blank lines are ignored
//	gpu="NVIDIA H100 80GB HBM3" batch=256 gemm=3136x64x576 conv=c64,56x56,k3x3,s1x1,p1x1,d1x1 out=i8+res weight=2:4 use=sparse/s4w-v16-inc us=sparse/s4w-v16-inc=41.20,dense/s4w-v16-inc=45.02
//
// The first line names the format and its version. The fields before use=
// are the key: the GPU's name, the batch, the GEMM's M (output pixels a
// sample), N and K, the convolution's geometry (input channels, input
// height×width, kernel, strides, leading pads, dilations; "-" for a
// fully-connected layer), the epilogue (int8 or f32 output, a fused
// activation of an f32 output, a residual) and whether the weight is 2:4
// (then the sparse and the dense kernel can both run it). use= is the
// choice, the kernel (sparse or dense) and the variant; us= lists every
// candidate measured with its median time in microseconds. The choice must
// be one of the candidates. What the variant names mean is the planner's
// business (backend/ampere): this package only checks their spelling.
package tuning

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Header is the first line of a cache file: the format and its version.
const Header = "sqc-tuning-cache 1"

// Layer is the shape part of a key: what a GEMM kernel's speed depends on
// besides the GPU and the batch.
type Layer struct {
	// M, N, K are the GEMM's sizes for one sample: M output pixels (1 for
	// a fully-connected layer), N output channels, K = kh·kw·C.
	M, N, K int
	// Conv is the convolution's geometry as ConvGeometry writes it, or
	// "" for a fully-connected layer.
	Conv string
	// Out is the epilogue: "i8" or "f32", then "+relu" or "+clip" (an f32
	// output's activation) and "+res" (a fused residual).
	Out string
	// Sparse24 says the weight is 2:4, so that both kernels can run it.
	Sparse24 bool
}

// Key identifies a cache entry.
type Key struct {
	GPU   string
	Batch int
	Layer Layer
}

// Choice is a kernel: sparse (mma.sp) or dense (mma.sync), and a variant
// of it (tiles and pipeline), named by the planner.
type Choice struct {
	Sparse  bool
	Variant string
}

// String writes c as the cache does: sparse/VARIANT or dense/VARIANT.
func (c Choice) String() string {
	if c.Sparse {
		return "sparse/" + c.Variant
	}
	return "dense/" + c.Variant
}

// Timing is one candidate's measured median time.
type Timing struct {
	Choice Choice
	Us     float64
}

// Entry is one line of the cache.
type Entry struct {
	Key
	Use   Choice
	Times []Timing
	// Line is where a parsed entry was (1-based), for messages.
	Line int
}

// Cache is a set of entries, at most one a key.
type Cache struct {
	// File names the cache in messages.
	File    string
	entries map[Key]*Entry
}

// New returns an empty cache that messages call file.
func New(file string) *Cache { return &Cache{File: file, entries: map[Key]*Entry{}} }

// Put adds e, replacing an entry of the same key. It checks e as Parse
// checks a line.
func (c *Cache) Put(e Entry) error {
	if err := e.check(); err != nil {
		return err
	}
	c.entries[e.Key] = &e
	return nil
}

// Lookup returns the entry of k.
func (c *Cache) Lookup(k Key) (*Entry, bool) {
	e, ok := c.entries[k]
	return e, ok
}

// Entries returns the entries in the order Write writes them.
func (c *Cache) Entries() []*Entry {
	out := make([]*Entry, 0, len(c.entries))
	for _, e := range c.entries {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *Entry) int { return compareKeys(a.Key, b.Key) })
	return out
}

// GPUs returns the GPU names the entries are for, sorted.
func (c *Cache) GPUs() []string {
	var out []string
	for k := range c.entries {
		if !slices.Contains(out, k.GPU) {
			out = append(out, k.GPU)
		}
	}
	slices.Sort(out)
	return out
}

// Batches returns the batches the entries for gpu are for, ascending.
func (c *Cache) Batches(gpu string) []int {
	var out []int
	for k := range c.entries {
		if k.GPU == gpu && !slices.Contains(out, k.Batch) {
			out = append(out, k.Batch)
		}
	}
	slices.Sort(out)
	return out
}

func compareKeys(a, b Key) int {
	if c := strings.Compare(a.GPU, b.GPU); c != 0 {
		return c
	}
	if a.Batch != b.Batch {
		return a.Batch - b.Batch
	}
	x, y := a.Layer, b.Layer
	for _, d := range [][2]int{{x.M, y.M}, {x.N, y.N}, {x.K, y.K}} {
		if d[0] != d[1] {
			return d[0] - d[1]
		}
	}
	if c := strings.Compare(x.Conv, y.Conv); c != 0 {
		return c
	}
	if c := strings.Compare(x.Out, y.Out); c != 0 {
		return c
	}
	if x.Sparse24 != y.Sparse24 {
		if x.Sparse24 {
			return 1
		}
		return -1
	}
	return 0
}

// Write writes the cache: the header, a comment saying what the fields
// are, then one line an entry, sorted by key, so that the same entries
// give the same bytes.
func (c *Cache) Write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, Header)
	fmt.Fprintln(bw, "# sqc tune: one GEMM layer shape a line. Key: gpu, batch, gemm=MxNxK (M output pixels a sample),")
	fmt.Fprintln(bw, "# conv geometry (c=input channels, input HxW, kernel, strides, pads, dilations; - for a fully-connected")
	fmt.Fprintln(bw, "# layer), out (epilogue), weight (2:4 or dense). use= is the kernel chosen, us= every candidate's median µs.")
	for _, e := range c.Entries() {
		fmt.Fprintln(bw, e.format())
	}
	return bw.Flush()
}

func (e *Entry) format() string {
	l := e.Layer
	conv, weight := l.Conv, "dense"
	if conv == "" {
		conv = "-"
	}
	if l.Sparse24 {
		weight = "2:4"
	}
	times := make([]string, len(e.Times))
	for i, t := range e.Times {
		times[i] = t.Choice.String() + "=" + strconv.FormatFloat(t.Us, 'f', 2, 64)
	}
	return fmt.Sprintf("gpu=%s batch=%d gemm=%dx%dx%d conv=%s out=%s weight=%s use=%s us=%s",
		strconv.Quote(e.GPU), e.Batch, l.M, l.N, l.K, conv, l.Out, weight, e.Use, strings.Join(times, ","))
}

// fieldOrder is the order of an entry's fields.
var fieldOrder = []string{"gpu", "batch", "gemm", "conv", "out", "weight", "use", "us"}

// Parse reads a cache; file names it in errors, which give the line and
// what was expected there.
func Parse(file string, r io.Reader) (*Cache, error) {
	c := New(file)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if line == 1 {
			if text != Header {
				return nil, fmt.Errorf("%s:1: not a tuning cache of this version: want the first line %q, got %q", file, Header, clip(text))
			}
			continue
		}
		if text == "" || text[0] == '#' {
			continue
		}
		e, err := parseEntry(text)
		if err == nil {
			err = e.check()
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, line, err)
		}
		e.Line = line
		if old, ok := c.entries[e.Key]; ok {
			return nil, fmt.Errorf("%s:%d: a second entry for the key of line %d, want one a key", file, line, old.Line)
		}
		c.entries[e.Key] = e
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if line == 0 {
		return nil, fmt.Errorf("%s: empty, want the first line %q", file, Header)
	}
	return c, nil
}

func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "..."
	}
	return s
}

// fields splits a line into key=value fields; a value that starts with a
// double quote is a Go string literal and may hold spaces.
func fields(text string) ([][2]string, error) {
	var out [][2]string
	for text != "" {
		eq := strings.IndexByte(text, '=')
		sp := strings.IndexByte(text, ' ')
		if eq <= 0 || (sp >= 0 && sp < eq) {
			return nil, fmt.Errorf("want key=value fields, got %q", clip(text))
		}
		key, rest := text[:eq], text[eq+1:]
		var val string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return nil, fmt.Errorf("field %s: want a quoted string, got %s", key, clip(rest))
			}
			val, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else {
			end := strings.IndexByte(rest, ' ')
			if end < 0 {
				end = len(rest)
			}
			val, rest = rest[:end], rest[end:]
		}
		if rest != "" && rest[0] != ' ' {
			return nil, fmt.Errorf("field %s: want a space after its value, got %q", key, clip(rest))
		}
		out = append(out, [2]string{key, val})
		text = strings.TrimLeft(rest, " ")
	}
	return out, nil
}

func parseEntry(text string) (*Entry, error) {
	fs, err := fields(text)
	if err != nil {
		return nil, err
	}
	if len(fs) != len(fieldOrder) {
		return nil, fmt.Errorf("%d fields, want %d: %s", len(fs), len(fieldOrder), strings.Join(fieldOrder, "= ")+"=")
	}
	e := &Entry{}
	for i, f := range fs {
		key, val := f[0], f[1]
		if key != fieldOrder[i] {
			return nil, fmt.Errorf("field %d is %s=, want %s=", i+1, key, fieldOrder[i])
		}
		switch key {
		case "gpu":
			e.GPU = val
		case "batch":
			if e.Batch, err = strconv.Atoi(val); err != nil {
				return nil, fmt.Errorf("batch=%s: want a positive integer", val)
			}
		case "gemm":
			var m, n, k int
			if c, err := fmt.Sscanf(val, "%dx%dx%d", &m, &n, &k); err != nil || c != 3 || fmt.Sprintf("%dx%dx%d", m, n, k) != val {
				return nil, fmt.Errorf("gemm=%s: want MxNxK, three positive integers", val)
			}
			e.Layer.M, e.Layer.N, e.Layer.K = m, n, k
		case "conv":
			if val != "-" {
				e.Layer.Conv = val
			}
		case "out":
			e.Layer.Out = val
		case "weight":
			switch val {
			case "2:4":
				e.Layer.Sparse24 = true
			case "dense":
			default:
				return nil, fmt.Errorf("weight=%s: want 2:4 or dense", val)
			}
		case "use":
			if e.Use, err = parseChoice(val); err != nil {
				return nil, fmt.Errorf("use=%s: %w", val, err)
			}
		case "us":
			for _, t := range strings.Split(val, ",") {
				i := strings.LastIndexByte(t, '=')
				if i < 0 {
					return nil, fmt.Errorf("us: %q: want KERNEL/VARIANT=MICROSECONDS", t)
				}
				ch, err := parseChoice(t[:i])
				if err != nil {
					return nil, fmt.Errorf("us: %q: %w", t, err)
				}
				us, err := strconv.ParseFloat(t[i+1:], 64)
				if err != nil {
					return nil, fmt.Errorf("us: %q: want a time in microseconds after =", t)
				}
				e.Times = append(e.Times, Timing{Choice: ch, Us: us})
			}
		}
	}
	return e, nil
}

func parseChoice(s string) (Choice, error) {
	kind, variant, ok := strings.Cut(s, "/")
	if !ok || (kind != "sparse" && kind != "dense") {
		return Choice{}, fmt.Errorf("want sparse/VARIANT or dense/VARIANT")
	}
	return Choice{Sparse: kind == "sparse", Variant: variant}, nil
}

// validVariant reports whether v is spelt as a variant name: lower-case
// letters, digits and dashes.
func validVariant(v string) bool {
	if v == "" {
		return false
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// outParts are the words of an epilogue, in the order Out writes them.
var outParts = [][]string{{"i8", "f32"}, {"relu", "clip"}, {"res"}}

// checkOut checks an epilogue: i8 or f32, then +relu or +clip (f32 only),
// then +res.
func checkOut(out string) error {
	parts := strings.Split(out, "+")
	if !slices.Contains(outParts[0], parts[0]) {
		return fmt.Errorf("out=%s: want i8 or f32, then +relu or +clip (f32 only), then +res", out)
	}
	next := 1
	for _, p := range parts[1:] {
		for next < len(outParts) && !slices.Contains(outParts[next], p) {
			next++
		}
		if next == len(outParts) || (next == 1 && parts[0] != "f32") {
			return fmt.Errorf("out=%s: want i8 or f32, then +relu or +clip (f32 only), then +res", out)
		}
		next++
	}
	return nil
}

// CheckConv checks a convolution geometry as ConvGeometry writes it.
func CheckConv(conv string) error {
	var c, h, w, kh, kw, sh, sw, ph, pw, dh, dw int
	n, err := fmt.Sscanf(conv, "c%d,%dx%d,k%dx%d,s%dx%d,p%dx%d,d%dx%d", &c, &h, &w, &kh, &kw, &sh, &sw, &ph, &pw, &dh, &dw)
	if err != nil || n != 11 || ConvGeometry(c, h, w, kh, kw, sh, sw, ph, pw, dh, dw) != conv {
		return fmt.Errorf("conv=%s: want cC,HxW,kKHxKW,sSHxSW,pPHxPW,dDHxDW (input channels, input size, kernel, strides, leading pads, dilations) or -", conv)
	}
	return nil
}

// ConvGeometry writes a convolution's geometry as a key holds it: input
// channels, input height×width, kernel, strides, leading pads, dilations.
func ConvGeometry(c, h, w, kh, kw, sh, sw, ph, pw, dh, dw int) string {
	return fmt.Sprintf("c%d,%dx%d,k%dx%d,s%dx%d,p%dx%d,d%dx%d", c, h, w, kh, kw, sh, sw, ph, pw, dh, dw)
}

// check validates an entry's values.
func (e *Entry) check() error {
	l := e.Layer
	switch {
	case e.GPU == "":
		return fmt.Errorf("gpu=\"\": want the GPU's name")
	case e.Batch <= 0:
		return fmt.Errorf("batch=%d: want a positive integer", e.Batch)
	case l.M <= 0 || l.N <= 0 || l.K <= 0:
		return fmt.Errorf("gemm=%dx%dx%d: want MxNxK, three positive integers", l.M, l.N, l.K)
	}
	if l.Conv != "" {
		if err := CheckConv(l.Conv); err != nil {
			return err
		}
	}
	if err := checkOut(l.Out); err != nil {
		return err
	}
	if len(e.Times) == 0 {
		return fmt.Errorf("us= lists no candidate, want every candidate measured")
	}
	seen := map[Choice]bool{}
	for _, t := range e.Times {
		if !validVariant(t.Choice.Variant) {
			return fmt.Errorf("us: variant %q: want lower-case letters, digits and dashes", t.Choice.Variant)
		}
		if t.Choice.Sparse && !l.Sparse24 {
			return fmt.Errorf("us: %s: the sparse kernel needs weight=2:4", t.Choice)
		}
		if !(t.Us > 0) {
			return fmt.Errorf("us: %s=%v: want a positive time", t.Choice, t.Us)
		}
		if seen[t.Choice] {
			return fmt.Errorf("us: %s twice, want each candidate once", t.Choice)
		}
		seen[t.Choice] = true
	}
	if !seen[e.Use] {
		return fmt.Errorf("use=%s is not among the candidates measured (us=), want one of them", e.Use)
	}
	return nil
}

// Target resolves the GPU and batch whose entries a build uses: gpu and
// batch as given (the user's flags), or, where one is empty or 0, the only
// GPU the cache has entries for and the only batch it has for that GPU.
// A cache with several leaves the choice to the user: that is an error
// naming them. A GPU or batch the cache lacks is no error (every layer
// then runs by the heuristic; the planner warns about layers measured on
// another GPU).
func (c *Cache) Target(gpu string, batch int) (string, int, error) {
	if gpu == "" {
		switch gs := c.GPUs(); len(gs) {
		case 0:
			return "", batch, nil
		case 1:
			gpu = gs[0]
		default:
			return "", 0, fmt.Errorf("%s has entries for %d GPUs (%s): say which the engine is for (--tuning-gpu)", c.File, len(gs), quoteAll(gs))
		}
	}
	if batch == 0 {
		switch bs := c.Batches(gpu); len(bs) {
		case 0:
		case 1:
			batch = bs[0]
		default:
			return "", 0, fmt.Errorf("%s has entries for %q at %d batches (%s): say which the engine is tuned for (--tuning-batch)", c.File, gpu, len(bs), strings.Trim(fmt.Sprint(bs), "[]"))
		}
	}
	return gpu, batch, nil
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = strconv.Quote(x)
	}
	return strings.Join(q, ", ")
}

package tuning

import (
	"bytes"
	"strings"
	"testing"
)

const h100 = "NVIDIA H100 80GB HBM3"

func sampleEntry() Entry {
	return Entry{
		Key: Key{GPU: h100, Batch: 256, Layer: Layer{M: 3136, N: 64, K: 576, Conv: ConvGeometry(64, 56, 56, 3, 3, 1, 1, 1, 1, 1, 1), Out: "i8+res", Sparse24: true}},
		Use: Choice{Sparse: false, Variant: "s4w-v16-inc"},
		Times: []Timing{
			{Choice{true, "s4w-v16-inc"}, 48.5},
			{Choice{false, "s4w-v16-inc"}, 45.25},
		},
	}
}

func TestWriteParseRoundTrip(t *testing.T) {
	c := New("a.cache")
	e1 := sampleEntry()
	e2 := Entry{Key: Key{GPU: "NVIDIA H200", Batch: 1, Layer: Layer{M: 1, N: 1000, K: 512, Out: "f32"}},
		Use: Choice{false, "s4w"}, Times: []Timing{{Choice{false, "s4w"}, 7.5}, {Choice{false, "s3"}, 9}}}
	e3 := e1
	e3.Batch = 1
	for _, e := range []Entry{e1, e2, e3} {
		if err := c.Put(e); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := c.Write(&b); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	if !strings.HasPrefix(text, Header+"\n") {
		t.Fatalf("first line: %q", text)
	}
	want := `gpu="NVIDIA H100 80GB HBM3" batch=256 gemm=3136x64x576 conv=c64,56x56,k3x3,s1x1,p1x1,d1x1 out=i8+res weight=2:4 use=dense/s4w-v16-inc us=sparse/s4w-v16-inc=48.50,dense/s4w-v16-inc=45.25`
	if !strings.Contains(text, want+"\n") {
		t.Errorf("the written cache lacks\n%s\n%s", want, text)
	}
	c2, err := Parse("a.cache", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	var b2 bytes.Buffer
	if err := c2.Write(&b2); err != nil {
		t.Fatal(err)
	}
	if b2.String() != text {
		t.Errorf("round trip changed the cache:\n%s\nwant\n%s", b2.String(), text)
	}
	got, ok := c2.Lookup(e1.Key)
	if !ok || got.Use != e1.Use || len(got.Times) != 2 || got.Times[1].Us != 45.25 || got.Line == 0 {
		t.Errorf("lookup: %+v, %v", got, ok)
	}
	if gs := c2.GPUs(); len(gs) != 2 || gs[0] != h100 {
		t.Errorf("GPUs: %v", gs)
	}
	if bs := c2.Batches(h100); len(bs) != 2 || bs[0] != 1 || bs[1] != 256 {
		t.Errorf("batches: %v", bs)
	}
	// Put replaces the entry of the same key.
	e1.Use = Choice{true, "s4w-v16-inc"}
	if err := c2.Put(e1); err != nil {
		t.Fatal(err)
	}
	if got, _ := c2.Lookup(e1.Key); !got.Use.Sparse || len(c2.Entries()) != 3 {
		t.Errorf("put did not replace: %+v, %d entries", got, len(c2.Entries()))
	}
}

func TestParseErrors(t *testing.T) {
	good := sampleEntry()
	line := good.format()
	for _, tc := range []struct{ text, want string }{
		{"", "x.cache: empty, want the first line \"sqc-tuning-cache 1\""},
		{"sqc-tuning-cache 2\n", "x.cache:1: not a tuning cache of this version: want the first line \"sqc-tuning-cache 1\", got \"sqc-tuning-cache 2\""},
		{"gpu=x\n", "x.cache:1: not a tuning cache"},
		{Header + "\n# c\n\n" + line + "\n" + line + "\n", "x.cache:5: a second entry for the key of line 4"},
		{Header + "\nbatch=1\n", "x.cache:2: 1 fields, want 8: gpu= batch= gemm= conv= out= weight= use= us="},
		{Header + "\n" + strings.Replace(line, "batch=256", "batch=0", 1), "x.cache:2: batch=0: want a positive integer"},
		{Header + "\n" + strings.Replace(line, "batch=256", "batch=x", 1), "x.cache:2: batch=x: want a positive integer"},
		{Header + "\n" + strings.Replace(line, "gemm=3136x64x576", "gemm=3136x64", 1), "x.cache:2: gemm=3136x64: want MxNxK"},
		{Header + "\n" + strings.Replace(line, "batch=256 gemm", "gemm", 1), "x.cache:2: 7 fields, want 8"},
		{Header + "\n" + strings.Replace(line, "batch=256 gemm=3136x64x576", "gemm=3136x64x576 batch=256", 1), "x.cache:2: field 2 is gemm=, want batch="},
		{Header + "\n" + strings.Replace(line, "k3x3", "k3", 1), "x.cache:2: conv=c64,56x56,k3,s1x1,p1x1,d1x1: want cC,HxW"},
		{Header + "\n" + strings.Replace(line, "out=i8+res", "out=i8+relu", 1), "x.cache:2: out=i8+relu: want i8 or f32, then +relu or +clip (f32 only), then +res"},
		{Header + "\n" + strings.Replace(line, "weight=2:4", "weight=1:4", 1), "x.cache:2: weight=1:4: want 2:4 or dense"},
		{Header + "\n" + strings.Replace(line, "weight=2:4", "weight=dense", 1), "x.cache:2: us: sparse/s4w-v16-inc: the sparse kernel needs weight=2:4"},
		{Header + "\n" + strings.Replace(line, "use=dense/", "use=fast/", 1), "x.cache:2: use=fast/s4w-v16-inc: want sparse/VARIANT or dense/VARIANT"},
		{Header + "\n" + strings.Replace(line, "use=dense/s4w-v16-inc", "use=dense/n256", 1), "x.cache:2: use=dense/n256 is not among the candidates measured (us=), want one of them"},
		{Header + "\n" + strings.Replace(line, "=45.25", "=fast", 1), "x.cache:2: us: \"dense/s4w-v16-inc=fast\": want a time in microseconds after ="},
		{Header + "\n" + strings.Replace(line, "=45.25", "=-1", 1), "x.cache:2: us: dense/s4w-v16-inc=-1: want a positive time"},
		{Header + "\n" + strings.Replace(line, "dense/s4w-v16-inc=45.25", "sparse/s4w-v16-inc=45.25", 1), "x.cache:2: us: sparse/s4w-v16-inc twice"},
		{Header + "\n" + strings.Replace(line, "s4w-v16-inc=48", "S4W=48", 1), "x.cache:2: us: variant \"S4W\": want lower-case letters"},
		{Header + "\n" + strings.Replace(line, `gpu="NVIDIA H100 80GB HBM3"`, `gpu="NVIDIA H100`, 1), "x.cache:2: field gpu: want a quoted string"},
		{Header + "\n" + strings.Replace(line, `gpu="NVIDIA H100 80GB HBM3"`, `gpu=""`, 1), "x.cache:2: gpu=\"\": want the GPU's name"},
		{Header + "\n" + strings.Replace(line, `gpu="NVIDIA H100 80GB HBM3" `, `gpu="NVIDIA H100 80GB HBM3"x `, 1), "x.cache:2: field gpu: want a space after its value"},
		{Header + "\nthis is not an entry\n", "x.cache:2: want key=value fields, got \"this is not an entry\""},
	} {
		_, err := Parse("x.cache", strings.NewReader(tc.text))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Parse(%q):\n got %v\nwant %s...", tc.text, err, tc.want)
		}
	}
}

func TestCheckOut(t *testing.T) {
	for out, ok := range map[string]bool{"i8": true, "i8+res": true, "f32": true, "f32+relu": true, "f32+clip+res": true,
		"f32+res+relu": false, "i8+clip": false, "i16": false, "i8+": false, "f32+relu+clip": false, "i8+res+res": false} {
		if err := checkOut(out); (err == nil) != ok {
			t.Errorf("checkOut(%q) = %v, want ok %v", out, err, ok)
		}
	}
}

func TestTarget(t *testing.T) {
	c := New("t.cache")
	e := sampleEntry()
	if err := c.Put(e); err != nil {
		t.Fatal(err)
	}
	if g, b, err := c.Target("", 0); g != h100 || b != 256 || err != nil {
		t.Errorf("one GPU, one batch: %q %d %v", g, b, err)
	}
	if g, b, err := c.Target("NVIDIA H200", 0); g != "NVIDIA H200" || b != 0 || err != nil {
		t.Errorf("a GPU the cache lacks: %q %d %v", g, b, err)
	}
	e.Batch = 1
	if err := c.Put(e); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Target("", 0); err == nil || err.Error() != `t.cache has entries for "NVIDIA H100 80GB HBM3" at 2 batches (1 256): say which the engine is tuned for (--tuning-batch)` {
		t.Errorf("two batches: %v", err)
	}
	if g, b, err := c.Target("", 1); g != h100 || b != 1 || err != nil {
		t.Errorf("batch given: %q %d %v", g, b, err)
	}
	e.GPU = "NVIDIA H200"
	if err := c.Put(e); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Target("", 1); err == nil || err.Error() != `t.cache has entries for 2 GPUs ("NVIDIA H100 80GB HBM3", "NVIDIA H200"): say which the engine is for (--tuning-gpu)` {
		t.Errorf("two GPUs: %v", err)
	}
	if g, b, err := New("e").Target("", 0); g != "" || b != 0 || err != nil {
		t.Errorf("empty cache: %q %d %v", g, b, err)
	}
}

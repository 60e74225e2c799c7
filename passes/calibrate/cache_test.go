package calibrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCacheRoundTrip(t *testing.T) {
	res := &Result{Method: MethodPercentile, InputMethod: MethodMax, Percentile: 99.9, GraphHash: "abc123", DataHash: "def456", Ranges: map[string]Range{}}
	names := []string{"conv1/out", "with\ttab", `"quoted"`, "#hash", " lead", "trail ", "", "ünïcode", "line\nbreak", "plain_name:0"}
	for i, n := range names {
		amax := float32(i)*1.0000001 + 0.1
		if i == 3 {
			amax = 0 // a value that was zero everywhere
		}
		res.Ranges[n] = Range{Amax: amax, Scale: ScaleFor(amax)}
	}
	path := filepath.Join(t.TempDir(), "c.cache")
	if err := WriteCache(path, res); err != nil {
		t.Fatal(err)
	}
	c, err := ReadCache(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Graph != "abc123" || c.Data != "def456" || c.Method != MethodPercentile || c.Percentile != 99.9 || len(c.Ranges) != len(names) {
		t.Fatalf("header %q %q %q %v, %d ranges", c.Graph, c.Data, c.Method, c.Percentile, len(c.Ranges))
	}
	if m := c.Mismatch(path, "abc123", "", MethodPercentile, MethodMax, 99.99); !strings.Contains(m, "it holds 99.9 percentile ranges, 99.99 was asked for") {
		t.Errorf("another percentile: %q", m)
	}
	if m := c.Mismatch(path, "abc123", "def456", MethodPercentile, MethodMax, 99.9); m != "" {
		t.Errorf("matching cache: %q", m)
	}
	if m := c.Mismatch(path, "abc123", "def456", MethodPercentile, MethodEntropy, 99.9); !strings.Contains(m, "its graph inputs have max ranges, entropy was asked for") {
		t.Errorf("another input method: %q", m)
	}
	for n, r := range res.Ranges {
		if got, ok := c.Ranges[n]; !ok || got.Scale != r.Scale || got.Amax != r.Amax {
			t.Errorf("%q: read %+v (%v), wrote %+v", n, got, ok, r)
		}
	}
	text, _ := os.ReadFile(path)
	if !strings.Contains(string(text), "\nconv1/out\t") || !strings.Contains(string(text), "\n\"with\\ttab\"\t") {
		t.Errorf("plain names should stay plain and odd ones be quoted:\n%s", text)
	}
}

// TestCacheVersions reads a version 1 file (no method or error per value)
// and a version 2 file of method auto, whose values name their calibrator
// and measured error.
func TestCacheVersions(t *testing.T) {
	dir := t.TempDir()
	v1 := filepath.Join(dir, "v1.cache")
	os.WriteFile(v1, []byte("# sqc calibration cache v1\ngraph g\ndata d\nmethod max\ninputs max\na\t0.1\t12.7\n"), 0o644)
	c, err := ReadCache(v1)
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Ranges["a"]; c.Method != MethodMax || r.Amax != 12.7 || r.Method != "" || r.Searched {
		t.Errorf("v1: method %s, a = %+v", c.Method, r)
	}
	res := &Result{Method: MethodAuto, InputMethod: MethodMax, Percentile: 99.9, AutoError: AutoErrorOutput, GraphHash: "g", DataHash: "d", Ranges: map[string]Range{
		"x": {Amax: 2.5, Scale: ScaleFor(2.5), Method: MethodMax},
		"h": {Amax: 1.25, Scale: ScaleFor(1.25), Method: MethodEntropy, Searched: true, Error: 3.25e-4, Errors: map[string]float64{MethodEntropy: 3.25e-4, MethodMax: 1e-3}},
	}}
	v2 := filepath.Join(dir, "v2.cache")
	if err := WriteCache(v2, res); err != nil {
		t.Fatal(err)
	}
	if c, err = ReadCache(v2); err != nil {
		t.Fatal(err)
	}
	if c.Method != MethodAuto || c.Percentile != 99.9 || c.AutoError != AutoErrorOutput {
		t.Errorf("v2 header: method %s %v", c.Method, c.Percentile)
	}
	if h := c.Ranges["h"]; h.Method != MethodEntropy || !h.Searched || h.Error != 3.25e-4 || h.Amax != 1.25 {
		t.Errorf("v2 h = %+v", h)
	}
	if x := c.Ranges["x"]; x.Method != MethodMax || x.Searched {
		t.Errorf("v2 x = %+v", x)
	}
}

func TestCacheCorrupt(t *testing.T) {
	head := "# sqc calibration cache v1\ngraph g\ndata d\nmethod max\ninputs max\n"
	head2 := "# sqc calibration cache v2\ngraph g\ndata d\nmethod auto 99.99 output\ninputs max\n"
	for _, c := range []struct{ text, want string }{
		{"", "empty file"},
		{"hello\n", ":1: not an sqc calibration cache"},
		{"# sqc calibration cache v3\n", `:1: "# sqc calibration cache v3": this sqc reads version v1 and v2 caches only`},
		{"# sqc calibration cache v2\ngraph g\ndata d\nmethod auto\n", `:4: method auto: want its percentile and layer or output after it`},
		{"# sqc calibration cache v2\ngraph g\ndata d\nmethod auto 99.99\n", `:4: method auto: want its percentile and layer or output after it`},
		{head2 + "a\t0.1\t12.7\n", `:6: value "a": want a scale, an amax, a method and an error (or -) after the name, found 2 fields`},
		{head2 + "a\t0.1\t12.7\tauto\t-\n", `:6: value "a": method "auto", want max, percentile, entropy or mse`},
		{head2 + "a\t0.1\t12.7\tmse\t-1\n", `:6: value "a": error "-1", want a finite number >= 0 or -`},
		{"# sqc calibration cache v1\ndata d\n", `:2: want "graph" followed by a value`},
		{"# sqc calibration cache v1\ngraph g\n", `:2: file ends before the "data" line`},
		{"# sqc calibration cache v1\ngraph g\ndata d\nmethod percentile\n", `:4: method percentile: want its percentile after it`},
		{"# sqc calibration cache v1\ngraph g\ndata d\nmethod max\n", `:4: file ends before the "inputs" line`},
		{head + "a\t0.1\n", `:6: value "a": want a scale and an amax after the name, found 1 fields`},
		{head + "a 0.1 12.7\n", `:6: want name<TAB>scale<TAB>amax`},
		{head + "a\tx\t12.7\n", `:6: value "a": scale "x" and amax "12.7" must be numbers`},
		{head + "a\t-1\t12.7\n", `:6: value "a": scale -1, want a finite number > 0`},
		{head + "a\t0.1\t12.8\n", `:6: value "a": scale 0.1 does not match amax 12.8`},
		{head + "\n# comment\na\t0.1\t12.8\n", `:8: value "a": scale 0.1 does not match`},
		{head + "a\t0.1\t12.7\na\t0.1\t12.7\n", `:7: value "a" listed twice`},
		{head + "\"a\t0.1\t12.7\n", `:6: bad quoted name`},
		{head + "\"a\" 0.1\t12.7\n", `:6: want a tab after the quoted name "a"`},
	} {
		path := filepath.Join(t.TempDir(), "calib.cache")
		os.WriteFile(path, []byte(c.text), 0o644)
		_, err := ReadCache(path)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %s%s", c.text, err, path, c.want)
		}
	}
	// A corrupt cache stops calibration rather than being overwritten.
	dir := t.TempDir()
	cache := filepath.Join(dir, "calib.cache")
	os.WriteFile(cache, []byte("not a cache\n"), 0o644)
	_, err := Calibrate(parseGraph(t, smallGraph), Config{Cache: cache})
	if err == nil || !strings.Contains(err.Error(), cache+":1:") {
		t.Errorf("corrupt cache: got %v", err)
	}
}

func TestGraphHash(t *testing.T) {
	base := GraphHash(parseGraph(t, smallGraph))
	if got := GraphHash(parseGraph(t, smallGraph)); got != base {
		t.Fatalf("the same graph parsed twice hashes differently")
	}
	g := parseGraph(t, smallGraph)
	g.Nodes[0].Note("why", "notes do not change what a graph computes")
	g.Name = "other"
	if GraphHash(g) != base {
		t.Errorf("notes or the graph name changed the hash")
	}
	for _, edit := range []struct{ old, new string }{
		{"0.5", "0.50001"},    // a weight
		{`"relu"`, `"relu2"`}, // a node name
		{"%r", "%r2"},         // a value name
		{"Relu", "Sigmoid"},   // an op
		{"[N,4]", "[M,4]"},    // an input type
	} {
		if GraphHash(parseGraph(t, strings.ReplaceAll(smallGraph, edit.old, edit.new))) == base {
			t.Errorf("replacing %s by %s left the hash unchanged", edit.old, edit.new)
		}
	}
	attrs := `graph "g" (%x: f32[1,1,4,4]) -> (%y) {
  %y: f32[1,1,2,2] = MaxPool "pool" (%x) {kernel_shape = [2, 2], strides = [2, 2]}
}
`
	h1 := GraphHash(parseGraph(t, attrs))
	h2 := GraphHash(parseGraph(t, strings.Replace(attrs, "kernel_shape = [2, 2], strides = [2, 2]", "kernel_shape = [2, 2], strides = [2, 2], ceil_mode = 0", 1)))
	if h1 == h2 {
		t.Errorf("an added attribute left the hash unchanged")
	}
}

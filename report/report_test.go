package report

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/dsl"
	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
	_ "github.com/sqc-project/sqc/passes/all"
	"github.com/sqc-project/sqc/passes/calibrate"
)

// compiledPage compiles the example model with its recipe (2:4 + INT8,
// calibrated on its 32 images) and returns the report page of the result.
func compiledPage(t *testing.T) *Page {
	t.Helper()
	g, err := onnx.Import("../examples/resnet-mini.onnx")
	if err != nil {
		t.Fatal(err)
	}
	r, err := dsl.ParseFile("../examples/resnet-mini.sqr")
	if err != nil {
		t.Fatal(err)
	}
	specs, err := r.Pipeline()
	if err != nil {
		t.Fatal(err)
	}
	for i := range specs {
		if specs[i].Name == "calibrate" {
			specs[i].Options["data"] = "../examples/resnet-mini-calib.npy"
			specs[i].Options["progress"] = false
		}
	}
	p, err := passes.Build(specs)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := (&passes.Manager{}).Run(g, p)
	if err != nil {
		t.Fatal(err)
	}
	// MACs at batch 1, as sqc binds the symbolic batch dim for the page.
	g.Inputs[0].Type.Shape[0] = ir.D(1)
	if err := ir.InferShapes(g); err != nil {
		t.Fatal(err)
	}
	cal, _ := rep.Results["calibrate"].(*calibrate.Result)
	if cal == nil || cal.Histograms == nil {
		t.Fatalf("the pipeline's report holds no calibration histograms: %v", rep.Results)
	}
	top5 := 99.0
	return &Page{Title: "resnet-mini <test>", Facts: [][2]string{{"model", "resnet-mini.onnx"}}, Graph: g, Calibration: cal,
		Accuracy: &Accuracy{Images: 100, Classes: 10, Rows: []AccuracyRow{{Name: "float", Top1: 91.5, Top5: &top5}, {Name: "compiled", Top1: 90.25}}}}
}

func TestWrite(t *testing.T) {
	page := compiledPage(t)
	var buf bytes.Buffer
	if err := Write(&buf, page); err != nil {
		t.Fatal(err)
	}
	doc := buf.String()
	// One box per graph input and node, the sparse ones marked.
	boxes := regexp.MustCompile(`<g class="node `).FindAllString(doc, -1)
	if want := len(page.Graph.Inputs) + len(page.Graph.Nodes); len(boxes) != want {
		t.Errorf("the diagram has %d boxes, want %d", len(boxes), want)
	}
	for _, want := range []string{
		"<title>sqc report: resnet-mini &lt;test&gt;</title>", // escaped
		`<g class="node int8 sparse"><title>block1.1.conv (QConv)`,
		`<g class="node int8"><title>stem.conv (QConv)`,
		"<td>block1.1.conv</td><td>QConv</td><td>int8</td><td class=\"num\">2,359,296</td><td>2:4 (magnitude",
		// 589,824 MACs: the stem's 3 input channels padded to 4 (pad-channels).
		"<td>stem.conv</td><td>QConv</td><td>int8</td><td class=\"num\">589,824</td><td>dense: first layer",
		"2:4 sparse: 7 of 9 candidate layers",
		`<figure class="hist" data-value="stem.relu.out"><figcaption>stem.relu.out → stem.relu.out.q</figcaption>`,
		"<td>compiled</td><td class=\"num\">90.25 %</td><td class=\"num\">–</td>",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// Every quantized activation has its histogram, with four picks.
	figs := strings.Count(doc, `<figure class="hist"`)
	if figs < 10 {
		t.Errorf("%d histograms, want one per quantized activation (at least 10)", figs)
	}
	if picks := strings.Count(doc, `<line class="pick`); picks != 4*figs {
		t.Errorf("%d calibrator lines for %d histograms, want 4 each", picks, figs)
	}
	// Self-contained: nothing to fetch (the SVG namespace is a name, not a fetch).
	rest := strings.ReplaceAll(doc, `xmlns="http://www.w3.org/2000/svg"`, "")
	for _, bad := range []string{"http://", "https://", "src=", "<link", "<script", "@import"} {
		if strings.Contains(rest, bad) {
			t.Errorf("the page refers to something outside it: %q", bad)
		}
	}
}

// The page in a real browser: headless Chromium parses it (the DOM it
// dumps has the content) and renders it (the screenshot shows the int8
// colour of the diagram's boxes and the histograms' bars).
func TestInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but chromium is missing: .ci/run installs it")
		}
		t.Skip("chromium is not installed (Debian: chromium)")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	if err := Write(&buf, compiledPage(t)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	browse := func(args ...string) []byte {
		t.Helper()
		flags := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir=" + t.TempDir()}
		cmd := exec.Command(chromium, append(append(flags, args...), "file://"+path)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, stderr.Bytes())
		}
		return out
	}

	dom := string(browse("--dump-dom"))
	for _, want := range []string{
		`id="summary"`, "2:4 sparse: 7 of 9 candidate layers",
		`<svg class="graph"`, "block3.shortcut.conv",
		`<figure class="hist" data-value="stem.relu.out">`,
		"90.25 %",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("Chromium's DOM lacks %q", want)
		}
	}

	shot := filepath.Join(dir, "shot.png")
	browse("--window-size=1200,3200", "--hide-scrollbars", "--screenshot="+shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot is no PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 3200 {
		t.Errorf("screenshot is %v, want 1200×3200", b)
	}
	int8Box := count(img, 0xbc, 0xd7, 0xf5) // the int8 fill of the diagram's boxes
	bars := count(img, 0x6b, 0x8f, 0xb5)    // the histograms' bars
	if int8Box < 20000 || bars < 2000 {
		t.Errorf("the screenshot shows %d pixels of int8 boxes and %d of histogram bars, want the diagram and histograms drawn", int8Box, bars)
	}
}

// count is the number of pixels of exactly one colour.
func count(img image.Image, r, g, b uint8) int {
	n := 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			pr, pg, pb, _ := img.At(x, y).RGBA()
			if uint8(pr>>8) == r && uint8(pg>>8) == g && uint8(pb>>8) == b {
				n++
			}
		}
	}
	return n
}

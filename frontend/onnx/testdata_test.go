package onnx

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sqc-project/sqc/frontend/onnx/internal/codec"
	"github.com/sqc-project/sqc/frontend/onnx/internal/onnxpb"
)

// libonnxRoot is Debian's libonnx-testdata, the ONNX conformance suite.
const libonnxRoot = "/usr/share/libonnx-testdata/data"

// valueKind names a ValueInfo's type the way Python's WhichOneof does.
func valueKind(vi *onnxpb.ValueInfoProto) string {
	switch vi.GetType().GetValue().(type) {
	case *onnxpb.TypeProto_TensorType:
		return "tensor_type"
	case *onnxpb.TypeProto_SequenceType:
		return "sequence_type"
	case *onnxpb.TypeProto_MapType:
		return "map_type"
	case *onnxpb.TypeProto_OptionalType:
		return "optional_type"
	case *onnxpb.TypeProto_SparseTensorType:
		return "sparse_tensor_type"
	}
	return "None"
}

// TestLibonnxTestdata decodes every model.onnx and every test tensor of the
// ONNX conformance suite with the generated types, and checks the tensors'
// decoded values against testdata/libonnx_digest.txt, which numpy computed
// from the same files (see testdata/libonnx_digest.py for the line format).
func TestLibonnxTestdata(t *testing.T) {
	models, _ := filepath.Glob(filepath.Join(libonnxRoot, "*", "*", "model.onnx"))
	if len(models) == 0 {
		t.Skipf("Debian's libonnx-testdata is not installed (no models under %s)", libonnxRoot)
	}
	var lines []string
	decoded, lowered := 0, 0
	failures := map[string]int{}
	covered := map[string]bool{} // ops of the models that lower
	for _, mpath := range models {
		data, err := os.ReadFile(mpath)
		if err != nil {
			t.Fatal(err)
		}
		mp := &onnxpb.ModelProto{}
		if err := proto.Unmarshal(data, mp); err != nil {
			t.Errorf("%s: the generated types do not decode it: %v", mpath, err)
			continue
		}
		// Decode and Lower must fail cleanly when they fail; tally why.
		if m, err := Decode(data, filepath.Dir(mpath)); err != nil {
			failures[reason(err)]++
		} else {
			decoded++
			if _, err := m.Lower(); err != nil {
				failures[reason(err)]++
			} else {
				lowered++
				for _, n := range m.Nodes() {
					covered[n.OpType] = true
				}
			}
		}
		pbs, _ := filepath.Glob(filepath.Join(filepath.Dir(mpath), "test_data_set_*", "*.pb"))
		for _, pb := range pbs {
			rel, _ := filepath.Rel(libonnxRoot, pb)
			data, err := os.ReadFile(pb)
			if err != nil {
				t.Fatal(err)
			}
			tp := &onnxpb.TensorProto{}
			if err := proto.Unmarshal(data, tp); err != nil {
				t.Errorf("%s: the generated types do not decode it: %v", pb, err)
				continue
			}
			base := strings.TrimSuffix(filepath.Base(pb), ".pb")
			kind, idxs, _ := strings.Cut(base, "_")
			idx, _ := strconv.Atoi(idxs)
			list := mp.GetGraph().GetInput()
			if kind == "output" {
				list = mp.GetGraph().GetOutput()
			}
			vk := "unknown"
			if idx < len(list) {
				vk = valueKind(list[idx])
			}
			if vk != "tensor_type" {
				lines = append(lines, rel+" "+vk)
				continue
			}
			tensor, _, err := DecodeTensor(data)
			if _, derr := codec.DTypeFromONNX(tp.GetDataType()); derr != nil {
				if err == nil || !strings.Contains(err.Error(), "unsupported dtype") {
					t.Errorf("%s: %s tensor: got error %v, want an unsupported dtype error", pb, codec.TypeName(tp.GetDataType()), err)
				}
				lines = append(lines, fmt.Sprintf("%s tensor %d unsupported", rel, tp.GetDataType()))
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", pb, err)
				continue
			}
			dims := make([]string, len(tensor.Shape))
			for i, d := range tensor.Shape {
				dims[i] = strconv.Itoa(d)
			}
			sum := sha256.Sum256(codec.RawBytes(tensor))
			lines = append(lines, fmt.Sprintf("%s tensor %d [%s] %s", rel, tp.GetDataType(), strings.Join(dims, ","), hex.EncodeToString(sum[:])))
		}
	}
	sort.Strings(lines)
	t.Logf("%d models: %d decode, %d lower to the IR", len(models), decoded, lowered)
	var reasons []string
	for r, n := range failures {
		reasons = append(reasons, fmt.Sprintf("%4d %s", n, r))
	}
	sort.Strings(reasons)
	t.Logf("why the others do not:\n%s", strings.Join(reasons, "\n"))
	// Every op the frontend claims must lower in some conformance model,
	// but for those newer than the suite (libonnx-testdata 1.12 stops at
	// opset 17), which onnxexport's TestONNXRuntime checks against ONNX
	// Runtime and TestOpCasesRoundTrip reads back through the frontend.
	newerThanSuite := map[string]bool{"Mish": true, "GroupNormalization": true, "Gelu": true}
	for _, op := range SupportedOps() {
		if covered[op] && newerThanSuite[op] {
			t.Errorf("%s lowers in a conformance model: remove it from newerThanSuite", op)
		}
		if !covered[op] && !newerThanSuite[op] {
			t.Errorf("no conformance model using %s lowers", op)
		}
	}

	// Compare with numpy's reading, group by group.
	groups := map[string][]string{}
	for _, l := range lines {
		g, _, _ := strings.Cut(l, "/")
		groups[g] = append(groups[g], l)
	}
	f, err := os.Open("testdata/libonnx_digest.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var name, digest string
		var count int
		if _, err := fmt.Sscan(sc.Text(), &name, &count, &digest); err != nil {
			t.Fatalf("libonnx_digest.txt: %q: %v", sc.Text(), err)
		}
		got := groups[name]
		if len(got) != count {
			t.Logf("%s: %d test tensors installed, the digest was made from %d; not comparing (another libonnx-testdata version?)", name, len(got), count)
			continue
		}
		h := sha256.New()
		for _, l := range got {
			h.Write([]byte(l + "\n"))
		}
		if sum := hex.EncodeToString(h.Sum(nil)); sum != digest {
			out := filepath.Join(t.TempDir(), name+".lines")
			os.WriteFile(out, []byte(strings.Join(got, "\n")+"\n"), 0o644)
			t.Errorf("%s: decoded tensors differ from numpy's (digest %s, want %s); compare %s with `python3 testdata/libonnx_digest.py --lines`", name, sum, digest, out)
		}
	}
}

// reason shortens a decode or lowering error to its kind, for the tally.
func reason(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "unsupported op"):
		i := strings.Index(s, "unsupported op")
		return s[i:]
	case strings.Contains(s, "unsupported dtype"):
		return "unsupported dtype"
	case strings.Contains(s, "default-domain opset"):
		return "opset out of range"
	}
	if len(s) > 100 {
		s = s[:100]
	}
	return s
}

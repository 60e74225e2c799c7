package ampere_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx/onnxbuild"
	"github.com/sqc-project/sqc/ir"
)

// mobileNetModel builds a small MobileNet-style ONNX model: depthwise 3×3
// (group 16) + BN + Relu, pointwise 16→32 + BN + Relu, depthwise 3×3
// stride 2 (group 32) + Relu, pointwise 32→32 with a residual Add + Relu,
// GlobalAveragePool, Flatten, Gemm 32→10. Its grouped convolutions are
// what the direct grouped kernel runs.
func mobileNetModel(seed uint64) ([]byte, error) {
	r := rand.New(rand.NewPCG(seed, 7))
	rnd := func(scale float32, shape ...int) *ir.Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = (r.Float32()*2 - 1) * scale
		}
		return onnxbuild.Float32s(v, shape...)
	}
	pos := func(lo, hi float32, n int) *ir.Tensor {
		v := make([]float32, n)
		for i := range v {
			v[i] = lo + r.Float32()*(hi-lo)
		}
		return onnxbuild.Float32s(v, n)
	}
	b := onnxbuild.New("mnv", 17)
	x := b.InputSym("x", ir.Float32, []string{"N", "16", "16", "16"})
	bn := func(in string, c int) string {
		return b.Node("BatchNormalization", []string{in, b.Const(pos(0.5, 1.5, c)), b.Const(rnd(0.2, c)),
			b.Const(rnd(0.2, c)), b.Const(pos(0.5, 2, c))}, map[string]any{"epsilon": float32(1e-5)})
	}
	conv := func(in string, w, bias *ir.Tensor, attrs map[string]any) string {
		return b.Node("Conv", []string{in, b.Const(w), b.Const(bias)}, attrs)
	}
	t := conv(x, rnd(0.5, 16, 1, 3, 3), rnd(0.1, 16), map[string]any{"group": 16, "pads": []int{1, 1, 1, 1}})
	t = b.Node("Relu", []string{bn(t, 16)}, nil)
	t = conv(t, rnd(0.4, 32, 16, 1, 1), rnd(0.1, 32), map[string]any{})
	t = b.Node("Relu", []string{bn(t, 32)}, nil)
	d := conv(t, rnd(0.5, 32, 1, 3, 3), rnd(0.1, 32), map[string]any{"group": 32, "pads": []int{1, 1, 1, 1}, "strides": []int{2, 2}})
	d = b.Node("Relu", []string{d}, nil)
	p := conv(d, rnd(0.3, 32, 32, 1, 1), rnd(0.1, 32), map[string]any{})
	t = b.Node("Relu", []string{b.Node("Add", []string{p, d}, nil)}, nil)
	t = b.Node("GlobalAveragePool", []string{t}, nil)
	t = b.Node("Flatten", []string{t}, map[string]any{"axis": 1})
	y := b.Node("Gemm", []string{t, b.Const(rnd(0.5, 10, 32)), b.Const(rnd(0.1, 10))}, map[string]any{"transB": 1})
	y = b.Node("Identity", []string{y}, nil)
	b.OutputSym(y, ir.Float32, []string{"N", "10"})
	return b.Bytes()
}

// writeNpy writes a little-endian f32 array in NumPy's .npy format (v1.0).
func writeNpy(path string, v []float32, shape ...int) error {
	dims := ""
	for _, d := range shape {
		dims += fmt.Sprintf("%d, ", d)
	}
	hdr := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims[:len(dims)-2])
	for (10+len(hdr)+1)%64 != 0 {
		hdr += " "
	}
	hdr += "\n"
	out := append([]byte("\x93NUMPY\x01\x00"), byte(len(hdr)), byte(len(hdr)>>8))
	out = append(out, hdr...)
	for _, f := range v {
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(f))
	}
	return os.WriteFile(path, out, 0o644)
}

// TestWriteMobileNet writes the model, a calibration set and a few input
// samples to $SQC_MNV_DIR (for compiling with cmd/sqc and running the
// engine on a GPU); it is skipped when the variable is unset.
func TestWriteMobileNet(t *testing.T) {
	dir := os.Getenv("SQC_MNV_DIR")
	if dir == "" {
		t.Skip("SQC_MNV_DIR not set")
	}
	m, err := mobileNetModel(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mnv.onnx"), m, 0o644); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(2, 3))
	for _, f := range []struct {
		name string
		n    int
	}{{"calib.npy", 32}, {"in.npy", 8}} {
		v := make([]float32, f.n*16*16*16)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		if err := writeNpy(filepath.Join(dir, f.name), v, f.n, 16, 16, 16); err != nil {
			t.Fatal(err)
		}
	}
}

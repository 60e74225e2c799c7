package ampere

import (
	"bytes"
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/backend/ampere/pack"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
)

// resnet-mini-int8.sqir is `sqc compile examples/resnet-mini.onnx -r
// examples/resnet-mini.sqr --calib-data examples/resnet-mini-calib.npy`.
func loadMini(t *testing.T) *ir.Graph {
	t.Helper()
	src, err := os.ReadFile("testdata/resnet-mini-int8.sqir")
	if err != nil {
		t.Fatal(err)
	}
	g, err := sqir.ParseAndVerify("mini", src)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestPlanResNetMini(t *testing.T) {
	g := loadMini(t)
	e, err := Plan(g, "test")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range e.Steps {
		sp := "d"
		if s.Sparse {
			sp = "s"
		}
		got = append(got, s.Node+":"+s.Kernel+":"+sp)
	}
	// The stem (3 input channels) and the classifier stay dense; the
	// other convolutions claim 2:4 and run mma.sp; every 3x3 conv and the
	// strided 1x1 shortcut go through im2col.
	want := []string{
		"input/quantize:sqc_quantize_f32_s8:d",
		"stem.conv:sqc_im2col_s8:d", "stem.conv:sqc_gemm_s8_dense_i8_s4w:d",
		"block1.1.conv:sqc_im2col_s8:d", "block1.1.conv:sqc_gemm_s8_sp24_i8_s4w:s",
		"block1.2.conv:sqc_im2col_s8:d", "block1.2.conv:sqc_gemm_s8_sp24_res_i8_s4w:s",
		"block2.1.conv:sqc_im2col_s8:d", "block2.1.conv:sqc_gemm_s8_sp24_i8_s4w:s",
		"block2.2.conv:sqc_im2col_s8:d", "block2.2.conv:sqc_gemm_s8_sp24_res_i8_s4w:s",
		"block3.1.conv:sqc_im2col_s8:d", "block3.1.conv:sqc_gemm_s8_sp24_i8_s4w:s",
		"block3.2.conv:sqc_im2col_s8:d", "block3.2.conv:sqc_gemm_s8_sp24_i8_s4w:s",
		"block3.shortcut.conv:sqc_im2col_s8:d", "block3.shortcut.conv:sqc_gemm_s8_sp24_res_f32_relu_s4w:s",
		"head.pool:sqc_gap_f32_nhwc:d", "head.pool.out/quantize:sqc_quantize_f32_s8:d", "head.fc:sqc_gemm_s8_dense_f32_s4w:d",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Every kernel a step names has its PTX, once.
	ptx := map[string]bool{}
	for _, k := range e.Kernels {
		if ptx[k.Name] || !strings.Contains(k.Ptx, ".entry "+k.Name+"(") {
			t.Errorf("kernel %s duplicated or without its entry", k.Name)
		}
		ptx[k.Name] = true
	}
	for _, s := range e.Steps {
		if !ptx[s.Kernel] {
			t.Errorf("step %s: no PTX for %s", s.Node, s.Kernel)
		}
	}
	// The GEMM launch of block3.1 (16 -> 32 channels, 3x3 stride 2 on
	// 32x32): 256 pixels a sample, K = 144, lda 144, one 64-channel block.
	s := findStep(t, e, "block3.1.conv", "sqc_gemm")
	if s.WorkPerSample != 256 || s.WorkPerBlockX != kernels.GemmBM || s.GridY != 1 || s.BlockX != kernels.GemmThreads {
		t.Errorf("block3.1 launch plan %v", s)
	}
	if k := s.Args[9].GetU32(); k != 144 {
		t.Errorf("block3.1 K = %d, want 144", k)
	}
	// The packed weights unpack to the conv weights in (kh, kw, c) order.
	var w *engine.Weight
	var meta []uint32
	for _, x := range e.Weights {
		if x.Name == "block3.1.conv/w" {
			w = x
		}
		if x.Name == "block3.1.conv/e" {
			meta = make([]uint32, len(x.Data)/4)
			for i := range meta {
				meta[i] = binary.LittleEndian.Uint32(x.Data[4*i:])
			}
		}
	}
	vals := make([]int8, len(w.Data))
	for i, b := range w.Data {
		vals[i] = int8(b)
	}
	sp := &pack.Sparse{N: 32, K: 144, NPad: 64, KPad: 192, Values: vals, Meta: meta}
	un, err := sp.Unpack()
	if err != nil {
		t.Fatal(err)
	}
	var src []int8
	for _, n := range g.Nodes {
		if n.Name == "block3.1.conv" {
			src = n.Inputs[1].Const.Int8s()
		}
	}
	for o := 0; o < 32; o++ {
		for c := 0; c < 16; c++ {
			for r := 0; r < 3; r++ {
				for q := 0; q < 3; q++ {
					if got, want := un[o*144+(r*3+q)*16+c], src[((o*16+c)*3+r)*3+q]; got != want {
						t.Fatalf("W[%d][%d,%d,%d] = %d, want %d", o, c, r, q, got, want)
					}
				}
			}
		}
	}
}

func findStep(t *testing.T, e *engine.Engine, node, kernelPrefix string) *engine.Step {
	for _, s := range e.Steps {
		if s.Node == node && strings.HasPrefix(s.Kernel, kernelPrefix) {
			return s
		}
	}
	t.Fatalf("no %s step for %s", kernelPrefix, node)
	return nil
}

func TestPlanDeterministicAndCPURun(t *testing.T) {
	g := loadMini(t)
	e1, err := Plan(g, "test")
	if err != nil {
		t.Fatal(err)
	}
	e2, _ := Plan(loadMini(t), "test")
	b1, _ := engine.Marshal(e1)
	b2, _ := engine.Marshal(e2)
	if !bytes.Equal(b1, b2) {
		t.Fatal("planning the same graph twice gave different engines")
	}
	back, err := engine.Unmarshal(b1)
	if err != nil {
		t.Fatal(err)
	}
	x := ir.NewTensor(ir.Float32, 2, 3, 32, 32)
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(i%97)/48 - 1
	}
	got, err := RunCPU(back, []*ir.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Shape[0] != 2 || got[0].Shape[1] != 10 {
		t.Fatalf("output shape %v", got[0].Shape)
	}
}

func TestPlanUnsupported(t *testing.T) {
	g := loadMini(t)
	g.Nodes[len(g.Nodes)-4].Op = "Softsign" // head.pool
	_, err := Plan(g, "test")
	if err == nil || !strings.Contains(err.Error(), `unsupported on the GPU: node head.pool (op Softsign)`) {
		t.Fatalf("error %v", err)
	}
}

func TestNHWCToNCHW(t *testing.T) {
	// N=1, C=2, H=1, W=3 stored NHWC: pixels (c0, c1) = (1,4) (2,5) (3,6).
	x := &ir.Tensor{DType: ir.Int8, Shape: []int{1, 2, 1, 3}, Data: []int8{1, 4, 2, 5, 3, 6}}
	y := NHWCToNCHW(x).Int8s()
	for i, want := range []int8{1, 2, 3, 4, 5, 6} {
		if y[i] != want {
			t.Fatalf("got %v", y)
		}
	}
}

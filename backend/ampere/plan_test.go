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
	// The stem (3 input channels, padded to 4 by the recipe's
	// pad-channels) and the classifier stay dense; the other convolutions
	// claim 2:4 and run mma.sp; every convolution runs on the
	// implicit-GEMM kernel (the stem's 4-channel taps on its c4 form), the
	// stem's input quantized 4 pixels a thread. Int8 outputs of 16·k
	// channels and float32 outputs of 4·k are stored 16 bytes at a time
	// (_v16); residuals of 16 or more channels (rows 16-byte aligned) are
	// read through the residual tile (_rt). block3's 1×1 shortcut comes
	// before block3.2.conv, which takes the residual add (fuse-epilogue:
	// the deeper convolution takes it).
	want := []string{
		"input/quantize:sqc_quantize_px4_f32_s8:d",
		"stem.conv:sqc_gemm_conv_s8_dense_i8_c4_v16_s4w:d",
		"block1.1.conv:sqc_gemm_conv_s8_sp24_i8_v16_s4w:s",
		"block1.2.conv:sqc_gemm_conv_s8_sp24_res_i8_v16_rt_s4w:s",
		"block2.1.conv:sqc_gemm_conv_s8_sp24_i8_v16_s4w:s",
		"block2.2.conv:sqc_gemm_conv_s8_sp24_res_i8_v16_rt_s4w:s",
		"block3.1.conv:sqc_gemm_conv_s8_sp24_i8_v16_s4w:s",
		"block3.shortcut.conv:sqc_gemm_conv_s8_sp24_i8_v16_s4w:s",
		"block3.2.conv:sqc_gemm_conv_s8_sp24_res_f32_relu_rt_s4w:s",
		"head.pool:sqc_gap_quantize_f32_s8:d", "head.fc:sqc_gemm_s8_dense_f32_s4w:d",
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
	// The implicit-GEMM launch of block3.1 (16 -> 32 channels, 3x3
	// stride 2 pad 1 on 32x32): 256 pixels a sample, K = 144, one
	// 64-channel block, then the geometry C, H, W, OH, OW, KW, sh, sw,
	// ph, pw, dh, dw and the input zero point.
	s := findStep(t, e, "block3.1.conv", "sqc_gemm_conv")
	if s.WorkPerSample != 256 || s.WorkPerBlockX != kernels.GemmBM || s.GridY != 1 || s.BlockX != kernels.GemmThreads { // 64 channels: the 4-warp block
		t.Errorf("block3.1 launch plan %v", s)
	}
	if k := s.Args[9].GetU32(); k != 144 {
		t.Errorf("block3.1 K = %d, want 144", k)
	}
	if n := len(kernels.GemmConfig{Conv: true}.ParamNames()); len(s.Args) != n {
		t.Fatalf("block3.1: %d launch arguments, the kernel takes %d", len(s.Args), n)
	}
	var geo []uint32
	for _, a := range s.Args[21:33] {
		geo = append(geo, a.GetU32())
	}
	if want := []uint32{16, 32, 32, 16, 16, 3, 2, 2, 1, 1, 1, 1}; !equalU32(geo, want) {
		t.Errorf("block3.1 geometry %v, want %v", geo, want)
	}
	if zx := s.Args[33].GetS32(); zx < -128 || zx > 127 {
		t.Errorf("block3.1 input zero point %d", zx)
	}
	// With the implicit GEMM off, the same conv goes through im2col with
	// 16-byte padded rows (lda 144) and the plain GEMM.
	implicitConv = false
	e2, err := Plan(g, "test")
	implicitConv = true
	if err != nil {
		t.Fatal(err)
	}
	findStep(t, e2, "block3.1.conv", "sqc_im2col")
	if s2 := findStep(t, e2, "block3.1.conv", "sqc_gemm"); s2.Args[11].GetU32() != 144 {
		t.Errorf("block3.1 via im2col: lda %d, want 144", s2.Args[11].GetU32())
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
	g.Nodes[len(g.Nodes)-4].Op = "FutureOp" // head.pool: no kernel, and ir/ref cannot run it on the host either
	_, err := Plan(g, "test")
	if err == nil || !strings.Contains(err.Error(), `unsupported on the GPU: node head.pool (op FutureOp)`) {
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

// TestPlanFallbackOps checks the launch arguments of the pad, batch-norm
// and softmax plans: an NHWC pad gets its dims and pads in memory order
// (H, W, C), the batch norm the channel stride of its layout, the softmax
// one row a pixel when the channel axis is innermost.
func TestPlanFallbackOps(t *testing.T) {
	src := `graph "g" (%x: f32[N,3,5,7]) -> (%y, %z) {
  const %sc: f32[] = [0.05]
  const %zp: i8[] = [3]
  const %pads: i64[8] = [0, 1, 1, 0, 0, 0, 2, 1]
  const %cv: i8[] = [-7]
  const %s: f32[4] = [1, 2, 3, 4]
  const %b: f32[4] = [0, 0, 0, 0]
  const %m: f32[4] = [0, 0, 0, 0]
  const %v: f32[4] = [3, 0, 0, 0]
  %q: i8[N,3,5,7] quant(scale=[0.05], zp=[3]) = QuantizeLinear "q" (%x, %sc, %zp)
  %p: i8[N,4,8,8] quant(scale=[0.05], zp=[3]) = Pad "pad" (%q, %pads, %cv)
  %d: f32[N,4,8,8] = DequantizeLinear "dq" (%p, %sc, %zp)
  %y: f32[N,4,8,8] = BatchNormalization "bn" (%d, %s, %b, %m, %v) {epsilon = 1.0}
  %z: f32[N,4,8,8] = Softmax "sm" (%y) {axis = 1}
}`
	_, e := planText(t, src)
	u32s := func(s *engine.Step) []uint32 {
		var out []uint32
		for _, a := range s.Args {
			switch v := a.V.(type) {
			case *engine.Arg_U32:
				out = append(out, v.U32)
			case *engine.Arg_U32PerSample:
				out = append(out, v.U32PerSample)
			}
		}
		return out
	}
	steps := map[string]*engine.Step{}
	for _, s := range e.Steps {
		steps[s.Node] = s
	}
	// Output H, W, C = 8, 8, 4; input 5, 7, 3; leading pads h 1, w 0, c 1;
	// the value -7 as a byte.
	pad := steps["pad"]
	if pad == nil || pad.Kernel != kernels.Pad8Kernel {
		t.Fatalf("pad step %v", pad)
	}
	if got, want := u32s(pad), []uint32{256, 8, 8, 4, 5, 7, 3, 1, 0, 1, 249}; !equalU32(got, want) {
		t.Errorf("pad args %v, want %v", got, want)
	}
	if got, want := u32s(steps["bn"]), []uint32{256, 4, 1}; !equalU32(got, want) {
		t.Errorf("batch norm args %v, want %v (NHWC: channel stride 1)", got, want)
	}
	// factor for channel 0: 1/sqrt(3+1) = 0.5.
	for _, w := range e.Weights {
		if w.Name == "bn/prm" {
			if f := binary.LittleEndian.Uint32(w.Data); f != 0x3f000000 {
				t.Errorf("factor[0] bits %#x, want 0.5", f)
			}
		}
	}
	sm := steps["sm"]
	if sm.Kernel != kernels.SoftmaxShortKernel || !equalU32(u32s(sm), []uint32{64, 4}) {
		t.Errorf("softmax %s args %v, want 64 rows of 4", sm.Kernel, u32s(sm))
	}
	if kernels.ApproxKernels[sm.Kernel] {
		t.Error("softmax listed as approximate: its arithmetic is the reference's")
	}
	// A softmax over an axis that is not innermost in memory runs on the host.
	bad := strings.Replace(src, "{axis = 1}", "{axis = 2}", 1)
	g2, err := sqir.ParseAndVerify("g", []byte(bad))
	if err != nil {
		t.Fatal(err)
	}
	wantFallback(t, g2, "sm", "host", "innermost axis")
}

func equalU32(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestPlanReduceMean checks that a spatial ReduceMean (torch.onnx's form of
// ResNet's average pool) plans onto the GAP kernel with C outputs a sample
// and H·W pixels each, and that any other mean runs on the host, saying why.
func TestPlanReduceMean(t *testing.T) {
	src := `graph "g" (%x: f32[N,3,5,7]) -> (%y) {
  const %sc: f32[] = [0.05]
  const %zp: i8[] = [3]
  const %axes: i64[2] = [-1, 2]
  %q: i8[N,3,5,7] quant(scale=[0.05], zp=[3]) = QuantizeLinear "q" (%x, %sc, %zp)
  %d: f32[N,3,5,7] = DequantizeLinear "dq" (%q, %sc, %zp)
  %y: f32[N,3,1,1] = ReduceMean "mean" (%d, %axes)
}`
	_, e := planText(t, src)
	s := e.Steps[len(e.Steps)-1]
	var got []uint32
	for _, a := range s.Args {
		switch v := a.V.(type) {
		case *engine.Arg_U32:
			got = append(got, v.U32)
		case *engine.Arg_U32PerSample:
			got = append(got, v.U32PerSample)
		}
	}
	if s.Node != "mean" || s.Kernel != kernels.GapKernel || !equalU32(got, []uint32{3, 3, 35}) {
		t.Errorf("step %s %s args %v, want the GAP kernel with 3, 3, 35", s.Node, s.Kernel, got)
	}
	bad := strings.Replace(strings.Replace(src, "[-1, 2]", "[1, 2]", 1), "f32[N,3,1,1]", "f32[N,1,1,7]", 1)
	g2, err := sqir.ParseAndVerify("g", []byte(bad))
	if err != nil {
		t.Fatal(err)
	}
	wantFallback(t, g2, "mean", "host", "unsupported on the GPU: node mean (op ReduceMean)")
}

// TestGemmCandidatesLaunch: the heuristic's variant comes first, every
// candidate is distinct, valid, and, as a ResNet-34 convolution with
// running taps, accepts that layer's launch; the latency variants are
// offered where the wide tile applies and not where it would leave half a
// block idle.
func TestGemmCandidatesLaunch(t *testing.T) {
	for _, tc := range []struct {
		nOut, c, k int
		latency    bool // SplitM / LateCopy offered
	}{{64, 64, 576, false}, {128, 128, 1152, true}, {256, 128, 128, true}, {512, 512, 4608, true}} {
		for _, sparse := range []bool{false, true} {
			for _, residual := range []bool{false, true} {
				cs := GemmCandidates(sparse, residual, false, "", tc.nOut)
				l := gemmLayer{sparse24: true, residual: residual, n: tc.nOut}
				if h := heuristicVariant(l); cs[0] != mustCandidate(t, l, h).config(l, sparse) {
					t.Errorf("N %d: first candidate %s, want the heuristic's %s", tc.nOut, cs[0].Name(), h)
				}
				names := map[string]bool{}
				latency := false
				for _, c := range cs {
					c.Conv, c.ConvStep = true, true
					if names[c.Name()] {
						t.Errorf("N %d: %s offered twice", tc.nOut, c.Name())
					}
					names[c.Name()] = true
					latency = latency || c.SplitM || c.LateCopy
					if err := c.Validate(); err != nil {
						t.Error(err)
						continue
					}
					kh := 3
					if tc.k == tc.c {
						kh = 1
					}
					npad := (tc.nOut + c.BN() - 1) / c.BN() * c.BN()
					prm := kernels.GemmParams{M: 256 * 28 * 28, N: tc.nOut, K: tc.k, NPad: npad, KPad: tc.k, LDR: tc.nOut, LDC: tc.nOut, QLo: -128, QHi: 127,
						Conv: kernels.ConvShape{C: tc.c, H: 56, W: 56, OH: 28, OW: 28, KH: kh, KW: kh, SH: 2, SW: 2, PH: kh / 2, PW: kh / 2, DH: 1, DW: 1}}
					if err := c.Check(prm); err != nil {
						t.Error(err)
					}
				}
				if latency != tc.latency {
					t.Errorf("N %d: latency variants offered %v, want %v (%v)", tc.nOut, latency, tc.latency, names)
				}
			}
		}
	}
}

// mustCandidate returns l's candidate named name.
func mustCandidate(t *testing.T, l gemmLayer, name string) gemmCandidate {
	t.Helper()
	for _, c := range gemmCandidates(l) {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no candidate %s", name)
	return gemmCandidate{}
}

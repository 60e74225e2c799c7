package ampere

import (
	"strings"

	"github.com/sqc-project/sqc/backend/ampere/engine"
)

// GemmShape returns the GEMM a step computes for one sample: m output
// rows (pixels), n output channels, k the reduction, ok = false for a
// step that is no INT8 GEMM (op kernels, float fallbacks). The launch
// arguments are the GEMM kernel's (kernels.GemmConfig.ParamNames): after
// the seven pointers, M per sample, N and K.
func GemmShape(s *engine.Step) (m, n, k int64, ok bool) {
	if !strings.HasPrefix(s.Kernel, "sqc_gemm_") || len(s.Args) < 10 {
		return 0, 0, 0, false
	}
	mv, nv, kv := s.Args[7].GetU32PerSample(), s.Args[8].GetU32(), s.Args[9].GetU32()
	if mv == 0 || nv == 0 || kv == 0 {
		return 0, 0, 0, false
	}
	return int64(mv), int64(nv), int64(kv), true
}

// InstructionCeiling is the dense-equivalent TOPS of a register-only loop
// of the INT8 Tensor Core instruction a step uses, as measured on this
// project's test cards (../shared/DESIGN.md: mma.sync.m16n8k32 1270 on an
// H100 and 1277 on an H200, mma.sp.m16n8k64 1865 and 1889); ok = false
// for a card not measured.
func InstructionCeiling(device string, sparse bool) (tops float64, ok bool) {
	ceil := map[string][2]float64{"H100": {1270, 1865}, "H200": {1277, 1889}}
	for name, c := range ceil {
		if strings.Contains(device, name) {
			if sparse {
				return c[1], true
			}
			return c[0], true
		}
	}
	return 0, false
}

// OperandBytes is, for each of e's steps, the size of the operands it
// names at batch samples: every activation buffer (a view counted as the
// buffer it views) and every weight among its arguments, each once. It is
// what the launch moves to and from memory if it touches each operand in
// full exactly once, so over the step's time it places the launch against
// the memory roofline: near the card's bandwidth the step is memory-bound,
// far below it the time goes elsewhere (instruction latency, occupancy,
// the Tensor Cores). A kernel that reads part of a buffer (a strided 1×1
// convolution reads a quarter of its input's pixels, a Slice a window)
// moves less; the runtime's split-K workspace is left out.
func OperandBytes(e *engine.Engine, batch int) []int64 {
	bufs := make(map[string]*engine.Buffer, len(e.Buffers))
	for _, b := range e.Buffers {
		bufs[b.Name] = b
	}
	weights := make(map[string]int64, len(e.Weights))
	for _, w := range e.Weights {
		weights[w.Name] = int64(len(w.Data))
	}
	out := make([]int64, len(e.Steps))
	for i, s := range e.Steps {
		seen := map[string]bool{}
		for _, a := range s.Args {
			switch v := a.V.(type) {
			case *engine.Arg_Buffer:
				b := bufs[v.Buffer]
				// A view (Reshape, Flatten, a relayout alias) is its
				// buffer's memory.
				for j := 0; b != nil && b.AliasOf != "" && j < len(bufs); j++ {
					b = bufs[b.AliasOf]
				}
				if b == nil || seen["b:"+b.Name] {
					continue
				}
				seen["b:"+b.Name] = true
				out[i] += b.ElemsPerSample * int64(batch) * int64(elemSize(b.Dtype))
			case *engine.Arg_Weight:
				if !seen["w:"+v.Weight] {
					seen["w:"+v.Weight] = true
					out[i] += weights[v.Weight]
				}
			}
		}
	}
	return out
}

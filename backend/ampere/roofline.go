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

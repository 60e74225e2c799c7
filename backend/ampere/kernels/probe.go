package kernels

// Probe kernels run one Tensor Core instruction, for one warp, on
// registers given lane by lane in global memory, and store the
// accumulators the same way. The GPU tests fill the registers with the
// packers' output and compare the result with pack.EmulateSparse and
// pack.EmulateDense: if the fragment layouts the packers assume were wrong,
// this is where it shows, on a single instruction rather than somewhere in
// a GEMM.
//
// Parameters (all .u64 device pointers), lane l's data at l·16 bytes (B of
// the dense instruction at l·8, metadata at l·4): A, B, C, E (metadata;
// ignored by the dense probe), D.

// Probe kernel names.
const (
	ProbeSparseOrdered = "sqc_probe_mma_sp_ordered" // mma.sp::ordered_metadata m16n8k64
	ProbeSparse        = "sqc_probe_mma_sp"         // plain mma.sp m16n8k64, same metadata
	ProbeDense         = "sqc_probe_mma_dense"      // mma.sync m16n8k32
)

// ProbePTX returns the module holding the three probe kernels (launch each
// with one block of 32 threads).
func ProbePTX() string {
	var b builder
	b.header()
	probe(&b, ProbeSparseOrdered, "mma.sp::ordered_metadata.sync.aligned.m16n8k64.row.col.s32.s8.s8.s32", true)
	probe(&b, ProbeSparse, "mma.sp.sync.aligned.m16n8k64.row.col.s32.s8.s8.s32", true)
	probe(&b, ProbeDense, "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32", false)
	return b.String()
}

func probe(b *builder, name, instr string, sparse bool) {
	b.raw(".visible .entry %s(", name)
	b.raw("\t.param .u64 p_a, .param .u64 p_b, .param .u64 p_c, .param .u64 p_e, .param .u64 p_d")
	b.raw(")")
	b.raw(".maxntid 32, 1, 1")
	b.raw("{")
	declare(b, ".b32", "%ln", "%a<4>", "%b<4>", "%c<4>", "%e")
	declare(b, ".b64", "%pa", "%pb", "%pc", "%pe", "%pd", "%off")
	for _, p := range []struct{ reg, param string }{{"%pa", "p_a"}, {"%pb", "p_b"}, {"%pc", "p_c"}, {"%pe", "p_e"}, {"%pd", "p_d"}} {
		b.l("ld.param.u64 %s, [%s];", p.reg, p.param)
		b.l("cvta.to.global.u64 %s, %s;", p.reg, p.reg)
	}
	b.l("mov.u32 %%ln, %%tid.x;")
	b.l("mul.wide.u32 %%off, %%ln, 16;")
	b.l("add.u64 %%pa, %%pa, %%off;")
	b.l("add.u64 %%pc, %%pc, %%off;")
	b.l("add.u64 %%pd, %%pd, %%off;")
	b.l("ld.global.v4.u32 %s, [%%pa];", regList("%a", 0, 4))
	b.l("ld.global.v4.u32 %s, [%%pc];", regList("%c", 0, 4))
	if sparse {
		b.l("add.u64 %%pb, %%pb, %%off;")
		b.l("ld.global.v4.u32 %s, [%%pb];", regList("%b", 0, 4))
		b.l("mul.wide.u32 %%off, %%ln, 4;")
		b.l("add.u64 %%pe, %%pe, %%off;")
		b.l("ld.global.u32 %%e, [%%pe];")
		b.l("%s %s, %s, %s, %s, %%e, 0x0;", instr, regList("%c", 0, 4), regList("%a", 0, 4), regList("%b", 0, 4), regList("%c", 0, 4))
	} else {
		b.l("mul.wide.u32 %%off, %%ln, 8;")
		b.l("add.u64 %%pb, %%pb, %%off;")
		b.l("ld.global.v2.u32 %s, [%%pb];", regList("%b", 0, 2))
		b.l("%s %s, %s, %s, %s;", instr, regList("%c", 0, 4), regList("%a", 0, 4), regList("%b", 0, 2), regList("%c", 0, 4))
	}
	b.l("st.global.v4.u32 [%%pd], %s;", regList("%c", 0, 4))
	b.l("ret;")
	b.raw("}")
	b.raw("")
}

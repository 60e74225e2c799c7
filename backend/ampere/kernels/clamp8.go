package kernels

// Clamp8Kernel clamps int8 elements: y = min(max(x, lo), hi), one thread
// an element, in whatever order the buffer holds them. It is Relu on an
// int8 value (lo 0, hi 127: ir/ref's Relu of an i8 tensor is the integer
// max(x, 0)) and Clip with int8 bounds; exact by construction. DenseNet's
// pre-activation blocks quantize the BatchNormalization's output and run
// the Relu on the int8 value.
const Clamp8Kernel = "sqc_clamp_s8"

// Clamp8Params lists the int8 clamp's parameters in launch order.
var Clamp8Params = []string{"x", "y", "total", "lo:s32", "hi:s32"}

// Clamp8PTX returns the module text of Clamp8Kernel.
func Clamp8PTX() string {
	var b builder
	b.header()
	b.opEntry(Clamp8Kernel, Clamp8Params, 2)
	declare(&b, ".pred", "%p<2>")
	declare(&b, ".b32", "%r<12>")
	declare(&b, ".b64", "%rd<6>")
	b.comment("x y in %%rd0 %%rd1; total lo hi in %%r0..%%r2")
	b.loadPointers(2)
	b.l("ld.param.u32 %%r0, [p2];")
	b.l("ld.param.s32 %%r1, [p3];")
	b.l("ld.param.s32 %%r2, [p4];")
	b.elementIndex(6, 3)
	b.l("cvt.u64.u32 %%rd2, %%r6;")
	b.l("add.s64 %%rd3, %%rd0, %%rd2;")
	b.l("ld.global.s8 %%r7, [%%rd3];")
	b.l("max.s32 %%r7, %%r7, %%r1;")
	b.l("min.s32 %%r7, %%r7, %%r2;")
	b.l("add.s64 %%rd4, %%rd1, %%rd2;")
	b.l("st.global.s8 [%%rd4], %%r7;")
	b.raw("$L_done:")
	b.l("ret;")
	b.raw("}")
	return b.String()
}

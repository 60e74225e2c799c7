package ref

// The kernel of Relayout. The executor computes on logical shapes and its
// tensors are always row-major in logical order, whatever layout the IR
// asks the backend to store a value in; a change of layout is therefore the
// identity on the data the reference sees, and the kernel copies its input
// into the output tensor the executor allocated for it.

func init() {
	register("Relayout", copyKernel)
}

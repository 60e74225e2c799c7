// Package ir is sqc's model IR: a graph of nodes over typed values.
//
// A Graph holds its inputs, its outputs and its nodes in topological order.
// Every edge is a *Value with a static Type (dtype, shape, layout); a value
// whose Const field is set is a constant (an ONNX initializer, a folded
// subgraph, a packed weight). Values also carry the facts the INT8 and 2:4
// passes establish: quantization parameters (Quant) and a structured-sparsity
// claim (Sparsity), both checked by the verifier.
//
// Operators are described by OpSchemas kept in a registry (Lookup, Register).
// A schema states the operator's arity and attributes and infers its output
// types; the same inference runs statically (shape inference, the verifier)
// and at run time in the reference executor (package ir/ref), where every
// input is concrete, so an op's shape rule is written once.
//
// Op names and semantics follow ONNX at its newest opset for the ops ONNX has
// (the frontend normalises older opsets: attributes that later became inputs
// arrive as inputs), so the ONNX operator documentation is also the
// documentation of these ops. Ops of sqc's own (fused and quantized kernels)
// are documented in their schemas.
//
// The textual form (.sqir) lives in package ir/sqir; the verifier is Verify.
package ir

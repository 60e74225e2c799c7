// Package onnxexport writes an IR graph as a standard ONNX model, so that a
// graph sqc has transformed (2:4-pruned weights, Q/DQ-quantized, with fused
// epilogues) can be run by any ONNX runtime, compared against one, or
// inspected in the usual tools.
//
// The IR's op names and semantics are ONNX's at its newest opset (package
// ir's documentation), so most nodes are written one to one: the same op,
// the same attributes (ir.Attr kinds map to ONNX attribute types; Cast's
// `to` already holds an ONNX type code), absent optional inputs as "" names,
// value names kept. Constants become initializers stored in raw_data (16-bit
// floats as their bit patterns), or in an external data file beside the model
// for tensors above Options.ExternalDataThreshold. Graph inputs and outputs
// carry their types, symbolic dims as dim_param; every other typed value is
// described in value_info.
//
// Ops of sqc's own (FusedConv, FusedGemm, Relayout, and those later packages
// add) are not ONNX: a decomposer registered with RegisterDecomposer rewrites
// each into ONNX nodes through an Emitter. This package registers the ones
// for the ops package ir defines; a package that defines a new op registers
// its own. An op that is neither ONNX nor has a decomposer is an error that
// names the node.
//
// The exporter writes opset 21 by default and accepts 13 to 21. Where the
// IR's newest-opset form of an op does not exist at the requested opset, the
// node is rewritten into the older form when that is exact (ReduceMean's
// axes input becomes the attribute, Split's num_outputs becomes a split
// input, Shape's start/end become a Slice, HardSwish becomes
// x·HardSigmoid(x) ...) and refused with an error naming the node otherwise.
// Quantization parameters and sparsity claims carried on values (ir.Value's
// Quant and Sparsity) have no ONNX form and are not written: the exported
// model computes what the graph's nodes say, QuantizeLinear and
// DequantizeLinear nodes included.
//
// Layouts (ir.Type's Layout) are not written either: ONNX values are in
// logical order, which is what IR shapes describe, so a graph input the IR
// declares NHWC is an NCHW input of the exported model.
//
// Encoding never modifies the graph, and graphs may be encoded concurrently.
// The same graph always gives the same bytes: nodes keep the graph's order,
// attributes are sorted, generated names are derived from the node they serve,
// and the protobuf encoding is deterministic.
package onnxexport

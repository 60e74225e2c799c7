// Package quantize is the quantize pass: post-training INT8 quantization of
// a float graph in explicit Q/DQ form. It inserts QuantizeLinear →
// DequantizeLinear pairs where TensorRT's Q/DQ placement recommendations put
// them ("Explicit Quantization" in the TensorRT developer guide, and the
// Q/DQ placement of NVIDIA's pytorch-quantization toolkit, whose
// sparsity + INT8 workflow this follows):
//
//   - at the data input and the weight input of every quantizable layer,
//     Conv, Gemm, MatMul and the fused FusedConv and FusedGemm, and nowhere
//     else: a Q/DQ pair marks where a tensor may be int8, and the layer's
//     output precision is then decided by whoever reads it (the next
//     layer's input quantizer), so that TensorRT (and lower-int8) can fuse
//     the output quantization into the layer;
//   - at the residual input of an Add that a convolution's output feeds (or
//     the residual input R of a FusedConv or FusedGemm), so that conv + add
//     fuses into one INT8 kernel whose residual is int8 (the "residual
//     quantizer" of the sparsity-INT8 workflow);
//   - never at a graph output (network outputs stay float), and not around
//     ops that commute with quantization (MaxPool, Relu, Concat, Reshape and
//     the other data-movement ops): their inputs and outputs share a scale,
//     and lower-int8 moves each Q/DQ through them, so that they run on int8
//     between two quantized layers without a quantizer of their own.
//
// Activations are quantized per tensor, symmetrically, to int8 with zero
// point 0 and the scale the calibrate analysis chose (Range.Scale =
// amax/127; the pass Requires the analysis, so a recipe runs calibrate
// first). A value read by several quantized layers gets one Q/DQ pair that
// all of them read: the residual of a ResNet block and the next block's
// first convolution share the quantizer, as TensorRT requires for the
// residual add to fuse.
//
// Weights are quantized from their own values, symmetrically: per output
// channel (TensorRT's and pytorch-quantization's default for weights) with
// scale max|w[k]|/127, or per tensor with the per-tensor-weights option.
// The weight becomes an int8 constant, q = sat(rne(w / s[k])), read through
// a DequantizeLinear. A zero weight quantizes to 0, so a 2:4 sparsity claim
// on a float weight (the prune pass's) holds for the int8 weight too, and
// the claim moves to it: prune then quantize keeps every mask.
//
// Options: ops (which layer types to quantize: Conv, Gemm, MatMul,
// FusedConv, FusedGemm and Add-residual for the residual quantizer),
// per-tensor-weights, and skip (a selector of layers to keep in float, as
// TensorRT users leave a sensitive first or last layer in higher
// precision). Per-layer overrides of per-tensor-weights and skip apply.
//
// Products that feed an addition are rounded explicitly (float64(x*y),
// float32(x*y)) so that Go cannot fuse them into one multiply-add on arm64 or
// with GOAMD64=v3: the same data gives the same scales and biases on every host (the rule
// of ir/ref's package doc; cmd/sqc's TestNoImplicitFusedMultiplyAdd checks it).
package quantize

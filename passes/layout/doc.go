// Package layout is the assign-layout pass: it chooses the physical memory
// order of the activations and convolution weights, for the INT8 Tensor
// Core backend, which computes convolutions in NHWC.
//
// Why NHWC: an implicit-GEMM convolution reduces over C·R·S. With channels
// innermost, the C elements of one input pixel are contiguous, so each
// thread block loads 16-byte vectors of one pixel's channels straight into
// the mma fragments; in NCHW the same loads stride across planes. cuDNN
// runs its Tensor Core convolutions in NHWC for this reason, and TensorRT's
// INT8 convolutions read channel-vectorized formats (kCHW4, kCHW32: vectors
// of 4 or 32 channels per pixel), with reformat layers inserted where a
// neighbouring layer needs another format.
// This pass does the same at the IR level, where the reformats are explicit
// Relayout nodes.
//
// Shapes stay logical: a value's Type.Shape is N×C×H×W whatever its layout,
// and Type.Layout only says how the backend stores it. The reference
// executor ignores layouts, so this pass never changes what a graph
// computes; Relayout's kernel is a copy.
//
// # What becomes NHWC
//
// Nodes fall into four kinds:
//
//   - anchors, the conv-family ops (Conv, FusedConv, ConvInteger,
//     QLinearConv) over 4-D data: their data input (and FusedConv's residual)
//     is NHWC and so is their output;
//   - layout-agnostic ops, which compute the same in either order as long as
//     all their 4-D operands share it: MaxPool (without its Indices output,
//     which ONNX defines as flat NCHW offsets), AveragePool,
//     GlobalAveragePool, GlobalMaxPool, BatchNormalization, the unary
//     elementwise ops and Cast, Clip, the binary ops Add, Sub, Mul, Div and
//     PRelu when every operand of rank below 4 is a scalar or a per-channel
//     vector (a 4-D constant operand is converted at compile time), Softmax
//     and LogSoftmax over the channel axis, QuantizeLinear and
//     DequantizeLinear per tensor or per channel (axis 1), Concat and Split
//     along the channel axis, a constant-mode Pad that pads only the channel axis and
//     a Slice of the channel axis alone with step 1 (the two ops the
//     pad-channels pass inserts);
//   - ops that read only the logical shape (Shape) or that are themselves
//     Relayouts, which take any layout;
//   - every other op (Reshape, Flatten, Transpose, Gather, Gemm, ...), which
//     reads memory order or is not layout-aware and so sees the default
//     layout, as do graph outputs.
//
// The nodes are visited once, in topological order. An anchor is NHWC. A
// layout-agnostic op is NHWC when at least as many of its computed 4-D
// operands are NHWC as are not (and at least one is): NHWC spreads from the
// convolutions through the pools, normalizations, activations, residual
// additions and concatenations between them, and an op joining an NHWC
// value with a default-layout one converts the minority. Whenever a value
// must be read in a layout it does not have, a Relayout is inserted before
// its first such reader and shared by all of them: at most one conversion per
// value and layout. Constants are never converted at run time: a constant
// read in another layout gets a copy annotated with that layout (or is
// re-annotated in place when nothing else reads it).
//
// A graph output keeps its name and the default layout: when the value it
// names is NHWC, the node's NHWC result takes a new name and a final
// Relayout produces the output. Graph inputs keep the layout they are given;
// with input-layout=NHWC, every 4-D graph input that an anchor or a
// layout-agnostic op reads directly is declared NHWC instead (the caller then
// supplies channels-last data and no conversion follows the input).
//
// # Weights
//
// With weight-layout=OHWI (the default), an anchor's weight is annotated
// OHWI: K×R×S×C, so that a filter's reduction dim C·R·S is contiguous in the
// order the NHWC input is read. A constant weight is annotated (or copied),
// and so is a chain of QuantizeLinear/DequantizeLinear nodes over a constant
// (quantized per tensor or along the output channels), as QAT exports
// write, when all its values feed only conv weights; any other weight gets a
// Relayout to OHWI. weight-layout=OIHW leaves weights in the logical order.
//
// The pass decides the layout of every node output afresh (graph inputs and
// constants keep the layouts they have), so it owns those annotations: a
// layout another pass left on a node output is replaced. It is idempotent:
// a second run finds every value in the layout its readers want, treats the
// Relayouts of the first as conversions already made, and changes nothing.
package layout

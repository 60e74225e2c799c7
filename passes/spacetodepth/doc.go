// Package spacetodepth is the space-to-depth pass: it turns a strided INT8
// convolution of few channels (an RGB stem) into a stride-1 convolution of
// more channels over the SpaceToDepth of its input, so that the GPU's
// implicit-GEMM kernel reads 16-byte chunks of a pixel's channels instead
// of 4 bytes a tap.
//
// The identity it rests on, per spatial axis: a stride-s convolution with
// kernel K and begin padding p reads, for output o and tap k ∈ [0,K), the
// input i = s·o − p + k. Round the padding up to a multiple of the stride,
// p' = ⌈p/s⌉·s, e = p' − p, and shift the taps by e: with k' = k + e =
// s·a + b (0 ≤ b < s), i = s·(o − p'/s + a) + b. The SpaceToDepth of the
// input with block size s, Z[(bh·s + bw)·C + c][v][u] = X[c][s·v + bh][s·u
// + bw] (ONNX's channel order), therefore holds every tap a block at a time,
// and the convolution becomes a stride-1 one over Z with kernel K' =
// ⌈(K + e)/s⌉, begin padding p'/s, the end padding that keeps the output
// size, and the weight W'[m][(bh·s + bw)·C + c][ah][aw] = W[m][c][s·ah + bh
// − eh][s·aw + bw − ew], zero where that tap falls outside [0,K). This is
// how MLPerf's ResNet-50 submissions and TensorRT run the 7×7/2 stem on 3
// channels: as a 4×4/1 convolution on 12 channels (which pad-channels then
// pads to 16).
//
// For sqc's QConv the rewrite is exact: an input position the new conv
// reads from its padding lies in the old conv's padding (or is a tap W'
// adds), padding contributes (zx − zx)·w = 0 in both, and every tap W' adds
// has weight 0, so each int32 sum is the same set of non-zero products and
// every output bit is unchanged. M, B, R, MR, the activation and the output
// value stay as they are; the SpaceToDepth's output carries the input's
// quantization.
//
// A QConv is rewritten when it has group 1, equal strides s ≥ 2, dilations
// 1, a 4-D input of static height and width divisible by s, at most
// max-channels (default 4) input channels, a constant int8 weight without a
// sparsity claim (the rearranged weight would not keep a 2:4 pattern), and
// neither value laid out yet (run it before assign-layout). Every other QConv
// is left alone and counted, by reason, in the pass statistics. A rewritten
// conv keeps its name and output and gets the note space-to-depth, for
// example "7×7/2 on 3 channels → 4×4/1 on 12". An input read by several
// rewritten convs with one stride is rearranged once, by the SpaceToDepth
// "<conv>/space_to_depth" of the first.
//
// The shipped INT8 recipes run it after lower-int8 and right before
// pad-channels.
package spacetodepth

// Package padchannels is the pad-channels pass: it pads the channel counts
// of convolutions to the multiples the INT8 Tensor Core kernels need.
//
// An INT8 mma instruction reduces over K = 32 elements (mma.sync.m16n8k32.s8;
// 64 for the sparse mma.sp.m16n8k64), each thread holding 4 consecutive int8
// values of K in one 32-bit register, and the implicit-GEMM loaders of an
// NHWC convolution move 4-byte (and wider) vectors of one pixel's channels:
// both need the input-channel count C to be a multiple of a small number.
// TensorRT pads the same way: its INT8 formats kCHW4 and kCHW32 store each
// pixel's channels in vectors of 4 or 32, ⌈C/4⌉·4 or ⌈C/32⌉·32 of them. The
// typical case is the first convolution of an image network, whose 3 RGB
// channels become 4.
//
// For a Conv or FusedConv with group 1 whose input has C channels, C not a
// multiple of the multiple option (default 4), the pass inserts
//
//	Pad "<conv>/pad_channels" (x, pads) {mode = "constant"}
//
// which appends C'−C zero channels (pads is a constant i64 vector, zero but
// for the end of axis 1), and gives the conv a weight with C'−C zero input
// channels appended. The extra products are 0·0, so the conv's output is
// unchanged (exactly; a float implementation may still sum the unchanged
// products in another order and round differently), and so is its value
// identity: readers see nothing new. The
// original channel count is recorded by the Pad node (its name ends in
// /pad_channels and its input has C channels) and in the pass statistics;
// the conv schemas gain no attribute for it.
//
// The new weight is always a new value: a constant weight gets a padded copy
// (the original, possibly shared with another conv, is never modified); a
// DequantizeLinear of a constant (per tensor, or per output channel) gets a
// padded copy of its integer data filled with the zero point, so that the
// padded entries dequantize to exactly zero, under a new DequantizeLinear; any
// other weight is padded by a Pad node.
//
// With out-multiple > 1 (default 1: off), a conv whose K output channels are
// not a multiple gets K'−K zero filters (and zero bias entries); it then
// produces K' channels, and a Slice "<conv>/slice_channels" of channels
// 0..K produces the conv's original output value, so downstream sees the
// original shape. A FusedConv's residual input is padded with zeros to K'
// channels too (the extra channels are sliced off).
//
// Grouped convolutions (group > 1, depthwise included) are left alone:
// padding their input would shift every later group's channels, so their
// weights would need interleaved padding per group. They are counted in
// the statistic "convs left alone: grouped (group > 1)", and convs whose
// channel counts are not static in "convs left alone: channel count unknown".
//
// A value read by several convs is padded once, and so is a weight they
// share.
//
// The shipped INT8 recipes run the pass after lower-int8, so it also pads
// sqc's QConv (input channels only): the int8 input's new channels hold its
// zero point (real 0; the Pad's constant_value) and the int8 weight's new
// channels hold 0, so every added product is (zx−zx)·0 and the QConv's
// int32 sums, and every output bit, are unchanged. This is what puts an RGB
// stem on the implicit-GEMM kernel's 4-channel path instead of an im2col
// matrix (backend/ampere). Above 8 channels a QConv's input is padded to a
// multiple of 16 (the kernels' 16-byte chunks; 4 and 8 channels they read as
// whole taps). A QConv's output channels are never padded
// (out-multiple skips it): the INT8 kernels pad their channel tiles
// themselves. ConvInteger and QLinearConv are left alone.
//
// Run it before assign-layout: the layout pass treats the channel-only Pad
// and Slice this pass inserts as layout-agnostic, so they stay NHWC. Run
// after it, new values take the layouts of the values they pad.
package padchannels

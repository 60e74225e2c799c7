// Package foldbn folds inference-time BatchNormalization into the
// convolution or Gemm that feeds it (pass fold-batchnorm).
//
// At inference BatchNormalization is a per-channel affine map,
// y = (x − μ)·γ/√(σ² + ε) + β, and a Conv, ConvTranspose or Gemm is linear
// in its weights, so the two compose into one op with rescaled weights and
// a new bias. With s[k] = γ[k]/√(σ²[k] + ε) for output channel k:
//
//	W'[k] = W[k]·s[k]
//	B'[k] = (B[k] − μ[k])·s[k] + β[k]       (B = 0 when the conv has none)
//
// This is the rewrite of PyTorch's torch.nn.utils.fusion.fuse_conv_bn_eval
// and of TensorRT's and ONNX Runtime's conv + batch-norm fusion. The factors
// are computed in float64 and the new constants stored in the weight's
// dtype (float32 in practice), so folding costs one rounding per weight.
//
// Which output channel a weight element belongs to depends on the op: the
// first dim of a Conv weight (M × C/group × K…); for ConvTranspose, whose
// weight is C × M/group × K…, channel (c / (C/group))·(M/group) + j of
// element [c, j, …]; for Gemm, whose BatchNormalization input is N × C
// with C the columns, column j of op(B) (a column of B, or a row when
// transB is set), and the new C is (beta·C − μ)·s + β broadcast to one value
// per column (or per element when C is M × N or M × 1), with beta then 1.
//
// A BatchNormalization folds only when its input is the only use of the
// producer's output (which is not a graph output) and the weights, the bias
// and the four normalization parameters are constants. Weights shared with
// another node are copied, never changed in place: a constant value is
// replaced by a new one, which also leaves any other holder of the old
// tensor intact. A BatchNormalization that stays is counted under a
// "not folded: <reason>" statistic so that a user can see why a model
// kept one. The producer's output takes over the normalization's readers;
// when the normalization's output is a graph output the producer's output
// takes its name, since callers bind results by name.
//
// An explicitly quantized weight, as a QAT export writes it (an int8
// constant behind a DequantizeLinear with a constant per-tensor or
// per-output-channel scale and zero point 0), is not dequantized and
// requantized: its integers stay and the factor moves into the scale,
// scale'[k] = |scale[k]·s[k]|, with the channel's integers negated where
// s[k] < 0 (exact in int8 unless one is −128, which leaves the
// normalization unfolded with its reason). This is TensorRT's BN folding
// into a Q/DQ convolution; the trained integers, their 2:4 zeros and the
// activation scales are the model's own.
//
// Products that feed an addition are rounded explicitly (float64(x*y),
// float32(x*y)) so that Go cannot fuse them into one multiply-add on arm64 or
// with GOAMD64=v3: the same data gives the same folded weights on every host (the rule
// of ir/ref's package doc; cmd/sqc's TestNoImplicitFusedMultiplyAdd checks it).
package foldbn

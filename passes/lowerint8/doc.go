// Package lowerint8 is the lower-int8 pass: it turns a graph quantized in
// Q/DQ form (QuantizeLinear and DequantizeLinear around float operators, as
// the quantize pass inserts them and as QAT exports and ONNX Runtime's
// quantizer write them) into sqc's INT8 ops QConv and QGemm
// (ir/ops_qint8.go), whose arithmetic the reference executor defines and
// the GPU backend reproduces bit for bit.
//
// This is what TensorRT does with an explicitly quantized network: Q/DQ
// nodes mark where tensors are int8, DequantizeLinear nodes are propagated
// forward and QuantizeLinear nodes backward through ops that commute with
// them, and a weighted layer with a DQ on its data and weight inputs and a
// Q on its output becomes one INT8 kernel ("Q/DQ layer fusion", TensorRT
// developer guide, "Explicit Quantization"). The pass works in five steps.
//
// 1. QOperator forms become Q/DQ form, so that every source reaches the
// same patterns: QLinearConv(x, sx, zx, w, sw, zw, sy, zy, B) becomes
// Q(Conv(DQ(x), DQ(w), DQ(B with scale sx·sw)), sy, zy) and QLinearMatMul
// likewise; ConvInteger and MatMulInteger followed by Cast to float and a
// Mul by the constant scale product S (what ONNX Runtime's old quantizer
// wrote) become Conv or MatMul of DQ(x, sx, zx) and DQ(w, S/sx, zw), sx
// being the scale of the QuantizeLinear that produced x.
//
// 2. Normalization. QuantizeLinear of a float constant is folded into an
// integer constant. Unsigned 8-bit tensors become signed: a u8 tensor q with
// zero point z and the i8 tensor q − 128 with zero point z − 128 stand for
// the same real numbers, and a QuantizeLinear to u8 saturates to [0, 255]
// exactly where one to i8 with the shifted zero point saturates to
// [−128, 127], so the rewrite is exact; it is made where a u8 value is read
// only by DequantizeLinear nodes. Every int8 value a QuantizeLinear or
// DequantizeLinear describes gets its ir.Value.Quant.
//
// 3. Commuting. Ops that only move or select elements (Reshape, Transpose,
// Flatten, Squeeze, Unsqueeze, Slice, Split, Concat, MaxPool,
// GlobalMaxPool, Identity, and Pad in edge or reflect mode, or in constant
// mode when the pad value is exactly a code's value, 0 usually, which
// pads with that code) commute with a per-tensor DequantizeLinear:
// op(DQ(q)) = DQ(op(q)), exactly, because DQ is applied element by element
// and is increasing (MaxPool's maximum commutes with it; padding is −∞ in
// float and −128 in int8, never chosen either way). Relu commutes too when
// the zero point is 0. DQ nodes are sunk through such ops (Concat needs the
// same parameters on every input), and QuantizeLinear nodes are hoisted
// above them (Q(op(v)) = op(Q(v)) for the same reasons; when op's output
// has several readers, all must be QuantizeLinear nodes of the same
// parameters, which then read the one hoisted value), so that int8 data
// stays int8 through them and a Q meets the layer that produces its input.
// A Q that meets a DQ with the same parameters cancels: Q(DQ(q)) = q,
// because float32((q − z)·s) / s rounds back to q − z for every 8-bit q.
//
// 4. Fusion. An anchor, Conv, FusedConv, Gemm, FusedGemm or a MatMul of a
// [...,K] data input (rank 2 or more: leading dims are a batch of rows) by
// a 2-d [K,N] weight, whose data input is DQ of an int8 per-tensor value
// and whose weight is DQ of an int8 constant quantized per output channel
// or per tensor becomes a QConv or QGemm, absorbing along single uses
//
//	anchor → [Add constant bias]… → [Add DQ(residual)] → [Relu | Clip] → [Q]
//
// (a FusedConv or FusedGemm brings its own bias, residual and activation).
// The weight becomes an int8 constant with zero point 0 laid out output
// channels first ([N,K] for a Gemm): a zero point other than 0 is removed
// exactly when every w − z fits in int8, and otherwise the weight is
// requantized symmetrically per channel from its dequantized values (noted
// on the node). A float bias becomes int32 in units of sx·sw[k],
// rne(b / float32(sx·sw[k])); a DQ'd int32 bias whose scale is exactly that
// is taken as it is. A float bias that, with the largest sum the
// accumulator can reach, would not fit int32 (a tiny input scale) is not
// clipped: the op writes float and the bias Add, the activation and the
// QuantizeLinear follow it as float ops, as for a float residual below. The multipliers M (and MR for a residual) are computed
// here, once. When the chain ends in a QuantizeLinear that is the only
// reader of its input, the fused op writes that int8 value; otherwise it
// writes the float value the chain produced (a classifier's logits) and
// whatever read it still does. A fused layer whose residual is float (a
// QAT export quantizes convolution inputs, not the skip connection) still
// lowers: the QConv/QGemm writes float, and the residual Add and the
// activation follow it as float ops, where TensorRT places them for an
// unquantized residual. A 2:4 sparsity claim on the weight stays on the
// int8 weight the fused op reads (moved to axis 1 when a [K,N] MatMul
// weight is transposed to [N,K]).
//
// 5. Clean-up: nodes nothing reads any more are removed and the nodes are
// put back in topological order. Whatever did not match stays as it was:
// float ops between Q/DQ boundary converters compute what they always did.
//
// Options: skip (a selector of anchors to leave in float, by node name or
// op) and float-outputs (false keeps a layer whose result is not
// quantized in Q/DQ float form instead of giving it a float32 output).
package lowerint8

// Package prune is the prune pass: it makes the weights of Conv, FusedConv,
// Gemm, FusedGemm and MatMul layers N:M structured-sparse (2:4 for the
// sparse Tensor Core instructions mma.sp) along their reduction dimension,
// and claims the pattern on the weight (ir.Value.Sparsity), which the
// verifier checks against the data after every later pass.
//
// The pattern, as NVIDIA's Ampere sparse Tensor Cores read it: in every
// group of M consecutive weights along the reduction at most N are non-zero.
// For a Conv weight K × C × R × S that is M consecutive input channels c at
// each (k, r, s) (Sparsity.Axis 1); for Gemm the inner dimension of op(B)
// (axis 1 of B with transB, else axis 0); for MatMul axis 0 of its 2-D
// constant B. A weight behind a DequantizeLinear of a constant (and a
// QuantizeLinear of a float constant: fake quantization), quantized per
// tensor or per output channel with zero point 0, is pruned in its stored
// constant, so the zeros survive (de)quantization.
//
// # Masks
//
// method = magnitude keeps the N largest |w| of each group: apex ASP's
// m4n2_1d mask (NVIDIA apex, apex/contrib/sparsity/sparse_masklib.py), the
// mask of the ASP recipe of Mishra et al., "Accelerating Sparse Deep Neural
// Networks" (2021), which then fine-tunes. method = auto (the shipped
// sparse-int8 recipe's) is sparsegpt when the data option names calibration
// data and magnitude otherwise; the layer's note says which ran. method =
// sparsegpt chooses the
// mask from calibration data and updates the remaining weights to
// compensate, in one shot without fine-tuning (package sparsegpt; Frantar &
// Alistarh, 2023): it runs the calibration samples (option data, read by
// internal/dataset) through the graph, collects each layer's input Hessian
// (im2col rows for a conv) and prunes the layer. With sequential (the
// default, as in the paper) layers are pruned in waves, each calibrated on
// the outputs of the layers already pruned, so later layers compensate for
// the error of earlier ones; otherwise every layer sees the dense model's
// activations.
//
// A weight that already follows the pattern exactly (a model pruned with
// ASP, fine-tuned and exported has exact zeros) keeps its mask and values:
// its note says "existing mask". method = existing changes no weight at
// all: such layers are claimed and every other one stays dense (the
// seed workflow's QAT export, whose int8 weights and scales must stay as
// trained). With require-existing, a weight that does
// not is an error naming the layer, the weight and the first offending
// group. A weight shared by several layers is pruned once.
//
// # Eligibility
//
// Every candidate layer gets a note (key "sparsity", printed by sqir and
// shown by sqc inspect): "2:4 (magnitude, kept 71.3% of |w|)" or
// "dense: <reason>". The rules, in the order they are checked:
//
//   - skip: layers the skip selector picks;
//   - what the op can't do: a non-constant weight, depthwise or grouped
//     convolution (the sparse kernels are group 1), a batched MatMul weight,
//     a weight quantized along its reduction or with a non-zero zero point;
//   - first-layer and last-layer: the layers with no other weighted layer
//     between them and the graph's inputs (resp. outputs). Both default to
//     skip. apex ASP has no such rule: it skips a weight whose output count
//     is not a multiple of 8 or whose input count (C for a conv) is not a
//     multiple of 16, which in practice leaves the first conv (3 input
//     channels) dense, and it prunes the classifier. sqc skips the
//     classifier too by default: it is usually narrow (a GEMV at batch 1,
//     where sparse kernels gain nothing) and the most sensitive layer;
//     recipes that want it set last-layer = prune;
//   - min-out-channels (default 64) and out-channel-multiple (default 32):
//     the sparse operand of mma.sp is the A (M×K) operand, so output
//     channels are the M of the weight tiles: below one 64-channel block
//     tile a layer's sparse kernel runs half-empty warps and loses the
//     1.47× instruction speed-up to tile overhead (library sparse kernels
//     lose to dense ones on narrow CNN GEMMs, DESIGN.md), and a count that
//     is not a multiple of 32 leaves a partial warp tile. The floor was 128
//     until the halo-tile kernel: on an H100 at batch 256 ResNet-34's
//     64-channel 3×3 layers run 1.26× faster on 2:4 than dense, and the
//     whole engine 1.05× faster with them pruned (3.25 against 3.40 ms;
//     backend/ampere/NOTES.md). The accuracy study's recipe
//     sets both to prune every layer whose reduction allows it;
//   - a reduction whose length is not a multiple of M is padded when it can
//     be (pad, default true): a Pad appends zero channels to the input and
//     zero inputs to the weight, so that the last group holds the padding;
//     a quantized weight or an input whose channel count is unknown can't
//     be, and the layer stays dense.
//
// # Channel permutation
//
// With permute, the input channels of the layers are reordered before the
// masks are chosen, so that each group of M holds channels whose large
// weights fall in different rows and a mask keeps more of the magnitude:
// Pool & Yu, "Channel Permutations for N:M Sparsity" (NeurIPS 2021), apex
// ASP's permutation search. The order must be the same for every layer
// reading the channels and the producers of those channels must emit them
// in it, so the pass finds the channel domain (package permute): it follows
// the channels from a layer's input back through per-channel ops (Relu and
// other activations, pools, BatchNormalization, elementwise ops with
// per-channel constants, residual Adds, a Flatten of a 1×1 map) to the
// layers that produce them, and forward to every layer that reads them,
// permutes the producers' filters and biases, the consumers' weights and
// every per-channel constant in between, so the graph computes the same
// function. A domain that reaches anything else (a graph input or output,
// Concat, Reshape, a grouped conv) is not permuted, and its layers' notes
// (key "permute") say why; otherwise they give the kept share before and
// after.
//
// # Later passes
//
// The claim is on the constant and the zeros are in its data, so passes
// that rewrite weights keep it if they keep zeros: fold-batchnorm scales
// output channels (its new constant copies the claim), pad-channels appends
// zero channels and filters (same), assign-layout only annotates. The
// verifier re-checks the claim against the data after every pass when
// asked, so a pass that breaks it is caught where it runs.
package prune

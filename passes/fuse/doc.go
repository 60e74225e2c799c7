// Package fuse fuses a convolution or matrix product with its epilogue
// (pass fuse-epilogue): the bias, an optional residual addition and an
// optional activation become one FusedConv or FusedGemm node (ops of sqc's
// own, ir/ops_fused.go), which the backend runs as one kernel that applies
// the epilogue to its accumulators before writing them out. This is the
// epilogue fusion of TensorRT's "conv + (bias) + (add) + relu" layers and
// of CUTLASS's fused epilogues; it saves a round trip through memory per
// fused op, which for INT8 layers is most of their time.
//
// The pattern, from an anchor along single uses:
//
//	anchor → [Add constant bias]… → [Add residual] → [Relu | Clip]
//
// Anchors are Conv, Gemm, MatMul of a 2-d A by a constant 2-d B (which
// becomes a FusedGemm), and FusedConv/FusedGemm nodes without an activation
// (so the pass can run again and extend what it fused). A constant bias
// folds into the conv's bias or the Gemm's C: for a conv it must be the
// same for every position of a channel (shape [M,1,1], [1,M,1,1], a scalar
// …); for a Gemm it must broadcast to the result. The residual is a
// computed (not constant) value with the output's exact shape: the fused
// kernel adds it element by element and never broadcasts. It is added
// before the activation, as ResNet does: relu(bn(conv(x)) + identity).
// Relu becomes activation "relu", Clip with constant (or absent) bounds
// becomes "clip" with clip_min and clip_max (Relu6 is clip 0..6; Clip with
// min 0 and no max is relu).
//
// Every intermediate value must have exactly one user, the next node of
// the pattern, and must not be a graph output; the pattern's last value
// keeps its identity (its name, its readers, its place among the graph
// outputs) and is simply produced by the fused node, which takes the place
// of the pattern's last node in the node order. Everything the fused node
// reads is defined by then: the anchor's inputs precede the anchor, and the
// residual precedes the Add that read it.
//
// When both operands of an Add are convolutions that could absorb it (in a
// ResNet downsampling block, the main path and the 1×1 projection) the Add
// goes to the deeper one, the one with more nodes on its longest path from
// the graph's inputs (of two as deep, the later in graph order), and the
// other's output is the residual, computed before the fused node starts.
// The shallower one is then a branch of its own: the projection reads only
// the block's input, so an engine can run it beside the main path's first
// convolution (the Ampere runtime does, on a second stream) instead of after
// the main path, as it must when it takes the Add.
package fuse

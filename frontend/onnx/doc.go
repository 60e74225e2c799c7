// Package onnx reads ONNX models and lowers them to sqc's IR. It is the only
// package that knows ONNX.
//
// Reading happens in two steps. Load (or Decode, for bytes) parses the
// protobuf with Go types generated from ONNX's onnx.proto3
// (internal/onnxpb), checks the opset imports (the default domain at opset
// MinOpset to MaxOpset, that is 1 to 21; files older than opset_import are
// opset 1; other domains may be imported, and nodes of them are reported by
// Lower as unsupported ops) and decodes every initializer, whatever its
// storage: raw_data, the
// typed fields, or external data resolved next to the model file (never
// outside its directory). Lower then translates the main graph: graph inputs
// become IR inputs (initializers listed as inputs, as old exporters wrote
// them, stay constants; symbolic dims become ir.SymDim), initializers and
// Constant nodes become constant values, and each node becomes the IR node of
// the same op, name and attributes. Import does both.
//
// The IR follows ONNX at its newest opset, so Lower normalises every older
// version of the ops it supports, following each version's operator
// documentation: attributes that later opsets turned into inputs (Reshape's
// shape, Slice's starts/ends/axes, Clip's min/max, Split's split,
// Squeeze/Unsqueeze's and ReduceMean's axes, Pad's pads, Pad-1's paddings
// and value) become constant inputs; attributes with no effect in inference
// (opset 1's consumed_inputs, momentum, Gemm's broadcast, Dropout's ratio)
// are dropped; the legacy broadcasting of opsets 1 to 6 (Add/Sub/Mul/Div's
// broadcast and axis, PRelu's per-channel slope) is rewritten to numpy
// broadcasting; defaults that changed are made explicit (Concat-1's axis 1,
// Clip-6's ±FLT_MAX bounds); Cast-1's type name becomes the type code;
// BatchNormalization's spatial=0 is folded to Mul and Add; and
// Softmax/LogSoftmax before opset 13, which normalise over all dims from
// axis on, become Flatten, the op along axis 1, and a Reshape back, unless
// the two meanings agree. Auxiliary nodes and values are named
// "<node>/<suffix>". Training mode (is_test=0, the default before opset 7;
// training_mode) of BatchNormalization and Dropout is an error, as is an op
// used in an opset older than the one that introduced it, and any old form
// with no exact equivalent; such errors name the node, the op and the
// opset.
//
// The file's node order is kept when it is topological, as ONNX requires;
// otherwise the nodes are sorted. Unnamed nodes are named "<OpType>_<index>"
// and duplicate names get a suffix; value names are kept exactly as written.
// After lowering, ir.InferShapes and ir.Verify run on the graph, and dims a
// graph output's declaration states but inference could not know are taken
// from the declaration.
//
// Errors start with the model's path when it was loaded from a file, name
// the node, tensor or value at fault, and say what was expected:
//
//	model.onnx: node "nms": unsupported op NonMaxSuppression (opset 13)
//	model.onnx: initializer "w": 20 bytes of data, want 24 (6 f32 elements of shape [2 3])
//
// No input bytes make the package panic (FuzzDecode checks this).
//
// ReadTensorFile, DecodeTensor and EncodeTensor read and write single
// TensorProtos, the format of ONNX's test_data_set files. Package onnxbuild
// writes small ONNX models for tests.
package onnx

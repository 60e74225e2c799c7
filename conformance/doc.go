// Package conformance holds tests only: it checks the ONNX frontend and the
// reference executor against work nobody on this project wrote.
//
//   - onnx_test.go runs the ONNX operator conformance suite (Debian's
//     libonnx-testdata: the node, pytorch-converted, pytorch-operator and
//     simple test directories) through frontend/onnx and ir/ref, at the
//     suite's own tolerance. A test whose model uses an op sqc does not
//     support is not applicable and is only counted; a test that fails for a
//     known, accepted reason is listed with that reason in exclusions.txt,
//     and the harness fails when that list stops being true (a listed test
//     that is missing, not applicable, or passes).
//   - models_test.go runs the real models in ../shared (ONNX zoo MNIST and
//     super-resolution) against their reference input/output pairs and
//     measures MNIST top-1 accuracy on the 10,000 test images.
//
// Without the test data the tests skip, except when CI=true, where missing
// data is a broken set-up and fails.
package conformance

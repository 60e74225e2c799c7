// Package calibrate is the calibrate analysis: it runs a float graph on
// calibration data with the reference executor (ir/ref) and chooses, for
// every activation, the range [-amax, amax] that symmetric int8
// quantization will map onto [-127, 127]. The quantize pass reads the
// result (a *Result, see result.go) through Requires.
//
// # Collection
//
// Activations are never stored. Each observed tensor is folded into a
// Histogram of |x| (Bins bins over [0, R), R a power of two above the
// largest |x| so far) plus its min, max and largest magnitude; when a larger
// value arrives, R doubles and pairs of bins merge. Because the bin
// boundaries of range 2R are boundaries of range R too, one pass over the
// data gives exactly the histogram that two passes (the first to find amax,
// as TensorRT does) would give at the final range: results do not depend on
// batching or order (so two batches run at once, folding into the same
// histograms), and memory is values × Bins counters whatever the number of
// samples.
//
// # Calibrators
//
//   - max: the largest |x| seen.
//   - percentile: the upper edge of the histogram bin where the cumulative
//     share of |x| reaches the percentile (default 99.99).
//   - entropy: TensorRT's IInt8EntropyCalibrator2 algorithm as Szymon
//     Migacz presented it in "8-bit Inference with TensorRT" (GPU Technology
//     Conference 2017): the threshold whose 128-level quantization of the
//     clipped distribution (outliers folded into the last kept bin) loses
//     the least information, measured by the KL divergence from the
//     reference distribution (see EntropyThreshold).
//   - mse: the threshold minimising the expected squared quantization error
//     (clipping error beyond it, rounding error inside), from the histogram.
//   - auto (the default): for every value a quantizer will read (the
//     inputs of Conv, Gemm, MatMul, their fused forms and Adds), each
//     distinct threshold of the four above is tried on samples held out of
//     the histograms (the last auto-samples of the data, at most a
//     quarter) with only that value fake-quantized, the rest float, and the
//     threshold with the least relative squared error Σ(y_q − y)² / Σ y²
//     wins. No single calibrator is right for every tensor: entropy clips
//     mnist_burn's first Relu, whose background pixels make one spike per
//     channel, and top-1 falls from 99.16 % to 72 %; max wastes levels on
//     rare outliers. The choice and
//     every candidate's error go into the result (Range.Method, Error,
//     Errors), the cache and the quantize pass's per-layer notes. Values no
//     quantizer reads take mse's threshold unmeasured. By default
//     (auto-error = layer) the error is measured at the quantizable layers
//     that read the value, each rerun alone on its held-out inputs, which
//     costs about one forward pass per candidate (the reruns share the
//     cores and overlap the forward pass; each error is summed alone, in the
//     same order on any number of cores); auto-error = output
//     measures at the network's outputs instead, one forward pass per value
//     and candidate. The held-out batches stay in the result
//     (Result.HeldOut) for the quantize pass's layer sensitivity.
//
// # Data and cache
//
// Samples come from internal/dataset (.npy, .npz, IDX, ONNX .pb tensors,
// JPEG/PNG folders with torchvision-style preprocessing), batched and in a
// deterministic order. A calibration cache file (see Cache for the format;
// version 2, version 1 files still read) records the ranges, with the
// calibrator of each and auto's measured error, the hash of the graph
// (GraphHash), the hash of the data and the method: a later compile with
// the same graph reuses it
// instead of running the data again, with or without the data at hand. A
// cache that does not match is refused with a message naming what differs
// when no data is given, and replaced by a fresh calibration when data is.
//
// Progress (samples done) goes to the pass manager's passes.Progress, which
// the tool renders; notes go to Output (standard error).
//
// Products that feed an addition are rounded explicitly (float64(x*y),
// float32(x*y)) so that Go cannot fuse them into one multiply-add on arm64 or
// with GOAMD64=v3, and the entropy calibrator's logarithms are fmath.Log,
// not math.Log (assembly on amd64, Go elsewhere: the last bits differ): the
// same data gives the same ranges on every host (the rule of ir/ref's package
// doc; cmd/sqc's TestNoImplicitFusedMultiplyAdd checks the products).
package calibrate

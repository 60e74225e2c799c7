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
// batching or order, and memory is values × Bins counters whatever the
// number of samples.
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
//
// # Data and cache
//
// Samples come from internal/dataset (.npy, .npz, IDX, ONNX .pb tensors,
// JPEG/PNG folders with torchvision-style preprocessing), batched and in a
// deterministic order. A calibration cache file (see Cache for the format)
// records the ranges with the hash of the graph (GraphHash), the hash of
// the data and the method: a later compile with the same graph reuses it
// instead of running the data again, with or without the data at hand. A
// cache that does not match is refused with a message naming what differs
// when no data is given, and replaced by a fresh calibration when data is.
//
// Progress (samples done) goes to the pass manager's passes.Progress, which
// the tool renders; notes go to Output (standard error).
package calibrate

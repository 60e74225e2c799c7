//go:build !amd64 && !arm64

package ref

// sgemmExtraKernels: only amd64 and arm64 have assembly kernels; elsewhere
// the portable one is the only one.
func sgemmExtraKernels() []sgemmMicro { return nil }

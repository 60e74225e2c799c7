//go:build !amd64

package ref

// sgemmExtraKernels: only amd64 has assembly kernels; elsewhere the
// portable one is the only one.
func sgemmExtraKernels() []sgemmMicro { return nil }

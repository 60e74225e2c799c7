// Package gputest holds the Ampere backend's tests that need a GPU: the
// driver wrapper (backend/ampere/cuda) against a real driver, the fragment
// layouts of backend/ampere/pack against the Tensor Core instructions
// themselves, the generated GEMM kernels (backend/ampere/kernels) bit for
// bit against the reference executor's QGemm and QConv (ir/ref), and
// their speed on ResNet-34's convolution GEMMs.
//
// Without a driver every test skips, so `go test ./...` passes on machines
// with no GPU. On the GPU machine, build here and run there (one binary,
// CGO_ENABLED=0, no CUDA toolkit needed to build it):
//
//	CGO_ENABLED=0 go test -c -o .gpu/ampere.test ./backend/ampere/gputest
//	.gpu/ampere.test -test.v                      # on the GPU machine
//	.gpu/ampere.test -test.v -ptxdir /tmp/ptx     # also write every module's PTX, for ptxas
//	.gpu/ampere.test -test.run Perf -test.v       # only the timings
//
// The package has no non-test code; this file only documents it.
package gputest

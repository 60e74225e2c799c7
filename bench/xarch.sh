#!/usr/bin/env bash
# Cross-architecture determinism: `sqc compile` must write the same bytes on
# every host. Go fuses x*y + z into one fused multiply-add (one rounding) on
# arm64 and on amd64 built with GOAMD64=v3, not on amd64 v1, so float code
# that does not round its products explicitly picks different scales per host.
#
# This builds sqc three times (linux/amd64 GOAMD64=v1, GOAMD64=v3, and
# linux/arm64, which runs under qemu-aarch64), compiles a matrix of models
# and recipes with each (engine, .sqir and .onnx outputs; SparseGPT, the
# auto, entropy and MSE calibrators, BatchNorm folding, QAT), and compares
# the outputs byte for byte. It then runs the packages' TestUnfused* tests
# (inputs where a fused multiply-add rounds differently) as arm64 binaries
# under qemu and natively with GOAMD64=v3. Exit status 1 if anything differs.
#
# Needs qemu-aarch64 and the arm64 loader (Debian: qemu-user,
# libc6-arm64-cross; sqc is dynamically linked for purego), ../shared, and a
# CPU with AVX2/FMA for the v3 columns (left out otherwise). Takes about 6
# minutes on two cores, most of it under qemu.
# Usage: bench/xarch.sh [OUTDIR]   (outputs kept there; default: a temp dir)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
out=${1:-$(mktemp -d)}
mkdir -p "$out"
sysroot=/usr/aarch64-linux-gnu
command -v qemu-aarch64 >/dev/null || { echo "xarch.sh: qemu-aarch64 is missing (Debian: qemu-user)" >&2; exit 2; }
[ -e $sysroot/lib/ld-linux-aarch64.so.1 ] || { echo "xarch.sh: $sysroot is missing (Debian: libc6-arm64-cross)" >&2; exit 2; }
shared=$repo/../shared
[ -d "$shared/models" ] || { echo "xarch.sh: $shared/models is missing" >&2; exit 2; }

echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(go version | cut -d' ' -f3), $(qemu-aarch64 --version | head -1)"
echo "outputs in $out"

hosts=(amd64-v1 amd64-v3 arm64)
for h in "${hosts[@]}"; do
	arch=${h%%-*} level=${h#*-}
	[ "$arch" = arm64 ] && level=v1
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOAMD64=$level go build -trimpath -o "$out/sqc-$h" ./cmd/sqc
done
if ! "$out/sqc-amd64-v3" --version >/dev/null 2>&1; then
	echo "this CPU cannot run GOAMD64=v3 binaries: the amd64-v3 column is left out"
	hosts=(amd64-v1 arm64)
fi
run() { # run HOST ARGS...
	local h=$1
	shift
	if [ "$h" = arm64 ]; then
		qemu-aarch64 -L $sysroot "$out/sqc-$h" "$@"
	else
		"$out/sqc-$h" "$@"
	fi
}

# Models and recipes beyond the repository's: a narrow ResNet-18 at 32x32
# (the example's calibration data fits it) and recipes that pin a calibrator.
go run ./bench/genmodel -depth 18 -width 16 -size 32 -classes 10 -o "$out/resnet18-narrow.onnx"
printf 'base "dense-int8.sqr"\ncalibrate { method = entropy }\n' >"$out/entropy.sqr"
printf 'base "dense-int8.sqr"\ncalibrate { method = mse }\n' >"$out/mse.sqr"
printf 'base "sparse-int8.sqr"\nprune { method = sparsegpt }\ncalibrate { method = mse }\n' >"$out/sparsegpt-mse.sqr"
mini="examples/resnet-mini.onnx -r examples/resnet-mini.sqr --calib-data examples/resnet-mini-calib.npy"
mnist="--calib-data $shared/data/mnist/train-images-idx3-ubyte.gz --scale 0.00392156862745098 --mean 0.1307 --std 0.3081"
burn=$shared/models/mnist_burn_pytorch_bn.onnx
cases=(
	"resnet-mini.sqe|$mini"
	"resnet-mini.sqir|$mini"
	"resnet-mini-fp32.onnx|examples/resnet-mini.onnx -r sparse-fp32.sqr --calib-data examples/resnet-mini-calib.npy"
	"shufflenet-qat.sqe|$shared/models/shufflenet-v2-12-qdq.onnx -r qat.sqr"
	"mnist-burn-entropy.sqe|$burn -r $out/entropy.sqr $mnist"
	"mnist-burn-entropy.sqir|$burn -r $out/entropy.sqr $mnist"
	"mnist-burn-mse.sqir|$burn -r $out/mse.sqr $mnist"
	"mnist-burn-sparse.onnx|$burn -r sparse-int8.sqr $mnist"
	"resnet18-sparsegpt-mse.sqe|$out/resnet18-narrow.onnx -r $out/sparsegpt-mse.sqr --calib-data examples/resnet-mini-calib.npy"
)
status=0
printf '%-28s' output
for h in "${hosts[@]}"; do printf '%-22s' "$h"; done
echo
for c in "${cases[@]}"; do
	name=${c%%|*} args=${c#*|}
	printf '%-28s' "$name"
	for h in "${hosts[@]}"; do
		start=$(date +%s.%N)
		# shellcheck disable=SC2086 # args are words
		if ! run "$h" compile -q $args -o "$out/$h.$name" 2>"$out/$h.$name.log"; then
			printf '%-22s' "FAILED"
			status=1
			continue
		fi
		secs=$(echo "$(date +%s.%N) - $start" | bc)
		sum=$(sha256sum "$out/$h.$name" | cut -c1-12)
		printf '%-22s' "$sum $(printf '%.1f' "$secs")s"
		if [ "$h" != amd64-v1 ] && ! cmp -s "$out/amd64-v1.$name" "$out/$h.$name"; then
			status=1
		fi
	done
	echo
done
if [ $status = 0 ]; then echo "every output is byte-identical on every host"; else echo "some outputs DIFFER between hosts (or failed)"; fi

# The in-process tests of the functions whose products are rounded
# explicitly, where fusion would change their result.
pkgs=(./ir ./ir/ref ./passes/calibrate ./passes/quantize ./passes/foldbn ./passes/prune/sparsegpt ./internal/dataset)
for p in "${pkgs[@]}"; do
	bin=$out/$(echo "${p#./}" | tr / _).test
	GOARCH=arm64 go test -c -o "$bin.arm64" "$p"
	(cd "$p" && qemu-aarch64 -L $sysroot "$bin.arm64" -test.run 'Unfused' >"$bin.arm64.log" 2>&1) || {
		echo "unfused tests FAILED under arm64 in $p (see $bin.arm64.log)"
		status=1
	}
	if [ "${hosts[1]}" = amd64-v3 ]; then
		GOAMD64=v3 go test -c -o "$bin.v3" "$p"
		(cd "$p" && "$bin.v3" -test.run 'Unfused' >"$bin.v3.log" 2>&1) || {
			echo "unfused tests FAILED under GOAMD64=v3 in $p (see $bin.v3.log)"
			status=1
		}
	fi
done
if [ $status = 0 ]; then echo "all outputs equal, unfused tests pass on every host"; else echo "FAILED"; fi
exit $status

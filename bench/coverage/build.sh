#!/usr/bin/env bash
# Builds, on any machine, what bench/coverage/run.sh runs on a GPU: the
# coverage models and inputs (go run ./bench/coverage), their engines with
# every recipe that applies (calibrated on their own 8 random samples), the
# GPU test binary and a CGO-free sqc, all under .gpu/cov.
# Usage: bench/coverage/build.sh   (from anywhere; needs ../shared for two models)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.gpu/cov
mkdir -p "$out"
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo /.gpu/ >> "$(git rev-parse --git-path info/exclude)"
go run ./bench/coverage -o "$out"
CGO_ENABLED=0 go build -o .gpu/sqc ./cmd/sqc
CGO_ENABLED=0 go test -c -o .gpu/ampere.test ./backend/ampere/gputest
compile() { # MODEL RECIPE [CALIB]
	local model=$1 recipe=$2 calib=${3:-}
	local e="$out/$(basename "$model" .onnx)-$(basename "$recipe" .sqr).sqe"
	local args=(compile "$model" -r "$recipe" -o "$e" --report)
	[[ -n $calib ]] && args+=(--calib-data "$calib")
	echo "== $e"
	.gpu/sqc "${args[@]}" 2>&1 | grep -v '^  ' || true
}
for m in fire se resnet18-shape-chain; do
	compile "$out/$m.onnx" recipes/graph.sqr
	compile "$out/$m.onnx" recipes/dense-int8.sqr "$out/$m.npy"
	compile "$out/$m.onnx" recipes/sparse-int8.sqr "$out/$m.npy"
done
compile "$out/tf.onnx" recipes/graph.sqr
compile "$out/tf.onnx" recipes/dense-int8.sqr "$out/tf.npy"
compile "$out/qat.onnx" recipes/qat.sqr
compile "$out/qat.onnx" recipes/sparse-qat.sqr
if [[ -d ../shared/models ]]; then
	cp ../shared/models/shufflenet-v2-12-qdq.onnx ../shared/models/super-resolution-10.onnx "$out/"
	compile "$out/shufflenet-v2-12-qdq.onnx" recipes/qat.sqr
	compile "$out/super-resolution-10.onnx" recipes/graph.sqr
fi
ls "$out"/*.sqe

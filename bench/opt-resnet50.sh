#!/usr/bin/env bash
# Times `sqc opt` (default graph pipeline, loading included) on a ResNet-50
# ONNX model with 102 MB of float32 weights and the PyTorch shape-chain
# flatten (batch 1, so the chain folds), and prints the --time-passes table of one run.
# Usage: bench/opt-resnet50.sh [RUNS]   (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -o "$tmp/sqc" ./cmd/sqc
go run ./bench/genmodel -depth 50 -batch 1 -shape-chain -o "$tmp/resnet50.onnx"
echo "model: $(du -h "$tmp/resnet50.onnx" | cut -f1) ResNet-50, $(nproc) cores"
for i in $(seq "$runs"); do
	start=$(date +%s.%N)
	"$tmp/sqc" opt "$tmp/resnet50.onnx" -o "$tmp/out.sqir"
	end=$(date +%s.%N)
	echo "run $i: $(echo "$end - $start" | bc) s wall"
done
"$tmp/sqc" opt --time-passes "$tmp/resnet50.onnx" -o "$tmp/out.sqir"

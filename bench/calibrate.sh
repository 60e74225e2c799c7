#!/usr/bin/env bash
# Calibration throughput (images/s), end to end: mnist_burn (512 MNIST test
# images, batch dim fixed at 1, entropy and max calibrators) and ResNet-34 at
# 224x224 (internal/zoo weights, 40 JPEGs resized to 256 and cropped to 224,
# batch 1 and 8, entropy and auto), each beside the executor alone on the
# same batches (inference-only), and auto on ResNet-50 (32 JPEGs, batch 1:
# issue 11's build). Needs ../shared (the models and data).
# Usage: bench/calibrate.sh [COUNT]   (from anywhere; COUNT runs of each, default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-3}
echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
go test -run '^$' -bench 'Calibrate' -benchtime 1x -count "$count" ./passes/calibrate |
	awk '/^Benchmark/ { printf "%-60s %10s %s\n", $1, $(NF-1), $NF }'

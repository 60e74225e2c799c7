#!/usr/bin/env bash
# On the GPU machine, after bench/coverage/build.sh (carry .gpu): the
# coverage kernels against the reference executor, then every coverage
# engine through `sqc run --compare` at batch 1 and 8 (1 only for a graph
# whose batch is static), and `sqc bench` at batch 8 for each. Exits non-zero
# on the first failure.
# Usage: bash bench/coverage/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.gpu/cov
.gpu/ampere.test -test.v -test.run 'TestCoverageFallbacks|TestFallbackKernels|TestFloatEltwise'
for e in "$out"/*.sqe; do
	name=$(basename "$e" .sqe)
	model=${name%-*}
	case $name in
	*-sparse-int8 | *-dense-int8) model=${name%-*-int8} ;;
	*-sparse-qat) model=${name%-sparse-qat} ;;
	esac
	in="$out/$model.npy"
	batches="1 8"
	[[ $model == shufflenet-v2-12-qdq || $model == super-resolution-10 ]] && batches=1
	for b in $batches; do
		echo "== $name batch $b"
		.gpu/sqc run "$e" --input "$in" --batch "$b" --compare
	done
	.gpu/sqc bench "$e" --batch 8 2>&1 | tail -2 || true
done

#!/usr/bin/env bash
# The speed benchmark, one command on the GPU machine (issue: engine speed).
#
# Builds the ResNet-34 and ResNet-50 engines (torchvision architectures from
# bench/genmodel, 224x224, random weights, 32 random calibration images)
# with sparse-int8.sqr and dense-int8.sqr, times them with `sqc bench`
# (batch 1 and 256, CUDA-graph replay; --profile at 256), times sqc's GEMM
# at 8192^3, then times the baselines with torch on the same card
# (bench/gpu/baselines.py: torchvision FP16 under torch.compile, cuBLASLt
# and cuSPARSELt on the GEMM shapes of sqc's own layers) and prints one table
# of every ratio the issue names, with the card's name (bench/gpu/report.py).
#
# Build here first (the GPU machine has no Go):
#   make gpu      # .gpu/sqc, .gpu/genmodel, .gpu/ampere.test
# then, on the GPU machine, from the repository root:
#   bench/gpu/run.sh [OUTDIR]
# MODES=reduce-overhead,max-autotune times both torch.compile modes (the
# second takes minutes more); BUILD_PROCS=2 builds on two cores, as the
# build-cost figure is defined. TUNE=1 also runs `sqc tune` on each engine
# at batch 256 (one cache, OUTDIR/tuning.cache, its tables in
# rnDEPTH-RECIPE.tune.txt), builds the tuned engines (rnDEPTH-RECIPE-tuned.sqe)
# with --tuning-cache and times them as the others, so that the report shows
# tuned and heuristic side by side.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-${OUT:-bench-gpu-out}}
mkdir -p "$out"
out=$(cd "$out" && pwd)
bin=${SQC_GPU_BIN:-.gpu} # where make gpu put the binaries
for b in sqc genmodel ampere.test; do
	[ -x "$bin/$b" ] || { echo "bench/gpu/run.sh: $bin/$b is missing: run 'make gpu' on the build machine and carry .gpu" >&2; exit 1; }
done
modes=${MODES:-reduce-overhead}
iters=${ITERS:-100}
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT

nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > "$out/card.txt" || true
python3 - "$w/calib.npy" <<'PY'
import sys, numpy as np
np.save(sys.argv[1], np.random.default_rng(7).standard_normal((32, 3, 224, 224), dtype=np.float32))
PY

# rusage wraps a command and appends its wall time and peak RSS to a file.
rusage() {
	local log=$1; shift
	python3 - "$log" "$@" <<'PY'
import resource, subprocess, sys, time
t = time.time()
r = subprocess.run(sys.argv[2:])
with open(sys.argv[1], "a") as f:
    f.write("%s %.3f %d\n" % (" ".join(sys.argv[2:]).split(" -o ")[-1].split()[0], time.time() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(r.returncode)
PY
}

# benchall ENGINE: the timings every engine gets.
benchall() {
	local e=$1
	"$bin/sqc" inspect --json "$e" > "${e%.sqe}.inspect.json"
	for batch in 1 256; do
		"$bin/sqc" bench "$e" --batch "$batch" --graph --iters "$iters" > "${e%.sqe}.bench$batch.txt"
	done
	"$bin/sqc" bench "$e" --batch 256 --profile --iters 50 > "${e%.sqe}.profile256.txt"
}

depths=${DEPTHS:-34 50}
for depth in $depths; do
	"$bin/genmodel" -depth "$depth" -o "$w/rn$depth.onnx"
done
# build DEPTH RECIPE [EXTRA FLAGS]: one engine, its wall time and peak RSS
# appended to build.txt.
build() {
	local depth=$1 recipe=$2
	shift 2
	# BUILD_PROCS=2 times the build as a two-core build server runs it
	# (the issue's figure); by default it uses every core, to spend
	# little of the GPU machine's time.
	GOMAXPROCS=${BUILD_PROCS:-$(nproc)} rusage "$out/build.txt" "$bin/sqc" compile -q "$w/rn$depth.onnx" -r "$recipe.sqr" --calib-data "$w/calib.npy" "$@" -o "$out/rn$depth-$recipe$suffix.sqe"
}
# BASELINES_FIRST=1 times the torch baselines while the engines build
# (builds use only the CPUs, so nothing else is on the GPU then), on
# ResNet-34's GEMM shapes at batch 256 as its architecture gives them,
# instead of after the sqc timings on the shapes the dense engine's
# profile lists: the same figures in less device time.
rn34_shapes=3211264x64x256,802816x64x576,200704x128x576,200704x128x1152,200704x128x64,50176x256x1152,50176x256x2304,50176x256x128,12544x512x2304,12544x512x4608,12544x512x256,256x1000x512
# LIB_SHAPES=0 leaves out cuBLASLt and cuSPARSELt on those shapes (less
# device time; the report says so).
if [ "${LIB_SHAPES:-1}" = 0 ]; then rn34_shapes=; fi
baselines_pid=
if [ "${BASELINES_FIRST:-0}" = 1 ]; then
	python3 bench/gpu/baselines.py --shapes "$rn34_shapes" --modes "$modes" --iters 50 -o "$out/baselines.json" 2> "$out/baselines.log" &
	baselines_pid=$!
fi
# PARALLEL_BUILDS=1 builds the four engines at once (less device time; the
# build-cost column then reflects four builds sharing the cores).
suffix=
for depth in $depths; do
	for recipe in sparse-int8 dense-int8; do
		if [ "${PARALLEL_BUILDS:-0}" = 1 ]; then build "$depth" "$recipe" & else build "$depth" "$recipe"; fi
	done
done
# LATENCY=1 (the default) also builds ResNet-34 sparse for batch 1
# (compile --opt-batch 1: the heuristic's small-batch kernels, one plan),
# timed at batch 1 and 256 beside the others, and both it and the default
# engine at SWITCH_BATCHES (8 9 16 32), around the batch where the default
# engine leaves its small-batch plan.
latency=${LATENCY:-1}
if [ "$latency" = 1 ]; then
	suffix=-latency
	if [ "${PARALLEL_BUILDS:-0}" = 1 ]; then build 34 sparse-int8 --opt-batch 1 & else build 34 sparse-int8 --opt-batch 1; fi
	suffix=
fi
wait
# (the wait above waits for the baselines too)
# HOOK, if set, runs between the builds and the timings (the GPU is quiet
# then): e.g. kernel benchmarks that belong in the same run.
if [ -n "${HOOK:-}" ]; then bash -c "$HOOK" > "$out/hook.txt" 2>&1 || true; fi
for depth in $depths; do
	for recipe in sparse-int8 dense-int8; do
		benchall "$out/rn$depth-$recipe.sqe"
	done
done
if [ "$latency" = 1 ]; then
	for batch in 1 256; do
		"$bin/sqc" bench "$out/rn34-sparse-int8-latency.sqe" --batch "$batch" --graph --iters "$iters" > "$out/rn34-sparse-int8-latency.bench$batch.txt"
	done
	"$bin/sqc" bench "$out/rn34-sparse-int8-latency.sqe" --batch 1 --profile --iters 50 > "$out/rn34-sparse-int8-latency.profile1.txt"
	# Around the default engine's switch from its small-batch plan (up to
	# 8) to its own steps: where the latency kernels stop paying.
	for batch in ${SWITCH_BATCHES:-8 9 16 32}; do
		for e in rn34-sparse-int8 rn34-sparse-int8-latency; do
			"$bin/sqc" bench "$out/$e.sqe" --batch "$batch" --graph --iters "$iters" > "$out/$e.bench$batch.txt"
		done
	done
fi

# TUNE=1 tunes the engines named by TUNE_ENGINES (default all four, e.g.
# "rn34-sparse-int8") at batch 256 and builds and times their -tuned twins.
if [ "${TUNE:-0}" = 1 ]; then
	tuned=${TUNE_ENGINES:-$(for d in $depths; do echo rn$d-sparse-int8 rn$d-dense-int8; done)}
	for name in $tuned; do
		"$bin/sqc" tune "$out/$name.sqe" --batch 256 -o "$out/tuning.cache" > "$out/$name.tune.txt"
	done
	suffix=-tuned
	for name in $tuned; do
		depth=${name#rn}; depth=${depth%%-*}; recipe=${name#rn$depth-}
		build "$depth" "$recipe" --tuning-cache "$out/tuning.cache" --tuning-batch 256
		benchall "$out/$name-tuned.sqe"
	done
fi

# GEMM8192=0 leaves out the 8192³ GEMM (its kernels' main loops are what
# any earlier run timed), to spend less device time.
if [ "${GEMM8192:-1}" = 1 ]; then
	"$bin/ampere.test" -test.run 'TestPerfGemm8192' -test.v > "$out/gemm8192.txt" 2>&1 || true
fi

# CEILING=0 leaves out the K-loop skeletons (gputest TestPerfLoopCeiling:
# the engines' warp and block tiles with the fragments in registers, from
# shared memory, and with the stage refills), whose 2:4-over-dense ratios
# say how far a layer's kernel can go on each tile shape.
if [ "${CEILING:-1}" = 1 ]; then
	"$bin/ampere.test" -test.run 'TestPerfLoopCeiling' -test.v > "$out/ceiling.txt" 2>&1 || true
fi

# The GEMM shapes of ResNet-34's layers as sqc's engine ran them.
if [ -z "$baselines_pid" ]; then
	shapes=$(awk '$8 ~ /^[0-9]+x[0-9]+x[0-9]+$/ {print $8}' "$out/rn34-dense-int8.profile256.txt" | sort -u | paste -sd, -)
	if [ "${LIB_SHAPES:-1}" = 0 ]; then shapes=; fi
	python3 bench/gpu/baselines.py --shapes "$shapes" --modes "$modes" --iters 50 -o "$out/baselines.json" 2> "$out/baselines.log"
fi

python3 bench/gpu/report.py "$out" | tee "$out/report.md"

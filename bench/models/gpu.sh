#!/usr/bin/env bash
# Issue 12's item 5 on the GPU machine, one command: export torchvision's
# models with both exporters, compile every model × recipe, check each engine
# on the GPU against the reference executor (`sqc run --compare`, batch 1 and
# 8), check each model's QDQ export in ONNX Runtime, time the INT8 engines
# (`sqc bench --batch 32`, one at a time at the end) and print the README's
# tables (one an exporter) with the card's name.
#
# Build here first (the GPU machine has no Go):
#   make gpu      # .gpu/sqc and .gpu/models among others
# then, on the GPU machine, from the repository root (carry .gpu):
#   bench/models/gpu.sh [OUTDIR]
# OUTDIR (default $OUT, else bench-models-out) gets a few files: table.md,
# progress.log, results.json, card.txt, the exporters' logs and logs.tgz
# (every sqc command's output and the export errors).
# The models, inputs and engines (gigabytes) stay in a scratch folder
# (WORK, default a temporary one, removed at the end).
#
# Time: everything starts at once and the models tool stops starting steps
# after DEADLINE (default 420 s) less the timings' reserve, so that the whole
# fits about 8 minutes; rows not reached say so. JOBS (default: cores / 2)
# models compile and check at a time; one model failing does not stop the
# rest. EXPORTERS=torchscript or dynamo runs one exporter only; ONLY=a,b
# limits the models, RECIPES=a,b the recipes (default graph, dense-int8,
# sparse-int8); ORT_CHECK= (empty) skips the ONNX Runtime column;
# BENCH_RESERVE (default 2m) is the time kept at the end for the timings.
set -uo pipefail
ORT_CHECK=${ORT_CHECK-1}
cd "$(dirname "$0")/../.."
out=${1:-${OUT:-bench-models-out}}
mkdir -p "$out"
out=$(cd "$out" && pwd)
for b in .gpu/sqc .gpu/models; do
	[ -x "$b" ] || { echo "bench/models/gpu.sh: $b is missing: run 'make gpu' on the build machine and carry .gpu" >&2; exit 1; }
done
work=${WORK:-}
if [ -z "$work" ]; then
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
deadline=${DEADLINE:-420}
cores=$(nproc)
jobs=${JOBS:-$(( cores / 2 > 1 ? cores / 2 : 1 ))}
exporters=${EXPORTERS:-torchscript,dynamo}
names=$(python3 -c 'import ast,sys; t=ast.parse(open("bench/models/export_torchvision.py").read())
for n in ast.walk(t):
    if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "MODELS":
        print(" ".join(k.value for k in n.value.keys))')
if [ -n "${ONLY:-}" ]; then names=${ONLY//,/ }; fi

{
	nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
	python3 -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)'
	python3 -c 'import onnxruntime; print("onnxruntime", onnxruntime.__version__)'
	python3 -c 'import onnxscript; print("onnxscript", onnxscript.__version__)'
	echo "cores $cores, jobs $jobs, deadline $deadline s"
} > "$out/card.txt" 2>&1
cat "$out/card.txt"

# Export: each exporter in its own processes (four a exporter, the models
# dealt round-robin, two threads each), in the background; the models tool
# waits for each file as it needs it.
sets=""
for exp in ${exporters//,/ }; do
	case $exp in
	torchscript) opset=17 label="TorchScript exporter, opset 17" ;;
	dynamo) opset=18 label="dynamo exporter, opset 18" ;;
	*) echo "bench/models/gpu.sh: unknown exporter $exp (want torchscript or dynamo)" >&2; exit 2 ;;
	esac
	mkdir -p "$work/$exp"
	sets="${sets:+$sets;}$label=$work/$exp"
	i=0
	declare -a groups=("" "" "" "")
	for n in $names; do groups[$((i % 4))]+=" $n"; i=$((i + 1)); done
	for g in 0 1 2 3; do
		[ -n "${groups[$g]}" ] || continue
		# shellcheck disable=SC2086
		OMP_NUM_THREADS=2 SQC_EXPORTER=$exp timeout $((deadline - 60)) \
			python3 bench/models/export_torchvision.py "$work/$exp" "$opset" ${groups[$g]} \
			> "$out/export-$exp-$g.log" 2>&1 &
	done
	unset groups
done

# Compile, compare, check in ONNX Runtime, time.
.gpu/models -sqc .gpu/sqc -sets "$sets" -o "$work/engines" -gpu -j "$jobs" \
	${ORT_CHECK:+-ort bench/models/ort_check.py} -wait-export "$((deadline - 60))s" -deadline "${deadline}s" \
	-timeout 4m -run-timeout 2m ${ONLY:+-only "$ONLY"} ${RECIPES:+-recipes "$RECIPES"} ${BENCH_RESERVE:+-bench-reserve "$BENCH_RESERVE"} \
	> "$out/table.md" 2> "$out/progress.log"
status=$?
wait
cp "$work/engines/results.json" "$out/" 2>/dev/null
# Every command's output and the exports' errors, as one file.
for f in "$work"/*/*.export-error.txt; do [ -e "$f" ] && cp "$f" "$work/engines/logs/$(basename "$(dirname "$f")")-$(basename "$f")"; done
tar -czf "$out/logs.tgz" -C "$work/engines" logs 2>/dev/null
du -sh "$work"/* 2>/dev/null | tail -5 >> "$out/card.txt"
cat "$out/table.md"
tail -3 "$out/progress.log"
exit $status

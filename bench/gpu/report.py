#!/usr/bin/env python3
"""Reads what bench/gpu/run.sh wrote into OUTDIR and prints the speed
issue's table: every target with the figure measured in this run, the
baselines measured in the same run, and the card's name."""
import json
import math
import os
import re
import statistics
import sys

CEILING = {"H100": (1270, 1865), "H200": (1277, 1889)}  # mma.sync / mma.sp register-only TOPS (DESIGN.md)


def read(path):
    with open(path) as f:
        return f.read()


def bench(out, name):
    t = read(os.path.join(out, name))
    ms = float(re.search(r"latency ms: median ([0-9.]+)", t).group(1))
    ips = float(re.search(r"throughput: ([0-9.]+)", t).group(1))
    return ms, ips


def profile(out, name):
    rows = {}
    for line in read(os.path.join(out, name)).splitlines():
        f = line.split()
        if len(f) >= 10 and f[0].isdigit():
            # ceiling: the share of the instruction's register-only rate;
            # dram: the operands' bytes over the time against the card's
            # bandwidth (profiles from before that column have none).
            rows.setdefault(f[1], []).append({"kind": f[3], "kernel": f[4], "us": float(f[5]), "gemm": f[7],
                                              "ceiling": f[9], "dram": f[12] if len(f) >= 13 else "-"})
    return rows


def geomean(v):
    return math.exp(sum(math.log(x) for x in v) / len(v)) if v else float("nan")


def mark(ok):
    return "yes" if ok else "**no**"


def main():
    out = sys.argv[1]
    base = json.load(open(os.path.join(out, "baselines.json")))
    card = base["device"]
    print(f"# sqc engine speed on {card} (torch {base['torch']}), one run\n")
    lines = ["| what | measured | target | met |", "|---|---|---|---|"]

    # Per-layer 2:4 vs dense, same layers, ResNet-34 at batch 256.
    sp, dn = profile(out, "rn34-sparse-int8.profile256.txt"), profile(out, "rn34-dense-int8.profile256.txt")
    ratios, per_layer = [], []
    for node, steps in sp.items():
        s = [x for x in steps if x["kind"] == "sparse"]
        d = [x for x in dn.get(node, []) if x["kind"] == "dense"]
        if not s or not d:
            continue
        n = int(s[0]["gemm"].split("x")[1])
        if n < 128:
            continue
        r = d[0]["us"] / s[0]["us"]
        ratios.append(r)
        per_layer.append((node, s[0]["gemm"], d[0], s[0], r))
    lines.append(f"| 2:4 vs dense per layer, ResNet-34 layers with >= 128 channels, batch 256 ({len(ratios)} layers) | geomean {geomean(ratios):.2f}x, min {min(ratios, default=float('nan')):.2f}x | geomean >= 1.40x, none < 1.25x | {mark(geomean(ratios) >= 1.4 and min(ratios, default=0) >= 1.25)} |")

    e = {}
    for depth in (34, 50):
        for recipe in ("sparse", "dense"):
            for b in (1, 256):
                e[(depth, recipe, b)] = bench(out, f"rn{depth}-{recipe}-int8.bench{b}.txt")
    r = e[(34, "sparse", 256)][1] / e[(34, "dense", 256)][1]
    lines.append(f"| whole ResNet-34 engine, sparse vs dense INT8, batch 256 | {r:.2f}x ({e[(34, 'sparse', 256)][1]:.0f} vs {e[(34, 'dense', 256)][1]:.0f} img/s) | >= 1.30x | {mark(r >= 1.3)} |")

    # GEMM shapes against cuBLASLt / cuSPARSELt.
    gem = {g["shape"]: g for g in base["gemms"]}
    dense_by, sparse_by = {}, {}
    for prof, by, kind in ((dn, dense_by, "dense"), (sp, sparse_by, "sparse")):
        for steps in prof.values():
            for x in steps:
                if x["kind"] == kind:
                    by.setdefault(x["gemm"], []).append(x["us"])
    vs_blas, vs_cslt = [], []
    for shape, us in sorted(dense_by.items()):
        g = gem.get(shape)
        if g and "int_mm_ms" in g:
            vs_blas.append((shape, g["int_mm_ms"] * 1000 / statistics.median(us)))
    for shape, us in sorted(sparse_by.items()):
        g = gem.get(shape)
        if g and "cslt_ms" in g:
            vs_cslt.append((shape, g["cslt_ms"] * 1000 / statistics.median(us)))
    if not vs_blas and not vs_cslt:
        lines.append("| sqc INT8 convs vs cuBLASLt / cuSPARSELt on ResNet-34's GEMM shapes | not run in this call (LIB_SHAPES=0) | >= 1.0x / >= 2x | - |")
    else:
        mb = min((v for _, v in vs_blas), default=float("nan"))
        lines.append(f"| sqc dense INT8 conv vs cuBLASLt INT8 (torch._int_mm), ResNet-34 GEMM shapes, batch 256 ({len(vs_blas)} shapes) | min {mb:.2f}x, geomean {geomean([v for _, v in vs_blas]):.2f}x | >= 1.0x every shape | {mark(mb >= 1.0)} |")
        mc = min((v for _, v in vs_cslt), default=float("nan"))
        lines.append(f"| sqc 2:4 conv vs cuSPARSELt (algorithm searched), same shapes ({len(vs_cslt)} shapes) | min {mc:.2f}x, geomean {geomean([v for _, v in vs_cslt]):.2f}x | >= 2x | {mark(mc >= 2)} |")

    # 8192^3.
    best = {}
    g8192 = os.path.join(out, "gemm8192.txt")
    if not os.path.exists(g8192):
        lines.append("| 8192^3 GEMM vs register-only ceiling | not run in this call (GEMM8192=0) | >= 75% each | - |")
    for line in (read(g8192) if os.path.exists(g8192) else "").splitlines():
        f = line.split()
        if len(f) == 5 and f[0] == "gemm8192":
            best[f[1]] = max(best.get(f[1], 0), float(f[4]))
    ceil = next((c for k, c in CEILING.items() if k in card), None)
    if ceil and best:
        d, s = best.get("dense", 0) / ceil[0], best.get("sparse", 0) / ceil[1]
        lines.append(f"| 8192^3 GEMM vs register-only ceiling | dense {best.get('dense', 0):.0f} TOPS ({100*d:.0f}%), sparse {best.get('sparse', 0):.0f} TOPS ({100*s:.0f}%) | >= 75% each | {mark(d >= 0.75 and s >= 0.75)} |")

    # The engine built for batch 1 (run.sh's LATENCY=1), if there is one.
    latency1 = latency256 = None
    if os.path.exists(os.path.join(out, "rn34-sparse-int8-latency.bench1.txt")):
        latency1 = bench(out, "rn34-sparse-int8-latency.bench1.txt")
        latency256 = bench(out, "rn34-sparse-int8-latency.bench256.txt")

    # Against PyTorch FP16 compiled.
    tm = {}
    for m in base["models"]:
        k = (m["model"], m["batch"])
        if k not in tm or m["ms"] < tm[k]["ms"]:
            tm[k] = m
    for depth, target in ((34, 2.0), (50, 1.8)):
        t = tm.get((f"resnet{depth}", 256))
        if t:
            r = e[(depth, "sparse", 256)][1] / t["img_per_s"]
            lines.append(f"| ResNet-{depth} sparse INT8 engine vs PyTorch FP16 ({t['mode']}), throughput at batch 256 | {r:.2f}x ({e[(depth, 'sparse', 256)][1]:.0f} vs {t['img_per_s']:.0f} img/s) | >= {target}x | {mark(r >= target)} |")
        t1 = tm.get((f"resnet{depth}", 1))
        if t1 and depth == 34:
            r = e[(depth, "sparse", 1)][0] / t1["ms"]
            lines.append(f"| ResNet-34 sparse INT8 engine vs PyTorch FP16 ({t1['mode']}), latency at batch 1 | {r:.2f}x ({e[(depth, 'sparse', 1)][0]:.3f} vs {t1['ms']:.3f} ms) | <= 0.6x | {mark(r <= 0.6)} |")
            if latency1:
                r = latency1[0] / t1["ms"]
                lines.append(f"| the same, the engine built for batch 1 (compile --opt-batch 1) | {r:.2f}x ({latency1[0]:.3f} vs {t1['ms']:.3f} ms) | <= 0.6x | {mark(r <= 0.6)} |")

    # Engine size and build cost.
    builds = {}
    if os.path.exists(os.path.join(out, "build.txt")):
        for line in read(os.path.join(out, "build.txt")).splitlines():
            p, s, rss = line.split()
            builds[os.path.basename(p)] = (float(s), int(rss) / 1024)
    procs = os.environ.get("BUILD_PROCS", "all cores")
    if procs != "all cores":
        procs += " cores"
    for depth in (34, 50):
        for recipe in ("sparse", "dense"):
            name = f"rn{depth}-{recipe}-int8.sqe"
            j = json.load(open(os.path.join(out, name.replace(".sqe", ".inspect.json"))))
            size = os.path.getsize(os.path.join(out, name))
            payload = j["weight_bytes"] + j.get("ptx_bytes", 0)
            b = builds.get(name, (float("nan"), float("nan")))
            lines.append(f"| ResNet-{depth} {recipe}-int8 engine: size vs packed weights + PTX; build (32 images, {procs}) | {size/1e6:.1f} MB vs {payload/1e6:.1f} MB ({size/payload:.2f}x); {b[0]:.1f} s, {b[1]:.0f} MB peak | <= 1.10x | {mark(size <= 1.1 * payload)} |")
    print("\n".join(lines))

    print("\n## Engines (sqc bench, CUDA-graph replay)\n")
    print("| engine | batch 1 ms | batch 256 ms | batch 256 img/s |")
    print("|---|---|---|---|")
    for depth in (34, 50):
        for recipe in ("sparse", "dense"):
            print(f"| ResNet-{depth} {recipe} INT8 | {e[(depth, recipe, 1)][0]:.3f} | {e[(depth, recipe, 256)][0]:.3f} | {e[(depth, recipe, 256)][1]:.0f} |")
    if latency1:
        print(f"| ResNet-34 sparse INT8, compile --opt-batch 1 | {latency1[0]:.3f} | {latency256[0]:.3f} | {latency256[1]:.0f} |")
    for (name, b), t in sorted(tm.items()):
        print(f"| torchvision {name} FP16 ({t['mode']}) | " + (f"{t['ms']:.3f} | | |" if b == 1 else f" | {t['ms']:.3f} | {t['img_per_s']:.0f} |"))

    # run.sh's SWITCH_BATCHES: the default engine (its small-batch plan up
    # to batch 8, its own steps above) against the engine with the latency
    # kernels alone.
    switch = sorted(int(m.group(1)) for f in os.listdir(out) for m in [re.fullmatch(r"rn34-sparse-int8-latency\.bench(\d+)\.txt", f)] if m and m.group(1) not in ("1", "256"))
    if switch:
        print("\n## Where the default engine's plans switch (ResNet-34 sparse INT8, CUDA-graph replay, ms)\n")
        print("| batch | default engine (plan) | compile --opt-batch 1 | default / latency |")
        print("|---|---|---|---|")
        for b in switch:
            d, l = bench(out, f"rn34-sparse-int8.bench{b}.txt"), bench(out, f"rn34-sparse-int8-latency.bench{b}.txt")
            plan = "small-batch" if "its plan for" in read(os.path.join(out, f"rn34-sparse-int8.bench{b}.txt")) else "own steps"
            print(f"| {b} | {d[0]:.3f} ({plan}) | {l[0]:.3f} | {d[0]/l[0]:.2f}x |")

    tuned = [(d, r) for d in (34, 50) for r in ("sparse", "dense") if os.path.exists(os.path.join(out, f"rn{d}-{r}-int8-tuned.bench256.txt"))]
    if tuned:
        # TUNE=1: engines built with the cache sqc tune wrote at batch 256.
        print("\n## Tuned (sqc tune --batch 256, compile --tuning-cache) vs heuristic\n")
        print("| engine | batch 256 ms heuristic / tuned | speed-up | batch 1 ms heuristic / tuned | speed-up | GEMM sum, sqc tune's table |")
        print("|---|---|---|---|---|---|")
        for depth, recipe in tuned:
            t256 = bench(out, f"rn{depth}-{recipe}-int8-tuned.bench256.txt")
            t1 = bench(out, f"rn{depth}-{recipe}-int8-tuned.bench1.txt")
            h256, h1 = e[(depth, recipe, 256)], e[(depth, recipe, 1)]
            m = re.search(r"sum over the engine's GEMM layers: (.*)", read(os.path.join(out, f"rn{depth}-{recipe}-int8.tune.txt")))
            print(f"| ResNet-{depth} {recipe} INT8 | {h256[0]:.3f} / {t256[0]:.3f} | {h256[0]/t256[0]:.2f}x | {h1[0]:.3f} / {t1[0]:.3f} | {h1[0]/t1[0]:.2f}x | {m.group(1) if m else '-'} |")

    print("\n## ResNet-34 2:4 layers at batch 256: dense / sparse time\n")
    print("Ceiling: the share of the instruction's register-only rate (mma.sync dense, mma.sp sparse); DRAM: the")
    print("launch's operands (activations, residual, output, weights, each once) over its time against the card's")
    print("memory bandwidth. A layer far below both is bound by neither: instruction latency and occupancy.\n")
    print("| node | GEMM MxNxK | dense us | sparse us | ratio | ceiling dense / sparse | DRAM dense / sparse |")
    print("|---|---|---|---|---|---|---|")
    for node, g, d, s, r in per_layer:
        print(f"| {node} | {g} | {d['us']:.1f} | {s['us']:.1f} | {r:.2f}x | {d['ceiling']} / {s['ceiling']} | {d['dram']} / {s['dram']} |")
    ceiling = os.path.join(out, "ceiling.txt")
    if os.path.exists(ceiling):
        # TestPerfLoopCeiling: the table and its summary, as the test logs them.
        text = read(ceiling)
        start = text.find("K-loop skeletons on")
        if start >= 0:
            body = [l.strip() for l in text[start:].splitlines() if l.strip() and not l.startswith(("---", "===", "PASS", "ok "))]
            print("\n## K-loop skeletons (TestPerfLoopCeiling): what the engines' tile shapes allow\n")
            print("```")
            print("\n".join(body))
            print("```")
    print("\n## GEMM shapes against the libraries (ratio = library time / sqc time)\n")
    print("| shape | vs cuBLASLt (dense) | vs cuSPARSELt (2:4) |")
    print("|---|---|---|")
    cs = dict(vs_cslt)
    for shape, v in vs_blas:
        c = cs.get(shape)
        print(f"| {shape} | {v:.2f}x | " + (f"{c:.2f}x |" if c else "- |"))
    if base.get("errors"):
        print("\nbaseline errors:", json.dumps(base["errors"])[:2000])


if __name__ == "__main__":
    main()

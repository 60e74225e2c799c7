#!/usr/bin/env python3
"""The baselines of bench/gpu/run.sh, timed with torch on the same card.

- torchvision ResNet-34/50, FP16, channels-last, under torch.compile
  (reduce-overhead by default; --modes adds max-autotune), batch 1 and 256;
- cuBLASLt INT8 (torch._int_mm) and cuSPARSELt INT8 2:4
  (torch._cslt_sparse_mm with the algorithm searched) on GEMM shapes given
  as MxNxK (sqc's own layers, read from its engine profiles), and 8192^3.

Writes one JSON document. Every figure is a median of CUDA-event timings
after a warm-up; a baseline that fails records its error instead.
"""
import argparse
import json
import statistics
import sys
import time
import traceback

import torch


def cuda_ms(fn, iters, warmup):
    """Median milliseconds of fn() over iters runs after warmup runs."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times)


def torch_model(name, batch, mode, iters):
    import torchvision
    model = getattr(torchvision.models, name)(weights=None).eval().half().cuda()
    model = model.to(memory_format=torch.channels_last)
    x = torch.randn(batch, 3, 224, 224, device="cuda", dtype=torch.half).to(memory_format=torch.channels_last)
    t0 = time.time()
    cm = torch.compile(model, mode=mode, dynamic=False)

    def step():
        if mode == "reduce-overhead":
            torch.compiler.cudagraph_mark_step_begin()
        return cm(x)

    with torch.inference_mode():
        step()
        torch.cuda.synchronize()
        compile_s = time.time() - t0
        ms = cuda_ms(step, iters, 10)
    return {"model": name, "batch": batch, "mode": mode, "ms": ms, "img_per_s": batch / ms * 1e3, "compile_s": compile_s}


def int_mm(m, n, k, iters):
    a = torch.randint(-128, 127, (m, k), device="cuda", dtype=torch.int8)
    # cuBLASLt wants the second operand column-major: a transposed view of
    # an [n, k] matrix, as a weight is stored.
    w = torch.randint(-128, 127, (n, k), device="cuda", dtype=torch.int8)
    ms = cuda_ms(lambda: torch._int_mm(a, w.t()), iters, 5)
    return ms


def cslt_mm(m, n, k, iters):
    # Y^T [n, m] = W [n, k] (2:4 along k) times X^T [k, m].
    w = torch.randint(-128, 127, (n, k), device="cuda", dtype=torch.int8)
    mask = torch.tensor([1, 1, 0, 0], device="cuda", dtype=torch.int8).repeat(n, k // 4)
    w = w * mask
    x = torch.randint(-128, 127, (m, k), device="cuda", dtype=torch.int8)
    wc = torch._cslt_compress(w)
    xt = x.t()
    alg = torch._cslt_sparse_mm_search(wc, xt)
    ms = cuda_ms(lambda: torch._cslt_sparse_mm(wc, xt, alg_id=alg), iters, 5)
    return ms, alg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default="", help="comma-separated MxNxK GEMM shapes")
    ap.add_argument("--models", default="resnet34,resnet50")
    ap.add_argument("--batches", default="1,256")
    ap.add_argument("--modes", default="reduce-overhead")
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("-o", required=True)
    args = ap.parse_args()
    out = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "models": [], "gemms": [], "errors": []}
    torch.backends.cudnn.benchmark = True
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",") if s]
    shapes.append((8192, 8192, 8192))
    for (m, n, k) in shapes:
        row = {"shape": f"{m}x{n}x{k}", "m": m, "n": n, "k": k}
        try:
            row["int_mm_ms"] = int_mm(m, n, k, args.iters)
        except Exception as e:  # a shape cuBLASLt refuses
            row["int_mm_error"] = str(e).splitlines()[0]
        try:
            row["cslt_ms"], row["cslt_alg"] = cslt_mm(m, n, k, args.iters)
        except Exception as e:
            row["cslt_error"] = str(e).splitlines()[0]
        out["gemms"].append(row)
        print("gemm", row, file=sys.stderr, flush=True)
    for name in args.models.split(","):
        for b in [int(v) for v in args.batches.split(",")]:
            for mode in args.modes.split(","):
                try:
                    r = torch_model(name, b, mode, args.iters)
                    out["models"].append(r)
                    print("model", r, file=sys.stderr, flush=True)
                except Exception:
                    out["errors"].append({"model": name, "batch": b, "mode": mode, "error": traceback.format_exc(limit=3)})
                torch._dynamo.reset()
    with open(args.o, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()

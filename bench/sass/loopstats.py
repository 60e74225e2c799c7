#!/usr/bin/env python3
"""The K loop of a GEMM/convolution kernel in SASS, without a GPU.

Usage: bench/sass/loopstats.py [-show] MODULE.ptx...

Each PTX module (from `.gpu/ampere.test -ptxdir DIR`, or `go test
./backend/ampere/gputest -run XXX -ptxdir DIR` on any machine) is assembled
by ptxas for sm_90 (CUDA 11.8's by default: SQC_CUDA_BIN names another
bin directory; its PTX ISA is older, so `.version` becomes 7.8 and
`mma.sp::ordered_metadata` plain `mma.sp`, the same instruction), and the
loop with the most IMMA/HMMA (the body between a back branch and its
target) is summarized: registers and spills (ptxas -v), instructions, Tensor
Core instructions, where the barrier and the first product sit, the sum of
the control codes' stall counts (bits 105-108 of each instruction: the
cycles a warp waits before its next issue, i.e. the loop's fixed-latency
issue time for one warp, scoreboard waits not counted) and the instruction
classes. -show lists the loop with each instruction's stall count.
PTXAS_FLAGS adds ptxas flags (e.g. -maxrregcount=168).
"""
import re, subprocess, sys, os, collections, tempfile
BIN = os.environ.get("SQC_CUDA_BIN", "/opt/cuda118/x/usr/bin")

def assemble(ptx, extra=()):
    text = open(ptx).read()
    text = re.sub(r"(?m)^\.version .*$", ".version 7.8", text).replace("mma.sp::ordered_metadata", "mma.sp")
    tmp = tempfile.mkdtemp()
    src = os.path.join(tmp, "k.ptx")
    open(src, "w").write(text)
    cubin = os.path.join(tmp, "k.cubin")
    r = subprocess.run([BIN + "/ptxas", "-arch=sm_90", "-v", *extra, "-o", cubin, src], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{ptx}: {r.stderr}")
    regs = re.search(r"Used (\d+) registers", r.stderr).group(1)
    spill = re.findall(r"(\d+) bytes spill stores, (\d+) bytes spill loads", r.stderr)
    return cubin, int(regs), spill

def sass(cubin):
    out = subprocess.run([BIN + "/cuobjdump", "-sass", cubin], capture_output=True, text=True).stdout
    ins = []
    pend = None
    for line in out.splitlines():
        m = re.match(r"\s+/\*([0-9a-f]{4})\*/\s+(.*?)\s*;?\s*/\* (0x[0-9a-f]+) \*/", line)
        if m:
            pend = [int(m.group(1), 16), m.group(2).rstrip(" ;"), int(m.group(3), 16)]
            continue
        m = re.match(r"\s+/\* (0x[0-9a-f]+) \*/", line)
        if m and pend:
            hi = int(m.group(1), 16)
            stall = (hi >> 41) & 0xF
            pend.append(stall)
            ins.append(pend); pend = None
    return ins

def opclass(txt):
    if txt.startswith("@!PT "):
        return "@!PT-" + txt.split()[1]  # never issued work: ptxas's padding before LDGSTS
    t = re.sub(r"^@!?U?P\w+\s+", "", txt)
    op = t.split()[0]
    base = op.split(".")[0]
    return base

def loop(ins):
    # back edges: BRA to a lower address; pick the one whose body has the most IMMA/HMMA
    best = None
    for i, (a, t, _, _) in enumerate(ins):
        if opclass(t) == "BRA":
            m = re.search(r"0x([0-9a-f]+)", t.split("BRA", 1)[1])
            if m:
                tgt = int(m.group(1), 16)
                if tgt < a:
                    body = [x for x in ins if tgt <= x[0] <= a]
                    n = sum(1 for x in body if opclass(x[1]) in ("IMMA", "HMMA"))
                    if best is None or n > best[0]:
                        best = (n, tgt, a, body)
    return best

def summarize(path, extra=(), show=False):
    cubin, regs, spill = assemble(path, extra)
    ins = sass(cubin)
    n, tgt, end, body = loop(ins)
    cls = collections.Counter(opclass(x[1]) for x in body)
    bars = [i for i, x in enumerate(body) if opclass(x[1]) == "BAR"]
    first = next(i for i, x in enumerate(body) if opclass(x[1]) in ("IMMA", "HMMA"))
    stall = sum(x[3] for x in body)
    name = os.path.basename(path)[:-4]
    print(f"{name}: regs {regs} spill {spill} loop {len(body)} instr, tensor {n}, bar@{bars} first-mma@{first}, stall-sum {stall}")
    print("   ", ", ".join(f"{k} {v}" for k, v in cls.most_common()))
    if show:
        for x in body:
            print(f"  {x[0]:05x} s{x[3]:<2d} {x[1]}")

if __name__ == "__main__":
    args = sys.argv[1:]
    show = "-show" in args
    args = [a for a in args if a != "-show"]
    if not args:
        sys.exit(__doc__)
    extra = os.environ.get("PTXAS_FLAGS", "").split()
    for p in args:
        summarize(p, extra, show)

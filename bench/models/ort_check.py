"""Run a QDQ ONNX export in ONNX Runtime and compare it with sqc's reference executor.

usage: python3 ort_check.py MODEL.onnx INPUT.npy BATCH REFERENCE.npy [SQC]

INPUT.npy holds the samples (the first BATCH are fed); REFERENCE.npy is
`sqc run --cpu MODEL.onnx --input INPUT.npy --batch BATCH -o REFERENCE.npy`,
the reference executor's first output on the same file. ONNX Runtime (CPU
provider) runs MODEL.onnx on the same samples twice: with all graph
optimizations (it fuses Q/DQ patterns and removes activations it finds
redundant) and with none (ORT_DISABLE_ALL: every Q, DQ and float op as
written).

The output rule is the repository's for ONNX Runtime comparisons of
exported models (frontend/onnx/onnxexport's TestONNXRuntime): integer
outputs equal, float outputs within 1e-4 of the output's largest magnitude.
A quantized network rarely meets it end to end, and need not: where a
value before a QuantizeLinear lies within float rounding of a half-way
point, the two runtimes' float sums (in different orders) round it to
neighbouring codes, and one flipped code changes every value downstream of
it. On torchvision's ResNet-18 with random weights, 13 of 5.2 million
codes flip (each by one step), and the logits then differ by 1 % of their
largest magnitude.

So with SQC (the sqc binary) and Python's onnx package, the check goes
layer by layer: every quantized tensor (each QuantizeLinear of a computed
value) is recomputed from the same int8 inputs, ONNX Runtime's own codes
of the tensors it reads, by ONNX Runtime (all optimizations) and by sqc's
reference executor (`sqc run --cpu` on the cut-out layer). The rule: in
every layer at most 1e-3 of the codes differ, each by one step. The float
graph outputs (a classifier's logits, computed by the last layer from
int8 codes) are recomputed the same way and must meet the output rule
from the same inputs: GoogLeNet's logits once differed by 1.9 times their
magnitude with every int8 code equal (a bias clipped to int32, which
ONNX Runtime's fused QGemm wrapped past and the file's float Gemm did
not). A layer outside its rule is a real disagreement, not rounding: the
first such layer is named. The summary says which rule held; ok is the
output rule or, when it misses, the layer rule.

Prints one JSON object: ok, summary and the figures.
"""
import json, os, subprocess, sys, tempfile

import numpy as np
import onnxruntime as ort

# LAYER_SHARE is the largest share of a layer's codes that may differ (by
# one step) from the reference's: half-way cases are rare (2.5e-6 of the
# codes of ResNet-18, 0 of MobileNetV2's).
LAYER_SHARE = 1e-3


def session(model, optimized):
    """An ONNX Runtime CPU session, with all graph optimizations or none."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimized
                                     else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    return ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])


def compare_output(got, ref):
    """The output rule: figures and whether it holds."""
    out = {"shape": list(got.shape)}
    if got.shape != ref.shape:
        out.update(ok=False, summary="shapes differ: ONNX Runtime %s, reference %s" % (list(got.shape), list(ref.shape)))
    elif np.issubdtype(got.dtype, np.integer):
        n = int(np.count_nonzero(got != ref))
        out.update(ok=n == 0, differ=n, summary="equal" if n == 0 else "%d of %d integers differ" % (n, got.size))
    else:
        g, r = got.astype(np.float64), ref.astype(np.float64)
        scale = float(np.max(np.abs(r))) or 1.0
        rel = float(np.max(np.abs(g - r))) / scale
        # The arg max over the classes: of each row of logits, of each
        # pixel of a segmentation's [N, classes, H, W].
        am, refam = g.argmax(axis=1), r.argmax(axis=1)
        top1, count = int(np.sum(am == refam)), int(am.size)
        what = "rows" if g.ndim == 2 else "pixels"
        ok = rel <= 1e-4
        out.update(ok=ok, max_rel=rel, argmax_equal=top1, argmax_count=count)
        out["summary"] = "%s: max diff %.2g of the largest output magnitude, arg max equal in %d of %d %s" % (
            "agrees" if ok else "differs", rel, top1, count, what)
    return out


def quantized_tensors(graph):
    """The QuantizeLinear nodes of computed values, in graph order."""
    consts = {i.name for i in graph.initializer}
    consts |= {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    return [n for n in graph.node if n.op_type == "QuantizeLinear" and n.input[0] not in consts]


def cut_layer(model, q, producers, consts, elem_type=None):
    """The sub-model computing q's output from the int8 tensors it reads.

    q is a QuantizeLinear (an int8 output) or the node of a graph output
    of elem_type. Walks back from q through every node that is not another
    quantized tensor's QuantizeLinear; each int8 tensor read becomes an input, fed as
    float32 (code − zero point)·scale through a QuantizeLinear with the
    tensor's own parameters, which gives back the codes exactly. Returns the
    model and its inputs: (input name, the tensor's name or None for the
    graph input, its QuantizeLinear node).
    """
    import onnx
    from onnx import helper

    graph = model.graph
    graph_inputs = {i.name: i for i in graph.input}
    order = {id(n): k for k, n in enumerate(graph.node)}
    keep, feeds, seen, stack = [], [], set(), [q]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        keep.append(n)
        for name in n.input:
            if not name or name in consts or any(f[1] == name for f in feeds):
                continue
            p = producers.get(name)
            if p is None and name in graph_inputs:
                feeds.append(("in%d" % len(feeds), name, None))
            elif p is not None and p.op_type == "QuantizeLinear" and p is not q and p.input[0] not in consts:
                feeds.append(("in%d" % len(feeds), name, p))
            elif p is not None:
                stack.append(p)
    keep.sort(key=lambda n: order[id(n)])
    nodes, inputs = [], []
    for alias, name, p in feeds:
        if p is None:
            inputs.append(helper.make_tensor_value_info(alias, graph_inputs[name].type.tensor_type.elem_type, None))
            nodes.append(helper.make_node("Identity", [alias], [name]))
        else:
            inputs.append(helper.make_tensor_value_info(alias, onnx.TensorProto.FLOAT, None))
            nodes.append(helper.make_node("QuantizeLinear", [alias] + list(p.input[1:]), [name], name=alias + "_q"))
    nodes += keep
    used = {i for n in nodes for i in n.input}
    inits = [i for i in graph.initializer if i.name in used]
    out = helper.make_tensor_value_info(q.output[0], elem_type or onnx.TensorProto.INT8, None)
    sub = helper.make_graph(nodes, "layer", inputs, [out], inits)
    m = helper.make_model(sub, opset_imports=model.opset_import)
    m.ir_version = model.ir_version
    return m, feeds


def dequantize(codes, q, consts):
    """Float32 values that q's QuantizeLinear turns back into codes."""
    s = consts[q.input[1]].astype(np.float32)
    z = consts[q.input[2]].astype(np.float32) if len(q.input) > 2 and q.input[2] else np.float32(0)
    return ((codes.astype(np.float32) - z) * s).astype(np.float32)


def check_layers(model_path, x, sqc, work):
    """The layer rule; returns its figures."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(model_path)
    graph = model.graph
    producers = {o: n for n in graph.node for o in n.output}
    consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for n in graph.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    qs = quantized_tensors(graph)
    # ONNX Runtime's codes of every quantized tensor, from one run with
    # each of them a graph output (Q outputs may be graph outputs without
    # stopping the fusions that end in the Q).
    full = onnx.load(model_path)
    have = {o.name for o in full.graph.output}
    for q in qs:
        if q.output[0] not in have:
            full.graph.output.append(onnx.helper.make_tensor_value_info(q.output[0], onnx.TensorProto.INT8, None))
    full_path = os.path.join(work, "all-codes.onnx")
    onnx.save(full, full_path)
    sess = session(full_path, True)
    codes = dict(zip([q.output[0] for q in qs],
                     sess.run([q.output[0] for q in qs], {sess.get_inputs()[0].name: x})))
    # The float graph outputs, cut the same way (from the codes they read).
    outs = [(producers[o.name], o.type.tensor_type.elem_type) for o in graph.output
            if o.name in producers and o.type.tensor_type.elem_type == onnx.TensorProto.FLOAT]
    layers, floats, first_bad, skipped = [], [], None, 0
    for k, (q, elem) in enumerate([(q, None) for q in qs] + outs):
        sub, feeds = cut_layer(model, q, producers, consts, elem)
        arrays = {}
        for alias, name, p in feeds:
            arrays[alias] = x if p is None else dequantize(codes[name], p, consts)
        # A layer reading a value whose batch is not its first dim (ViT's
        # and Swin's attention hold [tokens, N, C]) cannot be fed as a
        # batch of samples: sqc run and the symbolic dim below both take
        # dim 0 as the batch. Counted, not checked.
        if any(a.shape[:1] != (len(x),) for a in arrays.values()):
            skipped += 1
            continue
        # The batch dim stays symbolic, as in the exported model: with
        # every dim static, ONNX Runtime 1.30 failed on ConvNeXt's
        # quantized MatMul layers with a QuantizeLinear of its own
        # ("gemm_input_reshape_arg_q ... output_dtype INT8 does not match
        # y_zero_point type UINT8").
        for vi in sub.graph.input:
            dims = ["N"] + list(arrays[vi.name].shape[1:])
            vi.CopyFrom(onnx.helper.make_tensor_value_info(vi.name, vi.type.tensor_type.elem_type, dims))
        path = os.path.join(work, "layer%d.onnx" % k)
        onnx.save(sub, path)
        npz = os.path.join(work, "layer%d.npz" % k)
        np.savez(npz, **arrays)
        refout = os.path.join(work, "layer%d-ref.npy" % k)
        run = subprocess.run([sqc, "run", path, "--cpu", "--input", npz, "--batch", str(len(x)), "-o", refout, "-q"],
                             capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError("sqc run on layer %s: %s" % (q.output[0], run.stderr.strip().splitlines()[-1:]))
        want = np.load(refout)
        try:
            s = session(path, True)
            got = s.run(None, arrays)[0]
        except Exception as e:
            raise RuntimeError("ONNX Runtime on layer %s: %s" % (q.output[0], str(e).strip().splitlines()[-1:]))
        if elem is not None:
            # A float output: the output rule, from the same int8 inputs.
            row = {"tensor": q.output[0], "float": True}
            row.update(compare_output(got, want))
            if not row["ok"] and first_bad is None:
                first_bad = row
            floats.append(row)
            continue
        d = np.abs(got.astype(np.int64) - want.astype(np.int64))
        row = {"tensor": q.output[0], "codes": int(d.size), "differ": int(np.count_nonzero(d)), "max_step": int(d.max())}
        row["ok"] = row["max_step"] <= 1 and row["differ"] <= LAYER_SHARE * row["codes"]
        if not row["ok"] and first_bad is None:
            first_bad = row
        layers.append(row)
    differ, total = sum(r["differ"] for r in layers), sum(r["codes"] for r in layers)
    return {"ok": first_bad is None, "layers": len(layers), "skipped": skipped, "codes": total, "differ": differ,
            "max_step": max((r["max_step"] for r in layers), default=0), "first_bad": first_bad,
            "float_outputs": floats}


def main():
    model, inp, batch, refpath = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    sqc = sys.argv[5] if len(sys.argv) > 5 else None
    x = np.load(inp)[:batch]
    ref = np.load(refpath)
    out = {"model": model, "batch": batch, "ort": ort.__version__}
    runs = {}
    for name, optimized in (("optimized", True), ("unoptimized", False)):
        sess = session(model, optimized)
        got = sess.run([sess.get_outputs()[0].name], {sess.get_inputs()[0].name: x})[0]
        runs[name] = compare_output(got, ref)
    out.update(runs["optimized"])
    out["unoptimized"] = runs["unoptimized"]
    summary = "all optimizations %s; none: %s" % (runs["optimized"]["summary"], runs["unoptimized"]["summary"])
    if sqc is not None and not runs["optimized"]["ok"]:
        try:
            import onnx  # noqa: F401
        except ImportError:
            onnx = None
        if onnx is None:
            summary += "; no layer check (Python has no onnx package)"
        else:
            with tempfile.TemporaryDirectory() as work:
                lay = check_layers(model, x, sqc, work)
            out["layer_check"] = lay
            out["ok"] = lay["ok"]
            if lay["ok"]:
                summary += ("; layer by layer (all optimizations, the same int8 inputs) %d of %d codes in %d layers differ, "
                            "by at most %d step, and %d float outputs agree: one-step rounding of half-way values, "
                            "amplified downstream") % (
                    lay["differ"], lay["codes"], lay["layers"], lay["max_step"], len(lay["float_outputs"]))
                if lay["skipped"]:
                    summary += " (%d layers with the batch not first not checked)" % lay["skipped"]
            else:
                b = lay["first_bad"]
                if b.get("float"):
                    summary += "; layer by layer DIFFERS first at float output %s (from the same int8 inputs): %s" % (
                        b["tensor"], b["summary"])
                else:
                    summary += "; layer by layer DIFFERS first at %s: %d of %d codes, by up to %d steps" % (
                        b["tensor"], b["differ"], b["codes"], b["max_step"])
    out["summary"] = summary
    print(json.dumps(out))


if __name__ == "__main__":
    main()

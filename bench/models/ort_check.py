"""Run a QDQ ONNX export in ONNX Runtime and compare it with sqc's reference executor.

usage: python3 ort_check.py MODEL.onnx INPUT.npy BATCH REFERENCE.npy

INPUT.npy holds the samples (the first BATCH are fed); REFERENCE.npy is
`sqc run --cpu MODEL.onnx --input INPUT.npy --batch BATCH -o REFERENCE.npy`,
the reference executor's first output on the same file. ONNX Runtime (CPU
provider, all graph optimizations: it fuses the Q/DQ pairs into QLinearConv
and the like, integer arithmetic) runs MODEL.onnx on the same samples.

The rule is the repository's for ONNX Runtime comparisons of exported
models (frontend/onnx/onnxexport's TestONNXRuntime): integer outputs equal,
float outputs within 1e-4 of the output's largest magnitude. A quantized
network can also land one quantization step away where a value sits within
float rounding of a half-way point (onnxexport/qint8.go) and that step then
travels; the line says by how much and whether every row's arg max agrees,
so a miss can be judged. Prints one JSON object: ok, summary and the figures.
"""
import json, sys

import numpy as np
import onnxruntime as ort


def main():
    model, inp, batch, refpath = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    x = np.load(inp)[:batch]
    ref = np.load(refpath)
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    feed = {sess.get_inputs()[0].name: x}
    got = sess.run([sess.get_outputs()[0].name], feed)[0]
    out = {"model": model, "batch": batch, "ort": ort.__version__, "shape": list(got.shape)}
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
    print(json.dumps(out))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Writes libonnx_digest.txt: an independent (numpy) reading of every test
tensor in Debian's libonnx-testdata, which TestLibonnxTestdata compares with
the frontend's decoding.

For each test_data_set_*/{input,output}_N.pb, sorted by path relative to the
data directory, one line is formed:

    <relpath> tensor <onnx dtype code> [d0,d1,...] <sha256 of the elements as little-endian bytes>
    <relpath> tensor <code> unsupported           (strings and other dtypes sqc has no storage for)
    <relpath> <sequence_type|optional_type|...>   (not a tensor: classified by model.graph.input/output[N])

The file holds the number of lines and the sha256 of all lines (each ending in
"\n") for each top-level directory, so it stays small; run this script with
--lines to print the lines themselves when a digest disagrees.

Run: /usr/bin/python3 libonnx_digest.py > libonnx_digest.txt  (python3-onnx 1.12, numpy)
"""
import glob, hashlib, os, sys
import numpy as np
import onnx
from onnx import numpy_helper

ROOT = "/usr/share/libonnx-testdata/data"
SUPPORTED = {1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 16}


def le_bytes(t):
    arr = numpy_helper.to_array(t)
    if t.data_type == 16:  # bfloat16: onnx 1.12 widens to float32; keep the top half
        arr = (np.ascontiguousarray(arr, dtype="<f4").view("<u4") >> 16).astype("<u2")
    elif t.data_type == 10:
        arr = np.ascontiguousarray(arr, dtype="<f2").view("<u2")
    elif t.data_type == 9:
        arr = arr.astype(np.uint8)
    else:
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return np.ascontiguousarray(arr).tobytes()


def lines():
    out = []
    for model_path in glob.glob(ROOT + "/*/*/model.onnx"):
        d = os.path.dirname(model_path)
        model = onnx.load(model_path, load_external_data=False)
        for pb in glob.glob(d + "/test_data_set_*/*.pb"):
            rel = os.path.relpath(pb, ROOT)
            kind, idx = os.path.basename(pb)[:-3].rsplit("_", 1)
            lst = model.graph.input if kind == "input" else model.graph.output
            idx = int(idx)
            vk = lst[idx].type.WhichOneof("value") if idx < len(lst) else "unknown"
            if vk != "tensor_type":
                out.append(f"{rel} {vk}")
                continue
            t = onnx.TensorProto()
            with open(pb, "rb") as f:
                t.ParseFromString(f.read())
            if t.data_type not in SUPPORTED:
                out.append(f"{rel} tensor {t.data_type} unsupported")
                continue
            dims = "[" + ",".join(str(x) for x in t.dims) + "]"
            out.append(f"{rel} tensor {t.data_type} {dims} {hashlib.sha256(le_bytes(t)).hexdigest()}")
    return sorted(out)


def main():
    ls = lines()
    if "--lines" in sys.argv:
        print("\n".join(ls))
        return
    groups = {}
    for l in ls:
        groups.setdefault(l.split("/", 1)[0], []).append(l)
    for g in sorted(groups):
        h = hashlib.sha256("".join(x + "\n" for x in groups[g]).encode()).hexdigest()
        print(g, len(groups[g]), h)


main()

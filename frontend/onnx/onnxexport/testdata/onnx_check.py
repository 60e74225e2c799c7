"""onnx_check.py validates ONNX files with the onnx package's checker.

    python3 onnx_check.py MODEL.onnx...

Each model goes through onnx.checker.check_model with full_check (which runs
strict shape inference: every value_info and graph output type must agree
with what ONNX infers) and one line per model is printed: "ok NAME" or
"FAIL NAME: message". The exit status is 1 when any model fails.
"""
import sys

import onnx


def main(paths):
    failed = False
    for path in paths:
        try:
            onnx.checker.check_model(onnx.load(path), full_check=True)
            print("ok", path)
        except Exception as e:  # the checker raises several exception types
            failed = True
            print("FAIL %s: %s" % (path, str(e).replace("\n", " ")))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

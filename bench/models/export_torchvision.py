"""Export torchvision models (random weights) to ONNX.

Each model is torchvision's own definition with random weights, exported
with the batch dim symbolic ("N"); the input is 3x224x224 (3x299x299 for
Inception-v3). Without names it exports every model below. Debian's
python3-torch 1.13 / python3-torchvision 0.14 export with the TorchScript
exporter at opset 17. On torch 2 the TorchScript exporter is chosen
explicitly (dynamo=False) unless SQC_EXPORTER=dynamo asks for the dynamo
exporter (torch 2.9's default, opset 18; it writes the weights as external
data, NAME.onnx.data, and exports from a batch-2 example because
torch.export specializes a dim of size 1).

A model that fails to export does not stop the others: its traceback goes
to NAME.export-error.txt (bench/models shows its last line). A model file
appears only once complete (written in a temporary folder, then renamed:
its external data first), so a reader may poll for it while others export.

usage: /usr/bin/python3 export_torchvision.py OUTDIR [opset] [names...]
"""
import inspect, os, shutil, sys, tempfile, traceback, torch, torchvision

tv = torchvision.models
MODELS = {
    "resnet18": (lambda: tv.resnet18(), 224),
    "resnet50": (lambda: tv.resnet50(), 224),
    "resnext50_32x4d": (lambda: tv.resnext50_32x4d(), 224),
    "wide_resnet50_2": (lambda: tv.wide_resnet50_2(), 224),
    "vgg16_bn": (lambda: tv.vgg16_bn(), 224),
    "mobilenet_v2": (lambda: tv.mobilenet_v2(), 224),
    "mobilenet_v3_large": (lambda: tv.mobilenet_v3_large(), 224),
    "efficientnet_b0": (lambda: tv.efficientnet_b0(), 224),
    "regnet_y_400mf": (lambda: tv.regnet_y_400mf(), 224),
    "mnasnet1_0": (lambda: tv.mnasnet1_0(), 224),
    "shufflenet_v2_x1_0": (lambda: tv.shufflenet_v2_x1_0(), 224),
    "squeezenet1_1": (lambda: tv.squeezenet1_1(), 224),
    "densenet121": (lambda: tv.densenet121(), 224),
    # Without pretrained weights GoogLeNet and Inception-v3 build their
    # auxiliary heads; in eval mode they are not in the traced graph.
    "googlenet": (lambda: tv.googlenet(aux_logits=False, init_weights=True), 224),
    "inception_v3": (lambda: tv.inception_v3(aux_logits=False, init_weights=True), 299),
    "convnext_tiny": (lambda: torchvision.models.convnext_tiny(), 224),
    "vit_b_16": (lambda: torchvision.models.vit_b_16(), 224),
    "fcn_resnet50": (lambda: torchvision.models.segmentation.fcn_resnet50(weights=None, weights_backbone=None, aux_loss=False), 224),
    "lraspp_mobilenet_v3_large": (lambda: torchvision.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None), 224),
    "swin_t": (lambda: torchvision.models.swin_t(), 224),
    "deeplabv3_resnet50": (lambda: torchvision.models.segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None, aux_loss=False), 224),
}

class OutOnly(torch.nn.Module):
    """Segmentation models return a dict; export its "out" tensor."""
    def __init__(self, m):
        super().__init__()
        self.m = m
    def forward(self, x):
        y = self.m(x)
        return y["out"] if isinstance(y, dict) else y

def export(name, out, opset, dynamo, kw):
    """Exports one model to OUT/NAME.onnx (and NAME.onnx.data), whole or not at all."""
    make, size = MODELS[name]
    torch.manual_seed(0)
    m = OutOnly(make()).eval()
    # Some heads start at zero (ViT's classifier): their output would be
    # all zeros whatever the rest computes, so give them random weights.
    with torch.no_grad():
        for prm in m.parameters():
            if prm.dim() > 1 and not prm.any():
                torch.nn.init.normal_(prm, std=0.02)
    x = torch.randn(2 if dynamo else 1, 3, size, size)
    if dynamo:
        kw = dict(kw, dynamic_shapes={"x": {0: torch.export.Dim("N")}})
    else:
        kw = dict(kw, dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    tmp = tempfile.mkdtemp(prefix="." + name + "-", dir=out)
    try:
        path = os.path.join(tmp, name + ".onnx")
        torch.onnx.export(m, (x,), path, opset_version=opset, input_names=["input"], output_names=["output"], **kw)
        for f in sorted(os.listdir(tmp), key=lambda f: f == name + ".onnx"):
            os.replace(os.path.join(tmp, f), os.path.join(out, f))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    opset = int(sys.argv[2]) if len(sys.argv) > 2 else 17
    names = sys.argv[3:] or list(MODELS)
    kw = {}
    dynamo = os.environ.get("SQC_EXPORTER", "torchscript") == "dynamo"
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kw["dynamo"] = dynamo
    elif dynamo:
        sys.exit("SQC_EXPORTER=dynamo: torch %s has no dynamo exporter" % torch.__version__)
    failed = 0
    for name in names:
        err = os.path.join(out, name + ".export-error.txt")
        if os.path.exists(err):
            os.remove(err)
        try:
            export(name, out, opset, dynamo, kw)
            print("wrote", os.path.join(out, name + ".onnx"), flush=True)
        except Exception:
            failed += 1
            with open(err, "w") as f:
                f.write(traceback.format_exc())
            print("failed", name, traceback.format_exc().strip().splitlines()[-1], flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

"""Export torchvision models (random weights) to ONNX with the TorchScript exporter.

Each model is torchvision's own definition with random weights, exported at
batch 1 with the batch dim symbolic ("N"); the input is 3x224x224 (3x299x299
for Inception-v3). Without names it exports every model below. Debian's
python3-torch 1.13 / python3-torchvision 0.14 export at opset 17. On torch 2
the TorchScript exporter is chosen explicitly (dynamo=False) unless
SQC_EXPORTER=dynamo asks for the dynamo exporter (torch 2.9's default, which
writes opset 18; not yet tried on this project's machines).

usage: /usr/bin/python3 export_torchvision.py OUTDIR [opset] [names...]
"""
import inspect, os, sys, torch, torchvision

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

def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    opset = int(sys.argv[2]) if len(sys.argv) > 2 else 17
    names = sys.argv[3:] or list(MODELS)
    kw = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kw["dynamo"] = os.environ.get("SQC_EXPORTER", "torchscript") == "dynamo"
    torch.manual_seed(0)
    for name in names:
        make, size = MODELS[name]
        m = OutOnly(make()).eval()
        # Some heads start at zero (ViT's classifier): their output would be
        # all zeros whatever the rest computes, so give them random weights.
        with torch.no_grad():
            for prm in m.parameters():
                if prm.dim() > 1 and not prm.any():
                    torch.nn.init.normal_(prm, std=0.02)
        x = torch.randn(1, 3, size, size)
        path = f"{out}/{name}.onnx"
        torch.onnx.export(m, x, path, opset_version=opset, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "N"}, "output": {0: "N"}}, **kw)
        print("wrote", path, flush=True)

if __name__ == "__main__":
    main()

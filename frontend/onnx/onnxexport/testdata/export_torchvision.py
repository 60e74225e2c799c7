"""Export torchvision models (random weights) to ONNX with the TorchScript exporter.

usage: /usr/bin/python3 export_torchvision.py OUTDIR [opset] [names...]
"""
import sys, torch, torchvision

MODELS = {
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
    opset = int(sys.argv[2]) if len(sys.argv) > 2 else 17
    names = sys.argv[3:] or list(MODELS)
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
                          dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
        print("wrote", path, flush=True)

if __name__ == "__main__":
    main()

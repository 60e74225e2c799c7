#!/usr/bin/python3
"""Writes the reader test fixtures with NumPy and Pillow (Debian packages
python3-numpy and python3-pil), so that the Go readers are checked against
files the reference implementations wrote, not against files the Go code
wrote itself. Run from this folder: /usr/bin/python3 gen.py. The outputs are committed;
tests do not need Python."""
import io
import numpy as np
from PIL import Image

def arange(shape, dtype, scale=1.0, offset=0.0):
    n = int(np.prod(shape))
    return (np.arange(n, dtype=np.float64) * scale + offset).astype(dtype).reshape(shape)

# value[i] = i*0.5 - 3 (flat index i), float32, little-endian, format 1.0
np.save("f32_v1.npy", arange((4, 2, 3), "<f4", 0.5, -3))
# value[i] = i*0.25 + 1, float64, big-endian
np.save("f64_be.npy", arange((3, 5), ">f8", 0.25, 1))
# value[i] = i % 256, uint8
np.save("u8.npy", (np.arange(5 * 16) % 256).astype(np.uint8).reshape(5, 1, 4, 4))
# value[i] = i - 10, int8
np.save("i8.npy", arange((3, 7), "i1", 1, -10))
# value[i] = i*1000003 - 7, int64, big-endian
np.save("i64_be.npy", arange((2, 3), ">i8", 1000003, -7))
# value[i] = i / 8, float16
np.save("f16.npy", arange((2, 4), "<f2", 0.125, 0))
# the f32 array again in format versions 2.0 and 3.0
for v in (2, 3):
    with open(f"f32_v{v}.npy", "wb") as f:
        np.lib.format.write_array(f, arange((4, 2, 3), "<f4", 0.5, -3), version=(v, 0))
# Fortran order: refused
np.save("fortran.npy", np.asfortranarray(arange((3, 4), "<f4")))
# truncated: the f32 file less its last 5 bytes
data = open("f32_v1.npy", "rb").read()
open("truncated.npy", "wb").write(data[:-5])

# npz: x[i] = i*0.5 - 3 (4,2,3) f32, y[i] = i (4,5) int64; stored and deflated
x, y = arange((4, 2, 3), "<f4", 0.5, -3), arange((4, 5), "<i8")
np.savez("xy_stored.npz", x=x, y=y)
np.savez_compressed("xy_deflated.npz", x=x, y=y)
# positional names arr_0 ... arr_11: arr_k holds k in every element, 2 samples
np.savez("positional.npz", *[np.full((2, 3), k, dtype="<f4") for k in range(12)])
# arrays with different sample counts: refused
np.savez("uneven.npz", a=np.zeros((3, 2), "<f4"), b=np.zeros((4, 2), "<f4"))

# an uncompressed IDX file of dims (3, 5): element i = 7*i % 256
with open("bytes.idx", "wb") as f:
    f.write(bytes([0, 0, 8, 2]) + (3).to_bytes(4, "big") + (5).to_bytes(4, "big"))
    f.write(bytes((7 * i) % 256 for i in range(15)))

# PNG images with smooth content and a little texture, and what torchvision's
# Resize(64) + CenterCrop(56) gives for them through PIL's bilinear filter.
rng = np.random.default_rng(5)
yy, xx = np.mgrid[0:150, 0:220]
rgb = np.stack([(xx * 255 / 219), (yy * 255 / 149), 128 + 60 * np.sin(xx / 9.0) * np.cos(yy / 7.0)], axis=-1)
rgb = np.clip(rgb + rng.normal(0, 6, rgb.shape), 0, 255).astype(np.uint8)
Image.fromarray(rgb, "RGB").save("img/b_wide.png")
Image.fromarray(rgb.transpose(1, 0, 2).copy(), "RGB").save("img/a_tall.png")
Image.fromarray(rgb[:, :, 1].copy(), "L").save("img/sub/c_gray.png")

def torchvision_eval(img, resize, crop):
    w, h = img.size
    if w <= h:
        size = (resize, int(resize * h / w))
    else:
        size = (int(resize * w / h), resize)
    img = img.resize(size, Image.BILINEAR)
    w, h = img.size
    top, left = int(round((h - crop) / 2.0)), int(round((w - crop) / 2.0))
    return np.asarray(img.crop((left, top, left + crop, top + crop)))

for name in ("a_tall", "b_wide"):
    np.save(f"pil_{name}_r64_c56.npy", torchvision_eval(Image.open(f"img/{name}.png").convert("RGB"), 64, 56))
np.save("pil_c_gray_r64_c56.npy", torchvision_eval(Image.open("img/sub/c_gray.png"), 64, 56))
# The same for a real JPEG (decoded by libjpeg through PIL).
np.save("pil_goldfish_r64_c56.npy",
        torchvision_eval(Image.open("../../../../shared/data/imagenet_samples/goldfish.jpg").convert("RGB"), 64, 56))

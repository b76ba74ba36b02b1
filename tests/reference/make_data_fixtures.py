#!/usr/bin/python3
"""Golden fixtures for EvolQ.Data: small images of odd sizes and Pillow's evaluation preprocessing of them.

Run with Debian's interpreter (python3-pil, python3-numpy): /usr/bin/python3 tests/reference/make_data_fixtures.py
Writes tests/fixtures/data/:
  images/<class>/<file>       the source images (an ImageFolder tree; a non-image file and a nested folder included)
  manifest.json               one entry per image and per (image, setting); see below
  decoded/<id>.u8.gz          Pillow's Image.open(f).convert('RGB') pixels, HWC uint8 (encoding: see save_u8)
  resized/<id>.<setting>.u8.gz  torchvision Resize(resize, interp) + CenterCrop(crop) of those pixels, same encoding
The C# tests compare their decoder and their resampler separately against these (the resampler from Pillow's decoded
pixels, so a JPEG decoder difference cannot hide a resampling one).
"""
import gzip
import json
import math
import os
import shutil

import numpy as np
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "data")

# (resize of the shorter side, crop, Pillow filter name): the DeiT/LeViT setting, the ViT/Swin one, and a small one
# that keeps the fixtures small while still downscaling by up to 8x.
SETTINGS = {
    "r256c224": (256, 224, "bicubic"),
    "r248c224": (248, 224, "bicubic"),
    "r36c32": (36, 32, "bicubic"),
    "r36c32bl": (36, 32, "bilinear"),
}
FILTERS = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}


def content(w, h, seed, noise=0.0):
    """Smooth gradients and hard edges (plus optional noise): the resampler's overshoot and clipping both get
    exercised, and the fixtures still compress."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 127 + 120 * np.sin(x / (w / 5.0) + seed)
    g = 255 * (y / max(h - 1, 1))
    b = np.where(((x // 13) + (y // 11)) % 2 == 0, 250.0, 5.0)
    img = np.stack([r, g, b], axis=-1) + rng.normal(0, noise, (h, w, 3))
    img[h // 3: h // 3 + 3, :, :] = 255  # a white line: maximal overshoot next to it
    img[:, w // 2: w // 2 + 2, :] = 0
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def resize_crop(img, resize, crop, interp):
    """torchvision.transforms.Resize(int) then CenterCrop(int) on a PIL image (torchvision's size and offset rules)."""
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    if short != resize:
        new_short, new_long = resize, int(resize * long / short)
        size = (new_short, new_long) if w <= h else (new_long, new_short)
        img = img.resize(size, FILTERS[interp])
    w, h = img.size
    assert w >= crop and h >= crop
    top = int(round((h - crop) / 2.0))
    left = int(round((w - crop) / 2.0))
    return img.crop((left, top, left + crop, top + crop))


def save_u8(path, arr):
    """HWC uint8 (3 channels), delta-coded against the same channel of the previous pixel (mod 256) and gzipped:
    smooth images then compress about 3x better than plain gzip."""
    flat = np.ascontiguousarray(arr, dtype=np.uint8).reshape(-1)
    delta = flat.copy()
    delta[3:] = (flat[3:].astype(np.int16) - flat[:-3]).astype(np.uint8)
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        f.write(delta.tobytes())


def make_tensor_files(folder):
    """Small .npy image/label files as numpy writes them, and Pillow's 'F'-mode (float) resize of the float ones."""
    os.makedirs(folder)
    rng = np.random.default_rng(11)
    np.save(os.path.join(folder, "u8_nchw.npy"), rng.integers(0, 256, (4, 3, 5, 6), dtype=np.uint8))
    np.save(os.path.join(folder, "u8_labels.npy"), np.array([2, 0, 1, 2], dtype=np.int64))
    np.save(os.path.join(folder, "f32_nhw.npy"), rng.random((3, 7, 9), dtype=np.float32))
    np.save(os.path.join(folder, "i32_labels.npy"), np.array([1, 1, 0], dtype=np.int32))

    # Float images resized per channel in Pillow's 'F' mode (double accumulation, no rounding), then center-cropped.
    imgs = np.stack([content(40, 30, 20 + n).transpose(2, 0, 1) for n in range(2)]).astype(np.float32) / 255
    np.save(os.path.join(folder, "f32_nchw_40x30.npy"), imgs)
    out = np.zeros((2, 3, 32, 32), dtype=np.float32)
    for n in range(2):
        for c in range(3):
            im = Image.fromarray(imgs[n, c], "F")
            out[n, c] = np.asarray(resize_crop(im, 36, 32, "bicubic"), dtype=np.float32)
    np.save(os.path.join(folder, "f32_nchw_40x30.r36c32.npy"), out)


def main():
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    for d in ("images", "decoded", "resized"):
        os.makedirs(os.path.join(ROOT, d))

    # Class names chosen so that ordinal order (Zeta, alpha, n01440764) differs from case-insensitive order.
    images = []  # (id, relative path, Pillow image)

    def add(cls, name, im, **save_args):
        rel = os.path.join("images", cls, name)
        path = os.path.join(ROOT, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        im.save(path, **save_args)
        images.append((os.path.splitext(name)[0].replace("/", "_"), rel))

    rgb = lambda w, h, s: Image.fromarray(content(w, h, s), "RGB")
    add("Zeta", "landscape_300x227.jpg", rgb(300, 227, 1), quality=90)
    add("Zeta", "large_400x300.png", rgb(400, 300, 10))
    add("Zeta", "portrait_97x151.JPEG", rgb(97, 151, 2), quality=85, subsampling=0)
    add("Zeta", "square_64x64.png", Image.fromarray(content(64, 64, 3, noise=3.0), "RGB"))
    add("alpha", "gray_120x90.png", rgb(120, 90, 4).convert("L"))
    rgba = np.dstack([content(130, 170, 5), np.linspace(0, 255, 130 * 170).reshape(170, 130).astype(np.uint8)])
    add("alpha", "rgba_130x170.png", Image.fromarray(rgba, "RGBA"))
    add("alpha", "tiny_40x30.jpg", rgb(40, 30, 6), quality=95)
    add("n01440764", "gray_77x64.jpg", rgb(77, 64, 7).convert("L"), quality=90)
    add("n01440764", "palette_66x50.png", rgb(66, 50, 8).convert("P", palette=Image.ADAPTIVE, colors=64))
    add("n01440764", "sub/nested_50x61.png", rgb(50, 61, 9))
    with open(os.path.join(ROOT, "images", "n01440764", "notes.txt"), "w") as f:
        f.write("not an image: ImageFolder skips files without an image extension\n")

    manifest = {"encoding": "gzip of HWC uint8 RGB, each byte minus the byte 3 before it (mod 256)",
                "settings": {k: {"resize": v[0], "crop": v[1], "interpolation": v[2]} for k, v in SETTINGS.items()},
                "images": []}
    for ident, rel in images:
        with Image.open(os.path.join(ROOT, rel)) as im:
            mode = im.mode
            rgbim = im.convert("RGB")
        dec = np.asarray(rgbim)
        save_u8(os.path.join(ROOT, "decoded", ident + ".u8.gz"), dec)
        entry = {"id": ident, "path": rel.replace(os.sep, "/"), "mode": mode, "width": rgbim.width,
                 "height": rgbim.height, "resized": {}}
        for key, (resize, crop, interp) in SETTINGS.items():
            # The 224 settings only for a few images (they are most of the fixture bytes): a downscale (the ImageNet
            # case), an upscale of a portrait, and a 6x upscale.
            if crop == 224 and (ident, key) not in (("large_400x300", "r256c224"), ("large_400x300", "r248c224"),
                                                     ("portrait_97x151", "r256c224"), ("tiny_40x30", "r248c224")):
                continue
            out = np.asarray(resize_crop(rgbim, resize, crop, interp))
            save_u8(os.path.join(ROOT, "resized", f"{ident}.{key}.u8.gz"), out)
            entry["resized"][key] = {"height": out.shape[0], "width": out.shape[1]}
        manifest["images"].append(entry)

    make_tensor_files(os.path.join(ROOT, "tensors"))

    with open(os.path.join(ROOT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(ROOT) for n in ns)
    print(f"wrote {ROOT}: {total} bytes")


if __name__ == "__main__":
    main()

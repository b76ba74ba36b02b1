#!/usr/bin/python3
"""Writes the fixtures of the tensor-file and checkpoint tests under tests/fixtures/checkpoints/.

Run with Debian's interpreter (numpy 1.24, torch 1.13): /usr/bin/python3 tests/reference/make_checkpoint_fixtures.py
Every file is made by numpy's or PyTorch's own writers, except safetensors (Debian has no package for it), which is
written here by hand following the format: u64 little-endian header length, JSON header, raw little-endian data.
The output is deterministic (fixed seed, fixed zip timestamps), so a rerun changes nothing unless this script does.

tensorio/ (EvolQ.TensorIO.Tests):
  npy_<dtype>.npy          shape (2, 3, 4), values from pattern() below, little-endian ('|' for one-byte types)
  npy_be_<dtype>.npy       the same, big-endian ('>f4', '>f8', '>f2', '>i2', '>i4', '>i8')
  npy_v2.npy, npy_v3.npy   f4 pattern with format versions 2.0 and 3.0
  npy_scalar.npy           a 0-d f8 array holding 2.5
  npy_empty.npy            an f4 array of shape (0, 3)
  npy_fortran.npy          a Fortran-ordered (3, 2) i8 array (must be rejected)
  arrays_stored.npz        np.savez layout: 'a' (f4 pattern), 'nested/b' (i8 pattern), 'c' (b1 pattern)
  arrays_deflated.npz      the same, deflated (np.savez_compressed)
  all_dtypes.safetensors   one tensor per dtype named after it (F32 ... BOOL), pattern values; metadata
                           {"format": "pt", "note": "made by make_checkpoint_fixtures.py"}

tiny_vit.* (EvolQ.Models.Tests): the tiny ViT of the tests (img 28, patch 7, 1 channel, embed 64, depth 2, heads 4,
MLP 256, 10 classes) with random weights under timm names:
  tiny_vit.model.pth       torch.save({"model": state_dict, "epoch": 300}); head.weight is saved non-contiguous, and
                           blocks.0.attn.qkv.bias and blocks.0.attn.proj.bias are views of one storage
  tiny_vit.bare.pth        torch.save(state_dict)
  tiny_vit.safetensors     the state dict
  tiny_vit.augreg.npz      the same weights in Google's AugReg (Flax) layout and names
  tiny_vit.expected.json   per key in state-dict order: shape, float64 sum, the first and last values

micro_vit.* : a smaller model of the same family (embed 8, depth 1, heads 2, MLP 16) for the broken files:
  micro_vit.pth                 good
  micro_vit.nan.pth             blocks.0.mlp.fc1.weight[3, 5] = NaN
  micro_vit.wrong_shape.safetensors   head.weight saved with shape [10, 16] (model: [10, 8])
  micro_vit.missing_key.pth     no norm.bias
  micro_vit.extra_key.pth       an extra dist_token [1, 1, 8]
  micro_vit.truncated.pth       the first half of micro_vit.pth
  micro_vit.truncated.safetensors  the good micro safetensors cut 100 bytes into the data
  micro_vit.legacy.pth          torch.save(..., _use_new_zipfile_serialization=False) (unsupported; the legacy
                                format embeds storage addresses, so only this file changes between runs)
  micro_vit.pos_grid.npz        AugReg layout of a 35-px model (a 5x5 grid, 26 tokens instead of 17)
"""
import io
import json
import math
import os
import struct
import zipfile
from collections import OrderedDict

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "fixtures", "checkpoints"))
ZIP_TIME = (1980, 1, 1, 0, 0, 0)

NUMPY_TYPES = ["f4", "f8", "f2", "i1", "u1", "i2", "i4", "i8", "b1"]
SAFETENSORS_TYPES = {
    "F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16,
    "I8": torch.int8, "U8": torch.uint8, "I16": torch.int16, "I32": torch.int32, "I64": torch.int64,
    "BOOL": torch.bool,
}


def pattern(kind, shape=(2, 3, 4)):
    """Values the C# tests recompute: floats (i - 12) / 4, signed i - 12, unsigned 10 i, bool i % 3 == 0."""
    i = np.arange(int(np.prod(shape)), dtype=np.int64)
    if kind == "f":
        v = (i - 12) / 4.0
    elif kind == "i":
        v = i - 12
    elif kind == "u":
        v = i * 10
    else:
        v = i % 3 == 0
    return v.reshape(shape)


def npy_bytes(array, version=None):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, version=version)
    return buffer.getvalue()


def write_npz(path, arrays, compress):
    """np.savez / np.savez_compressed, but with a fixed timestamp so the bytes do not change between runs."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(key + ".npy", date_time=ZIP_TIME)
            info.compress_type = method
            with zf.open(info, "w", force_zip64=True) as fid:
                np.lib.format.write_array(fid, np.asanyarray(value))


def safetensors_bytes(tensors, metadata=None):
    header = OrderedDict()
    if metadata:
        header["__metadata__"] = metadata
    blobs = []
    offset = 0
    names = {v: k for k, v in SAFETENSORS_TYPES.items()}
    for name, t in tensors.items():
        t = t.detach().contiguous()
        if t.dtype == torch.bfloat16:
            data = t.view(torch.int16).numpy().astype("<i2").tobytes()
        elif t.dtype == torch.bool:
            data = t.numpy().astype(np.uint8).tobytes()
        else:
            data = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


# ---------------------------------------------------------------------------------------------------------------
# The tiny ViT with timm names (only the parameters matter here).

class Attention(torch.nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.qkv = torch.nn.Linear(dim, 3 * dim)
        self.proj = torch.nn.Linear(dim, dim)


class Mlp(torch.nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = torch.nn.Linear(dim, hidden)
        self.fc2 = torch.nn.Linear(hidden, dim)


class Block(torch.nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.norm1 = torch.nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim)
        self.norm2 = torch.nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, hidden)


class PatchEmbed(torch.nn.Module):
    def __init__(self, patch, channels, dim):
        super().__init__()
        self.proj = torch.nn.Conv2d(channels, dim, kernel_size=patch, stride=patch)


class TinyVit(torch.nn.Module):
    """Registration order follows timm's VisionTransformer, so state_dict() lists keys as a timm checkpoint does."""

    def __init__(self, img=28, patch=7, channels=1, dim=64, depth=2, hidden=256, classes=10):
        super().__init__()
        tokens = (img // patch) ** 2 + 1
        self.patch_embed = PatchEmbed(patch, channels, dim)
        self.cls_token = torch.nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = torch.nn.Parameter(torch.zeros(1, tokens, dim))
        self.blocks = torch.nn.Sequential(*[Block(dim, hidden) for _ in range(depth)])
        self.norm = torch.nn.LayerNorm(dim, eps=1e-6)
        self.head = torch.nn.Linear(dim, classes)


def random_state_dict(seed, **config):
    torch.manual_seed(seed)
    model = TinyVit(**config)
    with torch.no_grad():
        for p in model.parameters():
            # Random everywhere (LayerNorm included), so a transposed or swapped tensor cannot pass by accident.
            p.copy_(torch.randn_like(p) * 0.5)
    return model.state_dict()


def to_augreg(sd, heads):
    """The inverse of timm's _load_weights: timm names and layouts to the AugReg npz."""
    out = OrderedDict()
    # Flax writes C-ordered arrays; a transposed torch view would otherwise be saved in Fortran order.
    a = lambda t: np.ascontiguousarray(t.detach().numpy().astype(np.float32))
    out["cls"] = a(sd["cls_token"])
    out["embedding/kernel"] = a(sd["patch_embed.proj.weight"].permute(2, 3, 1, 0))  # OIHW -> HWIO
    out["embedding/bias"] = a(sd["patch_embed.proj.bias"])
    out["Transformer/posembed_input/pos_embedding"] = a(sd["pos_embed"])
    depth = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
    for i in range(depth):
        p = f"blocks.{i}."
        q = f"Transformer/encoderblock_{i}/"
        dim = sd[p + "norm1.weight"].shape[0]
        hd = dim // heads
        out[q + "LayerNorm_0/scale"] = a(sd[p + "norm1.weight"])
        out[q + "LayerNorm_0/bias"] = a(sd[p + "norm1.bias"])
        w = sd[p + "attn.qkv.weight"]
        b = sd[p + "attn.qkv.bias"]
        for j, n in enumerate(["query", "key", "value"]):
            m = q + f"MultiHeadDotProductAttention_1/{n}/"
            out[m + "kernel"] = a(w[j * dim:(j + 1) * dim].t().reshape(dim, heads, hd))
            out[m + "bias"] = a(b[j * dim:(j + 1) * dim].reshape(heads, hd))
        m = q + "MultiHeadDotProductAttention_1/out/"
        out[m + "kernel"] = a(sd[p + "attn.proj.weight"].t().reshape(heads, hd, dim))
        out[m + "bias"] = a(sd[p + "attn.proj.bias"])
        out[q + "LayerNorm_2/scale"] = a(sd[p + "norm2.weight"])
        out[q + "LayerNorm_2/bias"] = a(sd[p + "norm2.bias"])
        for j, n in enumerate(["fc1", "fc2"]):
            out[q + f"MlpBlock_3/Dense_{j}/kernel"] = a(sd[p + f"mlp.{n}.weight"].t())
            out[q + f"MlpBlock_3/Dense_{j}/bias"] = a(sd[p + f"mlp.{n}.bias"])
    out["Transformer/encoder_norm/scale"] = a(sd["norm.weight"])
    out["Transformer/encoder_norm/bias"] = a(sd["norm.bias"])
    out["head/kernel"] = a(sd["head.weight"].t())
    out["head/bias"] = a(sd["head.bias"])
    return out


def from_augreg(w, depth):
    """timm's mapping (vision_transformer._load_weights), used here only to prove to_augreg is its inverse."""
    def n2p(x, t=True):
        if x.ndim == 4 and x.shape[0] == x.shape[1] == x.shape[2] == 1:
            x = x.flatten()
        if t:
            if x.ndim == 4:
                x = x.transpose([3, 2, 0, 1])
            elif x.ndim == 3:
                x = x.transpose([2, 0, 1])
            elif x.ndim == 2:
                x = x.transpose([1, 0])
        return torch.from_numpy(np.ascontiguousarray(x))

    sd = OrderedDict()
    sd["cls_token"] = n2p(w["cls"], t=False)
    sd["pos_embed"] = n2p(w["Transformer/posembed_input/pos_embedding"], t=False)
    sd["patch_embed.proj.weight"] = n2p(w["embedding/kernel"])
    sd["patch_embed.proj.bias"] = n2p(w["embedding/bias"])
    for i in range(depth):
        q = f"Transformer/encoderblock_{i}/"
        m = q + "MultiHeadDotProductAttention_1/"
        p = f"blocks.{i}."
        sd[p + "norm1.weight"] = n2p(w[q + "LayerNorm_0/scale"])
        sd[p + "norm1.bias"] = n2p(w[q + "LayerNorm_0/bias"])
        sd[p + "attn.qkv.weight"] = torch.cat([n2p(w[m + n + "/kernel"], t=False).flatten(1).T for n in ("query", "key", "value")])
        sd[p + "attn.qkv.bias"] = torch.cat([n2p(w[m + n + "/bias"], t=False).reshape(-1) for n in ("query", "key", "value")])
        sd[p + "attn.proj.weight"] = n2p(w[m + "out/kernel"]).flatten(1)
        sd[p + "attn.proj.bias"] = n2p(w[m + "out/bias"])
        sd[p + "norm2.weight"] = n2p(w[q + "LayerNorm_2/scale"])
        sd[p + "norm2.bias"] = n2p(w[q + "LayerNorm_2/bias"])
        for j, n in enumerate(["fc1", "fc2"]):
            sd[p + f"mlp.{n}.weight"] = n2p(w[q + f"MlpBlock_3/Dense_{j}/kernel"])
            sd[p + f"mlp.{n}.bias"] = n2p(w[q + f"MlpBlock_3/Dense_{j}/bias"])
    sd["norm.weight"] = n2p(w["Transformer/encoder_norm/scale"])
    sd["norm.bias"] = n2p(w["Transformer/encoder_norm/bias"])
    sd["head.weight"] = n2p(w["head/kernel"])
    sd["head.bias"] = n2p(w["head/bias"])
    return sd


def expected_json(sd):
    entries = []
    for k, v in sd.items():
        flat = v.detach().reshape(-1).double()
        entries.append({
            "name": k,
            "shape": list(v.shape),
            "sum": float(flat.sum()),
            "first": float(flat[0]),
            "last": float(flat[-1]),
        })
    return json.dumps({"tensors": entries}, indent=1) + "\n"


def tensorio_fixtures(out):
    os.makedirs(out, exist_ok=True)
    for t in NUMPY_TYPES:
        write(os.path.join(out, f"npy_{t}.npy"), npy_bytes(pattern(t[0]).astype(np.dtype(t).newbyteorder("<"))))
    for t in ["f4", "f8", "f2", "i2", "i4", "i8"]:
        array = pattern(t[0]).astype(">" + t)
        assert array.dtype.byteorder == ">"
        write(os.path.join(out, f"npy_be_{t}.npy"), npy_bytes(array))
    write(os.path.join(out, "npy_v2.npy"), npy_bytes(pattern("f").astype("<f4"), version=(2, 0)))
    write(os.path.join(out, "npy_v3.npy"), npy_bytes(pattern("f").astype("<f4"), version=(3, 0)))
    write(os.path.join(out, "npy_scalar.npy"), npy_bytes(np.array(2.5, dtype="<f8")))
    write(os.path.join(out, "npy_empty.npy"), npy_bytes(np.zeros((0, 3), dtype="<f4")))
    fortran = np.asfortranarray(np.arange(6, dtype="<i8").reshape(3, 2))
    data = npy_bytes(fortran)
    assert b"'fortran_order': True" in data
    write(os.path.join(out, "npy_fortran.npy"), data)

    arrays = OrderedDict([("a", pattern("f").astype("<f4")), ("nested/b", pattern("i").astype("<i8")), ("c", pattern("b"))])
    write_npz(os.path.join(out, "arrays_stored.npz"), arrays, compress=False)
    write_npz(os.path.join(out, "arrays_deflated.npz"), arrays, compress=True)
    for name in ["arrays_stored.npz", "arrays_deflated.npz"]:
        loaded = np.load(os.path.join(out, name))
        assert sorted(loaded.files) == sorted(arrays)

    tensors = OrderedDict()
    for st, dtype in SAFETENSORS_TYPES.items():
        kind = "f" if dtype.is_floating_point else "b" if dtype == torch.bool else "u" if dtype == torch.uint8 else "i"
        tensors[st] = torch.from_numpy(np.ascontiguousarray(pattern(kind))).to(dtype)
    write(os.path.join(out, "all_dtypes.safetensors"),
          safetensors_bytes(tensors, {"format": "pt", "note": "made by make_checkpoint_fixtures.py"}))


def checkpoint_fixtures(out):
    tiny_config = dict(img=28, patch=7, channels=1, dim=64, depth=2, hidden=256, classes=10)
    sd = random_state_dict(0, **tiny_config)

    # DeiT-style container. Some tensors are views, to exercise storage strides and offsets of the zip format:
    # head.weight is non-contiguous, and blocks.0.attn.qkv.bias / proj.bias share one storage (the second at offset 192).
    model_sd = OrderedDict(sd)
    model_sd["head.weight"] = sd["head.weight"].t().contiguous().t()
    assert not model_sd["head.weight"].is_contiguous()
    shared = torch.cat([sd["blocks.0.attn.qkv.bias"], sd["blocks.0.attn.proj.bias"]])
    model_sd["blocks.0.attn.qkv.bias"] = shared[:192]
    model_sd["blocks.0.attn.proj.bias"] = shared[192:]
    assert model_sd["blocks.0.attn.proj.bias"].storage_offset() == 192
    model_sd._metadata = sd._metadata
    torch.save({"model": model_sd, "epoch": 300}, os.path.join(out, "tiny_vit.model.pth"))
    torch.save(sd, os.path.join(out, "tiny_vit.bare.pth"))
    write(os.path.join(out, "tiny_vit.safetensors"), safetensors_bytes(sd, {"format": "pt"}))

    augreg = to_augreg(sd, heads=4)
    back = from_augreg(augreg, depth=2)
    assert list(back) and set(back) == set(sd)
    for k in sd:
        assert torch.equal(back[k], sd[k]), k
    write_npz(os.path.join(out, "tiny_vit.augreg.npz"), augreg, compress=False)
    with open(os.path.join(out, "tiny_vit.expected.json"), "w") as f:
        f.write(expected_json(sd))

    micro_config = dict(img=28, patch=7, channels=1, dim=8, depth=1, hidden=16, classes=10)
    micro = random_state_dict(1, **micro_config)
    torch.save(micro, os.path.join(out, "micro_vit.pth"))

    nan = OrderedDict((k, v.clone()) for k, v in micro.items())
    nan["blocks.0.mlp.fc1.weight"][3, 5] = float("nan")
    torch.save(nan, os.path.join(out, "micro_vit.nan.pth"))

    wrong = OrderedDict(micro)
    wrong["head.weight"] = torch.randn(10, 16)
    write(os.path.join(out, "micro_vit.wrong_shape.safetensors"), safetensors_bytes(wrong))

    missing = OrderedDict((k, v) for k, v in micro.items() if k != "norm.bias")
    torch.save(missing, os.path.join(out, "micro_vit.missing_key.pth"))

    extra = OrderedDict(micro)
    extra["dist_token"] = torch.randn(1, 1, 8)
    torch.save(extra, os.path.join(out, "micro_vit.extra_key.pth"))

    with open(os.path.join(out, "micro_vit.pth"), "rb") as f:
        good = f.read()
    write(os.path.join(out, "micro_vit.truncated.pth"), good[: len(good) // 2])
    st = safetensors_bytes(micro)
    header_length = struct.unpack("<Q", st[:8])[0]
    write(os.path.join(out, "micro_vit.truncated.safetensors"), st[: 8 + header_length + 100])

    torch.save(micro, os.path.join(out, "micro_vit.legacy.pth"), _use_new_zipfile_serialization=False)

    grid = random_state_dict(2, **dict(micro_config, img=35))
    assert grid["pos_embed"].shape == (1, 26, 8)
    write_npz(os.path.join(out, "micro_vit.pos_grid.npz"), to_augreg(grid, heads=2), compress=False)


def main():
    os.makedirs(OUT, exist_ok=True)
    tensorio_fixtures(os.path.join(OUT, "tensorio"))
    checkpoint_fixtures(OUT)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")
    assert total < 2_000_000, "fixtures must stay under 2 MB"


if __name__ == "__main__":
    main()

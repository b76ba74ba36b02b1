"""Minimal safetensors writer/reader written by hand with numpy.

Layout (the standard one): 8-byte little-endian unsigned header length N, then N bytes of UTF-8 JSON
({"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}),
padded with spaces to a multiple of 8, then the raw little-endian tensor data. Offsets are relative to the
start of the data section. Tensors are laid out in the order given (no gaps).
"""
import json
import struct

import numpy as np

_DTYPES = {
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "F64": np.dtype("<f8"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
}
_NP_TO_ST = {v.str.replace("|", "<"): k for k, v in _DTYPES.items()}


def _to_numpy(t):
    try:
        import torch

        if isinstance(t, torch.Tensor):
            t = t.detach().cpu().numpy()
    except ImportError:  # pragma: no cover
        pass
    return np.asarray(t)


def _st_dtype(arr):
    key = arr.dtype.newbyteorder("<").str.replace("|", "<")
    if key not in _NP_TO_ST:
        raise TypeError(f"unsupported dtype {arr.dtype}")
    return _NP_TO_ST[key]


def save_file(tensors, path, metadata=None):
    """tensors: dict name -> numpy array / torch tensor (order kept). metadata: dict str -> str."""
    header = {}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        if name == "__metadata__":
            raise ValueError("reserved name")
        arr = _to_numpy(t)
        st = _st_dtype(arr)
        data = np.ascontiguousarray(arr.astype(_DTYPES[st], copy=False)).tobytes()
        header[name] = {"dtype": st, "shape": [int(s) for s in arr.shape], "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        md = {}
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("metadata must map str -> str")
            md[k] = v
        header = {"__metadata__": md, **header}
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def load_file(path):
    """Returns (dict name -> numpy array, metadata dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    base = 8 + n
    metadata = header.pop("__metadata__", {}) or {}
    out = {}
    for name, info in header.items():
        dt = _DTYPES[info["dtype"]]
        b, e = info["data_offsets"]
        arr = np.frombuffer(raw[base + b : base + e], dtype=dt).reshape(info["shape"]).copy()
        out[name] = arr
    return out, metadata


def _selftest():
    import os
    import tempfile

    rng = np.random.default_rng(0)
    ts = {
        "a": rng.standard_normal((3, 4)).astype(np.float32),
        "b": rng.standard_normal((5,)).astype(np.float16),
        "c": rng.integers(-128, 128, (2, 3, 4)).astype(np.int8),
        "d": rng.integers(-(2**40), 2**40, (7,)).astype(np.int64),
        "s": np.array([1.5], dtype=np.float32),
    }
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "x.safetensors")
        save_file(ts, p, {"k": "v", "j": json.dumps({"x": 1})})
        back, md = load_file(p)
        assert md == {"k": "v", "j": '{"x": 1}'}
        for k, v in ts.items():
            assert back[k].dtype == v.dtype and back[k].shape == v.shape and np.array_equal(back[k], v), k
        with open(p, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
        assert (8 + n) % 8 == 0
    print("safetensors_io selftest ok")


if __name__ == "__main__":
    _selftest()

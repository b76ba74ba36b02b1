"""Writes tests/fixtures/vit/ (contract: README.md here): random-weight deit_tiny and vit_tiny_patch7_28,
their inputs, float logits, and calibrated quantizer parameters / quantized logits / teacher-forced block in/outs.

Run: cd tests/reference && /usr/bin/python3 make_vit_fixtures.py [model ...]
"""
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

import fqvit_reference as R
from safetensors_io import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "vit")

ENCODING = ("value = float32(k) * float32(m) * 2^-e exactly; k = the I8 tensor <name>, e = int(metadata "
            "'exp:<name>'), m = the F32 tensor named by metadata 'mul:<name>' broadcast over the leading dims "
            "(absent: m = 1). F32 tensors are stored as is.")

EVOLQ_CFG = dict(w_bit_type="uint4", a_bit_type="uint8", quant_method="omse", ptf=True, lis=False, bias_corr=True)
FQVIT_W8A8_CFG = dict(w_bit_type="int8", a_bit_type="uint8", quant_method="minmax", ptf=True, lis=False,
                      bias_corr=False)

SETUPS = {
    # name: (n_eval, n_calib_batches, calib_batch, teacher-forced blocks, weight stds, seed)
    "deit_tiny": dict(n_eval=2, n_calib=2, calib_bs=2, tf_blocks=[0, 5, 11], seed=20240601,
                      std=dict(patch=0.02, qkv=0.06, proj=0.03, fc1=0.04, fc2=0.03, head=0.05)),
    "vit_tiny_patch7_28": dict(n_eval=8, n_calib=3, calib_bs=8, tf_blocks=[0, 1, 2, 3], seed=20240602,
                               std=dict(patch=0.08, qkv=0.12, proj=0.06, fc1=0.08, fc2=0.05, head=0.1)),
}


# ----------------------------------------------------------------------------------------------------------------
# Compact exact encodings
#
# A tensor of rank >= 2 is stored as int8 k plus a float32 multiplier m (integers in [32768, 65535]) over its
# trailing dimensions (shape[1:] for weights, (H, W) for images) and an exponent e:
#     value = float32(k) * float32(m) * 2^-e          (exact in float32: |k*m| < 2^23)
# The multiplier breaks the lattice: with plain k * 2^-e every row's (max - min) is commensurate with its elements,
# so x / scale lands exactly on .5 for many elements and round-half-even decides; an innocent reordering of float
# ops (or float64) then flips them. With m the ratios are generic. Rank-1 tensors (biases, LayerNorm gamma/beta,
# which no quantizer rounds) are k * 2^-e. cls_token and pos_embed are stored as plain F32.
# ----------------------------------------------------------------------------------------------------------------
def random_mul(shape, gen):
    return torch.randint(32768, 65536, shape, generator=gen).float()


def encode(w, mul=None):
    """-> (k int8, e) with value = k * mul * 2^-e (mul broadcast over the leading dims) or k * 2^-e."""
    base = w if mul is None else w / mul
    m = float(base.abs().max())
    e = 0 if m == 0.0 else int(math.floor(math.log2(127.0 / m)))
    k = torch.round(base * (2.0**e)).clamp(-127, 127).to(torch.int8)
    return k, e


def decode(k, e, mul=None):
    v = k.float() if mul is None else k.float() * mul
    return v * (2.0 ** (-e))


# ----------------------------------------------------------------------------------------------------------------
# Random weights and inputs
# ----------------------------------------------------------------------------------------------------------------
def random_weights(model, std, gen):
    """Float weights under timm names, realistic enough that the signal survives the depth."""
    w = {}
    for name, p in model.named_parameters():
        shape = tuple(p.shape)
        n = lambda s: torch.randn(shape, generator=gen) * s  # noqa: E731
        if name == "pos_embed":
            t = n(0.02)
        elif name == "cls_token":
            # N(0, 0.5), not 0.02: with a tiny cls token the first integer LayerNorm sees a token whose spread
            # is below one PTF step, and the quantized logits (read from token 0) become noise
            t = n(0.5)
        elif name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "norm.weight":
            t = 1.0 + n(0.1)
        elif name.endswith("norm1.bias") or name.endswith("norm2.bias") or name == "norm.bias":
            t = n(0.02)
        elif name == "patch_embed.proj.weight":
            rows = torch.exp(torch.randn(shape[0], generator=gen) * 0.6).reshape(-1, 1, 1, 1)
            t = n(std["patch"]) * rows
        elif name.endswith("attn.qkv.weight"):
            t = n(std["qkv"])
        elif name.endswith("attn.proj.weight"):
            t = n(std["proj"])
        elif name.endswith("mlp.fc1.weight"):
            t = n(std["fc1"])
        elif name.endswith("mlp.fc2.weight"):
            # a few residual channels with a larger range (as in trained ViTs), so PTF alphas vary
            rows = torch.exp(torch.randn(shape[0], generator=gen) * 0.6).reshape(-1, 1)
            t = n(std["fc2"]) * rows
        elif name == "head.weight":
            t = n(std["head"])
        elif name.endswith(".bias"):
            t = n(0.02)
        else:
            raise KeyError(name)
        w[name] = t.float()
    return w


def random_images(n, chans, size, gen):
    """Image-like normalised inputs (float): a smooth random field plus pixel noise."""
    low = torch.randn(n, chans, max(2, size // 32), max(2, size // 32), generator=gen)
    x = F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False) * 1.2
    x = x + 0.4 * torch.randn(n, chans, size, size, generator=gen)
    x = x + 0.3 * torch.randn(n, chans, 1, 1, generator=gen)
    return x.clamp(-3.5, 3.5)


# ----------------------------------------------------------------------------------------------------------------
def load_into(model, weights):
    sd = model.state_dict()
    for k in sd:
        assert k in weights, k
    model.load_state_dict(weights, strict=True)


def block_io(model, x, block_ids):
    """Run x through the model (current mode) capturing block inputs and outputs."""
    store = {}
    hooks = []
    for i in block_ids:
        def hook(mod, args, out, i=i):
            store[f"blocks.{i}.in"] = args[0].detach().clone()
            store[f"blocks.{i}.out"] = out.detach().clone()
        hooks.append(model.blocks[i].register_forward_hook(hook))
    with torch.no_grad():
        logits = model(x)
    for h in hooks:
        h.remove()
    return logits, store


def last_quantizer(model, i):
    return model.qact1.quantizer if i == 0 else model.blocks[i - 1].qact4.quantizer


def omse_indices(model):
    out = {}
    for name, m in model.named_modules():
        if isinstance(m, (R.QAct, R.QLinear, R.QConv2d, R.QIntSoftmax)):
            obs = m.quantizer.observer
            if isinstance(obs, R.OmseObserver) and obs.best_index is not None:
                out[name] = obs.best_index
    return out


def compare(a, b):
    d = (a - b).abs()
    cos = F.cosine_similarity(a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1), dim=1)
    top1 = (a.argmax(-1) == b.argmax(-1)).float().mean().item()
    return dict(max_abs=d.max().item(), mean_abs=d.mean().item(), rel_l2=(d.norm() / b.norm()).item(),
                cos_min=cos.min().item(), top1_agree=top1)


def calibrated_file(name, setup, weights, x, calib, cfg_kwargs, path, float_logits, report):
    cfg = R.Config(**cfg_kwargs)
    model = R.build_vit(name, cfg).eval()
    load_into(model, weights)
    t0 = time.time()
    R.calibrate(model, calib)
    t_cal = time.time() - t0
    state = R.quantizer_state(model)
    tf = setup["tf_blocks"]
    logits_q, io = block_io(model, x, tf)
    # teacher-forcing self-check: block(in) reproduces out exactly
    with torch.no_grad():
        for i in tf:
            again = model.blocks[i](io[f"blocks.{i}.in"], last_quantizer(model, i))
            assert torch.equal(again, io[f"blocks.{i}.out"]), i
    # float behaviour of the same blocks on the same (quantized-mode) inputs, for the sanity report only
    fl = R.build_vit(name, R.Config(**cfg_kwargs)).eval()
    load_into(fl, weights)
    blk_err = []
    with torch.no_grad():
        for i in tf:
            ref = fl.blocks[i](io[f"blocks.{i}.in"], None)
            out = io[f"blocks.{i}.out"]
            blk_err.append((i, ((out - ref).norm() / ref.norm()).item()))
    tensors = dict(state)
    tensors["logits"] = logits_q.float()
    for k, v in io.items():
        tensors[k] = v.float().contiguous()
    quantizers = sorted({k[: -len(".quantizer.scale")] for k in state if k.endswith(".quantizer.scale")})
    meta = {
        "model": name,
        "config": json.dumps(cfg.describe()),
        "settings": json.dumps(cfg_kwargs),
        "calibration": json.dumps([f"calib{i}" for i in range(len(calib))]),
        "teacher_forced_blocks": json.dumps(tf),
        "quantizers": json.dumps(quantizers),
        "omse_index": json.dumps(omse_indices(model)),
    }
    save_file(tensors, path, meta)
    cmp = compare(logits_q, float_logits)
    report.append(f"{os.path.basename(path)}: calibration {t_cal:.1f}s; quantized vs float logits: "
                  + ", ".join(f"{k} {v:.4f}" for k, v in cmp.items())
                  + "; teacher-forced block rel. error vs float block on same input: "
                  + ", ".join(f"b{i} {e:.4f}" for i, e in blk_err))
    return model


def make_model(name):
    setup = SETUPS[name]
    mc = R.MODEL_CONFIGS[name]
    gen = torch.Generator().manual_seed(setup["seed"])
    torch.manual_seed(setup["seed"])
    report = []

    # weights on exact int8 grids
    proto = R.build_vit(name, R.Config(**EVOLQ_CFG))
    raw = random_weights(proto, setup["std"], gen)
    wt, wmeta, weights = {}, {}, {}
    for k, v in raw.items():
        if k in ("cls_token", "pos_embed"):
            wt[k] = v
            weights[k] = v
            continue
        mul = random_mul(v.shape[1:], gen) if v.dim() >= 2 else None
        q, e = encode(v, mul)
        wt[k] = q
        wmeta[f"exp:{k}"] = str(e)
        if mul is not None:
            wt[f"mul:{k}"] = mul
            wmeta[f"mul:{k}"] = f"mul:{k}"
        weights[k] = decode(q, e, mul)
    wmeta["model"] = name
    wmeta["config"] = json.dumps(mc)
    wmeta["parameters"] = json.dumps(list(raw.keys()))
    wmeta["encoding"] = ENCODING
    save_file(wt, os.path.join(OUT, f"{name}.weights.safetensors"), wmeta)

    # inputs
    n_eval, n_cal, bs = setup["n_eval"], setup["n_calib"], setup["calib_bs"]
    raw_in = {"x": random_images(n_eval, mc["in_chans"], mc["img_size"], gen)}
    for i in range(n_cal):
        raw_in[f"calib{i}"] = random_images(bs, mc["in_chans"], mc["img_size"], gen)
    mul = random_mul((mc["img_size"], mc["img_size"]), gen)
    xin, imeta, dec = {}, {}, {}
    for k, v in raw_in.items():
        q, e = encode(v, mul)
        xin[k] = q
        imeta[f"exp:{k}"] = str(e)
        imeta[f"mul:{k}"] = "mul"
        dec[k] = decode(q, e, mul)
    xin["mul"] = mul
    imeta["encoding"] = ENCODING
    imeta["calibration"] = json.dumps([f"calib{i}" for i in range(n_cal)])
    save_file(xin, os.path.join(OUT, f"{name}.input.safetensors"), imeta)
    x = dec["x"]
    calib = [dec[f"calib{i}"] for i in range(n_cal)]

    # float logits
    fmodel = R.build_vit(name, R.Config(**EVOLQ_CFG)).eval()
    load_into(fmodel, weights)
    with torch.no_grad():
        float_logits = fmodel(x)
        feats = {}
        h = fmodel.norm.register_forward_hook(lambda m, a, o: feats.setdefault("pre_norm", a[0].detach()))
        fmodel(x)
        h.remove()
    save_file({"logits": float_logits}, os.path.join(OUT, f"{name}.float.safetensors"), {"model": name})
    report.append(f"{name}: float logits std {float_logits.std():.4f}, range [{float_logits.min():.3f}, "
                  f"{float_logits.max():.3f}], argmax {float_logits.argmax(-1).tolist()}; residual stream before "
                  f"final norm std {feats['pre_norm'].std():.3f}")

    calibrated_file(name, setup, weights, x, calib, EVOLQ_CFG,
                    os.path.join(OUT, f"{name}.calibrated.safetensors"), float_logits, report)
    if name == "vit_tiny_patch7_28":
        calibrated_file(name, setup, weights, x, calib, FQVIT_W8A8_CFG,
                        os.path.join(OUT, f"{name}.calibrated_int8.safetensors"), float_logits, report)
    return report


def load_encoded(tensors, meta, key):
    """Decoder for ENCODING (what the C# side implements)."""
    t = torch.from_numpy(tensors[key])
    if t.dtype == torch.float32:
        return t
    mul = torch.from_numpy(tensors[meta[f"mul:{key}"]]) if f"mul:{key}" in meta else None
    return decode(t, int(meta[f"exp:{key}"]), mul)


def self_check(name):
    """Reload the written files and rebuild everything from them alone: weights decode, float logits and the
    quantized forward (with the stored quantizer parameters, no calibration) reproduce."""
    wt, wmeta = load_file(os.path.join(OUT, f"{name}.weights.safetensors"))
    weights = {k: load_encoded(wt, wmeta, k) for k in json.loads(wmeta["parameters"])}
    xin, imeta = load_file(os.path.join(OUT, f"{name}.input.safetensors"))
    x = load_encoded(xin, imeta, "x")
    fl, _ = load_file(os.path.join(OUT, f"{name}.float.safetensors"))
    model = R.build_vit(name, R.Config(**EVOLQ_CFG)).eval()
    load_into(model, weights)
    with torch.no_grad():
        assert torch.allclose(model(x), torch.from_numpy(fl["logits"]), atol=1e-5)
    files = [("calibrated", EVOLQ_CFG)]
    if name == "vit_tiny_patch7_28":
        files.append(("calibrated_int8", FQVIT_W8A8_CFG))
    for suffix, cfgk in files:
        cal, cmeta = load_file(os.path.join(OUT, f"{name}.{suffix}.safetensors"))
        m = R.build_vit(name, R.Config(**cfgk)).eval()
        load_into(m, weights)
        mods = dict(m.named_modules())
        for q in json.loads(cmeta["quantizers"]):
            mod = mods[q]
            s = torch.from_numpy(cal[f"{q}.quantizer.scale"])
            z = torch.from_numpy(cal[f"{q}.quantizer.zero_point"])
            if s.numel() == 1:
                s, z = s.reshape(()), z.reshape(())
            elif z.numel() == 1:
                z = z.reshape(())
            mod.quantizer.scale, mod.quantizer.zero_point = s, z
        m.model_quant()
        with torch.no_grad():
            out = m(x)
        assert torch.equal(out, torch.from_numpy(cal["logits"])), f"{name}.{suffix}: logits not reproduced"
    print(f"  self-check {name}: reload + rebuild from files reproduces float and quantized logits")


def main():
    os.makedirs(OUT, exist_ok=True)
    names = sys.argv[1:] or ["vit_tiny_patch7_28", "deit_tiny"]
    for name in names:
        for line in make_model(name):
            print(line)
        self_check(name)
    total = 0
    for f in sorted(os.listdir(OUT)):
        sz = os.path.getsize(os.path.join(OUT, f))
        total += sz
        print(f"  {f}: {sz} bytes")
    print(f"  total fixtures/vit: {total} bytes")


if __name__ == "__main__":
    main()

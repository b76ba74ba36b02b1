"""Writes tests/fixtures/levit/ (contract: tests/fixtures/levit/README.md): a random-weight reduced LeViT
(levit_test: LeViT-128S's depths, heads and key dim at half width) under Facebook's names, its inputs, float logits of
the unfused and the fused model, the BatchNorm folds, calibrated quantizer parameters and teacher-forced block
in/outs; checkpoint files of the smallest LeViT (levit_micro) written by torch.save, good and broken; and the
state-dict layout of the five published LeViTs.

Run: cd tests/reference && /usr/bin/python3 make_levit_fixtures.py
"""
from collections import OrderedDict
import json
import os
import time

import torch
import torch.nn as nn

import fqvit_reference as R
import levit_reference as L
from make_vit_fixtures import ENCODING, EVOLQ_CFG, compare, decode, encode, load_encoded, omse_indices, random_images, \
    random_mul
from safetensors_io import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "levit")

NAME = "levit_test"
SEED = 20240611
N_EVAL, N_CALIB, CALIB_BS = 2, 2, 2
# Attention res 14, MLP res 14, subsample 14 -> 7, MLP res 7, subsample 7 -> 4, the last MLP.
TF_BLOCKS = [0, 1, 4, 5, 12, 21]
# Fused weights stored in full (one of each kind of unit); every fused bias is stored.
# Gamma of the BatchNorm ending each residual branch: small, as in trained LeViTs (the original initialises it to 0).
# Larger values make the random network chaotic: each block doubles a perturbation, and float rounding differences
# between two correct implementations reach 1e-2 in the logits.
GAMMA_BRANCH = 0.08
# Per-head slope of the attention biases over the offset's length: U(1.5, 3.0).
SLOPE = (1.5, 1.5)
FUSED_WEIGHTS = ["patch_embed.0", "blocks.0.m.qkv", "blocks.1.m.2", "blocks.4.q.1", "blocks.4.proj.1", "head"]


# ----------------------------------------------------------------------------------------------------------------
# Random weights under Facebook's names
# ----------------------------------------------------------------------------------------------------------------
def residual_output(name):
    """The BatchNorm at the end of a residual branch (attention proj.1, MLP 2): its gamma sets the branch's size."""
    return name.startswith("blocks.") and (".m.proj.1.bn." in name or ".m.2.bn." in name)


@torch.no_grad()
def random_weights(model, gen):
    """Conv/linear weights He-like; BatchNorm gamma 1 + N(0, 0.1), at the end of residual branches GAMMA_BRANCH times
    that, and where a residual stream starts (stem, subsampling projections) and ends (branches) times a per-channel
    factor exp(N(0, 0.6)) so that a few channels of the stream are wider (PTF alphas then vary); beta N(0, 0.05);
    attention biases falling with the offset's length. Running statistics come afterwards from a forward pass
    (measure_batchnorm)."""
    w = {}
    for name, p in model.named_parameters():
        shape = tuple(p.shape)
        n = lambda s: torch.randn(shape, generator=gen) * s  # noqa: E731
        if name.endswith(".c.weight") or name.endswith(".l.weight"):
            fan_in = p[0].numel()
            t = n((2.0 / fan_in) ** 0.5)
        elif name.endswith("attention_biases"):
            # local attention, as trained LeViTs have: the bias falls with the offset's length (per-head slope), so a
            # query mixes a few nearby tokens; uniform attention over 196 random tokens would average the values
            # away and the following BatchNorm would amplify what is left into a chaotic network
            module = model.get_submodule(name[: -len(".attention_biases")])
            offsets, _ = L.attention_bias_offsets(*module.bias_geometry)
            length = torch.tensor([float(dx * dx + dy * dy) ** 0.5 for dx, dy in offsets])
            slope = SLOPE[0] + SLOPE[1] * torch.rand(shape[0], 1, generator=gen)
            t = -slope * length[None, :] + n(0.3)
        elif name.endswith(".l.bias"):
            t = n(0.02)
        elif name.endswith("bn.weight"):
            t = 1.0 + n(0.1)
            if residual_output(name):
                t = GAMMA_BRANCH * t * torch.exp(torch.randn(shape, generator=gen) * 0.6)
            elif name in ("patch_embed.6.bn.weight",) or name.endswith(".proj.1.bn.weight"):
                # what starts a residual stream (stem, subsampling attention): some channels wider than others
                t = t * torch.exp(torch.randn(shape, generator=gen) * 0.6)
        elif name.endswith("bn.bias"):
            t = n(0.05)
        else:
            raise KeyError(name)
        w[name] = t.float()
    return w


@torch.no_grad()
def measure_batchnorm(model, images):
    """Running statistics from a forward pass in training mode (cumulative average), as training would leave them."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
        bn.train()
    features = []
    hook = model.blocks[-1].register_forward_hook(lambda m, a, o: features.append(o.detach()))
    for batch in images:
        model(batch)
    hook.remove()
    # The heads' BatchNorms see one mean-pooled vector per image: over a few similar random images their variance is
    # tiny and would blow the logits up. Give them the spread of single tokens instead.
    tokens = torch.cat(features).flatten(0, 1)
    for bn in (model.head.bn, model.head_dist.bn):
        bn.running_var.copy_(tokens.var(0))
    for bn in bns:
        bn.momentum = 0.1
        bn.eval()
        # a checkpoint's counter: any positive number
        bn.num_batches_tracked.fill_(1251 * 300)


def encode_state(sd, gen, skip=()):
    """Parameters and BatchNorm weight/bias on the exact int8 grid; running statistics plain F32; counters I64."""
    tensors, meta, decoded = {}, {}, {}
    for k, v in sd.items():
        if k in skip:
            continue
        if v.dtype == torch.int64:
            tensors[k] = v.clone()
            decoded[k] = v.clone()
        elif k.endswith("running_mean") or k.endswith("running_var"):
            tensors[k] = v.float().clone()
            decoded[k] = v.float().clone()
        else:
            mul = random_mul(v.shape[1:], gen) if v.dim() >= 2 else None
            q, e = encode(v, mul)
            tensors[k] = q
            meta[f"exp:{k}"] = str(e)
            if mul is not None:
                tensors[f"mul:{k}"] = mul
                meta[f"mul:{k}"] = f"mul:{k}"
            decoded[k] = decode(q, e, mul)
    return tensors, meta, decoded


def fused_model(name, cfg, sd):
    model = L.build_levit(name, cfg)
    model.load_state_dict(sd, strict=True)
    return L.fuse_model(model, cfg).eval()


# ----------------------------------------------------------------------------------------------------------------
def block_io(model, x, block_ids):
    store = {}
    hooks = []
    for i in block_ids:
        def hook(mod, args, out, i=i):
            store[f"blocks.{i}.in"] = args[0].detach().clone()
            store[f"blocks.{i}.out"] = out.detach().clone()
        hooks.append(model.blocks[i].register_forward_hook(hook))
    last = len(model.blocks) - 1
    hooks.append(model.blocks[last].register_forward_hook(
        lambda mod, args, out: store.__setitem__("head.in", out.detach().clone())))
    with torch.no_grad():
        logits = model(x)
        store["embed.out"] = model.embed(x).detach().clone()
    for h in hooks:
        h.remove()
    return logits, store


def searchable_json(model):
    return [dict(name=n, stage=i, layers=[p for p, _ in layers], scales=sum(int(l.weight.shape[0]) for _, l in layers))
            for n, i, layers in L.searchable_blocks(model)]


def make_test_model(report):
    s = L.spec_of(NAME)
    gen = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)
    cfg = R.Config(**EVOLQ_CFG)

    proto = L.build_levit(NAME, cfg)
    raw = random_weights(proto, gen)
    proto.load_state_dict(raw, strict=False)
    # weights on the grid first, then the BatchNorm statistics measured with exactly those weights
    sd = proto.state_dict()
    _, _, dec = encode_state({k: v for k, v in sd.items() if k in raw}, torch.Generator().manual_seed(SEED + 1))
    proto.load_state_dict(dec, strict=False)
    measure_batchnorm(proto, [random_images(4, 3, s["img_size"], gen) for _ in range(2)])
    sd = proto.state_dict()
    idx_keys = [k for k in sd if k.endswith("attention_bias_idxs")]
    wt, wmeta, weights = encode_state(sd, torch.Generator().manual_seed(SEED + 1), skip=idx_keys)
    for k in idx_keys:
        weights[k] = sd[k].clone()
    wmeta["model"] = NAME
    wmeta["config"] = json.dumps(s)
    wmeta["parameters"] = json.dumps([k for k in sd if k not in idx_keys])
    wmeta["derived"] = json.dumps(idx_keys)
    wmeta["encoding"] = ENCODING + " I64 tensors (num_batches_tracked) and BatchNorm running statistics (F32) as is."
    save_file(wt, os.path.join(OUT, f"{NAME}.weights.safetensors"), wmeta)

    # inputs
    raw_in = {"x": random_images(N_EVAL, 3, s["img_size"], gen)}
    for i in range(N_CALIB):
        raw_in[f"calib{i}"] = random_images(CALIB_BS, 3, s["img_size"], gen)
    mul = random_mul((s["img_size"], s["img_size"]), gen)
    xin, imeta, dec = {}, {}, {}
    for k, v in raw_in.items():
        q, e = encode(v, mul)
        xin[k] = q
        imeta[f"exp:{k}"] = str(e)
        imeta[f"mul:{k}"] = "mul"
        dec[k] = decode(q, e, mul)
    xin["mul"] = mul
    imeta["encoding"] = ENCODING
    imeta["calibration"] = json.dumps([f"calib{i}" for i in range(N_CALIB)])
    save_file(xin, os.path.join(OUT, f"{NAME}.input.safetensors"), imeta)
    x = dec["x"]
    calib = [dec[f"calib{i}"] for i in range(N_CALIB)]

    # float: unfused and fused logits, the folds
    unfused = L.build_levit(NAME, cfg)
    unfused.load_state_dict(weights, strict=True)
    folds = L.folded_units(unfused)
    fmodel = fused_model(NAME, cfg, weights)
    with torch.no_grad():
        logits = unfused(x)
        logits_fused = fmodel(x)
    ftensors = {"logits": logits, "logits_fused": logits_fused}
    for path, (w, b) in folds.items():
        ftensors[f"{path}.bias"] = b.detach().clone()
        if path in FUSED_WEIGHTS:
            ftensors[f"{path}.weight"] = w.detach().clone()
    fparams = dict(fmodel.named_parameters())
    for k, v in ftensors.items():
        if k.endswith(".weight") or k.endswith(".bias"):
            assert torch.equal(v, fparams[k]), k
    save_file(ftensors, os.path.join(OUT, f"{NAME}.float.safetensors"), {
        "model": NAME,
        "fused_weights": json.dumps([f"{p}.weight" for p in FUSED_WEIGHTS]),
        "fused_biases": json.dumps([f"{p}.bias" for p in folds]),
        "fused_parameters": json.dumps([k for k, _ in fmodel.named_parameters()]),
    })
    report.append(f"{NAME}: float logits std {logits.std():.4f}, range [{logits.min():.3f}, {logits.max():.3f}], "
                  f"argmax {logits.argmax(-1).tolist()}; fused vs unfused max |diff| {(logits - logits_fused).abs().max():.2e}")

    # calibration with the Evol-Q run-script settings
    t0 = time.time()
    R.calibrate(fmodel, calib)
    t_cal = time.time() - t0
    state = R.quantizer_state(fmodel)
    logits_q, io = block_io(fmodel, x, TF_BLOCKS)
    with torch.no_grad():
        for i in TF_BLOCKS:
            assert torch.equal(fmodel.blocks[i](io[f"blocks.{i}.in"]), io[f"blocks.{i}.out"]), i
        assert torch.equal(fmodel.head_out(io["head.in"]), logits_q)
    alphas = {n: m.quantizer.observer.alpha.tolist() for n, m in fmodel.named_modules()
              if isinstance(m, R.QAct) and isinstance(m.quantizer.observer, R.PtfObserver)}
    counts = [0, 0, 0, 0]
    for a in alphas.values():
        for v in a:
            counts[int(v)] += 1
    tensors = dict(state)
    tensors["logits"] = logits_q.float()
    for k, v in io.items():
        tensors[k] = v.float().contiguous()
    quantizers = sorted({k[: -len(".quantizer.scale")] for k in state if k.endswith(".quantizer.scale")})
    save_file(tensors, os.path.join(OUT, f"{NAME}.calibrated.safetensors"), {
        "model": NAME,
        "config": json.dumps(cfg.describe()),
        "settings": json.dumps(EVOLQ_CFG),
        "calibration": json.dumps([f"calib{i}" for i in range(N_CALIB)]),
        "teacher_forced_blocks": json.dumps(TF_BLOCKS),
        "quantizers": json.dumps(quantizers),
        "omse_index": json.dumps(omse_indices(fmodel)),
        "searchable": json.dumps(searchable_json(fmodel)),
    })
    cmp = compare(logits_q, logits)
    report.append(f"{NAME}.calibrated: calibration {t_cal:.1f}s, {len(quantizers)} quantizers, PTF alphas 0/1/2/3: "
                  f"{counts}; quantized vs float logits: " + ", ".join(f"{k} {v:.4f}" for k, v in cmp.items()))
    # float behaviour of the teacher-forced blocks on the same inputs, for the report only
    fl = fused_model(NAME, cfg, weights)
    errs = []
    with torch.no_grad():
        for i in TF_BLOCKS:
            ref = fl.blocks[i](io[f"blocks.{i}.in"])
            errs.append(f"b{i} {((io[f'blocks.{i}.out'] - ref).norm() / ref.norm()).item():.4f}")
    report.append("  teacher-forced block rel. error vs float block on same input: " + ", ".join(errs))
    return weights


# ----------------------------------------------------------------------------------------------------------------
# levit_micro checkpoint files (torch.save, the original layout)
# ----------------------------------------------------------------------------------------------------------------
def make_micro(report):
    name = "levit_micro"
    s = L.spec_of(name)
    gen = torch.Generator().manual_seed(SEED + 7)
    cfg = R.Config(**EVOLQ_CFG)
    model = L.build_levit(name, cfg)
    model.load_state_dict(random_weights(model, gen), strict=False)
    measure_batchnorm(model, [random_images(4, 3, s["img_size"], gen)])
    sd = clone_state(model.state_dict())
    torch.save({"model": sd}, os.path.join(OUT, f"{name}.pth"))

    broken = clone_state(sd)
    del broken["blocks.0.m.qkv.bn.running_var"]
    torch.save({"model": broken}, os.path.join(OUT, f"{name}.missing_bn.pth"))
    broken = clone_state(sd)
    broken["head.l.weight"] = torch.randn(s["num_classes"] + 1, s["C"][2], generator=gen)
    torch.save({"model": broken}, os.path.join(OUT, f"{name}.wrong_shape.pth"))

    fmodel = fused_model(name, cfg, sd)
    fused_sd = {k: v.detach().clone() for k, v in fmodel.state_dict().items()}
    save_file(fused_sd, os.path.join(OUT, f"{name}.fused.safetensors"), {"model": name})

    x = random_images(2, 3, s["img_size"], gen)
    with torch.no_grad():
        logits = model(x)
        logits_fused = fmodel(x)
    save_file({"x": x, "logits": logits, "logits_fused": logits_fused}, os.path.join(OUT, f"{name}.expected.safetensors"),
              {"model": name, "config": json.dumps(s), "broken": json.dumps({
                  "missing_bn": "blocks.0.m.qkv.bn.running_var",
                  "wrong_shape": "head.l.weight"})})
    report.append(f"{name}: {len(sd)} state-dict entries, {L.parameter_count(model)} parameters "
                  f"({L.parameter_count(fmodel)} fused); logits std {logits.std():.4f}")


def clone_state(sd):
    return OrderedDict((k, v.detach().clone()) for k, v in sd.items())


# ----------------------------------------------------------------------------------------------------------------
def make_structure(report):
    """levit_structure.json: per model the unfused state dict (names, shapes, dtypes) in PyTorch's order, the fused
    parameters, the parameter counts and Evol-Q's searchable blocks."""
    cfg = R.Config(**EVOLQ_CFG)
    out = {}
    for name in L.PUBLISHED + [NAME, "levit_micro"]:
        model = L.build_levit(name, cfg)
        sd = model.state_dict()
        entry = {
            "spec": L.spec_of(name),
            "state_dict": [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in sd.items()],
            "parameter_count": L.parameter_count(model),
            "blocks": len(model.blocks),
        }
        L.fuse_model(model, cfg)
        entry["fused_parameters"] = [[k, list(v.shape)] for k, v in model.named_parameters()]
        entry["fused_parameter_count"] = L.parameter_count(model)
        entry["searchable"] = searchable_json(model)
        out[name] = entry
        report.append(f"{name}: {entry['parameter_count']:,} parameters ({entry['fused_parameter_count']:,} fused), "
                      f"{entry['blocks']} blocks, {len(entry['searchable'])} searchable, scales "
                      f"{[b['scales'] for b in entry['searchable']]}")
    with open(os.path.join(OUT, "levit_structure.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


def self_check(weights):
    """Rebuild from the written files alone: weights decode, float and quantized logits reproduce."""
    wt, wmeta = load_file(os.path.join(OUT, f"{NAME}.weights.safetensors"))
    sd = {k: load_encoded(wt, wmeta, k) if wt[k].dtype.kind == "i" and wt[k].dtype.itemsize == 1 else torch.from_numpy(wt[k])
          for k in json.loads(wmeta["parameters"])}
    cfg = R.Config(**EVOLQ_CFG)
    model = L.build_levit(NAME, cfg)
    for k in json.loads(wmeta["derived"]):
        sd[k] = model.state_dict()[k]
    for k, v in sd.items():
        assert torch.equal(v, weights[k]), k
    model.load_state_dict(sd, strict=True)
    xin, imeta = load_file(os.path.join(OUT, f"{NAME}.input.safetensors"))
    x = load_encoded(xin, imeta, "x")
    fl, _ = load_file(os.path.join(OUT, f"{NAME}.float.safetensors"))
    with torch.no_grad():
        assert torch.allclose(model(x), torch.from_numpy(fl["logits"]), atol=1e-5)
    L.fuse_model(model, cfg)
    cal, cmeta = load_file(os.path.join(OUT, f"{NAME}.calibrated.safetensors"))
    mods = dict(model.named_modules())
    for q in json.loads(cmeta["quantizers"]):
        s = torch.from_numpy(cal[f"{q}.quantizer.scale"])
        z = torch.from_numpy(cal[f"{q}.quantizer.zero_point"])
        if s.numel() == 1:
            s, z = s.reshape(()), z.reshape(())
        elif z.numel() == 1:
            z = z.reshape(())
        mods[q].quantizer.scale, mods[q].quantizer.zero_point = s, z
    model.model_quant()
    with torch.no_grad():
        assert torch.equal(model(x), torch.from_numpy(cal["logits"])), "quantized logits not reproduced"
    print(f"  self-check {NAME}: reload + rebuild from files reproduces float and quantized logits")


def main():
    os.makedirs(OUT, exist_ok=True)
    report = []
    make_structure(report)
    weights = make_test_model(report)
    make_micro(report)
    for line in report:
        print(line)
    self_check(weights)
    total = 0
    for f in sorted(os.listdir(OUT)):
        sz = os.path.getsize(os.path.join(OUT, f))
        total += sz
        print(f"  {f}: {sz} bytes")
    print(f"  total fixtures/levit: {total} bytes")


if __name__ == "__main__":
    main()

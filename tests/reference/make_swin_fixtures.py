"""Writes tests/fixtures/swin/: the random-weight swin_mini golden model (weights, inputs, float logits, calibrated
quantizer parameters, quantized logits, teacher-forced blocks and patch mergings) and swin_micro checkpoints in the
original Swin layout (torch.save({"model": state_dict})), good and wrong. Everything is seeded; reruns on the same
torch build give the same files (~9 s).

Run: cd tests/reference && /usr/bin/python3 make_swin_fixtures.py

Fixture contract (the conventions of README.md here: safetensors, F32 unless stated, quantizer state under
"<module path>.quantizer.scale|zero_point", the int8 + exponent + multiplier encoding of make_vit_fixtures.py):

- swin_mini (swin_reference.SWIN_CONFIGS: 112 px, patch 4, embed 32, depths 2-2-2, heads 2-4-8, window 7, mlp 4,
  10 classes; LayerNorm eps 1e-5; maps 28 / 14 / 7: 16 windows in layer 0, shifted odd blocks with masks in layers 0
  and 1, two patch mergings, layer 2 one unshifted window).
  - swin_mini.weights.safetensors: every parameter (not the buffers relative_position_index / attn_mask, which the
    model recomputes) encoded; metadata "parameters" (JSON list), "config" (JSON of the SwinTransformer arguments),
    "exp:<name>", "mul:<name>", "encoding".
  - swin_mini.input.safetensors: "x" (2 evaluation images) and "calib0..calib2" (3 batches of 4), encoded with the
    shared multiplier "mul" [112, 112]; metadata "calibration" (the batch keys in order), "evaluation_draw".
  - swin_mini.float.safetensors: "logits" [2, 10] of x in float mode.
  - swin_mini.calibrated.safetensors: after calibration with the Evol-Q run-script settings (uint4 channel-wise MinMax
    weights, uint8 layer-wise OMSE activations, PTF + integer LayerNorm, no LIS, bias correction on the MLPs and the
    patch conv only): all 116 quantizers' scale / zero_point; "logits" of x in quantized mode; for each teacher-forced
    unit (metadata "teacher_forced": blocks "layers.i.blocks.j" and mergings "layers.i.downsample") "<unit>.in" and
    "<unit>.out", the unit's input and output in the quantized forward of x. A block's first LayerNorm reads the
    previous block's qact4, block 0 of a layer the previous merging's qact2 (layer 0: patch_embed.qact, layer-wise);
    a merging reads its layer's last qact4 repeated 4 times. Metadata also "settings", "config", "calibration",
    "quantizers", "omse_index", "evaluation_draw".
  - The evaluation images are redrawn until no teacher-forced unit is on a knife edge: run in float64, or with 1-ulp
    noise on every weight-layer output and integer-LayerNorm statistic, every unit stays within one output step on
    all but 0.05 % of its elements (most draws fail this: a tie in an integer LayerNorm cascades through a window).
- swin_micro (56 px, embed 16, depths 2-2, heads 1-2, 10 classes; 36,368 parameters):
  - swin_micro.pth: torch.save({"model": state_dict}) of the float reference model, buffers included, as the
    official checkpoints are.
  - swin_micro.float.safetensors: "x" [2, 3, 56, 56] and the reference's "logits"; metadata "keys" (the state dict's
    keys in order), "config".
  - swin_micro.window12.pth: the same with window-12 bias tables [529, heads] and indices [144, 144]: must not load.
"""
import json
import os
import time

import torch

import fqvit_reference as R
import swin_reference as S
from make_vit_fixtures import ENCODING, EVOLQ_CFG, compare, decode, encode, load_encoded, omse_indices, random_images, \
    random_mul
from safetensors_io import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "swin")

GOLDEN = "swin_mini"
GOLDEN_SETUP = dict(n_eval=2, n_calib=3, calib_bs=4, seed=20240611,
                    std=dict(patch=0.08, table=0.5, qkv=0.1, proj=0.05, fc1=0.06, fc2=0.04, reduction=0.06, head=0.08))
# Teacher-forced units: every block of the first layer (block 0 reads the layer-wise patch_embed.qact), a shifted
# block of layer 1, both patch mergings, and the unshifted single-window layer 2.
TEACHER_FORCED = ["layers.0.blocks.0", "layers.0.blocks.1", "layers.0.downsample", "layers.1.blocks.1",
                  "layers.1.downsample", "layers.2.blocks.0", "layers.2.blocks.1"]
CHECKPOINT = "swin_micro"
CHECKPOINT_SEED = 20240612


# ----------------------------------------------------------------------------------------------------------------
def random_weights(model, std, gen):
    """Float weights under the Swin names; like make_vit_fixtures' ViT weights, with per-row spread on the patch conv
    and fc2 so PTF alphas vary, and a bias table large enough to matter next to the attention logits."""
    w = {}
    for name, p in model.named_parameters():
        shape = tuple(p.shape)
        n = lambda s: torch.randn(shape, generator=gen) * s  # noqa: E731
        if name.endswith("norm.weight") or name.endswith("norm1.weight") or name.endswith("norm2.weight"):
            t = 1.0 + n(0.1)
        elif name == "patch_embed.proj.weight":
            rows = torch.exp(torch.randn(shape[0], generator=gen) * 0.6).reshape(-1, 1, 1, 1)
            t = n(std["patch"]) * rows
        elif name.endswith("attn.relative_position_bias_table"):
            t = n(std["table"])
        elif name.endswith("attn.qkv.weight"):
            t = n(std["qkv"])
        elif name.endswith("attn.proj.weight"):
            t = n(std["proj"])
        elif name.endswith("mlp.fc1.weight"):
            t = n(std["fc1"])
        elif name.endswith("mlp.fc2.weight"):
            rows = torch.exp(torch.randn(shape[0], generator=gen) * 0.6).reshape(-1, 1)
            t = n(std["fc2"]) * rows
        elif name.endswith("downsample.reduction.weight"):
            t = n(std["reduction"])
        elif name == "head.weight":
            t = n(std["head"])
        elif name.endswith(".bias"):
            t = n(0.02)
        else:
            raise KeyError(name)
        w[name] = t.float()
    return w


def load_into(model, weights):
    """Parameters from `weights`; buffers (relative_position_index, attn_mask) keep the model's own values."""
    params = dict(model.named_parameters())
    assert set(params) == set(weights), set(params) ^ set(weights)
    with torch.no_grad():
        for k, p in params.items():
            p.copy_(weights[k])


def unit(model, path):
    return dict(model.named_modules())[path]


def unit_input_quantizer(model, path):
    """The quantizer whose scale a teacher-forced unit's first integer LayerNorm reads."""
    parts = path.split(".")
    layer = int(parts[1])
    if parts[2] == "downsample":
        return model.layers[layer].blocks[-1].qact4.quantizer
    block = int(parts[3])
    if block > 0:
        return model.layers[layer].blocks[block - 1].qact4.quantizer
    return model.layer_input_quantizer(layer)


def unit_output_quantizer(model, path):
    m = unit(model, path)
    return m.qact2.quantizer if isinstance(m, S.PatchMerging) else m.qact4.quantizer


def unit_io(model, x, paths):
    store, hooks = {}, []
    for p in paths:
        def hook(mod, args, out, p=p):
            store[f"{p}.in"] = args[0].detach().clone()
            store[f"{p}.out"] = out.detach().clone()
        hooks.append(unit(model, p).register_forward_hook(hook))
    with torch.no_grad():
        logits = model(x)
    for h in hooks:
        h.remove()
    return logits, store


def quantized_model(weights, quantizers, state, dtype=torch.float32):
    """swin_mini in quantized mode from stored quantizer parameters (no calibration), in `dtype`."""
    m = S.build_swin(GOLDEN, R.Config(**EVOLQ_CFG)).eval()
    load_into(m, weights)
    mods = dict(m.named_modules())
    for q in quantizers:
        s = torch.as_tensor(state[f"{q}.quantizer.scale"]).to(dtype)
        z = torch.as_tensor(state[f"{q}.quantizer.zero_point"]).to(dtype)
        if s.numel() == 1:
            s, z = s.reshape(()), z.reshape(())
        elif z.numel() == 1:
            z = z.reshape(())
        mods[q].quantizer.scale, mods[q].quantizer.zero_point = s, z
    m.model_quant()
    return m.to(dtype)


def _noisy_int_layernorm(gen):
    """R.int_layernorm with its float mean and std moved by up to 1 ulp (another summation order, another libtorch)."""
    def ulp(t):
        return t * (1 + torch.randint(-1, 2, t.shape, generator=gen).to(t.dtype) * 2.0**-23)

    def f(x, in_scale, out_scale, weight, bias):
        C = x.shape[-1]
        in_scale = in_scale.reshape(1, 1, -1)
        out_scale = out_scale.reshape(1, 1, -1)
        x_q = (x / in_scale).round()
        in_scale1 = in_scale.min()
        x_q = x_q * (in_scale / in_scale1).round()
        mean_x_q = ulp(x_q.mean(dim=-1) * in_scale1)
        std_x_q = ulp((in_scale1 / C) * torch.sqrt(C * (x_q**2).sum(dim=-1) - x_q.sum(dim=-1) ** 2))
        A = (in_scale1 / std_x_q).unsqueeze(-1) * weight.reshape(1, 1, -1) / out_scale
        N = torch.clamp(7 - torch.floor(torch.log2(A.abs())), 0, 31)
        M = torch.clamp(torch.floor(A.abs() * torch.pow(2, N)), 0, 255)
        B = ((bias.reshape(1, 1, -1) - (mean_x_q / std_x_q).unsqueeze(-1) * weight.reshape(1, 1, -1)) / out_scale
             * torch.pow(2, N)).round()
        return ((A.sign() * M * x_q + B) / torch.pow(2, N)).round() * out_scale
    return f


def fragile_units(model, weights, quantizers, state, io):
    """Teacher-forced units whose quantized output is on a knife edge: run in float64, or with 1-ulp noise on every
    weight-layer output and integer-LayerNorm statistic, it moves by more than one step of its output quantizer or on
    more than 0.05 % of its elements. A C# build sums in other orders, so such a unit would fail its test by luck."""
    m64 = quantized_model(weights, quantizers, state, torch.float64)
    problems = []
    with torch.no_grad():
        for p in TEACHER_FORCED:
            x, y = io[f"{p}.in"], io[f"{p}.out"]
            step = unit_output_quantizer(model, p).scale.reshape(1, 1, -1).double()
            outs = {"float64": unit(m64, p)(x.double(), unit_input_quantizer(m64, p))}
            for k in range(3):
                gen = torch.Generator().manual_seed(1000 + k)
                hooks = [m.register_forward_hook(
                    lambda mod, a, o: o * (1 + torch.randint(-1, 2, o.shape, generator=gen).float() * 2.0**-23))
                    for m in unit(model, p).modules() if isinstance(m, (R.QLinear, R.QConv2d))]
                saved, R.int_layernorm = R.int_layernorm, _noisy_int_layernorm(gen)
                try:
                    outs[f"ulp{k}"] = unit(model, p)(x, unit_input_quantizer(model, p))
                finally:
                    R.int_layernorm = saved
                    for h in hooks:
                        h.remove()
            for how, o in outs.items():
                steps = ((o.double() - y.double()).abs() / step).round()
                if steps.max() > 1 or (steps > 0).double().mean() > 0.0005:
                    problems.append(f"{p} ({how}: {int((steps > 0).sum())} elements off, up to {int(steps.max())} steps)")
    return problems


# ----------------------------------------------------------------------------------------------------------------
def make_golden():
    setup = GOLDEN_SETUP
    mc = S.SWIN_CONFIGS[GOLDEN]
    gen = torch.Generator().manual_seed(setup["seed"])
    torch.manual_seed(setup["seed"])
    report = []

    proto = S.build_swin(GOLDEN, R.Config(**EVOLQ_CFG))
    raw = random_weights(proto, setup["std"], gen)
    wt, wmeta, weights = {}, {}, {}
    for k, v in raw.items():
        mul = random_mul(v.shape[1:], gen) if v.dim() >= 2 else None
        q, e = encode(v, mul)
        wt[k] = q
        wmeta[f"exp:{k}"] = str(e)
        if mul is not None:
            wt[f"mul:{k}"] = mul
            wmeta[f"mul:{k}"] = f"mul:{k}"
        weights[k] = decode(q, e, mul)
    wmeta["model"] = GOLDEN
    wmeta["config"] = json.dumps(mc)
    wmeta["parameters"] = json.dumps(list(raw.keys()))
    wmeta["encoding"] = ENCODING
    save_file(wt, os.path.join(OUT, f"{GOLDEN}.weights.safetensors"), wmeta)

    n_eval, n_cal, bs = setup["n_eval"], setup["n_calib"], setup["calib_bs"]
    raw_in = {f"calib{i}": random_images(bs, mc["in_chans"], mc["img_size"], gen) for i in range(n_cal)}
    mul = random_mul((mc["img_size"], mc["img_size"]), gen)
    xin, imeta, dec = {}, {}, {}

    def add_input(k, v):
        q, e = encode(v, mul)
        xin[k] = q
        imeta[f"exp:{k}"] = str(e)
        imeta[f"mul:{k}"] = "mul"
        dec[k] = decode(q, e, mul)

    for k, v in raw_in.items():
        add_input(k, v)
    calib = [dec[f"calib{i}"] for i in range(n_cal)]

    cfg = R.Config(**EVOLQ_CFG)
    model = S.build_swin(GOLDEN, cfg).eval()
    load_into(model, weights)
    t0 = time.time()
    R.calibrate(model, calib)
    t_cal = time.time() - t0
    state = R.quantizer_state(model)
    quantizers = sorted({k[: -len(".quantizer.scale")] for k in state if k.endswith(".quantizer.scale")})

    # Evaluation images are drawn until no teacher-forced unit sits on a knife edge (see fragile_units).
    for draw in range(50):
        add_input("x", random_images(n_eval, mc["in_chans"], mc["img_size"],
                                     torch.Generator().manual_seed(setup["seed"] + 1 + draw)))
        x = dec["x"]
        logits_q, io = unit_io(model, x, TEACHER_FORCED)
        problems = fragile_units(model, weights, quantizers, state, io)
        if not problems:
            break
        report.append(f"  evaluation draw {draw} rejected: " + "; ".join(problems))
    else:
        raise SystemExit("no evaluation draw without knife-edge units")
    xin["mul"] = mul
    imeta["encoding"] = ENCODING
    imeta["calibration"] = json.dumps([f"calib{i}" for i in range(n_cal)])
    imeta["evaluation_draw"] = str(draw)
    save_file(xin, os.path.join(OUT, f"{GOLDEN}.input.safetensors"), imeta)

    fmodel = S.build_swin(GOLDEN, R.Config(**EVOLQ_CFG)).eval()
    load_into(fmodel, weights)
    with torch.no_grad():
        float_logits = fmodel(x)
    save_file({"logits": float_logits}, os.path.join(OUT, f"{GOLDEN}.float.safetensors"), {"model": GOLDEN})
    report.append(f"{GOLDEN}: float logits std {float_logits.std():.4f}, range [{float_logits.min():.3f}, "
                  f"{float_logits.max():.3f}], argmax {float_logits.argmax(-1).tolist()}")

    with torch.no_grad():
        for p in TEACHER_FORCED:
            again = unit(model, p)(io[f"{p}.in"], unit_input_quantizer(model, p))
            assert torch.equal(again, io[f"{p}.out"]), p
    # float behaviour of the same units on the same inputs, for the sanity report only
    errors = []
    with torch.no_grad():
        for p in TEACHER_FORCED:
            ref = unit(fmodel, p)(io[f"{p}.in"], None)
            out = io[f"{p}.out"]
            errors.append(f"{p} {((out - ref).norm() / ref.norm()).item():.4f}")
    tensors = dict(state)
    tensors["logits"] = logits_q.float()
    for k, v in io.items():
        tensors[k] = v.float().contiguous()
    meta = {
        "model": GOLDEN,
        "config": json.dumps(cfg.describe()),
        "settings": json.dumps(EVOLQ_CFG),
        "calibration": json.dumps([f"calib{i}" for i in range(n_cal)]),
        "teacher_forced": json.dumps(TEACHER_FORCED),
        "quantizers": json.dumps(quantizers),
        "omse_index": json.dumps(omse_indices(model)),
        "evaluation_draw": str(draw),
    }
    save_file(tensors, os.path.join(OUT, f"{GOLDEN}.calibrated.safetensors"), meta)
    cmp = compare(logits_q, float_logits)
    report.append(f"{GOLDEN}.calibrated: calibration {t_cal:.1f}s, {len(quantizers)} quantizers; quantized vs float "
                  "logits: " + ", ".join(f"{k} {v:.4f}" for k, v in cmp.items()))
    report.append("  teacher-forced unit rel. error vs float unit on the same input: " + ", ".join(errors))
    return report


def self_check():
    """Rebuild from the written files alone: weights decode, float logits and the quantized forward (stored
    quantizer parameters, no calibration) reproduce."""
    wt, wmeta = load_file(os.path.join(OUT, f"{GOLDEN}.weights.safetensors"))
    weights = {k: load_encoded(wt, wmeta, k) for k in json.loads(wmeta["parameters"])}
    xin, imeta = load_file(os.path.join(OUT, f"{GOLDEN}.input.safetensors"))
    x = load_encoded(xin, imeta, "x")
    fl, _ = load_file(os.path.join(OUT, f"{GOLDEN}.float.safetensors"))
    model = S.build_swin(GOLDEN, R.Config(**EVOLQ_CFG)).eval()
    load_into(model, weights)
    with torch.no_grad():
        assert torch.allclose(model(x), torch.from_numpy(fl["logits"]), atol=1e-5)
    cal, cmeta = load_file(os.path.join(OUT, f"{GOLDEN}.calibrated.safetensors"))
    m = quantized_model(weights, json.loads(cmeta["quantizers"]), cal)
    with torch.no_grad():
        assert torch.equal(m(x), torch.from_numpy(cal["logits"])), "quantized logits not reproduced"
    print(f"  self-check {GOLDEN}: reload + rebuild from files reproduces float and quantized logits")


# ----------------------------------------------------------------------------------------------------------------
def make_checkpoints():
    """swin_micro in the original layout: torch.save({"model": state_dict}) with the persistent buffers
    (relative_position_index, attn_mask) the official checkpoints also hold; float logits of a fixed input to check
    the load end to end; and a checkpoint of a window-12 model, which must not load."""
    gen = torch.Generator().manual_seed(CHECKPOINT_SEED)
    model = S.build_swin(CHECKPOINT, R.Config(**EVOLQ_CFG)).eval()
    std = dict(patch=0.1, table=0.5, qkv=0.15, proj=0.1, fc1=0.1, fc2=0.08, reduction=0.1, head=0.1)
    load_into(model, random_weights(model, std, gen))
    sd = model.state_dict()
    torch.save({"model": sd}, os.path.join(OUT, f"{CHECKPOINT}.pth"))

    mc = S.SWIN_CONFIGS[CHECKPOINT]
    x = random_images(2, mc["in_chans"], mc["img_size"], gen)
    with torch.no_grad():
        logits = model(x)
    save_file({"x": x, "logits": logits}, os.path.join(OUT, f"{CHECKPOINT}.float.safetensors"),
              {"model": CHECKPOINT, "config": json.dumps(mc), "keys": json.dumps(list(sd.keys()))})

    # A window-12 Swin's tables are (2*12-1)^2 = 529 rows and its index 144 x 144: the shapes cannot fit.
    wrong = {}
    for k, v in sd.items():
        if k.endswith("relative_position_bias_table"):
            wrong[k] = torch.randn(529, v.shape[1], generator=gen)
        elif k.endswith("relative_position_index"):
            wrong[k] = S.relative_position_index(12)
        else:
            wrong[k] = v
    torch.save({"model": wrong}, os.path.join(OUT, f"{CHECKPOINT}.window12.pth"))
    buffers = [k for k in sd if k.endswith("relative_position_index") or k.endswith("attn_mask")]
    return [f"{CHECKPOINT}: {sum(p.numel() for p in model.parameters())} parameters, {len(sd)} state-dict keys of "
            f"which {len(buffers)} recomputable buffers; logits std {logits.std():.4f}"]


def main():
    os.makedirs(OUT, exist_ok=True)
    for line in make_golden():
        print(line)
    self_check()
    for line in make_checkpoints():
        print(line)
    total = 0
    for f in sorted(os.listdir(OUT)):
        sz = os.path.getsize(os.path.join(OUT, f))
        total += sz
        print(f"  {f}: {sz} bytes")
    print(f"  total fixtures/swin: {total} bytes")


if __name__ == "__main__":
    main()

"""Writes tests/fixtures/quantization/observers.safetensors and modules.safetensors (contract: README.md here).

Run: cd tests/reference && /usr/bin/python3 make_quantization_fixtures.py
"""
import json
import os

import torch
import torch.nn.functional as F

import fqvit_reference as R
from safetensors_io import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "quantization")


def _t(x):
    return x.detach().float().contiguous()


# ----------------------------------------------------------------------------------------------------------------
# Data generators
# ----------------------------------------------------------------------------------------------------------------
def act_batches(shape, k, gen, skew=0.0, channel_scales=None, offset=0.0):
    """k batches of a (roughly) activation-like tensor; skew > 0 adds a positive heavy tail."""
    out = []
    for _ in range(k):
        x = torch.randn(shape, generator=gen)
        if skew:
            x = x + skew * torch.randn(shape, generator=gen).abs() ** 3
        if channel_scales is not None:
            cs = channel_scales
            if len(shape) == 4:
                cs = cs.reshape(1, -1, 1, 1)
            x = x * cs
        out.append((x + offset).float())
    return out


def weight_tensor(shape, gen, row_scale_spread=True):
    w = torch.randn(shape, generator=gen) * 0.05
    if row_scale_spread:
        rs = torch.exp(torch.randn(shape[0], generator=gen) * 0.5)
        w = w * rs.reshape((-1,) + (1,) * (len(shape) - 1))
    # a few asymmetric rows (all-positive shift) so unsigned zero-points vary
    w = w + 0.02 * torch.randn((shape[0],) + (1,) * (len(shape) - 1), generator=gen)
    return w.float()


# ----------------------------------------------------------------------------------------------------------------
# Observer cases
# ----------------------------------------------------------------------------------------------------------------
def run_observer_case(observer, bt_name, module_type, granularity, batches):
    bt = R.BIT_TYPES[bt_name]
    obs = R.build_observer(observer, module_type, bt, granularity)
    for b in batches:
        obs.update(b)
    last = batches[-1]
    scale, zp = obs.get_quantization_params(last)
    fq = R.fake_quant(last, scale, zp, bt, module_type)
    extra = {"min_val": obs.min_val, "max_val": obs.max_val}
    if observer == "omse":
        extra["omse_index"] = torch.tensor([float(obs.best_index)])
    if observer == "ptf":
        extra["alpha"] = obs.alpha
    return scale, zp, fq, extra


def observer_cases():
    g = torch.Generator().manual_seed(1234)
    C = 16
    cases = []  # (name, observer, bt, module_type, granularity, batches)

    # ---- weights (single batch) ----
    lw = lambda: [weight_tensor((24, 20), g)]  # noqa: E731
    cw = lambda: [weight_tensor((8, 3, 4, 4), g)]  # noqa: E731
    for bt in ["uint4", "int4", "uint8", "int8", "uint3", "int3"]:
        cases.append((f"minmax_{bt}_linear_weight_channel", "minmax", bt, "linear_weight", "channel_wise", lw()))
    for bt in ["uint4", "int8", "uint3"]:
        cases.append((f"minmax_{bt}_conv_weight_channel", "minmax", bt, "conv_weight", "channel_wise", cw()))
    for bt in ["uint4", "int4", "uint3", "uint8"]:
        cases.append((f"omse_{bt}_linear_weight_channel", "omse", bt, "linear_weight", "channel_wise", lw()))
    for bt in ["uint4", "int8"]:
        cases.append((f"omse_{bt}_conv_weight_channel", "omse", bt, "conv_weight", "channel_wise", cw()))

    # ---- activations (3 calibration batches) ----
    cases.append(("minmax_uint8_act2d_layer", "minmax", "uint8", "activation", "layer_wise",
                  act_batches((12, C), 3, g, skew=0.3)))
    cases.append(("minmax_int8_act3d_layer", "minmax", "int8", "activation", "layer_wise",
                  act_batches((2, 10, C), 3, g)))
    cases.append(("minmax_uint4_act3d_layer", "minmax", "uint4", "activation", "layer_wise",
                  act_batches((2, 10, C), 3, g, skew=0.2)))
    cases.append(("minmax_uint3_act2d_layer", "minmax", "uint3", "activation", "layer_wise",
                  act_batches((12, C), 3, g, offset=0.5)))
    cases.append(("minmax_uint8_act4d_layer", "minmax", "uint8", "activation", "layer_wise",
                  act_batches((2, 4, 6, 6), 3, g, skew=0.2)))
    cases.append(("minmax_int4_act4d_layer", "minmax", "int4", "activation", "layer_wise",
                  act_batches((2, 4, 6, 6), 3, g)))
    cs = torch.tensor([0.1, 0.3, 1.0, 3.0, 0.5, 2.0, 0.2, 1.5] * 2)
    cases.append(("minmax_uint8_act3d_channel", "minmax", "uint8", "activation", "channel_wise",
                  act_batches((2, 10, C), 3, g, channel_scales=cs)))
    cases.append(("minmax_uint8_act4d_channel", "minmax", "uint8", "activation", "channel_wise",
                  act_batches((2, 4, 6, 6), 3, g, channel_scales=cs[:4])))
    cases.append(("ema_uint8_act3d_layer", "ema", "uint8", "activation", "layer_wise",
                  act_batches((2, 10, C), 3, g, skew=0.3)))
    cases.append(("ema_int8_act2d_layer", "ema", "int8", "activation", "layer_wise",
                  act_batches((12, C), 3, g)))
    cases.append(("ema_uint4_act3d_layer", "ema", "uint4", "activation", "layer_wise",
                  act_batches((2, 10, C), 3, g)))
    cases.append(("percentile_uint8_act3d_layer", "percentile", "uint8", "activation", "layer_wise",
                  act_batches((4, 32, 32), 3, g, skew=0.3)))
    cases.append(("percentile_int8_act2d_layer", "percentile", "int8", "activation", "layer_wise",
                  act_batches((128, 32), 3, g)))
    cases.append(("percentile_uint4_act3d_layer", "percentile", "uint4", "activation", "layer_wise",
                  act_batches((4, 32, 32), 3, g, skew=0.5)))
    cases.append(("omse_uint8_act3d_layer", "omse", "uint8", "activation", "layer_wise",
                  act_batches((2, 16, 32), 3, g, skew=0.4)))
    cases.append(("omse_uint4_act2d_layer", "omse", "uint4", "activation", "layer_wise",
                  act_batches((16, 32), 3, g, skew=0.4)))
    cases.append(("omse_int8_act3d_layer", "omse", "int8", "activation", "layer_wise",
                  act_batches((2, 16, 32), 3, g, skew=0.4)))
    cases.append(("omse_uint3_act3d_layer", "omse", "uint3", "activation", "layer_wise",
                  act_batches((2, 16, 32), 3, g, skew=0.4)))
    cases.append(("omse_uint8_act4d_layer", "omse", "uint8", "activation", "layer_wise",
                  act_batches((2, 4, 8, 8), 3, g, skew=0.4)))
    # PTF: (N, tokens, C) with channels of very different ranges
    ptf_scales = torch.tensor([2.0 ** (k % 5 - 2) for k in range(24)]) * (1.0 + 0.3 * torch.rand(24, generator=g))
    cases.append(("ptf_uint8_act3d_channel", "ptf", "uint8", "activation", "channel_wise",
                  act_batches((2, 12, 24), 3, g, channel_scales=ptf_scales, skew=0.1)))
    cases.append(("ptf_uint4_act3d_channel", "ptf", "uint4", "activation", "channel_wise",
                  act_batches((2, 12, 24), 3, g, channel_scales=ptf_scales)))
    return cases


def make_observers():
    tensors = {}
    meta = {}
    summary = []
    for name, observer, bt_name, module_type, gran, batches in observer_cases():
        scale, zp, fq, extra = run_observer_case(observer, bt_name, module_type, gran, batches)
        bt = R.BIT_TYPES[bt_name]
        meta[name] = json.dumps({"observer": observer, "bits": bt.bits, "signed": bt.signed,
                                 "module_type": module_type, "granularity": gran})
        for i, b in enumerate(batches):
            tensors[f"{name}/batch{i}"] = _t(b)
        tensors[f"{name}/scale"] = _t(scale).reshape(-1)
        tensors[f"{name}/zero_point"] = _t(zp).reshape(-1)
        tensors[f"{name}/fake_quant"] = _t(fq)
        for k, v in extra.items():
            tensors[f"{name}/{k}"] = _t(v).reshape(-1)
        info = f"{name}: scale[{scale.numel()}] {scale.reshape(-1)[:3].tolist()} zp {zp.reshape(-1)[:3].tolist()}"
        if observer == "omse":
            info += f" omse_index={int(extra['omse_index'])}"
        if observer == "ptf":
            info += f" alpha={extra['alpha'].int().tolist()}"
        summary.append(info)
    meta["cases"] = json.dumps(sorted(meta.keys()))
    path = os.path.join(OUT, "observers.safetensors")
    save_file(tensors, path, meta)
    return path, summary


# ----------------------------------------------------------------------------------------------------------------
# Module cases
# ----------------------------------------------------------------------------------------------------------------
def make_modules():
    g = torch.Generator().manual_seed(4321)
    tensors = {}
    meta = {}
    summary = []

    # -- QLinear, uint4 channel-wise MinMax + bias correction, calibrated (2 batches) then quantized --
    lin = R.QLinear(32, 24, True, "uint4", "minmax", "channel_wise", "uniform", bcorr_weights=True)
    with torch.no_grad():
        lin.weight.copy_(weight_tensor((24, 32), g))
        lin.bias.copy_(0.1 * torch.randn(24, generator=g))
    x = torch.randn(2, 5, 32, generator=g)
    with torch.no_grad():
        lin.calibrate = True
        lin(x)
        lin.last_calibrate = True
        lin(x)
        lin.calibrate = lin.last_calibrate = False
        lin.quant = True
        out = lin(x)
        wq = lin.quantizer(lin.weight)
        ref = F.linear(x, wq, lin.bias)
        assert torch.equal(out, ref)
    for k, v in {"weight": lin.weight, "bias": lin.bias, "x": x, "out": out, "weight_q": wq,
                 "scale": lin.quantizer.scale, "zero_point": lin.quantizer.zero_point}.items():
        tensors[f"qlinear_bcorr/{k}"] = _t(v)
    meta["qlinear_bcorr"] = json.dumps({"module": "QLinear", "bits": 4, "signed": False, "observer": "minmax",
                                        "granularity": "channel_wise", "bias_corr": True})
    summary.append(f"qlinear_bcorr: |out - float| max {(out - F.linear(x, lin.weight, lin.bias)).abs().max():.4f}")

    # -- QConv2d, patch conv (kernel = stride = 4) --
    conv = R.QConv2d(3, 8, kernel_size=4, stride=4, bt="uint4", observer_str="minmax",
                     calibration_mode="channel_wise", bcorr_weights=True)
    with torch.no_grad():
        conv.weight.copy_(weight_tensor((8, 3, 4, 4), g))
        conv.bias.copy_(0.1 * torch.randn(8, generator=g))
    xc = torch.randn(2, 3, 8, 8, generator=g)
    with torch.no_grad():
        conv.calibrate = conv.last_calibrate = True
        conv(xc)
        conv.calibrate = conv.last_calibrate = False
        conv.quant = True
        outc = conv(xc)
        wqc = conv.quantizer(conv.weight)
    for k, v in {"weight": conv.weight, "bias": conv.bias, "x": xc, "out": outc, "weight_q": wqc,
                 "scale": conv.quantizer.scale, "zero_point": conv.quantizer.zero_point}.items():
        tensors[f"qconv_bcorr/{k}"] = _t(v)
    meta["qconv_bcorr"] = json.dumps({"module": "QConv2d", "bits": 4, "signed": False, "observer": "minmax",
                                      "granularity": "channel_wise", "bias_corr": True, "kernel": 4, "stride": 4})
    summary.append(f"qconv_bcorr: out shape {list(outc.shape)}")

    # -- integer LayerNorm: PTF-quantized input (uint8), uint8 MinMax output scale --
    C = 32
    cs = torch.tensor([2.0 ** (k % 4 - 1) for k in range(C)]) * (1.0 + 0.2 * torch.rand(C, generator=g))
    raw = torch.randn(2, 10, C, generator=g) * cs + 0.3 * torch.randn(C, generator=g)
    ptf = R.PtfObserver("activation", R.BIT_TYPES["uint8"], "channel_wise")
    ptf.update(raw)
    in_scale, in_zp = ptf.get_quantization_params(raw)
    xq = R.fake_quant(raw, in_scale, in_zp, R.BIT_TYPES["uint8"], "activation")
    gamma = (1.0 + 0.2 * torch.randn(C, generator=g))
    gamma[3] = -0.7  # a negative gamma exercises sign(A)
    beta = 0.1 * torch.randn(C, generator=g)
    ln_float = F.layer_norm(xq, (C,), gamma, beta, 1e-6)
    oo = R.MinMaxObserver("activation", R.BIT_TYPES["uint8"], "layer_wise")
    oo.update(ln_float)
    out_scale, out_zp = oo.get_quantization_params()
    out_ln = R.int_layernorm(xq, in_scale, out_scale, gamma, beta)
    for k, v in {"x": xq, "in_scale": in_scale, "in_zero_point": in_zp.reshape(1), "out_scale": out_scale.reshape(1),
                 "weight": gamma, "bias": beta, "out": out_ln, "out_float": ln_float,
                 "alpha": ptf.alpha}.items():
        tensors[f"int_layernorm/{k}"] = _t(v)
    meta["int_layernorm"] = json.dumps({"module": "QIntLayerNorm", "mode": "int", "eps": 1e-6})
    summary.append(f"int_layernorm: alpha {ptf.alpha.int().tolist()}, |int - float LN| max "
                   f"{(out_ln - ln_float).abs().max():.4f} (out_scale {out_scale.item():.5f})")

    # -- Log-Int-Softmax: attention logits on a uint8 grid; power-of-two scale so x/scale is exact --
    scale = torch.tensor(2.0**-4)
    logits = torch.randn(2, 2, 6, 6, generator=g) * 2.0
    codes = (logits / scale + 128).round().clamp(0, 255)
    x_lis = (codes - 128) * scale
    out_lis = R.log_int_softmax(x_lis, scale, 4)
    for k, v in {"x": x_lis, "scale": scale.reshape(1), "out": out_lis}.items():
        tensors[f"lis/{k}"] = _t(v)
    meta["lis"] = json.dumps({"bits": 4, "note": "scale is a power of two so x/scale is an exact integer"})
    # a second case with an observer-made (non power-of-two) scale, as in the model
    obs = R.MinMaxObserver("activation", R.BIT_TYPES["uint8"], "layer_wise")
    logits2 = torch.randn(1, 3, 10, 10, generator=g) * 3.0
    obs.update(logits2)
    s2, z2 = obs.get_quantization_params()
    x2 = R.fake_quant(logits2, s2, z2, R.BIT_TYPES["uint8"], "activation")
    out2 = R.log_int_softmax(x2, s2, 4)
    for k, v in {"x": x2, "scale": s2.reshape(1), "out": out2}.items():
        tensors[f"lis_observer_scale/{k}"] = _t(v)
    meta["lis_observer_scale"] = json.dumps({"bits": 4, "note": "scale from a uint8 MinMax observer"})
    summary.append(f"lis: |LIS - softmax| max {(out_lis - x_lis.softmax(-1)).abs().max():.4f}; "
                   f"observer-scale case {(out2 - x2.softmax(-1)).abs().max():.4f}")

    # -- log2 quantizer on softmax probabilities --
    probs = (torch.randn(2, 2, 8, 8, generator=g) * 2.5).softmax(-1)
    lq = R.Log2Quantizer(R.BIT_TYPES["uint4"])
    out_l2 = lq(probs)
    tensors["log2/x"] = _t(probs)
    tensors["log2/out"] = _t(out_l2)
    meta["log2"] = json.dumps({"bits": 4})
    summary.append(f"log2: zeros {(out_l2 == 0).float().mean():.3f}")

    meta["cases"] = json.dumps(sorted(meta.keys()))
    path = os.path.join(OUT, "modules.safetensors")
    save_file(tensors, path, meta)
    return path, summary


def main():
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    for fn in (make_observers, make_modules):
        path, summary = fn()
        back, md = load_file(path)
        print(f"wrote {os.path.relpath(path, HERE)} ({os.path.getsize(path)} bytes, {len(back)} tensors)")
        for s in summary:
            print("  " + s)


if __name__ == "__main__":
    main()

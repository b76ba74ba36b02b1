"""PyTorch reference of LeViT with Evol-Q's quantizer placement (docs/semantics.md, sections §2.2,
§3.8 and §4.2), built from fqvit_reference's Q-modules. Written for this project from the specification; module tree and
parameter names are those of Facebook's LeViT checkpoints (LeViT-128S-96703c44.pth etc.), so a state dict of the
unfused model has exactly the keys of those files.

The model is built unfused (Conv2d_BN, Linear_BN, BN_Linear, as the checkpoints store it), loaded strictly, then
`fuse_model` folds every BatchNorm into the convolution or linear next to it, producing QConv2d/QLinear layers with a
float bias under the unit's own name (the original's replace_batchnorm). Calibration and quantized mode work on the
fused model only.

Runs on Debian's PyTorch 1.13 (/usr/bin/python3). Everything is float32 on the CPU.
"""
from collections import OrderedDict
import itertools

import torch
import torch.nn as nn
import torch.nn.functional as F

import fqvit_reference as R

# C: stage widths, D: key dim, N: heads per stage, X: attention blocks per stage (semantics §4.2).
SPECS = {
    "levit_128s": dict(C=(128, 256, 384), D=16, N=(4, 6, 8), X=(2, 3, 4)),
    "levit_128": dict(C=(128, 256, 384), D=16, N=(4, 8, 12), X=(4, 4, 4)),
    "levit_192": dict(C=(192, 288, 384), D=32, N=(3, 5, 6), X=(4, 4, 4)),
    "levit_256": dict(C=(256, 384, 512), D=32, N=(4, 6, 8), X=(4, 4, 4)),
    "levit_384": dict(C=(384, 512, 768), D=32, N=(6, 9, 12), X=(4, 4, 4)),
    # Reduced shapes for the fixtures: LeViT-128S's depths, heads and key dim at half width, 100 classes.
    "levit_test": dict(C=(64, 96, 128), D=16, N=(4, 6, 8), X=(2, 3, 4), num_classes=100),
    # The smallest LeViT for checkpoint files: 64 px (resolution 4 -> 2 -> 1), one block per stage.
    "levit_micro": dict(C=(16, 24, 32), D=8, N=(2, 3, 4), X=(1, 1, 1), img_size=64, num_classes=10),
}

PUBLISHED = ["levit_128s", "levit_128", "levit_192", "levit_256", "levit_384"]


def spec_of(name):
    s = dict(img_size=224, num_classes=1000)
    s.update(SPECS[name])
    return s


# ----------------------------------------------------------------------------------------------------------------
# Quantizer factories. fqvit_reference's PTF observer handles the stem's 4-D (N, C, H, W) inputs along axis 1.
# ----------------------------------------------------------------------------------------------------------------
def qact_a(cfg):
    return R._qact_a(cfg)


def qact_a_ln(cfg):
    return R._qact_a_ln(cfg)


def _qconv(cfg, cin, cout, ks, stride, pad):
    return R.QConv2d(cin, cout, ks, stride=stride, padding=pad, bias=True, bt=cfg.BIT_TYPE_W,
                     observer_str=cfg.OBSERVER_W, calibration_mode=cfg.CALIBRATION_MODE_W,
                     quantizer_str=cfg.QUANTIZER_W, bcorr_weights=cfg.BIAS_CORR)


def _qlinear(cfg, cin, cout):
    return R.QLinear(cin, cout, True, cfg.BIT_TYPE_W, cfg.OBSERVER_W, cfg.CALIBRATION_MODE_W, cfg.QUANTIZER_W,
                     bcorr_weights=cfg.BIAS_CORR)


# ----------------------------------------------------------------------------------------------------------------
# The BatchNorm units of the checkpoint and their folds (the original's fuse(): same formulas, same op order)
# ----------------------------------------------------------------------------------------------------------------
class Conv2d_BN(nn.Sequential):
    def __init__(self, a, b, ks, stride, pad):
        super().__init__()
        self.add_module("c", nn.Conv2d(a, b, ks, stride, pad, bias=False))
        self.add_module("bn", nn.BatchNorm2d(b))

    @torch.no_grad()
    def fold(self):
        c, bn = self.c, self.bn
        w = bn.weight / (bn.running_var + bn.eps) ** 0.5
        weight = c.weight * w[:, None, None, None]
        bias = bn.bias - bn.running_mean * bn.weight / (bn.running_var + bn.eps) ** 0.5
        return weight, bias

    def fuse(self, cfg):
        weight, bias = self.fold()
        m = _qconv(cfg, self.c.in_channels, self.c.out_channels, self.c.kernel_size, self.c.stride, self.c.padding)
        m.weight.data.copy_(weight)
        m.bias.data.copy_(bias)
        return m


class Linear_BN(nn.Sequential):
    def __init__(self, a, b):
        super().__init__()
        self.add_module("c", nn.Linear(a, b, bias=False))
        self.add_module("bn", nn.BatchNorm1d(b))

    @torch.no_grad()
    def fold(self):
        c, bn = self.c, self.bn
        w = bn.weight / (bn.running_var + bn.eps) ** 0.5
        weight = c.weight * w[:, None]
        bias = bn.bias - bn.running_mean * bn.weight / (bn.running_var + bn.eps) ** 0.5
        return weight, bias

    def fuse(self, cfg):
        weight, bias = self.fold()
        m = _qlinear(cfg, self.c.in_features, self.c.out_features)
        m.weight.data.copy_(weight)
        m.bias.data.copy_(bias)
        return m

    def forward(self, x):
        y = self.c(x)
        return self.bn(y.flatten(0, 1)).reshape_as(y)


class BN_Linear(nn.Sequential):
    def __init__(self, a, b):
        super().__init__()
        self.add_module("bn", nn.BatchNorm1d(a))
        self.add_module("l", nn.Linear(a, b, bias=True))

    @torch.no_grad()
    def fold(self):
        bn, l = self.bn, self.l
        w = bn.weight / (bn.running_var + bn.eps) ** 0.5
        b = bn.bias - bn.running_mean * bn.weight / (bn.running_var + bn.eps) ** 0.5
        weight = l.weight * w[None, :]
        bias = (l.weight @ b[:, None]).view(-1) + l.bias
        return weight, bias

    def fuse(self, cfg):
        weight, bias = self.fold()
        m = _qlinear(cfg, self.l.in_features, self.l.out_features)
        m.weight.data.copy_(weight)
        m.bias.data.copy_(bias)
        return m


def fuse_model(net, cfg):
    """The original's replace_batchnorm: every unit with a fold becomes a Q-layer under the unit's own name."""
    for name, child in net.named_children():
        if isinstance(child, (Conv2d_BN, Linear_BN, BN_Linear)):
            setattr(net, name, child.fuse(cfg))
        else:
            fuse_model(child, cfg)
    return net


def folded_units(net):
    """{unit path: (weight, bias)} of every BatchNorm unit of an unfused model."""
    out = {}
    for name, m in net.named_modules():
        if isinstance(m, (Conv2d_BN, Linear_BN, BN_Linear)):
            out[name] = m.fold()
    return out


# ----------------------------------------------------------------------------------------------------------------
# LeViT (Facebook's module tree; Evol-Q's QActs, semantics §3.8)
# ----------------------------------------------------------------------------------------------------------------
def attention_bias_offsets(resolution, resolution_out, stride):
    """(offsets in first-seen order, index of each (query, key) pair's offset in the per-head bias table)."""
    points = list(itertools.product(range(resolution), range(resolution)))
    points_ = list(itertools.product(range(resolution_out), range(resolution_out)))
    offsets = {}
    idxs = []
    for p1 in points_:
        for p2 in points:
            off = (abs(p1[0] * stride - p2[0]), abs(p1[1] * stride - p2[1]))
            if off not in offsets:
                offsets[off] = len(offsets)
            idxs.append(offsets[off])
    return list(offsets), torch.LongTensor(idxs).view(len(points_), len(points))


def attention_bias_table(resolution, resolution_out, stride):
    """Size of the per-head bias table and the index of each (query, key) pair's offset in it."""
    offsets, idxs = attention_bias_offsets(resolution, resolution_out, stride)
    return len(offsets), idxs


def stem(n, cfg):
    return nn.Sequential(OrderedDict([
        ("0", Conv2d_BN(3, n // 8, 3, 2, 1)), ("qact0", qact_a_ln(cfg)), ("1", nn.Hardswish()), ("qact1", qact_a_ln(cfg)),
        ("2", Conv2d_BN(n // 8, n // 4, 3, 2, 1)), ("qact2", qact_a_ln(cfg)), ("3", nn.Hardswish()),
        ("qact3", qact_a_ln(cfg)),
        ("4", Conv2d_BN(n // 4, n // 2, 3, 2, 1)), ("qact4", qact_a_ln(cfg)), ("5", nn.Hardswish()),
        ("qact5", qact_a_ln(cfg)),
        ("6", Conv2d_BN(n // 2, n, 3, 2, 1)), ("qact6", qact_a_ln(cfg)),
    ]))


def mlp(dim, hidden, cfg):
    return nn.Sequential(OrderedDict([
        ("0", Linear_BN(dim, hidden)), ("qact0", qact_a(cfg)), ("1", nn.Hardswish()), ("qact1", qact_a(cfg)),
        ("2", Linear_BN(hidden, dim)),
    ]))


class Residual(nn.Module):
    def __init__(self, m, cfg):
        super().__init__()
        self.m = m
        self.qact_out = qact_a_ln(cfg)

    def forward(self, x):
        return self.qact_out(x + self.m(x))


class Attention(nn.Module):
    def __init__(self, dim, key_dim, num_heads, attn_ratio, resolution, cfg):
        super().__init__()
        self.num_heads = num_heads
        self.scale = key_dim**-0.5
        self.key_dim = key_dim
        self.d = int(attn_ratio * key_dim)
        self.dh = self.d * num_heads
        self.qkv = Linear_BN(dim, self.dh + 2 * key_dim * num_heads)
        self.proj = nn.Sequential(OrderedDict([("0", nn.Hardswish()), ("1", Linear_BN(self.dh, dim))]))
        self.bias_geometry = (resolution, resolution, 1)
        n_off, idxs = attention_bias_table(resolution, resolution, 1)
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, n_off))
        self.register_buffer("attention_bias_idxs", idxs)
        for q in ("qact_q", "qact_k", "qact_v", "qact_attn1", "qact_attn2", "qact_softmax", "qact1", "qact_out"):
            setattr(self, q, qact_a(cfg))

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x)
        q, k, v = qkv.view(B, N, self.num_heads, -1).split([self.key_dim, self.key_dim, self.d], dim=3)
        q = self.qact_q(q.permute(0, 2, 1, 3))
        k = self.qact_k(k.permute(0, 2, 1, 3))
        v = self.qact_v(v.permute(0, 2, 1, 3))
        attn = self.qact_attn1(q @ k.transpose(-2, -1))
        attn = self.qact_attn2(attn * self.scale + self.attention_biases[:, self.attention_bias_idxs])
        attn = self.qact_softmax(attn.softmax(dim=-1))
        x = self.qact1((attn @ v).transpose(1, 2).reshape(B, N, self.dh))
        return self.qact_out(self.proj(x))


class Subsample(nn.Module):
    def __init__(self, stride, resolution):
        super().__init__()
        self.stride = stride
        self.resolution = resolution

    def forward(self, x):
        B, N, C = x.shape
        return x.view(B, self.resolution, self.resolution, C)[:, ::self.stride, ::self.stride].reshape(B, -1, C)


class AttentionSubsample(nn.Module):
    def __init__(self, in_dim, out_dim, key_dim, num_heads, attn_ratio, stride, resolution, resolution_, cfg):
        super().__init__()
        self.num_heads = num_heads
        self.scale = key_dim**-0.5
        self.key_dim = key_dim
        self.d = int(attn_ratio * key_dim)
        self.dh = self.d * num_heads
        self.resolution_2 = resolution_**2
        nh_kd = key_dim * num_heads
        self.kv = Linear_BN(in_dim, self.dh + nh_kd)
        self.q = nn.Sequential(Subsample(stride, resolution), Linear_BN(in_dim, nh_kd))
        self.proj = nn.Sequential(OrderedDict([
            ("0", nn.Hardswish()), ("qact0", qact_a(cfg)), ("1", Linear_BN(self.dh, out_dim))]))
        self.bias_geometry = (resolution, resolution_, stride)
        n_off, idxs = attention_bias_table(resolution, resolution_, stride)
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, n_off))
        self.register_buffer("attention_bias_idxs", idxs)
        for q in ("qact_q", "qact_k", "qact_v", "qact_attn1", "qact_attn2", "qact_softmax", "qact1", "qact_out"):
            setattr(self, q, qact_a(cfg))

    def forward(self, x):
        B, N, C = x.shape
        k, v = self.kv(x).view(B, N, self.num_heads, -1).split([self.key_dim, self.d], dim=3)
        k = k.permute(0, 2, 1, 3)
        v = v.permute(0, 2, 1, 3)
        q = self.q(x).view(B, self.resolution_2, self.num_heads, self.key_dim).permute(0, 2, 1, 3)
        q = self.qact_q(q)
        k = self.qact_k(k)
        v = self.qact_v(v)
        attn = self.qact_attn1(q @ k.transpose(-2, -1))
        attn = self.qact_attn2(attn * self.scale + self.attention_biases[:, self.attention_bias_idxs])
        attn = self.qact_softmax(attn.softmax(dim=-1))
        x = self.qact1((attn @ v).transpose(1, 2).reshape(B, -1, self.dh))
        return self.qact_out(self.proj(x))


class LeViT(nn.Module):
    def __init__(self, C, D, N, X, cfg, img_size=224, num_classes=1000):
        super().__init__()
        self.cfg = cfg
        resolution = img_size // 16
        self.patch_embed = stem(C[0], cfg)
        blocks = []
        for i in range(3):
            for _ in range(X[i]):
                blocks.append(Residual(Attention(C[i], D, N[i], 2, resolution, cfg), cfg))
                blocks.append(Residual(mlp(C[i], 2 * C[i], cfg), cfg))
            if i < 2:
                resolution_ = (resolution - 1) // 2 + 1
                blocks.append(AttentionSubsample(C[i], C[i + 1], D, C[i] // D, 4, 2, resolution, resolution_, cfg))
                resolution = resolution_
                blocks.append(Residual(mlp(C[i + 1], 2 * C[i + 1], cfg), cfg))
        self.blocks = nn.Sequential(*blocks)
        self.head = BN_Linear(C[2], num_classes)
        self.head_dist = BN_Linear(C[2], num_classes)
        self.qact_embed = qact_a(cfg)
        self.qact_postblocks = qact_a(cfg)
        self.qact_mean = qact_a(cfg)
        self.qact0 = qact_a(cfg)
        self.qact1 = qact_a(cfg)
        self.qact_out = qact_a(cfg)

    def embed(self, x):
        x = self.qact_embed(self.patch_embed(x))
        return x.flatten(2).transpose(1, 2)

    def head_out(self, x):
        x = self.qact_mean(self.qact_postblocks(x).mean(1))
        # eval mode: the class and distillation heads are averaged
        return self.qact_out((self.qact0(self.head(x)) + self.qact1(self.head_dist(x))) / 2)

    def forward(self, x):
        return self.head_out(self.blocks(self.embed(x)))

    # --- mode switches (FQ-ViT model_* helpers); LeViT has no LayerNorm ---
    def _qmods(self):
        return [m for m in self.modules() if isinstance(m, (R.QConv2d, R.QLinear, R.QAct, R.QIntSoftmax))]

    def model_quant(self):
        for m in self._qmods():
            m.quant = True

    def model_dequant(self):
        for m in self._qmods():
            m.quant = False

    def model_open_calibrate(self):
        for m in self._qmods():
            m.calibrate = True

    def model_open_last_calibrate(self):
        for m in self._qmods():
            m.last_calibrate = True

    def model_close_calibrate(self):
        for m in self._qmods():
            m.calibrate = False
            m.last_calibrate = False

    def set_float(self):
        self.model_dequant()


def build_levit(name, cfg):
    """The unfused model (checkpoint layout), in eval mode."""
    s = spec_of(name)
    return LeViT(s["C"], s["D"], s["N"], s["X"], cfg, img_size=s["img_size"], num_classes=s["num_classes"]).eval()


def searchable_blocks(model):
    """Evol-Q's units (semantics §2.2) of a fused model in forward order: (name, block index, [(layer path, QLinear)])."""
    out = []
    for i, blk in enumerate(model.blocks):
        if isinstance(blk, Residual) and isinstance(blk.m, Attention):
            out.append((f"blocks.{i}.m", i, [(f"blocks.{i}.m.qkv", blk.m.qkv), (f"blocks.{i}.m.proj.1", getattr(blk.m.proj, "1"))]))
        elif isinstance(blk, AttentionSubsample):
            out.append((f"blocks.{i}", i, [(f"blocks.{i}.kv", blk.kv), (f"blocks.{i}.q.1", getattr(blk.q, "1")),
                                           (f"blocks.{i}.proj.1", getattr(blk.proj, "1"))]))
    return out


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())

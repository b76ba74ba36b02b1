"""PyTorch reference of the quantized Swin Transformer of FQ-ViT / Evol-Q (docs/semantics.md §3.5,
§3.6, §3.8 'Swin', §4.1), built from the Q-modules of fqvit_reference.py under the official Swin checkpoint names
(patch_embed.proj/norm, layers.i.blocks.j.{norm1, attn.*, norm2, mlp.*}, layers.i.downsample.*, norm, head).

Written for this project from the spec; it is the ground truth the C# Swin tests compare against.
Runs on Debian's PyTorch 1.13 (/usr/bin/python3), float32 on the CPU.

Quantizer placement (what semantics §3.8 and the original's swin_quant.py/layers_quant.py do):
- qact_input on the image; patch conv (bias-corrected) -> qact_before_norm (layer-wise) -> integer LayerNorm ->
  patch_embed.qact (layer-wise: block 0's norm1 reads a scalar input scale).
- Block: norm1 -> qact1 -> (cyclic shift) -> window partition -> W-MSA -> window reverse -> (shift back);
  residual -> qact2 (PTF) -> norm2 -> qact3 -> MLP (bias-corrected fc1/fc2) -> residual -> qact4 (PTF).
- W-MSA: qkv -> qact1; (q * scale) @ k^T -> qact_attn1; bias table -> qact_table, gathered by the relative position
  index; add -> qact2; + shift mask (-100, float); softmax (LIS would read qact2's scale) with its quantizer;
  attn @ v -> qact3 -> proj -> qact4. qkv and proj have no bias correction (semantics §3.5, §2.8 item 9).
- PatchMerging: concat of the 2x2 neighbours (x0 = [0::2, 0::2], x1 = [1::2, 0::2], x2 = [0::2, 1::2],
  x3 = [1::2, 1::2]) -> integer LayerNorm over 4C reading the previous block's qact4 scale repeated 4 times ->
  qact1 -> reduction (no bias, no bias correction) -> qact2 (PTF).
- Final: norm (last block's qact4 in, qact2 out) -> qact2 -> average pool over tokens -> qact3 -> head (no bias
  correction) -> act_out.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

import fqvit_reference as R

LN_EPS = 1e-5  # nn.LayerNorm's default, which Swin uses everywhere

SWIN_CONFIGS = {
    "swin_tiny": dict(img_size=224, patch_size=4, in_chans=3, num_classes=1000, embed_dim=96, depths=(2, 2, 6, 2),
                      num_heads=(3, 6, 12, 24), window_size=7, mlp_ratio=4),
    "swin_small": dict(img_size=224, patch_size=4, in_chans=3, num_classes=1000, embed_dim=96, depths=(2, 2, 18, 2),
                       num_heads=(3, 6, 12, 24), window_size=7, mlp_ratio=4),
    "swin_base": dict(img_size=224, patch_size=4, in_chans=3, num_classes=1000, embed_dim=128, depths=(2, 2, 18, 2),
                      num_heads=(4, 8, 16, 32), window_size=7, mlp_ratio=4),
    # The golden-numerics model: resolutions 28 / 14 / 7, so stage 0 has 16 windows, stages 0 and 1 have shifted
    # blocks with masks, two patch mergings, and stage 2 is one window with no shift (as Swin-T's last stage).
    "swin_mini": dict(img_size=112, patch_size=4, in_chans=3, num_classes=10, embed_dim=32, depths=(2, 2, 2),
                      num_heads=(2, 4, 8), window_size=7, mlp_ratio=4),
    # The checkpoint-loading model: resolutions 14 / 7, one merging, one shifted block (36k parameters).
    "swin_micro": dict(img_size=56, patch_size=4, in_chans=3, num_classes=10, embed_dim=16, depths=(2, 2),
                       num_heads=(1, 2), window_size=7, mlp_ratio=4),
}


# ----------------------------------------------------------------------------------------------------------------
# Window helpers
# ----------------------------------------------------------------------------------------------------------------
def window_partition(x, ws):
    """(B, H, W, C) -> (B * nW, ws, ws, C), windows in row-major order of the window grid."""
    B, H, W, C = x.shape
    x = x.view(B, H // ws, ws, W // ws, ws, C)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, C)


def window_reverse(windows, ws, H, W):
    """Inverse of window_partition: (B * nW, ws, ws, C) -> (B, H, W, C)."""
    B = windows.shape[0] // ((H // ws) * (W // ws))
    x = windows.view(B, H // ws, W // ws, ws, ws, -1)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(B, H, W, -1)


def relative_position_index(ws):
    """(ws^2, ws^2) int64: row index into the ((2 ws - 1)^2, heads) bias table for each query/key pair."""
    coords = torch.stack(torch.meshgrid([torch.arange(ws), torch.arange(ws)], indexing="ij"))  # 2, ws, ws
    flat = torch.flatten(coords, 1)  # 2, ws*ws
    rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0).contiguous()  # N, N, 2
    rel[:, :, 0] += ws - 1
    rel[:, :, 1] += ws - 1
    rel[:, :, 0] *= 2 * ws - 1
    return rel.sum(-1)


def shift_mask(H, W, ws, shift):
    """(nW, ws^2, ws^2) float: 0 where query and key come from the same region of the cyclically shifted map,
    -100 where the shift brought them together from different regions."""
    img = torch.zeros((1, H, W, 1))
    region = 0
    for h in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
        for w in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
            img[:, h, w, :] = region
            region += 1
    windows = window_partition(img, ws).view(-1, ws * ws)
    mask = windows.unsqueeze(1) - windows.unsqueeze(2)
    return mask.masked_fill(mask != 0, float(-100.0)).masked_fill(mask == 0, float(0.0))


# ----------------------------------------------------------------------------------------------------------------
# Modules
# ----------------------------------------------------------------------------------------------------------------
class IntLayerNorm(R.QIntLayerNorm):
    """R.QIntLayerNorm (eps 1e-5) with in_scale_expand: PatchMerging's 4C channels are 4 copies of the C channels of
    its input, so the input quantizer's per-channel scale repeats 4 times (tiled, in concatenation order)."""

    def __init__(self, dim):
        super().__init__(dim, eps=LN_EPS)

    def forward(self, x, in_quantizer=None, out_quantizer=None, in_scale_expand=1):
        if self.mode == "ln":
            return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        in_scale = in_quantizer.scale
        if in_scale_expand != 1:
            in_scale = in_scale.unsqueeze(-1).expand(-1, in_scale_expand).T.reshape(-1)
        return R.int_layernorm(x, in_scale, out_quantizer.scale, self.weight, self.bias)


def _qlinear_plain(cfg, i, o, bias=True):
    """A QLinear without bias correction (Swin's qkv, proj, reduction and head)."""
    return R.QLinear(i, o, bias, cfg.BIT_TYPE_W, cfg.OBSERVER_W, cfg.CALIBRATION_MODE_W, cfg.QUANTIZER_W,
                     bcorr_weights=False)


class WindowAttention(nn.Module):
    def __init__(self, dim, ws, num_heads, cfg):
        super().__init__()
        self.ws = ws
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * ws - 1) ** 2, num_heads))
        self.register_buffer("relative_position_index", relative_position_index(ws))
        self.qkv = _qlinear_plain(cfg, dim, 3 * dim)
        self.qact1 = R._qact_a(cfg)
        self.qact_attn1 = R._qact_a(cfg)
        self.qact_table = R._qact_a(cfg)
        self.qact2 = R._qact_a(cfg)
        self.log_int_softmax = R.QIntSoftmax(cfg.INT_SOFTMAX, cfg.BIT_TYPE_S, cfg.OBSERVER_S, cfg.CALIBRATION_MODE_S,
                                             cfg.QUANTIZER_S)
        self.qact3 = R._qact_a(cfg)
        self.qact4 = R._qact_a(cfg)
        self.proj = _qlinear_plain(cfg, dim, dim)

    def forward(self, x, mask=None):
        B_, N, C = x.shape
        x = self.qact1(self.qkv(x))
        qkv = x.reshape(B_, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        q = q * self.scale
        attn = self.qact_attn1(q @ k.transpose(-2, -1))
        table = self.qact_table(self.relative_position_bias_table)
        bias = table[self.relative_position_index.view(-1)].view(N, N, -1).permute(2, 0, 1).contiguous()
        attn = self.qact2(attn + bias.unsqueeze(0))
        if mask is not None:
            nW = mask.shape[0]
            attn = attn.view(B_ // nW, nW, self.num_heads, N, N) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.num_heads, N, N)
        attn = self.log_int_softmax(attn, self.qact2.quantizer.scale)
        x = (attn @ v).transpose(1, 2).reshape(B_, N, C)
        return self.qact4(self.proj(self.qact3(x)))


class SwinTransformerBlock(nn.Module):
    def __init__(self, dim, resolution, num_heads, ws, shift, mlp_ratio, cfg):
        super().__init__()
        self.resolution = resolution
        if resolution <= ws:
            # one window covers the map: no partition into several windows, nothing to shift
            ws, shift = resolution, 0
        self.ws = ws
        self.shift = shift
        self.norm1 = IntLayerNorm(dim)
        self.qact1 = R._qact_a(cfg)
        self.attn = WindowAttention(dim, ws, num_heads, cfg)
        self.qact2 = R._qact_a_ln(cfg)
        self.norm2 = IntLayerNorm(dim)
        self.qact3 = R._qact_a(cfg)
        self.mlp = R.Mlp(dim, int(dim * mlp_ratio), cfg)  # fc1/fc2 bias-corrected when cfg.BIAS_CORR
        self.qact4 = R._qact_a_ln(cfg)
        self.register_buffer("attn_mask", shift_mask(resolution, resolution, ws, shift) if shift > 0 else None)

    def forward(self, x, last_quantizer=None):
        H = W = self.resolution
        B, L, C = x.shape
        shortcut = x
        x = self.qact1(self.norm1(x, last_quantizer, self.qact1.quantizer)).view(B, H, W, C)
        if self.shift > 0:
            x = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))
        windows = window_partition(x, self.ws).view(-1, self.ws * self.ws, C)
        windows = self.attn(windows, self.attn_mask).view(-1, self.ws, self.ws, C)
        x = window_reverse(windows, self.ws, H, W)
        if self.shift > 0:
            x = torch.roll(x, shifts=(self.shift, self.shift), dims=(1, 2))
        x = self.qact2(shortcut + x.reshape(B, H * W, C))
        return self.qact4(x + self.mlp(self.qact3(self.norm2(x, self.qact2.quantizer, self.qact3.quantizer))))


class PatchMerging(nn.Module):
    def __init__(self, resolution, dim, cfg):
        super().__init__()
        self.resolution = resolution
        self.norm = IntLayerNorm(4 * dim)
        self.qact1 = R._qact_a(cfg)
        self.reduction = _qlinear_plain(cfg, 4 * dim, 2 * dim, bias=False)
        self.qact2 = R._qact_a_ln(cfg)

    def forward(self, x, last_quantizer=None):
        H = W = self.resolution
        B, L, C = x.shape
        x = x.view(B, H, W, C)
        x = torch.cat([x[:, 0::2, 0::2, :], x[:, 1::2, 0::2, :], x[:, 0::2, 1::2, :], x[:, 1::2, 1::2, :]], -1)
        x = x.view(B, -1, 4 * C)
        x = self.qact1(self.norm(x, last_quantizer, self.qact1.quantizer, 4))
        return self.qact2(self.reduction(x))


class BasicLayer(nn.Module):
    def __init__(self, dim, resolution, depth, num_heads, ws, mlp_ratio, downsample, cfg):
        super().__init__()
        self.blocks = nn.ModuleList([
            SwinTransformerBlock(dim, resolution, num_heads, ws, 0 if i % 2 == 0 else ws // 2, mlp_ratio, cfg)
            for i in range(depth)])
        self.downsample = PatchMerging(resolution, dim, cfg) if downsample else None

    def forward(self, x, last_quantizer=None):
        for i, blk in enumerate(self.blocks):
            x = blk(x, last_quantizer if i == 0 else self.blocks[i - 1].qact4.quantizer)
        if self.downsample is not None:
            x = self.downsample(x, self.blocks[-1].qact4.quantizer)
        return x


class PatchEmbed(nn.Module):
    def __init__(self, img_size, patch_size, in_chans, dim, cfg):
        super().__init__()
        self.grid = img_size // patch_size
        self.proj = R.QConv2d(in_chans, dim, kernel_size=patch_size, stride=patch_size, bt=cfg.BIT_TYPE_W,
                              observer_str=cfg.OBSERVER_W, calibration_mode=cfg.CALIBRATION_MODE_W,
                              quantizer_str=cfg.QUANTIZER_W, bcorr_weights=cfg.BIAS_CORR)
        self.qact_before_norm = R._qact_a(cfg)
        self.norm = IntLayerNorm(dim)
        self.qact = R._qact_a(cfg)

    def forward(self, x):
        x = self.qact_before_norm(self.proj(x).flatten(2).transpose(1, 2))
        return self.qact(self.norm(x, self.qact_before_norm.quantizer, self.qact.quantizer))


class SwinTransformer(nn.Module):
    def __init__(self, img_size, patch_size, in_chans, num_classes, embed_dim, depths, num_heads, window_size,
                 mlp_ratio, cfg, input_quant=True):
        super().__init__()
        self.cfg = cfg
        self.input_quant = input_quant
        n = len(depths)
        self.num_features = embed_dim * 2 ** (n - 1)
        if input_quant:
            self.qact_input = R._qact_a(cfg)
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim, cfg)
        grid = self.patch_embed.grid
        self.layers = nn.ModuleList([
            BasicLayer(embed_dim * 2**i, grid // 2**i, depths[i], num_heads[i], window_size, mlp_ratio, i < n - 1, cfg)
            for i in range(n)])
        self.norm = IntLayerNorm(self.num_features)
        self.qact2 = R._qact_a(cfg)
        self.avgpool = nn.AdaptiveAvgPool1d(1)
        self.qact3 = R._qact_a(cfg)
        self.head = _qlinear_plain(cfg, self.num_features, num_classes)
        self.act_out = R._qact_a(cfg)

    def layer_input_quantizer(self, i):
        """The quantizer that produced layer i's input (what its first block's norm1 reads in integer mode)."""
        return self.patch_embed.qact.quantizer if i == 0 else self.layers[i - 1].downsample.qact2.quantizer

    def forward_features(self, x):
        if self.input_quant:
            x = self.qact_input(x)
        x = self.patch_embed(x)
        for i, layer in enumerate(self.layers):
            x = layer(x, self.layer_input_quantizer(i))
        x = self.norm(x, self.layers[-1].blocks[-1].qact4.quantizer, self.qact2.quantizer)
        x = self.qact2(x)
        x = self.qact3(self.avgpool(x.transpose(1, 2)))  # B, C, 1
        return torch.flatten(x, 1)

    def forward(self, x):
        return self.act_out(self.head(self.forward_features(x)))

    # The FQ-ViT mode switches are the ViT reference's: they only walk modules and read cfg.INT_NORM.
    _qmods = R.VisionTransformer._qmods
    model_quant = R.VisionTransformer.model_quant
    model_dequant = R.VisionTransformer.model_dequant
    model_open_calibrate = R.VisionTransformer.model_open_calibrate
    model_open_last_calibrate = R.VisionTransformer.model_open_last_calibrate
    model_close_calibrate = R.VisionTransformer.model_close_calibrate
    set_float = R.VisionTransformer.set_float


def build_swin(name, cfg):
    return SwinTransformer(cfg=cfg, **SWIN_CONFIGS[name])


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


if __name__ == "__main__":
    for name in ("swin_tiny", "swin_small", "swin_base", "swin_mini", "swin_micro"):
        m = build_swin(name, R.Config(w_bit_type="uint4", quant_method="omse", ptf=True, bias_corr=True))
        print(f"{name}: {parameter_count(m):,} parameters, {len(m.state_dict())} state-dict keys")

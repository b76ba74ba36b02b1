"""PyTorch reference of the FQ-ViT / Evol-Q quantization semantics (docs/semantics.md, sections §3
and §4.1). Written for this project from the specification; it is the ground truth the C# tests compare against.

Runs on Debian's PyTorch 1.13 (/usr/bin/python3). Everything is float32 on the CPU.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

EPS32 = float(torch.finfo(torch.float32).eps)


# ----------------------------------------------------------------------------------------------------------------
# Bit types (semantics §3.1)
# ----------------------------------------------------------------------------------------------------------------
class BitType:
    def __init__(self, bits, signed, name=None):
        self.bits = int(bits)
        self.signed = bool(signed)
        self.name = name or (("int" if signed else "uint") + str(bits))

    @property
    def upper_bound(self):
        return 2 ** (self.bits - 1) - 1 if self.signed else 2**self.bits - 1

    @property
    def lower_bound(self):
        return -(2 ** (self.bits - 1)) if self.signed else 0

    @property
    def range(self):
        return 2**self.bits

    def __repr__(self):
        return f"BitType({self.name}, [{self.lower_bound}, {self.upper_bound}])"


BIT_TYPES = {
    "int3": BitType(3, True),
    "uint3": BitType(3, False),
    "int4": BitType(4, True),
    "uint4": BitType(4, False),
    "int8": BitType(8, True),
    "uint8": BitType(8, False),
    "fp32": BitType(32, True, "fp32"),
}


def bit_type(name_or_bt):
    return name_or_bt if isinstance(name_or_bt, BitType) else BIT_TYPES[name_or_bt]


# ----------------------------------------------------------------------------------------------------------------
# Shapes
# ----------------------------------------------------------------------------------------------------------------
def range_shape(module_type, ndim):
    """Broadcast shape of scale / zero-point (semantics §3.2)."""
    if module_type == "conv_weight":
        return (-1, 1, 1, 1)
    if module_type == "linear_weight":
        return (-1, 1)
    if module_type == "activation":
        if ndim == 2:
            return (1, -1)
        if ndim == 3:
            return (1, 1, -1)
        if ndim == 4:
            return (1, -1, 1, 1)
    raise NotImplementedError(f"{module_type} with {ndim} dims")


def fake_quant(x, scale, zero_point, bt, module_type):
    """(clamp(round(x/scale + zp), qmin, qmax) - zp) * scale, round = half to even."""
    shp = range_shape(module_type, x.dim())
    s = scale.reshape(shp)
    z = zero_point.reshape(shp)
    q = (x / s + z).round().clamp(bt.lower_bound, bt.upper_bound)
    return (q - z) * s


def mse_all(a, b):
    """lp_loss(p=2, reduction='all'): mean over all elements of |a-b|^2."""
    return (a - b).abs().pow(2.0).mean()


# ----------------------------------------------------------------------------------------------------------------
# Observers (semantics §3.3)
# ----------------------------------------------------------------------------------------------------------------
class BaseObserver:
    def __init__(self, module_type, bt, calibration_mode):
        self.module_type = module_type
        self.bit_type = bit_type(bt)
        self.calibration_mode = calibration_mode
        self.max_val = None
        self.min_val = None
        self.eps = EPS32
        self.symmetric = self.bit_type.signed

    def reshape_tensor(self, v):
        v = v.detach().float()
        if self.module_type in ("conv_weight", "linear_weight"):
            return v.reshape(v.shape[0], -1)
        if self.module_type == "activation":
            if v.dim() == 4:
                v = v.permute(0, 2, 3, 1)
            v = v.reshape(-1, v.shape[-1])
            return v.transpose(0, 1)
        raise NotImplementedError(self.module_type)

    def _reduce_layer_wise(self):
        if self.calibration_mode == "layer_wise":
            self.max_val = self.max_val.max()
            self.min_val = self.min_val.min()

    def _params_from_minmax(self, min_val, max_val):
        qmax = self.bit_type.upper_bound
        qmin = self.bit_type.lower_bound
        if self.symmetric:
            m = torch.max(-min_val, max_val)
            scale = (m / (float(qmax - qmin) / 2)).clamp(min=self.eps)
            zero_point = torch.zeros_like(m)
        else:
            scale = ((max_val - min_val) / float(qmax - qmin)).clamp(min=self.eps)
            zero_point = (qmin - torch.round(min_val / scale)).clamp(qmin, qmax)
        return scale, zero_point

    def update(self, v):
        raise NotImplementedError

    def get_quantization_params(self, *args, **kwargs):
        return self._params_from_minmax(self.min_val, self.max_val)


class MinMaxObserver(BaseObserver):
    def update(self, v):
        v = self.reshape_tensor(v)
        cur_max = v.max(dim=1).values
        cur_min = v.min(dim=1).values
        self.max_val = cur_max if self.max_val is None else torch.max(cur_max, self.max_val)
        self.min_val = cur_min if self.min_val is None else torch.min(cur_min, self.min_val)
        self._reduce_layer_wise()


class EmaObserver(BaseObserver):
    def __init__(self, module_type, bt, calibration_mode, ema_sigma=0.01):
        super().__init__(module_type, bt, calibration_mode)
        self.ema_sigma = ema_sigma

    def update(self, v):
        v = self.reshape_tensor(v)
        cur_max = v.max(dim=1).values
        cur_min = v.min(dim=1).values
        if self.max_val is None:
            self.max_val = cur_max
            self.min_val = cur_min
        else:
            self.max_val = self.max_val + self.ema_sigma * (cur_max - self.max_val)
            self.min_val = self.min_val + self.ema_sigma * (cur_min - self.min_val)
        self._reduce_layer_wise()


def quantile_linear(flat, q):
    """Quantile with linear interpolation at position q*(n-1) of the sorted values, computed in float64
    (numpy's default 'linear' method == torch.quantile's default), returned as a float32 scalar tensor."""
    arr = flat.detach().double().cpu().numpy().reshape(-1)
    return torch.tensor(float(np.quantile(arr, q)), dtype=torch.float32)


class PercentileObserver(BaseObserver):
    def __init__(self, module_type, bt, calibration_mode, percentile_sigma=0.99999, percentile_alpha=0.01):
        super().__init__(module_type, bt, calibration_mode)
        assert calibration_mode == "layer_wise", "percentile observer is layer-wise only"
        self.percentile_sigma = percentile_sigma
        self.percentile_alpha = percentile_alpha

    def update(self, v):
        v = self.reshape_tensor(v)
        cur_max = quantile_linear(v, self.percentile_sigma)
        cur_min = quantile_linear(v, 1.0 - self.percentile_sigma)
        if self.max_val is None:
            self.max_val = cur_max
            self.min_val = cur_min
        else:
            self.max_val = self.max_val + self.percentile_alpha * (cur_max - self.max_val)
            self.min_val = self.min_val + self.percentile_alpha * (cur_min - self.min_val)


class OmseObserver(BaseObserver):
    """Running min/max; at the end a 90-step shrink search on the given (last batch) tensor."""

    def __init__(self, module_type, bt, calibration_mode):
        super().__init__(module_type, bt, calibration_mode)
        self.best_index = None

    def update(self, v):
        v = self.reshape_tensor(v)
        cur_max = v.max(dim=1).values
        cur_min = v.min(dim=1).values
        self.max_val = cur_max if self.max_val is None else torch.max(cur_max, self.max_val)
        self.min_val = cur_min if self.min_val is None else torch.min(cur_min, self.min_val)
        self._reduce_layer_wise()

    def get_quantization_params(self, inputs, *args, **kwargs):
        inputs = inputs.detach().float()
        max_val = self.max_val
        min_val = self.min_val
        qmax = self.bit_type.upper_bound
        qmin = self.bit_type.lower_bound
        if self.module_type == "linear_weight":
            shp = (-1, 1)
        elif self.module_type == "conv_weight":
            shp = (-1, 1, 1, 1)
        else:
            shp = None  # layer-wise scalar (or a channel vector of the last dim) broadcasts as is
            if self.calibration_mode == "channel_wise":
                shp = range_shape("activation", inputs.dim())
        best_score = 1e10
        scale = zero_point = None
        for i in range(90):
            new_max = max_val * (1.0 - (i * 0.01))
            new_min = min_val * (1.0 - (i * 0.01))
            new_scale = ((new_max - new_min) / float(qmax - qmin)).clamp(min=self.eps)
            new_zero_point = (qmin - torch.round(new_min / new_scale)).clamp(qmin, qmax)
            s = new_scale.reshape(shp) if shp is not None else new_scale
            z = new_zero_point.reshape(shp) if shp is not None else new_zero_point
            inputs_q = ((inputs / s + z).round().clamp(qmin, qmax) - z) * s
            score = mse_all(inputs, inputs_q)
            if score < best_score:
                best_score = score
                self.max_val = new_max
                self.min_val = new_min
                scale = new_scale
                zero_point = new_zero_point
                self.best_index = i
        return scale, zero_point


class PtfObserver(BaseObserver):
    """Power-of-Two Factor: running per-channel min/max; at the end per-channel alpha in {0,1,2,3}."""

    def __init__(self, module_type, bt, calibration_mode):
        super().__init__(module_type, bt, calibration_mode)
        self.alpha = None

    def update(self, v):
        v = self.reshape_tensor(v)
        cur_max = v.max(dim=1).values
        cur_min = v.min(dim=1).values
        self.max_val = cur_max if self.max_val is None else torch.max(cur_max, self.max_val)
        self.min_val = cur_min if self.min_val is None else torch.min(cur_min, self.min_val)
        self._reduce_layer_wise()

    def get_quantization_params(self, inputs, *args, **kwargs):
        inputs = inputs.detach().float()
        qmax = self.bit_type.upper_bound
        qmin = self.bit_type.lower_bound
        max_val_t = self.max_val.max()
        min_val_t = self.min_val.min()
        scale8 = ((max_val_t - min_val_t) / float(qmax - qmin)).clamp(min=self.eps)
        scale4 = scale8 / 2
        scale2 = scale4 / 2
        scale1 = scale2 / 2
        zero_point = (qmin - torch.round(min_val_t / scale8)).clamp(qmin, qmax)
        scale_mask = torch.ones_like(self.max_val)
        alpha = torch.zeros_like(self.max_val)
        # Channels are the last axis, or axis 1 of (N, C, H, W) inputs (Evol-Q's 4-D extension, LeViT's stem).
        axis = 1 if inputs.dim() == 4 else inputs.dim() - 1
        for j in range(inputs.shape[axis]):
            data = inputs.select(axis, j).unsqueeze(axis)
            scores = []
            for s in (scale1, scale2, scale4, scale8):
                data_q = ((data / s + zero_point).round().clamp(qmin, qmax) - zero_point) * s
                scores.append(float(mse_all(data, data_q)))
            a = scores.index(min(scores))  # first minimum in order [s1, s2, s4, s8]
            scale_mask[j] *= 2**a
            alpha[j] = a
        self.alpha = alpha
        scale = scale1 * scale_mask
        return scale, zero_point


OBSERVERS = {
    "minmax": MinMaxObserver,
    "ema": EmaObserver,
    "percentile": PercentileObserver,
    "omse": OmseObserver,
    "ptf": PtfObserver,
}


def build_observer(name, module_type, bt, calibration_mode):
    return OBSERVERS[name](module_type, bit_type(bt), calibration_mode)


# ----------------------------------------------------------------------------------------------------------------
# Quantizers (semantics §3.2, §3.5, §3.7 log2)
# ----------------------------------------------------------------------------------------------------------------
def bias_correction(w, wq, eps=1e-8):
    """Spec 3.5: per output channel (row of the (C_out, -1) view) match mean and unbiased std of wq to w:
    corr = std(w) / (std(wq) + 1e-8);  out = (wq - mean(wq)) * corr + mean(w)."""
    c = w.shape[0]
    w2 = w.reshape(c, -1)
    q2 = wq.reshape(c, -1)
    mean_q = q2.mean(dim=-1, keepdim=True)
    mean_w = w2.mean(dim=-1, keepdim=True)
    corr = w2.std(dim=-1, keepdim=True) / (q2.std(dim=-1, keepdim=True) + eps)
    out = (q2 - mean_q) * corr + mean_w
    return out.reshape(wq.shape)


class UniformQuantizer(nn.Module):
    def __init__(self, bt, observer, module_type, bcorr_weights=False):
        super().__init__()
        self.bit_type = bit_type(bt)
        self.observer = observer
        self.module_type = module_type
        self.bcorr_weights = bcorr_weights
        self.scale = None
        self.zero_point = None

    def update_quantization_params(self, *args, **kwargs):
        self.scale, self.zero_point = self.observer.get_quantization_params(*args, **kwargs)

    def quant(self, x):
        shp = range_shape(self.module_type, x.dim())
        s = self.scale.reshape(shp)
        z = self.zero_point.reshape(shp)
        return (x / s + z).round().clamp(self.bit_type.lower_bound, self.bit_type.upper_bound)

    def dequantize(self, q):
        shp = range_shape(self.module_type, q.dim())
        return (q - self.zero_point.reshape(shp)) * self.scale.reshape(shp)

    def forward(self, x):
        out = self.dequantize(self.quant(x))
        if self.bcorr_weights:
            out = bias_correction(x, out)
        return out


class Log2Quantizer(nn.Module):
    """q = round(-log2 x); values with q >= 2^bits become 0; else 2^-clamp(q, 0, 2^bits-1)."""

    def __init__(self, bt, observer=None, module_type="activation"):
        super().__init__()
        self.bit_type = bit_type(bt)
        self.observer = observer
        self.module_type = module_type
        self.scale = None
        self.zero_point = None

    def update_quantization_params(self, *args, **kwargs):
        if self.observer is not None:
            self.scale, self.zero_point = self.observer.get_quantization_params(*args, **kwargs)

    def forward(self, x):
        rounds = torch.round(-1 * x.log2())
        mask = rounds >= 2**self.bit_type.bits
        q = torch.clamp(rounds, 0, 2**self.bit_type.bits - 1)
        out = 2 ** (-1 * q)
        out = out.masked_fill(mask, 0.0)
        return out


def build_quantizer(kind, bt, observer, module_type, bcorr_weights=False):
    if kind == "uniform":
        return UniformQuantizer(bt, observer, module_type, bcorr_weights)
    if kind == "log2":
        return Log2Quantizer(bt, observer, module_type)
    raise NotImplementedError(kind)


# ----------------------------------------------------------------------------------------------------------------
# Configuration (semantics §3.4)
# ----------------------------------------------------------------------------------------------------------------
class Config:
    """FQ-ViT config.py / Evol-Q config_fq.py.

    Evol-Q run.sh: Config(w_bit_type='uint4', a_bit_type='uint8', quant_method='omse', ptf=True, lis=False,
    bias_corr=True). FQ-ViT W8A8: Config(w_bit_type='int8', quant_method='minmax', ptf=True, lis=False, bias_corr=False)."""

    def __init__(self, w_bit_type="int8", a_bit_type="uint8", quant_method="minmax", ptf=True, lis=False,
                 bias_corr=False, w_observer="minmax"):
        self.BIT_TYPE_W = bit_type(w_bit_type)
        self.BIT_TYPE_A = bit_type(a_bit_type)
        self.OBSERVER_W = w_observer
        self.OBSERVER_A = quant_method
        self.QUANTIZER_W = "uniform"
        self.QUANTIZER_A = "uniform"
        self.QUANTIZER_A_LN = "uniform"
        self.CALIBRATION_MODE_W = "channel_wise"
        self.CALIBRATION_MODE_A = "layer_wise"
        self.CALIBRATION_MODE_S = "layer_wise"
        if lis:
            self.INT_SOFTMAX = True
            self.BIT_TYPE_S = bit_type("uint4")
            self.OBSERVER_S = "minmax"
            self.QUANTIZER_S = "log2"
        else:
            self.INT_SOFTMAX = False
            self.BIT_TYPE_S = bit_type(a_bit_type)
            self.OBSERVER_S = self.OBSERVER_A
            self.QUANTIZER_S = self.QUANTIZER_A
        self.BIT_TYPE_A_LN = self.BIT_TYPE_A
        if ptf:
            self.INT_NORM = True
            self.OBSERVER_A_LN = "ptf"
            self.CALIBRATION_MODE_A_LN = "channel_wise"
        else:
            self.INT_NORM = False
            self.OBSERVER_A_LN = self.OBSERVER_A
            self.CALIBRATION_MODE_A_LN = self.CALIBRATION_MODE_A
        self.BIAS_CORR = bias_corr

    def describe(self):
        return {
            "w_bit_type": self.BIT_TYPE_W.name, "w_observer": self.OBSERVER_W, "w_mode": self.CALIBRATION_MODE_W,
            "a_bit_type": self.BIT_TYPE_A.name, "a_observer": self.OBSERVER_A, "a_mode": self.CALIBRATION_MODE_A,
            "a_ln_observer": self.OBSERVER_A_LN, "a_ln_mode": self.CALIBRATION_MODE_A_LN,
            "s_bit_type": self.BIT_TYPE_S.name, "s_observer": self.OBSERVER_S, "s_quantizer": self.QUANTIZER_S,
            "int_softmax": self.INT_SOFTMAX, "int_norm": self.INT_NORM, "bias_corr": self.BIAS_CORR,
        }


# ----------------------------------------------------------------------------------------------------------------
# Q-modules
# ----------------------------------------------------------------------------------------------------------------
class QConv2d(nn.Conv2d):
    def __init__(self, *args, bt="int8", observer_str="minmax", calibration_mode="channel_wise",
                 quantizer_str="uniform", bcorr_weights=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.quant = False
        self.calibrate = False
        self.last_calibrate = False
        self.module_type = "conv_weight"
        obs = build_observer(observer_str, self.module_type, bt, calibration_mode)
        self.quantizer = build_quantizer(quantizer_str, bt, obs, self.module_type, bcorr_weights)

    def forward(self, x):
        if self.calibrate:
            self.quantizer.observer.update(self.weight)
            if self.last_calibrate:
                self.quantizer.update_quantization_params(self.weight)  # Evol-Q passes the weight
        if not self.quant:
            return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        w = self.quantizer(self.weight)
        return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)


class QLinear(nn.Linear):
    def __init__(self, in_features, out_features, bias=True, bt="int8", observer_str="minmax",
                 calibration_mode="channel_wise", quantizer_str="uniform", bcorr_weights=False):
        super().__init__(in_features, out_features, bias)
        self.quant = False
        self.calibrate = False
        self.last_calibrate = False
        self.module_type = "linear_weight"
        obs = build_observer(observer_str, self.module_type, bt, calibration_mode)
        self.quantizer = build_quantizer(quantizer_str, bt, obs, self.module_type, bcorr_weights)

    def forward(self, x):
        if self.calibrate:
            self.quantizer.observer.update(self.weight)
            if self.last_calibrate:
                self.quantizer.update_quantization_params(self.weight)
        if not self.quant:
            return F.linear(x, self.weight, self.bias)
        return F.linear(x, self.quantizer(self.weight), self.bias)


class QAct(nn.Module):
    def __init__(self, bt="uint8", observer_str="minmax", calibration_mode="layer_wise", quantizer_str="uniform"):
        super().__init__()
        self.quant = False
        self.calibrate = False
        self.last_calibrate = False
        self.module_type = "activation"
        obs = build_observer(observer_str, self.module_type, bt, calibration_mode)
        self.quantizer = build_quantizer(quantizer_str, bt, obs, self.module_type)

    def forward(self, x):
        if self.calibrate:
            self.quantizer.observer.update(x)
            if self.last_calibrate:
                self.quantizer.update_quantization_params(x)
        if not self.quant:
            return x
        return self.quantizer(x)


def int_layernorm(x, in_scale, out_scale, weight, bias):
    """Spec 3.6 (QIntLayerNorm 'int' mode). x: (B, N, C) already fake-quantized by the PTF quantizer;
    in_scale: [C] (PTF scale s1*2^alpha); out_scale: scalar (the next QAct's layer-wise scale)."""
    C = x.shape[-1]
    in_scale = in_scale.reshape(1, 1, -1)
    out_scale = out_scale.reshape(1, 1, -1)
    x_q = (x / in_scale).round()
    in_scale1 = in_scale.min()
    in_scale_mask = (in_scale / in_scale1).round()
    x_q = x_q * in_scale_mask
    mean_x_q = x_q.mean(dim=-1) * in_scale1
    std_x_q = (in_scale1 / C) * torch.sqrt(C * (x_q**2).sum(dim=-1) - x_q.sum(dim=-1) ** 2)
    A = (in_scale1 / std_x_q).unsqueeze(-1) * weight.reshape(1, 1, -1) / out_scale
    A_sign = A.sign()
    absA = A.abs()
    bit = 7
    N = torch.clamp(bit - torch.floor(torch.log2(absA)), 0, 31)
    M = torch.clamp(torch.floor(absA * torch.pow(2, N)), 0, 2 ** (bit + 1) - 1)
    B = ((bias.reshape(1, 1, -1) - (mean_x_q / std_x_q).unsqueeze(-1) * weight.reshape(1, 1, -1)) / out_scale
         * torch.pow(2, N)).round()
    x_q = ((A_sign * M * x_q + B) / torch.pow(2, N)).round()
    return x_q * out_scale


class QIntLayerNorm(nn.LayerNorm):
    def __init__(self, normalized_shape, eps=1e-6):
        super().__init__(normalized_shape, eps=eps)
        self.mode = "ln"

    def forward(self, x, in_quantizer=None, out_quantizer=None):
        if self.mode == "ln":
            return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        assert self.mode == "int"
        return int_layernorm(x, in_quantizer.scale, out_quantizer.scale, self.weight, self.bias)


def log_round(x):
    """Round to the nearest power of two in the log domain: floor(log2 x), +1 if x - 2^f >= 2^(f-1)."""
    big = x.log2().floor()
    extra = (x - 2**big) >= 2 ** (big - 1)
    return torch.where(extra, big + 1, big)


def int_polynomial(x_int, scaling_factor):
    coef = [0.35815147, 0.96963238, 1.0]  # a x^2 + b x + c
    coef[1] /= coef[0]
    coef[2] /= coef[0]
    b_int = torch.floor(coef[1] / scaling_factor)
    c_int = torch.floor(coef[2] / scaling_factor**2)
    z = x_int + b_int
    z = x_int * z
    z = z + c_int
    return z, coef[0] * scaling_factor**2


def int_exp(x_int, scaling_factor):
    x0 = -0.6931  # -ln 2
    n = 30
    x0_int = torch.floor(x0 / scaling_factor)
    x_int = torch.max(x_int, n * x0_int)
    q = torch.floor(x_int / x0_int)
    r = x_int - x0_int * q
    exp_int, exp_sf = int_polynomial(r, scaling_factor)
    exp_int = torch.clamp(torch.floor(exp_int * 2 ** (n - q)), min=0)
    return exp_int, exp_sf / 2**n


def int_softmax(x, scaling_factor):
    x_int = x / scaling_factor  # no rounding (x is already on the grid of the preceding QAct)
    x_int_max, _ = x_int.max(dim=-1, keepdim=True)
    x_int = x_int - x_int_max
    exp_int, _ = int_exp(x_int, scaling_factor)
    exp_int_sum = exp_int.sum(dim=-1, keepdim=True)
    return exp_int, exp_int_sum


def log_int_softmax(x, scale, bits=4):
    """Spec 3.7: LIS output (dequantized 2^-q, 0 where masked)."""
    exp_int, exp_int_sum = int_softmax(x, scale)
    softmax_out = torch.round(exp_int_sum / exp_int)
    rounds = log_round(softmax_out)
    mask = rounds >= 2**bits
    qlog = torch.clamp(rounds, 0, 2**bits - 1)
    deq = 2 ** (-qlog)
    return deq.masked_fill(mask, 0.0)


class QIntSoftmax(nn.Module):
    def __init__(self, log_i_softmax=False, bt="uint8", observer_str="minmax", calibration_mode="layer_wise",
                 quantizer_str="uniform"):
        super().__init__()
        self.log_i_softmax = log_i_softmax
        self.quant = False
        self.calibrate = False
        self.last_calibrate = False
        self.module_type = "activation"
        self.bit_type = bit_type(bt)
        obs = build_observer(observer_str, self.module_type, bt, calibration_mode)
        self.quantizer = build_quantizer(quantizer_str, bt, obs, self.module_type)

    def forward(self, x, scale):
        if self.log_i_softmax and scale is not None:
            return log_int_softmax(x, scale, self.bit_type.bits)
        x = x.softmax(dim=-1)
        if self.calibrate:
            self.quantizer.observer.update(x)
            if self.last_calibrate:
                self.quantizer.update_quantization_params(x)
        if not self.quant:
            return x
        return self.quantizer(x)


# ----------------------------------------------------------------------------------------------------------------
# Vision Transformer (timm / DeiT names; semantics §3.8, §4.1)
# ----------------------------------------------------------------------------------------------------------------
def _qact_a(cfg):
    return QAct(cfg.BIT_TYPE_A, cfg.OBSERVER_A, cfg.CALIBRATION_MODE_A, cfg.QUANTIZER_A)


def _qact_a_ln(cfg):
    return QAct(cfg.BIT_TYPE_A_LN, cfg.OBSERVER_A_LN, cfg.CALIBRATION_MODE_A_LN, cfg.QUANTIZER_A_LN)


def _qlinear(cfg, i, o, bias=True):
    return QLinear(i, o, bias, cfg.BIT_TYPE_W, cfg.OBSERVER_W, cfg.CALIBRATION_MODE_W, cfg.QUANTIZER_W,
                   bcorr_weights=cfg.BIAS_CORR)


class PatchEmbed(nn.Module):
    def __init__(self, img_size, patch_size, in_chans, embed_dim, cfg):
        super().__init__()
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = QConv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size, bt=cfg.BIT_TYPE_W,
                            observer_str=cfg.OBSERVER_W, calibration_mode=cfg.CALIBRATION_MODE_W,
                            quantizer_str=cfg.QUANTIZER_W, bcorr_weights=cfg.BIAS_CORR)
        self.qact = _qact_a(cfg)

    def forward(self, x):
        x = self.proj(x).flatten(2).transpose(1, 2)
        return self.qact(x)


class Attention(nn.Module):
    def __init__(self, dim, num_heads, cfg, qkv_bias=True):
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = head_dim**-0.5
        self.qkv = _qlinear(cfg, dim, dim * 3, qkv_bias)
        self.qact1 = _qact_a(cfg)
        self.qact_attn1 = _qact_a(cfg)
        self.proj = _qlinear(cfg, dim, dim)
        self.qact2 = _qact_a(cfg)
        self.qact3 = _qact_a(cfg)
        self.log_int_softmax = QIntSoftmax(cfg.INT_SOFTMAX, cfg.BIT_TYPE_S, cfg.OBSERVER_S, cfg.CALIBRATION_MODE_S,
                                           cfg.QUANTIZER_S)

    def forward(self, x):
        B, N, C = x.shape
        x = self.qkv(x)
        x = self.qact1(x)
        qkv = x.reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = self.qact_attn1(attn)
        attn = self.log_int_softmax(attn, self.qact_attn1.quantizer.scale)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        x = self.qact2(x)
        x = self.proj(x)
        x = self.qact3(x)
        return x


class Mlp(nn.Module):
    def __init__(self, dim, hidden, cfg):
        super().__init__()
        self.fc1 = _qlinear(cfg, dim, hidden)
        self.act = nn.GELU()
        self.qact1 = _qact_a(cfg)
        self.fc2 = _qlinear(cfg, hidden, dim)
        self.qact2 = _qact_a(cfg)

    def forward(self, x):
        x = self.fc1(x)
        x = self.act(x)
        x = self.qact1(x)
        x = self.fc2(x)
        x = self.qact2(x)
        return x


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio, cfg, qkv_bias=True):
        super().__init__()
        self.norm1 = QIntLayerNorm(dim, eps=1e-6)
        self.qact1 = _qact_a(cfg)
        self.attn = Attention(dim, num_heads, cfg, qkv_bias)
        self.qact2 = _qact_a_ln(cfg)
        self.norm2 = QIntLayerNorm(dim, eps=1e-6)
        self.qact3 = _qact_a(cfg)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), cfg)
        self.qact4 = _qact_a_ln(cfg)

    def forward(self, x, last_quantizer=None):
        x = self.qact2(x + self.attn(self.qact1(self.norm1(x, last_quantizer, self.qact1.quantizer))))
        x = self.qact4(x + self.mlp(self.qact3(self.norm2(x, self.qact2.quantizer, self.qact3.quantizer))))
        return x


MODEL_CONFIGS = {
    "deit_tiny": dict(img_size=224, patch_size=16, in_chans=3, num_classes=1000, embed_dim=192, depth=12,
                      num_heads=3, mlp_ratio=4, input_quant=True),
    "vit_tiny_patch7_28": dict(img_size=28, patch_size=7, in_chans=1, num_classes=10, embed_dim=64, depth=4,
                               num_heads=4, mlp_ratio=4, input_quant=True),
}


class VisionTransformer(nn.Module):
    def __init__(self, img_size, patch_size, in_chans, num_classes, embed_dim, depth, num_heads, mlp_ratio,
                 input_quant, cfg, qkv_bias=True):
        super().__init__()
        self.cfg = cfg
        self.input_quant = input_quant
        if input_quant:
            self.qact_input = _qact_a(cfg)
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim, cfg)
        n = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, embed_dim))
        self.qact_embed = _qact_a(cfg)
        self.qact_pos = _qact_a(cfg)
        self.qact1 = _qact_a_ln(cfg)
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio, cfg, qkv_bias) for _ in range(depth)])
        self.norm = QIntLayerNorm(embed_dim, eps=1e-6)
        self.qact2 = _qact_a(cfg)
        self.head = _qlinear(cfg, embed_dim, num_classes)
        self.act_out = _qact_a(cfg)

    def forward_features(self, x):
        B = x.shape[0]
        if self.input_quant:
            x = self.qact_input(x)
        x = self.patch_embed(x)
        cls_tokens = self.cls_token.expand(B, -1, -1)
        x = torch.cat((cls_tokens, x), dim=1)
        x = self.qact_embed(x)
        x = x + self.qact_pos(self.pos_embed)
        x = self.qact1(x)
        for i, blk in enumerate(self.blocks):
            last_quantizer = self.qact1.quantizer if i == 0 else self.blocks[i - 1].qact4.quantizer
            x = blk(x, last_quantizer)
        x = self.norm(x, self.blocks[-1].qact4.quantizer, self.qact2.quantizer)[:, 0]
        x = self.qact2(x)
        return x

    def forward(self, x):
        x = self.forward_features(x)
        x = self.head(x)
        x = self.act_out(x)
        return x

    # --- mode switches (FQ-ViT model_* helpers) ---
    def _qmods(self):
        return [m for m in self.modules() if isinstance(m, (QConv2d, QLinear, QAct, QIntSoftmax))]

    def model_quant(self):
        for m in self._qmods():
            m.quant = True
        if self.cfg.INT_NORM:
            for m in self.modules():
                if isinstance(m, QIntLayerNorm):
                    m.mode = "int"

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
        for m in self.modules():
            if isinstance(m, QIntLayerNorm):
                m.mode = "ln"


def build_vit(name, cfg):
    return VisionTransformer(cfg=cfg, **MODEL_CONFIGS[name])


@torch.no_grad()
def calibrate(model, batches):
    """Spec 3.3: calibrate on float activations over all batches, last_calibrate on the last; then quant mode."""
    model.set_float()
    model.model_open_calibrate()
    for i, b in enumerate(batches):
        if i == len(batches) - 1:
            model.model_open_last_calibrate()
        model(b)
    model.model_close_calibrate()
    model.model_quant()


def quantizer_state(model):
    """All quantizers' (scale, zero_point) as {<module path>.quantizer.scale|zero_point: tensor}; scalars -> [1]."""
    out = {}
    for name, m in model.named_modules():
        if isinstance(m, (QConv2d, QLinear, QAct, QIntSoftmax)):
            q = m.quantizer
            if q.scale is None:
                continue
            out[f"{name}.quantizer.scale"] = q.scale.detach().float().reshape(-1).clone()
            out[f"{name}.quantizer.zero_point"] = q.zero_point.detach().float().reshape(-1).clone()
    return out

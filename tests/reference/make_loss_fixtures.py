"""Writes tests/fixtures/losses/losses.safetensors: Evol-Q's fitness losses on fixed (student, teacher) logit pairs.

Run: cd tests/reference && /usr/bin/python3 make_loss_fixtures.py

Layout: one case per key prefix "<case>/": "<case>/student" and "<case>/teacher" (F32 [N, C] logits), and one F64 [1]
tensor per loss:
  infonce_t3, infonce_t1  the original's contrastive loss (utils.contrastive_loss, MoCo v3) at T = 3 and T = 1,
                          computed in float32 as the original does, the float32 result widened exactly
  mse, kl, cosine         the ablation losses the original calls but never defines (self.mse/self.kl/self.cos);
                          these are our definitions, computed in float64 from the float32 logits (in float32,
                          1 - cosine of a near-converged student is a few ulps of 1 and ranks nothing)
Metadata "cases" is JSON: the case names in order.
"""
import json
import os

import torch
import torch.nn.functional as F

from safetensors_io import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "losses")


def infonce(q, k, T):
    # As the original's contrastive_loss: one direction (student -> teacher), diagonal targets, scaled by 2T.
    q = F.normalize(q, dim=1)
    k = F.normalize(k, dim=1)
    logits = torch.einsum("nc,mc->nm", [q, k]) / T
    labels = torch.arange(logits.shape[0], dtype=torch.long)
    return F.cross_entropy(logits, labels) * (2 * T)


def mse(s, t):
    return F.mse_loss(s, t)


def kl(s, t):
    # KL(teacher || student) at temperature 1, summed over classes and divided by the batch size.
    return F.kl_div(F.log_softmax(s, dim=1), F.log_softmax(t, dim=1), reduction="batchmean", log_target=True)


def cosine(s, t):
    return 1 - F.cosine_similarity(s, t, dim=1).mean()


def cases(gen):
    def randn(*shape, scale=1.0):
        return torch.randn(*shape, generator=gen) * scale

    out = {}
    for n, c in ((100, 1000), (8, 10)):
        teacher = randn(n, c, scale=3.0)
        out[f"random_{n}x{c}"] = (randn(n, c, scale=3.0), teacher)
        teacher = randn(n, c, scale=2.0)
        out[f"near_{n}x{c}"] = (teacher + randn(n, c, scale=1e-3), teacher)
        teacher = randn(n, c, scale=2.0)
        out[f"identical_{n}x{c}"] = (teacher.clone(), teacher)
    # What the search compares: the teacher against a uint8-like fake-quantized copy (step 0.05, offset range).
    teacher = randn(100, 1000, scale=1.5) + 0.5
    stepped = torch.clamp(torch.round((teacher + 4) / 0.05), 0, 255) * 0.05 - 4
    out["stepped_100x1000"] = (stepped, teacher)
    return out


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(20240610)
    tensors = {}
    names = []
    for name, (s, t) in cases(gen).items():
        s = s.float().contiguous()
        t = t.float().contiguous()
        names.append(name)
        tensors[f"{name}/student"] = s
        tensors[f"{name}/teacher"] = t
        values = {
            "infonce_t3": infonce(s, t, 3.0),
            "infonce_t1": infonce(s, t, 1.0),
            "mse": mse(s.double(), t.double()),
            "kl": kl(s.double(), t.double()),
            "cosine": cosine(s.double(), t.double()),
        }
        for loss, v in values.items():
            assert v.dtype == (torch.float32 if loss.startswith("infonce") else torch.float64), (name, loss, v.dtype)
            tensors[f"{name}/{loss}"] = v.reshape(1).double()
        print(name, {k: float(v) for k, v in values.items()})
    os.makedirs(OUT, exist_ok=True)
    save_file(tensors, os.path.join(OUT, "losses.safetensors"), {"cases": json.dumps(names)})


if __name__ == "__main__":
    main()

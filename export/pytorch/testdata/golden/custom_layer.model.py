import math

import torch
from torch import nn
import torch.nn.functional as F


class Stack(nn.ModuleList):
    """repeat(n, Layer(...)): layers named 0..n-1, applied in order; the
    first input flows through them, the others (a padding mask) go to
    every layer."""

    def forward(self, x, *rest):
        for layer in self:
            x = layer(x, *rest)
        return x


def attention(q, k, v, mask=None, scale=None, dropout=0.0, training=False):
    """softmax(q @ k^T * scale) @ v; keys where mask (bool [B, Tk], true at
    real tokens) is false get the score -1e9, as in encc."""
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    scores = (q @ k.transpose(-2, -1)) * scale
    if mask is not None:
        m = mask.reshape(mask.shape[0], *([1] * (scores.dim() - 3)), 1, mask.shape[1])
        scores = torch.where(m, scores, torch.full_like(scores, -1e9))
    p = torch.softmax(scores, dim=-1)
    if dropout > 0:
        p = F.dropout(p, dropout, training)
    return p @ v


def sinusoidal(n, d, device=None):
    """The fixed sine/cosine position encoding of Vaswani et al. (2017), [n, d]."""
    pos = torch.arange(n, dtype=torch.float64, device=device)[:, None]
    i = torch.arange(0, d, 2, dtype=torch.float64, device=device)
    angle = pos / torch.pow(10000.0, i / d)
    out = torch.zeros(n, d, dtype=torch.float64, device=device)
    out[:, 0::2] = torch.sin(angle)
    out[:, 1::2] = torch.cos(angle[:, : d // 2])
    return out.float()


class ScaledLinear(nn.Module):
    """custom_layer.enc:2: model ScaledLinear(in: int, out: int)"""

    def __init__(self, in_, out):
        super().__init__()
        self.in_ = in_
        self.out = out
        # custom_layer.enc:3: param weight: f32[out, in] = kaiming_uniform()
        self.weight = nn.Parameter(torch.zeros((out, in_)))
        # custom_layer.enc:4: param bias:   f32[out]     = zeros()
        self.bias = nn.Parameter(torch.zeros((out,)))
        # custom_layer.enc:5: param scale:  f32[]        = ones()
        self.scale = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        # custom_layer.enc:8: return scale * (x @ transpose(weight) + bias)
        return self.scale * (x @ self.weight.transpose(-2, -1) + self.bias)


class Net(nn.Module):
    """custom_layer.enc:12: model Net"""

    def __init__(self):
        super().__init__()
        # custom_layer.enc:13: l1 = ScaledLinear(64, 32)
        self.l1 = ScaledLinear(64, 32)
        # custom_layer.enc:14: l2 = ScaledLinear(32, 10)
        self.l2 = ScaledLinear(32, 10)

    def forward(self, x):
        # custom_layer.enc:17: return x |> l1 |> gelu |> l2
        return self.l2(F.gelu(self.l1(x)))

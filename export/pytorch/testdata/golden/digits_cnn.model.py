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


class ConvEncoder(nn.Module):
    """digits_cnn.enc:2: model ConvEncoder(channels: int = 16)"""

    def __init__(self, channels=16):
        super().__init__()
        self.channels = channels
        # digits_cnn.enc:3: conv1 = Conv2d(1, channels, kernel: 3, padding: 1)
        self.conv1 = nn.Conv2d(1, channels, kernel_size=3, padding=1)
        # digits_cnn.enc:4: conv2 = Conv2d(channels, 2 * channels, kernel: 3, padding: 1)
        self.conv2 = nn.Conv2d(channels, 2 * channels, kernel_size=3, padding=1)

    def forward(self, x):
        # digits_cnn.enc:7: h = x |> conv1 |> relu
        h = torch.relu(self.conv1(x))
        # digits_cnn.enc:8: h = h |> conv2 |> relu |> maxpool2d(kernel: 2)
        h = F.max_pool2d(torch.relu(self.conv2(h)), 2)
        # digits_cnn.enc:9: return flatten(h)
        return torch.flatten(h, 1)


class ConvClassifier(nn.Module):
    """digits_cnn.enc:13: model ConvClassifier(channels: int = 16)"""

    def __init__(self, channels=16):
        super().__init__()
        self.channels = channels
        # digits_cnn.enc:14: encoder = ConvEncoder(channels)
        self.encoder = ConvEncoder(channels)
        # digits_cnn.enc:15: head    = Linear(2 * channels * 16, 10)
        self.head = nn.Linear(2 * channels * 16, 10)

    def forward(self, x):
        B = x.shape[0]
        # digits_cnn.enc:18: return x |> reshape(B, 1, 8, 8) |> encoder |> head
        return self.head(self.encoder(x.reshape(B, 1, 8, 8)))

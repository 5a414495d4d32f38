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


class MLPEncoder(nn.Module):
    """digits_finetune.enc:7: model MLPEncoder(in_dim: int, hidden: int = 128, latent: int = 32)"""

    def __init__(self, in_dim, hidden=128, latent=32):
        super().__init__()
        self.in_dim = in_dim
        self.hidden = hidden
        self.latent = latent
        # digits_finetune.enc:8: fc1 = Linear(in_dim, hidden)
        self.fc1 = nn.Linear(in_dim, hidden)
        # digits_finetune.enc:9: fc2 = Linear(hidden, latent)
        self.fc2 = nn.Linear(hidden, latent)

    def forward(self, x):
        # digits_finetune.enc:12: return x |> fc1 |> relu |> fc2 |> tanh
        return torch.tanh(self.fc2(torch.relu(self.fc1(x))))


class Classifier(nn.Module):
    """digits_finetune.enc:25: model Classifier(latent: int = 32, classes: int = 10)"""

    def __init__(self, latent=32, classes=10):
        super().__init__()
        self.latent = latent
        self.classes = classes
        # digits_finetune.enc:26: encoder = MLPEncoder(in_dim: 64, latent: latent)
        self.encoder = MLPEncoder(in_dim=64, latent=latent)
        # digits_finetune.enc:27: head    = Linear(latent, classes)
        self.head = nn.Linear(latent, classes)

    def forward(self, x):
        # digits_finetune.enc:30: return head(encoder(x))
        return self.head(self.encoder(x))


class Autoencoder(nn.Module):
    """digits_finetune.enc:16: model Autoencoder(latent: int = 32)"""

    def __init__(self, latent=32):
        super().__init__()
        self.latent = latent
        # digits_finetune.enc:17: encoder = MLPEncoder(in_dim: 64, latent: latent)
        self.encoder = MLPEncoder(in_dim=64, latent=latent)
        # digits_finetune.enc:18: decoder = Linear(latent, 64)
        self.decoder = nn.Linear(latent, 64)

    def forward(self, x):
        # digits_finetune.enc:21: return x |> encoder |> decoder |> sigmoid
        return torch.sigmoid(self.decoder(self.encoder(x)))

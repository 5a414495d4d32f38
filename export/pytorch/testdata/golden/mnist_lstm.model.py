import math

import torch
from torch import nn
import torch.nn.functional as F

import encc_support as es


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


class RowLSTM(nn.Module):
    """mnist_lstm.enc:9: model RowLSTM(hidden: int = 128, classes: int = 10)"""

    def __init__(self, hidden=128, classes=10):
        super().__init__()
        self.hidden = hidden
        self.classes = classes
        # mnist_lstm.enc:10: lstm = LSTM(28, hidden)
        self.lstm = nn.LSTM(28, hidden, batch_first=True)
        # mnist_lstm.enc:11: head = Linear(hidden, classes)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        B = x.shape[0]
        # mnist_lstm.enc:14: r = x |> reshape(B, 28, 28) |> lstm
        r = es.recurrent(self.lstm, x.reshape(B, 28, 28))
        # mnist_lstm.enc:15: return head(r.last)
        return self.head(r["last"])

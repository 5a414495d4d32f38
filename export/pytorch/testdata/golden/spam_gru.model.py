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


class SpamGRU(nn.Module):
    """spam_gru.enc:10: model SpamGRU(vocab: int = 8000, d: int = 64, hidden: int = 64, classes: int = 2)"""

    def __init__(self, vocab=8000, d=64, hidden=64, classes=2):
        super().__init__()
        self.vocab = vocab
        self.d = d
        self.hidden = hidden
        self.classes = classes
        # spam_gru.enc:11: emb  = Embedding(vocab, d)
        self.emb = nn.Embedding(vocab, d)
        # spam_gru.enc:12: gru  = GRU(d, hidden)
        self.gru = nn.GRU(d, hidden, batch_first=True)
        # spam_gru.enc:13: head = Linear(hidden, classes)
        self.head = nn.Linear(hidden, classes)

    def forward(self, ids, mask):
        # spam_gru.enc:16: return head(gru(emb(ids), mask: mask).last)
        return self.head(es.recurrent(self.gru, self.emb(ids), mask=mask)["last"])

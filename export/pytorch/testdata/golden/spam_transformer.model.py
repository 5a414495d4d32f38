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


class MultiHeadAttention(nn.Module):
    """stdlib/transformer.enc:9: model MultiHeadAttention(d: int, heads: int, dropout: float = 0.0)"""

    def __init__(self, d, heads, dropout=0.0):
        super().__init__()
        self.d = d
        self.heads = heads
        self.dropout = dropout
        # stdlib/transformer.enc:10: q = Linear(d, d)
        self.q = nn.Linear(d, d)
        # stdlib/transformer.enc:11: k = Linear(d, d)
        self.k = nn.Linear(d, d)
        # stdlib/transformer.enc:12: v = Linear(d, d)
        self.v = nn.Linear(d, d)
        # stdlib/transformer.enc:13: o = Linear(d, d)
        self.o = nn.Linear(d, d)

    def forward(self, x, mask=None):
        B, T = x.shape[0], x.shape[1]
        # stdlib/transformer.enc:16: hd = d / heads
        hd = self.d // self.heads
        # stdlib/transformer.enc:17: qh = q(x) |> reshape(B, T, heads, hd) |> permute(0, 2, 1, 3)
        qh = self.q(x).reshape(B, T, self.heads, hd).permute(0, 2, 1, 3)
        # stdlib/transformer.enc:18: kh = k(x) |> reshape(B, T, heads, hd) |> permute(0, 2, 1, 3)
        kh = self.k(x).reshape(B, T, self.heads, hd).permute(0, 2, 1, 3)
        # stdlib/transformer.enc:19: vh = v(x) |> reshape(B, T, heads, hd) |> permute(0, 2, 1, 3)
        vh = self.v(x).reshape(B, T, self.heads, hd).permute(0, 2, 1, 3)
        # stdlib/transformer.enc:20: a  = attention(qh, kh, vh, mask: mask, dropout: dropout)
        a = attention(qh, kh, vh, mask=mask, dropout=self.dropout, training=self.training)
        # stdlib/transformer.enc:21: return a |> permute(0, 2, 1, 3) |> reshape(B, T, d) |> o
        return self.o(a.permute(0, 2, 1, 3).reshape(B, T, self.d))


class TransformerEncoderLayer(nn.Module):
    """stdlib/transformer.enc:29: model TransformerEncoderLayer(d: int, heads: int, ffn: int, norm: string = "post", dropout: float = 0.0, activation: string = "gelu")"""

    def __init__(self, d, heads, ffn, norm="post", dropout=0.0, activation="gelu"):
        super().__init__()
        self.d = d
        self.heads = heads
        self.ffn = ffn
        self.norm = norm
        self.dropout = dropout
        self.activation = activation
        # stdlib/transformer.enc:30: attn  = MultiHeadAttention(d, heads, dropout)
        self.attn = MultiHeadAttention(d, heads, dropout)
        # stdlib/transformer.enc:31: ff1   = Linear(d, ffn)
        self.ff1 = nn.Linear(d, ffn)
        # stdlib/transformer.enc:32: ff2   = Linear(ffn, d)
        self.ff2 = nn.Linear(ffn, d)
        # stdlib/transformer.enc:33: norm1 = LayerNorm(d)
        self.norm1 = nn.LayerNorm(d)
        # stdlib/transformer.enc:34: norm2 = LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)
        # stdlib/transformer.enc:35: drop  = Dropout(dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, mask=None):
        if self.norm == "pre":
            # stdlib/transformer.enc:39: h = x + drop(attn(norm1(x), mask))
            h = x + self.drop(self.attn(self.norm1(x), mask))
            # stdlib/transformer.enc:40: f = ff1(norm2(h))
            f = self.ff1(self.norm2(h))
        else:
            # stdlib/transformer.enc:42: h = norm1(x + drop(attn(x, mask)))
            h = self.norm1(x + self.drop(self.attn(x, mask)))
            # stdlib/transformer.enc:43: f = ff1(h)
            f = self.ff1(h)
        if self.activation == "relu":
            # stdlib/transformer.enc:46: f = relu(f)
            f = torch.relu(f)
        else:
            # stdlib/transformer.enc:48: f = gelu(f)
            f = F.gelu(f)
        # stdlib/transformer.enc:50: y = h + drop(ff2(drop(f)))
        y = h + self.drop(self.ff2(self.drop(f)))
        if self.norm == "pre":
            # stdlib/transformer.enc:52: return y
            return y
        # stdlib/transformer.enc:54: return norm2(y)
        return self.norm2(y)


class TextEncoder(nn.Module):
    """stdlib/text.enc:8: model TextEncoder(vocab: int, max_len: int, d: int = 128, layers: int = 2, heads: int = 4, ffn: int = 512, norm: string = "post", dropout: float = 0.1, activation: string = "gelu")"""

    def __init__(self, vocab, max_len, d=128, layers=2, heads=4, ffn=512, norm="post", dropout=0.1, activation="gelu"):
        super().__init__()
        self.vocab = vocab
        self.max_len = max_len
        self.d = d
        self.layers = layers
        self.heads = heads
        self.ffn = ffn
        self.norm = norm
        self.dropout = dropout
        self.activation = activation
        # stdlib/text.enc:9: tokens    = Embedding(vocab, d)
        self.tokens = nn.Embedding(vocab, d)
        # stdlib/text.enc:10: positions = Embedding(max_len, d)
        self.positions = nn.Embedding(max_len, d)
        # stdlib/text.enc:11: drop      = Dropout(dropout)
        self.drop = nn.Dropout(dropout)
        # stdlib/text.enc:12: blocks    = repeat(layers, TransformerEncoderLayer(d, heads, ffn, norm, dropout, activation))
        self.blocks = Stack(TransformerEncoderLayer(d, heads, ffn, norm, dropout, activation) for _ in range(layers))
        if norm == "pre":
            # stdlib/text.enc:14: final_norm = LayerNorm(d)
            self.final_norm = nn.LayerNorm(d)

    def forward(self, ids, mask=None):
        T = ids.shape[1]
        # stdlib/text.enc:18: h = drop(tokens(ids) + positions(arange(T)))
        h = self.drop(self.tokens(ids) + self.positions(torch.arange(T, device=ids.device)))
        # stdlib/text.enc:19: h = blocks(h, mask)
        h = self.blocks(h, mask)
        if self.norm == "pre":
            # stdlib/text.enc:21: return final_norm(h)
            return self.final_norm(h)
        # stdlib/text.enc:23: return h
        return h


class TextClassifier(nn.Module):
    """stdlib/text.enc:40: model TextClassifier(vocab: int, max_len: int, classes: int = 2, d: int = 128, layers: int = 2, heads: int = 4, ffn: int = 512, norm: string = "post", dropout: float = 0.1, pool: string = "mean")"""

    def __init__(self, vocab, max_len, classes=2, d=128, layers=2, heads=4, ffn=512, norm="post", dropout=0.1, pool="mean"):
        super().__init__()
        self.vocab = vocab
        self.max_len = max_len
        self.classes = classes
        self.d = d
        self.layers = layers
        self.heads = heads
        self.ffn = ffn
        self.norm = norm
        self.dropout = dropout
        self.pool = pool
        # stdlib/text.enc:41: encoder = TextEncoder(vocab, max_len, d, layers, heads, ffn, norm, dropout)
        self.encoder = TextEncoder(vocab, max_len, d, layers, heads, ffn, norm, dropout)
        # stdlib/text.enc:42: head    = Linear(d, classes)
        self.head = nn.Linear(d, classes)

    def forward(self, ids, mask=None):
        B, T = ids.shape
        # stdlib/text.enc:45: h = encoder(ids, mask)
        h = self.encoder(ids, mask)
        if self.pool == "cls":
            # stdlib/text.enc:47: pooled = h[:, 0]
            pooled = h[:, 0]
        elif self.pool == "max":
            # stdlib/text.enc:49: pooled = max(h, axis: 1)
            pooled = h.amax(dim=1)
        elif mask is None:
            # stdlib/text.enc:51: pooled = mean(h, axis: 1)
            pooled = h.mean(dim=1)
        else:
            # stdlib/text.enc:53: m      = float(mask) |> reshape(B, T, 1)
            m = mask.float().reshape(B, T, 1)
            # stdlib/text.enc:54: pooled = sum(h * m, axis: 1) / sum(m, axis: 1)
            pooled = (h * m).sum(dim=1) / m.sum(dim=1)
        # stdlib/text.enc:56: return head(pooled)
        return self.head(pooled)

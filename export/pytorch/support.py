"""encc_support: what train.py and model.py need beyond torch, written by
encc export.

- safetensors files read memory-mapped (numpy.memmap) and written, with
  encc's checkpoint metadata, so `encc eval` and `encc run --resume` read
  what train.py saves;
- encc's sample order: the permutation of data.Permute (Go's PCG-DXSM,
  Fisher-Yates from the end), so the batches are the ones encc trains on;
- ShardedSamples (the data/ folder) and EnccSampler (the batches of one
  rank, as DistributedSampler splits them);
- the learning-rate schedules and the metrics of encc's runtime;
- recurrent: encc's RNN/GRU/LSTM call (named outputs, a padding mask as
  a packed sequence), which model.py uses.
"""

import json
import math
import os
import struct

import numpy as np
import torch

# ---------------------------------------------------------------------
# safetensors

_DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64, "BOOL": np.bool_, "U8": np.uint8}
_NAMES = {v: k for k, v in _DTYPES.items()}


def read_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return header, 8 + n


def load_safetensors(path, mmap=True):
    """Returns ({name: tensor}, metadata). With mmap the tensors view the
    file's pages (read-only): nothing is read until it is used."""
    header, base = read_header(path)
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    whole = np.memmap(path, dtype=np.uint8, mode="r") if mmap else np.fromfile(path, dtype=np.uint8)
    for name, info in header.items():
        start, end = info["data_offsets"]
        dt = np.dtype(_DTYPES[info["dtype"]])
        raw = whole[base + start : base + end]
        arr = raw.view(dt).reshape(info["shape"]) if end > start else np.zeros(info["shape"], dt)
        if not mmap:
            arr = arr.copy()
        out[name] = arr
    return out, meta


def save_safetensors(path, tensors, metadata=None):
    """Writes {name: tensor or ndarray} atomically (a temporary file
    renamed over path)."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        a = t.detach().cpu().contiguous().numpy() if torch.is_tensor(t) else np.ascontiguousarray(t)
        b = a.tobytes()
        header[name] = {"dtype": _NAMES[a.dtype.type], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


# ---------------------------------------------------------------------
# encc's sample order

_M64 = (1 << 64) - 1
_MUL = (2549297995355413924 << 64) | 4865540595714422341
_INC = (6364136223846793005 << 64) | 1442695040888963407
STREAM_EPOCH = 0x9E3779B97F4A7C15


class PCG:
    """Go's math/rand/v2 PCG (128-bit LCG, DXSM output)."""

    def __init__(self, seed1, seed2):
        self.state = ((seed1 & _M64) << 64) | (seed2 & _M64)

    def uint64(self):
        self.state = (self.state * _MUL + _INC) & ((1 << 128) - 1)
        hi, lo = self.state >> 64, self.state & _M64
        hi ^= hi >> 32
        hi = (hi * 0xDA942042E4DD58B5) & _M64
        hi ^= hi >> 48
        return (hi * (lo | 1)) & _M64


def _uniform(src, n):
    x = src.uint64() * n
    hi, lo = x >> 64, x & _M64
    if lo < n:
        thresh = (-n) % (1 << 64) % n
        while lo < thresh:
            x = src.uint64() * n
            hi, lo = x >> 64, x & _M64
    return hi


def permute(n, seed, stream):
    """encc's data.Permute: the identity, then Fisher-Yates from the end."""
    p = list(range(n))
    src = PCG(seed, stream)
    for i in range(n - 1, 0, -1):
        j = _uniform(src, i + 1)
        p[i], p[j] = p[j], p[i]
    return p


def epoch_order(n, seed, epoch):
    """The sample order of an epoch: Permute(seed, StreamEpoch ^ epoch)."""
    return permute(n, seed & _M64, STREAM_EPOCH ^ epoch)


# ---------------------------------------------------------------------
# data


class ShardedSamples:
    """The samples of one split: data/SPLIT-*.safetensors, each a slice of
    the samples with one tensor per field, memory-mapped. take(indices)
    gathers a batch (a dict of tensors)."""

    def __init__(self, folder, split):
        files = sorted(f for f in os.listdir(folder) if f.startswith(split + "-") and f.endswith(".safetensors"))
        if not files:
            raise FileNotFoundError(f"no {split}-*.safetensors in {folder}")
        self.shards, self.starts, n = [], [], 0
        for f in files:
            t, _ = load_safetensors(os.path.join(folder, f))
            self.shards.append(t)
            self.starts.append(n)
            n += len(next(iter(t.values())))
        self.n = n
        self.fields = list(self.shards[0])

    def __len__(self):
        return self.n

    def take(self, indices):
        idx = np.asarray(indices, dtype=np.int64)
        shard = np.searchsorted(self.starts, idx, side="right") - 1
        out = {}
        for name in self.fields:
            parts = np.empty((len(idx),) + self.shards[0][name].shape[1:], self.shards[0][name].dtype)
            for s in np.unique(shard):
                sel = shard == s
                parts[sel] = self.shards[s][name][idx[sel] - self.starts[s]]
            t = torch.from_numpy(parts)
            if t.dtype == torch.int32:
                t = t.long()  # ids and labels: torch indexes with int64
            out[name] = t
        return out


class EnccSampler(torch.utils.data.distributed.DistributedSampler):
    """A DistributedSampler that yields encc's batches: epoch e visits the
    samples in encc's order for (seed, e) (set_epoch, as usual); global
    batch i is order[i*B:(i+1)*B] (the last one short) and rank r takes
    its r-th contiguous part. Iterating yields (global batch size, this
    rank's indices), so each rank can weight its loss by its share."""

    def __init__(self, samples, batch, seed, num_replicas=None, rank=None, shuffle=True):
        super().__init__(samples, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed)
        self.n, self.batch = len(samples), batch

    def __len__(self):
        return (self.n + self.batch - 1) // self.batch

    def __iter__(self):
        order = epoch_order(self.n, self.seed, self.epoch) if self.shuffle else list(range(self.n))
        for i in range(0, self.n, self.batch):
            b = order[i : i + self.batch]
            per = len(b) / self.num_replicas
            lo, hi = round(per * self.rank), round(per * (self.rank + 1))
            yield len(b), b[lo:hi]


# ---------------------------------------------------------------------
# schedules (runtime/train/schedule.go)


def lr_at(cfg, base, t, steps, steps_per_epoch):
    """The rate of step t (0-based) of a span of `steps` steps."""
    if cfg is None or cfg["name"] == "constant":
        return base
    name = cfg["name"]
    if name == "step":
        every = max(int(cfg["every"]), 1)
        epoch = t // max(steps_per_epoch, 1)
        return base * cfg["gamma"] ** (epoch // every)
    if name in ("cosine", "linear"):
        frm, to, w = cfg["from"], cfg["to"], int(cfg["warmup_steps"])
        if frm < 0:
            frm = base
        if t < w:
            return frm * (t + 1) / w
        p = (t - w) / max(steps - w, 1)
        if name == "cosine":
            return to + (frm - to) * (1 + math.cos(math.pi * p)) / 2
        return frm + (to - frm) * p
    if name == "warmup":
        s = int(cfg["steps"])
        then = cfg.get("then")
        if t < s:
            return lr_at(then, base, 0, max(steps - s, 1), steps_per_epoch) * (t + 1) / s
        return lr_at(then, base, t - s, steps - s, steps_per_epoch)
    if name == "one_cycle":
        max_lr = cfg["max_lr"]
        initial = max_lr / cfg["div_factor"]
        final = initial / cfg["final_div_factor"]
        end1 = cfg["pct_start"] * steps - 1
        end2 = steps - 1

        def anneal(a, b, pct):
            return b + (a - b) / 2 * (math.cos(math.pi * pct) + 1)

        if t <= end1 and end1 > 0:
            return anneal(initial, max_lr, t / end1)
        if end2 <= end1:
            return max_lr
        return anneal(max_lr, final, (t - end1) / (end2 - end1))
    raise ValueError("no schedule " + name)


# ---------------------------------------------------------------------
# metrics (runtime/train/metrics.go)


class Meter:
    """Accumulates a split's evaluation: the loss weighted by batch size
    and, for classification, a confusion matrix and top-k counts."""

    def __init__(self, metrics, classes):
        self.metrics, self.classes = metrics, classes
        self.n, self.loss_sum = 0, 0.0
        self.conf = torch.zeros(classes, classes, dtype=torch.int64) if classes else None
        self.topk = {}

    def add(self, n, loss, pred=None, labels=None):
        self.n += n
        self.loss_sum += float(loss) * n
        if pred is None or labels is None or not self.classes:
            return
        pred = pred.detach().float().cpu().reshape(-1, self.classes)
        labels = labels.cpu().reshape(-1).long()
        best = pred.argmax(dim=1)
        self.conf += torch.bincount(labels * self.classes + best, minlength=self.classes**2).reshape(self.classes, self.classes)
        above = (pred > pred.gather(1, labels[:, None])).sum(dim=1)
        for m in self.metrics:
            if m["kind"] == "top_k":
                self.topk[m["k"]] = self.topk.get(m["k"], 0) + int((above < m["k"]).sum())

    def values(self):
        out = {"loss": self.loss_sum / self.n if self.n else float("nan")}
        for m in self.metrics:
            if m["kind"] == "accuracy":
                out[m["name"]] = float(self.conf.diag().sum()) / self.n
            elif m["kind"] == "top_k":
                out[m["name"]] = self.topk.get(m["k"], 0) / self.n
            elif m["kind"] == "f1":
                out[m["name"]] = self.macro_f1()
        return out

    def macro_f1(self):
        c = self.conf.double()
        tp = c.diag()
        fp = c.sum(dim=0) - tp
        fn = c.sum(dim=1) - tp
        present = (c.sum(dim=0) + c.sum(dim=1)) > 0
        f1 = torch.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn).clamp(min=1e-300), torch.zeros_like(tp))
        return float(f1[present].mean()) if present.any() else float("nan")


# ---------------------------------------------------------------------
# recurrent layers (compiler/recurrent.go)


def recurrent(rnn, x, mask=None):
    """encc's call of an RNN, GRU or LSTM layer on x [B, T, in].

    rnn is the nn.RNN/GRU/LSTM (batch_first=True) that holds the layer's
    weights under encc's names. Returns encc's named outputs as a dict:
    output [B, T, D*hidden] (every step of the last layer), h_n
    [layers*D, B, hidden] (the final states), c_n (LSTM: the final cell
    states) and last [B, D*hidden] (the last layer's final states, the
    directions concatenated), D being 2 when bidirectional.

    mask, bool [B, T], true at the real steps (a prefix of each row), is
    a packed sequence: each row runs for its own length, the reverse
    direction starts at its last real step, h_n and c_n are the states
    there, and output is zero at the padded steps. A row with no real
    step has zero outputs and states, as in encc (packing needs one step
    per row, so such a row runs one and its results are dropped).
    encc's mask is meant to be a prefix; one with holes (a real step
    after a padded one) is read here by its count of real steps.
    """
    if mask is None:
        output, state = rnn(x)
    else:
        lengths = mask.sum(dim=1)
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            x, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        output, state = rnn(packed)
        output, _ = torch.nn.utils.rnn.pad_packed_sequence(output, batch_first=True, total_length=x.shape[1])
        empty = lengths == 0
        output = output.masked_fill(empty[:, None, None], 0.0)
        if isinstance(state, tuple):
            state = tuple(s.masked_fill(empty[None, :, None], 0.0) for s in state)
        else:
            state = state.masked_fill(empty[None, :, None], 0.0)
    if isinstance(state, tuple):  # LSTM: (h_n, c_n)
        h_n, c_n = state
        out = {"output": output, "h_n": h_n, "c_n": c_n}
    else:
        h_n = state
        out = {"output": output, "h_n": h_n}
    d = 2 if rnn.bidirectional else 1
    out["last"] = torch.cat(list(h_n[-d:]), dim=1)
    return out


# ---------------------------------------------------------------------
# losses without a torch form

MASK_ID = 3  # [PAD]=0, [UNK]=1, [CLS]=2, [MASK]=3


def mlm(model, ids, mask, p=0.15, with_mask=True):
    """encc's masked-token loss (BERT): each real token (mask true, id
    above [MASK]) is drawn with probability p; 80% of the drawn ones
    become [MASK], 20% stay; the loss is the mean negative log-likelihood
    of the original ids at the drawn positions. The draws come from
    torch's generator (encc draws from its own streams: the same
    distribution, not the same masks)."""
    valid = mask & (ids > MASK_ID)
    sel = (valid & (torch.rand(ids.shape, device=ids.device) < p)).float()
    keep = torch.rand(ids.shape, device=ids.device) < 0.2
    masked = torch.where((sel > 0) & ~keep, torch.full_like(ids, MASK_ID), ids)
    logits = model(masked, mask) if with_mask else model(masked)
    picked = torch.log_softmax(logits, dim=-1).gather(-1, ids.long()[..., None]).squeeze(-1)
    return -(picked * sel).sum() / sel.sum().clamp(min=1)

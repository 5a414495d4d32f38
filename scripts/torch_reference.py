#!/usr/bin/python3
"""Write the PyTorch reference fixtures of testdata/torch.

Run with Debian's interpreter and its python3-torch (1.13):

    /usr/bin/python3 scripts/torch_reference.py [OUTDIR]

OUTDIR defaults to testdata/torch (relative to the repository root). The
safetensors Python package is not needed: files are written here with
struct and json (8-byte little-endian header length, JSON header, raw
little-endian data), like scripts/make_safetensors_fixture.py.

Everything is seeded (torch.manual_seed(0) before each model) and runs in
float32 on the CPU with torch.use_deterministic_algorithms(True), so the
files are the same on every run with the same PyTorch.

Models (the Go parity tests in internal/parity rebuild each one in .enc):

  transformer_post  nn.TransformerEncoder of 2 nn.TransformerEncoderLayer(
                    d_model=32, nhead=4, dim_feedforward=64, dropout=0.0,
                    activation="gelu", batch_first=True) (post-norm), then
                    a head: mean over the sequence, nn.Linear(32, 3).
  transformer_pre   the same with norm_first=True and a final
                    nn.LayerNorm(32) (nn.TransformerEncoder(..., norm=)).
                    Its layer weights equal transformer_post's.
  mlp               nn.Sequential(Linear(64, 32), ReLU(), Linear(32, 10)).
  cnn               nn.Sequential(Conv2d(1, 4, 3, padding=1), ReLU(),
                    MaxPool2d(2), Flatten(), Linear(4*4*4, 10)) on
                    [N, 1, 8, 8] images, given as rows of 64 values.
  conv1d            nn.Sequential(Conv1d(4, 6, 3, stride=2, padding=2,
                    dilation=2, groups=2), ReLU(), MaxPool1d(2, stride=1,
                    padding=1), AvgPool1d(3), Flatten(), Linear(18, 10))
                    on [N, 4, 16] sequences, given as rows of 64 values.
  conv2d_grouped    nn.Sequential(Conv2d(4, 8, 3, padding=1, groups=2),
                    ReLU(), Conv2d(8, 8, 3, stride=2, padding=1, groups=8)
                    (depthwise), ReLU(), Conv2d(8, 6, 1), Flatten(),
                    Linear(24, 10)) on [N, 4, 4, 4] images, given as rows
                    of 64 values.
  batchnorm         nn.Sequential(Conv2d(4, 6, 3, padding=1), BatchNorm2d(6),
                    ReLU(), Flatten(), Linear(96, 16), BatchNorm1d(16,
                    momentum=0.2), ReLU(), Linear(16, 10)) on [N, 4, 4, 4]
                    images: not through run() but three SGD(lr=0.1) steps
                    in train mode on batches input.0-2 (labels.0-2),
                    recording the train-mode logits, loss and gradients of
                    the first step (logits, loss, grad.*), the whole
                    state_dict before (the usual names, running statistics
                    redrawn) and after the steps (after.*), and eval-mode
                    logits on input.0 before (logits_eval_before) and after
                    (logits_eval_after).

Loss, for every model: mean cross-entropy of the logits against fixed
labels (torch.nn.functional.cross_entropy). For the transformer the
logits are head(encoder(x, src_key_padding_mask=~mask).mean(dim=1)): a
padding mask hides keys, and the mean runs over all positions, so the
gradient reaches every encoder parameter through all positions.

Weights: PyTorch's default initialisation, except that every
one-dimensional parameter (biases, LayerNorm weight and bias, which
PyTorch starts at 0 or 1) is redrawn (bias ~ 0.1 N(0, 1), norm weight ~
1 + 0.1 N(0, 1)) so that a swapped or missing bias shows. All weights are
then rounded to bfloat16 precision and stored as BF16: the stored values
are exact, and the files are half the size. Inputs, outputs and
gradients are float32.

Each <name>.safetensors holds
  <param>            the model's state_dict names (layers.0.self_attn.
                     in_proj_weight [96, 32], ..., norm.weight for the
                     final norm; head.weight, head.bias; 0.weight, ...)
  input              f32, the batch ([N, T, 32] for the transformer,
                     [N, 64] for the MLP and the CNN)
  mask               bool [N, T], transformer only: true at real
                     positions (lengths 5, 3, 4); PyTorch gets
                     src_key_padding_mask = ~mask
  labels             i64 [N]
  output             f32, the encoder's output [N, T, 32] with the mask
                     (transformer)
  output_nomask      f32, the encoder's output without a mask
  logits             f32 [N, classes]
  loss               f32 [] (a scalar)
  grad.<param>       f32, d loss / d param, shaped like the parameter
and <name>.json the metadata: the module's repr, shapes, the loss, the
PyTorch version and what each tensor is.
"""
import json
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {torch.float32: "F32", torch.bfloat16: "BF16", torch.int64: "I64", torch.bool: "BOOL"}


def raw_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16
        t = t.view(torch.int16)
    assert sys.byteorder == "little"
    return t.numpy().tobytes()


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, tensor); written sorted by name."""
    header = {"__metadata__": metadata}
    chunks, off = [], 0
    for name, t in sorted(tensors, key=lambda nt: nt[0]):
        b = raw_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(b)]}
        chunks.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)


def prepare(model):
    """Redraw 1-D parameters and round every parameter to bfloat16."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                if "norm" in name and name.endswith("weight"):
                    p.copy_(1 + 0.1 * torch.randn_like(p))
                else:
                    p.copy_(0.1 * torch.randn_like(p))
            p.copy_(p.to(torch.bfloat16).to(torch.float32))


def run(name, model, params, x, labels, forward, outdir, notes, extra=()):
    """params: (state_dict name, parameter) pairs; forward(x) returns
    (encoder output or None, logits)."""
    model.train()  # no dropout anywhere (p = 0); avoids inference fast paths
    for _, p in params:
        p.grad = None
    out, logits = forward(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    tensors = [("input", x), ("labels", labels), ("logits", logits), ("loss", loss)]
    if out is not None:
        tensors.append(("output", out))
    tensors += list(extra)
    for pname, p in params:
        tensors.append((pname, p.detach().to(torch.bfloat16)))
        tensors.append(("grad." + pname, p.grad))
    meta = {
        "model": name,
        "module": repr(model),
        "torch": torch.__version__,
        "loss": "mean cross_entropy(logits, labels)",
        "loss_value": repr(float(loss)),
        "params": {pname: list(p.shape) for pname, p in params},
        "inputs": {"input": list(x.shape), "labels": labels.tolist()},
        "weights_dtype": "BF16 (values rounded to bfloat16; exact)",
        "notes": notes,
    }
    st = os.path.join(outdir, name + ".safetensors")
    write_safetensors(st, [(n, t.detach()) for n, t in tensors],
                      {"format": "pt", "model": name})
    with open(os.path.join(outdir, name + ".json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{st}: {os.path.getsize(st)} bytes, loss {float(loss):.6f}")


class TransformerNet(nn.Module):
    def __init__(self, norm_first):
        super().__init__()
        layer = nn.TransformerEncoderLayer(
            d_model=32, nhead=4, dim_feedforward=64, dropout=0.0,
            activation="gelu", batch_first=True, norm_first=norm_first)
        norm = nn.LayerNorm(32) if norm_first else None
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, norm=norm,
                                             enable_nested_tensor=False)
        self.head = nn.Linear(32, 3)

    def forward(self, x, mask):
        # mask: True at real positions (encc's convention); PyTorch's
        # src_key_padding_mask is True at padding.
        h = self.encoder(x, src_key_padding_mask=~mask)
        return h, self.head(h.mean(dim=1))


def transformer(outdir, norm_first, post_state=None):
    torch.manual_seed(0)
    net = TransformerNet(norm_first)
    prepare(net)
    if post_state is not None:
        # the same layer and head weights as the post-norm model
        missing, unexpected = net.load_state_dict(post_state, strict=False)
        assert unexpected == [] and sorted(missing) == ["encoder.norm.bias", "encoder.norm.weight"], (missing, unexpected)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 5, 32, generator=g)
    labels = torch.tensor([0, 2, 1])
    lengths = torch.tensor([5, 3, 4])
    mask = torch.arange(5)[None, :] < lengths[:, None]
    with torch.no_grad():
        plain = net.encoder(x)
    params = [(n, p) for n, p in net.encoder.named_parameters()]
    params += [("head." + n, p) for n, p in net.head.named_parameters()]
    name = "transformer_pre" if norm_first else "transformer_post"
    notes = ("nn.TransformerEncoder state_dict names (layers.N.*, norm.* for "
             "the final norm), head.* for the classifier; mask = true at real "
             "positions (sequence lengths 5, 3, 4); output = encoder(input, "
             "src_key_padding_mask=~mask), output_nomask = encoder(input), "
             "logits = head(output.mean(dim=1)) (the mean is over all 5 positions)")
    run(name, net, params, x, labels, lambda x: net(x, mask), outdir, notes,
        extra=[("mask", mask), ("output_nomask", plain)])
    return net.state_dict()


def mlp(outdir):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    prepare(net)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(4, 64, generator=g)
    labels = torch.tensor([3, 0, 9, 3])
    run("mlp", net, list(net.named_parameters()), x, labels,
        lambda x: (None, net(x)), outdir, "nn.Sequential indices: 0 = Linear(64, 32), 2 = Linear(32, 10)")


def cnn(outdir):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(4 * 4 * 4, 10))
    prepare(net)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 64, generator=g)
    labels = torch.tensor([1, 7, 7, 4])
    run("cnn", net, list(net.named_parameters()), x, labels,
        lambda x: (None, net(x.reshape(-1, 1, 8, 8))), outdir,
        "input rows of 64 are reshaped to [N, 1, 8, 8]; nn.Sequential indices: "
        "0 = Conv2d(1, 4, 3, padding=1), 4 = Linear(64, 10)")


def conv1d(outdir):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2), nn.ReLU(),
                        nn.MaxPool1d(2, stride=1, padding=1), nn.AvgPool1d(3),
                        nn.Flatten(), nn.Linear(18, 10))
    prepare(net)
    g = torch.Generator().manual_seed(4)
    x = torch.randn(4, 64, generator=g)
    labels = torch.tensor([2, 5, 0, 9])
    run("conv1d", net, list(net.named_parameters()), x, labels,
        lambda x: (None, net(x.reshape(-1, 4, 16))), outdir,
        "input rows of 64 are reshaped to [N, 4, 16]; nn.Sequential indices: "
        "0 = Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2), 5 = Linear(18, 10)")


def conv2d_grouped(outdir):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1, groups=2), nn.ReLU(),
                        nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8), nn.ReLU(),
                        nn.Conv2d(8, 6, 1), nn.Flatten(), nn.Linear(24, 10))
    prepare(net)
    g = torch.Generator().manual_seed(5)
    x = torch.randn(4, 64, generator=g)
    labels = torch.tensor([6, 1, 3, 8])
    run("conv2d_grouped", net, list(net.named_parameters()), x, labels,
        lambda x: (None, net(x.reshape(-1, 4, 4, 4))), outdir,
        "input rows of 64 are reshaped to [N, 4, 4, 4]; nn.Sequential indices: "
        "0 = Conv2d(4, 8, 3, padding=1, groups=2), 2 = Conv2d(8, 8, 3, stride=2, "
        "padding=1, groups=8) (depthwise), 4 = Conv2d(8, 6, 1), 6 = Linear(24, 10)")


def batchnorm(outdir):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(4, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.Flatten(),
                        nn.Linear(96, 16), nn.BatchNorm1d(16, momentum=0.2), nn.ReLU(), nn.Linear(16, 10))
    prepare(net)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.copy_((0.1 * torch.randn_like(m.running_mean)).to(torch.bfloat16).float())
                m.running_var.copy_((1 + 0.5 * torch.rand_like(m.running_var)).to(torch.bfloat16).float())
                m.num_batches_tracked.fill_(2)
    g = torch.Generator().manual_seed(6)
    xs = [torch.randn(8, 64, generator=g) for _ in range(3)]
    ys = [torch.randint(0, 10, (8,), generator=g) for _ in range(3)]
    img = lambda x: x.reshape(-1, 4, 4, 4)
    tensors = []
    for n, t in net.state_dict().items():
        tensors.append((n, t.to(torch.bfloat16) if t.is_floating_point() else t.clone()))
    for i in range(3):
        tensors += [("input.%d" % i, xs[i]), ("labels.%d" % i, ys[i])]
    net.eval()
    with torch.no_grad():
        tensors.append(("logits_eval_before", net(img(xs[0]))))
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for i in range(3):
        opt.zero_grad()
        logits = net(img(xs[i]))
        loss = F.cross_entropy(logits, ys[i])
        loss.backward()
        if i == 0:
            tensors += [("logits", logits.detach()), ("loss", loss.detach())]
            tensors += [("grad." + n, p.grad.clone()) for n, p in net.named_parameters()]
        opt.step()
    for n, t in net.state_dict().items():
        tensors.append(("after." + n, t.clone()))
    net.eval()
    with torch.no_grad():
        tensors.append(("logits_eval_after", net(img(xs[0]))))
    meta = {"model": "batchnorm", "module": repr(net), "torch": torch.__version__,
            "loss": "mean cross_entropy(logits, labels)", "steps": "3 x SGD(lr=0.1), train mode",
            "notes": "nn.Sequential indices: 0 = Conv2d(4, 6, 3, padding=1), 1 = BatchNorm2d(6), "
                     "4 = Linear(96, 16), 5 = BatchNorm1d(16, momentum=0.2), 7 = Linear(16, 10)"}
    st = os.path.join(outdir, "batchnorm.safetensors")
    write_safetensors(st, tensors, {"format": "pt", "model": "batchnorm"})
    with open(os.path.join(outdir, "batchnorm.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{st}: {os.path.getsize(st)} bytes")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "testdata", "torch")
    os.makedirs(outdir, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(1)
    post = transformer(outdir, norm_first=False)
    transformer(outdir, norm_first=True, post_state=post)
    mlp(outdir)
    cnn(outdir)
    conv1d(outdir)
    conv2d_grouped(outdir)
    batchnorm(outdir)


if __name__ == "__main__":
    main()

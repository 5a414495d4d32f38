#!/usr/bin/python3
"""Write the PyTorch reference fixtures of LoRA and distillation in
testdata/torch (issue 13), next to scripts/torch_reference.py, whose file
writer and conventions it reuses. Plain torch: the PEFT formula is written
out, PEFT itself is not needed.

    /usr/bin/python3 scripts/torch_peft_reference.py [OUTDIR]

lora   nn.Sequential-like MLP fc1 = Linear(64, 32), ReLU, fc2 = Linear(32, 10)
       with LoRA on both layers, r = 4, alpha = 8, as PEFT computes it:
           y = base(x) + (alpha / r) * lora_B(lora_A(dropout(x)))
       (dropout p = 0 here). lora_A is Kaiming-uniform (a = sqrt(5)), as
       PEFT initializes it; lora_B is drawn 0.1 N(0, 1) instead of PEFT's
       zeros, so that the gradient of lora_A is not zero. The base weights
       are frozen (requires_grad False). Tensors: the base weights under
       their own names (fc1.weight ...), the adapters under PEFT's
       adapter-file names (base_model.model.fc1.lora_A.weight [r, in],
       base_model.model.fc1.lora_B.weight [out, r]), input [4, 64],
       labels, logits, loss (mean cross-entropy), grad.<adapter name> and
       grad.input (d loss / d input).

lora_conv  a CNN conv = Conv2d(1, 6, 3, stride 2, padding 1), ReLU, flatten,
       fc = Linear(96, 10) over 8x8 images, LoRA on both, r = 2, alpha = 4,
       with PEFT's Conv2d LoRA written out: lora_A is a Conv2d(1, 2, 3,
       stride 2, padding 1) without bias (the layer's kernel, stride and
       padding), lora_B a 1x1 Conv2d(2, 6) without bias:
           y = conv(x) + (alpha / r) * lora_B(lora_A(x))
       Tensors as for lora: lora_A.weight [r, in, 3, 3], lora_B.weight
       [out, r, 1, 1]; input [4, 64] (the image, flattened).

distill a student MLP fc1 = Linear(64, 16), ReLU, fc2 = Linear(16, 10) and a
       teacher Linear(64, 10) (teacher.fc.*, frozen), T = 2:
           loss = 0.5 * cross_entropy(s, labels)
                + 0.5 * T^2 * kl_div(log_softmax(s / T), log_softmax(t / T),
                                     log_target=True, reduction="batchmean")
       Tensors: the student's weights, teacher.fc.weight and .bias,
       input [4, 64], labels, logits (the student's), teacher_logits,
       distill (the distillation term alone), loss and grad.<student
       param>.
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import prepare, write_safetensors  # noqa: E402

PREFIX = "base_model.model."


class LoRALinear(nn.Module):
    def __init__(self, d_in, d_out, r, alpha):
        super().__init__()
        self.base = nn.Linear(d_in, d_out)
        self.lora_A = nn.Linear(d_in, r, bias=False)
        self.lora_B = nn.Linear(r, d_out, bias=False)
        self.scale = alpha / r
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        with torch.no_grad():
            self.lora_B.weight.copy_(0.1 * torch.randn_like(self.lora_B.weight))
        for p in self.base.parameters():
            p.requires_grad_(False)

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x)) * self.scale


class LoRAConv2d(nn.Module):
    def __init__(self, c_in, c_out, k, stride, padding, r, alpha):
        super().__init__()
        self.base = nn.Conv2d(c_in, c_out, k, stride=stride, padding=padding)
        self.lora_A = nn.Conv2d(c_in, r, k, stride=stride, padding=padding, bias=False)
        self.lora_B = nn.Conv2d(r, c_out, 1, bias=False)
        self.scale = alpha / r
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        with torch.no_grad():
            self.lora_B.weight.copy_(0.1 * torch.randn_like(self.lora_B.weight))
        for p in self.base.parameters():
            p.requires_grad_(False)

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x)) * self.scale


class LoRACNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = LoRAConv2d(1, 6, 3, 2, 1, r=2, alpha=4)
        self.fc = LoRALinear(96, 10, r=2, alpha=4)

    def forward(self, x):
        h = torch.relu(self.conv(x.reshape(-1, 1, 8, 8)))
        return self.fc(h.flatten(1))


class LoRAMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = LoRALinear(64, 32, r=4, alpha=8)
        self.fc2 = LoRALinear(32, 10, r=4, alpha=8)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def lora(outdir, conv=False):
    torch.manual_seed(0)
    m = LoRACNN() if conv else LoRAMLP()
    names = ("conv", "fc") if conv else ("fc1", "fc2")
    with torch.no_grad():
        for layer in (getattr(m, n) for n in names):
            layer.base.bias.copy_(0.1 * torch.randn_like(layer.base.bias))
            for p in (layer.base.weight, layer.base.bias, layer.lora_A.weight, layer.lora_B.weight):
                p.copy_(p.to(torch.bfloat16).to(torch.float32))
    x = torch.randn(4, 64).requires_grad_(True)
    labels = torch.tensor([3, 0, 9, 3])
    logits = m(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    tensors = [("input", x.detach()), ("labels", labels), ("logits", logits.detach()),
               ("loss", loss.detach()), ("grad.input", x.grad)]
    for name in names:
        layer = getattr(m, name)
        tensors.append((name + ".weight", layer.base.weight.detach().to(torch.bfloat16)))
        tensors.append((name + ".bias", layer.base.bias.detach().to(torch.bfloat16)))
        assert layer.base.weight.grad is None
        for ab in ("lora_A", "lora_B"):
            w = getattr(layer, ab).weight
            n = PREFIX + name + "." + ab + ".weight"
            tensors.append((n, w.detach().to(torch.bfloat16)))
            tensors.append(("grad." + n, w.grad))
    st = os.path.join(outdir, "lora_conv.safetensors" if conv else "lora.safetensors")
    write_safetensors(st, tensors, {"format": "pt", "model": "lora_conv" if conv else "lora", "torch": torch.__version__,
                                    "formula": "base(x) + (alpha/r) * B(A(x)), " + ("r=2, alpha=4" if conv else "r=4, alpha=8")})
    print(f"{st}: {os.path.getsize(st)} bytes, loss {float(loss):.6f}")


def distill(outdir):
    torch.manual_seed(1)
    fc1, fc2, teacher = nn.Linear(64, 16), nn.Linear(16, 10), nn.Linear(64, 10)
    for m in (fc1, fc2, teacher):
        prepare(m)
    with torch.no_grad():
        teacher.weight.mul_(4)  # a confident teacher
        teacher.weight.copy_(teacher.weight.to(torch.bfloat16).to(torch.float32))
    for p in teacher.parameters():
        p.requires_grad_(False)
    T = 2.0
    x = torch.randn(4, 64)
    labels = torch.tensor([3, 0, 9, 3])
    s = fc2(torch.relu(fc1(x)))
    t = teacher(x)
    kd = F.kl_div(F.log_softmax(s / T, dim=-1), F.log_softmax(t / T, dim=-1),
                  log_target=True, reduction="batchmean") * T * T
    loss = 0.5 * F.cross_entropy(s, labels) + 0.5 * kd
    loss.backward()
    tensors = [("input", x), ("labels", labels), ("logits", s.detach()), ("teacher_logits", t.detach()),
               ("distill", kd.detach()), ("loss", loss.detach())]
    for name, m in (("fc1", fc1), ("fc2", fc2)):
        for pn, p in m.named_parameters():
            tensors.append((f"{name}.{pn}", p.detach().to(torch.bfloat16)))
            tensors.append((f"grad.{name}.{pn}", p.grad))
    for pn, p in teacher.named_parameters():
        tensors.append((f"teacher.fc.{pn}", p.detach().to(torch.bfloat16)))
    st = os.path.join(outdir, "distill.safetensors")
    write_safetensors(st, tensors, {"format": "pt", "model": "distill", "torch": torch.__version__,
                                    "formula": "0.5 CE + 0.5 T^2 kl_div(log_softmax(s/T), log_softmax(t/T), log_target, batchmean), T=2"})
    print(f"{st}: {os.path.getsize(st)} bytes, loss {float(loss):.6f}, distill {float(kd):.6f}")


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "torch")
    torch.use_deterministic_algorithms(True)
    lora(outdir)
    lora(outdir, conv=True)
    distill(outdir)


if __name__ == "__main__":
    main()

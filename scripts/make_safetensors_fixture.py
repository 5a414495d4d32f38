#!/usr/bin/python3
"""Write the PyTorch safetensors fixtures of runtime/safetensors/testdata.

Run with Debian's interpreter and its python3-torch (1.13):

    /usr/bin/python3 scripts/make_safetensors_fixture.py [OUTDIR]

OUTDIR defaults to runtime/safetensors/testdata. The safetensors Python
package is not needed: the files are written here with struct and json,
following the format (8-byte little-endian header length, JSON header,
raw little-endian data).

It writes
  torch_mlp.safetensors   state_dict of nn.Sequential(Linear(4,3), ReLU(),
                          Linear(3,2)) made with torch.manual_seed(0),
                          plus __metadata__ {"format": "pt"}
  torch_dtypes.safetensors  small tensors of F16, BF16, F64, I64, I32, U8
                          and BOOL
  torch_fixture.json      for every tensor of both files: dtype, shape and
                          the values, flattened, as JSON numbers (exact:
                          every value is printed from its float64 widening)
  torch_encoder.safetensors  state_dict of nn.TransformerEncoder(
                          nn.TransformerEncoderLayer(8, 2, 16,
                          batch_first=True, norm_first=True), 2,
                          norm=nn.LayerNorm(8)) with every parameter drawn
                          from N(0, 1) (torch.manual_seed(2)), so that no
                          two tensors are alike; runtime/train loads it with
                          the nn.TransformerEncoder mapping of
                          docs/pytorch-weights.md
"""
import json
import os
import struct
import sys

import torch

DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


def raw_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16
        t = t.view(torch.int16)
    b = t.numpy().tobytes()
    assert sys.byteorder == "little"
    return b


def write(path, tensors, metadata=None):
    """tensors: list of (name, tensor) in buffer order."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    chunks, off = [], 0
    for name, t in tensors:
        b = raw_bytes(t)
        header[name] = {
            "dtype": DTYPES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [off, off + len(b)],
        }
        chunks.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)  # pad so the buffer is 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)


def values(t):
    t = t.detach().cpu()
    if t.dtype == torch.bool:
        return [int(v) for v in t.flatten().tolist()]
    if t.is_floating_point():
        return [float(v) for v in t.double().flatten().tolist()]
    return [int(v) for v in t.flatten().tolist()]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "runtime/safetensors/testdata"
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    mlp = list(model.state_dict().items())
    write(os.path.join(out, "torch_mlp.safetensors"), mlp, {"format": "pt"})

    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, generator=g)
    dtypes = [
        ("f16", torch.tensor([1.0, -2.5, 65504.0, 6.1035156e-05, 5.9604645e-08,
                              0.0, -0.0, 1.0 / 3], dtype=torch.float16)),
        ("bf16", x.to(torch.bfloat16)),
        ("f64", x.double() / 3),
        ("i64", torch.tensor([[0, -1], [2147483647, -2147483648]],
                             dtype=torch.int64)),
        ("i32", torch.arange(-3, 3, dtype=torch.int32).reshape(3, 2)),
        ("u8", torch.tensor([0, 7, 255], dtype=torch.uint8)),
        ("bool", torch.tensor([True, False, True])),
        ("scalar", torch.tensor(3.25)),
    ]
    # Buffer order differs from name order on purpose.
    write(os.path.join(out, "torch_dtypes.safetensors"), dtypes)

    fixture = {}
    for name, t in mlp + dtypes:
        fixture[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                         "values": values(t)}
    with open(os.path.join(out, "torch_fixture.json"), "w") as f:
        json.dump(fixture, f, indent=1, sort_keys=True)
        f.write("\n")

    torch.manual_seed(2)
    layer = torch.nn.TransformerEncoderLayer(
        8, 2, 16, batch_first=True, norm_first=True)
    encoder = torch.nn.TransformerEncoder(
        layer, 2, norm=torch.nn.LayerNorm(8), enable_nested_tensor=False)
    with torch.no_grad():
        for p in encoder.parameters():
            p.normal_()
    write(os.path.join(out, "torch_encoder.safetensors"),
          list(encoder.state_dict().items()), {"format": "pt"})


if __name__ == "__main__":
    main()

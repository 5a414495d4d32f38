#!/usr/bin/python3
"""Write the PyTorch reference fixtures of the recurrent layers to testdata/torch.

Run with Debian's interpreter and its python3-torch (1.13):

    /usr/bin/python3 scripts/torch_recurrent.py [OUTDIR]

It uses the helpers of scripts/torch_reference.py (the same safetensors
writer, bfloat16-rounded weights with 1-D parameters redrawn, the same
metadata), and writes three fixtures, each a recurrent layer `rnn` with
batch_first=True and a head nn.Linear(D*5, 3):

  lstm  nn.LSTM(6, 5, num_layers=2, bidirectional=True)
  gru   nn.GRU(6, 5, num_layers=2)
  rnn   nn.RNN(6, 5, nonlinearity="relu", bidirectional=True)

on a batch of 3 sequences of 5 steps of 6 features with lengths 5, 3, 4
(mask: true at real steps), given to the layer as a packed sequence
(nn.utils.rnn.pack_padded_sequence, enforce_sorted=False). With
last = the last layer's final hidden states, directions concatenated
(h_n[-2:] for two directions, h_n[-1] for one) and output the padded
result of pad_packed_sequence (zeros at padded steps, total_length 5):

  logits = head(last + output.mean(dim=1))

so the gradients reach the weights through both the final states and
every step's output. Extra tensors: mask (bool [3, 5]), output (the
layer's padded output with the mask), output_nomask (the layer's output
on the whole unpacked batch), h_n (and c_n for the LSTM): the final
states of every layer and direction with the mask, [layers*D, 3, 5].
"""
import os
import sys

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import prepare, run  # noqa: E402


class Net(nn.Module):
    def __init__(self, rnn, dirs):
        super().__init__()
        self.rnn = rnn
        self.dirs = dirs
        self.head = nn.Linear(dirs * 5, 3)

    def encode(self, x, lengths):
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        h = state[0] if isinstance(state, tuple) else state
        last = torch.cat([h[-self.dirs + i] for i in range(self.dirs)], dim=1)
        return out, last

    def forward(self, x, lengths):
        out, last = self.encode(x, lengths)
        return out, self.head(last + out.mean(dim=1))


def fixture(outdir, name, make, dirs, seed):
    torch.manual_seed(0)
    net = Net(make(), dirs)
    prepare(net)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 5, 6, generator=g)
    labels = torch.tensor([2, 0, 1])
    lengths = torch.tensor([5, 3, 4])
    mask = torch.arange(5)[None, :] < lengths[:, None]
    with torch.no_grad():
        plain, _ = net.rnn(x)
        _, state = net.rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    states = list(zip(("h_n", "c_n"), state)) if isinstance(state, tuple) else [("h_n", state)]
    params = list(net.named_parameters())
    notes = (repr(net.rnn) + " with batch_first=True on a packed batch (lengths 5, 3, 4; "
             "mask = true at real steps); output = pad_packed_sequence(rnn(packed)) "
             "(zeros at padded steps), output_nomask = rnn(input) unpacked; last = the "
             "last layer's h_n, directions concatenated; logits = head(last + output.mean(dim=1))")
    run(name, net, params, x, labels, lambda x: net(x, lengths), outdir, notes,
        extra=[("mask", mask), ("output_nomask", plain)] + states)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "testdata", "torch")
    os.makedirs(outdir, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(1)
    fixture(outdir, "lstm", lambda: nn.LSTM(6, 5, num_layers=2, bidirectional=True, batch_first=True), 2, 11)
    fixture(outdir, "gru", lambda: nn.GRU(6, 5, num_layers=2, batch_first=True), 1, 12)
    fixture(outdir, "rnn", lambda: nn.RNN(6, 5, nonlinearity="relu", bidirectional=True, batch_first=True), 2, 13)


if __name__ == "__main__":
    main()

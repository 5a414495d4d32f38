"""End-to-end training, encc against the same training written plainly in PyTorch.

    e2e.py encc ENCC FILE.enc      runs `ENCC run --json FILE.enc`
    e2e.py torch mlp|lenet EPOCHS  trains examples/mnist_{mlp,lenet}.enc's model in PyTorch

Each prints one JSON line: wall_s (the whole process: start-up, reading the
data, training, the test evaluation after every epoch), accuracy (test, after
the last epoch), epochs and peak_rss_mb (the process's maximum resident set).
The PyTorch side is what a person would write: the IDX files read with numpy,
scaled by 1/255, a fresh permutation per epoch, tensor slicing into batches
of 64, Adam(1e-3), cross entropy, the test set evaluated after every epoch
(as encc does). MNIST_DIR names the folder of the *-ubyte.gz files.
"""
import gzip
import json
import os
import resource
import subprocess
import sys
import time

T0 = time.time()


def peak_rss_mb(who):
    return resource.getrusage(who).ru_maxrss / 1024.0


def run_encc(encc, path):
    out = subprocess.run([encc, "run", "--json", path], check=True, stdout=subprocess.PIPE, text=True).stdout
    epochs = [json.loads(l) for l in out.splitlines() if l.startswith("{") and '"epoch"' in l]
    last = epochs[-1]
    print(json.dumps({"wall_s": time.time() - T0, "accuracy": last["accuracy"], "epochs": last["epoch"],
                      "peak_rss_mb": peak_rss_mb(resource.RUSAGE_CHILDREN)}))


def idx(path):
    import numpy as np
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def run_torch(which, epochs):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    torch.manual_seed(1)
    d = os.environ["MNIST_DIR"]
    load = lambda name: torch.from_numpy(idx(os.path.join(d, name)).copy())
    xtr = load("train-images-idx3-ubyte.gz").float().div_(255).reshape(-1, 1, 28, 28)
    ytr = load("train-labels-idx1-ubyte.gz").long()
    xte = load("t10k-images-idx3-ubyte.gz").float().div_(255).reshape(-1, 1, 28, 28)
    yte = load("t10k-labels-idx1-ubyte.gz").long()
    if which == "mlp":
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    else:
        model = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                              nn.Linear(84, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    acc = 0.0
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), 64):
            b = perm[i:i + 64]
            loss = F.cross_entropy(model(xtr[b]), ytr[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            correct = sum(int((model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum()) for i in range(0, len(xte), 1000))
        acc = correct / len(xte)
    print(json.dumps({"wall_s": time.time() - T0, "accuracy": acc, "epochs": epochs,
                      "peak_rss_mb": peak_rss_mb(resource.RUSAGE_SELF)}))


if __name__ == "__main__":
    if sys.argv[1] == "encc":
        run_encc(sys.argv[2], sys.argv[3])
    else:
        run_torch(sys.argv[2], int(sys.argv[3]))

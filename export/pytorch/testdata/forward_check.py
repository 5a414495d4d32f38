"""Forward parity: for each case folder given, import its model.py, build
the model, load encc's weights, run the forward (eval mode) on encc's
inputs and print one JSON line with the largest relative error per
output: max |torch - encc| / max |encc| (max over elements)."""

import importlib
import json
import sys

import torch

sys.path.insert(0, sys.argv[1])  # encc_support.py
import encc_support as es  # noqa: E402

torch.set_num_threads(1)
for case in sys.argv[2:]:
    spec = json.load(open(case + "/case.json"))
    sys.path.insert(0, case)
    sys.modules.pop("model", None)
    model_py = importlib.import_module("model")
    model = eval(spec["ctor"], vars(model_py))
    t, _ = es.load_safetensors(case + "/case.safetensors", mmap=False)
    weights = {k: torch.from_numpy(v) for k, v in t.items() if not k.startswith(("input:", "output:"))}
    missing, unexpected = model.load_state_dict(weights, strict=False)
    inputs = []
    for name in spec["inputs"]:
        x = torch.from_numpy(t["input:" + name])
        if x.dtype == torch.int32:
            x = x.long()
        inputs.append(x)
    model.eval()
    with torch.no_grad():
        out = model(*inputs)
    if not isinstance(out, dict):
        out = {spec["outputs"][0]: out}
    errs = {}
    for name in spec["outputs"]:
        want = torch.from_numpy(t["output:" + name]).double()
        got = out[spec["names"].get(name, name)].double()
        scale = max(want.abs().max().item(), 1e-30)
        errs[name] = (got - want).abs().max().item() / scale if got.shape == want.shape else float("inf")
    print(json.dumps({"case": spec["name"], "errors": errs, "missing": list(missing), "unexpected": list(unexpected)}), flush=True)
    sys.path.remove(case)

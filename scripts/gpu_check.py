#!/usr/bin/env python3
"""Run encc's CUDA modules on a GPU with CuPy and compare them with the CPU.

Usage: gpu_check.py DIR [--steps-timed N]

DIR holds one sub-directory per bundle, written on a machine with Go by

    go test ./backend/cuda -run ExportGPUCheck -gpucheck DIR

Each has kernels.cu and plan.json (encc compile --target cuda); the checked
ones (digits_mlp, digits_cnn) also have inputs.safetensors and
reference.safetensors, one training step of the CPU backend: "out:NAME" for
named outputs, "update:NAME" for every updated parameter and optimizer state.

For each bundle and each GEMM mode (cuBLAS, then the fallback kernel
encc_sgemm) the script compiles kernels.cu with NVRTC (cupy.RawModule),
allocates the arena and the inputs, runs the plan's steps in order, and
compares every output and update with the reference: max|gpu - cpu| must
be at most 1e-4 x max|cpu|. Then it times steps (random inputs) and prints
samples/s. It prints one PASS/FAIL table and exits 1 on any failure.

Needs Python 3, NumPy and CuPy; no Go.
"""

import argparse
import json
import os
import struct
import sys
import time
import traceback

import numpy as np

RTOL = 1e-4

DTYPES = {"f32": np.float32, "i32": np.int32, "i64": np.int64, "bool": np.uint8}
ST_DTYPES = {"F32": np.float32, "I32": np.int32, "I64": np.int64, "U8": np.uint8, "BOOL": np.uint8}


def read_safetensors(path):
    """Return {name: ndarray} of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    buf = data[8 + n :]
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        out[name] = np.frombuffer(buf[b:e], dtype=ST_DTYPES[t["dtype"]]).reshape(t["shape"]).copy()
    return out


class Runner:
    """Runs one plan.json + kernels.cu on the current CUDA device."""

    def __init__(self, d, gemm):
        import cupy as cp

        self.cp = cp
        self.gemm = gemm
        with open(os.path.join(d, "plan.json")) as f:
            self.plan = json.load(f)
        with open(os.path.join(d, "kernels.cu")) as f:
            src = f.read()
        self.mod = cp.RawModule(code=src, options=("--std=c++14",))
        self.arena = cp.zeros(max(self.plan["arena_bytes"], 64), dtype=cp.uint8)
        self.inputs = {i["name"]: cp.zeros(max(i["bytes"], 8), dtype=cp.uint8) for i in self.plan["inputs"]}
        self.meta = {i["name"]: i for i in self.plan["inputs"]}
        self.funcs = {}
        self.cublas = None
        if gemm == "cublas":
            try:
                from cupy_backends.cuda.libs import cublas
            except ImportError:  # older CuPy
                from cupy.cuda import cublas
            self.cublas = cublas
            self.handle = cp.cuda.device.get_cublas_handle()
            self.one = np.array([1.0], dtype=np.float32)
            self.zero = np.array([0.0], dtype=np.float32)
        self.steps = [self.prepare(s) for s in self.plan["steps"]]

    def ptr(self, a):
        if a["kind"] == "arena":
            return self.arena.data.ptr + a["offset"]
        if a["kind"] == "input":
            return self.inputs[a["input"]].data.ptr + a["offset"]
        raise ValueError("not a pointer: %r" % (a,))

    def scalar(self, a):
        k = a["kind"]
        if k in ("arena", "input"):
            return np.uint64(self.ptr(a))
        if k == "i32":
            return np.int32(a["int"] if "int" in a else 0)
        if k == "i64":
            return np.int64(a["int"] if "int" in a else 0)
        if k == "f32":
            return np.float32(a.get("float", 0.0))
        raise ValueError("argument kind %r" % k)

    def launch_fn(self, l):
        name = l["kernel"]
        if name not in self.funcs:
            self.funcs[name] = self.mod.get_function(name)
        fn = self.funcs[name]
        args = tuple(self.scalar(a) for a in l["args"])
        grid, block, shared = tuple(l["grid"]), tuple(l["block"]), l.get("shared_bytes", 0)
        return lambda: fn(grid, block, args, shared_mem=shared)

    def prepare(self, s):
        cp = self.cp
        kind = s["kind"]
        if kind == "launch":
            return self.launch_fn(s["launch"])
        if kind == "gemm":
            g = s["gemm"]
            epi = self.launch_fn(g["epilogue"]) if g.get("epilogue") else (lambda: None)
            if self.gemm == "kernel":
                fb = self.launch_fn(g["fallback"])

                def run():
                    fb()
                    epi()

                return run
            cb = self.cublas
            op = {"N": cb.CUBLAS_OP_N, "T": cb.CUBLAS_OP_T}
            a, b, c = self.ptr(g["a"]), self.ptr(g["b"]), self.ptr(g["c"])

            def run():
                cb.sgemmStridedBatched(
                    self.handle, op[g["transa"]], op[g["transb"]], g["m"], g["n"], g["k"],
                    self.one.ctypes.data, a, g["lda"], g["stride_a"], b, g["ldb"], g["stride_b"],
                    self.zero.ctypes.data, c, g["ldc"], g["stride_c"], g["batch"])
                epi()

            return run
        if kind == "copy":
            dst, src, n = self.ptr(s["out"]), self.ptr(s["src"]), s["out"]["bytes"]
            return lambda: cp.cuda.runtime.memcpy(dst, src, n, cp.cuda.runtime.memcpyDeviceToDevice)
        if kind == "memset":
            dst, n = self.ptr(s["out"]), s["out"]["bytes"]
            return lambda: cp.cuda.runtime.memset(dst, 0, n)
        raise ValueError("step kind %r" % kind)

    def set_input(self, name, arr):
        m = self.meta[name]
        arr = np.ascontiguousarray(arr, dtype=DTYPES[m["dtype"]]).reshape(-1)
        if arr.nbytes != m["bytes"]:
            raise ValueError("input %s: %d bytes, want %d" % (name, arr.nbytes, m["bytes"]))
        if arr.nbytes:
            self.inputs[name][: arr.nbytes].set(arr.view(np.uint8))

    def read(self, at, dtype, shape):
        n = at["bytes"]
        if at["kind"] == "arena":
            raw = self.arena[at["offset"] : at["offset"] + n].get()
        else:
            raw = self.inputs[at["input"]][at["offset"] : at["offset"] + n].get()
        return raw.view(dtype).reshape(shape)

    def run(self):
        for s in self.steps:
            s()

    def sync(self):
        self.cp.cuda.Device().synchronize()


def random_inputs(plan, rng):
    """Inputs for timing: params ±0.1, data N(0,1), labels < classes."""
    classes = 10
    out = {}
    for i in plan["inputs"]:
        shape, dt, name = i["shape"], i["dtype"], i["name"]
        if dt == "f32":
            if i["role"] == "param":
                out[name] = rng.uniform(-0.1, 0.1, shape)
            elif i["role"] == "data":
                out[name] = rng.standard_normal(shape)
            elif i["role"] == "scalar":
                out[name] = np.full(shape, 1e-3)
            else:
                out[name] = np.zeros(shape)
        elif dt in ("i32", "i64"):
            if i["role"] == "state":
                out[name] = np.zeros(shape)
            elif name == "step":
                out[name] = np.ones(shape)
            elif name == "seed":
                out[name] = np.full(shape, 7)
            else:
                out[name] = rng.integers(0, classes, shape)
        else:
            out[name] = rng.integers(0, 2, shape)
    return out


def batch_of(plan):
    for i in plan["inputs"]:
        if i["role"] == "data" and i["shape"]:
            return i["shape"][0]
    return 1


def check(d, gemm):
    """Runs one step of bundle d; returns rows (what, max|d|, max|ref|, ok)."""
    r = Runner(d, gemm)
    inputs = read_safetensors(os.path.join(d, "inputs.safetensors"))
    ref = read_safetensors(os.path.join(d, "reference.safetensors"))
    for name in r.meta:
        r.set_input(name, inputs[name])
    r.run()
    r.sync()
    at = {}
    for o in r.plan["outputs"]:
        at["out:" + o["name"] if o.get("name") else "update:" + o["updates"]] = o["at"]
    rows = []
    for key in sorted(ref):
        want = ref[key].astype(np.float64)
        if key.startswith("update:"):
            name = key[len("update:") :]
            m = r.meta[name]
            got = r.read({"kind": "input", "input": name, "offset": 0, "bytes": m["bytes"]}, DTYPES[m["dtype"]], m["shape"])
        else:
            got = r.read(at[key], np.float32, want.shape)
        got = got.astype(np.float64)
        diff = float(np.max(np.abs(got - want))) if want.size else 0.0
        scale = float(np.max(np.abs(want))) if want.size else 0.0
        ok = bool(np.all(np.isfinite(got))) and diff <= RTOL * max(scale, 1e-6)
        rows.append((key, diff, scale, ok))
    return rows


def timing(d, gemm, steps):
    r = Runner(d, gemm)
    rng = np.random.default_rng(1)
    for name, arr in random_inputs(r.plan, rng).items():
        r.set_input(name, arr)
    for _ in range(5):
        r.run()
    r.sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        r.run()
    r.sync()
    dt = time.perf_counter() - t0
    return batch_of(r.plan) * steps / dt, dt / steps * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--steps-timed", type=int, default=200)
    args = ap.parse_args()
    try:
        import cupy as cp

        props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
        print("device: %s, CuPy %s" % (props["name"].decode(), cp.__version__))
    except Exception as e:  # noqa: BLE001
        print("FAIL: no CuPy or no CUDA device: %s" % e)
        return 1
    bundles = sorted(x for x in os.listdir(args.dir) if os.path.exists(os.path.join(args.dir, x, "plan.json")))
    if not bundles:
        print("FAIL: no bundles in %s (go test ./backend/cuda -run ExportGPUCheck -gpucheck %s)" % (args.dir, args.dir))
        return 1
    failed = False
    print("\n%-16s %-7s %-44s %12s %12s  %s" % ("bundle", "gemm", "tensor", "max|gpu-cpu|", "max|cpu|", "result"))
    for b in bundles:
        d = os.path.join(args.dir, b)
        if not os.path.exists(os.path.join(d, "reference.safetensors")):
            continue
        for gemm in ("cublas", "kernel"):
            try:
                rows = check(d, gemm)
            except Exception:  # noqa: BLE001
                traceback.print_exc()
                print("%-16s %-7s %-44s %12s %12s  %s" % (b, gemm, "(run)", "-", "-", "FAIL"))
                failed = True
                continue
            for key, diff, scale, ok in rows:
                failed |= not ok
                print("%-16s %-7s %-44s %12.3e %12.3e  %s" % (b, gemm, key[:44], diff, scale, "PASS" if ok else "FAIL"))
    print("\n%-16s %-7s %14s %12s" % ("bundle", "gemm", "samples/s", "µs/step"))
    for b in bundles:
        d = os.path.join(args.dir, b)
        for gemm in ("cublas", "kernel"):
            try:
                sps, us = timing(d, gemm, args.steps_timed)
                print("%-16s %-7s %14.0f %12.1f" % (b, gemm, sps, us))
            except Exception:  # noqa: BLE001
                traceback.print_exc()
                print("%-16s %-7s %14s %12s  FAIL" % (b, gemm, "-", "-"))
                failed = True
    print("\ngpu-check: %s" % ("FAIL" if failed else "PASS"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

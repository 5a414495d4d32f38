#!/bin/bash
# compare.sh: encc's CPU backend against the PyTorch peer, side by side.
#
# Usage: bench/compare.sh [ROUNDS] [WORKLOAD...]    (default 3 rounds, all workloads)
#   WORKLOAD: W1 W2 W3 W4 W5 W6 W7 W8 E2E W9 (W9, int8 inference, runs only when named)
#   E2E: `encc run` of examples/mnist_mlp.enc (5 epochs) and mnist_lenet.enc
#   (6 epochs) against the same training written plainly in PyTorch
#   (bench/e2e.py): wall time, test accuracy, peak RSS.
#   PEER_DIR   the peer scripts (default: ../shared/peers/pytorch from the repository root)
#   PY         the Python with torch (default: /usr/bin/python3, Debian's)
#
# encc is built once (go build -o bench/out/encc ./cmd/encc); then, for each
# round and each workload, encc runs and then the PyTorch script, so the two
# see the same machine state (A B A B). Every JSON line is kept under
# bench/out/RUN/ (raw.jsonl, one line per process, tagged with side, round
# and workload); the table gives per side the median over rounds of each
# process's median, the spread (max-min over rounds, % of the median), and
# the speedup: how many times faster encc is (encc/PyTorch for throughput,
# PyTorch/encc for latency), > 1 means encc wins.
#
# The peer runs at its best setting: every PyTorch process runs twice per
# round, with OpenMP's default wait policy and with OMP_WAIT_POLICY=passive
# (its default spin-wait stalls 2-core machines: W1 3x slower), and the
# table keeps, per metric, the setting with the better median and says
# which. The FMA peak (bench/fma_peak.c: AVX2 and, where present, AVX-512)
# gives every SGEMM row its fraction of peak. A figure that cannot be
# measured (a process that fails, a probe that does not build) is listed
# at the end and makes the script exit 1.
#
# It installs nothing. Without torch or with the reference BLAS it stops
# and says what to install.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEER_DIR=${PEER_DIR:-$ROOT/../shared/peers/pytorch}
PY=${PY:-/usr/bin/python3}
ROUNDS=${1:-3}
shift || true
WORKLOADS=${*:-W1 W2 W3 W4 W5 W6 W7 W8 E2E}

# ---- prerequisites (checked, never installed)
if [ ! -f "$PEER_DIR/bench_train.py" ]; then
  echo "compare.sh: no peer scripts in $PEER_DIR (set PEER_DIR)" >&2
  exit 1
fi
if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
  cat >&2 <<EOF
compare.sh: $PY cannot import torch and numpy. Install Debian's packages:
    apt-get install -y python3-torch python3-numpy libopenblas0-openmp
(or set PY to a Python that has torch).
EOF
  exit 1
fi
BLAS=$(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | awk '/^Value:/ {print $2}')
case "$BLAS" in
  *openblas*) ;;
  *)
    cat >&2 <<EOF
compare.sh: libblas.so.3 is "${BLAS:-unknown}", not OpenBLAS: Debian's torch would use the
reference BLAS and be 10-70x slower (an unfair peer). Install it with
    apt-get install -y libopenblas0-openmp
and check with: update-alternatives --display libblas.so.3-x86_64-linux-gnu
EOF
    exit 1
    ;;
esac

# The peer was measured with the OpenMP flavour of OpenBLAS (torch's own
# pool is libgomp too). When the system alternative points at another
# OpenBLAS flavour (pthread: its threads and torch's OpenMP threads
# oversubscribe 2 vCPUs), the peer processes load the OpenMP flavour
# through LD_LIBRARY_PATH; nothing on the system is changed.
OMPDIR=/usr/lib/x86_64-linux-gnu/openblas-openmp
PEER_ENV=()
case "$BLAS" in
  */openblas-openmp/*) ;;
  *)
    if [ -f "$OMPDIR/libblas.so.3" ]; then
      PEER_ENV=(env "LD_LIBRARY_PATH=$OMPDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
      BLAS="$BLAS (peer run with $OMPDIR/libblas.so.3 via LD_LIBRARY_PATH)"
    else
      echo "compare.sh: warning: libblas.so.3 is $BLAS; the peer was measured with libopenblas0-openmp (apt-get install -y libopenblas0-openmp)" >&2
    fi ;;
esac

RUN=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$ROOT/bench/out/$RUN"
mkdir -p "$OUT"
ENCC="$ROOT/bench/out/encc"
(cd "$ROOT" && go build -o "$ENCC" ./cmd/encc)

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "command: bench/compare.sh $ROUNDS $WORKLOADS"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') (family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ') model $(grep -m1 '^model' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')), $(nproc) vCPUs"
  echo "cpu flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|fma|avx512f|avx512bw|avx512_vnni|avx_vnni|avx512_bf16)$' | tr '\n' ' ')"
  echo "encc: $(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- backend cmd/encc bench || echo +dirty), $(go version | cut -d' ' -f3)"
  echo "peer: torch $("$PY" -c 'import torch; print(torch.__version__)'), BLAS $BLAS"
} | tee "$OUT/machine.txt" >&2

# FMA peak of the machine, measured at the start of every round: the table
# uses the best, since a round whose other core is taken by another
# process measures half of it.
FAILED="$OUT/failed.txt"
: > "$FAILED"
FMA=""
if command -v gcc >/dev/null && gcc -O2 -fopenmp "$ROOT/bench/fma_peak.c" -o "$OUT/fma_peak" 2>>"$OUT/stderr.txt"; then
  FMA="$OUT/fma_peak"
else
  echo "FMA peak: bench/fma_peak.c did not build (gcc with OpenMP needed; see $OUT/stderr.txt)" >> "$FAILED"
fi
: > "$OUT/fma_peak.jsonl"

# E2E reads MNIST where scripts/fetch-data.sh finds it.
case " $WORKLOADS " in
  *" E2E "*)
    if vars=$("$ROOT/scripts/fetch-data.sh" 2>>"$OUT/stderr.txt"); then
      eval "$vars"
      export MNIST_DIR
      mkdir -p "$ROOT/examples/data"
      ln -sfn "$MNIST_DIR" "$ROOT/examples/data/mnist"
    else
      echo "E2E: MNIST not found (scripts/fetch-data.sh)" >> "$FAILED"
    fi ;;
esac

RAW="$OUT/raw.jsonl"
: > "$RAW"
# emit SIDE ROUND WORKLOAD CMD...: runs CMD, tags its JSON line, appends it.
emit() {
  local side=$1 round=$2 wl=$3
  shift 3
  local line
  if ! line=$("$@" 2>>"$OUT/stderr.txt" | tail -n 1) || [ -z "$line" ]; then
    echo "compare.sh: $side $wl round $round failed (see $OUT/stderr.txt)" >&2
    echo "$side $wl round $round: the process failed (see $OUT/stderr.txt)" >> "$FAILED"
    return 0
  fi
  printf '{"side":"%s","round":%d,"id":"%s","result":%s}\n' "$side" "$round" "$wl" "$line" >> "$RAW"
}

# peer ROUND WORKLOAD CMD...: the PyTorch process at both wait policies.
peer() {
  local round=$1 wl=$2
  shift 2
  emit torch-default "$round" "$wl" "${PEER_ENV[@]}" "$@"
  emit torch-passive "$round" "$wl" "${PEER_ENV[@]}" env OMP_WAIT_POLICY=passive "$@"
}

cd "$ROOT"
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS" >&2
  if [ -n "$FMA" ] && ! "$FMA" >> "$OUT/fma_peak.jsonl" 2>>"$OUT/stderr.txt"; then
    echo "FMA peak: round $r: fma_peak failed" >> "$FAILED"
  fi
  for w in $WORKLOADS; do
    case $w in
      W1)
        emit encc "$r" W1 "$ENCC" bench bench/w1_mlp.enc mlp_train --json
        peer "$r" W1 "$PY" "$PEER_DIR/bench_train.py" mlp_train ;;
      W2)
        emit encc "$r" W2b1 "$ENCC" bench bench/w1_mlp.enc MLP --infer --batch 1 --json
        emit encc "$r" W2b256 "$ENCC" bench bench/w1_mlp.enc MLP --infer --batch 256 --json
        peer "$r" W2 "$PY" "$PEER_DIR/bench_infer.py" ;;
      W3)
        emit encc "$r" W3 "$ENCC" bench bench/w3_cnn.enc cnn_train --steps 100 --warmup 20 --json
        peer "$r" W3 "$PY" "$PEER_DIR/bench_train.py" cnn_train ;;
      W4)
        emit encc "$r" W4 "$ENCC" bench bench/w4_transformer.enc transformer_train --steps 30 --warmup 8 --json
        peer "$r" W4 "$PY" "$PEER_DIR/bench_train.py" transformer_train ;;
      W5)
        emit encc "$r" W5 "$ENCC" bench bench/w4_transformer.enc transformer_finetune --steps 30 --warmup 8 --json
        peer "$r" W5 "$PY" "$PEER_DIR/bench_train.py" transformer_finetune ;;
      W6)
        emit encc "$r" W6 "$ENCC" bench --sgemm 256,512,1024,2048 --json
        peer "$r" W6 "$PY" "$PEER_DIR/bench_sgemm.py" ;;
      E2E)
        emit encc "$r" E2Emlp "$PY" bench/e2e.py encc "$ENCC" examples/mnist_mlp.enc
        peer "$r" E2Emlp "$PY" bench/e2e.py torch mlp 5
        emit encc "$r" E2Elenet "$PY" bench/e2e.py encc "$ENCC" examples/mnist_lenet.enc
        peer "$r" E2Elenet "$PY" bench/e2e.py torch lenet 6 ;;
      W9)
        # int8 inference of the W2 MLP: encc's f32 and int8 checkpoints of
        # bench/w9_int8.enc (trained and quantized once) against the
        # peer's quantize_dynamic with both of Debian torch's engines (the
        # table keeps the faster engine of each round).
        [ -f bench/out/w9_int8.safetensors ] || "$ENCC" run bench/w9_int8.enc --json > "$OUT/w9_run.jsonl"
        emit encc "$r" W9f32 "$ENCC" bench bench/w9_int8.enc MLP --infer --batch 256 --weights bench/out/w9_f32.safetensors --json
        emit encc "$r" W9int8 "$ENCC" bench bench/w9_int8.enc MLP --infer --batch 256 --weights bench/out/w9_int8.safetensors --json
        emit encc "$r" W9int8b1 "$ENCC" bench bench/w9_int8.enc MLP --infer --batch 1 --weights bench/out/w9_int8.safetensors --json
        # LeNet-5 the same way (bench/w9_lenet_int8.enc: int8 convolutions
        # too) against the peer's static quantization.
        [ -f bench/out/w9_lenet_int8.safetensors ] || "$ENCC" run bench/w9_lenet_int8.enc --json > "$OUT/w9_lenet_run.jsonl"
        emit encc "$r" W9lenetf32 "$ENCC" bench stdlib/lenet.enc LeNet5 --infer --batch 256 --steps 50 --warmup 10 --weights bench/out/w9_lenet_f32.safetensors --json
        emit encc "$r" W9lenetint8 "$ENCC" bench stdlib/lenet.enc LeNet5 --infer --batch 256 --steps 50 --warmup 10 --weights bench/out/w9_lenet_int8.safetensors --json
        peer "$r" W9onednn "$PY" "$PEER_DIR/bench_int8.py" --engine onednn
        peer "$r" W9qnnpack "$PY" "$PEER_DIR/bench_int8.py" --engine qnnpack ;;
      W8)
        emit encc "$r" W8 "$ENCC" bench bench/w8_textcnn.enc textcnn_train --steps 60 --warmup 10 --json
        peer "$r" W8 "$PY" "$PEER_DIR/bench_train.py" textcnn_train ;;
      W7)
        emit encc "$r" W7 "$ENCC" bench bench/w7_lstm.enc lstm_train --steps 60 --warmup 10 --json
        peer "$r" W7 "$PY" "$PEER_DIR/bench_train.py" lstm_train ;;
      *) echo "compare.sh: unknown workload $w" >&2; exit 2 ;;
    esac
  done
done

"$PY" - "$OUT" <<'EOF' | tee "$OUT/table.md"
import json, statistics, sys, os
out = sys.argv[1]
rows = [json.loads(l) for l in open(os.path.join(out, "raw.jsonl"))]
# metric -> side -> [per-round values]; sides: encc, torch-default, torch-passive
vals, order, e2e = {}, [], {}
def add(key, side, v, higher):
    if key not in vals:
        vals[key] = {"higher": higher}
        order.append(key)
    vals[key].setdefault(side, []).append(v)
for r in rows:
    s, wl, x = r["side"], r["id"], r["result"]
    if wl in ("W1", "W3", "W4", "W5", "W7", "W8"):
        name = {"W1": "W1 mlp_train", "W3": "W3 cnn_train", "W4": "W4 transformer_train", "W5": "W5 transformer_finetune",
                "W7": "W7 lstm_train", "W8": "W8 textcnn_train"}[wl]
        add(name + " (samples/s)", s, x["samples_per_s_median"], True)
        add(name + " (ms/step)", s, x["ms_per_step_median"], False)
    elif wl == "W2b1":
        add("W2 infer batch 1 (latency µs)", s, x["latency_us_median"], False)
    elif wl == "W2b256":
        add("W2 infer batch 256 (samples/s)", s, x["samples_per_s_median"], True)
    elif wl == "W2":
        add("W2 infer batch 1 (latency µs)", s, x["batch1"]["latency_us_median"], False)
        add("W2 infer batch 256 (samples/s)", s, x["batch256"]["samples_per_s_median"], True)
    elif wl == "W9f32":
        add("W9 mlp f32 batch 256 (samples/s)", s, x["samples_per_s_median"], True)
    elif wl == "W9int8":
        add("W9 mlp int8 batch 256 (samples/s)", s, x["samples_per_s_median"], True)
    elif wl == "W9lenetf32":
        add("W9 lenet f32 batch 256 (samples/s)", s, x["samples_per_s_median"], True)
    elif wl == "W9lenetint8":
        add("W9 lenet int8 batch 256 (samples/s)", s, x["samples_per_s_median"], True)
    elif wl == "W9int8b1":
        add("W9 mlp int8 batch 1 (latency µs)", s, x["latency_us_median"], False)
    elif wl in ("W9onednn", "W9qnnpack"):
        # The peer's rows take the faster engine of the round.
        eng = wl[2:]
        vals.setdefault("_w9", {}).setdefault((r["round"], s), []).append((eng, x))
    elif wl == "W6":
        for e in x["encc_sgemm"] if s == "encc" else x["torch_mm"]:
            add("W6 sgemm n=%d (GFLOP/s)" % e["n"], s, e["gflops_median"], True)
    elif wl.startswith("E2E"):
        name = {"E2Emlp": "E2E MNIST MLP, 5 epochs", "E2Elenet": "E2E MNIST LeNet-5, 6 epochs"}[wl]
        add(name + " (wall s)", s, x["wall_s"], False)
        e2e.setdefault(name, {}).setdefault(s, []).append(x)
w9eng = {}  # metric -> engines that won a round
for (rnd, side), xs in sorted(vals.pop("_w9", {}).items()):
    def best(k, hi):
        return (max if hi else min)(x[k] for _, x in xs)
    add("W9 mlp f32 batch 256 (samples/s)", side, best("mlp_f32_b256_samples_per_s", True), True)
    add("W9 mlp int8 batch 256 (samples/s)", side, best("mlp_int8_dynamic_b256_samples_per_s", True), True)
    add("W9 mlp int8 batch 1 (latency µs)", side, best("mlp_int8_dynamic_b1_us", False), False)
    add("W9 lenet f32 batch 256 (samples/s)", side, best("lenet_f32_b256_samples_per_s", True), True)
    add("W9 lenet int8 batch 256 (samples/s)", side, best("lenet_int8_static_b256_samples_per_s", True), True)
    for k, name in (("mlp_int8_dynamic_b256_samples_per_s", "W9 mlp int8 batch 256"), ("lenet_int8_static_b256_samples_per_s", "W9 lenet int8 batch 256")):
        w9eng.setdefault(name, []).append(max(xs, key=lambda ex: ex[1][k])[0])
def med(v): return statistics.median(v) if v else float("nan")
def spread(v): return 100 * (max(v) - min(v)) / med(v) if len(v) > 1 and med(v) else 0.0
def best_peer(k):
    """The peer setting with the better median for metric k, and its values."""
    hi, cands = vals[k]["higher"], []
    for side, label in (("torch-default", "default"), ("torch-passive", "passive")):
        if vals[k].get(side):
            cands.append((med(vals[k][side]), label, vals[k][side]))
    if not cands:
        return "-", []
    m, label, v = (max if hi else min)(cands)
    return label, v
missing, peer_of = [], {}
print("| workload (metric) | encc median | PyTorch median | speedup (encc vs PyTorch) | PyTorch setting (default / passive medians) | encc spread | PyTorch spread | rounds |")
print("|---|---:|---:|---:|---|---:|---:|---:|")
for k in order:
    e, hi = vals[k].get("encc", []), vals[k]["higher"]
    label, t = best_peer(k)
    peer_of[k] = label
    if not e or not t:
        if "PyTorch only" not in k:
            missing.append(k)
        sp = float("nan")
    else:
        sp = med(e) / med(t) if hi else med(t) / med(e)
    both = "%s (%.2f / %.2f)" % (label, med(vals[k].get("torch-default", [])), med(vals[k].get("torch-passive", [])))
    print("| %s | %.2f | %.2f | %.2f× | %s | %.0f%% | %.0f%% | %d |" % (k, med(e), med(t), sp, both, spread(e), spread(t), min(len(e), len(t))))
if e2e:
    print()
    print("| end to end (PyTorch at its better setting) | encc wall s | encc accuracy | encc peak RSS MB | PyTorch wall s | PyTorch accuracy | PyTorch peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, sides in e2e.items():
        t = sides.get("torch-" + peer_of.get(name + " (wall s)", "-"), [])
        e = sides.get("encc", [])
        f = lambda xs, key: med([x[key] for x in xs])
        print("| %s | %.1f | %.2f%% | %.0f | %.1f | %.2f%% | %.0f |" % (name, f(e, "wall_s"), 100 * f(e, "accuracy"), f(e, "peak_rss_mb"),
              f(t, "wall_s"), 100 * f(t, "accuracy"), f(t, "peak_rss_mb")))
try:
    fps = [json.loads(l) for l in open(os.path.join(out, "fma_peak.jsonl")) if l.strip()]
    fp = max(fps, key=lambda f: f["peak_t2_gflops"])
    peak = fp["peak_t2_gflops"]
    print()
    print("FMA peak (bench/fma_peak.c, %s, 2 threads, best of %d rounds): %.1f GFLOP/s (clock estimate %.2f GHz)" % (fp["cpu_flags"], len(fps), peak, fp["clock_ghz_est"]))
    for k in order:
        if k.startswith("W6") and vals[k].get("encc"):
            _, t = best_peer(k)
            print("  %s: encc %.0f%% of peak, PyTorch %.0f%%" % (k, 100 * med(vals[k]["encc"]) / peak, 100 * med(t) / peak))
except (OSError, ValueError, KeyError):
    missing.append("FMA peak")
print()
print("speedup: how many times faster encc is (throughput encc/PyTorch, latency and wall time PyTorch/encc). spread: (max-min)/median over rounds.")
print("PyTorch setting: the OMP_WAIT_POLICY (default or passive) with the better median, per metric.")
for name, engs in w9eng.items():
    print("%s: PyTorch's rows take the faster quantized engine of each run (round and wait policy): %s" % (name, ", ".join("%s in %d of %d" % (e, engs.count(e), len(engs)) for e in sorted(set(engs)))))
print("raw lines: " + os.path.relpath(os.path.join(out, "raw.jsonl")))
failed = [l.strip() for l in open(os.path.join(out, "failed.txt")) if l.strip()]
if missing or failed:
    print()
    print("NOT MEASURED (compare.sh fails):")
    for m in missing:
        print("  - %s: no figure on one side" % m)
    for f in failed:
        print("  - " + f)
    sys.exit(1)
EOF

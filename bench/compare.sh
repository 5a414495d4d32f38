#!/bin/bash
# compare.sh: encc's CPU backend against the PyTorch peer, side by side.
#
# Usage: bench/compare.sh [ROUNDS] [WORKLOAD...]    (default 3 rounds, all workloads)
#   WORKLOAD: W1 W2 W3 W4 W5 W6 W7
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
# It installs nothing. Without torch or with the reference BLAS it stops
# and says what to install.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEER_DIR=${PEER_DIR:-$ROOT/../shared/peers/pytorch}
PY=${PY:-/usr/bin/python3}
ROUNDS=${1:-3}
shift || true
WORKLOADS=${*:-W1 W2 W3 W4 W5 W6 W7}

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
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) vCPUs"
  echo "encc: $(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- backend cmd/encc bench || echo +dirty), $(go version | cut -d' ' -f3)"
  echo "peer: torch $("$PY" -c 'import torch; print(torch.__version__)'), BLAS $BLAS"
} | tee "$OUT/machine.txt" >&2

# FMA peak of the machine (needs gcc; skipped without it), measured at the
# start of every round: the table uses the best, since a round whose other
# core is taken by another process measures half of it.
FMA=""
if command -v gcc >/dev/null && gcc -O2 -march=native -fopenmp "$PEER_DIR/fma_peak.c" -o "$OUT/fma_peak" 2>/dev/null; then
  FMA="$OUT/fma_peak"
fi
: > "$OUT/fma_peak.jsonl"

RAW="$OUT/raw.jsonl"
: > "$RAW"
# emit SIDE ROUND WORKLOAD CMD...: runs CMD, tags its JSON line, appends it.
emit() {
  local side=$1 round=$2 wl=$3
  shift 3
  local line
  if ! line=$("$@" 2>>"$OUT/stderr.txt" | tail -n 1); then
    echo "compare.sh: $side $wl failed (see $OUT/stderr.txt)" >&2
    return 0
  fi
  printf '{"side":"%s","round":%d,"id":"%s","result":%s}\n' "$side" "$round" "$wl" "$line" >> "$RAW"
}

cd "$ROOT"
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS" >&2
  if [ -n "$FMA" ]; then "$FMA" >> "$OUT/fma_peak.jsonl" || true; fi
  for w in $WORKLOADS; do
    case $w in
      W1)
        emit encc "$r" W1 "$ENCC" bench bench/w1_mlp.enc mlp_train --json
        emit torch "$r" W1 "${PEER_ENV[@]}" "$PY" "$PEER_DIR/bench_train.py" mlp_train ;;
      W2)
        emit encc "$r" W2b1 "$ENCC" bench bench/w1_mlp.enc MLP --infer --batch 1 --json
        emit encc "$r" W2b256 "$ENCC" bench bench/w1_mlp.enc MLP --infer --batch 256 --json
        emit torch "$r" W2 "${PEER_ENV[@]}" "$PY" "$PEER_DIR/bench_infer.py" ;;
      W3)
        emit encc "$r" W3 "$ENCC" bench bench/w3_cnn.enc cnn_train --steps 100 --warmup 20 --json
        emit torch "$r" W3 "${PEER_ENV[@]}" "$PY" "$PEER_DIR/bench_train.py" cnn_train ;;
      W4)
        emit encc "$r" W4 "$ENCC" bench bench/w4_transformer.enc transformer_train --steps 30 --warmup 8 --json
        emit torch "$r" W4 "${PEER_ENV[@]}" "$PY" "$PEER_DIR/bench_train.py" transformer_train ;;
      W5)
        emit encc "$r" W5 "$ENCC" bench bench/w4_transformer.enc transformer_finetune --steps 30 --warmup 8 --json
        emit torch "$r" W5 "${PEER_ENV[@]}" "$PY" "$PEER_DIR/bench_train.py" transformer_finetune ;;
      W6)
        emit encc "$r" W6 "$ENCC" bench --sgemm 256,512,1024,2048 --json
        emit torch "$r" W6 "${PEER_ENV[@]}" "$PY" "$PEER_DIR/bench_sgemm.py" ;;
      W7)
        emit encc "$r" W7 "$ENCC" bench bench/w7_lstm.enc lstm_train --steps 60 --warmup 10 --json
        emit torch "$r" W7 "${PEER_ENV[@]}" "$PY" "$PEER_DIR/bench_train.py" lstm_train ;;
      *) echo "compare.sh: unknown workload $w" >&2; exit 2 ;;
    esac
  done
done

"$PY" - "$OUT" <<'EOF' | tee "$OUT/table.md"
import json, statistics, sys, os
out = sys.argv[1]
rows = [json.loads(l) for l in open(os.path.join(out, "raw.jsonl"))]
# metric -> side -> [per-round values]
vals, order = {}, []
def add(key, side, v, higher):
    if key not in vals:
        vals[key] = {"encc": [], "torch": [], "higher": higher}
        order.append(key)
    vals[key][side].append(v)
for r in rows:
    s, wl, x = r["side"], r["id"], r["result"]
    if wl in ("W1", "W3", "W4", "W5", "W7"):
        name = {"W1": "W1 mlp_train", "W3": "W3 cnn_train", "W4": "W4 transformer_train", "W5": "W5 transformer_finetune", "W7": "W7 lstm_train"}[wl]
        add(name + " (samples/s)", s, x["samples_per_s_median"], True)
        add(name + " (ms/step)", s, x["ms_per_step_median"], False)
    elif wl == "W2b1":
        add("W2 infer batch 1 (latency µs)", s, x["latency_us_median"], False)
    elif wl == "W2b256":
        add("W2 infer batch 256 (samples/s)", s, x["samples_per_s_median"], True)
    elif wl == "W2":
        add("W2 infer batch 1 (latency µs)", s, x["batch1"]["latency_us_median"], False)
        add("W2 infer batch 256 (samples/s)", s, x["batch256"]["samples_per_s_median"], True)
    elif wl == "W6":
        for e in x["encc_sgemm"] if s == "encc" else x["torch_mm"]:
            add("W6 sgemm n=%d (GFLOP/s)" % e["n"], s, e["gflops_median"], True)
def med(v): return statistics.median(v) if v else float("nan")
def spread(v): return 100 * (max(v) - min(v)) / med(v) if len(v) > 1 and med(v) else 0.0
print("| workload (metric) | encc median | PyTorch median | speedup (encc vs PyTorch) | encc spread | PyTorch spread | rounds |")
print("|---|---:|---:|---:|---:|---:|---:|")
for k in order:
    e, t, hi = vals[k]["encc"], vals[k]["torch"], vals[k]["higher"]
    if not e or not t:
        sp = float("nan")
    else:
        sp = med(e) / med(t) if hi else med(t) / med(e)
    print("| %s | %.2f | %.2f | %.2f× | %.0f%% | %.0f%% | %d |" % (k, med(e), med(t), sp, spread(e), spread(t), min(len(e), len(t))))
try:
    fps = [json.loads(l) for l in open(os.path.join(out, "fma_peak.jsonl")) if l.strip()]
    fp = max(fps, key=lambda f: max(f.get("fma256_t2_gflops", 0), f.get("fma512_t2_gflops", 0)))
    peak = max(fp.get("fma256_t2_gflops", 0), fp.get("fma512_t2_gflops", 0))
    print()
    print("FMA peak (fma_peak.c, 2 threads, best of %d rounds): %.1f GFLOP/s (clock estimate %.2f GHz)" % (len(fps), peak, fp["clock_ghz_est"]))
    for k in order:
        if k.startswith("W6") and vals[k]["encc"]:
            print("  %s: encc %.0f%% of peak, PyTorch %.0f%%" % (k, 100 * med(vals[k]["encc"]) / peak, 100 * med(vals[k]["torch"]) / peak))
except (OSError, ValueError, KeyError):
    pass
print()
print("speedup: how many times faster encc is (throughput encc/PyTorch, latency PyTorch/encc). spread: (max-min)/median over rounds.")
print("raw lines: " + os.path.relpath(os.path.join(out, "raw.jsonl")))
EOF

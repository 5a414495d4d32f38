#!/usr/bin/env bash
# gpu-check.sh: run encc's CUDA modules on a GPU and compare them with the
# CPU backend (scripts/gpu_check.py). For a machine with an NVIDIA GPU,
# Python 3, NumPy and CuPy; it needs no Go.
#
# Usage: scripts/gpu-check.sh [DIR]
#
# DIR (default: gpucheck) holds the bundles, written where Go is by
#
#   go test ./backend/cuda -run ExportGPUCheck -gpucheck gpucheck
#
# (digits_mlp and digits_cnn with inputs and the CPU reference of one
# training step; W1 and W3 for timing). Prints a PASS/FAIL table and the
# samples/s of each bundle; exits 1 on any failure.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-gpucheck}

if [ ! -d "$dir" ]; then
	echo "gpu-check: FAIL: no bundle directory $dir"
	echo "  write it with: go test ./backend/cuda -run ExportGPUCheck -gpucheck $dir"
	exit 1
fi
if command -v nvidia-smi >/dev/null 2>&1; then
	nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
fi
if command -v nvcc >/dev/null 2>&1; then
	nvcc --version | tail -n 1 || true
fi
if ! python3 -c 'import numpy, cupy' 2>/dev/null; then
	echo "gpu-check: FAIL: python3 cannot import numpy and cupy"
	exit 1
fi
exec python3 "$here/gpu_check.py" "$dir" "${@:2}"

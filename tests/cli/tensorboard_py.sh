#!/bin/sh
# The event files of a run, read by scripts/tb_dump.py, a TensorBoard event reader written from
# the format's description (TensorBoard itself is not packaged in Debian 12): every file decodes
# (framing, masked CRC-32C, Event protobufs), and the scalars are those of metrics.jsonl:
# epoch/loss for every epoch and eval/linear_acc from `train ... eval=linear`.
# Usage: tensorboard_py.sh SELFSUP_BIN SOURCE_DIR PYTHON3
set -eu
bin=$1 src=$2 py=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
OMP_NUM_THREADS=1 "$bin" train toy data=synthetic epochs=3 eval=linear out="$work/run" --json >/dev/null
n=0
for f in "$work"/run/*tfevents*; do
	"$py" "$src/scripts/tb_dump.py" "$f" >>"$work/scalars.tsv"
	n=$((n + 1))
done
[ "$n" -eq 2 ] || { echo "expected 2 event files (training, evaluation), found $n" >&2; exit 1; }
epochs=$(grep -c "	epoch/loss	" "$work/scalars.tsv" || true)
[ "$epochs" -eq 3 ] || { echo "expected 3 epoch/loss scalars, found $epochs" >&2; exit 1; }
grep -q "	eval/linear_acc	" "$work/scalars.tsv" || { echo "no eval/linear_acc scalar" >&2; exit 1; }
# The epoch losses agree with metrics.jsonl to float precision.
grep '"kind":"epoch"' "$work/run/metrics.jsonl" | sed 's/.*"loss":\([^,}]*\).*/\1/' >"$work/jsonl.txt"
grep "	epoch/loss	" "$work/scalars.tsv" | cut -f3 >"$work/tb.txt"
paste "$work/jsonl.txt" "$work/tb.txt" | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 1e-6 * (1 + ($1 < 0 ? -$1 : $1))) bad = 1 } END { exit bad }' ||
	{ echo "epoch losses differ between metrics.jsonl and the event file" >&2; exit 1; }
echo "cli/tensorboard_py: ok ($n event files)"

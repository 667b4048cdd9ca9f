#!/bin/sh
# The main job of the quick start: SimCLR (W1 ConvNet) pretrained for one epoch on Fashion-MNIST,
# evaluated by a linear probe and weighted kNN on the 10,000 test images, printed beside the same
# protocols on the raw pixels and on the randomly initialised encoder.
# Usage: scripts/main-job.sh [key=value ...]   (extra keys go to `selfsup train simclr`)
set -eu
cd "$(dirname "$0")/.."
bin=build/selfsup
out=runs/quickstart-simclr
json() { tail -n 1 | tr -d '\n'; }
field() { printf '%s' "$1" | sed -n "s/.*\"$2\":\([0-9.eE+-]*\).*/\1/p"; }
echo "== SimCLR, 1 epoch on fashion-mnist (progress on stderr)" >&2
trained=$($bin train simclr data=fashion-mnist epochs=1 eval=linear,knn out=$out "$@" --json | json)
echo "== baselines: raw pixels, random encoder" >&2
raw=$($bin eval linear,knn raw data=fashion-mnist --json | json)
rnd=$($bin eval linear,knn random method=simclr data=fashion-mnist --json | json)
pct() { awk -v x="$(field "$1" "$2")" 'BEGIN { printf "%9.2f%%", 100 * x }'; }
printf '\n%-34s %10s %10s\n' "Fashion-MNIST test set" "linear" "kNN"
printf '%-34s %s %s\n' "raw pixels (784-d)" "$(pct "$raw" linear_acc)" "$(pct "$raw" knn_acc)"
printf '%-34s %s %s\n' "random W1 ConvNet (128-d)" "$(pct "$rnd" linear_acc)" "$(pct "$rnd" knn_acc)"
printf '%-34s %s %s\n' "SimCLR W1 ConvNet, 1 epoch" "$(pct "$trained" linear_acc)" "$(pct "$trained" knn_acc)"
printf '(training %s s; run folder %s)\n' "$(field "$trained" seconds)" "$out"

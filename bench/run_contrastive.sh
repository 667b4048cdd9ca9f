#!/bin/sh
# Issue 6 benchmark (SimCLR, MoCo v1, MoCo v2 on Fashion-MNIST with the W1 ConvNet): trains each
# method with its default config, evaluates the 10,000 test images with the linear probe and the
# weighted kNN (`train ... eval=linear,knn`), and prints a table next to the two baselines on the
# same protocol: the randomly initialised encoder (`train simclr epochs=0`: the checkpoint of the
# initial weights) and the raw pixels (build/bench/raw_pixels).
#
#   bench/run_contrastive.sh [METHOD ...] [-- key=value ...]
#   THREADS=2 OUT=runs/bench6 bench/run_contrastive.sh simclr -- epochs=1
#
# Long: a few minutes per epoch on two free cores (see README). Needs build/selfsup and
# build/bench/raw_pixels (cmake --build build --target selfsup_cli raw_pixels).
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-build/selfsup}
RAW=${RAW:-build/bench/raw_pixels}
THREADS=${THREADS:-2}
OUT=${OUT:-runs/bench-contrastive}
methods=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do methods="$methods $1"; shift; done
[ $# -gt 0 ] && shift
[ -n "$methods" ] || methods="simclr moco mocov2"
mkdir -p "$OUT"
export OMP_NUM_THREADS="$THREADS"

field() { # field NAME FILE: a number or string of the last JSON line of FILE
	tail -n 1 "$2" | sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p"
}
pct() { awk -v x="$1" 'BEGIN { if (x == "") print "-"; else printf "%.2f", 100 * x }'; }

row() { # row NAME JSON
	printf '| %-22s | %6s | %8s | %7s | %7s |\n' "$1" "$(field epochs "$2")" \
		"$(awk -v s="$(field seconds "$2")" 'BEGIN { if (s == "") print "-"; else printf "%.1f", s / 60 }')" \
		"$(pct "$(field linear_acc "$2")")" "$(pct "$(field knn_acc "$2")")"
}

for m in $methods; do
	echo "== $m" >&2
	"$BIN" train "$m" data=fashion-mnist eval=linear,knn threads="$THREADS" out="$OUT/$m" "$@" --json \
		> "$OUT/$m.json"
done
echo "== random encoder" >&2
"$BIN" train simclr data=fashion-mnist epochs=0 eval=linear,knn threads="$THREADS" out="$OUT/random" --json \
	> "$OUT/random.json"
echo "== raw pixels" >&2
"$RAW" > "$OUT/raw.json"

echo "| method                 | epochs | train min | linear % | kNN % |"
echo "|------------------------|--------|-----------|----------|-------|"
for m in $methods; do row "$m" "$OUT/$m.json"; done
row "random encoder (W1)" "$OUT/random.json"
printf '| %-22s | %6s | %8s | %7s | %7s |\n' "raw pixels (784-d)" - - \
	"$(pct "$(field linear_acc "$OUT/raw.json")")" "$(pct "$(field knn_acc "$OUT/raw.json")")"

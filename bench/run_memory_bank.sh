#!/bin/sh
# Issue 6 acceptance runs for the memory-bank methods: InstDisc, CMC and PIRL, each trained with
# its default config on Fashion-MNIST (W1 ConvNet) and evaluated with eval=linear,knn on the
# 10,000 test images, next to the random-encoder and raw-pixel baselines on the same protocols.
#
#   bench/run_memory_bank.sh                       # full defaults (tens of minutes per method)
#   THREADS=1 EXTRA="steps=100" bench/run_memory_bank.sh   # a short version on a shared machine
#
# Environment: SELFSUP (the program, default build/selfsup), THREADS (OpenMP threads, default 2),
# EXTRA (key=value overrides for every method run, e.g. "epochs=5" or "steps=200"), METHODS
# (default "instdisc cmc pirl"), OUT (run folders, default runs/bench-memory-bank).
# The random-encoder row trains instdisc with lr=0 for one step: the weights stay at their
# initialisation and one step of batch statistics enters the batch-norm running averages. The
# raw-pixel row comes from build/bench/eval_raw_pixels (src/eval's benchmark) when it is built.
set -eu
SELFSUP=${SELFSUP:-build/selfsup}
THREADS=${THREADS:-2}
EXTRA=${EXTRA:-}
METHODS=${METHODS:-"instdisc cmc pirl"}
OUT=${OUT:-runs/bench-memory-bank}
mkdir -p "$OUT"
ROWS="$OUT/rows.txt"
: > "$ROWS"

# The value of a numeric key in the one-line JSON summary ("-" when absent).
field() {
	v=$(printf '%s\n' "$1" | sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p")
	printf '%s' "${v:--}"
}
pct() {
	case "$1" in -) printf -- '-' ;; *) awk -v x="$1" 'BEGIN { printf "%.2f", 100 * x }' ;; esac
}

run() { # label, method, overrides...
	label=$1
	m=$2
	shift 2
	echo "== $label: $SELFSUP train $m data=fashion-mnist eval=linear,knn threads=$THREADS $* --json" >&2
	json=$("$SELFSUP" train "$m" data=fashion-mnist eval=linear,knn threads="$THREADS" out="$OUT/$label" "$@" --json | tail -n 1)
	printf '| %s | %s | %s | %s | %s | %s |\n' "$label" "$(field "$json" epochs)" "$(field "$json" steps)" \
		"$(awk -v s="$(field "$json" seconds)" 'BEGIN { printf "%.0f", s }')" \
		"$(pct "$(field "$json" linear_acc)")" "$(pct "$(field "$json" knn_acc)")" >> "$ROWS"
}

for m in $METHODS; do
	# shellcheck disable=SC2086
	run "$m" "$m" $EXTRA
done
run "random-encoder" instdisc lr=0 steps=1

RAW=$(dirname "$SELFSUP")/bench/eval_raw_pixels
if [ -x "$RAW" ]; then
	echo "== raw pixels: $RAW --json" >&2
	out=$(OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS "$RAW" --json)
	lin=$(printf '%s\n' "$out" | grep '"linear"' | sed -n 's/.*"top1":\([0-9.]*\).*/\1/p')
	knn=$(printf '%s\n' "$out" | grep '"knn"' | sed -n 's/.*"top1":\([0-9.]*\).*/\1/p')
	printf '| raw pixels | - | - | - | %s | %s |\n' "$(pct "${lin:--}")" "$(pct "${knn:--}")" >> "$ROWS"
else
	printf '| raw pixels (%s not built) | - | - | - | - | - |\n' "$RAW" >> "$ROWS"
fi

echo
echo "Fashion-MNIST, W1 ConvNet, threads=$THREADS, overrides: ${EXTRA:-none}"
echo "| method | epochs | steps | train s | linear % | kNN % |"
echo "|---|---|---|---|---|---|"
cat "$ROWS"

#!/bin/sh
# Seconds per training step of image methods on Fashion-MNIST, and the wall time their default
# config would take: the check behind issue 6's "each default run under 60 minutes on 2 cores".
# Each round trains every METHOD for STEPS steps (methods alternate, so a change in machine load
# hits them alike), takes the time between step WARMUP and step STEPS from metrics.jsonl (data
# loading and the first steps excluded), and the script prints per method the median over rounds,
# the range, and median x the default run's steps (epochs x 60000 / batch_size, the last partial
# batch dropped). Start-up and evaluation are not included (~40 s for linear + kNN).
#
#   bench/step_time.sh [METHOD ...] [-- key=value ...]
#   ROUNDS=5 STEPS=250 WARMUP=50 THREADS=2 bench/step_time.sh moco mocov2
#
# Measure on a quiet machine: with two cores, any other process shows in the figures.
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-build/selfsup}
ROUNDS=${ROUNDS:-5}
STEPS=${STEPS:-250}
WARMUP=${WARMUP:-50}
THREADS=${THREADS:-2}
OUT=${OUT:-runs/bench-step-time}
methods=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do methods="$methods $1"; shift; done
[ $# -gt 0 ] && shift
[ -n "$methods" ] || methods="simclr moco mocov2 instdisc cmc pirl"
if [ "$WARMUP" -lt 1 ] || [ "$STEPS" -le "$WARMUP" ]; then
	echo "step_time.sh: need 1 <= WARMUP < STEPS (got WARMUP=$WARMUP STEPS=$STEPS)" >&2
	exit 2
fi
mkdir -p "$OUT"
export OMP_NUM_THREADS="$THREADS"
for m in $methods; do rm -f "$OUT/$m.times"; done

# seconds_between FILE A B: metrics.jsonl's "seconds" at step B minus that at step A
seconds_between() {
	awk -v a="$2" -v b="$3" '
		/"kind":"step"/ {
			s = $0; sub(/.*"step":/, "", s); sub(/[,}].*/, "", s)
			t = $0; sub(/.*"seconds":/, "", t); sub(/[,}].*/, "", t)
			if (s + 0 == a) ta = t; if (s + 0 == b) tb = t
		}
		END { if (ta == "" || tb == "") exit 1; printf "%.6f\n", tb - ta }' "$1"
}

r=1
while [ "$r" -le "$ROUNDS" ]; do
	for m in $methods; do
		run="$OUT/$m-$r"
		rm -rf "$run"
		"$BIN" train "$m" data=fashion-mnist steps="$STEPS" threads="$THREADS" log_every="$WARMUP" \
			out="$run" "$@" > "$run.log" 2>&1
		dt=$(seconds_between "$run/metrics.jsonl" "$WARMUP" "$STEPS")
		awk -v d="$dt" -v n="$((STEPS - WARMUP))" 'BEGIN { printf "%.4f\n", d / n }' >> "$OUT/$m.times"
		echo "round $r $m $(tail -n 1 "$OUT/$m.times") s/step" >&2
	done
	r=$((r + 1))
done

echo "| method | s/step (median of $ROUNDS) | range | default steps | default run, min |"
echo "|---|---|---|---|---|"
# the default run's length, from --print-config with the same overrides
for m in $methods; do
	config=$("$BIN" train "$m" data=fashion-mnist "$@" --print-config)
	epochs=$(echo "$config" | sed -n 's/^epochs: \([0-9]*\).*/\1/p')
	batch=$(echo "$config" | sed -n 's/^batch_size: \([0-9]*\).*/\1/p')
	sort -n "$OUT/$m.times" | awk -v m="$m" -v e="$epochs" -v b="$batch" '
		{ t[NR] = $1 }
		END {
			med = NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
			steps = e * int(60000 / b)
			printf "| %s | %.3f | %.3f-%.3f | %d | %.1f |\n", m, med, t[1], t[NR], steps, med * steps / 60
		}'
done

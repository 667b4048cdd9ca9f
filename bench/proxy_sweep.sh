#!/bin/sh
# Short "proxy" trainings side by side, one thread each, to rank configuration changes before
# paying for full-length runs. Each line of LIST is `NAME METHOD KEY=VALUE...`; every run gets
# threads=1 eval=linear and its own folder OUT/NAME; the last line printed per run is its linear
# probe accuracy (or the last metrics record when it was cut off by LIMIT).
#
#   bench/proxy_sweep.sh bench/sweeps/issue6-round1.txt
#   PARALLEL=16 LIMIT=470 DATA=/path/to/fashion-mnist bench/proxy_sweep.sh LIST
#
# Environment: SELFSUP (default build/selfsup), DATA (default fashion-mnist), PARALLEL (runs at
# once, default the number of CPUs), LIMIT (seconds per run, default 3600), OUT (default
# runs/proxy-sweep). A proxy ranks changes at a few epochs; it is not the full run's result
# (docs/methods/memory_bank.md lists where the ranking held).
set -eu
LIST=${1:?usage: bench/proxy_sweep.sh LIST}
SELFSUP=${SELFSUP:-build/selfsup}
DATA=${DATA:-fashion-mnist}
PARALLEL=${PARALLEL:-$(nproc)}
LIMIT=${LIMIT:-3600}
OUT=${OUT:-runs/proxy-sweep}
mkdir -p "$OUT"
grep -v '^[[:space:]]*\(#\|$\)' "$LIST" | while read -r name method args; do
	# shellcheck disable=SC2086 # args are KEY=VALUE words
	echo "timeout $LIMIT $SELFSUP train $method data=$DATA threads=1 eval=linear out=$OUT/$name $args --json >$OUT/$name.out 2>$OUT/$name.err"
done | xargs -P "$PARALLEL" -I CMD sh -c CMD || true
for f in "$OUT"/*.out; do
	name=$(basename "$f" .out)
	acc=$(sed -n 's/.*"linear_acc":\([0-9.]*\).*/\1/p' "$f")
	if [ -n "$acc" ]; then
		echo "$name linear $acc"
	else
		echo "$name cut off: $(tail -n 1 "$OUT/$name/metrics.jsonl" 2>/dev/null | cut -c1-160)"
	fi
done

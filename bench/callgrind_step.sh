#!/bin/sh
# Instructions per training step, independent of machine load: runs the workload driver under
# callgrind twice (--steps 1 and --steps 1+K, one warm-up each, passive OpenMP waits so spinning
# threads add no instructions) and prints (Ir(1+K) - Ir(1)) / K. Slow: ~50x native time.
#   bench/callgrind_step.sh BUILD_DIR WORKLOAD [K]
set -eu
build=$1 w=$2 k=${3:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ir() {
	OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive valgrind --tool=callgrind --callgrind-out-file="$tmp/out.%p" \
		"$build/bench/workloads" "$w" --steps "$1" --warmup 1 >/dev/null 2>"$tmp/log"
	grep -h "^summary:" "$tmp"/out.* | awk '{s += $2} END {printf "%.0f\n", s}'
	rm -f "$tmp"/out.*
}
a=$(ir 1)
b=$(ir $((1 + k)))
echo "$w $(( (b - a) / k )) instructions/step ($build)"

#!/bin/sh
# Data-parallel throughput of workload W1 (SimCLR, W1 ConvNet, batch 256 on Fashion-MNIST,
# shared/WORKLOADS.md) through the real driver: one process with 2 OpenMP threads against
# `mpirun -np 2` with 1 thread each (the same global batch of 256: 128 images per process).
# Reports images per second (training steps only: the driver's "seconds" minus nothing; data
# loading happens before the first step and is included in neither) and the speed-up.
#
#   bench/run_dist.sh                    # STEPS=40 steps after WARMUP=5, each setup ROUNDS=3 times (A B A B)
#   STEPS=5 ROUNDS=1 bench/run_dist.sh   # a smoke run
#
# Run it on an otherwise idle machine: both setups need both cores. Results go to stdout as a
# Markdown table and to $OUT/dist-DATE.jsonl (default bench/out). Needs build/selfsup built with MPI.
set -eu
cd "$(dirname "$0")/.."
STEPS="${STEPS:-40}"
WARMUP="${WARMUP:-5}"
ROUNDS="${ROUNDS:-3}"
OUT="${OUT:-bench/out}"
BIN="${BIN:-build/selfsup}"
MPIEXEC="${MPIEXEC:-mpiexec}"
mkdir -p "$OUT"
LOG="$OUT/dist-$(date +%Y%m%d-%H%M%S).jsonl"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
run_dir="$(mktemp -d /tmp/selfsup_bench_dist_XXXXXX)"
trap 'rm -rf "$run_dir"' EXIT
common="data=fashion-mnist batch_size=256 seed=0 log_every=1000 --json"

# seconds for STEPS steps = time(WARMUP + STEPS) - time(WARMUP): both runs start from the same
# seed, so the difference isolates steady-state steps from start-up (MPI init, data loading).
secs() { # TAG LAUNCH... : prints the seconds of the steady-state steps
	tag="$1"
	shift
	a=$("$@" $common steps="$WARMUP" out="$run_dir/$tag-a" | tail -1 | sed 's/.*"seconds":\([0-9.e+-]*\).*/\1/')
	b=$("$@" $common steps=$((WARMUP + STEPS)) out="$run_dir/$tag-b" | tail -1 | sed 's/.*"seconds":\([0-9.e+-]*\).*/\1/')
	echo "$b $a" | awk '{ printf "%.3f", $1 - $2 }'
}

echo "| round | setup | seconds / $STEPS steps | images/s |"
echo "|---|---|---|---|"
for r in $(seq 1 "$ROUNDS"); do
	s1=$(OMP_NUM_THREADS=2 secs np1 "$BIN" train simclr threads=2)
	s2=$(OMP_NUM_THREADS=1 secs np2 "$MPIEXEC" -np 2 --bind-to core "$BIN" train simclr threads=1)
	for row in "np1-2threads $s1" "np2-1thread $s2"; do
		set -- $row
		ips=$(echo "$2" | awk -v n=$((STEPS * 256)) '{ printf "%.1f", n / $1 }')
		echo "| $r | $1 | $2 | $ips |"
		echo "{\"workload\":\"W1\",\"setup\":\"$1\",\"round\":$r,\"steps\":$STEPS,\"seconds\":$2,\"images_per_s\":$ips}" >>"$LOG"
	done
done
awk -F'"images_per_s":' '/np1-2threads/ { split($2, v, "}"); a += v[1]; na++ }
	/np2-1thread/ { split($2, v, "}"); b += v[1]; nb++ }
	END { if (na && nb) printf "\nmean images/s: np1 x 2 threads %.1f, np2 x 1 thread %.1f, ratio %.2f\n", a / na, b / nb, (b / nb) / (a / na) }' \
	"$LOG"

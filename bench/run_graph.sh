#!/bin/sh
# Issue 7: DGI, GAE and VGAE on Cora (Planetoid split), reproducing the papers' tables.
#   DGI  (Velickovic et al., ICLR 2019, Table 2): node classification, linear probe on frozen
#        embeddings of the 140 train nodes, accuracy on the 1000 test nodes: 82.3 +- 0.6
#   GAE / VGAE (Kipf & Welling 2016, Table 1): link prediction on the 10% test edges of an
#        85/5/10 split against as many non-edges: AUC 91.0 / AP 92.0 (GAE), 91.4 / 92.6 (VGAE)
# Each method runs SEEDS seeds (seed 0.., each its own initialisation, corruptions and, for
# (V)GAE, its own edge split) and prints mean +- sample std next to the paper, with the wall time
# of the whole multi-seed run (training and evaluation).
# Usage: bench/run_graph.sh [BIN]   env: THREADS (default 2), SEEDS (default 10), DATA (default cora),
#        OUT (run folders, default a temporary folder), METHODS (default "dgi gae vgae")
set -eu
BIN=${1:-build/selfsup}
THREADS=${THREADS:-2}
SEEDS=${SEEDS:-10}
DATA=${DATA:-cora}
METHODS=${METHODS:-dgi gae vgae}
OUT=${OUT:-$(mktemp -d /tmp/selfsup_graph_bench.XXXXXX)}
command -v jq >/dev/null || { echo "run_graph.sh: needs jq (apt-get install jq)" >&2; exit 2; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
mkdir -p "$OUT"

echo "# $DATA, $SEEDS seeds, threads=$THREADS, $(nproc) cores, load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# run folders under $OUT"
rows=""
run() { # method eval metrics...
	m=$1 ev=$2
	shift 2
	t0=$(date +%s.%N)
	"$BIN" train "$m" data="$DATA" eval="$ev" seeds="$SEEDS" threads="$THREADS" out="$OUT/$m" --json \
		2>"$OUT/$m.log" | tail -n 1 >"$OUT/$m.json"
	t1=$(date +%s.%N)
	if ! jq -e . "$OUT/$m.json" >/dev/null 2>&1; then
		echo "run_graph.sh: $m failed: $(tail -n 1 "$OUT/$m.log")" >&2
		return 1
	fi
	wall=$(echo "$t1 - $t0" | bc)
	for k in "$@"; do
		jq -r --arg k "$k" --arg m "$m" --arg w "$wall" \
			'[$m, $k, ((.[$k] * 1000 | round) / 10 | tostring) + " +- " + (((.[$k + "_std"] // 0) * 1000 | round) / 10 | tostring),
			  (.epochs | tostring), ($w | tonumber | round | tostring) + " s"] | @tsv' "$OUT/$m.json"
	done
}
{
	printf 'method\tmetric\tours (mean +- std, %%)\tepochs (last seed)\twall time (%s seeds)\tpaper\n' "$SEEDS"
	for m in $METHODS; do
		case $m in
		dgi) run dgi linear linear_acc | sed 's/$/\t82.3 +- 0.6/' ;;
		gae) run gae linkpred auc ap | sed '1s/$/\t91.0 +- 0.02/; 2s/$/\t92.0 +- 0.03/' ;;
		vgae) run vgae linkpred auc ap | sed '1s/$/\t91.4 +- 0.01/; 2s/$/\t92.6 +- 0.01/' ;;
		*) echo "run_graph.sh: unknown method $m" >&2; exit 2 ;;
		esac
	done
} | column -t -s "$(printf '\t')"
echo "# load at end: $(cut -d' ' -f1-3 /proc/loadavg)"

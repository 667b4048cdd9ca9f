#!/bin/sh
# Issue 8 acceptance: GPT, MLM and ELECTRA pretrained on Debian's fortunes (90% of the distinct
# entries), GPT's held-out bits per byte on the other 10%, and linear probes (mean-pooled frozen
# states, L2 logistic regression) on fortune-8's 80/20 split, against the bag-of-words logistic
# regression and the randomly initialised encoder (lr=0: the init of the same config; in BPE
# tokens as MLM and ELECTRA by default, and in bytes for reference).
#
#   bench/run_text.sh                 full default configs (GPT: 6 epochs of bytes; MLM and
#                                     ELECTRA: 18 epochs of BPE tokens, the same number of steps)
#   STEPS=150 THREADS=1 EXTRA="warmup_epochs=0 schedule=const" bench/run_text.sh
#        a short version (what a shared machine allows): without the overrides, the first steps
#        of the full schedule are all warm-up.
#
# Needs build/selfsup and build/bench/text_bow (cmake --build build --target selfsup_cli text_bow).
set -eu
BIN=${BIN:-build/selfsup}
BOW=${BOW:-build/bench/text_bow}
OUT=${OUT:-runs/text}
THREADS=${THREADS:-0}
STEPS=${STEPS:-0}
EXTRA=${EXTRA:-}
mkdir -p "$OUT"
json() { tail -n 1 "$1"; }
field() { sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p" "$1"; }

run() { # name method eval extra...
	name=$1 m=$2 ev=$3
	shift 3
	# shellcheck disable=SC2086 # EXTRA is a list of key=value words
	"$BIN" train "$m" threads="$THREADS" steps="$STEPS" eval="$ev" out="$OUT/$name" $EXTRA "$@" --json \
		> "$OUT/$name.json" 2> "$OUT/$name.log"
}

run gpt gpt perplexity,linear
run mlm mlm linear
run electra electra linear
run random mlm linear lr=0 steps=1
run random_byte mlm linear lr=0 steps=1 tokenizer=byte
"$BOW" > "$OUT/bow.json"

printf '%-10s %8s %7s %14s %10s\n' method seconds steps bits_per_byte linear_acc
for n in gpt mlm electra random random_byte; do
	f=$OUT/$n.json
	printf '%-10s %8s %7s %14s %10s\n' "$n" "$(field "$f" seconds | cut -c1-7)" "$(field "$f" steps)" \
		"$(field "$f" bits_per_byte | cut -c1-6)" "$(field "$f" linear_acc | cut -c1-6)"
done
printf '%-10s %8s %7s %14s %10s\n' bow - - - "$(field "$OUT/bow.json" bow_linear_acc)"

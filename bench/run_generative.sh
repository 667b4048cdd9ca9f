#!/bin/sh
# Issue 9 acceptance runs: the generative image methods on Fashion-MNIST with their default
# configs, plus the baselines, then one table (time, NLL / bpd, reconstruction, probe accuracy).
#
#   bench/run_generative.sh                 full defaults (each run < 60 min on 2 cores)
#   SHORT=1 bench/run_generative.sh         a quick version (fewer epochs / steps, threads=1)
#   OUT=dir THREADS=2 bench/run_generative.sh
#
# Baselines: pixel_baseline (a fixture method, src/methods/pixel_baseline.c) fits the
# independent-pixel model (per-pixel Bernoulli on fashion-mnist-binary, per-pixel 256-way
# categorical on fashion-mnist) and gives random projections of the pixels to the latent size of
# each probed model (ae/dae: 64, vae: 20, vqvae: 8 x 7 x 7 = 392). Targets: every density
# model's test NLL <= 0.7 x the independent-pixel NLL; pixelcnn < made; linear probes on
# ae/vae/vqvae latents > the random projection of the same dimension.
set -eu
BIN=${BIN:-build/selfsup}
OUT=${OUT:-runs/bench-generative}
THREADS=${THREADS:-2}
mkdir -p "$OUT"
if [ "${SHORT:-0}" = 1 ]; then
	THREADS=1
	S_AE="epochs=5" S_VAE="epochs=5" S_MADE="epochs=5" S_VQ="epochs=1"
	S_PCNN="steps=400" S_PCNN8="steps=300"
else
	S_AE="" S_VAE="" S_MADE="" S_VQ="" S_PCNN="" S_PCNN8=""
fi

# run NAME METHOD ARGS...: trains, keeps the JSON summary in $OUT/NAME.json
run() {
	name=$1
	shift
	echo "== $name: $BIN train $* threads=$THREADS out=$OUT/$name" >&2
	"$BIN" train "$@" threads="$THREADS" out="$OUT/$name" --json | tail -n 1 >"$OUT/$name.json"
}
# field NAME KEY: a number of the summary, or "-"
field() {
	v=$(grep -o "\"$2\":[-0-9.eE+]*" "$OUT/$1.json" 2>/dev/null | head -n 1 | cut -d: -f2)
	echo "${v:--}"
}
# last step record's stat (training-set reconstruction error of the last logged step)
stat() {
	v=$(grep '"kind":"step"' "$OUT/$1/metrics.jsonl" 2>/dev/null | tail -n 1 | grep -o "\"$2\":[-0-9.eE+]*" | cut -d: -f2)
	echo "${v:--}"
}

run base_binary pixel_baseline data=fashion-mnist-binary code_dim=20 eval=nll,linear
run base_8bit pixel_baseline data=fashion-mnist likelihood=categorical eval=bpd
run rp64 pixel_baseline data=fashion-mnist likelihood=categorical code_dim=64 eval=linear
run rp392 pixel_baseline data=fashion-mnist likelihood=categorical code_dim=392 eval=linear
run ae ae $S_AE eval=linear
run dae dae $S_AE eval=linear
run vae vae $S_VAE eval=nll,linear
run made made $S_MADE eval=nll
run vqvae vqvae $S_VQ eval=linear
run pixelcnn pixelcnn $S_PCNN eval=nll
run pixelcnn256 pixelcnn data=fashion-mnist output=softmax256 $S_PCNN8 eval=bpd
for m in vae made pixelcnn pixelcnn256; do
	"$BIN" sample "$OUT/$m" n=16 seed=0 out="$OUT/$m/samples.png" >&2 || true
done

printf '%-12s %-22s %9s %10s %8s %12s %10s\n' run data seconds nll_nats bpd recon linear_acc
for r in base_binary base_8bit rp64 rp392 ae dae vae made vqvae pixelcnn pixelcnn256; do
	rec=$(stat "$r" recon_mse)
	[ "$rec" = - ] && rec=$(stat "$r" recon_nats)
	printf '%-12s %-22s %9s %10s %8s %12s %10s\n' "$r" "$(grep -o '"data":"[^"]*"' "$OUT/$r.json" | cut -d'"' -f4)" \
		"$(field "$r" seconds | cut -c1-7)" "$(field "$r" nll_nats | cut -c1-8)" "$(field "$r" bpd | cut -c1-6)" \
		"$(echo "$rec" | cut -c1-9)" "$(field "$r" linear_acc)"
done
base=$(field base_binary nll_nats)
echo "targets: NLL <= 0.7 x $base = $(echo "0.7 * $base" | bc -l | cut -c1-7) nats (binary);" \
	"bpd <= 0.7 x $(field base_8bit bpd | cut -c1-6) (8-bit); pixelcnn < made; probes > rp of the same size"

# Shared by the MPI tests (sourced): tiny IDX data, run helpers. Expects SELFSUP, CKPT_COMPARE and
# MPIEXEC in the environment (tests/CMakeLists.txt sets them).
set -eu
: "${SELFSUP:?}" "${CKPT_COMPARE:?}" "${MPIEXEC:?}"
# Root in containers and CI; 2 ranks on any number of cores; shared memory or TCP on loopback.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
# Containers often forbid the cross-process memory attach that vader's single copy uses.
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMP_NUM_THREADS=1
WORK="$(mktemp -d /tmp/selfsup_dist_XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# write_idx FILE N H W: an IDX u8 image file of N HxW images of random bytes (H, W < 256).
write_idx() {
	printf "\\000\\000\\010\\003\\000\\000\\$(printf %03o $(($2 / 256)))\\$(printf %03o $(($2 % 256)))" >"$1"
	printf "\\000\\000\\000\\$(printf %03o "$3")\\000\\000\\000\\$(printf %03o "$4")" >>"$1"
	# Deterministic bytes (1..255: some awks cannot print NUL with %c), so that every run of the
	# test sees the same images.
	LC_ALL=C awk -v n=$(($2 * $3 * $4)) -v s="${IDX_SEED:-1}" \
		'BEGIN { srand(s); for (i = 0; i < n; i++) printf "%c", 1 + int(rand() * 255) }' >>"$1"
}
write_labels() {
	printf "\\000\\000\\010\\001\\000\\000\\$(printf %03o $(($2 / 256)))\\$(printf %03o $(($2 % 256)))" >"$1"
	head -c "$2" /dev/zero >>"$1"
}
make_images() { # DIR: 64 training and 16 test images of 12x12
	mkdir -p "$1"
	write_idx "$1/train-images-idx3-ubyte" 64 12 12
	write_labels "$1/train-labels-idx1-ubyte" 64
	write_idx "$1/t10k-images-idx3-ubyte" 16 12 12
	write_labels "$1/t10k-labels-idx1-ubyte" 16
}
one() { "$SELFSUP" train "$@" >>"$WORK/log.txt" 2>&1 || { tail -20 "$WORK/log.txt" >&2; fail "selfsup train $*"; }; }
two() {
	"$MPIEXEC" -np 2 "$SELFSUP" train "$@" >>"$WORK/log.txt" 2>&1 || {
		tail -30 "$WORK/log.txt" >&2
		fail "mpirun -np 2 selfsup train $*"
	}
}
# same A B: the checkpoints of two run folders agree: every parameter and buffer (BN running
# statistics, queue) within max|a - b| <= 1e-6 + 1e-4 max|b| per tensor. The optimizer slots
# are printed when they differ but do not fail: they hold the latest gradients themselves, and the
# gradients of conv weights below a batch-norm channel of nearly zero variance (rstd ~ 1/sqrt(eps))
# amplify last-bit differences of the summation order (docs/dist.md, "Equivalence").
same() {
	"$CKPT_COMPARE" "$WORK/$1/checkpoint.safetensors" "$WORK/$2/checkpoint.safetensors" 1e-4 1e-6 optim. ||
		fail "$1 and $2 differ"
}

# same_except A B PREFIXES: as same, and tensors whose names start with one of the
# comma-separated PREFIXES are only reported too.
same_except() {
	"$CKPT_COMPARE" "$WORK/$1/checkpoint.safetensors" "$WORK/$2/checkpoint.safetensors" 1e-4 1e-6 "optim.,$3" ||
		fail "$1 and $2 differ"
}

# same_metric A B KEY RTOL [ATOL]: the logged per-step values of KEY (loss, or a method's named
# stat) of two run folders agree: |a - b| <= ATOL + RTOL |a| at every step record (ATOL default 0).
same_metric() {
	i=0
	for dir in "$1" "$2"; do
		i=$((i + 1))
		sed -n "s/.*\"kind\":\"step\".*\"step\":\\([0-9]*\\).*\"$3\":\\([-0-9.e+]*\\).*/\\1 \\2/p" \
			"$WORK/$dir/metrics.jsonl" >"$WORK/l$i"
	done
	[ -s "$WORK/l1" ] || fail "no step values of $3 in $1/metrics.jsonl"
	[ "$(wc -l <"$WORK/l1")" -eq "$(wc -l <"$WORK/l2")" ] || fail "$1 and $2 log $3 at different steps"
	paste -d' ' "$WORK/l1" "$WORK/l2" | awk -v r="$4" -v t="${5:-0}" -v k="$3" '{ d = $2 - $4; if (d < 0) d = -d;
		a = $2 < 0 ? -$2 : $2; if ($1 != $3 || d > t + r * a) { print "step " $1 ": " k " " $2 " vs " $4; bad = 1 } }
		END { exit bad }' || fail "the logged $3 of $1 and $2 differ"
}
# same_losses A B RTOL: the logged per-step losses of two run folders agree within RTOL.
same_losses() { same_metric "$1" "$2" loss "$3"; }
# same_loose A B RTOL: as same, with a looser normwise tolerance (see the SimCLR note in
# mpi_equivalence.sh).
same_loose() {
	"$CKPT_COMPARE" "$WORK/$1/checkpoint.safetensors" "$WORK/$2/checkpoint.safetensors" "$3" 1e-6 optim. ||
		fail "$1 and $2 differ beyond rtol $3"
}

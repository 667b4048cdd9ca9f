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
	head -c $(($2 * $3 * $4)) /dev/urandom >>"$1"
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
same() { # A B [RTOL]: checkpoints of two run folders agree
	"$CKPT_COMPARE" "$WORK/$1/checkpoint.safetensors" "$WORK/$2/checkpoint.safetensors" "${3:-1e-4}" 1e-6 ||
		fail "$1 and $2 differ"
}

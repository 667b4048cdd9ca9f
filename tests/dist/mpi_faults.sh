#!/bin/sh
# Issue 10's fault behaviour on `mpirun -np 2` (SELFSUP_TEST_FAULT injects the faults):
# - a process that dies (SIGKILL) at step 12 ends the job with a non-zero status and a message
#   naming it, well within a bound (no silent hang); the checkpoint of the last epoch end
#   (step 8) stays valid, and resuming it reproduces an uninterrupted 2-process run (resuming on
#   another number of processes is mpi_equivalence's test: it needs its well-conditioned images);
# - a process that hangs at step 3 makes the others fail their collective after dist.timeout
#   (2 s) with a message, and the job is aborted on every process.
. "$(dirname "$0")/mpi_common.sh"
make_images "$WORK/img"
cd "$WORK"
img="data=img threads=1 seed=5 batch_size=8 epochs=3 steps=20 log_every=5 optim.kind=sgd lr=0.01"
two simclr $img out=ref

start=$(date +%s)
if SELFSUP_TEST_FAULT=kill:1:12 timeout 120 "$MPIEXEC" -np 2 "$SELFSUP" train simclr $img out=killed >kill.txt 2>&1; then
	fail "the job succeeded although process 1 died"
fi
kill_took=$(($(date +%s) - start))
[ "$kill_took" -lt 100 ] || fail "the job took ${kill_took}s to end after a process died"
grep -qi "rank 1\|process 1" kill.txt || { cat kill.txt >&2; fail "no message names the dead process"; }
two simclr resume=killed out=after steps=20
same ref after

start=$(date +%s)
if SELFSUP_TEST_FAULT=hang:1:3 timeout 120 "$MPIEXEC" -np 2 "$SELFSUP" train simclr $img out=hung dist.timeout=2 >hang.txt 2>&1; then
	fail "the job succeeded although process 1 hung"
fi
took=$(($(date +%s) - start))
[ "$took" -lt 60 ] || fail "the job took ${took}s to end after a process hung (timeout 2 s)"
grep -q "no answer from the other 1 processes" hang.txt || { cat hang.txt >&2; fail "no timeout message"; }
echo "mpi faults: ok (dead process: job ended in ${kill_took}s, hung process: ${took}s)"

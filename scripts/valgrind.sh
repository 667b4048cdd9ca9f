#!/bin/sh
# Runs every test program of the release build under valgrind memcheck (leaks are errors).
# Slow; not part of scripts/test.sh. Usage: scripts/valgrind.sh [build-dir]
set -eu
cd "$(dirname "$0")/.."
dir="${1:-build}"
fail=0
for t in "$dir"/tests/*_test_*; do
	[ -x "$t" ] || continue
	if OMP_NUM_THREADS=1 valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--error-exitcode=9 -q "$t" >/dev/null 2>"$t.valgrind.txt"; then
		echo "ok      $(basename "$t")"
	else
		echo "FAILED  $(basename "$t") (see $t.valgrind.txt)"
		fail=1
	fi
done
exit $fail

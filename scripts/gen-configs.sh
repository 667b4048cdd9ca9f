#!/bin/sh
# Regenerates configs/<method>.yaml, the default config of every registered method (the paper's
# defaults with their citations, as the method declares them), from the built program.
set -eu
cd "$(dirname "$0")/.."
mkdir -p configs
for m in $(build/selfsup list --json | sed 's/"name":"\([^"]*\)"/\n\1\n/g' | grep -E '^[a-z0-9_]+$'); do
	build/selfsup train "$m" --print-config >"configs/$m.yaml"
	echo "configs/$m.yaml"
done

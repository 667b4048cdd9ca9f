#!/bin/sh
# Release build into build/ (the program is build/selfsup, benchmarks in build/bench/).
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"

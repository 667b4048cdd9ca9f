#!/bin/sh
# Quick start: install what is missing, build, and run the main job on the default data set.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec scripts/main-job.sh
